"""CodeCarbon's built-in output handlers as names a user can import and give in
``output_handlers=[...]``:

- :class:`FileOutput` and :class:`HTTPOutput` run here, in Python: a CSV row (``append`` or
  ``update`` by run_id) and a JSON POST of each total;
- :class:`CodeCarbonAPIOutput`, :class:`PrometheusOutput` and :class:`LogfireOutput` are the
  native library's outputs: given to a CodeCarbon-named tracker they switch on its API,
  Prometheus Pushgateway or Logfire output with their settings (the tracker takes them out of its
  Python handlers). Called outside a tracker they log that and do nothing."""

from __future__ import annotations

import csv
import dataclasses
import getpass
import json
import logging
import os
import shutil
import urllib.request
from typing import Any, Dict, List, Optional

from ._base_output import BaseOutput

_log = logging.getLogger("codecarbon")


def _backup(path: str) -> None:
    """Moves ``path`` aside as ``path.bak`` (``.bak1``, ... if taken), as CodeCarbon does before
    writing a CSV whose header changed."""
    target, i = path + ".bak", 0
    while os.path.exists(target):
        i += 1
        target = f"{path}.bak{i}"
    shutil.move(path, target)


class FileOutput(BaseOutput):
    """One CSV row per ``out``: ``on_csv_write="append"`` adds it, ``"update"`` replaces the row
    of the same run_id. A file with other columns is backed up first (``<file>.bak``)."""

    def __init__(self, output_file_name: str, output_dir: str, on_csv_write: str = "append") -> None:
        if on_csv_write not in ("append", "update"):
            raise ValueError(f"Unknown `on_csv_write` value: {on_csv_write} (should be one of 'append' or 'update'")
        if not os.path.exists(output_dir):
            raise OSError(f"Folder '{output_dir}' doesn't exist !")
        self.output_file_name = output_file_name
        self.output_dir = output_dir
        self.on_csv_write = on_csv_write
        self.save_file_path = os.path.join(output_dir, output_file_name)
        _log.info(f"Emissions data (if any) will be saved to file {os.path.abspath(self.save_file_path)}")

    def _rows(self) -> Optional[List[Dict[str, str]]]:
        """The file's rows, None if it is missing or empty."""
        if not os.path.isfile(self.save_file_path) or os.path.getsize(self.save_file_path) == 0:
            return None
        with open(self.save_file_path, newline="") as f:
            return list(csv.DictReader(f))

    def has_valid_headers(self, data: Any, headers: Optional[List[str]] = None) -> bool:
        if headers is None:
            if not os.path.isfile(self.save_file_path) or os.path.getsize(self.save_file_path) == 0:
                return True
            with open(self.save_file_path, newline="") as f:
                headers = next(csv.reader(f), None)
            if headers is None:
                return True
        return sorted(headers) == sorted(data.values.keys())

    def out(self, total: Any, delta: Any) -> None:
        self._write(dict(total.values), total.run_id)

    def _write(self, row: Dict[str, Any], run_id: Optional[str]) -> None:
        columns = list(row)
        rows = self._rows()
        if rows is not None and rows and sorted(rows[0].keys()) != sorted(columns):
            _log.warning("The CSV format has changed, backing up old emission file.")
            _backup(self.save_file_path)
            rows = None
        if rows is None:
            rows = []
        elif self.on_csv_write == "update" and run_id is not None:
            same = [r for r in rows if r.get("run_id") == str(run_id)]
            if len(same) > 1:
                _log.warning(
                    f"CSV contains more than 1 ({len(same)}) rows with current run ID ({run_id}).Appending instead of updating."
                )
            else:
                rows = [r for r in rows if r.get("run_id") != str(run_id)]
        rows.append({k: "" if v is None else v for k, v in row.items()})
        with open(self.save_file_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    def task_out(self, data: List[Any], experiment_name: str) -> None:
        """The finished tasks, one row each, in ``emissions_<experiment_name>_<run_id>.csv`` beside
        the run's (rewritten each time); columns empty in every row are left out."""
        if not data:
            return
        path = os.path.join(self.output_dir, f"emissions_{experiment_name}_{data[0].run_id}.csv")
        columns = [c for c in data[0].values if any(d.values[c] is not None for d in data)]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(dict(d.values) for d in data)


class HTTPOutput(BaseOutput):
    """Each total POSTed as JSON (with the ``user`` name) to ``endpoint_url``; a status other than
    201 is logged."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def out(self, total: Any, delta: Any) -> None:
        try:
            payload = dataclasses.asdict(total)
            payload["user"] = getpass.getuser()
            request = urllib.request.Request(
                self.endpoint_url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status != 201:
                    _log.warning(f"HTTP Output returned an unexpected status code: {response.status}")
        except Exception as e:
            _log.error(e, exc_info=True)


class _NativeOutput(BaseOutput):
    """An output the native library makes: a tracker reads ``native_options`` and switches it on."""

    native_options: Dict[str, Any] = {}

    def out(self, total: Any, delta: Any) -> None:
        _log.error(f"{type(self).__name__} writes through a tracker: give it in output_handlers=[...]")


class CodeCarbonAPIOutput(_NativeOutput):
    """The CodeCarbon API output (``OutputMethod.API``) with these settings."""

    def __init__(self, endpoint_url: str, experiment_id: str, api_key: str, conf: Any = None) -> None:
        self.endpoint_url = endpoint_url
        self.native_options = {"save_to_api": True, "api_endpoint": endpoint_url, "experiment_id": experiment_id}
        if api_key:
            self.native_options["api_key"] = api_key


class PrometheusOutput(_NativeOutput):
    """The Prometheus Pushgateway output (``OutputMethod.PROMETHEUS``) to ``prometheus_url``."""

    def __init__(self, prometheus_url: str, job_name: str = "codecarbon") -> None:
        self.prometheus_url = prometheus_url
        self.job_name = job_name
        url = prometheus_url if "://" in prometheus_url else "http://" + prometheus_url
        self.native_options = {"save_to_prometheus": True, "prometheus_url": url}


class LogfireOutput(_NativeOutput):
    """The Logfire output (``OutputMethod.LOGFIRE``)."""

    def __init__(self) -> None:
        self.native_options = {"save_to_logfire": True}
