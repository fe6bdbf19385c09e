"""The library's GPU numbers against the driver's own, on a machine with an NVIDIA GPU.

Run through scripts/gpu-check.sh. Needs only the built library (CARBON_TRACKER_LIB, by default
target/release/libcarbon_tracker.so) and the Python binding of the checkout; uses nvidia-ml-py
(pynvml) when installed (else NVML through ctypes), PyTorch for the load (else no load), and
nvidia-smi when on PATH.

Three runs, each in a fresh process (CUDA_VISIBLE_DEVICES is read when the library probes):
  1. every GPU visible: 15 s idle, 45 s of bf16 matrix products on the first GPU, 15 s idle, a
     flush every 5 s, measure_power_secs=1; NVML's total-energy counters read at each phase's
     ends, nvidia-smi sampling power and utilisation every 200 ms in the background;
  2. the same with CUDA_VISIBLE_DEVICES set to the first GPU's UUID;
  3. CUDA_VISIBLE_DEVICES set to an index that does not exist (a warning, no GPU counted).
GPU_CHECK_SCALE=0.05 scales every duration (a short run, e.g. against the tests' fake NVML).
Without NVML it says so and exits 0; it exits 1 when a check misses its bound.
"""

import csv
import ctypes
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SCALE = float(os.environ.get("GPU_CHECK_SCALE", "1"))
PHASES = [("idle", 15.0, False), ("load", 45.0, True), ("idle after", 15.0, False)]
FLUSH_EVERY_S = 5.0
ENERGY_BOUND_PCT = 1.0  # ours vs NVML's counter
POWER_BOUND_PCT = 5.0  # ours vs nvidia-smi's mean


class Nvml:
    """NVML's total-energy counters, through nvidia-ml-py or, without it, ctypes."""

    def __init__(self):
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            self.py = pynvml
            try:
                from importlib.metadata import version

                self.via = "nvidia-ml-py " + version("nvidia-ml-py")
            except Exception:
                self.via = "nvidia-ml-py"
        except ImportError:
            self.py = None
            self.lib = ctypes.CDLL("libnvidia-ml.so.1")
            rc = self.lib.nvmlInit_v2()
            if rc != 0:
                raise OSError(f"nvmlInit_v2 returned {rc}") from None
            self.via = "libnvidia-ml.so.1 through ctypes (nvidia-ml-py not installed)"

    def driver_version(self):
        if self.py:
            v = self.py.nvmlSystemGetDriverVersion()
            return v.decode() if isinstance(v, bytes) else v
        buf = ctypes.create_string_buffer(96)
        return buf.value.decode() if self.lib.nvmlSystemGetDriverVersion(buf, 96) == 0 else "?"

    def _handle(self, uuid):
        if self.py:
            return self.py.nvmlDeviceGetHandleByUUID(uuid.encode())
        h = ctypes.c_void_p()
        if self.lib.nvmlDeviceGetHandleByUUID(uuid.encode(), ctypes.byref(h)) != 0:
            raise OSError(f"no NVML device {uuid}")
        return h

    def energy_mj(self, uuid):
        """The device's total-energy counter (mJ), or None where it has none."""
        try:
            if self.py:
                return int(self.py.nvmlDeviceGetTotalEnergyConsumption(self._handle(uuid)))
            e = ctypes.c_ulonglong()
            if self.lib.nvmlDeviceGetTotalEnergyConsumption(self._handle(uuid), ctypes.byref(e)) != 0:
                return None
            return e.value
        except Exception:  # NVMLError_NotSupported and friends
            return None

    def gpus(self):
        """(index, uuid, name) of each device that opens."""
        out = []
        if self.py:
            for i in range(self.py.nvmlDeviceGetCount()):
                try:
                    h = self.py.nvmlDeviceGetHandleByIndex(i)
                    uuid, name = self.py.nvmlDeviceGetUUID(h), self.py.nvmlDeviceGetName(h)
                    out.append(
                        (
                            i,
                            uuid.decode() if isinstance(uuid, bytes) else uuid,
                            name.decode() if isinstance(name, bytes) else name,
                        )
                    )
                except self.py.NVMLError:
                    pass
            return out
        n = ctypes.c_uint()
        self.lib.nvmlDeviceGetCount_v2(ctypes.byref(n))
        for i in range(n.value):
            h = ctypes.c_void_p()
            if self.lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) != 0:
                continue
            uuid, name = ctypes.create_string_buffer(96), ctypes.create_string_buffer(96)
            self.lib.nvmlDeviceGetUUID(h, uuid, 96)
            self.lib.nvmlDeviceGetName(h, name, 96)
            out.append((i, uuid.value.decode(), name.value.decode()))
        return out


