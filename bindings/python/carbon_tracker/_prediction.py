"""Progress, predictions and budgets: the ctypes side of ``ct_tracker_set_progress``,
``ct_tracker_predict`` and ``ct_prediction`` (tests/test_prediction.py checks the layout and the
enum values against include/carbon_tracker.h)."""

from __future__ import annotations

import ctypes
import enum
from dataclasses import dataclass, fields
from typing import Any


class PredictionState(enum.IntEnum):
    """``ct_prediction_state``: whether a :class:`Prediction`'s predicted numbers are there."""

    CT_PREDICTION_NO_PROGRESS = 0
    CT_PREDICTION_NOT_ENOUGH_EVIDENCE = 1
    CT_PREDICTION_READY = 2


class BudgetState(enum.IntEnum):
    """``ct_budget_state``: where the run stands against its budgets (the worse of the two)."""

    CT_BUDGET_NONE = 0
    CT_BUDGET_BELOW = 1
    CT_BUDGET_PREDICTED_TO_EXCEED = 2
    CT_BUDGET_EXCEEDED = 3


class _CtPrediction(ctypes.Structure):
    # The layout of ct_prediction (the two enums are C ints).
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("state", ctypes.c_int),
        ("budget_state", ctypes.c_int),
        ("progress", ctypes.c_double),
        ("measured_duration_s", ctypes.c_double),
        ("measured_energy_kwh", ctypes.c_double),
        ("measured_emissions_kg", ctypes.c_double),
        ("predicted_duration_s", ctypes.c_double),
        ("predicted_duration_low_s", ctypes.c_double),
        ("predicted_duration_high_s", ctypes.c_double),
        ("predicted_energy_kwh", ctypes.c_double),
        ("predicted_energy_low_kwh", ctypes.c_double),
        ("predicted_energy_high_kwh", ctypes.c_double),
        ("predicted_emissions_kg", ctypes.c_double),
        ("predicted_emissions_low_kg", ctypes.c_double),
        ("predicted_emissions_high_kg", ctypes.c_double),
        ("time_left_s", ctypes.c_double),
        ("confidence", ctypes.c_double),
        ("energy_budget_kwh", ctypes.c_double),
        ("emissions_budget_kg", ctypes.c_double),
    ]


@dataclass(frozen=True)
class Prediction:
    """A run's predicted totals at completion (100 % progress) and its budget state: seconds,
    kWh (PUE included) and kg CO2e, each with a 90 % interval (``confidence``); the method is
    described in docs/predictions.md. The predicted numbers and
    ``time_left_s`` are NaN unless :attr:`ready`; ``progress`` is NaN before the first
    ``set_progress``. Budgets are 0 when not set."""

    state: PredictionState
    budget_state: BudgetState
    progress: float
    measured_duration_s: float
    measured_energy_kwh: float
    measured_emissions_kg: float
    predicted_duration_s: float
    predicted_duration_low_s: float
    predicted_duration_high_s: float
    predicted_energy_kwh: float
    predicted_energy_low_kwh: float
    predicted_energy_high_kwh: float
    predicted_emissions_kg: float
    predicted_emissions_low_kg: float
    predicted_emissions_high_kg: float
    time_left_s: float
    confidence: float
    energy_budget_kwh: float
    emissions_budget_kg: float

    @property
    def ready(self) -> bool:
        """Whether the predicted numbers are there (not enough evidence yet otherwise)."""
        return self.state == PredictionState.CT_PREDICTION_READY

    @classmethod
    def _from_c(cls, c: _CtPrediction) -> Prediction:
        values: dict[str, Any] = {f.name: getattr(c, f.name) for f in fields(cls)}
        values["state"] = PredictionState(c.state)
        values["budget_state"] = BudgetState(c.budget_state)
        return cls(**values)


def declare(lib: ctypes.CDLL) -> None:
    """The argument and result types of the two calls."""
    lib.ct_tracker_set_progress.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double]
    lib.ct_tracker_set_progress.restype = ctypes.c_int
    lib.ct_tracker_predict.argtypes = [ctypes.c_void_p, ctypes.POINTER(_CtPrediction)]
    lib.ct_tracker_predict.restype = ctypes.c_int
