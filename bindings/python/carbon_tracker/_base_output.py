"""The base class of CodeCarbon's output handlers (``codecarbon.output.BaseOutput``): its own
module so that the handlers of other modules (BoAmps, file, HTTP) subclass it without an import
cycle through :mod:`carbon_tracker.output`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ._records import EmissionsData


class BaseOutput:
    """Subclass it and override what you need; every method does nothing by default.

    - ``out(total, delta)``: at each ``flush()`` and ``stop()``;
    - ``live_out(total, delta)``: every ``api_call_interval`` measurements while the run goes on;
    - ``task_out(tasks, experiment_name)``: at ``flush()``/``stop()`` once tasks have finished
      (a list of :class:`TaskEmissionsData`);
    - ``exit()``: at ``stop()``, after the last ``out``.
    An exception raised by a handler is logged on the ``codecarbon`` logger; the run goes on."""

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        pass

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        pass

    def task_out(self, data: List[Any], experiment_name: str) -> None:
        pass

    def exit(self) -> None:
        pass
