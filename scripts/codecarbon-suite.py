"""Runs CodeCarbon 3.3.2's own test suite against carbon-tracker's CodeCarbon layer.

    python3 scripts/codecarbon-suite.py [--all] [--list] [--json FILE] [--lib PATH] [--package DIR]
                                        [--support DIR] [-k EXPR] [--keep] [--fresh]
    python3 scripts/codecarbon-suite.py --self-test [--all] [--list] [-j JOBS]

The suite is taken from CodeCarbon's source distribution on PyPI at run time (`pip download
--no-binary`, kept in the venv; nothing of it is copied into this repository). The sdist lacks the
suite's support files (conftest.py, testutils.py, testdata.py, fake_modules/pynvml, fixtures/,
test_data/): they are laid beside its tests at run time from --support DIR, else
$CT_CODECARBON_TESTS_SUPPORT, else the shared reference data beside the checkout (a directory
holding tests/). This project's public-API probes (scripts/codecarbon_mutants.py, PROBES) are added.
The suite runs as CodeCarbon's own test task runs it (SUITE_ARGS), twice, in a venv with
CodeCarbon's dependencies and test tools (target/codecarbon-suite-venv, made on first use):
  1. against CodeCarbon 3.3.2 itself (the sdist's own package): what passes here at all (cached);
  2. against a `codecarbon` package that only re-exports `carbon_tracker` (the shim below), with
     the library built by `cargo build`. The public modules (`codecarbon`,
     `codecarbon.emissions_tracker`, `codecarbon.output`) are carbon_tracker's; the others stay
     CodeCarbon's, so that the tests' helpers import.
Each test of the second run is classified by what failed, never by what the test imports or
patches (judge_failure): passes; not applicable (the failure is about CodeCarbon's internals);
undecided (the rule cannot tell: listed by name); fails under CodeCarbon itself here (no network,
docs missing from the sdist, run as root: no comparison possible); a real difference (what a
user sees: a return value, a file, a log line, a warning, an exception, a missing public name).
The counts are printed (exit status 1 if there is a real difference); --list prints every test
with its class and reason.

--self-test plants user-visible bugs in a copy of the layer and fails unless each shows up as a
real difference (scripts/codecarbon_mutants.py); scripts/test-all.sh runs it on a subset. Its runs
against the layer (the unmutated copy and each bug's) go JOBS at a time (-j; by default all at
once on the subset, whose tests mostly spin until a deadline, so that runs at once hardly slow each
other even on two cores; one per CPU with --all), each with its own directory, HOME and TMPDIR;
CodeCarbon's own results are made (or read) once, before.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import codecarbon_mutants  # noqa: E402 (the self-test and the public-API probes, beside this script)

VERSION = "3.3.2"
VENV = ROOT / "target" / "codecarbon-suite-venv"
# CodeCarbon's runtime dependencies come with `pip install codecarbon==VERSION` (then the package
# itself is removed); its dev group's test tools are added. Only what its tests import.
# Not scikit-learn, which CodeCarbon's dev dependencies list: only its documentation examples use it,
# and the sdist ships no docs (those tests fail under CodeCarbon too, as "environment").
TEST_TOOLS = ["pytest", "pytest-timeout", "requests-mock", "responses", "mktestdocs", "jsonschema"]
# CodeCarbon's own test command (its pyproject's `test-package` task): its viz tests need the
# dashboard's packages and are left out there too; `integ_test` ones need the network.
SUITE_ARGS = ["--ignore=tests/test_viz_data.py", "-m", "not integ_test"]
PER_TEST_TIMEOUT_S = 120

# CodeCarbon's public modules: carbon_tracker provides them under the same names (a module it
# lacks cannot be imported). Its other modules are CodeCarbon's own (the sdist's), so that a
# test's helpers (`codecarbon.core.units`, `codecarbon.input`, ...) still import; what the test
# then asserts about the tracker is asserted about carbon_tracker's.
PUBLIC_MODULES = ("emissions_tracker", "output")
SHIM = """
import importlib as _importlib
import json as _json
import os as _os
import sys as _sys

import carbon_tracker as _ct
from carbon_tracker import *  # noqa: F401,F403
from carbon_tracker import __all__  # noqa: F401

__version__ = getattr(_ct, "__version__", None) or _ct.library_version()
__app_name__ = "codecarbon"
__path__.append({internals!r})
for _name in {public!r}:
    try:
        _sys.modules[__name__ + "." + _name] = _importlib.import_module("carbon_tracker." + _name)
    except ImportError:
        _sys.modules[__name__ + "." + _name] = None  # not there: not CodeCarbon's either


