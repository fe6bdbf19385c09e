"""Tasks on the strict Tracker, log routing to Python's logging, and the CodeCarbon-named layer's
own rules (arguments, levels, EmissionsData, errors logged instead of raised)."""

import csv
import glob
import logging
import platform
import shutil
import threading
import time

import carbon_tracker as ct
import pytest


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collect():
    handlers, levels = {}, {}
    for name in ("carbon_tracker", "codecarbon"):
        h = Collect()
        logger = logging.getLogger(name)
        logger.addHandler(h)
        handlers[name], levels[name] = h, logger.level
        logger.setLevel(logging.DEBUG)  # the CodeCarbon-named trackers set their own
    yield handlers
    for name, h in handlers.items():
        logging.getLogger(name).removeHandler(h)
        logging.getLogger(name).setLevel(levels[name])


def native(**kw):
    kw.setdefault("offline", True)
    kw.setdefault("country_iso_code", "FRA")
    kw.setdefault("save_to_file", False)
    kw.setdefault("force_ram_power", 10)
    return ct.Tracker(**kw)


def test_task_numbers_are_windows_of_the_run():
    t = native(measure_power_secs=0.05)
    t.start_task("outer")  # starts the tracker
    time.sleep(0.05)
    t.start_task("inner")  # nested
    time.sleep(0.05)
    inner = t.stop_task("inner")
    outer = t.stop_task("outer")
    total = t.stop()
    assert isinstance(inner, ct.Emissions)
    assert 0 < inner.ram_energy_kwh < outer.ram_energy_kwh <= total.ram_energy_kwh
    # RAM at a constant 10 W: each window's energy is its duration times 10 W
    for e in (inner, outer):
        assert abs(e.ram_energy_kwh * 3.6e6 / 10 - e.duration_s) < 1e-6


def test_task_errors_are_typed():
    t = native()
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.stop_task("never started")
    assert e.value.status is ct.Status.CT_ERR_INVALID_STATE
    t.start_task("a")
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.start_task("a")
    assert e.value.status is ct.Status.CT_ERR_INVALID_STATE
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.start_task("")
    assert e.value.status is ct.Status.CT_ERR_INVALID_OPTION
    t.stop()


def test_task_context_manager_keeps_the_users_exception():
    t = native()
    with t.task("fit") as scope:
        time.sleep(0.01)
    assert scope.name == "fit" and scope.emissions is not None and scope.emissions.duration_s > 0
    with pytest.raises(ZeroDivisionError):
        with t.task("boom") as failing:
            _ = 1 / 0
    assert failing.emissions is not None  # stopped anyway
    t.stop()


def test_tasks_from_8_threads_on_one_tracker():
    t = native(measure_power_secs=0.02)
    t.start()
    errors = []

    def worker(i):
        try:
            for j in range(20):
                with t.task(f"thread {i} step {j}") as scope:
                    pass
                if scope.emissions is None or scope.emissions.duration_s < 0:
                    errors.append((i, j))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.stop()
    assert errors == []


def test_task_rows_in_codecarbons_task_file(out_dir):
    t = ct.Tracker(offline=True, country_iso_code="FRA", output_dir=out_dir, experiment_name="exp")
    t.start_task("a")
    t.stop_task("a")
    run_id = t.describe()["run_id"]
    t.stop()
    with open(f"{out_dir}/emissions_exp_{run_id}.csv", newline="") as f:
        assert [r["task_name"] for r in csv.DictReader(f)] == ["a"]


def test_native_lines_go_to_the_carbon_tracker_logger(collect):
    t = native(log_level=logging.INFO)  # an int level
    t.start()
    t.stop()
    messages = [r.getMessage() for r in collect["carbon_tracker"].records]
    assert any("56.039" in m for m in messages), messages
    assert {r.levelno for r in collect["carbon_tracker"].records} <= {10, 20, 30, 40, 50}


def test_lines_from_the_background_thread_reach_logging(collect, tmp_path):
    # An upload that fails on the library's thread (nothing listens on that port) logs there.
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = ct.Tracker(country_iso_code="FRA", save_to_file=False, emissions_endpoint=f"http://127.0.0.1:{port}/e",
                   api_timeout_s=0.3, log_level="debug")  # fmt: skip
    t.start()
    t.flush()
    with pytest.raises(ct.CarbonTrackerError):
        t.stop()
    threads = {r.threadName for r in collect["carbon_tracker"].records}
    assert any("upload" in r.getMessage() for r in collect["carbon_tracker"].records)
    assert threads - {threading.current_thread().name}, threads  # some came from another thread


