//! Every configuration key in one table: its field, type, default and parser (with the allowed
//! range of every number). [`config_keys!`] makes the `Config` struct, its `Default`, the list
//! of known keys and the per-key parsing from it.

use std::path::PathBuf;

use super::values::*;
use super::kinds::{CsvWriteMode, OutputMethods, Secret, TrackingMode};
use crate::error::Result;
use crate::log::Level;

pub const DEFAULT_EXPERIMENT_ID: &str = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1";
pub const DEFAULT_API_ENDPOINT: &str = "https://api.codecarbon.io";
pub const DEFAULT_GEO_API_URL: &str = "https://get.geojs.io/v1/ip/geo.json";
pub const DEFAULT_GEO_BACKUP_API_URL: &str = "https://ipinfo.io/json";
pub const DEFAULT_CLOUD_METADATA_URL: &str = "http://169.254.169.254";
pub const DEFAULT_ELECTRICITYMAPS_API_URL: &str = "https://api.electricitymaps.com/v3/carbon-intensity/latest";

pub const DEFAULT_PROMETHEUS_URL: &str = "http://localhost:9091";
pub const DEFAULT_LOGFIRE_ENDPOINT: &str = "https://logfire-api.pydantic.dev";
/// Node-local and in memory where it exists (`/tmp` is used when it does not).
pub const DEFAULT_JOB_COORDINATION_DIR: &str = "/dev/shm";

/// Watts no single machine part draws (a bound that catches unit mistakes such as mW).
const MAX_POWER_W: f64 = 100_000.0;

