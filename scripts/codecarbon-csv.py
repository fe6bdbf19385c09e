"""Writes an emissions.csv with CodeCarbon itself, for `carbon-tracker report` tests.

Usage: <python with codecarbon installed> scripts/codecarbon-csv.py OUTPUT_DIR
tests/data/codecarbon-3.3.2-emissions.csv was made with codecarbon==3.3.2 from PyPI (pip install
into a throwaway venv) by this script; tests/cli.rs also runs it when such a venv is at
target/codecarbon-venv (or the Python named by CODECARBON_PYTHON).
"""

import sys
import time

from codecarbon import OfflineEmissionsTracker


def burn(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1


out = sys.argv[1]
# Two runs of one project with a row per flush (rows are cumulative), and a one-row run.
for project, phases in [("cc-train", [0.4, 0.4, 0.4]), ("cc-train", [0.3, 0.3]), ("cc-infer", [0.3])]:
    t = OfflineEmissionsTracker(
        country_iso_code="FRA",
        project_name=project,
        output_dir=out,
        measure_power_secs=1,
        log_level="error",
        tracking_mode="process",
        save_to_file=True,
    )
    t.start()
    for i, s in enumerate(phases):
        burn(s)
        if i < len(phases) - 1:
            t.flush()
    t.stop()
