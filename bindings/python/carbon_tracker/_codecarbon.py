"""CodeCarbon's names over the native tracker, behaving as CodeCarbon 3.3.x does for its users:

- the constructor takes CodeCarbon 3.3.2's parameters, positionally in its order; options this
  version does not implement but that change nothing here (``allow_multiple_runs=True``,
  ``metadata``) are accepted, the others are logged and ignored;
- outputs: ``output_methods``/``save_to_*`` choose the library's CSV, API, Prometheus, Logfire
  and logger outputs; ``output_handlers`` (:class:`carbon_tracker.output.BaseOutput`
  subclasses) and ``logging_logger`` (:class:`~carbon_tracker.output.LoggerOutput`) are called
  from here as CodeCarbon calls them;
- a bad value (an argument, ``CODECARBON_*`` or ``.codecarbon.config``) is logged and ignored,
  as CodeCarbon does (the library's ``on_invalid_value=ignore``); ``start()`` after ``stop()``
  measures again, continuing the run (``restart_after_stop``);
- failures are logged on ``logging.getLogger("codecarbon")`` where CodeCarbon logs them, never
  raised: start twice, flush/stop before start, a second stop (same value again), an output that
  fails at stop (the numbers are still returned). So a user's exception inside ``with`` and a
  decorated function's return value are never replaced. As in CodeCarbon, ``EmissionsTracker``
  raises for a missing ``output_dir`` or an unknown output method, while
  ``OfflineEmissionsTracker`` logs its constructor's errors and then measures nothing;
- ``flush()``/``stop()`` return kg CO2e (floats), ``final_emissions_data`` and ``stop_task()``
  return an :class:`EmissionsData` with CodeCarbon's attribute names;
- tasks: ``start_task`` starts the tracker if needed; as in CodeCarbon, one task at a time (a
  second ``start_task`` while one runs is ignored with a warning), ``stop_task()`` without a name
  stops it. Unlike CodeCarbon, the run's own measurement goes on while a task runs and the run's
  duration is the whole run's (CodeCarbon restarts the run's clock at each task: the duration it
  would report is logged at ``stop()``);
- ``allow_multiple_runs=False``: CodeCarbon's lock file (:mod:`._run_lock`), a second tracker
  refuses to measure;
- on a Slurm rank other than local rank 0 in machine mode the node is counted once for the whole
  job (the library's ``job_count_node_once``), so CodeCarbon's warning that the job's total is
  multiplied does not apply: an info line says so.

The strict interface (typed exceptions) is :class:`carbon_tracker.Tracker`."""

from __future__ import annotations

import configparser
import dataclasses
import datetime
import functools
import logging
import os
import platform
import sys
import threading
import time
import uuid
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar, cast, overload

from . import _boamps, _logging
from ._builtin_outputs import _NativeOutput
from ._codecarbon_options import CodeCarbonOptions
from ._core import CarbonTrackerError, Emissions, Status, Tracker, library_version
from ._options import OPTION_KEYS
from ._records import task_emissions_data
from ._run_lock import RunLock
from .output import EmissionsData, OutputMethod

if TYPE_CHECKING:  # typing_extensions only for the type checker: no runtime dependency
    from typing_extensions import Unpack

logger = logging.getLogger(_logging.CODECARBON_LOGGER)

DEFAULT_EXPERIMENT_ID = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1"

# CodeCarbon 3.3.2's BaseEmissionsTracker.__init__ parameters, in order (positional use).
TRACKER_PARAMETERS: Tuple[str, ...] = (
    "project_name", "measure_power_secs", "api_call_interval", "api_endpoint", "api_key",
    "output_dir", "output_file", "output_methods", "save_to_file", "save_to_api",
    "save_to_logger", "logging_logger", "save_to_prometheus", "save_to_logfire", "prometheus_url",
    "output_handlers", "gpu_ids", "emissions_endpoint", "experiment_id", "experiment_name",
    "electricitymaps_api_token", "co2_signal_api_token", "tracking_mode", "log_level",
    "on_csv_write", "logger_preamble", "force_cpu_power", "force_ram_power", "pue", "wue",
    "force_carbon_intensity_g_co2e_kwh", "force_mode_cpu_load", "allow_multiple_runs",
    "rapl_include_dram", "rapl_prefer_psys", "metadata",
)  # fmt: skip

# track_emissions(fn, ...) parameters after fn, in CodeCarbon 3.3.2's order.
DECORATOR_PARAMETERS: Tuple[str, ...] = (
    "project_name", "measure_power_secs", "api_call_interval", "api_endpoint", "api_key",
    "output_dir", "output_file", "output_methods", "save_to_file", "save_to_api",
    "save_to_logger", "logging_logger", "save_to_prometheus", "save_to_logfire", "prometheus_url",
    "output_handlers", "gpu_ids", "emissions_endpoint", "experiment_id", "experiment_name",
    "electricitymaps_api_token", "co2_signal_api_token", "tracking_mode", "log_level",
    "on_csv_write", "logger_preamble", "offline", "country_iso_code", "region", "cloud_provider",
    "cloud_region", "country_2letter_iso_code", "force_cpu_power", "force_ram_power", "pue", "wue",
    "force_carbon_intensity_g_co2e_kwh", "allow_multiple_runs", "rapl_include_dram",
    "rapl_prefer_psys",
)  # fmt: skip