macro_rules! config_keys {
    (
        $( $(#[$doc:meta])* $key:literal => $field:ident : $ty:ty = $default:expr, $parse:expr; )*
        derived { $( $(#[$ddoc:meta])* $dfield:ident : $dty:ty = $ddefault:expr; )* }
    ) => {
        /// The resolved configuration of one tracker: one field per key, then the few facts
        /// derived from how keys were given.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $( $(#[$doc])* pub $field: $ty, )*
            $( $(#[$ddoc])* pub $dfield: $dty, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $( $field: $default, )* $( $dfield: $ddefault, )* }
            }
        }

        /// Every key this version implements, for messages and docs.
        pub const KEYS: &[&str] = &[$( $key ),*];

        impl Config {
            /// Parses `value` into the field of `key`; `None` for a key not in the table.
            pub(super) fn apply_key(&mut self, origin: &str, key: &str, value: &str) -> Option<Result<()>> {
                match key {
                    $( $key => Some(($parse)(origin, key, value).map(|v| self.$field = v)), )*
                    _ => None,
                }
            }
        }
    };
}

config_keys! {
    "project_name" => project_name: String = "codecarbon".into(), text;
    "experiment_id" => experiment_id: String = DEFAULT_EXPERIMENT_ID.into(), trimmed;
    "experiment_name" => experiment_name: String = "base".into(), text;
    "output_dir" => output_dir: PathBuf = PathBuf::from("."), path;
    /// The CSV: a name or a relative path, taken in `output_dir`, or an absolute path, used as
    /// given (CodeCarbon's `os.path.join(output_dir, output_file)`).
    "output_file" => output_file: PathBuf = PathBuf::from("emissions.csv"), file_path;
    "save_to_file" => save_to_file: bool = true, boolean;
    "on_csv_write" => on_csv_write: CsvWriteMode = CsvWriteMode::Append, csv_write_mode;
    /// Seconds between background measurements.
    "measure_power_secs" => measure_power_secs: f64 = 15.0, number(0.01, 86_400.0);
    "country_iso_code" => country_iso_code: Option<String> = None, optional(iso3);
    "country_2letter_iso_code" => country_2letter_iso_code: Option<String> = None, optional(iso2);
    /// Lower-cased.
    "region" => region: Option<String> = None, optional(lowercase);
    "cloud_provider" => cloud_provider: Option<String> = None, optional(lowercase);
    "cloud_region" => cloud_region: Option<String> = None, optional(lowercase);
    /// W; skips RAPL and is used as the TDP.
    "force_cpu_power" => force_cpu_power_w: Option<f64> = None, optional(positive(MAX_POWER_W));
    /// W.
    "force_ram_power" => force_ram_power_w: Option<f64> = None, optional(number(0.0, MAX_POWER_W));
    /// gCO2e/kWh.
    "force_carbon_intensity_g_co2e_kwh" => force_carbon_intensity_g_per_kwh: Option<f64> = None, optional(number(0.0, 10_000.0));
    "force_mode_cpu_load" => force_mode_cpu_load: bool = false, boolean;
    /// Power usage effectiveness of the facility.
    "pue" => pue: f64 = 1.0, positive(100.0);
    /// Water usage effectiveness, L/kWh.
    "wue" => wue_l_per_kwh: f64 = 0.0, number(0.0, 1_000.0);
    "tracking_mode" => tracking_mode: TrackingMode = TrackingMode::Machine, tracking_mode;
    "log_level" => log_level: Level = Level::Warning, log_level;
    "logger_preamble" => logger_preamble: String = String::new(), text;
    "rapl_dir" => rapl_dir: PathBuf = PathBuf::from("/sys/class/powercap"), path;
    "rapl_include_dram" => rapl_include_dram: bool = false, boolean;
    "rapl_prefer_psys" => rapl_prefer_psys: bool = false, boolean;
    "offline" => offline: bool = false, boolean;
    /// Upload to the CodeCarbon API (also `api` in `output_methods`).
    "save_to_api" => save_to_api: bool = false, boolean;
    /// When given, replaces `save_to_file` and `save_to_api` (as in CodeCarbon).
    "output_methods" => output_methods: Option<OutputMethods> = None, optional(output_methods);
    "api_endpoint" => api_endpoint: String = DEFAULT_API_ENDPOINT.into(), url;
    "api_key" => api_key: Option<Secret> = None, optional(secret);
    /// Upload every N background measurements; -1: only on flush/stop.
    "api_call_interval" => api_call_interval: i64 = 8, call_interval;
    /// How long `stop` waits for pending uploads, s.
    "api_timeout_s" => api_timeout_s: f64 = 5.0, number(0.0, 3_600.0);
    /// CodeCarbon's HTTPOutput: POST of the totals on flush/stop.
    "emissions_endpoint" => emissions_endpoint: Option<String> = None, optional(url);
    /// Look the location up on the network (geolocation and cloud metadata) when none is given;
    /// false: the world average applies (CodeCarbon's offline tracker), other network uses stay.
    "location_lookup" => location_lookup: bool = true, boolean;
    /// Probe the AWS/Azure/GCP metadata services when the location is not given.
    "cloud_detection" => cloud_detection: bool = true, boolean;
    "geo_api_url" => geo_api_url: String = DEFAULT_GEO_API_URL.into(), url;
    "geo_backup_api_url" => geo_backup_api_url: String = DEFAULT_GEO_BACKUP_API_URL.into(), url;
    "cloud_metadata_url" => cloud_metadata_url: String = DEFAULT_CLOUD_METADATA_URL.into(), url;
    "electricitymaps_api_token" => electricitymaps_api_token: Option<Secret> = None, optional(secret);
    /// CodeCarbon's older name of `electricitymaps_api_token` (used when that one is not given).
    "co2_signal_api_token" => co2_signal_api_token: Option<Secret> = None, optional(secret);
    "electricitymaps_api_url" => electricitymaps_api_url: String = DEFAULT_ELECTRICITYMAPS_API_URL.into(), url;
    /// Push to a Prometheus Pushgateway (also `prometheus` in `output_methods`).
    "save_to_prometheus" => save_to_prometheus: bool = false, boolean;
    /// The Pushgateway's base URL.
    "prometheus_url" => prometheus_url: String = DEFAULT_PROMETHEUS_URL.into(), endpoint_url;
    /// Delete this run's metric group from the Pushgateway at stop (as CodeCarbon does).
    "prometheus_delete_on_stop" => prometheus_delete_on_stop: bool = true, boolean;
    /// Each total as one JSON line in the log at info level (also `logger` in `output_methods`).
    "save_to_logger" => save_to_logger: bool = false, boolean;
    /// OpenTelemetry metrics with Logfire's defaults: `otlp_endpoint` or Logfire's, `LOGFIRE_TOKEN`.
    "save_to_logfire" => save_to_logfire: bool = false, boolean;
    /// OpenTelemetry metrics over OTLP/HTTP (also `otlp` in `output_methods`).
    "save_to_otlp" => save_to_otlp: bool = false, boolean;
    /// The OTLP/HTTP collector's base URL (`/v1/metrics` is added unless given).
    "otlp_endpoint" => otlp_endpoint: Option<String> = None, optional(endpoint_url);
    /// The job this process is a rank of; default: detected (SLURM, MPI, PMIx, torchrun).
    "job_id" => job_id: Option<String> = None, optional(job_id);
    /// This process's rank in the job; default: detected.
    "rank" => rank: Option<u32> = None, optional(rank);
    /// This process's rank on its node; default: detected.
    "local_rank" => local_rank: Option<u32> = None, optional(rank);
    /// Ranks of one job on one node count the node's machine-wide energy once (see README).
    "job_count_node_once" => job_count_node_once: bool = true, boolean;
    /// Where the ranks of a node coordinate (a lock and a small state file per job).
    "job_coordination_dir" => job_coordination_dir: PathBuf = PathBuf::from(DEFAULT_JOB_COORDINATION_DIR), path;
    /// GPUs to track: NVML indices or UUID prefixes; `None`: `CUDA_VISIBLE_DEVICES`, else all.
    "gpu_ids" => gpu_ids: Option<Vec<String>> = None, gpu_ids;
    /// The host language's version for the CSV's `python_version` column (the Python binding
    /// sets it; empty for others).
    "python_version" => python_version: Option<String> = None, optional(trimmed);
    /// `error`: a bad value fails `new`; `ignore`: it is logged (error level, by `new`) and
    /// the key keeps its default, as CodeCarbon does. Unknown keys in the options stay errors.
    "on_invalid_value" => ignore_invalid_values: bool = false, on_invalid_value;
    /// `start` after `stop` resumes the run (same run_id, totals and uploads go on, the time
    /// stopped is not counted), as CodeCarbon's does; false: it is an invalid-state error.
    "restart_after_stop" => restart_after_stop: bool = false, boolean;

    derived {
        /// `pue` was given as an integer in the options string (Python's `pue=2`): CodeCarbon keeps
        /// the constructor's int and writes `2`, where a float or a config-file value is `2.0`.
        pue_written_as_integer: bool = false;
    }
}

fn csv_write_mode(o: &str, key: &str, v: &str) -> Result<CsvWriteMode> {
    Ok(match choice(o, key, v, &["append", "update"])? {
        "append" => CsvWriteMode::Append,
        _ => CsvWriteMode::Update,
    })
}

fn tracking_mode(o: &str, key: &str, v: &str) -> Result<TrackingMode> {
    Ok(match choice(o, key, v, &["machine", "process"])? {
        "process" => TrackingMode::Process,
        _ => TrackingMode::Machine,
    })
}

fn on_invalid_value(o: &str, key: &str, v: &str) -> Result<bool> {
    Ok(choice(o, key, v, &["error", "ignore"])? == "ignore")
}
