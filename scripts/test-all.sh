#!/usr/bin/env bash
# Every test of every language, against the library built from this checkout:
#   1. Rust: unit, C ABI (C and C++ programs), online (fake API on loopback), header freshness,
#      cluster (Pushgateway, Prometheus, OTLP receiver, mpirun: skipped when not installed);
#      the fuzz targets are type-checked
#   2. Python bindings (pytest), 3. Go bindings (go test -race),
#   4. CMake: build + ctest, install, then a downstream project via find_package, pkg-config
#      and add_subdirectory.
# Needs: cargo, cc/c++, python3 with pytest, go, cmake, pkg-config (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARBON_TRACKER_LOOPBACK_ONLY=1   # no test may reach a non-loopback address
export CODECARBON_LOG_LEVEL=error       # keep the logs of expected failures out of the way

echo "== cargo test"
cargo test
echo "== fuzz targets compile (scripts/fuzz.sh runs them)"
cargo check --quiet --manifest-path fuzz/Cargo.toml
cargo build --quiet --features test-hooks # the debug cdylib in target/debug for the bindings, with the loopback-only switch
lib_dir="$root/target/debug"

echo "== python bindings"
CARBON_TRACKER_LIB="$lib_dir/libcarbon_tracker.so" python3 -m pytest bindings/python -q
CARBON_TRACKER_LIB="$lib_dir/libcarbon_tracker.so" PYTHONPATH="$root/bindings/python" python3 examples/python/track.py "$(mktemp -d)"

echo "== go bindings"
(cd bindings/go && CGO_LDFLAGS="-L$lib_dir -Wl,-rpath,$lib_dir" go test -race -count=1 ./...)
(cd examples/go && CGO_LDFLAGS="-L$lib_dir -Wl,-rpath,$lib_dir" go run . "$(mktemp -d)")

echo "== cmake"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_INSTALL_PREFIX="$work/prefix" > "$work/configure.log"
cmake --build "$work/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }
(cd "$work/build" && ctest --output-on-failure)
cmake --install "$work/build" > /dev/null
"$work/prefix/bin/carbon-tracker" --version   # the command is installed too (CARBON_TRACKER_BUILD_CLI)

echo "== downstream: find_package"
cmake -S tests/cmake/consumer -B "$work/consumer" -DCT_MODE=find_package -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/consumer" > /dev/null
"$work/consumer/consumer"
"$work/consumer/consumer_static"

echo "== downstream: pkg-config"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
c++ -std=c++17 tests/cmake/consumer/main.cpp $(pkg-config --cflags --libs carbon_tracker) -o "$work/pc_consumer"
"$work/pc_consumer"

echo "== downstream: add_subdirectory"
cmake -S tests/cmake/consumer -B "$work/subdir" -DCT_MODE=subdirectory -DCT_SOURCE_DIR="$root" -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build "$work/subdir" > /dev/null
"$work/subdir/consumer"

echo "all languages: passed"
