#!/usr/bin/env bash
# The long reliability suite (the quick parts run in `cargo test`):
#   1. the C ABI test and the process-events test (fork, dlclose) under valgrind memcheck,
#   2. random inputs for the options parser and the update-mode CSV reader (CT_ROBUSTNESS_ITERS),
#   3. a concurrency soak: 16 threads flushing one tracker for 30 s with 10 ms background ticks.
# Needs valgrind (apt-get install valgrind). Takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARBON_TRACKER_LOOPBACK_ONLY=1 CODECARBON_LOG_LEVEL=error
iters="${CT_ROBUSTNESS_ITERS:-50000}"

cargo build --quiet
lib="$PWD/target/debug"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for src in tests/c/abi_test.c tests/c/process_events.c; do
  cc -std=c99 -D_POSIX_C_SOURCE=200809L -pthread -Iinclude "$src" -L"$lib" -Wl,-rpath,"$lib" -lcarbon_tracker -ldl \
    -o "$work/$(basename "$src" .c)"
done
echo "== valgrind: C ABI misuse and lifecycle"
mkdir -p "$work/out"
CT_UNDER_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=no "$work/abi_test" "$work/out" > /dev/null
echo "ok"
echo "== valgrind: fork and dlclose"
valgrind -q --error-exitcode=99 --leak-check=no --trace-children=no "$work/process_events" "$lib/libcarbon_tracker.so"

echo "== random inputs ($iters iterations each)"
CT_ROBUSTNESS_ITERS="$iters" cargo test --release --quiet --test integration robustness::

echo "== concurrency soak"
CT_SOAK_SECS="${CT_SOAK_SECS:-30}" cargo test --release --quiet --test integration -- --exact tracker::sixteen_threads_flushing_with_background_ticks_count_each_interval_once
echo "reliability: passed"
