import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def pytest_configure(config):
    # The tests use the library cargo builds in this checkout unless told otherwise.
    if "CARBON_TRACKER_LIB" not in os.environ:
        subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True, timeout=1800)
        os.environ["CARBON_TRACKER_LIB"] = str(ROOT / "target" / "debug" / "libcarbon_tracker.so")
    # Never let a test reach a real service (the library enforces it).
    os.environ.setdefault("CARBON_TRACKER_LOOPBACK_ONLY", "1")


@pytest.fixture
def out_dir(tmp_path):
    return str(tmp_path)
