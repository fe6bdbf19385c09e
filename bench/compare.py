"""carbon-tracker vs CodeCarbon, side by side on this machine, same settings.

Run through bench/run.sh (it builds the library and installs CodeCarbon into a throwaway venv).
Every scenario runs in fresh processes; times are medians over --runs repetitions. Prints a
Markdown table. Nothing here is asserted: machines are noisy, compare the ratios of one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from native import LIFECYCLE_TARGETS  # bench/native.py, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# One child-process script per scenario; LIB picks the implementation.
PRELUDE = textwrap.dedent(
    """
    import json, os, resource, sys, time, tempfile
    t0 = time.perf_counter()
    LIB = sys.argv[1]
    OUT = tempfile.mkdtemp()
    if LIB == "ours":
        import carbon_tracker
        carbon_tracker.library_version()  # loads the shared library, as importing CodeCarbon loads its modules
        def make(**kw):
            kw.setdefault("log_level", "error")
            return carbon_tracker.Tracker(**kw)
    elif LIB == "codecarbon":
        import codecarbon
        def make(**kw):
            kw.setdefault("log_level", "error")
            if kw.pop("offline", False):
                return codecarbon.OfflineEmissionsTracker(**kw)
            return codecarbon.EmissionsTracker(**kw)
    import_s = time.perf_counter() - t0
    def busy(seconds):
        end = time.perf_counter() + seconds
        x = 0
        while time.perf_counter() < end:
            for i in range(10000):
                x += i
    def cpu_s():
        # CLOCK_PROCESS_CPUTIME_ID: every thread, exited ones included (CodeCarbon starts a new
        # thread per tick), ns-precise (getrusage is tick-sampled, useless for an idle process).
        return time.process_time()
    def rss_kb():
        with open("/proc/self/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
    def numbers(e):
        if LIB == "ours":
            return {"duration": e.duration_s, "energy": e.energy_consumed_kwh, "emissions": e.emissions_kg,
                    "cpu_energy": e.cpu_energy_kwh, "ram_energy": e.ram_energy_kwh}
        d = e  # codecarbon EmissionsData
        return {"duration": d.duration, "energy": d.energy_consumed, "emissions": d.emissions,
                "cpu_energy": d.cpu_energy, "ram_energy": d.ram_energy}
    def final(t):
        return t.final_emissions if LIB == "ours" else t.final_emissions_data
    """
)

LIFECYCLE = PRELUDE + textwrap.dedent(
    """
    kw = dict(offline=True, country_iso_code="FRA", measure_power_secs=1, output_dir=OUT)
    a = time.perf_counter(); t = make(**kw); b = time.perf_counter()
    t.start(); c = time.perf_counter()
    busy(2.0)
    d = time.perf_counter(); t.flush(); e = time.perf_counter()
    steady = []
    for _ in range(5):  # later flushes, each taking a fresh measurement (> 50 ms apart)
        time.sleep(0.06)
        s0 = time.perf_counter(); t.flush(); steady.append(time.perf_counter() - s0)
    steady.sort()
    e2 = time.perf_counter(); t.stop(); f = time.perf_counter()
    n = numbers(final(t))
    # a second tracker in the same process: warm construct + start
    g = time.perf_counter(); t2 = make(**kw); h = time.perf_counter(); t2.start(); i = time.perf_counter()
    t2.stop()
    print(json.dumps({"import": import_s, "construct": b - a, "start_cold": c - b, "flush": e - d, "flush_steady": steady[2], "stop": f - e2,
                      "construct_warm": h - g, "start_warm": i - h, "numbers": n,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)

IDLE = PRELUDE + textwrap.dedent(
    """
    if LIB != "none":
        t = make(offline=True, country_iso_code="FRA", measure_power_secs=1, output_dir=OUT)
        t.start()
    time.sleep(0.5)
    a = cpu_s(); time.sleep(10); b = cpu_s()
    if LIB != "none":
        t.stop()
    print(json.dumps({"idle_cpu_ms_per_s": (b - a) * 1000 / 10, "rss_kb": rss_kb()}))
    """
)

SCALE = PRELUDE + textwrap.dedent(
    """
    N = int(sys.argv[2])
    def threads():
        with open("/proc/self/status") as f:
            return int(next(l for l in f if l.startswith("Threads:")).split()[1])
    th0, rss0 = threads(), rss_kb()
    a = time.perf_counter()
    ts = [make(offline=True, country_iso_code="FRA", measure_power_secs=1, save_to_file=False) for _ in range(N)]
    for t in ts:
        t.start()
    started = time.perf_counter() - a
    time.sleep(0.5)
    c0 = cpu_s(); time.sleep(5); c1 = cpu_s()
    th1, rss1 = threads(), rss_kb()
    for t in ts:
        t.stop()
    print(json.dumps({"n": N, "start_all_s": started, "threads_added": th1 - th0, "rss_added_kb": rss1 - rss0,
                      "cpu_ms_per_s": (c1 - c0) * 1000 / 5}))
    """
)

ONLINE = PRELUDE + textwrap.dedent(
    """
    url = sys.argv[2]
    kw = dict(measure_power_secs=1, output_dir=OUT, save_to_api=True, api_endpoint=url,
              api_key="bench-key", experiment_id="11111111-2222-3333-4444-555555555555")
    if LIB == "ours":
        # CodeCarbon's online tracker takes no country; ours would look it up (in the background).
        kw.update(api_timeout_s=10, country_iso_code="FRA")
    t = make(**kw)
    a = time.perf_counter(); t.start(); b = time.perf_counter()
    busy(1.2)
    c = time.perf_counter(); t.flush(); d = time.perf_counter()
    t.stop()
    print(json.dumps({"start": b - a, "flush": d - c}))
    """
)


class SlowApi(BaseHTTPRequestHandler):
    """A CodeCarbon API fake on loopback that answers after 2 s."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(2)
        body = json.dumps({"id": "bench-run"}) if self.path.endswith("/runs") else '"bench-emission"'
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
        except OSError:
            pass  # the client gave up (CodeCarbon's 2 s timeout)

    def log_message(self, *args):
        pass


def run(script, lib, *args, env=None):
    out = subprocess.run(
        [sys.executable, "-c", script, lib, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    if out.returncode != 0:
        raise RuntimeError(f"{lib}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_native(native, *args, env=None):
    """bench/native.c: the library called from C, no interpreter in the way."""
    out = subprocess.run([native, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"native {args}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def fmt_t(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--scale", type=int, default=1000)
    p.add_argument("--codecarbon-scale", type=int, default=100)
    p.add_argument("--native", help="bench/native.c built against the library (bench/run.sh passes it)")
    args = p.parse_args()
    env = dict(os.environ)
    env["CODECARBON_LOG_LEVEL"] = "error"
    libs = ["ours", "codecarbon"]
    rows = []  # (metric, target, ours in C, ours in Python, CodeCarbon in Python, ratio of the Python columns)

    def ratio(o, c):
        return f"{c / o:,.0f}x" if o > 0 else "-"

    life = {lib: [run(LIFECYCLE, lib, env=env) for _ in range(args.runs)] for lib in libs}
    native = (
        [run_native(args.native, "lifecycle", tempfile.mkdtemp(), env=env) for _ in range(args.runs)]
        if args.native
        else []
    )
    for key, label, target in [row for row in LIFECYCLE_TARGETS if not row[0].startswith("task_")]:
        o, c = median(life["ours"], key), median(life["codecarbon"], key)
        n = fmt_t(median(native, key)) if native else "-"
        rows.append((label, target, n, fmt_t(o), fmt_t(c), ratio(o, c)))
    o, c = median(life["ours"], "import"), median(life["codecarbon"], "import")
    rows.append(("import (ours: + loading the library)", "-", "-", fmt_t(o), fmt_t(c), ratio(o, c)))

    idle = {lib: [run(IDLE, lib, env=env) for _ in range(3)] for lib in libs + ["none"]}
    nat_idle = (
        {
            k: [run_native(args.native, "idle", k if k == "none" else tempfile.mkdtemp(), env=env) for _ in range(3)]
            for k in ("ours", "none")
        }
        if args.native
        else {}
    )
    floor = (
        median([run_native(args.native, "floor", env=env) for _ in range(3)], "idle_cpu_ms_per_s")
        if args.native
        else None
    )
    o, c, n = (median(idle[who], "idle_cpu_ms_per_s") for who in ("ours", "codecarbon", "none"))
    no = (
        (median(nat_idle["ours"], "idle_cpu_ms_per_s") - median(nat_idle["none"], "idle_cpu_ms_per_s"))
        if nat_idle
        else None
    )
    rows.append(
        (
            "idle CPU per second of a sleeping program, measure_power_secs=1",
            "≤ 1.25 × floor",
            f"{no:.3f} ms" if no is not None else "-",
            f"{o - n:.3f} ms",
            f"{c - n:.3f} ms",
            f"{(c - n) / max(o - n, 1e-6):,.0f}x",
        )
    )
    if floor is not None:
        rows.append(
            (
                "this machine's floor: a bare thread waking at 1 Hz to pread /proc/stat",
                "-",
                f"{floor:.3f} ms",
                "-",
                "-",
                "-",
            )
        )
    o, c, n = (median(idle[who], "rss_kb") for who in ("ours", "codecarbon", "none"))
    nr = (median(nat_idle["ours"], "rss_kb") - median(nat_idle["none"], "rss_kb")) if nat_idle else None
    rows.append(
        (
            "RSS added to a sleeping process that tracks",
            "≤ 4 MB",
            f"+{nr / 1024:.1f} MB" if nr is not None else "-",
            f"+{(o - n) / 1024:.1f} MB",
            f"+{(c - n) / 1024:.1f} MB",
            f"{(c - n) / max(o - n, 1):,.0f}x",
        )
    )

    so = run(SCALE, "ours", args.scale, env=env)
    sc = run(SCALE, "codecarbon", args.codecarbon_scale, env=env)
    sn = run_native(args.native, "scale", args.scale, env=env) if args.native else None
    col = lambda f: f(sn) if sn else "-"  # noqa: E731
    rows.append(
        (
            f"scale: time to start {so['n']} trackers (CodeCarbon: {sc['n']})",
            "-",
            col(lambda r: fmt_t(r["start_all_s"])),
            fmt_t(so["start_all_s"]),
            fmt_t(sc["start_all_s"]),
            "-",
        )
    )
    rows.append(
        (
            "scale: threads added",
            "1",
            col(lambda r: str(r["threads_added"])),
            str(so["threads_added"]),
            str(sc["threads_added"]),
            "-",
        )
    )
    rows.append(
        (
            "scale: memory added",
            "-",
            col(lambda r: f"{r['rss_added_kb'] / 1024:.1f} MB"),
            f"{so['rss_added_kb'] / 1024:.1f} MB",
            f"{sc['rss_added_kb'] / 1024:.1f} MB",
            "-",
        )
    )
    rows.append(
        (
            "scale: CPU per second while idle",
            "-",
            col(lambda r: f"{r['cpu_ms_per_s']:.2f} ms"),
            f"{so['cpu_ms_per_s']:.2f} ms",
            f"{sc['cpu_ms_per_s']:.2f} ms",
            "-",
        )
    )

    server = HTTPServer(("127.0.0.1", 0), SlowApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    on = {lib: run(ONLINE, lib, url, env=env) for lib in libs}
    for key in ("start", "flush"):
        o, c = on["ours"][key], on["codecarbon"][key]
        rows.append((f"online {key}, API answering after 2 s", "-", "-", fmt_t(o), fmt_t(c), ratio(o, c)))
    server.shutdown()

    print(f"\n## carbon-tracker vs CodeCarbon ({args.runs} runs, medians)\n")
    print("Targets apply to the library itself (the C column); the Python columns compare like with like.\n")
    print(
        "| metric | target | carbon-tracker, C | carbon-tracker, Python | CodeCarbon, Python | CodeCarbon / ours (Python) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\n## Same 2 s busy run, offline, FRA (medians)\n")
    print("| number | carbon-tracker, C | carbon-tracker, Python | CodeCarbon |")
    print("|---|---|---|---|")
    for k in ("duration", "energy", "cpu_energy", "ram_energy", "emissions"):
        o = statistics.median(r["numbers"][k] for r in life["ours"])
        c = statistics.median(r["numbers"][k] for r in life["codecarbon"])
        n = f"{statistics.median(r['numbers'][k] for r in native):.6g}" if native else "-"
        print(f"| {k} | {n} | {o:.6g} | {c:.6g} |")
    per = lambda rs: statistics.median(r["numbers"]["emissions"] / r["numbers"]["energy"] for r in rs)  # noqa: E731
    print(
        f"| emissions / energy (kg/kWh) | {per(native):.6f} | {per(life['ours']):.6f} | {per(life['codecarbon']):.6f} |"
        if native
        else f"| emissions / energy (kg/kWh) | - | {per(life['ours']):.6f} | {per(life['codecarbon']):.6f} |"
    )


if __name__ == "__main__":
    main()
