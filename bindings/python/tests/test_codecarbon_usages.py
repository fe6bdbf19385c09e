"""Each CodeCarbon usage (tests/usages.py) run with carbon-tracker, checked against what a user
must see, and compared with CodeCarbon 3.3.2 itself when its venv exists (target/codecarbon-venv,
made by scripts/setup.sh; skipped without it).

Each usage is a process of its own, run once (usage_runs): the runs that this module's selected
tests need start with its first test, CT_USAGE_JOBS (4) at a time, and each test waits for its
own. A run mostly waits (CodeCarbon probes the hardware for about a second, the usages pace
themselves), so they overlap well even on two cores."""

import json
import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CODECARBON_PYTHON = ROOT / "target" / "codecarbon-venv" / "bin" / "python"

FLOAT_DATA = {
    "type": "EmissionsData", "emissions>0": True, "duration>0": True, "cpu_energy>0": True,
    "energy=sum": True, "country_name": "France", "run_id_len": 36,
}  # fmt: skip

# What a user of carbon-tracker gets, usage by usage.
EXPECTED = {
    "context_manager": {"final_emissions": "float", "data": FLOAT_DATA, "csv_rows": 1},
    "decorator": {"result": 42, "csv_rows": 1},
    "start_stop": {"flush_before_start": None, "flush": "float", "stop": "float", "stop>=flush": True,
                   "run_id_len": 36, "project_names": ["usage"], "csv_rows": 2},
    "tasks_loop": {"tasks": [FLOAT_DATA] * 3, "stop": "float", "task_rows": ["step 0", "step 1", "step 2"]},
    "tasks_inference": {"outputs": [1, 2, 3], "stop": "float",
                        "task_rows": ["inference", "inference", "inference", "load model"]},
    "threads": {"results": ["float"] * 4, "csv_rows": 4},
    "forked_pool": {"squares": [x * x for x in range(8)], "final_emissions": "float", "csv_rows": 1},
    "logging_to_file": {"file_has_lines": True, "has_info": True},
    "api_unreachable": {"raised": "ValueError: the user's error", "final_emissions": "float"},
    "second_stop": {"stop_before_start": None, "first": "float", "same": True, "flush_after_stop": None,
                    "csv_rows": 1, "stop_task_unknown": None,
                    "logged": ["WARNING stop_task : No active task to stop.",
                               "WARNING Tracker already stopped or never started.",
                               "WARNING Already started tracking",
                               "WARNING Tracker already stopped or never started.",
                               "ERROR You first need to start the tracker."]},
    "csv_unwritable": {"raised": "KeyError: \"the user's error\""},
    "offline_missing_dir": {"body_ran": True, "stop_again": None, "flush": None},
    # Behaviours of issue 20, each as CodeCarbon 3.3.2 has them.
    "output_file_path": {"absolute_rows": 1, "relative_rows": 1, "default_file": False, "final_emissions": "float"},
    "bad_values": {
        "forced": {"final_emissions": "float", "g_per_kwh": 56.039, "attribute": None, "logged": True},
        "config_file": {"final_emissions": "float", "cpu_energy>0": True, "logged": True},
        "unknown_country": {code: {"final_emissions": "float", "g_per_kwh": 475.0, "logged": True} for code in ("ZZZ", "France")},
    },
    "offline_with_token": {source: {"final_emissions": "float", "g_per_kwh": 56.039}
                           for source in ("argument", "environment", "home_config")},
    "output_handlers": {
        "calls": [["live_out", "EmissionsData", True, True], ["out", "EmissionsData", True, True],
                  ["live_out", "EmissionsData", True, True], ["out", "EmissionsData", True, True],
                  ["task_out", ["TaskEmissionsData"], ["step"], "base"], ["exit"]],
        "json_lines": 4, "json_project": ["codecarbon"], "json_emissions>0": True, "csv_rows": 2,
    },
    "restart": {"first": "float", "second": "float", "second>first": True, "final_is_second": True, "csv_rows": 2,
                "same_run_id": True, "csv_grows": True},
    "attributes": {"deprecation_logged": True, "forced": 100.0, "not_forced": None, "run_id": "UUID",
                   "tasks": ["infer", "load"], "task_fields": [["infer", "infer", False, True], ["load", "load", False, True]],
                   "service_shutdown": True},
    "collected_unstopped": {"plain": {"csv_rows": 0, "task_rows": 0}, "task open": {"csv_rows": 0, "task_rows": 0},
                            "files": ["emissions.csv"], "logged_not_stopped": 2,
                            "warnings": ["ResourceWarning: OfflineEmissionsTracker was never stopped"] * 2},
    # Behaviours of issue 30, each as CodeCarbon 3.3.2 has them.
    "boamps": {how: {"components": ["cpu", "ram"], "kwh_matches": True, "report_id_is_run_id": True,
                     "measure": ["measurementDateTime", "measurementDuration", "measurementMethod", "powerConsumption", "version"],
                     "files": ["boamps_report_<run_id>.json"] + (["emissions.csv"] if how == "string" else []),
                     **({"sections": ["environment", "header", "infrastructure", "measures", "software", "system"],
                         "task": None, "quality": None, "no_task_warning": True} if how == "none" else
                        {"sections": ["environment", "header", "infrastructure", "measures", "quality", "software", "system", "task"],
                         "task": {"algorithms": [{"algorithmName": "logistic regression", "algorithmType": "ml"}],
                                  "dataset": [{"dataType": "tabular", "dataUsage": "input"}],
                                  "taskFamily": "classification", "taskStage": "training"},
                         "quality": "high", "no_task_warning": False})}
               for how in ("dict", "file", "none", "string")},
    "output_names": {"file_output_rows": 1, "missing": [], "same_columns": True},
    "single_run": {"first": "float", "lock_after_stop": False, "lock_while_first": True, "projects": ["first", "third"],
                   "refused": True, "second_flush": None, "second_stop": None, "started_warning": True, "third": "float"},
    "task_overlap": {"second_stop_task": None, "stopped_covers_both_works": True, "task_rows": ["first"], "tasks": ["first"],
                     "warned": True},
    "task_run_duration": {"whole_run": True, "last_task_only": False, "csv_same": True},
    "slurm_rank": {"final_emissions": "float", "said_multiplied": True, "warned_multiplied": False},
}  # fmt: skip