# A public name of CodeCarbon's that carbon_tracker lacks (codecarbon.output.BoAmpsOutput): a
# stand-in that fails when used, so that only the tests using it fail, not their whole module.
class _MissingName(Exception):
    pass


def _missing(module, name):
    def fail(*args, **kwargs):
        raise _MissingName(module + "." + name + " is not in carbon_tracker")

    return type(name, (), {{"__init__": fail, "__module__": "ct_suite_missing"}}) if name[:1].isupper() else fail


for _module, _names in _json.loads(_os.environ.get("CT_SUITE_PUBLIC_NAMES", "{{}}")).items():
    _m = _sys.modules.get(_module) if _module != __name__ else _sys.modules[__name__]
    for _n in _names if _m is not None else []:
        if not hasattr(_m, _n):
            setattr(_m, _n, _missing(_module, _n))
"""

PLUGIN = """
import json, os, re, traceback
import pytest

_OUT = os.environ["CT_SUITE_RESULTS"]
_results = {}


# Whether the running test used carbon_tracker (made one of its objects, called one of its
# functions): a test that only exercises CodeCarbon's internal modules says nothing about it.
_touched = [False]


# Private attributes of CodeCarbon's tracker that the test sets on the layer's
# (`tracker._hardware = [mock_gpu]`): the layer never reads them.
_set_private = []


def _watch_private_writes(cls):
    import sys
    original = cls.__setattr__

    def setattr_(self, name, value):
        if name.startswith("_") and "/tests/" in sys._getframe(1).f_code.co_filename:
            _set_private.append(name)
        original(self, name, value)

    cls.__setattr__ = setattr_


def _instrument():
    import dataclasses, enum, functools, importlib, inspect
    try:
        modules = [importlib.import_module(m) for m in ("carbon_tracker", "carbon_tracker.emissions_tracker")]
    except ImportError:
        return  # the run against CodeCarbon itself
    _watch_private_writes(modules[1].BaseEmissionsTracker)
    try:
        modules.append(importlib.import_module("carbon_tracker.output"))
    except ImportError:
        pass
    seen = set()
    for module in modules:
        for name, obj in list(vars(module).items()):
            if name.startswith("__") or not getattr(obj, "__module__", "").startswith("carbon_tracker"):
                continue
            # Records (EmissionsData) and enums are data that CodeCarbon's internals also take.
            if inspect.isclass(obj) and obj not in seen and not dataclasses.is_dataclass(obj) and not issubclass(obj, enum.Enum):
                seen.add(obj)
                init = obj.__dict__.get("__init__")
                if init is None or getattr(init, "_ct_wrapped", False):
                    continue
                def wrapped(self, *a, __init=init, **k):
                    _touched[0] = True
                    return __init(self, *a, **k)
                wrapped._ct_wrapped = True
                functools.update_wrapper(wrapped, init)
                obj.__init__ = wrapped
            elif inspect.isfunction(obj):
                def fn(*a, __f=obj, **k):
                    _touched[0] = True
                    return __f(*a, **k)
                setattr(module, name, functools.wraps(obj)(fn))


# The suite fakes ~/.codecarbon.config and ./.codecarbon.config by patching builtins.open
# (tests/testutils.get_custom_mock_open), which only Python code sees. Against carbon-tracker,
# whose library reads the files itself, the same text is written to the real files instead
# (HOME is a temporary directory) and removed after the test.
_written = []


def _real_config_files(global_conf_str, local_conf_str):
    import builtins, pathlib

    def mocked_open():
        for path, text in ((pathlib.Path.home() / ".codecarbon.config", global_conf_str),
                           (pathlib.Path.cwd() / ".codecarbon.config", local_conf_str)):
            path.write_text(text)
            _written.append(path)
        return builtins.open

    return mocked_open


# A patch of something CodeCarbon's tracker has and the layer does not
# (`EmissionsTracker._get_cloud_metadata`) is made anyway (mock's create=True): it changes
# nothing in the layer, and the test goes on to check what the user sees. Recorded per test.
_created = []


def _create_missing_patch_targets():
    import types
    import unittest.mock as um

    original = um._patch.get_original

    def get_original(self):
        target = self.getter()
        owner = target.__name__ if isinstance(target, types.ModuleType) else getattr(target, "__module__", "")
        if (owner or "").startswith("carbon_tracker") and not self.create and self.attribute not in getattr(target, "__dict__", {}) and not hasattr(target, self.attribute):
            self.create = True
            _created.append(f"{getattr(target, '__name__', owner)}.{self.attribute}")
        return original(self)

    um._patch.get_original = get_original


