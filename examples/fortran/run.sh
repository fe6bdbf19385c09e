#!/usr/bin/env bash
# Builds the library (release), the Fortran module and the example with gfortran, runs it, then
# reports its output directory with the carbon-tracker command:
#   bash examples/fortran/run.sh [STEPS [OUTPUT_DIR]]
# (With the CMake install: gfortran app.f90 $(pkg-config --cflags --libs carbon_tracker_fortran).)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --features cli   # the library and the command (report)
build=target/examples/fortran
mkdir -p "$build"
gfortran -std=f2008 -O2 -c -J "$build" bindings/fortran/carbon_tracker.f90 -o "$build/carbon_tracker.o"
gfortran -O2 -I "$build" examples/fortran/simulation.f90 "$build/carbon_tracker.o" \
  -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lcarbon_tracker -o "$build/simulation"
steps="${1:-200}"
out="${2:-target/examples/fortran-out}"
mkdir -p "$out"
"$build/simulation" "$steps" "$out"
echo
target/release/carbon-tracker report "$out"