# Where CodeCarbon 3.3.2 differs, on purpose: its bug, not copied.
CODECARBON_BUGS = {
    # 4 trackers in 4 threads each write a row to one emissions.csv; CodeCarbon loses rows
    # (each thread reads the file, compares headers and renames/rewrites it with no lock).
    "threads": {"csv_rows"},
}


# Where we differ from CodeCarbon 3.3.2 on purpose (docs/differences.md): what CodeCarbon shows.
CODECARBON_DIFFERS = {
    # A tracker collected without stop(): neither writes a row, but ours says so (a warning in the
    # log and a ResourceWarning), and its CSV holds the header written at start (the output is
    # checked at start); CodeCarbon says nothing and creates the file at its first row.
    "collected_unstopped": {"files": [], "logged_not_stopped": 0, "warnings": []},
    # CodeCarbon restarts the run's clock at each start_task: its run row's duration is then the
    # time since the last task started, a wrong number (ours says at stop what it would be).
    "task_run_duration": {"whole_run": False, "last_task_only": True},
    # On Slurm local rank 1 in machine mode CodeCarbon warns that the job's total is multiplied;
    # ours shares the node's energy among the ranks (job_count_node_once) and says so at info.
    "slurm_rank": {"warned_multiplied": True},
}


def run_usage(python, impl, usage, tmp_path, env):
    out = tmp_path / impl
    out.mkdir()
    proc = subprocess.run(
        [str(python), str(HERE / "usages.py"), impl, usage, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=str(out),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{impl} {usage}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT ") :])


def ours_env():
    return dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))


