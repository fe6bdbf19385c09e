"""Regions on the strict :class:`Tracker`: named parts of a program entered many times (the phases
of a time step), accumulated per name by the library without a measurement at their boundaries.

    with tracker.region("solver"):      # a context manager ...
        solve()

    @tracker.region("io")               # ... and a decorator (each call of write is a call of "io")
    def write(): ...

    for r in tracker.regions():         # RegionTotals: calls, durations, energy, emissions
        print(r.name, r.calls, r.energy_consumed_kwh)
"""

from __future__ import annotations

import ctypes
from contextlib import ContextDecorator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol


class _CallGate(Protocol):
    """What the region methods use of the tracker's gate (``_core._Gate``)."""

    def enter(self) -> None: ...

    def leave(self) -> None: ...


@dataclass(frozen=True)
class RegionTotals:
    """One region's numbers since start (``"regions"`` of ``ct_tracker_json``). Calls and
    durations count every thread's calls; energies and emissions are the run's over the
    wall-clock time the region was open (``wall_s``), up to the last measurement."""

    name: str
    calls: int
    open_calls: int
    duration_s: float
    min_duration_s: float
    max_duration_s: float
    wall_s: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    energy_consumed_kwh: float
    emissions_kg: float
    water_consumed_l: float

    @classmethod
    def _from_json(cls, obj: Dict[str, Any]) -> RegionTotals:
        return cls(**{f.name: obj[f.name] for f in fields(cls)})


# Encoded names, kept: a loop entered millions of times encodes each name once.
_NAMES: Dict[str, bytes] = {}
_MAX_CACHED_NAMES = 4096


def _encoded(name: str) -> bytes:
    b = _NAMES.get(name)
    if b is None:
        b = name.encode("utf-8")
        if len(_NAMES) < _MAX_CACHED_NAMES:
            _NAMES[name] = b
    return b


def declare(lib: ctypes.CDLL) -> None:
    """The ctypes signatures of the region calls."""
    for fn in (lib.ct_tracker_region_begin, lib.ct_tracker_region_end):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        fn.restype = ctypes.c_int


class Region(ContextDecorator):
    """What ``Tracker.region(name)`` returns: each ``with`` block, or each call of a decorated
    function, is one call of the region (begun on entry, ended on exit; nesting, recursion and
    threads are fine). An exception from the body is never replaced by a failure of the end."""

    def __init__(self, tracker: RegionsMixin, name: str) -> None:
        self.name = name
        self._tracker = tracker

    def __enter__(self) -> Region:
        self._tracker.region_begin(self.name)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._tracker.region_end(self.name)
        except Exception:
            if exc_type is None:
                raise


class RegionsMixin:
    """The region methods of :class:`Tracker`."""

    if TYPE_CHECKING:
        _lib: ctypes.CDLL
        _handle: ctypes.c_void_p
        _gate: _CallGate

        def _check(self, status: int, emissions: Optional[Any] = None) -> None: ...

        def describe(self) -> Dict[str, Any]: ...

    def region_begin(self, name: str) -> None:
        """Begins a call of the region ``name`` on this thread (no measurement: cheap). A new
        name that is empty, over 256 bytes or with control characters is CT_ERR_INVALID_OPTION;
        after stop, CT_ERR_INVALID_STATE."""
        self._boundary(self._lib.ct_tracker_region_begin, name)

    def region_end(self, name: str) -> None:
        """Ends a call of the region ``name`` (the latest begun on this thread, else the oldest
        open). No open call of that name is CT_ERR_INVALID_STATE."""
        self._boundary(self._lib.ct_tracker_region_end, name)

    def _boundary(self, fn: Any, name: str) -> None:
        self._gate.enter()  # enter/leave, not the generator of call(): this is the hot path
        try:
            status = fn(self._handle, _encoded(name))
        finally:
            self._gate.leave()
        if status:
            self._check(status)

    def region(self, name: str) -> Region:
        """``with tracker.region("solver"): ...`` or ``@tracker.region("solver")``."""
        return Region(self, name)

    def regions(self) -> List[RegionTotals]:
        """Every region's totals so far, in the order they were first begun."""
        return [RegionTotals._from_json(r) for r in self.describe().get("regions", [])]
