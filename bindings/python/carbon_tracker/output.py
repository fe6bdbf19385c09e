"""CodeCarbon's ``codecarbon.output`` names: the records a tracker hands out (:class:`EmissionsData`,
:class:`TaskEmissionsData`), :class:`OutputMethod`, and the output handlers a user gives to a
CodeCarbon-named tracker (``output_handlers=[...]``, ``logging_logger=...``): subclasses of
:class:`BaseOutput`, :class:`LoggerOutput`, :class:`GoogleCloudLoggerOutput`.

A tracker calls each handler as CodeCarbon 3.3 does: ``out(total, delta)`` at every flush and
stop, ``live_out(total, delta)`` every ``api_call_interval`` measurements, ``task_out(tasks,
experiment_name)`` at flush and stop once tasks have finished, ``exit()`` at stop. ``total`` holds
the run's cumulative numbers, ``delta`` those since the previous call to any handler.

The built-in outputs (CSV, CodeCarbon API, Prometheus, Logfire, logger) are the native library's,
chosen with ``output_methods``/``save_to_*``; CodeCarbon's handler classes for them
(:class:`FileOutput`, :class:`HTTPOutput`, :class:`CodeCarbonAPIOutput`,
:class:`PrometheusOutput`, :class:`LogfireOutput`) and :class:`BoAmpsOutput` can also be given in
``output_handlers``."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from typing import Any, Optional

from ._base_output import BaseOutput
from ._boamps import BoAmpsOutput
from ._builtin_outputs import CodeCarbonAPIOutput, FileOutput, HTTPOutput, LogfireOutput, PrometheusOutput
from ._records import EmissionsData, TaskEmissionsData

_log = logging.getLogger("codecarbon")


class OutputMethod(str, enum.Enum):
    """CodeCarbon's output methods. ``BOAMPS`` writes a BoAmps JSON report
    (:class:`BoAmpsOutput`, with the tracker's ``metadata=``)."""

    CSV = "csv"
    API = "api"
    LOGGER = "logger"
    PROMETHEUS = "prometheus"
    LOGFIRE = "logfire"
    BOAMPS = "boamps"


class LoggerOutput(BaseOutput):
    """Each total as one JSON line (``dataclasses.asdict``) on ``logger`` at ``severity``: give it
    as ``logging_logger=`` with ``save_to_logger=True`` or ``OutputMethod.LOGGER``."""

    def __init__(self, logger: Any, severity: int = logging.INFO) -> None:
        self.logger = logger
        self.logging_severity = severity

    def out(self, total: EmissionsData, delta: Optional[EmissionsData]) -> None:
        try:
            self.logger.log(self.logging_severity, msg=json.dumps(dataclasses.asdict(total)))
        except Exception as e:
            _log.error(e, exc_info=True)

    def live_out(self, total: EmissionsData, delta: Optional[EmissionsData]) -> None:
        self.out(total, None)


class GoogleCloudLoggerOutput(LoggerOutput):
    """Each total as a structured entry of a Google Cloud Logging logger (``log_struct``)."""

    def out(self, total: EmissionsData, delta: Optional[EmissionsData]) -> None:
        try:
            self.logger.log_struct(dataclasses.asdict(total), severity=self.logging_severity)
        except Exception as e:
            _log.error(e, exc_info=True)


__all__ = [
    "BaseOutput",
    "BoAmpsOutput",
    "CodeCarbonAPIOutput",
    "EmissionsData",
    "FileOutput",
    "GoogleCloudLoggerOutput",
    "HTTPOutput",
    "LogfireOutput",
    "LoggerOutput",
    "OutputMethod",
    "PrometheusOutput",
    "TaskEmissionsData",
]
