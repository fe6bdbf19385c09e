"""The native binding: ctypes declarations of the C ABI and the strict :class:`Tracker` (every
failure is a :class:`CarbonTrackerError`). The CodeCarbon-named layer is in ``_codecarbon.py``."""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import functools
import glob
import json
import logging
import os
import platform
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Sized, TypeVar, cast

from . import _logging, _prediction
from ._options import TrackerOptions
from ._prediction import Prediction
from ._regions import RegionsMixin
from ._regions import declare as _declare_regions

if TYPE_CHECKING:  # typing_extensions only for the type checker: no runtime dependency
    from typing_extensions import Unpack


class Status(enum.IntEnum):
    """``ct_status`` of include/carbon_tracker.h (tests/test_abi.py checks names and values
    against the header)."""

    CT_OK = 0
    CT_ERR_NULL_ARGUMENT = 1
    CT_ERR_INVALID_OPTION = 2
    CT_ERR_INVALID_STATE = 3
    CT_ERR_IO = 4
    CT_ERR_HARDWARE = 5  # reserved, never returned: a failing hardware source falls back to a model
    CT_ERR_NETWORK = 6
    CT_ERR_PANIC = 7


# Output failures: the numbers were measured and are returned with the error.
_NUMBERS_VALID = (Status.CT_OK, Status.CT_ERR_IO, Status.CT_ERR_NETWORK)


class CarbonTrackerError(Exception):
    """A failed call: ``status`` (a :class:`Status`, or the raw int if this version does not
    know it), ``status_name`` and the library's message.

    For output failures (CT_ERR_IO, CT_ERR_NETWORK) ``emissions`` holds the numbers anyway."""

    def __init__(self, status: int, message: str, emissions: Optional[Emissions] = None):
        try:
            self.status: int = Status(status)
            self.status_name = Status(status).name
        except ValueError:
            self.status = status
            self.status_name = f"ct_status({status})"
        self.emissions = emissions
        super().__init__(f"{self.status_name}: {message}")


class _CtEmissions(ctypes.Structure):
    # The layout of ct_emissions; tests/test_abi.py compares every offset and size with what the
    # C compiler makes of include/carbon_tracker.h.
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("duration_s", ctypes.c_double),
        ("emissions_kg", ctypes.c_double),
        ("emissions_rate_kg_per_s", ctypes.c_double),
        ("cpu_power_w", ctypes.c_double),
        ("gpu_power_w", ctypes.c_double),
        ("ram_power_w", ctypes.c_double),
        ("cpu_energy_kwh", ctypes.c_double),
        ("gpu_energy_kwh", ctypes.c_double),
        ("ram_energy_kwh", ctypes.c_double),
        ("energy_consumed_kwh", ctypes.c_double),
        ("water_consumed_l", ctypes.c_double),
        ("cpu_utilization_percent", ctypes.c_double),
        ("gpu_utilization_percent", ctypes.c_double),
        ("ram_utilization_percent", ctypes.c_double),
        ("ram_used_gb", ctypes.c_double),
        ("carbon_intensity_g_per_kwh", ctypes.c_double),
        ("pue", ctypes.c_double),
        ("measurements", ctypes.c_uint64),
    ]


@dataclass(frozen=True)
class Emissions:
    """Cumulative numbers since start. Energies in kWh (PUE included), powers in W (means),
    emissions in kg CO2e, water in litres."""

    duration_s: float
    emissions_kg: float
    emissions_rate_kg_per_s: float
    cpu_power_w: float
    gpu_power_w: float
    ram_power_w: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    energy_consumed_kwh: float
    water_consumed_l: float
    cpu_utilization_percent: float
    gpu_utilization_percent: float
    ram_utilization_percent: float
    ram_used_gb: float
    carbon_intensity_g_per_kwh: float
    pue: float
    measurements: int

    @classmethod
    def _from_c(cls, c: _CtEmissions) -> Emissions:
        return cls(**{f.name: getattr(c, f.name) for f in fields(cls)})


_LIB_GLOBS = {"darwin": "libcarbon_tracker*.dylib", "win32": "carbon_tracker*.dll"}


