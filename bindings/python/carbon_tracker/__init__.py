"""carbon-tracker for Python: a ctypes binding of the carbon-tracker native library.

    from carbon_tracker import Tracker

    with Tracker(project_name="train", country_iso_code="FRA") as tracker:
        with tracker.task("epoch 1") as epoch:
            train()
        print(epoch.emissions.emissions_kg)        # the task's own numbers
        print(tracker.flush().emissions_kg)      # cumulative totals so far
        for step in range(steps):
            with tracker.region("solver"):       # regions: cheap, accumulated per name
                solve(step)
        for batch in tracker.progress(loader):   # progress reported as the loop goes
            step(batch)
            p = tracker.predict()                # predicted totals at completion, 90 % intervals

``Tracker`` is strict: every failure raises :class:`CarbonTrackerError`. CodeCarbon users can keep
their code: ``EmissionsTracker``, ``OfflineEmissionsTracker``, ``track_emissions``,
``TaskEmissionsTracker``, ``track_task_emissions`` and ``OutputMethod`` behave as CodeCarbon 3.3's
(failures logged on ``logging.getLogger("codecarbon")``, kg CO2e floats, ``EmissionsData``);
``carbon_tracker.output`` is ``codecarbon.output`` (``BaseOutput``, ``LoggerOutput``, ...).
The library's log lines go to ``logging.getLogger("carbon_tracker")`` (``"codecarbon"`` for the
CodeCarbon names).

The wheel carries the native library next to this file. ``$CARBON_TRACKER_LIB`` (a path) or, when
the package has none beside it, the system library path can provide another one.
"""

from ._codecarbon import (
    BaseEmissionsTracker,
    EmissionsTracker,
    OfflineEmissionsTracker,
    TaskEmissionsTracker,
    track_emissions,
    track_task_emissions,
)
from ._codecarbon_options import CodeCarbonOptions
from ._core import (
    CarbonTrackerError,
    Emissions,
    Status,
    TaskScope,
    Tracker,
    _CtEmissions,  # noqa: F401 (the ABI tests read its fields)
    escape_option_value,
    library_version,
    options_string,
)
from ._options import TrackerOptions
from ._prediction import BudgetState, Prediction, PredictionState
from ._regions import Region, RegionTotals
from .output import BaseOutput, EmissionsData, OutputMethod, TaskEmissionsData

__all__ = [
    "Tracker",
    "TrackerOptions",
    "CodeCarbonOptions",
    "TaskScope",
    "Region",
    "RegionTotals",
    "Emissions",
    "Prediction",
    "PredictionState",
    "BudgetState",
    "Status",
    "CarbonTrackerError",
    "EmissionsTracker",
    "OfflineEmissionsTracker",
    "BaseEmissionsTracker",
    "EmissionsData",
    "TaskEmissionsData",
    "BaseOutput",
    "OutputMethod",
    "TaskEmissionsTracker",
    "track_emissions",
    "track_task_emissions",
    "library_version",
    "options_string",
    "escape_option_value",
]
