"""The ways CodeCarbon is used, each as a small program that runs the same against CodeCarbon and
against carbon-tracker (only the import differs) and prints what a user sees as one JSON line.

    python usages.py <codecarbon|carbon_tracker> <usage> <empty dir>

tests/test_codecarbon_usages.py runs every usage with carbon-tracker and, when a CodeCarbon 3.3.2
venv is there (target/codecarbon-venv), with CodeCarbon too, and compares. Offline trackers with
a country everywhere: the tests reach no address but loopback."""

import csv
import gc
import glob
import json
import logging
import multiprocessing
import os
import socket
import sys
import threading
import time
import warnings

IMPL, USAGE, DIR = sys.argv[1], sys.argv[2], sys.argv[3]
if USAGE in ("bad_values", "attributes", "single_run", "task_overlap"):
    # These usages look at warnings: CodeCarbon's level at import decides for some of them, and
    # CODECARBON_LOG_LEVEL=error (as test-all sets it) would hide them on both sides alike.
    os.environ["CODECARBON_LOG_LEVEL"] = "warning"
if USAGE in ("single_run",):
    # CodeCarbon's lock file is in tempfile.gettempdir(), read when it is imported: this run's own.
    os.environ["TMPDIR"] = DIR
if USAGE == "api_unreachable":
    # How long stop() waits for the upload that cannot be delivered: the library's own key (5 s
    # by default; CodeCarbon has no such key and ignores it). It still retries, then gives up.
    os.environ["CODECARBON_API_TIMEOUT_S"] = "1"
if USAGE == "slurm_rank":
    # What srun sets for the second rank of a 2-rank step on one node (the job itself is not run).
    os.environ.update(
        SLURM_JOB_ID="4242",
        SLURM_PROCID="1",
        SLURM_LOCALID="1",
        SLURM_NODEID="0",
        SLURM_NTASKS="2",
        SLURM_TASKS_PER_NODE="2",
        SLURM_STEP_TASKS_PER_NODE="2",
        CODECARBON_JOB_COORDINATION_DIR=DIR,
    )
if IMPL == "codecarbon":
    from codecarbon import OfflineEmissionsTracker, OutputMethod, track_emissions  # type: ignore
    from codecarbon.emissions_tracker import TaskEmissionsTracker, track_task_emissions  # type: ignore
    from codecarbon.output import BaseOutput, LoggerOutput  # type: ignore
else:
    from carbon_tracker import OfflineEmissionsTracker, OutputMethod, track_emissions  # type: ignore
    from carbon_tracker.emissions_tracker import TaskEmissionsTracker, track_task_emissions  # type: ignore
    from carbon_tracker.output import BaseOutput, LoggerOutput  # type: ignore

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