def pytest_configure(config):
    _instrument()
    if "carbon_tracker" in __import__("sys").modules:
        _create_missing_patch_targets()
        try:
            import tests.testutils as testutils
        except ImportError:
            return
        testutils.get_custom_mock_open = _real_config_files


def pytest_runtest_logfinish(nodeid, location):
    while _written:
        try:
            _written.pop().unlink()
        except OSError:
            pass


# What the test's mock.patch decorators replace inside CodeCarbon's own modules.
def _patched_internals(item):
    out = []
    for p in getattr(getattr(item, "function", None), "patchings", []) or []:
        try:
            target = p.getter()
        except Exception:
            continue
        owner = getattr(target, "__name__", None) if isinstance(target, type(os)) else getattr(target, "__module__", None)
        if (owner or "").startswith("codecarbon"):
            out.append(f"{owner}.{p.attribute}")
    return out


def pytest_runtest_logstart(nodeid, location):
    _touched[0] = False
    del _created[:]
    del _set_private[:]


def _describe(excinfo):
    if excinfo is None:
        return {}
    e = excinfo.value
    tb = excinfo.traceback
    frames = [(str(entry.path), entry.name) for entry in tb]
    # Raised by unittest.mock itself (its innermost frame), e.g. a patch target it cannot find.
    in_mock = bool(frames) and frames[-1][0].endswith(os.path.join("unittest", "mock.py"))
    in_suite = [p for p, _ in frames if "/tests/" in p]
    statement = ""
    for entry in tb:
        if "/tests/" in str(entry.path):
            try:
                statement = str(entry.statement).strip()[:400]
            except Exception:
                pass
    # Where it was raised: the innermost frame that is not unittest.mock's.
    inner = [(p, n) for p, n in frames if not p.endswith(os.path.join("unittest", "mock.py"))]
    last_path, last_name = inner[-1] if inner else ("", "")
    if "/carbon_tracker/" in last_path:
        where = "carbon_tracker"
    elif "/tests/" in last_path:
        where = "test"
    elif "/codecarbon/" in last_path and not last_path.endswith(os.path.join("codecarbon", "__init__.py")):
        where = "codecarbon internals"
    else:
        where = "other"
    # A mock's assert_* (assert_called_once, ...): the name of the mock that was not called so.
    mock_assert = None
    if in_mock and frames[-1][1].startswith("assert_") or (frames and any(n.startswith("assert_") and p.endswith(os.path.join("unittest", "mock.py")) for p, n in frames)):
        m = re.search(r"Expected:? '?([A-Za-z_][\\w.]*)'?[ (]", str(e)) or re.search(r"'([A-Za-z_][\\w.]*)'", str(e))
        mock_assert = m.group(1).split(".")[-1] if m else ""
    owner = None
    if isinstance(e, AttributeError):
        obj = getattr(e, "obj", None)
        owner = type(obj).__module__ if obj is not None else None
    return {
        "type": type(e).__name__,
        "message": str(e)[:600],
        "in_mock": in_mock,
        "owner": owner,
        "name": getattr(e, "name", None) if isinstance(e, (AttributeError, ImportError)) else None,
        "last_suite_frame": in_suite[-1] if in_suite else None,
        "where": where,
        "statement": statement,
        "where_function": last_name,
        "mock_assert": mock_assert,
        "text": "".join(traceback.format_exception_only(type(e), e))[-1500:],
    }


def pytest_runtest_logreport(report):
    r = _results.setdefault(report.nodeid, {"outcome": "passed"})
    r["touched"] = r.get("touched", False) or _touched[0]
    if report.when == "call" and report.outcome == "skipped" or report.when == "setup" and report.skipped:
        r["outcome"] = "skipped"
        r["detail"] = {"message": str(report.longrepr)[-300:]}
    elif report.failed and r["outcome"] != "failed":
        r["outcome"] = "failed"
        r["when"] = report.when
        r["detail"] = getattr(report, "_ct_detail", {}) or {"message": str(report.longrepr)[-1500:]}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report._ct_detail = _describe(call.excinfo)
        report._ct_detail["patched"] = _patched_internals(item)
        report._ct_detail["created"] = sorted(set(_created))
        report._ct_detail["set_private"] = sorted(set(_set_private))
        try:
            import inspect
            report._ct_detail["params"] = [p for p in inspect.signature(item.function).parameters if p != "self"]
        except Exception:
            report._ct_detail["params"] = []
        try:
            import inspect
            report._ct_detail["source"] = inspect.getsource(item.function)[:20000]
        except Exception:
            pass


