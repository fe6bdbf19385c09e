"""The library from C only (bench/native.c), no interpreter and no CodeCarbon: the quick check of
the library's own targets. Run through bench/native.sh. Idle cost is measured in the same run as
this machine's floor (a bare thread waking at 1 Hz to pread /proc/stat), interleaved, and quoted
as a ratio: machines are noisy, compare ratios of one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile

# The library's lifecycle targets (bench/compare.py prints the same rows, tasks aside).
LIFECYCLE_TARGETS = [
    ("construct", "construct (first in the process)", "≤ 20 µs"),
    ("start_cold", "first start (cold: probing)", "≤ 5 ms"),
    ("construct_warm", "construct (2nd tracker)", "≤ 20 µs"),
    ("start_warm", "start (2nd tracker, warm)", "≤ 100 µs"),
    ("flush", "first flush", "≤ 200 µs"),
    ("flush_steady", "flush (later, fresh measurement)", "≤ 150 µs"),
    ("task_start", "task start (ct_tracker_start_task, running tracker, 2000 tasks)", "≤ 50 µs"),
    ("task_stop", "task stop (ct_tracker_stop_task: a measurement, 2000 tasks)", "≤ 50 µs"),
    ("stop", "stop", "-"),
]


def native(binary, *args):
    out = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_t(s):
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} µs"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--idle-runs", type=int, default=3)
    args = p.parse_args()
    life = [native(args.binary, "lifecycle", tempfile.mkdtemp()) for _ in range(args.runs)]
    idle = {"ours": [], "none": [], "floor": []}
    for _ in range(args.idle_runs):  # interleaved, so drift hits all three alike
        idle["ours"].append(native(args.binary, "idle", tempfile.mkdtemp())["idle_cpu_ms_per_s"])
        idle["none"].append(native(args.binary, "idle", "none")["idle_cpu_ms_per_s"])
        idle["floor"].append(native(args.binary, "floor")["idle_cpu_ms_per_s"])
    threads = os.cpu_count() or 1
    regions = [native(args.binary, "regions", threads) for _ in range(args.runs)]
    progress = [native(args.binary, "progress") for _ in range(args.runs)]
    med = {k: statistics.median(v) for k, v in idle.items()}
    ours = med["ours"] - med["none"]
    floor = med["floor"] - med["none"]
    print(f"| metric (C, {args.runs} runs, medians) | target | value |")
    print("|---|---|---|")
    for key, label, target in LIFECYCLE_TARGETS:
        # A build from before tasks has no task timings: "-".
        value = fmt_t(statistics.median(r[key] for r in life)) if all(key in r for r in life) else "-"
        print(f"| {label} | {target} | {value} |")
    region_rows = [
        ("region_begin_ns", "region begin (ct_tracker_region_begin, 1 thread, 200,000 calls)", "≤ 1 µs"),
        ("region_end_ns", "region end (ct_tracker_region_end, 1 thread)", "≤ 1 µs"),
        ("region_begin_threads_ns", f"region begin, {threads} threads at once in one region", "≤ 1 µs"),
        ("region_end_threads_ns", f"region end, {threads} threads at once in one region", "≤ 1 µs"),
        ("floor_clock_ns", "floor: two clock reads with nothing between (the timing itself)", "-"),
        ("floor_call_ns", "floor: a call of a trivial library function (ct_last_status), timed the same way", "-"),
    ]
    for key, label, target in region_rows:
        value = statistics.median(r[key] for r in regions) / 1e9 if all(key in r for r in regions) else None
        print(f"| {label} | {target} | {fmt_t(value) if value is not None else '-'} |")
    print(
        f"| idle CPU per second, measure_power_secs=1 (above an untracked sleeper) | ≤ 1.25 × floor | {ours:.3f} ms |"
    )
    print(f"| floor: a bare thread waking at 1 Hz to pread /proc/stat (same run) | - | {floor:.3f} ms |")
    print(f"| idle / floor | ≤ 1.25 | {ours / floor if floor > 0 else float('nan'):.2f} |")
    pm = {
        k: statistics.median(r[k] for r in progress) for k in ("set_progress", "floor_clock", "floor_call", "predict")
    }
    print(
        f"| set_progress per call (median of 2000 batches of 100, running tracker) | ≤ 1 µs | {pm['set_progress'] * 1e9:.0f} ns |"
    )
    print(
        f"| floor: clock_gettime(CLOCK_MONOTONIC) / an empty call, per call (same run) | - | {pm['floor_clock'] * 1e9:.0f} ns / {pm['floor_call'] * 1e9:.1f} ns |"
    )
    print(f"| predict, measurement reused (2000 reports, median of 200) | - | {fmt_t(pm['predict'])} |")


if __name__ == "__main__":
    main()