def test_python_version_fills_the_csv_column(out_dir):
    t = ct.Tracker(offline=True, country_iso_code="FRA", output_dir=out_dir)
    t.start()
    t.stop()
    with open(f"{out_dir}/emissions.csv", newline="") as f:
        assert [r["python_version"] for r in csv.DictReader(f)] == [platform.python_version()]


def test_stop_failure_does_not_hide_the_users_exception(out_dir):
    with pytest.raises(KeyError):
        with ct.Tracker(offline=True, output_dir=f"{out_dir}/vanishing"):
            shutil.rmtree(f"{out_dir}/vanishing")  # created at start; the stop cannot write
            raise KeyError("mine")


# -- the CodeCarbon-named layer -------------------------------------------------------------------


def test_positional_arguments_in_codecarbons_order(out_dir):
    t = ct.OfflineEmissionsTracker("proj", 0, country_iso_code="FRA", output_dir=out_dir)  # measure_power_secs=0
    assert t.describe()["project_name"] == "proj"
    assert t.describe()["measure_power_secs"] == 0.01  # CodeCarbon accepts 0: the shortest period here
    with pytest.raises(TypeError):
        ct.EmissionsTracker(*range(40))


def test_the_codecarbon_layer_keeps_the_whole_gpu_unless_asked(out_dir, monkeypatch):
    monkeypatch.delenv("CODECARBON_GPU_SHARE", raising=False)
    t = ct.OfflineEmissionsTracker("proj", country_iso_code="FRA", output_dir=out_dir, tracking_mode="process")
    assert t.describe()["gpu_share"] == "whole"  # CodeCarbon's process mode: the whole GPU
    t = ct.OfflineEmissionsTracker("proj", country_iso_code="FRA", output_dir=out_dir, gpu_share="split")
    assert t.describe()["gpu_share"] == "split"
    monkeypatch.setenv("CODECARBON_GPU_SHARE", "split")
    t = ct.OfflineEmissionsTracker("proj", country_iso_code="FRA", output_dir=out_dir)
    assert t.describe()["gpu_share"] == "split"
    assert ct.Tracker(offline=True, output_dir=out_dir).describe()["gpu_share"] == "split"  # the library's default


def test_harmless_keys_accepted_others_logged(collect):
    with pytest.warns(DeprecationWarning):  # as CodeCarbon's, for any save_to_*
        t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], save_to_logger=False, log_level="debug",
                                       allow_multiple_runs=True, output_handlers=[], prometheus_url="x:1",
                                       metadata={"boamps": {}})  # fmt: skip
    assert not [r for r in collect["codecarbon"].records if r.levelno >= logging.WARNING]
    assert not [r for r in collect["codecarbon"].records if r.levelno >= logging.WARNING]
    with pytest.raises(ValueError):  # as CodeCarbon's; its offline tracker logs it instead
        ct.EmissionsTracker(output_methods=["nope"])
    ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=["nope"])
    assert any("Invalid output method" in r.getMessage() for r in collect["codecarbon"].records)
    t.stop()


def test_log_levels_as_codecarbon(collect):
    ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level=logging.WARNING)
    assert logging.getLogger("codecarbon").level == logging.WARNING
    ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level="ERROR")
    assert logging.getLogger("codecarbon").level == logging.ERROR
    ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level=25)
    assert any("Unknown int log level: 25" in r.getMessage() for r in collect["codecarbon"].records)


def test_errors_logged_not_raised(collect):
    t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level="debug")
    assert t.flush() is None and t.stop() is None
    t.start()
    t.start()
    assert t.stop_task("unknown") is None
    kg = t.stop()
    assert t.stop() == kg == t.final_emissions and isinstance(kg, float)
    messages = [r.getMessage() for r in collect["codecarbon"].records]
    for expected in ("You first need to start the tracker.", "Tracker already stopped or never started.",
                     "Already started tracking", "stop_task : No active task to stop."):  # fmt: skip
        assert expected in messages


