"""carbon-tracker from Python: track a short workload and print its emissions.

bash examples/python/run.sh
"""

import math
import sys

from carbon_tracker import Tracker

out_dir = sys.argv[1] if len(sys.argv) > 1 else "target/examples"

with Tracker(
    project_name="python-example", country_iso_code="FRA", measure_power_secs=1, output_dir=out_dir
) as tracker:
    total = sum(math.sqrt(i) for i in range(3_000_000))
    mid = tracker.flush()
    print(f"after the work: {mid.duration_s:.2f} s, {mid.energy_consumed_kwh:.3g} kWh, {mid.emissions_kg:.3g} kg CO2e")

e = tracker.final_emissions
print(
    f"total: {e.duration_s:.2f} s, {e.energy_consumed_kwh:.3g} kWh (CPU {e.cpu_power_w:.2f} W, RAM {e.ram_power_w:.0f} W), "
    f"{e.emissions_kg:.3g} kg CO2e at {e.carbon_intensity_g_per_kwh} g/kWh; rows in {out_dir}/emissions.csv"
)
