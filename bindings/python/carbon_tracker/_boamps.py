"""The BoAmps report (Boavizta's JSON format for the energy of an AI/ML task) that CodeCarbon
3.3's ``OutputMethod.BOAMPS`` writes: ``boamps_report_<run_id>.json`` in ``output_dir`` at every
flush and stop, the run's measured numbers merged with what the user describes (``metadata=``:
the task, algorithms, datasets, publisher, quality...).

The sections the user gives are kept as written (BoAmps' camelCase keys); the measured ones are
filled in. Without a ``task`` the report lacks fields the BoAmps schema requires: a
``UserWarning`` says so, as CodeCarbon does."""

from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Any, Dict, List, Optional

from ._base_output import BaseOutput

_log = logging.getLogger("codecarbon")

FORMAT_VERSION = "0.1"
FORMAT_SPEC_URI = "https://github.com/Boavizta/BoAmps/tree/main/model"

# The parts of the user's infrastructure and environment sections that replace measured ones.
_INFRA_KEYS = ("cloudInstance", "cloudService", "infraType")
_ENV_KEYS = ("location", "powerSupplierType", "powerSource", "powerSourceCarbonIntensity")


def _plain(value: Any) -> Any:
    """A section as a JSON dict: dicts as given, objects with ``to_dict()`` (CodeCarbon's BoAmps
    dataclasses) through it; None values dropped, as BoAmps leaves unknown fields out."""
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _boamps_time(timestamp: str) -> str:
    """BoAmps writes dates as ``YYYY-MM-DD HH:MM:SS``."""
    return timestamp.replace("T", " ") if timestamp else timestamp