class Logged(logging.Handler):
    """Every line of the "codecarbon" logger at warning level or above."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []
        self.levels = []
        logging.getLogger("codecarbon").addHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())
        self.levels.append((record.getMessage(), record.levelno))

    def mention(self, *words):
        return any(all(w in line for w in words) for line in self.lines)


def intensity(tracker):
    """The gCO2e/kWh a run used, from what the user reads (emissions / energy)."""
    d = tracker.final_emissions_data
    return round(d.emissions / d.energy_consumed * 1000, 3)


def output_file_path():
    # Behaviour 1: output_file as a path: an absolute one is used as is, a relative one is
    # taken in output_dir (CodeCarbon's os.path.join(output_dir, output_file)).
    other = os.path.join(DIR, "elsewhere")
    os.mkdir(other)
    os.mkdir(os.path.join(DIR, "sub"))
    with OfflineEmissionsTracker(
        country_iso_code="FRA", output_dir=DIR, output_file=os.path.join(other, "abs.csv")
    ) as a:
        work(0.1)
    with OfflineEmissionsTracker(country_iso_code="FRA", output_dir=DIR, output_file=os.path.join("sub", "rel.csv")):
        work(0.1)
    return {
        "absolute_rows": len(rows(os.path.join(other, "abs.csv"))),
        "relative_rows": len(rows(os.path.join("sub", "rel.csv"))),
        "default_file": os.path.exists(os.path.join(DIR, "emissions.csv")),
        "final_emissions": kind(a.final_emissions),
    }


def bad_values():
    # Behaviour 2: a bad value is logged and ignored; the tracker measures with the default.
    logged = Logged()
    quiet = dict(output_dir=DIR, log_level="warning")
    with OfflineEmissionsTracker(country_iso_code="FRA", force_carbon_intensity_g_co2e_kwh=-1, **quiet) as forced:
        work(0.1)
    with open(os.path.join(DIR, ".codecarbon.config"), "w") as f:  # the working directory's file
        f.write("[codecarbon]\nforce_cpu_power=toto\n")
    with OfflineEmissionsTracker(country_iso_code="FRA", **quiet) as from_file:
        work(0.1)
    os.remove(os.path.join(DIR, ".codecarbon.config"))
    unknown = {}
    for code in ("ZZZ", "France"):
        with OfflineEmissionsTracker(country_iso_code=code, **quiet) as t:
            work(0.1)
        unknown[code] = {
            "final_emissions": kind(t.final_emissions),
            "g_per_kwh": intensity(t),
            "logged": logged.mention(code),
        }
    return {
        "forced": {"final_emissions": kind(forced.final_emissions), "g_per_kwh": intensity(forced),
                   "attribute": forced.force_carbon_intensity_g_co2e_kwh,
                   "logged": logged.mention("force_carbon_intensity_g_co2e_kwh", "-1")},
        "config_file": {"final_emissions": kind(from_file.final_emissions), "cpu_energy>0": from_file.final_emissions_data.cpu_energy > 0,
                        "logged": logged.mention("force_cpu_power", "toto")},
        "unknown_country": unknown,
    }  # fmt: skip


def offline_with_token():
    # Behaviour 3: an offline tracker with an Electricity Maps token (argument, environment, or
    # co2_signal_api_token in ~/.codecarbon.config) measures; the service is unreachable here,
    # so the static tables give the intensity.
    home = os.path.join(DIR, "home")
    os.mkdir(home)
    results = {}
    for source in ("argument", "environment", "home_config"):
        token = {}
        if source == "argument":
            token = {"electricitymaps_api_token": "tok"}
        elif source == "environment":
            os.environ["CODECARBON_ELECTRICITYMAPS_API_TOKEN"] = "tok"
        else:
            os.environ.pop("CODECARBON_ELECTRICITYMAPS_API_TOKEN", None)
            os.environ["HOME"] = home
            with open(os.path.join(home, ".codecarbon.config"), "w") as f:
                f.write("[codecarbon]\nco2_signal_api_token=tok\n")
        with OfflineEmissionsTracker(country_iso_code="FRA", output_dir=DIR, **token) as t:
            work(0.1)
        results[source] = {"final_emissions": kind(t.final_emissions), "g_per_kwh": intensity(t)}
    return results


class Recorder(BaseOutput):
    """A user's output handler: what it is called with, in order."""

    def __init__(self):
        self.calls = []

    def out(self, total, delta):
        self.calls.append(["out", type(total).__name__, total.emissions > 0, delta.emissions <= total.emissions])

    def live_out(self, total, delta):
        self.calls.append(["live_out", type(total).__name__, total.emissions > 0, delta.emissions <= total.emissions])

    def task_out(self, data, experiment_name):
        self.calls.append(["task_out", [type(d).__name__ for d in data], [d.task_name for d in data], experiment_name])

    def exit(self):
        self.calls.append(["exit"])


def output_handlers():
    # Behaviour 4: BaseOutput subclasses in output_handlers, and LoggerOutput as logging_logger.
    handler = Recorder()
    path = os.path.join(DIR, "emissions.log")
    json_logger = logging.getLogger("user-json")
    json_logger.setLevel(logging.INFO)
    file_handler = logging.FileHandler(path)
    json_logger.addHandler(file_handler)
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=DIR, output_handlers=[handler],
                                      output_methods=[OutputMethod.CSV, OutputMethod.LOGGER],
                                      logging_logger=LoggerOutput(json_logger, logging.INFO),
                                      measure_power_secs=999, api_call_interval=2)  # fmt: skip
    tracker.start()
    work(0.2)
    tracker.flush()
    work(0.1)
    tracker.start_task("step")
    work(0.1)
    tracker.stop_task("step")
    work(0.1)
    tracker.stop()
    file_handler.close()
    with open(path) as f:
        lines = [json.loads(line) for line in f.read().splitlines()]
    return {
        "calls": handler.calls,
        "json_lines": len(lines),
        "json_project": sorted({line["project_name"] for line in lines}),
        "json_emissions>0": all(line["emissions"] > 0 for line in lines),
        "csv_rows": len(rows()),
    }


