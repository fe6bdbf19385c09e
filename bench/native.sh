#!/usr/bin/env bash
# The library's own targets, from C only (no Python, no CodeCarbon): bash bench/native.sh [--runs N]
# Builds the library (release) and bench/native.c; takes about a minute and a half.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p target/bench
"${CC:-cc}" -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -pthread -Iinclude bench/native.c -Ltarget/release \
  -Wl,-rpath,"$PWD/target/release" -lcarbon_tracker -o target/bench/native
exec python3 bench/native.py target/bench/native "$@"
