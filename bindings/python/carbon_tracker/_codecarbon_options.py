"""The keyword arguments of CodeCarbon's names (``EmissionsTracker``, ``OfflineEmissionsTracker``,
``track_emissions``): the library's options and the CodeCarbon 3.3 parameters that only this
layer reads (``_codecarbon._HANDLER_KEYS``; tests/test_typing.py checks the lists agree)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ._options import TrackerOptions


class CodeCarbonOptions(TrackerOptions, total=False):
    logging_logger: Any
    """CodeCarbon's LoggerOutput target (``carbon_tracker.output.LoggerOutput``), with ``save_to_logger``."""

    output_handlers: Optional[Sequence[Any]]
    """CodeCarbon's extra output handlers (``carbon_tracker.output.BaseOutput`` subclasses), called as CodeCarbon calls them."""

    allow_multiple_runs: Optional[bool]
    """``False``: CodeCarbon's lock file, ``.codecarbon.lock`` in the temporary directory; a second tracker made while it
    exists logs an error and measures nothing. Default ``True`` (or ``$CODECARBON_ALLOW_MULTIPLE_RUNS``)."""

    metadata: Any
    """For ``OutputMethod.BOAMPS``: a dict or the path of a JSON file whose ``boamps`` section (or the whole dict)
    gives the BoAmps report's task, header, quality, infrastructure and environment."""
