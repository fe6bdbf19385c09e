#!/usr/bin/env bash
# carbon-tracker vs CodeCarbon, side by side: bash bench/run.sh [--runs N] [--scale N]
# Builds the library (release) and bench/native.c, installs CodeCarbon from PyPI into target/bench-venv (once),
# and prints a Markdown table. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
# CodeCarbon 3.3.2 by default (the version docs/benchmarks.md was measured with); CODECARBON=codecarbon for the newest.
spec="${CODECARBON:-codecarbon==3.3.2}"
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.spec" 2>/dev/null)" != "$spec" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$spec"
  echo "$spec" > "$venv/.spec"
fi
mkdir -p target/bench
"${CC:-cc}" -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -pthread -Iinclude bench/native.c -Ltarget/release \
  -Wl,-rpath,"$PWD/target/release" -lcarbon_tracker -o target/bench/native
echo "CodeCarbon $("$venv/bin/python" -c 'import codecarbon; print(codecarbon.__version__)'), carbon-tracker $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2), $(nproc) CPUs"
CARBON_TRACKER_LIB="$PWD/target/release/libcarbon_tracker.so" PYTHONPATH="$PWD/bindings/python" \
  exec "$venv/bin/python" bench/compare.py --native target/bench/native "$@"
