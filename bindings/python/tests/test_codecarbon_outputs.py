"""Behaviour 4 of issue 20: the outputs CodeCarbon's Python layer chooses by name are the
library's.

- Prometheus: the same user code (tests/usages.py `prometheus`: `save_to_prometheus=True` and
  `OutputMethod.PROMETHEUS`, `prometheus_url` without a scheme as CodeCarbon takes it) runs
  under carbon-tracker and, when its venv exists, under CodeCarbon 3.3.2, each against a real
  Pushgateway (Debian's prometheus-pushgateway) started here on loopback. Both push every metric
  CodeCarbon pushes, with the project label, and delete the job's metrics at stop.
- Logfire: CodeCarbon's output needs the `logfire` package and sends OpenTelemetry metrics with
  it; the library sends the same OTLP/HTTP metrics itself (no package), to Logfire's endpoint or
  `otlp_endpoint`, with `LOGFIRE_TOKEN`. Checked here against a loopback receiver (the encoding
  itself is checked with the official decoder in tests/cluster.rs).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import carbon_tracker as ct
import pytest
from test_codecarbon_usages import CODECARBON_PYTHON, ROOT, codecarbon_env, run_usage

REQUIRED = os.environ.get("CT_REQUIRE_CLUSTER_TOOLS") == "1"


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    """One Pushgateway for the module's runs, one after the other (each deletes its metrics at stop)."""
    tmp_path = tmp_path_factory.mktemp("pushgateway")
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        if REQUIRED:
            pytest.fail("prometheus-pushgateway is not installed (scripts/setup.sh installs it)")
        pytest.skip("prometheus-pushgateway is not installed")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open(tmp_path / "pushgateway.log", "w")
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a gateway that ignores SIGTERM
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def prometheus_usage(python, impl, tmp_path, env, gateway):
    result = run_usage(python, impl, "prometheus", tmp_path, dict(env, CT_PUSHGATEWAY=gateway))
    for project in ("pg1", "pg2"):
        # prometheus_client adds a `<counter>_created` sample (the counter's creation time) of
        # its own to every counter; not one of CodeCarbon's metrics.
        metrics = result[project]["metrics"]
        result[project]["metrics"] = [m for m in metrics if not m.endswith("_created")]
    return result


@pytest.fixture(scope="module")
def ours_prometheus(tmp_path_factory, pushgateway):
    """carbon-tracker's run of the usage, once for both tests below."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    return prometheus_usage(sys.executable, "carbon_tracker", tmp_path_factory.mktemp("ours"), env, pushgateway)


def test_prometheus_output_pushes_and_deletes(ours_prometheus):
    ours = ours_prometheus
    codecarbons_gauges = {"codecarbon_duration", "codecarbon_emissions", "codecarbon_emissions_rate", "codecarbon_cpu_power",
                          "codecarbon_gpu_power", "codecarbon_ram_power", "codecarbon_cpu_energy", "codecarbon_gpu_energy",
                          "codecarbon_ram_energy", "codecarbon_energy_consumed", "codecarbon_energy_total"}  # fmt: skip
    for project in ("pg1", "pg2"):
        r = ours[project]
        assert codecarbons_gauges <= set(r["metrics"]), r["metrics"]
        assert r["project_label"] == [project] and r["deleted_at_stop"] and r["final_emissions"] == "float"
    assert ours["csv_rows"] == 0  # output_methods=[PROMETHEUS] and save_to_file=False: no CSV


@pytest.mark.skipif(not CODECARBON_PYTHON.exists(), reason="no CodeCarbon 3.3.2 venv (scripts/setup.sh makes it)")
def test_prometheus_output_matches_codecarbon(tmp_path, pushgateway, ours_prometheus):
    ours = ours_prometheus
    theirs = prometheus_usage(CODECARBON_PYTHON, "codecarbon", tmp_path, codecarbon_env(), pushgateway)
    for project in ("pg1", "pg2"):
        # Every metric CodeCarbon pushes; ours adds cumulative counters (docs/outputs.md).
        assert set(theirs[project]["metrics"]) <= set(ours[project]["metrics"]), (theirs[project], ours[project])
        for key in ("project_label", "deleted_at_stop", "final_emissions"):
            assert ours[project][key] == theirs[project][key], key
    assert ours["csv_rows"] == theirs["csv_rows"]


class _Receiver(BaseHTTPRequestHandler):
    got = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.got.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def metric_names(request):
    return {m["name"] for rm in request["resourceMetrics"] for sm in rm["scopeMetrics"] for m in sm["metrics"]}


@pytest.mark.parametrize(
    "choice", [dict(save_to_logfire=True, save_to_file=False), dict(output_methods=[ct.OutputMethod.LOGFIRE])]
)
def test_logfire_output_sends_otlp_metrics_with_the_token(choice, tmp_path, monkeypatch):
    _Receiver.got = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LOGFIRE_TOKEN", "pylf_test_token")
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with pytest.warns(DeprecationWarning) if "save_to_logfire" in choice else _nothing():
            tracker = ct.OfflineEmissionsTracker(country_iso_code="FRA", project_name="lf", output_dir=str(tmp_path),
                                                 otlp_endpoint=url, **choice)  # fmt: skip
        tracker.start()
        time.sleep(0.1)
        tracker.flush()
        kg = tracker.stop()
        assert isinstance(kg, float)
        assert len(_Receiver.got) == 2, _Receiver.got  # flush and stop
        for path, token, request in _Receiver.got:
            assert path == "/v1/metrics" and token == "pylf_test_token"
            assert {"codecarbon_emissions", "codecarbon_energy_consumed", "codecarbon_duration"} <= metric_names(
                request
            )
        assert not (tmp_path / "emissions.csv").exists()
    finally:
        server.shutdown()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