def pytest_collectreport(report):
    if report.failed:
        _results["COLLECT::" + str(report.fspath)] = {"outcome": "collect_error", "detail": {"message": str(report.longrepr)[-3000:]}}


# The names CodeCarbon itself makes public in each public module: codecarbon's __all__ and
# version, what codecarbon.output re-exports, what codecarbon.emissions_tracker defines.
def _public_names():
    import importlib, sys
    if "carbon_tracker" in sys.modules:
        return {}
    out = {}
    top = importlib.import_module("codecarbon")
    out["codecarbon"] = list(top.__all__) + ["__version__", "__app_name__"]
    for name in os.environ["CT_SUITE_PUBLIC"].split(","):
        m = importlib.import_module("codecarbon." + name)
        own = [k for k, v in vars(m).items() if not k.startswith("_") and getattr(v, "__module__", None) == m.__name__]
        reexported = [k for k in vars(m) if not k.startswith("_") and k[0].isupper()] if name == "output" else []
        out["codecarbon." + name] = sorted(set(own + reexported))
    return out


def pytest_sessionfinish(session):
    _results["PUBLIC::names"] = _public_names()
    with open(_OUT, "w") as f:
        json.dump(_results, f)
"""


def say(line: str) -> None:
    """A line on stderr in one write: runs at once do not mix their lines."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run(cmd, label=None, **kw):
    say(f"+ {f'[{label}] ' if label else ''}" + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], **kw)


def ensure_venv() -> pathlib.Path:
    python = VENV / "bin" / "python"
    marker = VENV / "suite-ready"
    wanted = json.dumps([VERSION] + TEST_TOOLS)
    if marker.exists() and marker.read_text() == wanted:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    run([sys.executable, "-m", "venv", VENV], check=True)
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    run([python, "-m", "pip", "install", "-q", f"codecarbon=={VERSION}", *TEST_TOOLS], check=True)
    # Only its dependencies stay: each run below chooses which `codecarbon` it imports.
    run([python, "-m", "pip", "uninstall", "-q", "-y", "codecarbon"], check=True)
    marker.write_text(wanted)
    return python


def download_sdist(python: pathlib.Path) -> pathlib.Path:
    """CodeCarbon's sdist, downloaded once and kept in the venv."""
    dl = VENV / "sdist"
    if not any(dl.glob("codecarbon-*.tar.gz")):
        run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"codecarbon=={VERSION}",
                "-d",
                dl,
            ],
            check=True,
        )
    return next(dl.glob("codecarbon-*.tar.gz"))


def fetch_sdist(python: pathlib.Path, tmp: pathlib.Path, support: pathlib.Path) -> pathlib.Path:
    """CodeCarbon's sdist unpacked in ``tmp``, with its test suite's support files laid over its
    tests/ (the sdist lacks them)."""
    with tarfile.open(download_sdist(python)) as tar:
        tar.extractall(tmp)
    sdist = tmp / f"codecarbon-{VERSION}"
    shutil.copytree(support / "tests", sdist / "tests", dirs_exist_ok=True)
    (sdist / "tests" / "test_ct_public_probes.py").write_text(codecarbon_mutants.PROBES)
    return sdist


def support_dir(given) -> pathlib.Path:
    """CodeCarbon's test support files: --support, else $CT_CODECARBON_TESTS_SUPPORT, else the
    shared reference data beside the checkout. Without them about 50 tests fail under CodeCarbon
    itself, hiding what they check: refused."""
    path = (
        given
        or os.environ.get("CT_CODECARBON_TESTS_SUPPORT")
        or ROOT.parent / "shared" / "reference-data" / f"codecarbon-{VERSION}" / "tests-support"
    )
    path = pathlib.Path(path)
    if not (path / "tests" / "conftest.py").is_file():
        sys.exit(
            f"codecarbon-suite: CodeCarbon {VERSION}'s test support files (tests/conftest.py, testutils.py, fixtures/, "
            f"fake_modules/...) are not in {path}: give --support DIR or CT_CODECARBON_TESTS_SUPPORT"
        )
    return path


def write_plugin(where: pathlib.Path) -> None:
    (where / "ct_suite_plugin.py").write_text(PLUGIN)


PYTEST_INI = "[pytest]\nmarkers =\n    integ_test: needs the network\n"


