"""A user's code with mistakes `mypy --strict` must report, one on each line marked `# error`
(scripts/publish-check.sh and bindings/python/tests/test_typing.py check it)."""

from carbon_tracker import EmissionsTracker, OfflineEmissionsTracker, Tracker, track_emissions

Tracker(projet_name="typo")  # error
Tracker(offline="yes")  # error
Tracker(on_csv_write="overwrite")  # error
Tracker(measure_power_secs="fast")  # error
EmissionsTracker(measure_power_sec=1)  # error
OfflineEmissionsTracker(country_iso_cod="FRA")  # error


@track_emissions(projet_name="typo")  # error
def f(x: int) -> int:
    return x


@track_emissions
def g(x: int) -> int:
    return x


@track_emissions(project_name="typed")
def h(x: int) -> int:
    return x


s: str = h(1)  # error
g("one")  # error
