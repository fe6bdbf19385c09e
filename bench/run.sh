#!/usr/bin/env bash
# carbon-tracker vs CodeCarbon, side by side: bash bench/run.sh [--runs N] [--scale N]
# Builds the library (release), installs CodeCarbon from PyPI into target/bench-venv (once),
# and prints a Markdown table. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import codecarbon" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q codecarbon
fi
echo "CodeCarbon $("$venv/bin/python" -c 'import codecarbon; print(codecarbon.__version__)'), carbon-tracker $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2), $(nproc) CPUs"
CARBON_TRACKER_LIB="$PWD/target/release/libcarbon_tracker.so" PYTHONPATH="$PWD/bindings/python" \
  exec "$venv/bin/python" bench/compare.py "$@"