def codecarbon_env():
    """CodeCarbon's environment: its venv's Python, and no way out but loopback (its requests
    go through a proxy that does not exist: Electricity Maps, geolocation fail at once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    dead = "http://127.0.0.1:9"
    env.update(
        HTTPS_PROXY=dead,
        HTTP_PROXY=dead,
        https_proxy=dead,
        http_proxy=dead,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


# Runs at a time (CT_USAGE_JOBS): a CodeCarbon run takes about 1.5 s of CPU in 3 s.
JOBS = max(1, int(os.environ.get("CT_USAGE_JOBS", "4")))
IMPLS = {"carbon_tracker": (sys.executable, ours_env), "codecarbon": (CODECARBON_PYTHON, codecarbon_env)}
HAVE_CODECARBON = CODECARBON_PYTHON.exists()
NO_CODECARBON = "no CodeCarbon 3.3.2 venv (scripts/setup.sh makes it)"


def runs_needed(item):
    """The (impl, usage) runs a test of this module reads, from its name and parameters."""
    name = getattr(item, "originalname", item.name)
    params = getattr(getattr(item, "callspec", None), "params", {})
    needed = {
        "test_usage_as_codecarbon_users_see_it": [("carbon_tracker", params.get("usage"))],
        "test_usage_matches_codecarbon": [("codecarbon", params.get("usage"))],
        "test_collected_tracker_writes_nothing_at_exit_either": [(params.get("impl"), "collected_unstopped")],
        "test_regional_intensities_are_codecarbon_3_3_2s": [("carbon_tracker", "regional_intensities")],
        "test_regional_intensities_match_codecarbon": [("carbon_tracker", "regional_intensities"),
                                                       ("codecarbon", "regional_intensities")],
    }.get(name, [])  # fmt: skip
    return [(impl, usage) for impl, usage in needed if impl != "codecarbon" or HAVE_CODECARBON]


class UsageRuns:
    """Each (impl, usage) run once, in the background: get() waits for its result and the
    directory it wrote in (looked at after the process has exited)."""

    def __init__(self, tmp_path_factory):
        self.pool = ThreadPoolExecutor(JOBS)
        self.tmp = tmp_path_factory
        self.runs = {}

    def start(self, impl, usage):
        if (impl, usage) not in self.runs:
            python, env = IMPLS[impl]
            if impl == "codecarbon" and not HAVE_CODECARBON:
                pytest.skip(NO_CODECARBON)
            where = self.tmp.mktemp(f"{impl}-{usage}")
            self.runs[impl, usage] = (self.pool.submit(run_usage, python, impl, usage, where, env()), where / impl)
        return self.runs[impl, usage]

    def get(self, impl, usage):
        future, out = self.start(impl, usage)
        return future.result(), out


@pytest.fixture(scope="module")
def usage_runs(request, tmp_path_factory):
    runs = UsageRuns(tmp_path_factory)
    # In the tests' order, so that the first ones wait the least.
    for item in request.session.items:
        if item.module is request.module:
            for impl, usage in runs_needed(item):
                runs.start(impl, usage)
    yield runs
    runs.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("usage", sorted(EXPECTED))
def test_usage_as_codecarbon_users_see_it(usage, usage_runs):
    ours, _ = usage_runs.get("carbon_tracker", usage)
    assert ours == EXPECTED[usage]


@pytest.mark.skipif(not HAVE_CODECARBON, reason=NO_CODECARBON)
@pytest.mark.parametrize("usage", sorted(EXPECTED))
def test_usage_matches_codecarbon(usage, usage_runs):
    theirs, _ = usage_runs.get("codecarbon", usage)
    skip = CODECARBON_BUGS.get(usage, set())
    expected = {k: v for k, v in {**EXPECTED[usage], **CODECARBON_DIFFERS.get(usage, {})}.items() if k not in skip}
    assert {k: v for k, v in theirs.items() if k not in skip} == expected


@pytest.mark.parametrize("impl", ["carbon_tracker", "codecarbon"])
def test_collected_tracker_writes_nothing_at_exit_either(impl, usage_runs):
    # After the process has exited (atexit handlers, finalizers at shutdown): still no row.
    # (The same run as the usage's tests above.)
    _, out = usage_runs.get(impl, "collected_unstopped")
    left = {p.name: len(p.read_text().splitlines()) for p in out.iterdir()}
    assert left == ({"emissions.csv": 1} if impl == "carbon_tracker" else {})  # ours: the header only


def codecarbon_json(script):
    """What `script`, run by CodeCarbon 3.3.2's Python, prints as JSON on its last line."""
    out = subprocess.run(
        [str(CODECARBON_PYTHON), "-c", script],
        capture_output=True,
        text=True,
        env=codecarbon_env(),
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not HAVE_CODECARBON, reason=NO_CODECARBON)
def test_api_surface_as_codecarbons():
    # The constructors' parameters in CodeCarbon's order (positional use), and codecarbon.output:
    # its records' fields and defaults, the output methods, the handlers' methods.
    import dataclasses
    import inspect

    import carbon_tracker._codecarbon as layer
    import carbon_tracker.output as ours

    script = (
        "import dataclasses, inspect, json\n"
        "import codecarbon.output as o\n"
        "from codecarbon.emissions_tracker import BaseEmissionsTracker, OfflineEmissionsTracker, track_emissions\n"
        "names = lambda f: [p for p in inspect.signature(f).parameters if p not in ('self', 'args', 'kwargs')]\n"
        "fields = lambda c: [(f.name, None if f.default is dataclasses.MISSING else f.default) for f in dataclasses.fields(c)]\n"
        "methods = lambda c: {m: list(inspect.signature(getattr(c, m)).parameters)[1:] for m in ('out', 'live_out', 'task_out', 'exit')}\n"
        "print(json.dumps([names(BaseEmissionsTracker.__init__), names(track_emissions)[1:], names(OfflineEmissionsTracker.__init__),"
        " fields(o.EmissionsData), fields(o.TaskEmissionsData), [m.value for m in o.OutputMethod],"
        " methods(o.BaseOutput), list(inspect.signature(o.LoggerOutput).parameters)]))\n"
    )
    tracker, decorator, offline, data, task, methods, base, logger_output = codecarbon_json(script)
    assert list(layer.TRACKER_PARAMETERS) == tracker
    assert list(layer.DECORATOR_PARAMETERS) == decorator
    assert list(layer.OFFLINE_PARAMETERS) == offline

    def fields(c):
        return [[f.name, None if f.default is dataclasses.MISSING else f.default] for f in dataclasses.fields(c)]

    assert fields(ours.EmissionsData) == data
    assert fields(ours.TaskEmissionsData) == task
    assert [m.value for m in ours.OutputMethod] == methods
    assert {m: list(inspect.signature(getattr(ours.BaseOutput, m)).parameters)[1:] for m in base} == base
    assert list(inspect.signature(ours.LoggerOutput).parameters) == logger_output


