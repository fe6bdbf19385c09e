"""Option strings: the escaping vector shared with the C++ and Go bindings, checked against the
library's parser end to end, and number formatting."""

import json
import os
import pathlib

import carbon_tracker as ct
import pytest

VECTOR = json.loads(
    (pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors" / "option_escaping.json").read_text()
)
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
    assert (
        ct.options_string(output_dir=pathlib.PurePosixPath("/a/b"), gpu_ids=range(2)) == "output_dir=/a/b;gpu_ids=0,1"
    )
    assert (
        ct.options_string(pue=4e-7, measure_power_secs=0.1 + 0.2) == "pue=4e-07;measure_power_secs=0.30000000000000004"
    )
    t = ct.Tracker(offline=True, save_to_file=False, measure_power_secs=0.1 + 0.2)
    assert t.describe()["measure_power_secs"] == 0.1 + 0.2
    t.close()


REFUSALS = json.loads(
    (pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors" / "option_refusals.json").read_text()
)["cases"]


@pytest.mark.parametrize("case", REFUSALS, ids=[c["name"] for c in REFUSALS])
def test_what_the_string_cannot_carry_is_refused_in_the_librarys_words(case):
    # Before, a NUL cut the string (the options after it were lost) and a key with `=` and `;`
    # set other options.
    with pytest.raises(ct.CarbonTrackerError) as e:
        ct.Tracker(**{case["key"]: case["value"]}, experiment_name="after", offline=True, save_to_file=False)
    assert e.value.status == ct.Status.CT_ERR_INVALID_OPTION
    assert str(e.value) == "CT_ERR_INVALID_OPTION: " + case["message"]


def test_a_value_that_is_not_utf8_is_named_by_the_library(tmp_path):
    # A path from a non-UTF-8 file name (os.fsdecode's surrogate escapes): the library's error,
    # naming the key, not a UnicodeEncodeError.
    with pytest.raises(ct.CarbonTrackerError) as e:
        ct.Tracker(output_dir=tmp_path / os.fsdecode(b"caf\xe9"), offline=True)
    assert e.value.status == ct.Status.CT_ERR_INVALID_OPTION
    assert "options: output_dir: the value is not valid UTF-8 (at byte" in str(e.value)
    assert ct.Tracker(output_dir=os.fsencode(tmp_path), offline=True, save_to_file=False).describe() is not None


def test_the_codecarbon_names_log_and_ignore_what_the_string_cannot_carry(tmp_path, capfd):
    # CodeCarbon takes any str (bad values are logged and ignored): so do its names here, and a
    # keyword that is neither CodeCarbon's nor the library's is Python's TypeError, as there.
    t = ct.OfflineEmissionsTracker(
        project_name="a\0b", experiment_name=os.fsdecode(b"\xff"), country_iso_code="FRA", output_dir=str(tmp_path)
    )
    err = capfd.readouterr().err
    assert "options: project_name: a value cannot contain a NUL byte; ignored" in err
    assert "options: experiment_name: the value is not valid UTF-8; ignored" in err
    t.start()
    assert t.stop() is not None
    assert (tmp_path / "emissions.csv").read_text().count(",codecarbon,") == 1, "the default project name applies"
    for cls in (ct.EmissionsTracker, ct.OfflineEmissionsTracker):
        with pytest.raises(TypeError, match="unexpected keyword argument 'projet_name'"):
            cls(projet_name="x")
        with pytest.raises(TypeError, match="unexpected keyword argument ' project_name '"):
            cls(**{" project_name ": "x"})