def _find_library() -> str:
    explicit = os.environ.get("CARBON_TRACKER_LIB")
    if explicit:
        if not os.path.exists(explicit):
            raise OSError(f"CARBON_TRACKER_LIB={explicit} does not exist")
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    # The wheel's copy (setuptools-rust names it libcarbon_tracker.abi3.so).
    beside = sorted(glob.glob(os.path.join(here, _LIB_GLOBS.get(sys.platform, "libcarbon_tracker*.so"))))
    if beside:
        return beside[0]
    found = ctypes.util.find_library("carbon_tracker")
    if found:
        return found
    raise OSError(
        f"carbon-tracker: the native library is neither in {here} nor on the library path; "
        "install the package with `pip install ./bindings/python` (which builds it), or set "
        "CARBON_TRACKER_LIB to a libcarbon_tracker.so"
    )


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_find_library())
    handle = ctypes.c_void_p
    lib.ct_tracker_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle)]
    lib.ct_tracker_new.restype = ctypes.c_int
    lib.ct_tracker_start.argtypes = [handle]
    lib.ct_tracker_start.restype = ctypes.c_int
    for fn in (lib.ct_tracker_flush, lib.ct_tracker_stop):
        fn.argtypes = [handle, ctypes.POINTER(_CtEmissions)]
        fn.restype = ctypes.c_int
    lib.ct_tracker_peek.argtypes = [handle, ctypes.POINTER(_CtEmissions)]
    lib.ct_tracker_peek.restype = ctypes.c_int
    lib.ct_tracker_start_task.argtypes = [handle, ctypes.c_char_p]
    lib.ct_tracker_start_task.restype = ctypes.c_int
    lib.ct_tracker_stop_task.argtypes = [handle, ctypes.c_char_p, ctypes.POINTER(_CtEmissions)]
    lib.ct_tracker_stop_task.restype = ctypes.c_int
    lib.ct_tracker_free.argtypes = [handle]
    lib.ct_tracker_free.restype = None
    lib.ct_tracker_discard.argtypes = [handle]
    lib.ct_tracker_discard.restype = None
    lib.ct_last_error.argtypes = []
    lib.ct_last_error.restype = ctypes.c_char_p
    lib.ct_last_status.argtypes = []
    lib.ct_last_status.restype = ctypes.c_int
    lib.ct_tracker_json.argtypes = [handle]
    lib.ct_tracker_json.restype = ctypes.c_void_p  # freed with ct_string_free, so not c_char_p
    lib.ct_string_free.argtypes = [ctypes.c_void_p]
    lib.ct_string_free.restype = None
    lib.ct_version.argtypes = []
    lib.ct_version.restype = ctypes.c_char_p
    _declare_regions(lib)
    _prediction.declare(lib)
    return lib