# What OfflineEmissionsTracker adds (keyword-only in CodeCarbon).
OFFLINE_PARAMETERS = ("country_iso_code", "region", "cloud_provider", "cloud_region", "country_2letter_iso_code")

# Every keyword the CodeCarbon names take: CodeCarbon's, and the library's options.
_KNOWN_KEYWORDS = frozenset(TRACKER_PARAMETERS + DECORATOR_PARAMETERS + OFFLINE_PARAMETERS + OPTION_KEYS)

# CodeCarbon's decorator does not give these to its offline tracker.
_NOT_OFFLINE = ("api_call_interval", "api_endpoint", "api_key", "save_to_api", "emissions_endpoint",
                "experiment_id", "experiment_name")  # fmt: skip

# Taken here, not by the library: the Python objects of the outputs called from this layer,
# BoAmps' metadata and the lock's switch.
_HANDLER_KEYS = ("output_handlers", "logging_logger", "metadata", "allow_multiple_runs")

# Always on for the CodeCarbon names: bad values are logged and ignored, start after stop
# measures again.
_CODECARBON_BEHAVIOUR = {"on_invalid_value": "ignore", "restart_after_stop": True}

_SAVE_TO = ("save_to_file", "save_to_api", "save_to_logger", "save_to_prometheus", "save_to_logfire")

# measure_power_secs: CodeCarbon takes any number (0 re-arms its timer at once); the library's range.
_MIN_PERIOD_S, _MAX_PERIOD_S = 0.01, 86_400.0

_LEVEL_NAMES = {
    "CRITICAL": 50,
    "FATAL": 50,
    "ERROR": 40,
    "WARN": 30,
    "WARNING": 30,
    "INFO": 20,
    "DEBUG": 10,
    "NOTSET": 0,
}


def _gpu_model(gpus: List[Dict[str, Any]]) -> str:
    counts: Dict[str, int] = {}
    for gpu in gpus:
        name = str(gpu.get("name", ""))
        counts[name] = counts.get(name, 0) + 1
    return "".join(f"{n} x {name}" for name, n in counts.items())


def _level(value: Any) -> Optional[Tuple[int, str]]:
    """A CodeCarbon log level (name in any case, or 0/10/.../50) as (Python level, library
    level name); None (after logging an error, as CodeCarbon does) for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in (0, 10, 20, 30, 40, 50):
            logger.error(f"Unknown int log level: {value}. Doing nothing.")
            return None
        number = value
    elif isinstance(value, str):
        if value.upper() not in _LEVEL_NAMES:
            logger.error(f"Unknown str log level: {value}. Doing nothing.")
            return None
        number = _LEVEL_NAMES[value.upper()]
    else:
        logger.error(f"Unknown log level: {value}. Doing nothing.")
        return None
    # NOTSET lets every line through, as in CodeCarbon
    return number, str(max(number, 10))


def _configure_codecarbon_logger(level: Optional[Any]) -> Optional[str]:
    """As CodeCarbon does on import and at construction: one stderr handler in its line format
    (file handlers and other non-stream handlers the user added are kept), no propagation, the
    level from ``log_level`` (else ``$CODECARBON_LOG_LEVEL``, else info). Returns the level for
    the library, or None to leave it to the library's own configuration."""
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter("[%(name)s %(levelname)s @ %(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    logger.handlers = [
        h for h in logger.handlers if isinstance(h, logging.FileHandler) or not isinstance(h, logging.StreamHandler)
    ]
    logger.addHandler(stream)
    logger.propagate = False
    if level is None:
        env = {k.lower(): v for k, v in os.environ.items()}
        level = env.get("codecarbon_log_level", "info")
    parsed = _level(level)
    if parsed is None:
        return None
    logger.setLevel(parsed[0])
    return parsed[1]


def _output_methods(value: Any) -> List[str]:
    """The methods' names, BoAmps' included (written from this layer, the others by the library)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    methods = []
    for item in items:
        name = item.value if isinstance(item, OutputMethod) else str(item).strip().lower()
        try:
            method = OutputMethod(name)
        except ValueError:
            raise ValueError(f"Invalid output method: {item!r}; valid: {[m.value for m in OutputMethod]}") from None
        methods.append(method.value)
    return methods


_NO_OUTPUT = {k: False for k in _SAVE_TO}


def _prometheus_url(url: Any) -> str:
    """CodeCarbon's default is ``localhost:9091`` (prometheus_client adds the scheme)."""
    text = str(url).strip()
    return text if "://" in text else "http://" + text