def pytest_run(python, cwd, results, env, extra, label):
    """One pytest run of the suite in ``cwd``: its results (the plugin's JSON). Its summary line,
    with ``label`` and the time it took, goes to stderr."""
    cmd = [python, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-p", "ct_suite_plugin", "--continue-on-collection-errors",
           f"--timeout={PER_TEST_TIMEOUT_S}", "-o", "pythonpath=.", "--rootdir", cwd, "-c", cwd / "pytest.ini", *SUITE_ARGS, *extra]  # fmt: skip
    env = dict(env, CT_SUITE_RESULTS=str(results), CT_SUITE_PUBLIC=",".join(PUBLIC_MODULES))
    started = time.monotonic()
    proc = run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, label=label)
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout else []
    say(f"  {label}: {tail[0] if tail else '(no output)'} ({time.monotonic() - started:.1f} s)")
    return json.loads(results.read_text())


def base_env(tmp: pathlib.Path) -> dict:
    home, tmpdir = tmp / "home", tmp / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmpdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODECARBON_", "PYTHON"))}
    # As CodeCarbon's own test task; a fresh HOME so no ~/.codecarbon.config of this machine
    # applies, and a TMPDIR of its own (tests write fixed names in tempfile.gettempdir()).
    env.update(
        CODECARBON_ALLOW_MULTIPLE_RUNS="True", HOME=str(home), TMPDIR=str(tmpdir), CARBON_TRACKER_LOOPBACK_ONLY="1"
    )
    return env


# -- classification ------------------------------------------------------------------------------

# A missing public module or name: the layer's fault, whatever else the test does.
PUBLIC_IMPORT = re.compile(
    r"import of codecarbon\.(?:%s) halted|cannot import name '\w+' from '(?:codecarbon|carbon_tracker)(?:\.(?:%s))?'"
    % (("|".join(PUBLIC_MODULES),) * 2)
)
# Private attributes that CodeCarbon's own examples read (examples/task_inference.py reads
# tracker._tasks), so its users do too.
USER_FACING_PRIVATE = {"_tasks"}
FAKED_IO = (
    ("responses.add(", "fakes CodeCarbon's HTTP calls through Python's requests; the library makes its own"),
    ("requests_mock", "fakes CodeCarbon's HTTP calls through Python's requests; the library makes its own"),
    ('patch("requests.', "fakes CodeCarbon's HTTP calls through Python's requests; the library makes its own"),
)


def internal_name_through_public_module(text: str, public: dict):
    """`from codecarbon.emissions_tracker import Raspberry`: a name CodeCarbon's public module only
    happens to hold (it imported it from an internal one)."""
    m = re.search(r"cannot import name '(\w+)' from '(codecarbon|carbon_tracker)(\.\w+)?'", text)
    if not m:
        return None
    module = "codecarbon" + (m.group(3) or "")
    if module in public and m.group(1) not in public[module]:
        return f"imports an internal name through a public module ({module}.{m.group(1)})"
    return None


# Errors of a test's own code reading what the layer gave it (a file, a row, a record).
USER_DATA_ERRORS = {
    "FileNotFoundError",
    "IndexError",
    "KeyError",
    "AttributeError",
    "TypeError",
    "ValueError",
    "EmptyDataError",
}

# The methods CodeCarbon calls on a user's output handler: a mock of one of them that was not
# called as expected is what a user's handler would have missed.
HANDLER_METHODS = {"out", "live_out", "task_out", "exit"}


def patched_names(d: dict) -> set:
    """The attribute names the test replaces in CodeCarbon's code (decorators, patches created
    for the layer, and patch targets written in its source): the names its mocks carry."""
    names = {t.rpartition(".")[2] for t in (d.get("patched") or []) + (d.get("created") or [])}
    source = d.get("source") or ""
    names.update(t.rpartition(".")[2] for t in re.findall(r"patch\(\s*[\"'](codecarbon\.[\w.]+)[\"']", source))
    names.update(re.findall(r"patch\.object\(\s*[\w.]+\s*,\s*[\"'](\w+)[\"']", source))
    return names


