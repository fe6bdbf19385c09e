"""The options of :class:`carbon_tracker.Tracker` (keyword arguments), with their types.

Generated from the library's key table (src/config/keys.rs) by tests/binding_options.rs; do not
edit: ``CT_BLESS=1 cargo test --test integration binding_options::`` rewrites it."""

from __future__ import annotations

import os
from typing import Literal, Optional, Sequence, Tuple, TypedDict, Union


class TrackerOptions(TypedDict, total=False):
    """The library's options (CodeCarbon's config keys). ``None`` means not given: the
    ``CODECARBON_*`` variables, ``.codecarbon.config`` files or the default then apply."""

    project_name: Optional[str]
    """Project name of the run (CSV `project_name`). Default: ``codecarbon``."""

    experiment_id: Optional[str]
    """The CodeCarbon API experiment of the run (CSV `experiment_id`). Default: ``5b0fa12a-3dd7-45bb-9766-cc326314d9f1``."""

    experiment_name: Optional[str]
    """Experiment name (names the task file `emissions_<experiment_name>_<run_id>.csv`). Default: ``base``."""

    output_dir: Optional[Union[str, os.PathLike[str]]]
    """Directory of the CSV files, checked at start: created if its parent exists. Default: ``.``."""

    output_file: Optional[Union[str, os.PathLike[str]]]
    """The CSV: a name or a relative path, taken in `output_dir`, or an absolute path, used as given (CodeCarbon's `os.path.join(output_dir, output_file)`). Default: ``emissions.csv``."""

    save_to_file: Optional[bool]
    """Write the CSV. Default: ``true``."""

    on_csv_write: Optional[Literal["append", "update"]]
    """`append`: a row per flush and stop; `update`: one row per run, replaced. Default: ``append``."""

    measure_power_secs: Optional[float]
    """Seconds between background measurements (0.01 to 86400). Default: ``15``."""

    country_iso_code: Optional[str]
    """ISO 3166-1 alpha-3 code of the country (FRA); without it, the location is looked up (offline: the world average)."""

    country_2letter_iso_code: Optional[str]
    """ISO 3166-1 alpha-2 code of the country, for Electricity Maps."""

    region: Optional[str]
    """US state, Canadian province (full name), Nordic zone (SE1…SE4, NO1…NO5, FI) or province of China (with CHN); lower-cased."""

    cloud_provider: Optional[str]
    """Cloud provider (gcp, aws, azure), with `cloud_region`."""

    cloud_region: Optional[str]
    """Cloud region (europe-west1), with `cloud_provider`."""

    force_cpu_power: Optional[float]
    """W; skips RAPL and is used as the TDP."""

    force_ram_power: Optional[float]
    """W, a constant RAM power."""

    force_carbon_intensity_g_co2e_kwh: Optional[float]
    """gCO2e/kWh, overrides every table."""

    force_mode_cpu_load: Optional[bool]
    """Use the CPU load model even when RAPL is readable. Default: ``false``."""

    pue: Optional[float]
    """Power usage effectiveness of the facility (1 to 100): multiplies every energy. Default: ``1``."""

    wue: Optional[float]
    """Water usage effectiveness, L/kWh. Default: ``0``."""

    tracking_mode: Optional[Literal["machine", "process"]]
    """`machine`: the whole machine; `process`: this process and its descendants. Default: ``machine``."""

    gpu_share: Optional[Literal["split", "whole"]]
    """A GPU shared with other processes: `split` gives process mode (and each rank of a job) its share of it (idle part equally, active part by SM use); `whole`: the whole GPU. Default: ``split``."""

    log_level: Optional[Union[str, int]]
    """Lowest level of the log lines written (debug, info, warning, error, critical, or 10…50). Default: ``warning``."""

    logger_preamble: Optional[str]
    """Inserted in log lines as `[preamble]`."""

    rapl_dir: Optional[Union[str, os.PathLike[str]]]
    """The powercap root of the RAPL counters. Default: ``/sys/class/powercap``."""

    rapl_include_dram: Optional[bool]
    """Add the RAPL DRAM zones to the CPU energy. Default: ``false``."""

    rapl_prefer_psys: Optional[bool]
    """Use the RAPL `psys` zone instead of the packages. Default: ``false``."""

    offline: Optional[bool]
    """No network call at all (asking for a network output with it is an error). Default: ``false``."""

    save_to_api: Optional[bool]
    """Upload to the CodeCarbon API (also `api` in `output_methods`). Default: ``false``."""

    output_methods: Optional[Union[str, Sequence[str]]]
    """Outputs (csv, api, prometheus, logger, logfire, otlp); when given, replaces the `save_to_*` keys."""

    api_endpoint: Optional[str]
    """The CodeCarbon API's base URL. Default: ``https://api.codecarbon.io``."""

    api_key: Optional[str]
    """The CodeCarbon API project token (sent as `x-api-token` only; never logged nor written)."""

    api_call_interval: Optional[int]
    """Upload every N background measurements; -1: only on flush/stop. Default: ``8``."""

    api_timeout_s: Optional[float]
    """How long `stop` waits for pending uploads, s. Default: ``5``."""

    emissions_endpoint: Optional[str]
    """CodeCarbon's HTTPOutput: POST of the totals on flush/stop."""

    location_lookup: Optional[bool]
    """Look the location up on the network (geolocation and cloud metadata) when none is given; false: the world average applies (CodeCarbon's offline tracker), other network uses stay. Default: ``true``."""

    cloud_detection: Optional[bool]
    """Probe the AWS/Azure/GCP metadata services when the location is not given. Default: ``true``."""

    geo_api_url: Optional[str]
    """The geolocation service. Default: ``https://get.geojs.io/v1/ip/geo.json``."""

    geo_backup_api_url: Optional[str]
    """The geolocation service asked when the first fails. Default: ``https://ipinfo.io/json``."""

    cloud_metadata_url: Optional[str]
    """Base URL of the cloud metadata services. Default: ``http://169.254.169.254``."""

    electricitymaps_api_token: Optional[str]
    """Electricity Maps token: the live carbon intensity (the tables are the fallback)."""

    co2_signal_api_token: Optional[str]
    """CodeCarbon's older name of `electricitymaps_api_token` (used when that one is not given)."""

    electricitymaps_api_url: Optional[str]
    """Electricity Maps' carbon-intensity endpoint. Default: ``https://api.electricitymaps.com/v3/carbon-intensity/latest``."""

    save_to_prometheus: Optional[bool]
    """Push to a Prometheus Pushgateway (also `prometheus` in `output_methods`). Default: ``false``."""

    prometheus_url: Optional[str]
    """The Pushgateway's base URL. Default: ``http://localhost:9091``."""

    prometheus_delete_on_stop: Optional[bool]
    """Delete this run's metric group from the Pushgateway at stop (as CodeCarbon does). Default: ``true``."""

    save_to_logger: Optional[bool]
    """Each total as one JSON line in the log at info level (also `logger` in `output_methods`). Default: ``false``."""

    save_to_logfire: Optional[bool]
    """OpenTelemetry metrics with Logfire's defaults: `otlp_endpoint` or Logfire's, `LOGFIRE_TOKEN`. Default: ``false``."""

    save_to_otlp: Optional[bool]
    """OpenTelemetry metrics over OTLP/HTTP (also `otlp` in `output_methods`). Default: ``false``."""

    otlp_endpoint: Optional[str]
    """The OTLP/HTTP collector's base URL (`/v1/metrics` is added unless given)."""

    job_id: Optional[str]
    """The job this process is a rank of; default: detected (SLURM, MPI, PMIx, torchrun)."""

    rank: Optional[int]
    """This process's rank in the job; default: detected."""

    local_rank: Optional[int]
    """This process's rank on its node; default: detected."""

    job_count_node_once: Optional[bool]
    """Ranks of one job on one node count the node's machine-wide energy once (docs/accounting.md). Default: ``true``."""

    job_coordination_dir: Optional[Union[str, os.PathLike[str]]]
    """Where the ranks of a node coordinate (a lock and a small state file per job). Default: ``/dev/shm``."""

    gpu_ids: Optional[Union[str, Sequence[Union[int, str]]]]
    """GPUs to track: NVML indices or UUID prefixes; default: `CUDA_VISIBLE_DEVICES`, else all."""

    energy_budget_kwh: Optional[float]
    """kWh (PUE included) the run should stay under: a warning when it is first predicted to exceed it (from `set_progress`) and when it exceeds it; `ct_tracker_predict` reports the state."""

    emissions_budget_kg: Optional[float]
    """kg CO2e the run should stay under, as `energy_budget_kwh`."""

    python_version: Optional[str]
    """The host language's version for the CSV's `python_version` column (the Python binding sets it; empty for others)."""

    on_invalid_value: Optional[Literal["error", "ignore"]]
    """`error`: a bad value fails `new`; `ignore`: it is logged (error level, by `new`) and the key keeps its default, as CodeCarbon does. Unknown keys in the options stay errors. Default: ``error``."""

    restart_after_stop: Optional[bool]
    """`start` after `stop` resumes the run (same run_id, totals and uploads go on, the time stopped is not counted), as CodeCarbon's does; false: it is an invalid-state error. Default: ``false``."""


