"""The ways CodeCarbon is used, each as a small program that runs the same against CodeCarbon and
against carbon-tracker (only the import differs) and prints what a user sees as one JSON line.

    python usages.py <codecarbon|carbon_tracker> <usage> <empty dir>

tests/test_codecarbon_usages.py runs every usage with carbon-tracker and, when a CodeCarbon 3.3.2
venv is there (target/codecarbon-venv), with CodeCarbon too, and compares. Offline trackers with
a country everywhere: the tests reach no address but loopback."""

import csv
import glob
import json
import logging
import multiprocessing
import os
import socket
import sys
import threading
import time

IMPL, USAGE, DIR = sys.argv[1], sys.argv[2], sys.argv[3]
if IMPL == "codecarbon":
    from codecarbon import OfflineEmissionsTracker, track_emissions  # type: ignore
    from codecarbon.emissions_tracker import TaskEmissionsTracker, track_task_emissions  # type: ignore
else:
    from carbon_tracker import OfflineEmissionsTracker, track_emissions  # type: ignore
    from carbon_tracker.emissions_tracker import TaskEmissionsTracker, track_task_emissions  # type: ignore

PLACE = dict(country_iso_code="FRA", output_dir=DIR)


def work(seconds=0.2):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def square(x):
    return x * x


def rows(name="emissions.csv"):
    path = os.path.join(DIR, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def task_rows():
    found = sorted(glob.glob(os.path.join(DIR, "emissions_*_*.csv")))
    return [r for path in found for r in rows(os.path.basename(path))]


def kind(value):
    return type(value).__name__


def data_summary(data):
    """What a user reads from EmissionsData (CodeCarbon's attribute names)."""
    if data is None:
        return None
    return {
        "type": type(data).__name__,
        "emissions>0": data.emissions > 0,
        "duration>0": data.duration > 0,
        "cpu_energy>0": data.cpu_energy > 0,
        "energy=sum": abs(data.energy_consumed - data.cpu_energy - data.gpu_energy - data.ram_energy) < 1e-12,
        "country_name": data.country_name,
        "run_id_len": len(str(data.run_id)),
    }


def context_manager():
    with OfflineEmissionsTracker(**PLACE) as tracker:
        work()
    return {
        "final_emissions": kind(tracker.final_emissions),
        "data": data_summary(tracker.final_emissions_data),
        "csv_rows": len(rows()),
    }


def decorator():
    @track_emissions(offline=True, **PLACE)
    def train(x):
        work()
        return x * 2

    return {"result": train(21), "csv_rows": len(rows())}


def start_stop():
    tracker = OfflineEmissionsTracker("usage", **PLACE)  # project name positionally
    before = tracker.flush()
    tracker.start()
    work()
    flushed = tracker.flush()
    kg = tracker.stop()
    return {
        "flush_before_start": before,
        "flush": kind(flushed),
        "stop": kind(kg),
        "stop>=flush": kg >= flushed,
        "run_id_len": len(str(tracker.run_id)),
        "project_names": sorted({r["project_name"] for r in rows()}),
        "csv_rows": len(rows()),
    }


def tasks_loop():
    tracker = OfflineEmissionsTracker(**PLACE)
    results = []
    for i in range(3):
        tracker.start_task(f"step {i}")
        work(0.1)
        results.append(data_summary(tracker.stop_task()))
    kg = tracker.stop()
    return {
        "tasks": results,
        "stop": kind(kg),
        "task_rows": sorted(r["task_name"] for r in task_rows()),
    }


def tasks_inference():
    tracker = OfflineEmissionsTracker(**PLACE)
    with TaskEmissionsTracker("load model", tracker=tracker):
        work(0.1)

    @track_task_emissions(tracker=tracker, task_name="inference")
    def infer(x):
        work(0.05)
        return x + 1

    outputs = [infer(i) for i in range(3)]
    kg = tracker.stop()
    names = sorted(r["task_name"].split("_")[0] for r in task_rows())
    return {"outputs": outputs, "stop": kind(kg), "task_rows": names}


def threads():
    results = {}

    def run(i):
        with OfflineEmissionsTracker(project_name=f"thread {i}", **PLACE) as tracker:
            work(0.1)
        results[i] = kind(tracker.final_emissions)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"results": [results[i] for i in range(4)], "csv_rows": len(rows())}