def test_regional_intensities_are_codecarbon_3_3_2s(usage_runs):
    # The figures of issue 20 (3.3.0's data gave Texas 476.1, California 205.3, SE1 18.0,
    # Guangdong 582.3, China's national value).
    ours, _ = usage_runs.get("carbon_tracker", "regional_intensities")
    rounded = {k: round(v, 1) for k, v in ours.items()}
    assert rounded["USA/texas"] == 349.8 and rounded["USA/california"] == 179.1 and rounded["SWE/SE1"] == 25.9
    for spelling in ("guangdong", "Guangdong Province"):
        assert rounded[f"CHN/{spelling}"] == 441.9
    # Not published: China's national value (read as emissions / energy of two runs: to 1e-9).
    assert ours["CHN/Tibet"] == pytest.approx(ours["CHN/None"], rel=1e-9)
    assert ours["CAF/None"] == 0.0  # a zero in global_energy_mix.json is used as given


@pytest.mark.skipif(not HAVE_CODECARBON, reason=NO_CODECARBON)
def test_regional_intensities_match_codecarbon(usage_runs):
    # Every US state, Canadian province, Nordic zone and Chinese province (each of its names and
    # with a suffix), and a few countries: the same gCO2e/kWh as CodeCarbon 3.3.2 itself.
    ours, _ = usage_runs.get("carbon_tracker", "regional_intensities")
    theirs, _ = usage_runs.get("codecarbon", "regional_intensities")
    assert sorted(ours) == sorted(theirs) and len(ours) > 140
    differ = {k: (theirs[k], ours[k]) for k in theirs if abs(theirs[k] - ours[k]) > 1e-9 * max(abs(theirs[k]), 1.0)}
    assert not differ, differ
