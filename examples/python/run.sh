#!/usr/bin/env bash
# Builds the library (release) and runs the Python example with it: bash examples/python/run.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
mkdir -p target/examples
[ $# -ge 1 ] && mkdir -p "$1"
CARBON_TRACKER_LIB="$PWD/target/release/libcarbon_tracker.so" PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec python3 examples/python/track.py "$@"
