#!/usr/bin/env bash
# Builds the library (release) and the C quick start, then runs it: bash examples/c/run.sh [SECONDS [OUTPUT_DIR]]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
mkdir -p target/examples
"${CC:-cc}" -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Iinclude examples/c/quickstart.c \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lcarbon_tracker -o target/examples/quickstart
[ $# -ge 2 ] && mkdir -p "$2"
exec target/examples/quickstart "$@"