def restart():
    # Behaviour 5: start() after stop() measures again, in the same run.
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=DIR)
    tracker.start()
    work(0.2)
    first = tracker.stop()
    time.sleep(0.2)
    tracker.start()
    work(0.2)
    second = tracker.stop()
    r = rows()
    return {
        "first": kind(first),
        "second": kind(second),
        "second>first": second > first,
        "final_is_second": tracker.final_emissions == second,
        "csv_rows": len(r),
        "same_run_id": len({row["run_id"] for row in r}) == 1 and r[0]["run_id"] == str(tracker.run_id),
        "csv_grows": float(r[1]["energy_consumed"]) > float(r[0]["energy_consumed"]),
    }


def attributes():
    # Behaviour 6: the deprecated token name warns; public attributes; run_id a uuid.UUID;
    # tracker._tasks (read by CodeCarbon's task_inference.py example).
    logged = Logged()
    deprecated = OfflineEmissionsTracker(
        country_iso_code="FRA", co2_signal_api_token="tok", save_to_file=False, log_level="warning"
    )
    forced = OfflineEmissionsTracker(country_iso_code="FRA", force_carbon_intensity_g_co2e_kwh=100, output_dir=DIR)
    plain = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=DIR)
    plain.start()
    plain.start_task("load")
    work(0.1)
    plain.stop_task("load")
    plain.start_task("infer")
    work(0.1)
    plain.stop_task()
    plain.stop()
    tasks = plain._tasks
    return {
        "deprecation_logged": logged.mention("co2_signal_api_token", "deprecated"),
        "forced": forced.force_carbon_intensity_g_co2e_kwh,
        "not_forced": plain.force_carbon_intensity_g_co2e_kwh,
        "run_id": type(plain.run_id).__name__,
        "tasks": sorted(tasks),
        "task_fields": sorted(
            {(k, t.task_name, t.is_active, t.emissions_data.cpu_energy > 0) for k, t in tasks.items()}
        ),
        "service_shutdown": callable(getattr(deprecated, "service_shutdown", None)),
    }


def collected_unstopped():
    # Behaviour 7: a started tracker garbage-collected without stop() writes nothing (no run
    # row; with a task open, no task row). What the user sees besides: the files in the output
    # folder, the lines logged about it at warning level, and the warnings (every one recorded:
    # Python's default filters hide ResourceWarning; `python -X dev`, `-W default` and pytest
    # show it). tests/test_codecarbon_usages.py also looks at the folder after the process exits.
    logged = Logged()
    results = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for case in ("plain", "task open"):
            tracker = OfflineEmissionsTracker(project_name=case, log_level="warning", **PLACE)
            tracker.start()
            if case == "task open":
                tracker.start_task("step")
            work(0.2)
            del tracker
            gc.collect()
            time.sleep(0.3)
            results[case] = {"csv_rows": len(rows()), "task_rows": len(task_rows())}
    results["files"] = sorted(os.listdir(DIR))
    results["logged_not_stopped"] = sum("without being stopped" in line for line in logged.lines)
    results["warnings"] = sorted(f"{w.category.__name__}: {str(w.message).split(':')[0]}" for w in caught)
    return results