def library_version() -> str:
    """The native library's version, e.g. "0.1.0"."""
    version = _lib().ct_version()
    return cast(bytes, version).decode()


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form, never locale-dependent
    if isinstance(value, (os.PathLike, bytes)):  # bytes: a file name as os.fsencode gives it
        return os.fsdecode(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return ",".join(_option_value(v) for v in value)
    return str(value)


def escape_option_value(text: str) -> str:
    """A value as the library's option parser reads it back: `\\` and `;` escaped
    (tests/vectors/option_escaping.json is shared with the C++ and Go bindings)."""
    return text.replace("\\", "\\\\").replace(";", "\\;")


def options_string(**kwargs: Any) -> str:
    """CodeCarbon-style keyword arguments as the library's `key=value;...` string (None skipped)."""
    parts = []
    for key, value in kwargs.items():
        if value is None:
            continue
        parts.append(f"{key}={escape_option_value(_option_value(value))}")
    return ";".join(parts)


_KEY_FORBIDDEN = ("=", ";", "\\", "\0")


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; a str from a non-UTF-8 file name (surrogate escapes, ``os.fsdecode``) gets
    its bytes back, so that the library names the key whose value is not UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _options_bytes(options: Dict[str, Any], log: logging.Logger) -> bytes:
    """The options as ``ct_tracker_new`` takes them. What the string cannot carry is refused in
    the library's words (tests/vectors/option_refusals.json): a key with ``=``, ``;``, ``\\`` or
    NUL (it would set other options) and a value with a NUL (ctypes would cut the string there,
    losing the options after it). With ``on_invalid_value="ignore"`` (the CodeCarbon names) such a
    value, or one that is not UTF-8, is logged and left out, as the library does with a bad value."""
    ignore = str(options.get("on_invalid_value") or "").strip().lower() == "ignore"
    parts = []
    for key, value in options.items():
        if value is None:
            continue
        if any(c in key for c in _KEY_FORBIDDEN):
            shown = key.replace("\0", "\\0")
            raise CarbonTrackerError(
                Status.CT_ERR_INVALID_OPTION,
                f"options: invalid key `{shown}`: a key cannot contain `=`, `;`, `\\` or a NUL byte",
            )
        text = _option_value(value)
        name = key.strip().lower()
        problem = None
        if "\0" in text:
            problem = f"options: {name}: a value cannot contain a NUL byte"
        elif ignore and not _is_utf8(text):
            problem = f"options: {name}: the value is not valid UTF-8"
        if problem is not None:
            if not ignore:
                raise CarbonTrackerError(Status.CT_ERR_INVALID_OPTION, problem)
            log.error(f"{problem}; ignored (on_invalid_value=ignore): the default applies")
            continue
        parts.append(_utf8(f"{key}={escape_option_value(text)}"))
    return b";".join(parts)


class _Gate:
    """Calls in progress share the native handle; close() waits until none runs, then takes it.

    ctypes releases the GIL during a call, so without this ct_tracker_free could run while
    another thread is inside ct_tracker_flush or ct_tracker_stop on the same handle."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False

    def enter(self) -> None:
        """A call begins (raises once the gate is closed); pair with leave()."""
        with self._cond:
            if self._closed:
                # A state, not a missing argument: the handle was freed by close() (or the
                # end of a `with` block), and only a new tracker can measure again.
                raise CarbonTrackerError(
                    Status.CT_ERR_INVALID_STATE,
                    "the tracker is closed (by close() or at the end of its with block): create a new one",
                )
            self._active += 1

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active == 0:
                self._cond.notify_all()

    @contextmanager
    def call(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def close(self) -> bool:
        """Marks the gate closed once no call runs; False if it was closed already."""
        with self._cond:
            if self._closed:
                return False
            self._closed = True
            self._cond.wait_for(lambda: self._active == 0)
            return True


_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


class TaskScope:
    """What ``Tracker.task()`` yields: the task's name, and its numbers once it has ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.emissions: Optional[Emissions] = None


_Report = Callable[[ctypes.c_void_p, Any], int]


class Tracker(RegionsMixin):
    """A tracker; keyword arguments are CodeCarbon's config keys (``project_name``,
    ``country_iso_code``, ``measure_power_secs``, ``output_dir``, ``save_to_api``, ...).

    Usable as a context manager (start/stop) and as a decorator. Safe to share between threads:
    ``close()`` waits for calls in progress on other threads. ``log_level`` takes a name or a
    Python ``logging`` number; the library's lines go to ``logging.getLogger("carbon_tracker")``.
    ``python_version`` (the CSV column) is filled with this interpreter's version.
    """

    _logger_name = _logging.NATIVE_LOGGER
    # The class a ResourceWarning names: a wrapper the user holds instead (the CodeCarbon layer)
    # sets its own.
    _user_class_name: Optional[str] = None

    def __init__(self, **options: Unpack[TrackerOptions]) -> None:
        self._options = options.copy()
        self._gate: _Gate = _Gate()
        self._lib = _lib()
        self._handle = ctypes.c_void_p()
        self._running = False  # started and not stopped: collecting it loses its final row
        self.final_emissions: Optional[Emissions] = None
        _logging.route_to(self._logger_name, self._lib)
        options.setdefault("python_version", platform.python_version())
        text = _options_bytes(dict(options), logging.getLogger(self._logger_name))
        self._check(self._lib.ct_tracker_new(text, ctypes.byref(self._handle)))

    def _check(self, status: int, emissions: Optional[Emissions] = None) -> None:
        if status != Status.CT_OK:
            message = cast(bytes, self._lib.ct_last_error()).decode("utf-8", "replace")
            raise CarbonTrackerError(status, message, emissions)

    def _report(self, fn: _Report) -> Emissions:
        out = _CtEmissions()
        out.struct_size = ctypes.sizeof(_CtEmissions)
        with self._gate.call():
            status = fn(self._handle, ctypes.byref(out))
            emissions = Emissions._from_c(out) if status in _NUMBERS_VALID else None
            self._check(status, emissions)
        assert emissions is not None
        return emissions

    def start(self) -> Tracker:
        with self._gate.call():
            self._check(self._lib.ct_tracker_start(self._handle))
        self._running = True
        return self

    def flush(self) -> Emissions:
        """Measures, writes a CSV row, queues uploads; returns the totals since start."""
        return self._report(self._lib.ct_tracker_flush)

    def peek(self) -> Emissions:
        """The totals as of the last measurement, without measuring or writing anything."""
        return self._report(self._lib.ct_tracker_peek)

    def stop(self) -> Emissions:
        """Final measurement and row; waits up to api_timeout_s for uploads."""
        try:
            self.final_emissions = self._report(self._lib.ct_tracker_stop)
        except CarbonTrackerError as e:
            if e.emissions is not None:  # an output failed: stopped all the same
                self._running = False
            raise
        self._running = False
        return self.final_emissions

    def start_task(self, name: str) -> None:
        """Starts a named window (starting the tracker if needed). Tasks may overlap and nest;
        a name already running is CT_ERR_INVALID_STATE."""
        with self._gate.call():
            self._check(self._lib.ct_tracker_start_task(self._handle, name.encode("utf-8")))
        self._running = True

    def stop_task(self, name: str) -> Emissions:
        """Ends the running task ``name``: its numbers are the run's counters at its stop minus
        those at its start (the run itself goes on). The task's row is written at the next
        flush/stop."""
        encoded = name.encode("utf-8")
        return self._report(lambda handle, out: int(self._lib.ct_tracker_stop_task(handle, encoded, out)))

    @contextmanager
    def task(self, name: str) -> Iterator[TaskScope]:
        """``with tracker.task("epoch 1") as scope: ...``: start_task on entry, stop_task on exit
        (``scope.emissions`` then holds the task's numbers). An exception from the body is never
        replaced by a failure of stop_task."""
        self.start_task(name)
        scope = TaskScope(name)
        try:
            yield scope
        except BaseException:
            try:
                scope.emissions = self.stop_task(name)
            except CarbonTrackerError:
                pass
            raise
        scope.emissions = self.stop_task(name)

    def set_progress(self, done: float, total: float = 1.0) -> None:
        """Reports progress: ``done`` steps out of ``total`` (1 for a fraction); cheap enough for
        every step. Numbers out of range are CT_ERR_INVALID_OPTION (nothing recorded)."""
        self._gate.enter()  # enter/leave, not the generator of call(): called at every step
        try:
            status = self._lib.ct_tracker_set_progress(self._handle, float(done), float(total))
        finally:
            self._gate.leave()
        if status:
            self._check(status)

    def predict(self) -> Prediction:
        """The run's predicted totals at completion and its budget state (measures first unless
        the last measurement is under 50 ms old). Not enough evidence is not an error: see
        :attr:`Prediction.ready`."""
        out = _prediction._CtPrediction()
        out.struct_size = ctypes.sizeof(_prediction._CtPrediction)
        with self._gate.call():
            self._check(self._lib.ct_tracker_predict(self._handle, ctypes.byref(out)))
        return Prediction._from_c(out)

    def progress(self, iterable: Iterable[_T], total: Optional[float] = None) -> Iterator[_T]:
        """``for batch in tracker.progress(loader): ...``: yields the items of ``iterable`` and
        reports progress as they are consumed (an item is done when the next one is asked for).
        ``total`` defaults to ``len(iterable)``; an iterable without a length needs it."""
        if total is None:
            if not isinstance(iterable, Sized):
                raise TypeError("tracker.progress(): the iterable has no len(); pass total=")
            total = len(iterable)
        self.set_progress(0, total)
        done = 0
        for item in iterable:
            yield item
            done += 1
            self.set_progress(min(done, total), total)

    def describe(self) -> Dict[str, Any]:
        """What this tracker measures and how, as a dict: the JSON document of ct_tracker_json
        (the detected hardware, which source or model gives each number, the intensity, the
        outputs, the job, the regions), parsed. ``json.dumps(t.describe())`` gives the text."""
        with self._gate.call():
            ptr = self._lib.ct_tracker_json(self._handle)
            if not ptr:  # NULL: the real status of the failure, as for every other call
                self._check(Status(self._lib.ct_last_status()))
        try:
            return cast(Dict[str, Any], json.loads(ctypes.string_at(ptr).decode("utf-8")))
        finally:
            self._lib.ct_string_free(ptr)

    def close(self) -> None:
        """Frees the native tracker (stopping it first if it runs), after any call in progress on
        another thread has returned. Idempotent."""
        gate = getattr(self, "_gate", None)  # absent if __init__ failed early
        if gate is not None and gate.close() and self._handle:
            self._lib.ct_tracker_free(self._handle)
            self._handle = ctypes.c_void_p()
            self._running = False

    def __del__(self) -> None:
        """Garbage collection must not block: a tracker never closed is released without being
        stopped (ct_tracker_discard: no final row, no wait for uploads; CodeCarbon writes nothing
        for a tracker collected without stop() either), with a ResourceWarning if it ran."""
        handle = getattr(self, "_handle", None)  # absent if __init__ failed early
        if not handle:
            return
        self._handle = ctypes.c_void_p()
        try:
            if self._running:
                name = self._user_class_name or type(self).__name__
                warnings.warn(
                    f"{name} was never stopped: it was collected without its final row "
                    "(call stop(), or use it as a context manager)",
                    ResourceWarning,
                    stacklevel=1,
                    source=self,
                )
        finally:
            self._lib.ct_tracker_discard(handle)

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.stop()
        except CarbonTrackerError:
            if exc_type is None:
                raise
            # the body's exception goes on; this failure only goes to the log
            logging.getLogger(self._logger_name).warning("stop failed while an exception propagated", exc_info=True)
        finally:
            self.close()

    def __call__(self, func: _F) -> _F:
        """Decorator: a fresh tracker with these options runs around each call."""
        options = self._options

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)(**options):
                return func(*args, **kwargs)

        return cast(_F, wrapper)
