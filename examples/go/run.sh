#!/usr/bin/env bash
# Builds the library (release) and runs the Go example against it: bash examples/go/run.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
mkdir -p target/examples
[ $# -ge 1 ] && mkdir -p "$1"
lib="$PWD/target/release"
out="${1:-$PWD/target/examples}"
cd examples/go
CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib" go run . "$out"