def gateway_metrics(job):
    """The codecarbon_* samples the Pushgateway holds for `job`: {metric name: labels}."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"http://{os.environ['CT_PUSHGATEWAY']}/metrics", timeout=5) as r:
        text = r.read().decode()
    found = {}
    for line in text.splitlines():
        m = re.match(r"(codecarbon_\w+)\{(.*)\} ", line)
        if m and f'job="{job}"' in m.group(2):
            found[m.group(1)] = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    return found


def poll(probe, seconds=15):
    end = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.1)


def prometheus():
    # Behaviour 4: save_to_prometheus / OutputMethod.PROMETHEUS push to the Pushgateway at
    # prometheus_url (CodeCarbon's form, without a scheme); stop deletes the job's metrics.
    results = {}
    for project, choice in (("pg1", dict(save_to_prometheus=True, save_to_file=False)),
                            ("pg2", dict(output_methods=[OutputMethod.PROMETHEUS]))):  # fmt: skip
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", project_name=project, measure_power_secs=999,
                                          prometheus_url=os.environ["CT_PUSHGATEWAY"], output_dir=DIR, **choice)  # fmt: skip
        tracker.start()
        work(0.2)
        tracker.flush()
        pushed = poll(lambda p=project: gateway_metrics(f"{p}_base"))
        kg = tracker.stop()
        left = poll(lambda p=project: not gateway_metrics(f"{p}_base"))
        results[project] = {
            "metrics": sorted(pushed),
            "project_label": sorted({labels.get("project_name") for labels in pushed.values()}),
            "deleted_at_stop": left,
            "final_emissions": kind(kg),
        }
    results["csv_rows"] = len(rows())
    return results


def regional_intensities():
    # The data: every region of the embedded tables (US states, Canadian provinces, Nordic
    # zones, Chinese provinces under several spellings) and a few countries, as the gCO2e/kWh a
    # user reads from a run (emissions / energy).
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "data")

    def keys(name, inner=None):
        with open(os.path.join(data, name)) as f:
            table = json.load(f)
        return [k for k in (table[inner] if inner else table) if not k.startswith("_") and k != "usa"]

    places = [("USA", r) for r in keys("usa_emissions.json")] + [("CAN", r) for r in keys("canada_energy_mix.json")]
    places += [
        ("SWE" if z.startswith("SE") else "NOR" if z.startswith("NO") else "FIN", z)
        for z in keys("nordic_emissions.json", "data")
    ]
    with open(os.path.join(data, "china_provincial_emissions.json")) as f:
        china = json.load(f)["data"]
    for province in china.values():
        places += [("CHN", name) for name in province["names"]]
        places.append(("CHN", province["description"] + " Province"))
    places += [("CHN", "Tibet"), ("CHN", "Xizang Autonomous Region"), ("SWE", "stockholm"), ("USA", "atlantis")]
    places += [(country, None) for country in ("USA", "CAN", "CHN", "FRA", "DEU", "IND", "CAF")]
    found = {}
    for country, region in places:
        tracker = OfflineEmissionsTracker(country_iso_code=country, region=region, save_to_file=False,
                                          measure_power_secs=999, log_level="critical")  # fmt: skip
        tracker.start()
        work(0.01)
        tracker.stop()
        found[f"{country}/{region}"] = (
            tracker.final_emissions_data.emissions / tracker.final_emissions_data.energy_consumed * 1000
        )
    return found


def boamps():
    """OutputMethod.BOAMPS with metadata= (a dict, a JSON file, none), and "csv,boamps"."""
    metadata = {"boamps": {"task": {"taskStage": "training", "taskFamily": "classification",
                                    "algorithms": [{"algorithmType": "ml", "algorithmName": "logistic regression"}],
                                    "dataset": [{"dataUsage": "input", "dataType": "tabular"}]},
                           "quality": "high", "header": {"publisher": {"confidentialityLevel": "public"}}}}  # fmt: skip
    found = {}
    for how in ("dict", "file", "none", "string"):
        out = os.path.join(DIR, how)
        os.mkdir(out)
        kwargs = dict(country_iso_code="FRA", output_dir=out, output_methods=[OutputMethod.BOAMPS])
        if how == "dict":
            kwargs["metadata"] = metadata
        elif how == "file":
            path = os.path.join(DIR, "metadata.json")
            with open(path, "w") as f:
                json.dump(metadata, f)
            kwargs["metadata"] = path
        elif how == "string":
            kwargs.update(output_methods="csv,boamps", metadata=metadata)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with OfflineEmissionsTracker(**kwargs) as tracker:
                work(0.2)
        files = sorted(os.listdir(out))
        report = {}
        for name in files:
            if name.startswith("boamps_report_"):
                with open(os.path.join(out, name)) as f:
                    report = json.load(f)
        found[how] = {
            "files": [name.replace(str(tracker.run_id), "<run_id>") for name in files],
            "sections": sorted(report),
            "task": report.get("task"),
            "quality": report.get("quality"),
            "measure": sorted(k for k in report.get("measures", [{}])[0] if not k.startswith("averageUtilization")),
            "kwh_matches": abs(
                report.get("measures", [{}])[0].get("powerConsumption", -1)
                - tracker.final_emissions_data.energy_consumed
            )
            < 1e-12,
            "components": [c["componentType"] for c in report.get("infrastructure", {}).get("components", [])],
            "report_id_is_run_id": report.get("header", {}).get("reportId") == str(tracker.run_id),
            "no_task_warning": any("task" in str(w.message) and w.category is UserWarning for w in caught),
        }
    return found


def output_names():
    """The output classes codecarbon.output exports."""
    module = __import__("codecarbon.output" if IMPL == "codecarbon" else "carbon_tracker.output", fromlist=["x"])
    names = ["BaseOutput", "BoAmpsOutput", "CodeCarbonAPIOutput", "EmissionsData", "FileOutput", "GoogleCloudLoggerOutput",
             "HTTPOutput", "LogfireOutput", "LoggerOutput", "OutputMethod", "PrometheusOutput", "TaskEmissionsData"]  # fmt: skip
    handler = module.FileOutput("handler.csv", DIR)
    with OfflineEmissionsTracker(output_handlers=[handler], **PLACE):
        work(0.1)
    return {
        "missing": [n for n in names if not hasattr(module, n)],
        "file_output_rows": len(rows("handler.csv")),
        "same_columns": list(rows("handler.csv")[0]) == list(rows()[0]),
    }


def single_run():
    """allow_multiple_runs=False: CodeCarbon's lock file; a second tracker at the same time."""
    logged = Logged()
    lock = os.path.join(DIR, ".codecarbon.lock")
    first = OfflineEmissionsTracker(allow_multiple_runs=False, project_name="first", **PLACE)
    second = OfflineEmissionsTracker(allow_multiple_runs=False, project_name="second", **PLACE)
    locked = os.path.exists(lock)
    first.start()
    second.start()
    work(0.1)
    second_flush, second_stop = second.flush(), second.stop()
    first_stop = first.stop()
    after_stop = os.path.exists(lock)
    third = OfflineEmissionsTracker(allow_multiple_runs=False, project_name="third", **PLACE)
    third.start()
    third_stop = third.stop()
    return {
        "lock_while_first": locked,
        "second_flush": second_flush,
        "second_stop": second_stop,
        "first": kind(first_stop),
        "lock_after_stop": after_stop,
        "third": kind(third_stop),
        "projects": [r["project_name"] for r in rows()],
        "refused": logged.mention("Another instance of codecarbon"),
        "started_warning": logged.mention("Another instance of codecarbon is already running"),
    }


