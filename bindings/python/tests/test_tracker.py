import csv
import gc
import os
import shutil
import socket
import threading
import time

import carbon_tracker as ct
import pytest
from carbon_tracker._options import OPTION_KEYS


def rows(out_dir):
    with open(f"{out_dir}/emissions.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_lifecycle_numbers_and_csv(out_dir):
    t = ct.Tracker(project_name="py", country_iso_code="FRA", measure_power_secs=0.05, output_dir=out_dir, offline=True)
    t.start()
    time.sleep(0.2)
    first = t.flush()
    assert isinstance(first, ct.Emissions)
    assert first.duration_s > 0.15 and first.measurements >= 2
    peeked = t.peek()  # the last measurement's totals; no row written
    assert peeked.measurements >= first.measurements and peeked.energy_consumed_kwh >= first.energy_consumed_kwh
    assert first.carbon_intensity_g_per_kwh == 56.039
    assert abs(first.emissions_kg / first.energy_consumed_kwh - 0.056039) < 1e-12
    last = t.stop()
    assert last.energy_consumed_kwh >= first.energy_consumed_kwh
    assert t.final_emissions == last
    r = rows(out_dir)
    assert [row["project_name"] for row in r] == ["py", "py"]
    assert float(r[1]["emissions"]) == last.emissions_kg
    t.close()
    t.close()  # idempotent


def test_errors_are_exceptions_with_status():
    with pytest.raises(ct.CarbonTrackerError) as e:
        ct.Tracker(projet_name="typo")
    assert e.value.status_name == "CT_ERR_INVALID_OPTION" and "projet_name" in str(e.value)
    t = ct.Tracker(offline=True, save_to_file=False)
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.flush()
    assert e.value.status_name == "CT_ERR_INVALID_STATE"
    t.start()
    t.stop()
    with pytest.raises(ct.CarbonTrackerError):
        t.start()
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.peek()
    assert e.value.status_name == "CT_ERR_INVALID_STATE"


def test_io_error_still_carries_the_numbers(out_dir):
    t = ct.Tracker(offline=True, output_dir=f"{out_dir}/vanishing")
    t.start()  # creates the directory
    shutil.rmtree(f"{out_dir}/vanishing")
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.stop()
    assert e.value.status_name == "CT_ERR_IO"
    assert e.value.emissions is not None and e.value.emissions.duration_s > 0


def test_mistakes_are_caught_early_in_the_librarys_words(out_dir):
    # The same status and words as in C, C++, Go and the command.
    with pytest.raises(ct.CarbonTrackerError) as e:
        ct.Tracker(country_iso_code="FRN")
    assert e.value.status == ct.Status.CT_ERR_INVALID_OPTION
    assert "no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France)" in str(e.value)
    with pytest.raises(ct.CarbonTrackerError) as e:
        ct.Tracker(projet_name="x")
    assert str(e.value) == "CT_ERR_INVALID_OPTION: options: unknown option `projet_name`; did you mean `project_name`?"
    t = ct.Tracker(offline=True, output_dir=f"{out_dir}/no-parent/out")
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.start()
    assert e.value.status == ct.Status.CT_ERR_IO
    assert str(e.value).startswith(f"CT_ERR_IO: output_dir {out_dir}/no-parent/out: no such directory, nor its parent ")
    os.mkdir(f"{out_dir}/no-parent")
    t.start()  # the tracker was not started: it may be, once the parent exists
    assert os.path.isfile(f"{out_dir}/no-parent/out/emissions.csv")
    t.stop()


def test_every_declared_option_is_a_library_key():
    # TrackerOptions (generated from the key table) against the library actually loaded: a key
    # it does not know would be `unknown option`.
    for key in ct.TrackerOptions.__annotations__:
        try:
            ct.Tracker(**{key: "\x01"}).close()
        except ct.CarbonTrackerError as e:
            assert "unknown option" not in str(e), key
    assert set(ct.TrackerOptions.__annotations__) == set(OPTION_KEYS)


def test_context_manager_and_decorator(out_dir):
    with ct.Tracker(offline=True, output_dir=out_dir, project_name="ctx") as t:
        time.sleep(0.06)
    assert t.final_emissions.duration_s > 0.05
    # The block closed it: a later call is a state error that says so, not a missing argument.
    for call in (t.flush, t.start, t.describe):
        with pytest.raises(ct.CarbonTrackerError) as e:
            call()
        assert e.value.status is ct.Status.CT_ERR_INVALID_STATE, call
        assert "closed" in str(e.value) and "with block" in str(e.value)

    @ct.Tracker(offline=True, output_dir=out_dir, project_name="deco")
    def work(x):
        time.sleep(0.06)
        return x * 2

    assert work(21) == 42
    assert work(1) == 2
    assert [r["project_name"] for r in rows(out_dir)].count("deco") == 2


def test_codecarbon_names(out_dir):
    tracker = ct.OfflineEmissionsTracker(country_iso_code="DEU", output_dir=out_dir, log_level="error")
    tracker.start()
    time.sleep(0.06)
    kg = tracker.stop()
    assert isinstance(kg, float) and kg > 0
    data = tracker.final_emissions_data
    assert data.emissions == kg and data.country_name == "Germany" and data.country_iso_code == "DEU"
    assert abs(data.emissions / data.energy_consumed - 0.38095) < 1e-12

    @ct.track_emissions(offline=True, country_iso_code="FRA", output_dir=out_dir, project_name="cc")
    def f():
        return "ok"

    assert f() == "ok"
    assert any(r["project_name"] == "cc" for r in rows(out_dir))


def test_threads_share_one_tracker():
    t = ct.Tracker(offline=True, save_to_file=False, force_ram_power=10, measure_power_secs=0.01)
    t.start()
    errors = []

    def hammer():
        last = 0.0
        for _ in range(200):
            e = t.flush()
            if e.energy_consumed_kwh < last:
                errors.append("went backwards")
            last = e.energy_consumed_kwh

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = t.stop()
    assert not errors
    measured = s.ram_energy_kwh * 3.6e6 / (10 * s.pue)
    assert abs(measured - s.duration_s) < 1e-6


def test_version():
    assert ct.library_version().count(".") == 2


def test_describe():
    t = ct.Tracker(offline=True, save_to_file=False, country_iso_code="FRA")
    assert t.describe()["state"] == "created"
    t.start()
    d = t.describe()
    assert d["state"] == "running" and d["intensity"]["g_per_kwh"] == 56.039
    assert d["cpu"]["source"]["model"] in ("intel_rapl", "cpu_load", "constant")
    t.stop()


def test_close_waits_for_a_call_in_progress(out_dir):
    # stop() waits up to api_timeout_s for an endpoint that accepts and never answers; close()
    # from another thread meanwhile must wait for it instead of freeing the handle under it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    t = ct.Tracker(
        country_iso_code="FRA", save_to_file=False, emissions_endpoint=f"http://127.0.0.1:{port}/e", api_timeout_s=1
    )
    t.start()
    t.flush()  # queues an upload that never completes
    events = []

    def stop():
        try:
            t.stop()
        except ct.CarbonTrackerError as e:
            events.append(("stop", e.status_name))
        events.append(("stopped", time.monotonic()))

    th = threading.Thread(target=stop)
    th.start()
    time.sleep(0.3)  # stop is now inside the library
    t.close()
    events.append(("closed", time.monotonic()))
    th.join()
    server.close()
    names = [e[0] for e in events]
    assert names == ["stop", "stopped", "closed"], events
    assert events[0][1] == "CT_ERR_NETWORK"
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.flush()
    assert e.value.status is ct.Status.CT_ERR_INVALID_STATE