def judge_failure(result: dict, public: dict):
    """(class, reason) of a test that fails on the layer and passes on CodeCarbon, by what failed
    (never by what the test imports or patches):
      - not applicable: the failure is about CodeCarbon's internals: a patch target the layer
        lacks, a private attribute of the tracker read, an internal name imported through a
        public module, or a mock of a patched internal that was not called;
      - real difference: what a user sees: a public name missing, an exception raised by the
        layer, a handler's method not called, the test's own assertion on a return value, a file,
        a log line or a warning;
      - undecided: the rule cannot tell (raised inside CodeCarbon's internal modules the test
        called, an error of the test's own code that is not an assertion, an assertion about
        HTTP calls faked through Python's requests): listed, for a person to look at."""
    d = result.get("detail") or {}
    text = (d.get("text") or "") + (d.get("message") or "")
    kind, where = d.get("type") or "", d.get("where") or ""
    if kind == "_MissingName":
        return "real difference", "a public name of CodeCarbon's is missing"
    internal = internal_name_through_public_module(text, public)
    if internal:
        return "not applicable", internal
    if PUBLIC_IMPORT.search(text):
        return "real difference", "a public module or name cannot be imported"
    if (
        d.get("in_mock")
        and kind in ("AttributeError", "ImportError", "ModuleNotFoundError")
        and d.get("mock_assert") is None
    ):
        return "not applicable", "patches CodeCarbon internals the layer lacks (unittest.mock target)"
    name = d.get("name") or ""
    if kind == "AttributeError" and (d.get("owner") or "").startswith("carbon_tracker"):
        if name.startswith("_") and name not in USER_FACING_PRIVATE:
            return "not applicable", f"reads a private attribute of CodeCarbon's tracker ({name})"
        return "real difference", f"a public attribute is missing ({name})"
    if d.get("mock_assert") is not None:
        mocked = d["mock_assert"]
        if mocked in HANDLER_METHODS:
            return "real difference", f"an output handler's {mocked}() was not called as expected"
        if mocked and mocked in patched_names(d):
            return "not applicable", f"a patched internal was not called as expected ({mocked})"
        return "undecided", f"a mock was not called as expected ({mocked or '?'})"
    if where == "carbon_tracker":
        return "real difference", f"the layer raised {kind}"
    if where == "codecarbon internals":
        return "undecided", f"{kind} raised inside CodeCarbon's internal modules ({d.get('where_function')})"
    source = d.get("source") or ""
    if kind in ("AssertionError", "Failed"):
        mocks = set(d.get("params") or []) | patched_names(d)
        counted = re.search(
            r"\b(\w+)\.(?:call_count|called|call_args|call_args_list|mock_calls)\b", d.get("statement") or ""
        )
        if counted and counted.group(1) in mocks:
            return "not applicable", f"a patched internal was not called as expected ({counted.group(0)})"
        if d.get("set_private"):
            return (
                "undecided",
                f"the test set CodeCarbon's private attributes on the tracker ({', '.join(d['set_private'])}), which the layer does not read",
            )
        # A patch of what the layer lacks, written in the test itself (not a class-wide setup
        # decorator): its expectation may rest on what that patch does.
        own = [c for c in d.get("created") or [] if c.rpartition(".")[2] in source]
        if own:
            return "undecided", f"asserts after patching what the layer does not have ({', '.join(own)})"
        fed = {m for m in re.findall(r"\b(\w+)\.(?:return_value|side_effect)\s*=", source) if m in mocks}
        numeric = re.search(r"[-\d.e]+\)? != [\w.(]*[-\d.e]+|within \d+ (?:places|delta)", text)
        if fed and numeric:
            return "undecided", f"expects a number that patched internals feed ({', '.join(sorted(fed))})"
        for needle, why in FAKED_IO:
            if needle in source:
                return "undecided", "an assertion in a test that " + why.split(";")[0]
        return "real difference", "the test's assertion on what the layer returned, wrote or logged"
    # The test's own code broke on what the layer gave it (no file, an empty CSV, None for a
    # record): a real difference, unless the test fed the layer CodeCarbon's private state.
    # (raised in the test, or in a library it called on that data: pandas reading an empty CSV)
    if (
        where in ("test", "other")
        and d.get("last_suite_frame")
        and kind in USER_DATA_ERRORS
        and not d.get("set_private")
        and not any(n in source for n, _ in FAKED_IO)
    ):
        return "real difference", f"{kind} in the test's code on what the layer returned or wrote"
    return "undecided", f"{kind} in the test's own code ({d.get('where_function')})"