def _library_options(given: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Any]]:
    """CodeCarbon's arguments as the library's options (CodeCarbon-only ones filtered out), and
    the output handlers this layer calls (``output_handlers``, then ``logging_logger`` when the
    logger output is chosen, as CodeCarbon orders them)."""
    if any(k in given for k in _SAVE_TO):
        warnings.warn(
            "The save_to_* parameters are deprecated and will be removed in a future version. "
            "Use output_methods=[OutputMethod.CSV, ...] instead.",
            DeprecationWarning,
            stacklevel=4,
        )
    # A copy: CodeCarbon appends its built-in outputs to the caller's list. CodeCarbon's handler
    # classes for the library's own outputs (API, Prometheus, Logfire) switch those on instead.
    handlers: List[Any] = [h for h in given.get("output_handlers") or [] if not isinstance(h, _NativeOutput)]
    logging_logger = given.get("logging_logger")
    options: Dict[str, Any] = {}
    for key, value in given.items():
        if key in _HANDLER_KEYS:
            continue
        if key == "output_methods" and value is not None:
            methods = _output_methods(value)
            if "logger" in methods and logging_logger is not None:
                methods.remove("logger")  # that logger is called from here
                handlers.append(logging_logger)
            if "boamps" in methods:  # written from here, last as in CodeCarbon
                methods.remove("boamps")
                handlers.append(_boamps.from_metadata(given.get("metadata"), str(given.get("output_dir") or ".")))
            if methods:
                options[key] = methods
            else:  # no output of the library's
                options.update(_NO_OUTPUT)
            continue
        if key == "save_to_logger" and value and logging_logger is not None and given.get("output_methods") is None:
            handlers.append(logging_logger)
            value = False
        if key == "prometheus_url" and value is not None:
            value = _prometheus_url(value)
        if key == "co2_signal_api_token" and value is not None:
            logger.warning(
                "Parameter 'co2_signal_api_token' is deprecated and will be removed in a future version. "
                "Please use 'electricitymaps_api_token' instead."
            )
            if given.get("electricitymaps_api_token") is None:
                options["electricitymaps_api_token"] = value
            continue
        if key == "measure_power_secs" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not _MIN_PERIOD_S <= value <= _MAX_PERIOD_S:
                clamped = min(max(float(value), _MIN_PERIOD_S), _MAX_PERIOD_S)
                logger.info(f"measure_power_secs={value}: measuring every {clamped} s")
                value = clamped
        options[key] = value
    for native in (h for h in given.get("output_handlers") or [] if isinstance(h, _NativeOutput)):
        settings = dict(native.native_options)
        switch = next(k for k in settings if k.startswith("save_to_"))
        del settings[switch]
        options.update(settings)
        if isinstance(options.get("output_methods"), list):
            options["output_methods"].append(switch[len("save_to_") :])
        else:
            options[switch] = True
    if any(not callable(getattr(h, "out", None)) for h in handlers):
        raise TypeError(
            "output_handlers: each handler needs out(total, delta) (subclass carbon_tracker.output.BaseOutput)"
        )
    return options, handlers


def _config_file_value(key: str) -> Optional[str]:
    """``key`` of the ``[codecarbon]`` section of ``./.codecarbon.config``, else of
    ``~/.codecarbon.config`` (CodeCarbon's order), None when neither has it."""
    for path in (os.path.join(os.getcwd(), ".codecarbon.config"), os.path.expanduser("~/.codecarbon.config")):
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        if parser.has_option("codecarbon", key):
            return parser.get("codecarbon", key)
    return None


