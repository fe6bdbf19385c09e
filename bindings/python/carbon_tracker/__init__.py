"""carbon-tracker for Python: a pure-ctypes binding of the carbon-tracker native library.

    from carbon_tracker import Tracker

    with Tracker(project_name="train", country_iso_code="FRA") as tracker:
        train()
        print(tracker.flush().emissions_kg)      # cumulative totals so far

CodeCarbon users can keep their code: ``EmissionsTracker``, ``OfflineEmissionsTracker`` and
``track_emissions`` take CodeCarbon's keyword arguments and return kg CO2e from flush()/stop().

The shared library is found, in order, at ``$CARBON_TRACKER_LIB``, next to this package, or on
the system library path (``libcarbon_tracker.so``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import sys
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

__all__ = [
    "Tracker",
    "Emissions",
    "CarbonTrackerError",
    "EmissionsTracker",
    "OfflineEmissionsTracker",
    "track_emissions",
    "library_version",
]

# ct_status values (include/carbon_tracker.h).
STATUS_NAMES = {
    0: "CT_OK",
    1: "CT_ERR_NULL_ARGUMENT",
    2: "CT_ERR_INVALID_OPTION",
    3: "CT_ERR_INVALID_STATE",
    4: "CT_ERR_IO",
    5: "CT_ERR_HARDWARE",
    6: "CT_ERR_NETWORK",
    7: "CT_ERR_PANIC",
}
CT_OK, CT_ERR_IO, CT_ERR_NETWORK = 0, 4, 6


class CarbonTrackerError(Exception):
    """A failed call: ``status`` (int), ``status_name`` and the library's message.

    For output failures (CT_ERR_IO, CT_ERR_NETWORK) ``emissions`` holds the numbers anyway."""

    def __init__(self, status: int, message: str, emissions: Optional["Emissions"] = None):
        self.status = status
        self.status_name = STATUS_NAMES.get(status, str(status))
        self.emissions = emissions
        super().__init__(f"{self.status_name}: {message}")


class _CtEmissions(ctypes.Structure):
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
    def _from_c(cls, c: _CtEmissions) -> "Emissions":
        return cls(**{f.name: getattr(c, f.name) for f in fields(cls)})


_LIB_NAMES = {"linux": "libcarbon_tracker.so", "darwin": "libcarbon_tracker.dylib", "win32": "carbon_tracker.dll"}


def _find_library() -> str:
    explicit = os.environ.get("CARBON_TRACKER_LIB")
    if explicit:
        if not os.path.exists(explicit):
            raise OSError(f"CARBON_TRACKER_LIB={explicit} does not exist")
        return explicit
    name = _LIB_NAMES.get(sys.platform, "libcarbon_tracker.so")
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    if os.path.exists(beside):
        return beside
    found = ctypes.util.find_library("carbon_tracker")
    if found:
        return found
    raise OSError(
        f"carbon-tracker: {name} not found. Set CARBON_TRACKER_LIB to its path, put it next to "
        f"{os.path.dirname(os.path.abspath(__file__))}, or install it on the library path "
        f"(build it with `cargo build --release`)."
    )


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_find_library())
    handle = ctypes.c_void_p
    lib.ct_tracker_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(handle)]
    lib.ct_tracker_new.restype = ctypes.c_int
    for fn in (lib.ct_tracker_start,):
        fn.argtypes = [handle]
        fn.restype = ctypes.c_int
    for fn in (lib.ct_tracker_flush, lib.ct_tracker_stop):
        fn.argtypes = [handle, ctypes.POINTER(_CtEmissions)]
        fn.restype = ctypes.c_int
    lib.ct_tracker_free.argtypes = [handle]
    lib.ct_tracker_free.restype = None
    lib.ct_last_error.argtypes = []
    lib.ct_last_error.restype = ctypes.c_char_p
    lib.ct_tracker_json.argtypes = [handle]
    lib.ct_tracker_json.restype = ctypes.c_void_p  # freed with ct_string_free, so not c_char_p
    lib.ct_string_free.argtypes = [ctypes.c_void_p]
    lib.ct_string_free.restype = None
    lib.ct_version.argtypes = []
    lib.ct_version.restype = ctypes.c_char_p
    return lib


def library_version() -> str:
    return _lib().ct_version().decode()


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def options_string(**kwargs: Any) -> str:
    """CodeCarbon-style keyword arguments as the library's `key=value;...` string (None skipped)."""
    parts = []
    for key, value in kwargs.items():
        if value is None:
            continue
        text = _option_value(value).replace("\\", "\\\\").replace(";", "\\;")
        parts.append(f"{key}={text}")
    return ";".join(parts)


