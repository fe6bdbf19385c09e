"""The mutation self-test of scripts/codecarbon-suite.py: can its verdict fail?

    python3 scripts/codecarbon-suite.py --self-test [--all] [--list] [-j JOBS]

It plants user-visible bugs, one per copy of the CodeCarbon layer (the checkout's bindings/python,
copied to a temporary directory) and runs the checker on the unmutated copy and on each bug's,
JOBS runs at once, on a subset of CodeCarbon's suite (SUBSET; the whole suite with --all) plus
this checker's public-API probes (PROBES, run against CodeCarbon too). A bug is caught when at
least one test is a "real difference" on the mutant and was not one on the unmutated copy. Exit
status 0 only if every bug is caught; the table says which tests caught each one.

The probes are this project's own tests of CodeCarbon's public API (no CodeCarbon test copied):
each compares nothing but what a user sees, so a probe failing on the layer and passing on
CodeCarbon is a real difference by the checker's rule."""

from __future__ import annotations

import pathlib
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Tuple

# (name, [(file under carbon_tracker/, text, replacement), ...]): each text must occur once.
CT = "_codecarbon.py"
MUTANTS: List[Tuple[str, List[Tuple[str, str, str]]]] = [
    (
        "`with EmissionsTracker()` never stops (no row)",
        [(CT, "    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:\n        self.stop()\n",
          "    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:\n        pass\n")],
    ),
    (
        "get_detected_hardware() loses gpu_ids",
        [(CT, '            "gpu_ids": [g.get("index") for g in gpus] if gpus else None,\n', "")],
    ),
    (
        "track_task_emissions drops the function's return value",
        [(CT, "            with scope:\n                return func(*a, **kw)\n", "            with scope:\n                func(*a, **kw)\n")],
    ),
    (
        "stop() returns grams",
        [(CT, "            self._note_codecarbon_duration(data.duration_s)\n        return self.final_emissions\n",
          "            self._note_codecarbon_duration(data.duration_s)\n"
          "        return None if self.final_emissions is None else self.final_emissions * 1000\n")],
    ),
    (
        "a CSV column missing (water_consumed: records, FileOutput's CSV)",
        [(CT, "            water_consumed=e.water_consumed_l,\n", ""),
         ("_records.py", "    water_consumed: float\n", ""),
         ("_records.py", "        self.water_consumed -= previous_emission.water_consumed\n", "")],
    ),
]  # fmt: skip

# CodeCarbon's test files that use its public API (about 20 s a run), and the probes.
SUBSET = [
    "-k",
    "PublicProbes or test_emissions_tracker_flush or test_offline_emissions_tracker or test_tracking_inference",
]

PROBES = '''
"""carbon-tracker's checker: what a CodeCarbon user sees, through CodeCarbon's public API only."""
import csv
import os
import shutil
import tempfile
import time
import unittest

from codecarbon import OfflineEmissionsTracker
from codecarbon.emissions_tracker import track_task_emissions
from codecarbon.output import FileOutput

# CodeCarbon 3.3's CSV columns (its EmissionsData's fields), in its order.
COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
]
HARDWARE_KEYS = ["cpu_count", "cpu_model", "cpu_physical_count", "gpu_count", "gpu_ids", "gpu_model", "ram_total_size"]


class PublicProbes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def tracker(self, **kwargs):
        kwargs.setdefault("output_dir", self.dir)
        return OfflineEmissionsTracker(country_iso_code="FRA", measure_power_secs=1, force_cpu_power=100,
                                       force_ram_power=10, **kwargs)

    def header_and_rows(self, name="emissions.csv"):
        with open(os.path.join(self.dir, name), newline="") as f:
            rows = list(csv.reader(f))
        return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]

    def test_with_block_writes_one_row(self):
        with self.tracker():
            time.sleep(0.2)
        self.assertEqual(len(self.header_and_rows()[1]), 1)

    def test_stop_returns_kg_as_in_the_csv(self):
        tracker = self.tracker()
        tracker.start()
        time.sleep(0.5)
        kg = tracker.stop()
        self.assertGreater(kg, 0)
        self.assertEqual(kg, tracker.final_emissions_data.emissions)
        self.assertAlmostEqual(kg / float(self.header_and_rows()[1][0]["emissions"]), 1.0, places=4)

    def test_detected_hardware_keys(self):
        self.assertEqual(sorted(self.tracker().get_detected_hardware()), HARDWARE_KEYS)

    def test_task_decorator_returns_the_value(self):
        tracker = self.tracker()

        @track_task_emissions(tracker=tracker, task_name="probe")
        def double(x):
            return 2 * x

        self.assertEqual(double(21), 42)
        tracker.stop()

    def test_csv_columns(self):
        with self.tracker():
            pass
        self.assertEqual(self.header_and_rows()[0], COLUMNS)

    def test_file_output_handler_columns(self):
        handler = FileOutput("handler.csv", self.dir)
        with self.tracker(output_handlers=[handler]):
            pass
        self.assertEqual(sorted(self.header_and_rows("handler.csv")[0]), sorted(COLUMNS))

    def test_final_emissions_data_fields(self):
        with self.tracker() as tracker:
            pass
        self.assertEqual(list(tracker.final_emissions_data.values), COLUMNS)
'''