def test_codecarbon_tasks_names_and_data(out_dir):
    t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_dir=out_dir, experiment_name="e")
    t.start_task("same")
    first = t.stop_task()
    t.start_task("same")  # a name used before gets a suffix, as in CodeCarbon
    second = t.stop_task()
    t.start_task()  # no name: a uuid
    unnamed = t.stop_task()
    t.stop()
    assert isinstance(first, ct.EmissionsData) and first.run_id == str(t.run_id)
    assert first.country_name == "France" and first.duration > 0 and unnamed is not None and second is not None
    names = [r["task_name"] for f in glob.glob(f"{out_dir}/emissions_e_*.csv") for r in csv.DictReader(open(f))]
    assert names[0] == "same" and names[1].startswith("same_") and len(names[2]) == 36
    assert len(names) == 3


def test_get_detected_hardware_keys():
    t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[])
    hw = t.get_detected_hardware()
    assert set(hw) == {
        "ram_total_size",
        "cpu_count",
        "cpu_physical_count",
        "cpu_model",
        "gpu_count",
        "gpu_model",
        "gpu_ids",
    }
    assert hw["cpu_count"] >= 1 and hw["ram_total_size"] > 0


def test_codecarbon_lines_go_to_the_codecarbon_logger(collect):
    t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level="info")
    t.start()
    t.stop()
    assert any("56.039" in r.getMessage() for r in collect["codecarbon"].records)


def test_constructor_errors_as_codecarbon(collect, tmp_path):
    # EmissionsTracker raises for a missing folder (CodeCarbon's OSError); the offline one logs
    # and measures nothing, as CodeCarbon's (its constructor swallows errors).
    with pytest.raises(OSError):
        ct.EmissionsTracker(output_dir=str(tmp_path / "missing"))
    t = ct.OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(tmp_path / "missing"), log_level="error")
    t.start()
    assert t.start_task("x") is None and t.stop_task() is None and t.flush() is None and t.stop() is None
    messages = [r.getMessage() for r in collect["codecarbon"].records]
    assert any("doesn't exist" in m for m in messages)
    assert messages.count("Tracker not initialized. Please check the logs.") == 5
    with pytest.raises(ct.CarbonTrackerError):
        t.describe()


def test_a_country_code_of_no_country_is_logged_and_the_world_average_applies(collect, out_dir):
    # As CodeCarbon 3.3.2 does (an error line, then "using world average"), where the native
    # Tracker refuses the code.
    t = ct.OfflineEmissionsTracker(country_iso_code="FRN", output_dir=out_dir, log_level="warning", force_ram_power=10)
    t.start()
    kg = t.stop()
    messages = [(r.levelname, r.getMessage()) for r in collect["codecarbon"].records]
    assert any(
        level == "ERROR" and "no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA" in m
        for level, m in messages
    ), messages
    assert ("WARNING", "We do not have data for FRN, using world average.") in messages
    data = t.final_emissions_data
    assert kg is not None and data is not None and data.energy_consumed > 0
    assert abs(kg / data.energy_consumed - 0.475) < 1e-9  # kg/kWh: the world average


def test_decorators_take_the_tracker_class_from_the_public_module():
    # As CodeCarbon's decorators take theirs from codecarbon.emissions_tracker: a user's tests
    # can mock the tracker out with mock.patch("carbon_tracker.emissions_tracker.EmissionsTracker").
    from unittest import mock

    with mock.patch("carbon_tracker.emissions_tracker.EmissionsTracker") as online, \
         mock.patch("carbon_tracker.emissions_tracker.OfflineEmissionsTracker") as offline:  # fmt: skip

        @ct.track_emissions(project_name="p", output_methods=[ct.OutputMethod.CSV])
        def train():
            return 42

        @ct.track_emissions(offline=True, country_iso_code="FRA")
        def infer():
            return 7

        assert (train(), infer()) == (42, 7)
        ct.TaskEmissionsTracker("t").__enter__()
    assert online.call_count == 2 and online.call_args_list[0].kwargs["output_methods"] == [ct.OutputMethod.CSV]
    offline.assert_called_once_with(country_iso_code="FRA")
    online.return_value.start.assert_called_once()
    online.return_value.stop.assert_called_once()
