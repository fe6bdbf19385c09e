#!/usr/bin/env bash
# The library's GPU numbers against the driver's own (NVML's total-energy counters, nvidia-smi),
# on a machine with an NVIDIA GPU: bash scripts/gpu-check.sh
# Needs only the built library (CARBON_TRACKER_LIB, default target/release/libcarbon_tracker.so,
# carried from a machine with Rust) and this checkout's Python binding; nvidia-ml-py, PyTorch and
# nvidia-smi are used when there. About 3 minutes; GPU_CHECK_SCALE=0.05 runs every phase shorter.
# Without NVML it says so and exits 0. See scripts/gpu_check.py.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARBON_TRACKER_LIB="${CARBON_TRACKER_LIB:-$root/target/release/libcarbon_tracker.so}"
export PYTHONPATH="$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" "$root/scripts/gpu_check.py" "$@"
