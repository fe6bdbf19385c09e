"""Static typing of the package as a user sees it: `mypy --strict` passes on correct code
(tests/install/typed_usage.py) and reports each mistake of tests/install/typed_usage_mistakes.py
(misspelt options, wrong value types, typed decorators)."""

import os
import re
import subprocess
import sys

import carbon_tracker as ct
import pytest
from carbon_tracker import _codecarbon
from carbon_tracker._codecarbon_options import CodeCarbonOptions
from carbon_tracker._options import OPTION_KEYS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACKAGE = os.path.join(ROOT, "bindings", "python")


CORRECT = os.path.join(ROOT, "tests", "install", "typed_usage.py")
MISTAKES = os.path.join(ROOT, "tests", "install", "typed_usage_mistakes.py")


@pytest.fixture(scope="module")
def mypy_strict() -> "subprocess.CompletedProcess[str]":
    """One `mypy --strict` of both files (each message names its file; mypy takes seconds to start)."""
    pytest.importorskip("mypy")
    env = dict(os.environ, MYPYPATH=PACKAGE)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, CORRECT, MISTAKES],
        env=env,
        capture_output=True,
        text=True,
        cwd=PACKAGE,
        timeout=300,
    )


def test_correct_user_code_passes_mypy_strict(mypy_strict):
    r = mypy_strict
    # Both files checked, and every message is about the mistakes: none about this file nor the package.
    assert r.returncode in (0, 1) and "2 source files" in r.stdout, r.stdout + r.stderr
    others = [line for line in r.stdout.splitlines()[:-1] if not line.startswith(MISTAKES + ":")]
    assert not others, r.stdout + r.stderr


def test_each_mistake_is_reported_by_mypy_strict(mypy_strict):
    r = mypy_strict
    assert r.returncode == 1, r.stdout + r.stderr
    with open(MISTAKES) as f:
        marked = {i for i, line in enumerate(f, 1) if line.rstrip().endswith("# error")}
    reported = {int(m) for m in re.findall(r"typed_usage_mistakes\.py:(\d+): error", r.stdout)}
    assert marked and reported == marked, r.stdout


def test_codecarbon_options_are_the_librarys_and_the_layers_own():
    # CodeCarbon's extra keyword arguments are those only its layer reads (_HANDLER_KEYS: the
    # output handlers it calls, metadata, allow_multiple_runs), and every parameter of CodeCarbon's constructor and
    # decorator is declared.
    extra = set(CodeCarbonOptions.__annotations__) - set(OPTION_KEYS)
    assert extra == set(_codecarbon._HANDLER_KEYS) - set(OPTION_KEYS)
    declared = set(CodeCarbonOptions.__annotations__) | set(ct.TrackerOptions.__annotations__)
    assert set(_codecarbon.TRACKER_PARAMETERS) | set(_codecarbon.DECORATOR_PARAMETERS) <= declared