class Tracker:
    """A tracker; keyword arguments are CodeCarbon's config keys (``project_name``,
    ``country_iso_code``, ``measure_power_secs``, ``output_dir``, ``save_to_api``, ...).

    Usable as a context manager (start/stop) and as a decorator. Safe to share between threads.
    """

    def __init__(self, **options: Any):
        self._options = dict(options)
        self._lib = _lib()
        self._handle = ctypes.c_void_p()
        self._check(self._lib.ct_tracker_new(options_string(**options).encode("utf-8"), ctypes.byref(self._handle)))
        self.final_emissions: Optional[Emissions] = None

    def _check(self, status: int, emissions: Optional[Emissions] = None) -> None:
        if status != CT_OK:
            message = self._lib.ct_last_error().decode("utf-8", "replace")
            raise CarbonTrackerError(status, message, emissions)

    def _report(self, fn: Callable) -> Emissions:
        if not self._handle:
            raise CarbonTrackerError(1, "the tracker was closed")
        out = _CtEmissions()
        out.struct_size = ctypes.sizeof(_CtEmissions)
        status = fn(self._handle, ctypes.byref(out))
        emissions = Emissions._from_c(out) if status in (CT_OK, CT_ERR_IO, CT_ERR_NETWORK) else None
        self._check(status, emissions)
        return emissions

    def start(self) -> "Tracker":
        if not self._handle:
            raise CarbonTrackerError(1, "the tracker was closed")
        self._check(self._lib.ct_tracker_start(self._handle))
        return self

    def flush(self) -> Emissions:
        """Measures, writes a CSV row, queues uploads; returns the totals since start."""
        return self._report(self._lib.ct_tracker_flush)

    def stop(self) -> Emissions:
        """Final measurement and row; waits up to api_timeout_s for uploads."""
        self.final_emissions = self._report(self._lib.ct_tracker_stop)
        return self.final_emissions

    def describe(self) -> dict:
        """The detected hardware and which source/model produces each number (ct_tracker_json)."""
        if not self._handle:
            raise CarbonTrackerError(1, "the tracker was closed")
        ptr = self._lib.ct_tracker_json(self._handle)
        if not ptr:
            self._check(7)
        try:
            return json.loads(ctypes.string_at(ptr).decode("utf-8"))
        finally:
            self._lib.ct_string_free(ptr)

    def close(self) -> None:
        """Frees the native tracker (stopping it first if it runs). Idempotent."""
        if self._handle:
            self._lib.ct_tracker_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        try:
            self.stop()
        finally:
            self.close()

    def __call__(self, func: Callable) -> Callable:
        """Decorator: a fresh tracker with these options runs around each call."""
        options = self._options

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)(**options):
                return func(*args, **kwargs)

        return wrapper


class EmissionsTracker(Tracker):
    """CodeCarbon-compatible names: ``flush()`` and ``stop()`` return kg CO2e (floats), and
    ``final_emissions_data`` holds the last numbers."""

    def flush(self) -> float:  # type: ignore[override]
        return super().flush().emissions_kg

    def stop(self) -> float:  # type: ignore[override]
        data = super().stop()
        self.final_emissions_data = data
        return data.emissions_kg


class OfflineEmissionsTracker(EmissionsTracker):
    """CodeCarbon's offline tracker: no network; give ``country_iso_code``."""

    def __init__(self, **options: Any):
        options.setdefault("offline", True)
        super().__init__(**options)


def track_emissions(func: Optional[Callable] = None, **options: Any) -> Callable:
    """CodeCarbon's decorator: ``@track_emissions`` or ``@track_emissions(project_name=...)``."""
    if func is not None and callable(func):
        return Tracker()(func)
    return Tracker(**options)