def classify(theirs: dict, ours: dict):
    """Test id -> (class, reason). Ids from CodeCarbon's own run; a module that the shim cannot
    import has no ids of its own, so its tests get its collection error."""
    collect_errors = {k.split("::", 1)[1]: v for k, v in ours.items() if k.startswith("COLLECT::")}
    public = theirs.get("PUBLIC::names", {})
    out = {}
    for test_id, mine in sorted(theirs.items()):
        if test_id.startswith(("COLLECT::", "PUBLIC::")):
            continue
        module = test_id.split("::", 1)[0]
        result = ours.get(test_id)
        if result is None:
            err = next((v for path, v in collect_errors.items() if path.endswith(module)), None)
            result = err or {"outcome": "missing", "detail": {"message": "not run"}}
        d = result.get("detail") or {}
        text = ((d.get("text") or d.get("message") or "").strip().splitlines() or [""])[-1][:300]
        touched = result.get("touched", False)
        if mine["outcome"] != "passed":
            out[test_id] = (
                "fails under CodeCarbon itself here",
                (mine.get("detail") or {}).get("message", "")[-200:].replace("\n", " "),
            )
        elif result["outcome"] == "passed":
            out[test_id] = (
                ("passes", "") if touched else ("not applicable", "exercises only CodeCarbon's internal modules")
            )
        elif result["outcome"] == "skipped":
            out[test_id] = (
                "real difference",
                "skipped here, passes with CodeCarbon: " + (d.get("message") or "")[-200:],
            )
        elif result["outcome"] == "collect_error":
            c, why = judge_failure(result, public)
            out[test_id] = (c, f"{why}; failed with: {text}")
        elif (
            not touched
            and d.get("type") != "_MissingName"
            and not PUBLIC_IMPORT.search((d.get("text") or "") + (d.get("message") or ""))
        ):
            # It failed without using the layer at all: the shim beside CodeCarbon's internals.
            out[test_id] = ("undecided", f"fails without using the layer; failed with: {text}")
        else:
            c, why = judge_failure(result, public)
            out[test_id] = (c, f"{why}; failed with: {text}")
    return out


class Suite:
    """What the runs against the layer share, made once: the venv, CodeCarbon's sdist unpacked in
    ``tmp`` (with the support files and the probes) and CodeCarbon's own results (cached in the
    venv). Each run() has a directory, a HOME and a TMPDIR of its own: several may run at once."""

    def __init__(self, lib: pathlib.Path, support: pathlib.Path, select: list, tmp: pathlib.Path, fresh=False):
        self.lib, self.select, self.tmp = lib, select, tmp
        self.python = ensure_venv()
        self.sdist = fetch_sdist(self.python, tmp, support)
        # 1. CodeCarbon itself (its package is in the sdist's root, on pytest's pythonpath). Its
        # results do not depend on this checkout: kept in the venv and reused unless fresh.
        support_key = sorted((str(p.relative_to(support)), p.stat().st_size) for p in support.rglob("*") if p.is_file())
        key = hashlib.sha256(
            repr((PLUGIN, codecarbon_mutants.PROBES, VERSION, select, TEST_TOOLS, SUITE_ARGS, support_key)).encode()
        ).hexdigest()[:16]
        cached = VENV / f"codecarbon-results-{key}.json"
        if cached.exists() and not fresh:
            self.theirs = json.loads(cached.read_text())
        else:
            (self.sdist / "pytest.ini").write_text(PYTEST_INI)
            write_plugin(self.sdist)
            theirs_tmp = tmp / "theirs"
            env = dict(base_env(theirs_tmp), PYTHONPATH=str(self.sdist))
            self.theirs = pytest_run(self.python, self.sdist, theirs_tmp / "theirs.json", env, select, "CodeCarbon")
            cached.write_text(json.dumps(self.theirs))

    def run(self, package: pathlib.Path, label="carbon-tracker") -> dict:
        """2. The same tests beside a `codecarbon` that re-exports carbon_tracker from ``package``,
        classified against CodeCarbon's own results."""
        run_tmp = pathlib.Path(tempfile.mkdtemp(prefix="run-", dir=self.tmp))
        ours_dir = run_tmp / "ours"
        shutil.copytree(self.sdist / "tests", ours_dir / "tests")
        shim = ours_dir / "codecarbon"
        shim.mkdir()
        # CodeCarbon's internal modules find their data beside the package's __init__.
        (shim / "data").symlink_to(self.sdist / "codecarbon" / "data")
        internals = str(self.sdist / "codecarbon")
        (shim / "__init__.py").write_text(SHIM.format(internals=internals, public=PUBLIC_MODULES))
        (ours_dir / "pytest.ini").write_text(PYTEST_INI)
        write_plugin(ours_dir)
        path = os.pathsep.join([str(ours_dir), str(package)])
        public_names = json.dumps(self.theirs.get("PUBLIC::names", {}))
        env = dict(
            base_env(run_tmp), PYTHONPATH=path, CARBON_TRACKER_LIB=str(self.lib), CT_SUITE_PUBLIC_NAMES=public_names
        )
        ours = pytest_run(self.python, ours_dir, run_tmp / "ours.json", env, self.select, label)
        return classify(self.theirs, ours)