class _LayerKeys(logging.Filter):
    """The library does not implement ``allow_multiple_runs`` and says so when it reads it from
    the environment or a file; this layer does (the lock file), so that line is dropped here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "allow_multiple_runs: this CodeCarbon option is not implemented" not in record.getMessage()


logger.addFilter(_LayerKeys())


def _allow_multiple_runs(value: Any) -> bool:
    """CodeCarbon's ``allow_multiple_runs``: the argument, else ``CODECARBON_ALLOW_MULTIPLE_RUNS``
    (true/false, yes/no, 1/0), else ``.codecarbon.config``, else true (CodeCarbon 3.3's default)."""
    if value is None:
        env = {k.lower(): v for k, v in os.environ.items()}
        value = env.get("codecarbon_allow_multiple_runs") or _config_file_value("allow_multiple_runs")
        if value is None:
            return True
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("false", "no", "0", "off"):
            return False
        if text in ("true", "yes", "1", "on"):
            return True
        logger.error(f"allow_multiple_runs={value!r}: not a boolean; multiple runs allowed (the default)")
        return True
    return bool(value)


def _note_slurm_rank(d: Dict[str, Any]) -> None:
    """CodeCarbon warns on a Slurm local rank other than 0 in machine mode that each rank
    measures the whole node, multiplying the job's total. Here the ranks share the node's energy
    (``job_count_node_once``), so that warning would be wrong: an info line says what CodeCarbon's
    users would have seen, and why it does not apply. With the sharing off, the warning holds."""
    local_id = os.environ.get("SLURM_LOCALID", "")
    if d.get("tracking_mode") != "machine" or not local_id.isdigit() or int(local_id) == 0:
        return
    per_node = os.environ.get("SLURM_STEP_TASKS_PER_NODE", os.environ.get("SLURM_TASKS_PER_NODE", "?"))
    job = d.get("job") or {}
    if job.get("count_node_once"):
        logger.info(
            f"tracking_mode is 'machine' on SLURM local rank {local_id} (tasks per node: {per_node}). CodeCarbon 3.3.2 "
            "warns here that each rank measures the whole node and the job's total is multiplied; carbon-tracker "
            "shares the node's energy among the job's ranks (job_count_node_once), so the node is counted once."
        )
    else:
        logger.warning(
            f"tracking_mode is 'machine' on SLURM local rank {local_id} (tasks per node: {per_node}). If more than "
            "one rank per node starts a tracker, each one measures the whole node and the job's total is multiplied. "
            "Start the tracker only on SLURM_LOCALID == 0, use tracking_mode='process', or job_count_node_once=true."
        )


def _check_keywords(kwargs: Dict[str, Any], what: str) -> None:
    """A keyword that is neither CodeCarbon's nor the library's is CodeCarbon's TypeError (Python's
    own for an unexpected keyword), not a CarbonTrackerError."""
    for key in kwargs:
        if key not in _KNOWN_KEYWORDS:
            raise TypeError(f"{what}.__init__() got an unexpected keyword argument {key!r}")


def _positional(names: Tuple[str, ...], args: Tuple[Any, ...], kwargs: Dict[str, Any], what: str) -> Dict[str, Any]:
    if len(args) > len(names):
        raise TypeError(f"{what} takes at most {len(names)} positional arguments ({len(args)} given)")
    given = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in given:
            raise TypeError(f"{what} got multiple values for argument {key!r}")
        given[key] = value
    return given


class _Task:
    """An entry of ``tracker._tasks`` (CodeCarbon's ``Task``, read by its ``task_inference.py``
    example): ``task_name``, ``is_active``, and ``emissions_data`` once it has stopped."""

    def __init__(self, task_name: str) -> None:
        self.task_id = task_name + str(uuid.uuid4())
        self.task_name = task_name
        self.start_time = time.perf_counter()
        self.is_active = True
        self.emissions_data: Optional[EmissionsData] = None

    def out(self) -> Any:
        assert self.emissions_data is not None, "the task has not stopped"
        return task_emissions_data(self.task_name, self.emissions_data)


class BaseEmissionsTracker:
    """The tracker behind CodeCarbon's ``EmissionsTracker`` and ``OfflineEmissionsTracker``.

    Keyword arguments that are not CodeCarbon's but the library's (``api_timeout_s``,
    ``rapl_dir``, ...) are passed on to it."""

    _offline = False

    # None when the construction failed (OfflineEmissionsTracker only: CodeCarbon's swallows its
    # constructor's errors); every method then logs and returns None.
    _tracker: Optional[_CodeCarbonNative] = None

    def __init__(self, *args: Any, **kwargs: Unpack[CodeCarbonOptions]) -> None:
        self.final_emissions: Optional[float] = None
        self.final_emissions_data: Optional[EmissionsData] = None
        self._lock = threading.Lock()
        self._state = "created"
        self._running_tasks: List[Tuple[str, str]] = []  # (name asked for, name used), oldest first
        self._tasks: Dict[str, _Task] = {}
        self._run_id: Optional[uuid.UUID] = None
        self._last_description: Dict[str, Any] = {}
        self._handlers: List[Any] = []
        # The handlers' state: the total of the previous call (deltas), the measurements
        # already counted for live_out, and the thread that calls live_out while running.
        self._handlers_lock = threading.RLock()
        self._previous: Optional[EmissionsData] = None
        self._live_counted = 0
        self._live_stop = threading.Event()
        self._live_thread: Optional[threading.Thread] = None
        self._run_lock: Optional[RunLock] = None
        self._another_instance_already_running = False
        self._last_task_start: Optional[float] = None  # perf_counter, for CodeCarbon's run duration
        _check_keywords(dict(kwargs), type(self).__name__)
        given = _positional(TRACKER_PARAMETERS, args, dict(kwargs), type(self).__name__)
        library_level = _configure_codecarbon_logger(given.pop("log_level", None))
        output_dir = given.get("output_dir")
        if output_dir is not None and not os.path.exists(str(output_dir)):
            raise OSError(f"Folder '{output_dir}' doesn't exist !")
        options, self._handlers = _library_options(given)
        if not _allow_multiple_runs(given.get("allow_multiple_runs")):
            self._run_lock = RunLock()
            if not self._run_lock.acquire():
                self._run_lock = None
                self._another_instance_already_running = True
        if library_level is not None:
            options["log_level"] = library_level
        if self._offline:
            # CodeCarbon's offline tracker only skips the location lookup: it still uploads, and
            # asks Electricity Maps, when configured to.
            options.setdefault("location_lookup", False)
        for key, value in _CODECARBON_BEHAVIOUR.items():
            options.setdefault(key, value)
        # CodeCarbon gives a process-mode tracker the whole GPU: kept unless the argument or
        # $CODECARBON_GPU_SHARE asks for the split (docs/gpu-sharing.md).
        if not any(k.lower() == "codecarbon_gpu_share" for k in os.environ):
            options.setdefault("gpu_share", "whole")
        self._tracker = _CodeCarbonNative(**options)
        self._tracker._user_class_name = type(self).__name__
        _note_slurm_rank(self._description())

    # -- CodeCarbon's public methods and attributes ----------------------------------------------

    def _native(self) -> Optional[_CodeCarbonNative]:
        if self._another_instance_already_running:
            logger.warning("Another instance of codecarbon is already running. Exiting.")
            return None
        if self._tracker is None:
            logger.error("Tracker not initialized. Please check the logs.")
        return self._tracker

    def start(self) -> None:
        """Starts measuring; after ``stop()``, measures again, continuing the run (its totals,
        ``run_id`` and tasks go on, the time stopped is not counted)."""
        tracker = self._native()
        if tracker is None:
            return
        with self._lock:
            if self._state == "running":
                logger.warning("Already started tracking")
                return
            previous, self._state = self._state, "running"
        if self._guard("start", tracker.start):
            self._start_live_outputs(tracker)
        else:
            self._state = previous

    def flush(self) -> Optional[float]:
        """Writes a row with the totals so far and returns the emissions so far (kg CO2e)."""
        tracker = self._native()
        if tracker is None:
            return None
        if self._state != "running":
            logger.error("You first need to start the tracker.")
            return None
        data = self._numbers("flush", tracker.flush)
        if data is None:
            return None
        self._to_handlers(data)
        return data.emissions_kg

    def stop(self) -> Optional[float]:
        """Stops the run (ending running tasks); returns kg CO2e. A second call returns the same."""
        tracker = self._native()
        if tracker is None:
            return None
        with self._lock:
            if self._state != "running":
                logger.warning("Tracker already stopped or never started.")
                return self.final_emissions
            self._state = "stopping"
            running = [used for _, used in self._running_tasks]
        if self._run_lock is not None:
            self._run_lock.release()
        for name in reversed(running):  # as CodeCarbon's stop: each running task is stopped
            self.stop_task(name)
        self._stop_live_outputs()
        self._description()  # the location is only described while the run goes on
        data = self._numbers("stop", tracker.stop)
        with self._lock:
            self._state = "stopped"
        if data is not None:
            self.final_emissions_data = self._to_handlers(data, final=True) or self._emissions_data(data)
            self.final_emissions = data.emissions_kg
            self._note_codecarbon_duration(data.duration_s)
        return self.final_emissions

    def _note_codecarbon_duration(self, duration_s: float) -> None:
        """CodeCarbon restarts the run's clock at each start_task, so after tasks it reports the
        time since the last one started: a wrong run duration, not copied; said for its users."""
        if self._last_task_start is None:
            return
        theirs_s = time.perf_counter() - self._last_task_start
        logger.info(
            f"run duration: {duration_s:.3f} s (the whole run). CodeCarbon 3.3.2 would report {theirs_s:.3f} s, the time "
            "since its last start_task, since it restarts the run's clock at each task; carbon-tracker does not."
        )

    def start_task(self, task_name: Optional[str] = None) -> None:
        """Starts a named window, and the tracker if it is not running. A name used before in
        this run gets a ``_<uuid>`` suffix (as in CodeCarbon); no name: a uuid."""
        self._start_task(task_name)

    def _start_task(self, task_name: Optional[str]) -> Optional[str]:
        """start_task; returns the name used, None when it failed (logged)."""
        tracker = self._native()
        if tracker is None:
            return None
        with self._lock:
            if self._state == "stopping":
                return None
            if self._running_tasks:  # as CodeCarbon: one task at a time (the native API nests them)
                logger.warning("A task is already under measure")
                return None
            asked = task_name or ""
            used = asked or str(uuid.uuid4())
            if used in self._tasks:
                used += "_" + str(uuid.uuid4())
            self._tasks[used] = _Task(used)
        if self._guard("start_task", lambda: tracker.start_task(used)):
            with self._lock:
                self._last_task_start = time.perf_counter()
                self._running_tasks.append((asked, used))
                if self._state != "running":  # start_task starts (or resumes) the run
                    self._state = "running"
                    self._start_live_outputs(tracker)
            return used
        with self._lock:
            del self._tasks[used]
        return None

    def stop_task(self, task_name: Optional[str] = None) -> Optional[EmissionsData]:
        """Ends the task ``task_name`` (default: the latest started) and returns its numbers."""
        tracker = self._native()
        if tracker is None:
            return None
        with self._lock:
            used = None
            for i in range(len(self._running_tasks) - 1, -1, -1):
                asked_i, used_i = self._running_tasks[i]
                if not task_name or task_name in (asked_i, used_i):
                    used = used_i
                    del self._running_tasks[i]
                    break
        if used is None:
            logger.warning("stop_task : No active task to stop.")
            return None
        name = used
        data = self._numbers("stop_task", lambda: tracker.stop_task(name))
        result = None if data is None else self._emissions_data(data)
        with self._lock:
            task = self._tasks.get(used)
            if task is not None:
                task.is_active = False
                task.emissions_data = result
        return result

    def get_detected_hardware(self) -> Dict[str, Any]:
        d = self.native.describe()
        gpus = d.get("gpus") or []
        return {
            "ram_total_size": d["ram"]["total_gib"],
            "cpu_count": d["cpu"]["threads"],
            "cpu_physical_count": d["cpu"]["sockets"],
            "cpu_model": d["cpu"]["model_name"],
            "gpu_count": len(gpus),
            "gpu_model": _gpu_model(gpus),
            "gpu_ids": [g.get("index") for g in gpus] if gpus else None,
        }

    def service_shutdown(self, signum: int, frame: Any) -> None:
        """A signal handler that stops the tracker: ``signal.signal(signal.SIGTERM,
        tracker.service_shutdown)``."""
        logger.warning("service_shutdown - Caught signal %d" % signum)
        self.stop()

    @property
    def run_id(self) -> uuid.UUID:
        """The run's UUID (a ``uuid.UUID``, as CodeCarbon's; the CSV's ``run_id``)."""
        if self._run_id is None:
            self._run_id = uuid.UUID(str(self.native.describe()["run_id"]))
        return self._run_id

    @property
    def force_carbon_intensity_g_co2e_kwh(self) -> Optional[float]:
        """The forced intensity in effect (argument, environment or config file), gCO2e/kWh;
        None when none is given or the one given was invalid (then logged and ignored)."""
        value = self._description().get("force_carbon_intensity_g_co2e_kwh")
        return None if value is None else float(value)

    def describe(self) -> Dict[str, Any]:
        """carbon-tracker's description of the run (hardware, sources, intensity), as a dict:
        the parsed JSON document of ``Tracker.describe`` (not JSON text; ``json.dumps`` gives it)."""
        return self.native.describe()

    @property
    def native(self) -> Tracker:
        """The strict tracker underneath (typed exceptions)."""
        if self._tracker is None:
            raise CarbonTrackerError(Status.CT_ERR_NULL_ARGUMENT, "the tracker was not initialized (see the log)")
        return self._tracker

    def __enter__(self) -> BaseEmissionsTracker:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()

    # -- output handlers -----------------------------------------------------------------------

    def _start_live_outputs(self, tracker: Tracker) -> None:
        """With handlers and api_call_interval != -1, a thread that follows the background
        measurements (``peek``) and calls live_out every api_call_interval of them."""
        if not self._handlers or self._live_thread is not None:
            return
        d = self._description()
        every = int(d.get("api_call_interval", 8))
        if every < 1:
            return
        period = float(d.get("measure_power_secs", 15.0))
        self._live_stop.clear()

        def follow() -> None:
            while not self._live_stop.wait(period):
                try:
                    self._live_out(tracker.peek(), every)
                except CarbonTrackerError:
                    return

        self._live_thread = threading.Thread(target=follow, name="codecarbon-live-outputs", daemon=True)
        self._live_thread.start()

    def _stop_live_outputs(self) -> None:
        thread, self._live_thread = self._live_thread, None
        if thread is not None:
            self._live_stop.set()
            if thread is not threading.current_thread():
                thread.join()

    def _live_out(self, e: Emissions, every: int, d: Optional[Dict[str, Any]] = None) -> None:
        """live_out to every handler once ``every`` measurements happened since the last call
        (counting, as CodeCarbon does, the one it takes at start). ``d``: the description, when
        the caller has it."""
        with self._handlers_lock:
            measured = e.measurements + 1
            if measured - self._live_counted < every:
                return
            self._live_counted = measured
            total = self._emissions_data(e, d)
            delta = self._delta(total)
            for handler in self._handlers:
                self._call_handler(handler, "live_out", total, delta)

    def _to_handlers(self, e: Emissions, final: bool = False) -> Optional[EmissionsData]:
        """A flush's or stop's numbers: live_out if due, then out (and task_out, and exit at
        stop) to every handler, as CodeCarbon's flush and stop do. Returns the total handed
        out, None without handlers."""
        if not self._handlers:
            return None
        d = self._description()
        every = int(d.get("api_call_interval", 8))
        if every >= 1:
            self._live_out(e, every, d)
        total = self._emissions_data(e, d)
        with self._handlers_lock:
            delta = self._delta(total)
            tasks = [t.out() for t in self._tasks.values() if t.emissions_data is not None]
            experiment_name = str(d.get("experiment_name", "base"))
            for handler in self._handlers:
                self._call_handler(handler, "out", total, delta)
                if tasks:
                    self._call_handler(handler, "task_out", tasks, experiment_name)
            if final:
                for handler in self._handlers:
                    self._call_handler(handler, "exit")
        return total

    def _delta(self, total: EmissionsData) -> EmissionsData:
        """The numbers since the previous handler call (the totals, the first time)."""
        delta = dataclasses.replace(total)
        if self._previous is not None:
            delta.compute_delta_emission(self._previous)
        self._previous = total
        return delta

    @staticmethod
    def _call_handler(handler: Any, method: str, *args: Any) -> None:
        fn = getattr(handler, method, None)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as e:  # a user's handler never breaks the run
            logger.error(f"output handler {type(handler).__name__}.{method}: {e!r}", exc_info=True)

    # -- internals -----------------------------------------------------------------------------

    def _guard(self, what: str, call: Callable[[], Any]) -> bool:
        try:
            call()
            return True
        except Exception as e:  # logged, never raised: CodeCarbon's contract
            logger.error(f"{what}: {e}")
            return False

    def _numbers(self, what: str, call: Callable[[], Emissions]) -> Optional[Emissions]:
        """The call's numbers; an output failure (CT_ERR_IO/NETWORK) is logged and the numbers
        measured anyway are returned."""
        try:
            return call()
        except CarbonTrackerError as e:
            logger.error(f"{what}: {e}")
            return e.emissions
        except Exception as e:
            logger.error(f"{what}: {e}")
            return None

    def _description(self) -> Dict[str, Any]:
        """describe(), or the last one made while running once the run has stopped."""
        try:
            d = self.native.describe()
        except Exception:
            d = {}
        if d.get("intensity") or not self._last_description:
            self._last_description = d
        return self._last_description

    def _emissions_data(self, e: Emissions, d: Optional[Dict[str, Any]] = None) -> EmissionsData:
        if d is None:
            d = self._description()
        intensity = d.get("intensity") or {}
        cpu = d.get("cpu") or {}
        gpus = d.get("gpus") or []
        return EmissionsData(
            timestamp=datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
            project_name=str(d.get("project_name", "")),
            run_id=str(d.get("run_id", "")),
            experiment_id=str(d.get("experiment_id", DEFAULT_EXPERIMENT_ID)),
            duration=e.duration_s,
            emissions=e.emissions_kg,
            emissions_rate=e.emissions_rate_kg_per_s,
            cpu_power=e.cpu_power_w,
            gpu_power=e.gpu_power_w,
            ram_power=e.ram_power_w,
            cpu_energy=e.cpu_energy_kwh,
            gpu_energy=e.gpu_energy_kwh,
            ram_energy=e.ram_energy_kwh,
            energy_consumed=e.energy_consumed_kwh,
            water_consumed=e.water_consumed_l,
            country_name=intensity.get("country_name"),
            country_iso_code=intensity.get("country_iso_code"),
            region=intensity.get("region"),
            cloud_provider=intensity.get("cloud_provider") or "",
            cloud_region=intensity.get("cloud_region") or "",
            os=str(d.get("os", platform.platform())),
            python_version=platform.python_version(),
            codecarbon_version=library_version(),
            cpu_count=cpu.get("threads", 0),
            cpu_model=str(cpu.get("model_name", "")),
            gpu_count=len(gpus),
            gpu_model=_gpu_model(gpus),
            longitude=None,
            latitude=None,
            ram_total_size=(d.get("ram") or {}).get("total_gib", 0.0),
            tracking_mode=str(d.get("tracking_mode", "machine")),
            cpu_utilization_percent=e.cpu_utilization_percent,
            gpu_utilization_percent=e.gpu_utilization_percent,
            ram_utilization_percent=e.ram_utilization_percent,
            ram_used_gb=e.ram_used_gb,
            on_cloud="Y" if intensity.get("cloud_provider") else "N",
            pue=e.pue,
            wue=d.get("wue", 0),
        )


class _CodeCarbonNative(Tracker):
    """The native tracker under a CodeCarbon-named one: its lines go to the "codecarbon" logger."""

    _logger_name = _logging.CODECARBON_LOGGER


class EmissionsTracker(BaseEmissionsTracker):
    """CodeCarbon's ``EmissionsTracker`` (location from the network unless given)."""


class OfflineEmissionsTracker(BaseEmissionsTracker):
    """CodeCarbon's offline tracker: no network; give ``country_iso_code`` (or a cloud)."""

    _offline = True

    def __init__(self, *args: Any, **kwargs: Unpack[CodeCarbonOptions]) -> None:
        # OFFLINE_PARAMETERS (country_iso_code, region, ...) are keyword-only, as in CodeCarbon;
        # None means not given.
        if kwargs.get("cloud_provider") and not kwargs.get("cloud_region"):
            logger.error("Cloud Region must be provided  if cloud provider is set")
        _check_keywords(dict(kwargs), type(self).__name__)  # raised, as Python's own TypeError is
        try:
            super().__init__(*args, **kwargs)
        except Exception as e:  # CodeCarbon's offline constructor logs its errors, raises none
            logger.error(f"OfflineEmissionsTracker: {e}; this tracker measures nothing")
            self._tracker = None


_F = TypeVar("_F", bound=Callable[..., Any])


def _public_classes() -> Any:
    """The module the decorators take their tracker classes from when they make one, at that
    moment: ``carbon_tracker.emissions_tracker``, as CodeCarbon's take them from
    ``codecarbon.emissions_tracker``, so that a test's ``mock.patch`` of
    ``carbon_tracker.emissions_tracker.EmissionsTracker`` replaces them. Until that module is
    imported (a patch imports it) its classes are this module's, the same objects."""
    return sys.modules.get(f"{__package__}.emissions_tracker") or sys.modules[__name__]


@overload
def track_emissions(fn: _F) -> _F: ...
@overload
def track_emissions(
    fn: Optional[str] = None, *args: Any, **kwargs: Unpack[CodeCarbonOptions]
) -> Callable[[_F], _F]: ...
def track_emissions(fn: Any = None, *args: Any, **kwargs: Any) -> Any:
    """CodeCarbon's decorator: ``@track_emissions`` or ``@track_emissions(project_name=...,
    offline=True, country_iso_code="FRA")``. Each call of the function runs a fresh tracker; its
    return value (or exception) is the function's, whatever happens to the tracker."""
    if isinstance(fn, str):  # track_emissions("project"): a project name, not a function
        args = (fn,) + args
        fn = None
    given = _positional(DECORATOR_PARAMETERS, args, kwargs, "track_emissions")

    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def wrapped(*a: Any, **kw: Any) -> Any:
            options = dict(given)
            offline = bool(options.pop("offline", False))
            tracker: BaseEmissionsTracker
            public = _public_classes()
            if offline:
                if not options.get("country_iso_code") and not options.get("cloud_provider"):
                    raise Exception("Needs ISO Code of the Country for Offline mode")
                for key in _NOT_OFFLINE:
                    options.pop(key, None)
                tracker = public.OfflineEmissionsTracker(**options)
            else:
                tracker = public.EmissionsTracker(**options)
            tracker.start()
            try:
                return func(*a, **kw)
            finally:
                tracker.stop()

        return cast(_F, wrapped)

    if fn is not None:
        return decorate(fn)
    return decorate


class TaskEmissionsTracker:
    """CodeCarbon's task context manager: ``with TaskEmissionsTracker("fit", tracker=t):``.
    Without a tracker it makes an ``EmissionsTracker`` and stops it on exit. ``emissions_data``
    holds the task's numbers after the block."""

    def __init__(self, task_name: Optional[str], tracker: Optional[BaseEmissionsTracker] = None) -> None:
        self.is_default_tracker = tracker is None
        self.tracker: BaseEmissionsTracker = tracker if tracker is not None else _public_classes().EmissionsTracker()
        self.task_name = task_name
        self.emissions_data: Optional[EmissionsData] = None
        self._used: Optional[str] = None

    def __enter__(self) -> TaskEmissionsTracker:
        self._used = self.tracker._start_task(self.task_name)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._used is not None:
            self.emissions_data = self.tracker.stop_task(self._used)
        if self.is_default_tracker:
            self.tracker.stop()


@overload
def track_task_emissions(fn: _F, tracker: Optional[BaseEmissionsTracker] = None, task_name: str = "") -> _F: ...
@overload
def track_task_emissions(
    fn: None = None, tracker: Optional[BaseEmissionsTracker] = None, task_name: str = ""
) -> Callable[[_F], _F]: ...
def track_task_emissions(
    fn: Optional[Callable[..., Any]] = None,
    tracker: Optional[BaseEmissionsTracker] = None,
    task_name: str = "",
) -> Any:
    """CodeCarbon's task decorator: each call of the function is a task of ``tracker`` (without
    one, an ``EmissionsTracker`` made now and stopped after the first call, as in CodeCarbon)."""
    is_default = tracker is None
    chosen: BaseEmissionsTracker = tracker if tracker is not None else _public_classes().EmissionsTracker()

    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def wrapped(*a: Any, **kw: Any) -> Any:
            scope = TaskEmissionsTracker(task_name or None, chosen)
            scope.is_default_tracker = is_default
            with scope:
                return func(*a, **kw)

        return cast(_F, wrapped)

    if fn is not None:
        return decorate(fn)
    return decorate
