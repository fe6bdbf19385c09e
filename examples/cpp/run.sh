#!/usr/bin/env bash
# Builds the library (release) and the C++ simulation example, then runs it: bash examples/cpp/run.sh [STEPS [OUTPUT_DIR]]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
mkdir -p target/examples
"${CXX:-c++}" -std=c++17 -O2 -Wall -Iinclude examples/cpp/simulation.cpp \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lcarbon_tracker -o target/examples/simulation
[ $# -ge 2 ] && mkdir -p "$2"
exec target/examples/simulation "$@"