def plant(package: pathlib.Path, into: pathlib.Path, mutant: Tuple[str, List[Tuple[str, str, str]]]) -> pathlib.Path:
    """A copy of ``package`` (the directory holding carbon_tracker) with the bug planted."""
    name, edits = mutant
    copy = into / "package"
    shutil.copytree(package / "carbon_tracker", copy / "carbon_tracker")
    for file, old, new in edits:
        path = copy / "carbon_tracker" / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(
                f"self-test: the mutant {name!r} no longer applies ({old!r} occurs {text.count(old)} times in {file})"
            )
        path.write_text(text.replace(old, new))
    return copy


def self_test(
    run_suite: Callable[[pathlib.Path, str], Dict[str, Tuple[str, str]]],
    package: pathlib.Path,
    listing: bool,
    jobs: int = 0,
) -> int:
    """The unmutated copy and each mutant, ``jobs`` runs at once (0: all; each run has its own
    directories; CodeCarbon's own results are ready before)."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="codecarbon-mutants-"))
    try:
        base_dir = tmp / "base"
        shutil.copytree(package / "carbon_tracker", base_dir / "carbon_tracker")
        copies = [("unmutated", base_dir)]
        copies += [(f"bug {i + 1}", plant(package, tmp / f"m{i}", mutant)) for i, mutant in enumerate(MUTANTS)]
        with ThreadPoolExecutor(jobs if jobs > 0 else len(copies)) as pool:
            runs = [pool.submit(run_suite, path, label) for label, path in copies]
            base, *mutated = [run.result() for run in runs]
        real_before = {t for t, (c, _) in base.items() if c == "real difference"}
        rows = []
        for mutant, classes in zip(MUTANTS, mutated):
            caught = sorted(t for t, (c, _) in classes.items() if c == "real difference" and t not in real_before)
            moved = sorted(
                f"{t} -> {c}" for t, (c, _) in classes.items() if c != base.get(t, ("",))[0] and t not in caught
            )
            rows.append((mutant[0], caught, moved, classes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmutation self-test ({len(base)} tests; {len(real_before)} real differences without a bug)")
    print(f"{'planted bug':72} caught by (new real differences)")
    for i, (name, caught, moved, classes) in enumerate(rows, 1):
        print(f"{f'{i}. {name}':72} {len(caught)}" + ("" if caught else "  NOT CAUGHT"))
        for t in caught:
            print(f"    {t}  [{classes[t][1][:160]}]")
        for t in moved if listing or not caught else []:
            print(f"    (moved) {t}")
    missed = [name for name, caught, _, _ in rows if not caught]
    if missed:
        print(f"self-test FAILED: {len(missed)} planted bug(s) not seen as a real difference: {missed}")
        return 1
    print(f"self-test passed: each of the {len(rows)} planted bugs is a real difference")
    return 0


if __name__ == "__main__":
    sys.exit("run it through scripts/codecarbon-suite.py --self-test")
