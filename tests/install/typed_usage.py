"""A user's code that uses the typed options and decorators; `mypy --strict` must pass on it
(scripts/publish-check.sh and bindings/python/tests/test_typing.py check it, against the
installed package and the checkout). Runnable: python typed_usage.py OUT_DIR."""

import logging
import pathlib
import sys

from carbon_tracker import (
    EmissionsTracker,
    OfflineEmissionsTracker,
    Tracker,
    TrackerOptions,
    track_emissions,
    track_task_emissions,
)

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
options: TrackerOptions = {"offline": True, "country_iso_code": "FRA", "output_dir": out, "log_level": logging.ERROR}


@Tracker(**options)
def square(x: int) -> int:
    return x * x


@track_emissions
def cube(x: int) -> int:
    return x**3


@track_emissions(project_name="typed", offline=True, country_iso_code="FRA", output_dir=str(out), log_level="error")
def halve(x: float) -> float:
    return x / 2


tracker = OfflineEmissionsTracker(
    country_iso_code="FRA", output_dir=str(out), on_csv_write="update", gpu_ids=[0], log_level="error"
)


@track_task_emissions(tracker=tracker, task_name="triple")
def triple(x: int) -> int:
    return 3 * x


with Tracker(tracking_mode="process", pue=1.2, save_to_file=False, offline=True) as t:
    n: int = square(3) + triple(2)
    h: float = halve(3.0)
    print(t.flush().energy_consumed_kwh >= 0, n, h)
tracker.stop()
_ = (EmissionsTracker, cube)  # online: not run here