def run_suite(
    lib: pathlib.Path, package: pathlib.Path, support: pathlib.Path, select: list, fresh=False, keep=False
) -> dict:
    """Both runs (CodeCarbon's own, cached; then the shim over ``package``), classified."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="codecarbon-suite-"))
    try:
        return Suite(lib, support, select, tmp, fresh).run(package)
    finally:
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


CLASSES = ("passes", "not applicable", "undecided", "fails under CodeCarbon itself here", "real difference")


def report(classes: dict, listing: bool) -> collections.Counter:
    counts = collections.Counter(c for c, _ in classes.values())
    if listing:
        for test_id, (c, why) in sorted(classes.items(), key=lambda kv: (kv[1][0], kv[0])):
            print(f"{c:38} {test_id}  {why}")
        print()
    print(f"CodeCarbon {VERSION}'s test suite against carbon-tracker's CodeCarbon layer: {len(classes)} tests")
    for c in CLASSES:
        print(f"  {c:38} {counts.get(c, 0)}")
    for c in ("not applicable", "undecided"):
        reasons = collections.Counter(why.split(";")[0].split(" (")[0] for k, why in classes.values() if k == c)
        for why, n in reasons.most_common():
            print(f"    {c}: {n:4}  {why}")
    if counts.get("undecided") and not listing:
        print("  undecided (for a person to look at):")
        for test_id, (c, why) in sorted(classes.items()):
            if c == "undecided":
                print(f"    {test_id}  {why}")
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="the whole suite (the default unless -k or --self-test)")
    ap.add_argument("--self-test", action="store_true", help="the mutation self-test (scripts/codecarbon_mutants.py)")
    ap.add_argument("--list", action="store_true", help="print every test with its class and reason")
    ap.add_argument("--json", type=pathlib.Path, help="write the classification to this file")
    ap.add_argument("--lib", type=pathlib.Path, help="libcarbon_tracker.so to use (default: cargo build's debug one)")
    ap.add_argument(
        "--package",
        type=pathlib.Path,
        default=ROOT / "bindings" / "python",
        help="the directory holding the carbon_tracker package (default: this checkout's)",
    )
    ap.add_argument("--support", type=pathlib.Path, help="CodeCarbon's test support files (a directory holding tests/)")
    ap.add_argument("-k", dest="select", help="pytest -k expression (both runs)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=0,
        help="--self-test: how many runs against the layer at once (default: all; one per CPU with --all)",
    )
    ap.add_argument(
        "--fresh", action="store_true", help="run CodeCarbon's own pass again instead of reusing its results"
    )
    ap.add_argument(
        "--prepare",
        action="store_true",
        help="only make the venv, download CodeCarbon's sdist and run CodeCarbon's own pass for --self-test (setup.sh)",
    )
    args = ap.parse_args()

    if args.prepare:
        # With the support files at hand, CodeCarbon's own pass of the self-test's subset too: its
        # results depend on neither this checkout nor the library, and are cached in the venv.
        download_sdist(ensure_venv())
        try:
            support = support_dir(args.support)
        except SystemExit as e:
            say(f"codecarbon-suite: venv ready; CodeCarbon's own pass not prepared ({e})")
            return 0
        with tempfile.TemporaryDirectory(prefix="codecarbon-suite-") as tmp:
            Suite(None, support, codecarbon_mutants.SUBSET, pathlib.Path(tmp), fresh=args.fresh)
        return 0
    support = support_dir(args.support)
    lib = args.lib.resolve() if args.lib else None  # the runs' working directories are elsewhere
    if lib is None:
        run(["cargo", "build", "--quiet", "--lib"], cwd=ROOT, check=True)
        lib = ROOT / "target" / "debug" / "libcarbon_tracker.so"
    if args.self_test:
        # CI: the subset (about 30 s); with --all, the whole suite for each planted bug.
        subset = [] if args.all else codecarbon_mutants.SUBSET
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="codecarbon-suite-"))
        try:
            # CodeCarbon's own run (or its cached results) once, before the runs against the layer.
            suite = Suite(lib, support, subset, tmp)
            jobs = args.jobs or ((os.cpu_count() or 1) if args.all else 0)
            return codecarbon_mutants.self_test(suite.run, args.package, args.list, jobs)
        finally:
            if args.keep:
                print(f"kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    select = ["-k", args.select] if args.select else []
    classes = run_suite(lib, args.package, support, select, fresh=args.fresh, keep=args.keep)
    counts = report(classes, args.list)
    if args.json:
        args.json.write_text(json.dumps({k: {"class": c, "reason": r} for k, (c, r) in classes.items()}, indent=1))
    return 1 if counts.get("real difference") else 0


if __name__ == "__main__":
    sys.exit(main())