# Every key, in the table's order.
OPTION_KEYS: Tuple[str, ...] = (
    "project_name",
    "experiment_id",
    "experiment_name",
    "output_dir",
    "output_file",
    "save_to_file",
    "on_csv_write",
    "measure_power_secs",
    "country_iso_code",
    "country_2letter_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "force_cpu_power",
    "force_ram_power",
    "force_carbon_intensity_g_co2e_kwh",
    "force_mode_cpu_load",
    "pue",
    "wue",
    "tracking_mode",
    "gpu_share",
    "log_level",
    "logger_preamble",
    "rapl_dir",
    "rapl_include_dram",
    "rapl_prefer_psys",
    "offline",
    "save_to_api",
    "output_methods",
    "api_endpoint",
    "api_key",
    "api_call_interval",
    "api_timeout_s",
    "emissions_endpoint",
    "location_lookup",
    "cloud_detection",
    "geo_api_url",
    "geo_backup_api_url",
    "cloud_metadata_url",
    "electricitymaps_api_token",
    "co2_signal_api_token",
    "electricitymaps_api_url",
    "save_to_prometheus",
    "prometheus_url",
    "prometheus_delete_on_stop",
    "save_to_logger",
    "save_to_logfire",
    "save_to_otlp",
    "otlp_endpoint",
    "job_id",
    "rank",
    "local_rank",
    "job_count_node_once",
    "job_coordination_dir",
    "gpu_ids",
    "energy_budget_kwh",
    "emissions_budget_kg",
    "python_version",
    "on_invalid_value",
    "restart_after_stop",
)
