#!/usr/bin/env bash
# Builds the library (release) and runs the Go example against it: bash examples/go/run.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
mkdir -p target/examples
[ $# -ge 1 ] && mkdir -p "$1"
out="${1:-$PWD/target/examples}"
export PKG_CONFIG_PATH="$(bash scripts/dev-pkgconfig.sh target/release)${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cd examples/go
go run . "$out"