class Smi:
    """nvidia-smi sampling power and utilisation every 200 ms, each line timestamped here."""

    def __init__(self):
        self.samples = []  # (monotonic s, uuid, power W, util %)
        exe = shutil.which("nvidia-smi")
        self.proc = None
        if exe:
            self.proc = subprocess.Popen(
                [exe, "--query-gpu=uuid,power.draw,utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            parts = [p.strip() for p in line.split(",")]
            try:
                self.samples.append((time.monotonic(), parts[0], float(parts[1]), float(parts[2])))
            except (ValueError, IndexError):
                pass

    def mean(self, uuids, t0, t1):
        """Summed mean power of the GPUs `uuids` over [t0, t1], their mean utilisation, samples."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1 and s[1] in uuids]
        if not inside:
            return None, None, 0
        power = sum(sum(s[2] for s in inside if s[1] == u) / max(1, sum(1 for s in inside if s[1] == u)) for u in uuids)
        return power, sum(s[3] for s in inside) / len(inside), len(inside)

    def stop(self):
        if self.proc:
            self.proc.terminate()


def load_fn():
    """A function that keeps the first GPU busy with bf16 matrix products for a while, or None."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch not installed: the load phase is idle"
    if not torch.cuda.is_available():
        return None, "PyTorch sees no CUDA device: the load phase is idle"
    a = torch.randn((8192, 8192), device="cuda", dtype=torch.bfloat16)
    b = torch.randn((8192, 8192), device="cuda", dtype=torch.bfloat16)

    def busy(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _ in range(8):
                a @ b
            torch.cuda.synchronize()

    return busy, f"load: bf16 8192x8192 matrix products on {torch.cuda.get_device_name(0)}"


def run_child(label, short):
    """One run: prints `RESULT <json>`."""
    from carbon_tracker import Tracker

    warnings = []

    class Keep(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    logging.getLogger("carbon_tracker").addHandler(Keep(level=logging.WARNING))
    nvml = Nvml()
    busy, load_note = load_fn() if not short else (None, "")
    out_dir = tempfile.mkdtemp(prefix="gpu-check-")
    every = max(0.05, 1.0 * SCALE)
    tracker = Tracker(
        tracking_mode="machine",
        measure_power_secs=every,
        output_dir=out_dir,
        country_iso_code="FRA",
        project_name="gpu-check",
        log_level="warning",
    )
    doc = tracker.describe()
    uuids = [g["uuid"] for g in doc["gpus"]]
    smi = Smi()
    tracker.start()
    phases = []
    plan = [("idle", 5.0, False)] if short else PHASES

    def reading():
        e = tracker.flush()
        return time.monotonic(), e, {u: nvml.energy_mj(u) for u in uuids}

    before = reading()
    for name, seconds, loaded in plan:
        end = time.monotonic() + seconds * SCALE
        while time.monotonic() < end:
            step = min(FLUSH_EVERY_S * SCALE, end - time.monotonic())
            if loaded and busy:
                busy(step)
            else:
                time.sleep(max(0.0, step))
            if time.monotonic() < end - 0.01:
                tracker.flush()
        after = reading()
        (t0, e0, c0), (t1, e1, c1) = before, after
        dur = e1.duration_s - e0.duration_s
        counter = [c1[u] - c0[u] for u in uuids if c0[u] is not None and c1[u] is not None]
        smi_w, smi_util, n = smi.mean(uuids, t0, t1)
        util = (
            (e1.gpu_utilization_percent * e1.duration_s - e0.gpu_utilization_percent * e0.duration_s) / dur
            if dur > 0
            else 0.0
        )
        phases.append(
            {
                "phase": name,
                "seconds": dur,
                "ours_gpu_j": (e1.gpu_energy_kwh - e0.gpu_energy_kwh) * 3.6e6,
                "counter_j": sum(counter) / 1000.0 if len(counter) == len(uuids) and uuids else None,
                "smi_w": smi_w,
                "smi_util": smi_util,
                "smi_samples": n,
                "ours_util": util,
                "ours_cpu_j": (e1.cpu_energy_kwh - e0.cpu_energy_kwh) * 3.6e6,
            }
        )
        before = after
    tracker.stop()
    smi.stop()
    with open(os.path.join(out_dir, "emissions.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    row = rows[-1] if rows else {}
    cpu = doc["cpu"]["source"]
    print(
        "RESULT "
        + json.dumps(
            {
                "label": label,
                "phases": phases,
                "gpus": doc["gpus"],
                "warnings": warnings,
                "load_note": load_note,
                "gpu_model": row.get("gpu_model"),
                "gpu_count": row.get("gpu_count"),
                "cpu_model": doc["cpu"]["model_name"],
                "cpu_source": cpu.get("model"),
                "cpu_zones": [z["name"] for z in cpu.get("zones", [])],
                "methods": doc["methods"],
            }
        ),
        flush=True,
    )


def powercap():
    """What the host's powercap tree exposes: `name: readable/unreadable` per zone."""
    zones = []
    for d in sorted(glob.glob("/sys/class/powercap/intel-rapl*")):
        try:
            name = open(os.path.join(d, "name")).read().strip()
        except OSError:
            continue
        try:
            open(os.path.join(d, "energy_uj")).read()
            state = "readable"
        except OSError as e:
            state = f"unreadable ({e.strerror})"
        zones.append(f"{os.path.basename(d)} {name}: {state}")
    return zones or ["none (no /sys/class/powercap/intel-rapl* zone)"]


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def pct(a, b):
    return (a - b) / b * 100.0 if b else float("nan")


def print_run(r):
    ok = True
    print(f"\n## {r['label']}")
    print(
        f"tracked GPUs: {', '.join(g['uuid'] + ' (' + g['name'] + ', ' + g['source'] + ')' for g in r['gpus']) or 'none'}"
    )
    print(
        f"reported: gpu_model={r['gpu_model']!r} gpu_count={r['gpu_count']}; CPU: {r['cpu_model']}, source {r['cpu_source']} {r['cpu_zones'] or ''}"
    )
    if r["load_note"]:
        print(r["load_note"])
    for w in r["warnings"]:
        print(f"warning from the library: {w}")
    print(
        f"| phase | s | our GPU J | NVML counter J | diff % (≤ {ENERGY_BOUND_PCT:g}) | our mean W | nvidia-smi mean W (samples) | diff % (≤ {POWER_BOUND_PCT:g}) | GPU util % ours / smi | our CPU J (mean W) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in r["phases"]:
        s = p["seconds"]
        ours_w = p["ours_gpu_j"] / s if s > 0 else 0.0
        e_diff = pct(p["ours_gpu_j"], p["counter_j"]) if p["counter_j"] else None
        w_diff = pct(ours_w, p["smi_w"]) if p["smi_w"] else None
        # Over a few seconds an idle GPU's counter and a sampled power legitimately differ by
        # more than a percent of almost nothing: the bounds apply to the loaded and longer phases.
        if e_diff is not None and abs(e_diff) > ENERGY_BOUND_PCT and abs(p["ours_gpu_j"] - p["counter_j"]) > 1.0:
            ok = False
        if w_diff is not None and abs(w_diff) > POWER_BOUND_PCT and p["phase"] == "load":
            ok = False
        row = [
            p["phase"],
            f"{s:.1f}",
            f"{p['ours_gpu_j']:.1f}",
            fmt(p["counter_j"], ".1f"),
            fmt(e_diff, "+.2f"),
            f"{ours_w:.1f}",
            "n/a (no nvidia-smi)" if p["smi_w"] is None else f"{p['smi_w']:.1f} ({p['smi_samples']})",
            fmt(w_diff, "+.2f"),
            f"{p['ours_util']:.0f} / {fmt(p['smi_util'], '.0f')}",
            f"{p['ours_cpu_j']:.1f} ({p['ours_cpu_j'] / s if s else 0:.1f})",
        ]
        print("| " + " | ".join(row) + " |")
    return ok


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        run_child(sys.argv[2], short=len(sys.argv) > 3)
        return 0
    try:
        nvml = Nvml()
        gpus = nvml.gpus()
    except Exception as e:  # no driver, no library
        print(
            f"gpu-check: no NVIDIA driver here (NVML could not be loaded or initialised: {e}). Nothing to check; exiting 0."
        )
        return 0
    if not gpus:
        print("gpu-check: NVML is there but opens no GPU. Nothing to check; exiting 0.")
        return 0
    lib = os.environ.get("CARBON_TRACKER_LIB", "")
    if not os.path.exists(lib):
        print(
            f"gpu-check: the library is missing ({lib!r}): build it with `cargo build --release` and carry target/release/libcarbon_tracker.so"
        )
        return 2
    print(
        f"# gpu-check: NVML via {nvml.via}, driver {nvml.driver_version()}, {len(gpus)} GPU(s): "
        + ", ".join(f"{i}: {n} {u}" for i, u, n in gpus)
    )
    print(f"library: {lib}; durations x{SCALE:g}; host powercap: {'; '.join(powercap())}")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    runs = [
        ("every GPU visible (CUDA_VISIBLE_DEVICES unset)", env, False),
        (f"CUDA_VISIBLE_DEVICES={gpus[0][1]}", {**env, "CUDA_VISIBLE_DEVICES": gpus[0][1]}, False),
        (
            f"CUDA_VISIBLE_DEVICES={len(gpus) + 7} (no such index)",
            {**env, "CUDA_VISIBLE_DEVICES": str(len(gpus) + 7)},
            True,
        ),
    ]
    ok = True
    for label, run_env, short in runs:
        args = [sys.executable, os.path.abspath(__file__), "--run", label] + (["short"] if short else [])
        done = subprocess.run(args, env=run_env, capture_output=True, text=True)
        result = next((json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")), None)
        if result is None:
            print(f"\n## {label}\nthe run failed (status {done.returncode}):\n{done.stdout}\n{done.stderr}")
            ok = False
            continue
        ok &= print_run(result)
        if short:
            counted = sum(p["ours_gpu_j"] for p in result["phases"])
            clear = any("matches no device" in w for w in result["warnings"])
            print(
                f"no such index: warning given: {'yes' if clear else 'NO'}; GPUs tracked: {len(result['gpus'])}; GPU energy counted: {counted:.3f} J (want 0)"
            )
            ok &= clear and not result["gpus"] and counted == 0.0
    print("\ngpu-check: " + ("every check within its bound" if ok else "SOME CHECKS MISSED THEIR BOUND (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
