"""A tracked run with the installed wheel, from outside the checkout: python track.py OUT_DIR."""

import csv
import importlib.metadata
import os
import sys
import time

import carbon_tracker
from carbon_tracker import Emissions, Tracker

out_dir = sys.argv[1]
assert "CARBON_TRACKER_LIB" not in os.environ
# The wheel's version (pyproject.toml) is the library's (Cargo.toml).
assert importlib.metadata.version("carbon-tracker") == carbon_tracker.library_version()
with Tracker(project_name="pip;user", country_iso_code="FRA", offline=True, output_dir=out_dir) as tracker:
    total = sum(i * i for i in range(300_000))
    time.sleep(0.1)
    first: Emissions = tracker.flush()
final = tracker.final_emissions
assert final is not None and final.duration_s >= first.duration_s > 0
with open(os.path.join(out_dir, "emissions.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
assert [r["project_name"] for r in rows] == ["pip;user", "pip;user"], rows
print(
    f"python consumer: carbon-tracker {carbon_tracker.library_version()} from {os.path.dirname(carbon_tracker.__file__)}\n"
    f"  {final.duration_s:.2f} s, {final.energy_consumed_kwh:.3g} kWh, {final.emissions_kg:.3g} kg CO2e "
    f"at {final.carbon_intensity_g_per_kwh} g/kWh; {len(rows)} rows in {out_dir}/emissions.csv"
)
