"""CodeCarbon's module path for the task helpers: ``from codecarbon.emissions_tracker import
TaskEmissionsTracker`` becomes ``from carbon_tracker.emissions_tracker import ...``."""

from ._codecarbon import (
    BaseEmissionsTracker,
    EmissionsTracker,
    OfflineEmissionsTracker,
    TaskEmissionsTracker,
    track_emissions,
    track_task_emissions,
)

__all__ = [
    "BaseEmissionsTracker",
    "EmissionsTracker",
    "OfflineEmissionsTracker",
    "TaskEmissionsTracker",
    "track_emissions",
    "track_task_emissions",
]