def test_a_tracker_collected_without_stop_writes_nothing_and_does_not_wait(out_dir):
    # An API that accepts connections and never answers: a stop would wait api_timeout_s (30 s;
    # the collection is given 10 s, for a loaded machine).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        collect_without_stop(out_dir, silent.getsockname()[1])


def collect_without_stop(out_dir, port):
    for kind in (ct.Tracker, ct.EmissionsTracker):
        sub = os.path.join(out_dir, kind.__name__)
        os.mkdir(sub)
        t = kind(
            country_iso_code="FRA",
            output_dir=sub,
            save_to_api=True,
            api_key="k",
            api_timeout_s=30,
            api_endpoint=f"http://127.0.0.1:{port}",
        )
        t.start()
        t.flush()
        started = time.monotonic()
        with pytest.warns(ResourceWarning, match="never stopped"):
            del t
            gc.collect()
        assert time.monotonic() - started < 10.0, "the garbage collector waited for the uploads"
        with open(os.path.join(sub, "emissions.csv")) as f:
            rows = list(csv.reader(f))
        assert len(rows) == 2, f"{kind.__name__}: the flush's row only, no final row: {rows}"


def test_a_tracker_never_started_or_stopped_collects_quietly(out_dir, recwarn):
    t = ct.Tracker(country_iso_code="FRA", output_dir=out_dir)
    del t
    t = ct.Tracker(country_iso_code="FRA", output_dir=out_dir, offline=True)
    t.start()
    t.stop()
    del t
    gc.collect()
    assert not [w for w in recwarn if "never stopped" in str(w.message)]
