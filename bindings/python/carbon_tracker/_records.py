"""The records a tracker hands out, :class:`EmissionsData` and :class:`TaskEmissionsData`, as
CodeCarbon's ``codecarbon.output`` has them (their public home is :mod:`carbon_tracker.output`;
they live here so that the output handlers' base class can name them without importing
``output``)."""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional


@dataclass
class EmissionsData:
    """CodeCarbon's ``EmissionsData``: the same attribute names, order and units (kg, kWh, W, s)."""

    timestamp: str
    project_name: str
    run_id: str
    experiment_id: str
    duration: float
    emissions: float
    emissions_rate: float
    cpu_power: float
    gpu_power: float
    ram_power: float
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    water_consumed: float
    country_name: Optional[str]
    country_iso_code: Optional[str]
    region: Optional[str]
    cloud_provider: str
    cloud_region: str
    os: str
    python_version: str
    codecarbon_version: str
    cpu_count: float
    cpu_model: str
    gpu_count: float
    gpu_model: str
    longitude: Optional[float]
    latitude: Optional[float]
    ram_total_size: float
    tracking_mode: str
    cpu_utilization_percent: float = 0.0
    gpu_utilization_percent: float = 0.0
    ram_utilization_percent: float = 0.0
    ram_used_gb: float = 0.0
    on_cloud: str = "N"
    pue: float = 1
    wue: float = 0

    @property
    def values(self) -> "OrderedDict[str, Any]":
        return OrderedDict((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))

    def compute_delta_emission(self, previous_emission: EmissionsData) -> None:
        """Turns these totals into the difference from ``previous_emission`` (durations,
        emissions, energies, water; powers and utilisation stay the run's means)."""
        delta_duration = self.duration - previous_emission.duration
        delta_emissions = self.emissions - previous_emission.emissions
        self.duration = delta_duration
        self.emissions = delta_emissions
        self.cpu_energy -= previous_emission.cpu_energy
        self.gpu_energy -= previous_emission.gpu_energy
        self.ram_energy -= previous_emission.ram_energy
        self.energy_consumed -= previous_emission.energy_consumed
        self.water_consumed -= previous_emission.water_consumed
        self.emissions_rate = delta_emissions / delta_duration if delta_duration > 0 else 0

    def toJSON(self) -> str:  # noqa: N802 (CodeCarbon's name)
        return json.dumps(self.values, sort_keys=True, indent=4)


# A task's record has EmissionsData's fields but experiment_id, pue and wue, after its name.
_TASK_FIELDS = [f for f in dataclasses.fields(EmissionsData) if f.name not in ("experiment_id", "pue", "wue")]

# Made from EmissionsData's fields, so the two cannot drift (tests compare both with CodeCarbon's).
TaskEmissionsData: Any = dataclasses.make_dataclass(
    "TaskEmissionsData",
    [("task_name", str)]
    + [
        (f.name, f.type, dataclasses.field(default=f.default))
        if f.default is not dataclasses.MISSING
        else (f.name, f.type)
        for f in _TASK_FIELDS
    ],
    namespace={
        "__doc__": "CodeCarbon's ``TaskEmissionsData``: one finished task, as in its task file.",
        "values": property(lambda self: OrderedDict((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))),
        "__module__": __name__,
    },
)


def task_emissions_data(task_name: str, data: EmissionsData) -> Any:
    """A task's record from its numbers."""
    return TaskEmissionsData(task_name=task_name, **{f.name: getattr(data, f.name) for f in _TASK_FIELDS})


# Their public module, as where CodeCarbon defines them (set once they are made: dataclasses look
# their module up while making them).
EmissionsData.__module__ = TaskEmissionsData.__module__ = "carbon_tracker.output"
