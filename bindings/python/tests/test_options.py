"""Option strings: the escaping vector shared with the C++ and Go bindings, checked against the
library's parser end to end, and number formatting."""

import json
import pathlib

import pytest

import carbon_tracker as ct

VECTOR = json.loads((pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors" / "option_escaping.json").read_text())
CASES = VECTOR["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_escaping_matches_the_shared_vector(case):
    assert ct.escape_option_value(case["value"]) == case["escaped"]
    assert ct.options_string(project_name=case["value"]) == "project_name=" + case["escaped"]


def test_the_library_reads_every_value_back():
    # The value is followed by another option: a bad escape would swallow it (country unset).
    for case in CASES:
        t = ct.Tracker(project_name=case["value"], country_iso_code="FRA", offline=True, save_to_file=False)
        try:
            d = t.describe()
            assert d["project_name"] == case["parsed"], case["name"]
            t.start()
            assert t.describe()["intensity"]["g_per_kwh"] == 56.039, case["name"]
            t.stop()
        finally:
            t.close()


def test_numbers_round_trip_and_types():
    assert ct.options_string(project_name="a;b", save_to_file=False, pue=1.5, skip=None) == (
        "project_name=a\\;b;save_to_file=false;pue=1.5"
    )
    assert ct.options_string(output_methods=["csv", "api"]) == "output_methods=csv,api"
    # The types TrackerOptions declares: paths, any sequence.
    assert ct.options_string(output_dir=pathlib.PurePosixPath("/a/b"), gpu_ids=range(2)) == "output_dir=/a/b;gpu_ids=0,1"
    assert ct.options_string(pue=4e-7, measure_power_secs=0.1 + 0.2) == "pue=4e-07;measure_power_secs=0.30000000000000004"
    t = ct.Tracker(offline=True, save_to_file=False, measure_power_secs=0.1 + 0.2)
    assert t.describe()["measure_power_secs"] == 0.1 + 0.2
    t.close()