def forked_pool():
    with OfflineEmissionsTracker(**PLACE) as tracker:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            squares = pool.map(square, range(8))
    return {"squares": squares, "final_emissions": kind(tracker.final_emissions), "csv_rows": len(rows())}


def logging_to_file():
    path = os.path.join(DIR, "codecarbon.log")
    logger = logging.getLogger("codecarbon")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    with OfflineEmissionsTracker(log_level="info", **PLACE):
        work(0.1)
    handler.close()
    with open(path) as f:
        lines = f.read().splitlines()
    return {"file_has_lines": len(lines) > 0, "has_info": any(line.startswith("INFO ") for line in lines)}


def api_unreachable():
    # A loopback port with nothing listening.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    api = dict(save_to_api=True, api_endpoint=f"http://127.0.0.1:{port}", api_call_interval=-1, save_to_file=False)
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", **api)
    raised = None
    try:
        with tracker:
            work(1.1)
            raise ValueError("the user's error")
    except Exception as e:  # what reaches the user
        raised = f"{type(e).__name__}: {e}"
    return {"raised": raised, "final_emissions": kind(tracker.final_emissions)}


class Messages(logging.Handler):
    """The lines CodeCarbon logs (instead of raising) for misuse, with their level."""

    KNOWN = ("Already started tracking", "You first need to start the tracker.",
             "Tracker already stopped or never started.", "stop_task : No active task to stop.")  # fmt: skip

    def __init__(self):
        super().__init__()
        self.seen = []

    def emit(self, record):
        if record.getMessage() in self.KNOWN:
            self.seen.append(f"{record.levelname} {record.getMessage()}")


def second_stop():
    messages = Messages()
    logging.getLogger("codecarbon").addHandler(messages)
    tracker = OfflineEmissionsTracker(log_level="warning", **PLACE)
    stop_task_before = tracker.stop_task("nothing")
    stop_before_start = tracker.stop()
    tracker.start()
    tracker.start()  # logged, ignored
    work(0.1)
    first = tracker.stop()
    second = tracker.stop()
    flush_after = tracker.flush()
    return {
        "logged": messages.seen,
        "stop_task_unknown": stop_task_before,
        "stop_before_start": stop_before_start,
        "first": kind(first),
        "same": first == second,
        "flush_after_stop": flush_after,
        "csv_rows": len(rows()),
    }


def csv_unwritable():
    # The output folder disappears during the run: the user's exception is what they get.
    sub = os.path.join(DIR, "out")
    os.mkdir(sub)
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=sub)
    raised = None
    try:
        with tracker:
            work(0.1)
            for name in os.listdir(sub):
                os.remove(os.path.join(sub, name))
            os.rmdir(sub)
            raise KeyError("the user's error")
    except Exception as e:
        raised = f"{type(e).__name__}: {e}"
    return {"raised": raised}


def offline_missing_dir():
    # CodeCarbon's offline constructor logs its errors (here: no such folder) instead of raising.
    ran = False
    with OfflineEmissionsTracker(country_iso_code="FRA", output_dir=os.path.join(DIR, "missing")) as tracker:
        ran = True
    return {"body_ran": ran, "stop_again": tracker.stop(), "flush": tracker.flush()}


USAGES = {f.__name__: f for f in (context_manager, decorator, start_stop, tasks_loop, tasks_inference, threads,
                                  forked_pool, logging_to_file, api_unreachable, second_stop, csv_unwritable,
                                  offline_missing_dir)}

if __name__ == "__main__":
    result = USAGES[USAGE]()
    sys.stdout.flush()
    print("RESULT " + json.dumps(result, sort_keys=True))
