"""Issue 30's behaviours of the CodeCarbon layer, beyond what tests/usages.py compares with
CodeCarbon itself: the BoAmps report against the BoAmps JSON schemas, the output classes of
codecarbon.output at work, the lock file between processes, one task at a time (the native API
still nests), and the Slurm rank note."""

import csv
import json
import logging
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import carbon_tracker as ct
import pytest
from carbon_tracker.output import BoAmpsOutput, CodeCarbonAPIOutput, FileOutput, HTTPOutput, PrometheusOutput

ROOT = pathlib.Path(__file__).resolve().parents[3]
# CodeCarbon's test support files hold the BoAmps schemas (fixtures/boamps_schemas); never copied here.
SUPPORT = pathlib.Path(
    os.environ.get("CT_CODECARBON_TESTS_SUPPORT")
    or ROOT.parent / "shared" / "reference-data" / "codecarbon-3.3.2" / "tests-support"
)
SCHEMAS = SUPPORT / "tests" / "fixtures" / "boamps_schemas"
REQUIRED = os.environ.get("CT_REQUIRE_CODECARBON_SUPPORT") == "1"

TASK = {
    "taskStage": "inference",
    "taskFamily": "chatbot",
    "algorithms": [{"algorithmType": "llm", "foundationModelName": "small"}],
    "dataset": [{"dataUsage": "input", "dataType": "text"}],
}


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def codecarbon_log():
    h = Collect()
    logging.getLogger("codecarbon").addHandler(h)
    yield h
    logging.getLogger("codecarbon").removeHandler(h)


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """tempfile.gettempdir() (where the lock file goes) is this test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "tmp"


@pytest.fixture(autouse=True)
def warnings_shown(monkeypatch):
    """These tests look at the warnings a CodeCarbon user sees: whatever CODECARBON_LOG_LEVEL
    the test run has (test-all sets error), the default level applies here."""
    monkeypatch.delenv("CODECARBON_LOG_LEVEL", raising=False)


def tracker(out_dir, **kw):
    return ct.OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(out_dir), force_ram_power=10, **kw)


def boamps_validator():
    try:
        import jsonschema
        import referencing
    except ImportError:
        if REQUIRED:
            pytest.fail("jsonschema is not installed (scripts/setup.sh installs it in target/test-venv)")
        pytest.skip("jsonschema is not installed")
    if not SCHEMAS.is_dir():
        if REQUIRED:
            pytest.fail(f"no BoAmps schemas in {SCHEMAS} (set CT_CODECARBON_TESTS_SUPPORT)")
        pytest.skip(f"no BoAmps schemas in {SCHEMAS} (set CT_CODECARBON_TESTS_SUPPORT)")
    schemas = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    # The report schema refers to the others by their BoAmps URL: served from the files here.
    base = "https://raw.githubusercontent.com/Boavizta/BoAmps/main/model/"
    registry = referencing.Registry().with_resources(
        (base + name, referencing.Resource.from_contents(s, default_specification=referencing.jsonschema.DRAFT7))
        for name, s in schemas.items()
    )
    return jsonschema.Draft7Validator(schemas["report_schema.json"], registry=registry)


def test_boamps_report_is_valid_against_the_boamps_schemas(tmp_path):
    validator = boamps_validator()
    metadata = {
        "boamps": {"task": TASK, "quality": "high", "header": {"publisher": {"confidentialityLevel": "public"}}}
    }
    with tracker(tmp_path, output_methods=[ct.OutputMethod.BOAMPS], metadata=metadata) as t:
        pass
    report = json.loads((tmp_path / f"boamps_report_{t.run_id}.json").read_text())
    errors = sorted(validator.iter_errors(report), key=str)
    assert not errors, [e.message for e in errors]
    assert report["task"] == TASK and report["quality"] == "high"
    assert report["measures"][0]["powerConsumption"] == t.final_emissions_data.energy_consumed
    assert report["environment"]["country"] == "France"
    # A report without its task lacks what the schema requires, as CodeCarbon's says with a warning.
    with pytest.warns(UserWarning, match="task"):
        BoAmpsOutput(output_dir=str(tmp_path / "bare")).out(t.final_emissions_data, t.final_emissions_data)
    bare = json.loads(next((tmp_path / "bare").iterdir()).read_text())
    assert any("task" in e.message for e in validator.iter_errors(bare))


def test_boamps_metadata_file_and_components(tmp_path, codecarbon_log):
    context = {"task": TASK, "infrastructure": {"infraType": "onPremise",
               "components": [{"componentType": "cpu", "manufacturer": "AMD"}, {"componentType": "npu", "nbComponent": 1}]}}  # fmt: skip
    path = tmp_path / "boamps.json"
    path.write_text(json.dumps(context))
    handler = BoAmpsOutput.from_file(str(path), output_dir=str(tmp_path / "out"))
    with tracker(tmp_path, output_handlers=[handler]):
        pass
    report = json.loads(pathlib.Path(handler.save_file_path).read_text())
    components = {c["componentType"]: c for c in report["infrastructure"]["components"]}
    assert components["cpu"]["manufacturer"] == "AMD" and components["cpu"]["nbComponent"] >= 1
    assert set(components) == {"cpu", "npu", "ram"}
    with pytest.raises(FileNotFoundError):
        BoAmpsOutput.from_file(str(tmp_path / "missing.json"))
    # A metadata file that is not there: logged, and a bare report written (as CodeCarbon).
    with pytest.warns(UserWarning):
        with tracker(tmp_path / "out", output_methods="boamps", metadata=str(tmp_path / "nope.json")) as t:
            pass
    assert any("Metadata file not found" in r.getMessage() for r in codecarbon_log.records)
    assert (tmp_path / "out" / f"boamps_report_{t.run_id}.json").exists()


def test_file_output_appends_and_updates_by_run(tmp_path):
    append = FileOutput("a.csv", str(tmp_path))
    update = FileOutput("u.csv", str(tmp_path), on_csv_write="update")
    with pytest.raises(ValueError):
        FileOutput("x.csv", str(tmp_path), on_csv_write="nope")
    with pytest.raises(OSError):
        FileOutput("x.csv", str(tmp_path / "missing"))
    t = tracker(tmp_path, output_handlers=[append, update], output_methods=[])
    t.start()
    t.flush()
    t.stop()
    rows = {name: list(csv.DictReader(open(tmp_path / name))) for name in ("a.csv", "u.csv")}
    assert len(rows["a.csv"]) == 2 and len(rows["u.csv"]) == 1
    assert float(rows["u.csv"][0]["emissions"]) == t.final_emissions
    assert list(rows["a.csv"][0]) == list(t.final_emissions_data.values)


def test_http_output_posts_each_total(tmp_path):
    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tracker(
            tmp_path, output_handlers=[HTTPOutput(f"http://127.0.0.1:{server.server_port}/")], output_methods=[]
        ) as t:
            pass
    finally:
        server.shutdown()
    assert len(bodies) == 1 and bodies[0]["run_id"] == str(t.run_id) and bodies[0]["emissions"] == t.final_emissions
    assert "user" in bodies[0]


def test_native_output_classes_switch_the_librarys_outputs_on(tmp_path):
    t = tracker(tmp_path, output_methods=[], output_handlers=[PrometheusOutput("127.0.0.1:9"),
                CodeCarbonAPIOutput("http://127.0.0.1:9", "5b0fa12a-3dd7-45bb-9766-cc326314d9f1", "key")])  # fmt: skip
    d = t.native.describe()
    assert d["outputs"]["prometheus"] == "http://127.0.0.1:9"
    assert t._handlers == []  # not called from Python: the library's outputs


def test_second_tracker_refused_while_the_lock_is_held(tmp_path, own_tempdir, codecarbon_log):
    lock = own_tempdir / ".codecarbon.lock"
    first = tracker(tmp_path, allow_multiple_runs=False)
    assert lock.exists()
    second = tracker(tmp_path, allow_multiple_runs=False)
    first.start()
    second.start()
    assert second.stop() is None and second.flush() is None and second.start_task("x") is None
    assert first.stop() > 0 and not lock.exists()
    refused = [r.getMessage() for r in codecarbon_log.records if r.levelno >= logging.WARNING]
    assert any("Another instance of codecarbon is probably running" in m for m in refused)
    assert any("Another instance of codecarbon is already running. Exiting." in m for m in refused)
    # Released: the next one runs; allow_multiple_runs=True (the default) ignores the lock.
    lock.write_text("")
    free = tracker(tmp_path)
    free.start()
    assert free.stop() > 0 and lock.exists()


def test_lock_is_seen_across_processes_and_released_at_exit(tmp_path, own_tempdir):
    child = (
        "import sys, tempfile, carbon_tracker as ct\n"
        f"tempfile.tempdir = {str(own_tempdir)!r}\n"
        f"t = ct.OfflineEmissionsTracker(country_iso_code='FRA', output_dir={str(tmp_path)!r}, allow_multiple_runs=False)\n"
        "t.start()\nprint('locked', flush=True)\nsys.stdin.readline()\n"  # exits without stop(): atexit releases
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    proc = subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert (own_tempdir / ".codecarbon.lock").exists()
        refused = tracker(tmp_path, allow_multiple_runs=False)
        refused.start()
        assert refused.stop() is None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert not (own_tempdir / ".codecarbon.lock").exists()


def test_one_task_at_a_time_as_codecarbon(tmp_path, codecarbon_log):
    t = tracker(tmp_path)
    t.start_task("a")
    t.start_task("b")  # ignored, with CodeCarbon's warning
    a = t.stop_task()
    assert a is not None and t.stop_task() is None
    t.stop()
    assert sorted(t._tasks) == ["a"]
    assert any(r.getMessage() == "A task is already under measure" for r in codecarbon_log.records)
    said = [r.getMessage() for r in codecarbon_log.records if "would report" in r.getMessage()]
    assert len(said) == 1 and "CodeCarbon 3.3.2 would report" in said[0]


@pytest.mark.parametrize("count_node_once", [True, False])
def test_slurm_rank_note(tmp_path, monkeypatch, codecarbon_log, count_node_once):
    for k, v in dict(
        SLURM_JOB_ID="4242", SLURM_PROCID="1", SLURM_LOCALID="1", SLURM_NTASKS="2", SLURM_TASKS_PER_NODE="2"
    ).items():
        monkeypatch.setenv(k, v)
    t = tracker(tmp_path, tracking_mode="machine", log_level="info", job_coordination_dir=str(tmp_path),
                job_count_node_once=count_node_once)  # fmt: skip
    lines = [(r.levelno, r.getMessage()) for r in codecarbon_log.records if "SLURM local rank 1" in r.getMessage()]
    assert len(lines) == 1
    level, text = lines[0]
    if count_node_once:  # ours counts the node once: CodeCarbon's warning would be wrong here
        assert level == logging.INFO and "counted once" in text
    else:  # each rank measures the whole node, as in CodeCarbon: its warning holds
        assert level == logging.WARNING and "multiplied" in text
    t.stop()


@pytest.mark.parametrize("source", ["environment", "config_file"])
def test_lock_asked_for_by_the_environment_or_the_config_file(
    tmp_path, own_tempdir, monkeypatch, codecarbon_log, source
):
    if source == "environment":
        monkeypatch.setenv("CODECARBON_ALLOW_MULTIPLE_RUNS", "false")
    else:
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".codecarbon.config").write_text("[codecarbon]\nallow_multiple_runs = false\n")
    first = tracker(tmp_path)
    second = tracker(tmp_path)
    second.start()
    assert second.stop() is None and (own_tempdir / ".codecarbon.lock").exists()
    first.start()
    assert first.stop() > 0 and not (own_tempdir / ".codecarbon.lock").exists()
    # The library's "not implemented" line about this key is not shown: this layer implements it.
    assert not any("not implemented" in r.getMessage() for r in codecarbon_log.records)
