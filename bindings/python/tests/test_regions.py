"""Regions on the strict Tracker: context manager, decorator, threads, errors, the region file."""

import csv
import glob
import os
import threading
import time

import carbon_tracker as ct
import pytest


def native(**kw):
    kw.setdefault("offline", True)
    kw.setdefault("country_iso_code", "FRA")
    kw.setdefault("force_ram_power", 10)
    kw.setdefault("measure_power_secs", 0.02)
    return ct.Tracker(**kw)


def test_context_manager_decorator_and_threads_accumulate(out_dir):
    t = native(output_dir=out_dir, experiment_name="py")
    t.start()

    @t.region("io")
    def write(step):
        return step * 2

    for step in range(20):
        with t.region("step"):
            with t.region("solver") as r:
                assert r.name == "solver"
                time.sleep(0.002)
            assert write(step) == step * 2

    def kernel():
        for _ in range(500):
            with t.region("kernel"):
                pass

    threads = [threading.Thread(target=kernel) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.stop()
    regions = {r.name: r for r in t.regions()}
    assert [r.name for r in t.regions()] == ["step", "solver", "io", "kernel"]
    assert (regions["step"].calls, regions["solver"].calls, regions["io"].calls) == (20, 20, 20)
    assert regions["kernel"].calls == 2000 and regions["kernel"].open_calls == 0
    for r in regions.values():
        assert isinstance(r, ct.RegionTotals)
        # RAM at 10 W: a region's energy is its open wall time at 10 W
        assert abs(r.ram_energy_kwh * 3.6e6 / 10 - r.wall_s) < 1e-6, r
    assert 0 < regions["solver"].energy_consumed_kwh < regions["step"].energy_consumed_kwh
    assert regions["solver"].min_duration_s >= 0.002 - 1e-4
    files = glob.glob(os.path.join(out_dir, "regions_py_*.csv"))
    assert len(files) == 1
    with open(files[0], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["step", "solver", "io", "kernel"]
    assert float(rows[1]["energy_consumed_kwh"]) == regions["solver"].energy_consumed_kwh


def test_errors_raise_and_the_body_exception_wins():
    t = native(save_to_file=False)
    t.start()
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.region_end("never")
    assert e.value.status == ct.Status.CT_ERR_INVALID_STATE
    assert "`never` is not open" in str(e.value)
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.region_begin("")
    assert e.value.status == ct.Status.CT_ERR_INVALID_OPTION

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with t.region("body"):
            t.region_end("body")  # the block's own end will fail: the body's exception still wins
            raise Boom()
    t.stop()
    with pytest.raises(ct.CarbonTrackerError) as e:
        with t.region("late"):
            pass
    assert e.value.status == ct.Status.CT_ERR_INVALID_STATE
    t.close()
    with pytest.raises(ct.CarbonTrackerError) as e:
        t.region_begin("closed")
    assert e.value.status == ct.Status.CT_ERR_INVALID_STATE