def _components(total: Any, user: Optional[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """CPU (cores: threads / 2, as CodeCarbon counts them), GPUs if any, RAM; a component the user
    describes (same ``componentType``) fills in its measured blanks, others are added."""
    threads = int(total.cpu_count or 0)
    measured: List[Dict[str, Any]] = [
        {"componentType": "cpu", "componentName": total.cpu_model, "nbComponent": max(1, threads // 2)}
    ]
    if total.gpu_count:
        gpu: Dict[str, Any] = {"componentType": "gpu", "nbComponent": int(total.gpu_count)}
        if total.gpu_model:
            gpu["componentName"] = total.gpu_model
        measured.append(gpu)
    measured.append({"componentType": "ram", "nbComponent": 1, "memorySize": total.ram_total_size})
    if not user:
        return measured
    by_type = {c["componentType"]: c for c in measured}
    merged, replaced = [], set()
    for given in user:
        kind = given.get("componentType")
        if kind in by_type:
            merged.append({**by_type[kind], **given})
            replaced.add(kind)
        else:
            merged.append(dict(given))
    return merged + [c for c in measured if c["componentType"] not in replaced]


def boamps_report(
    total: Any,
    task: Any = None,
    header: Any = None,
    quality: Optional[str] = None,
    infrastructure: Optional[Dict[str, Any]] = None,
    environment: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The report for ``total`` (an :class:`~carbon_tracker.output.EmissionsData`)."""
    report: Dict[str, Any] = {}
    head = {
        "formatVersion": FORMAT_VERSION,
        "formatVersionSpecificationUri": FORMAT_SPEC_URI,
        "reportId": total.run_id,
        "reportDatetime": _boamps_time(total.timestamp),
    }
    head.update({k: v for k, v in (_plain(header) or {}).items() if v})
    report["header"] = head
    task_dict = _plain(task)
    if task_dict is None:
        warnings.warn(
            "No BoAmps task context provided (metadata's task): the report lacks taskStage, "
            "taskFamily, algorithms and dataset and does not validate against the BoAmps schema.",
            UserWarning,
            stacklevel=3,
        )
    else:
        report["task"] = task_dict
    measure: Dict[str, Any] = {
        "measurementMethod": "codecarbon",
        "version": total.codecarbon_version,
        "powerConsumption": total.energy_consumed,  # kWh, as BoAmps asks
        "measurementDuration": total.duration,
        "measurementDateTime": _boamps_time(total.timestamp),
    }
    if total.cpu_utilization_percent > 0:
        measure["averageUtilizationCpu"] = round(total.cpu_utilization_percent / 100.0, 4)
    if total.gpu_count and total.gpu_utilization_percent > 0:
        measure["averageUtilizationGpu"] = round(total.gpu_utilization_percent / 100.0, 4)
    report["measures"] = [measure]
    report["system"] = {"os": total.os}
    report["software"] = {"language": "python", "version": total.python_version}
    infra_given = _plain(infrastructure) or {}
    on_cloud = total.on_cloud == "Y" or bool(total.cloud_provider)
    infra: Dict[str, Any] = {"infraType": "publicCloud" if on_cloud else "onPremise"}
    if on_cloud and total.cloud_provider:
        infra["cloudProvider"] = total.cloud_provider
    infra.update({k: infra_given[k] for k in _INFRA_KEYS if k in infra_given})
    infra["components"] = _components(total, infra_given.get("components"))
    report["infrastructure"] = infra
    env: Dict[str, Any] = {"country": total.country_name, "latitude": total.latitude, "longitude": total.longitude}
    env_given = _plain(environment) or {}
    env.update({k: env_given[k] for k in _ENV_KEYS if k in env_given})
    report["environment"] = {k: v for k, v in env.items() if v is not None}
    if quality is not None:
        report["quality"] = quality
    return report


class BoAmpsOutput(BaseOutput):
    """CodeCarbon's ``BoAmpsOutput`` handler: writes ``boamps_report_<run_id>.json`` into
    ``output_dir`` (made if missing) at each ``out``; ``save_file_path`` is the last one written.
    ``task``/``header`` are BoAmps sections (dicts with the schema's camelCase keys, or objects
    with ``to_dict()``); ``from_dict``/``from_file`` take a whole BoAmps context."""

    def __init__(
        self,
        output_dir: str = ".",
        task: Any = None,
        header: Any = None,
        quality: Optional[str] = None,
        infra_overrides: Optional[Dict[str, Any]] = None,
        environment_overrides: Optional[Dict[str, Any]] = None,
    ) -> None:
        os.makedirs(output_dir, exist_ok=True)
        self._output_dir = output_dir
        self._task = task
        self._header = header
        self._quality = quality
        self._infra_overrides = infra_overrides
        self._environment_overrides = environment_overrides
        self.save_file_path: Optional[str] = None

    @classmethod
    def from_dict(cls, context: Dict[str, Any], output_dir: str = ".") -> BoAmpsOutput:
        """From a BoAmps context (``task``, ``header``, ``quality``, ``infrastructure``,
        ``environment``; other keys ignored)."""
        if not isinstance(context, dict):
            raise TypeError(f"BoAmps metadata must be a dict, got {type(context).__name__}.")
        return cls(
            output_dir=output_dir,
            task=context.get("task"),
            header=context.get("header"),
            quality=context.get("quality"),
            infra_overrides=context.get("infrastructure"),
            environment_overrides=context.get("environment"),
        )

    @classmethod
    def from_file(cls, context_file_path: str, output_dir: str = ".") -> BoAmpsOutput:
        try:
            with open(context_file_path) as f:
                context = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"BoAmps context file not found: {context_file_path}") from None
        return cls.from_dict(context, output_dir=output_dir)

    def out(self, total: Any, delta: Any) -> None:
        try:
            report = boamps_report(
                total, self._task, self._header, self._quality, self._infra_overrides, self._environment_overrides
            )
            path = os.path.join(self._output_dir, f"boamps_report_{total.run_id}.json")
            with open(path, "w") as f:
                json.dump(report, f, indent=2)
            self.save_file_path = path
            _log.info(f"BoAmps report saved to {os.path.abspath(path)}")
        except Exception as e:  # an output never breaks the run
            _log.error(f"Failed to write BoAmps report: {e}", exc_info=True)

    def live_out(self, total: Any, delta: Any) -> None:
        """Nothing: a BoAmps report describes a whole run."""

    def task_out(self, data: List[Any], experiment_name: str) -> None:
        pass

    def exit(self) -> None:
        pass


def from_metadata(metadata: Any, output_dir: str) -> BoAmpsOutput:
    """The BoAmps output of a tracker given ``metadata=``: a dict or the path of a JSON file; its
    ``boamps`` section (or, without one, the whole dict) is the BoAmps context. A file that is
    missing or not JSON is logged and a bare report written, as CodeCarbon does."""
    if isinstance(metadata, (str, os.PathLike)) and str(metadata):
        try:
            with open(metadata) as f:
                metadata = json.load(f)
        except FileNotFoundError:
            _log.error(f"Metadata file not found: {metadata}")
            metadata = None
        except json.JSONDecodeError as e:
            _log.error(f"Invalid JSON in metadata file '{metadata}': {e}")
            metadata = None
    if isinstance(metadata, dict):
        context = metadata.get("boamps", metadata)
        if isinstance(context, dict) and context:
            return BoAmpsOutput.from_dict(context, output_dir=output_dir)
    return BoAmpsOutput(output_dir=output_dir)