def task_overlap():
    """A second start_task while one runs, then stop_task() without a name."""
    logged = Logged()
    tracker = OfflineEmissionsTracker(**PLACE)
    tracker.start()
    tracker.start_task("first")
    work(0.1)
    tracker.start_task("second")
    work(0.1)
    stopped = tracker.stop_task()
    again = tracker.stop_task()
    tracker.stop()
    return {
        "warned": logged.mention("A task is already under measure"),
        "tasks": sorted(tracker._tasks),
        "stopped_covers_both_works": stopped.duration > 0.15,
        "second_stop_task": again,
        "task_rows": [r["task_name"] for r in task_rows()],
    }


def task_run_duration():
    """The run's duration after a task: 0.6 s of run, a 0.2 s task started at 0.4 s."""
    tracker = OfflineEmissionsTracker(**PLACE)
    tracker.start()
    work(0.4)
    tracker.start_task("late")
    work(0.2)
    tracker.stop_task()
    tracker.stop()
    duration_s, csv_s = tracker.final_emissions_data.duration, float(rows()[0]["duration"])
    return {
        "whole_run": duration_s >= 0.55,
        "last_task_only": duration_s < 0.35,
        "csv_same": abs(csv_s - duration_s) < 1e-3,
    }


def slurm_rank():
    """A machine-mode tracker on Slurm local rank 1 (the other rank of the node is not running)."""
    logged = Logged()
    logged.setLevel(logging.INFO)
    with OfflineEmissionsTracker(tracking_mode="machine", log_level="info", **PLACE) as tracker:
        work(0.1)
    return {
        "warned_multiplied": any(
            "multiplied" in line and "SLURM local rank 1" in line
            for line, level in logged.levels
            if level >= logging.WARNING
        ),
        "said_multiplied": any("multiplied" in line and "SLURM local rank 1" in line for line, _ in logged.levels),
        "final_emissions": kind(tracker.final_emissions),
    }


USAGES = {
    f.__name__: f
    for f in (
        context_manager,
        decorator,
        start_stop,
        tasks_loop,
        tasks_inference,
        threads,
        forked_pool,
        logging_to_file,
        api_unreachable,
        second_stop,
        csv_unwritable,
        offline_missing_dir,
        output_file_path,
        bad_values,
        offline_with_token,
        output_handlers,
        restart,
        attributes,
        collected_unstopped,
        prometheus,
        regional_intensities,
        boamps,
        output_names,
        single_run,
        task_overlap,
        task_run_duration,
        slurm_rank,
    )
}

if __name__ == "__main__":
    result = USAGES[USAGE]()
    sys.stdout.flush()
    print("RESULT " + json.dumps(result, sort_keys=True))
