//! Every configuration key in one table: its field, type, default and parser (with the allowed
//! range of every number). [`config_keys!`] makes the `Config` struct, its `Default`, the list
//! of known keys and the per-key parsing from it.

use std::path::PathBuf;

use super::values::*;
use super::kinds::{CsvWriteMode, GpuShare, KeyValue, OnInvalidValue, OutputMethods, Secret, TrackingMode, ValueKind};
use crate::error::Result;
use crate::log::{Level, LogLevel};

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

/// A budget (kWh or kg CO2e) no run reaches: a bound that catches unit mistakes (Wh, g).
const MAX_BUDGET: f64 = 1e12;

macro_rules! config_keys {
    (
        $( $(#[doc = $doc:literal])* $key:literal => $field:ident : $ty:tt = $default:expr, $parse:expr; )*
        derived { $( $(#[$ddoc:meta])* $dfield:ident : $dty:ty = $ddefault:expr; )* }
    ) => {
        /// The resolved configuration of one tracker: one field per key, then the few facts
        /// derived from how keys were given.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(unused_parens)] // the table's generic types are in parentheses (see `setter_arg`)
        pub struct Config {
            $( $(#[doc = $doc])* pub $field: $ty, )*
            $( $(#[$ddoc])* pub $dfield: $dty, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $( $field: $default, )* $( $dfield: $ddefault, )* }
            }
        }

        /// Every key this version implements, for messages and docs.
        pub const KEYS: &[&str] = &[$( $key ),*];

        /// Every key with its help (the doc comment of its line in the table) and the kind of
        /// value it takes: the command's flags and the Python binding's option types come from it.
        #[allow(unused_parens)]
        pub static KEY_TABLE: &[KeyInfo] = &[$( KeyInfo { key: $key, doc: &[$( $doc ),*], kind: <$ty as KeyValue>::KIND } ),*];

        /// The default value of `key` as text; `None` when it has none to show (unset, secret)
        /// or is not a key.
        pub fn default_text(key: &str) -> Option<String> {
            let d = Config::default();
            match key {
                $( $key => d.$field.shown(), )*
                _ => None,
            }
        }

        impl Config {
            /// Parses `value` into the field of `key`; `None` for a key not in the table.
            pub(super) fn apply_key(&mut self, origin: &str, key: &str, value: &str) -> Option<Result<()>> {
                match key {
                    $( $key => Some(($parse)(origin, key, value).map(|v| self.$field = v)), )*
                    _ => None,
                }
            }
        }

        /// The typed setters: one per key, named after its field (units in the name), taking
        /// the field's type (an `Option`'s value alone). Each writes the value as the option's
        /// text, so that it is checked and resolved as the string form is, at `Tracker::new`.
        #[allow(unused_parens)]
        impl super::Options {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("Option `", $key, "`.")]
                #[must_use = "Options is a builder: this returns the options with the value set"]
                pub fn $field(self, value: setter_arg!($ty)) -> Self {
                    let typed: $ty = setter_value!($ty, value);
                    self.set($key, typed.to_text())
                }
            )*
        }
    };
}

/// The argument type of a typed setter, from the field's type: what converts into it (`&str`
/// for a `String`, an integer for an `f64`...); an `Option`'s value alone.
macro_rules! setter_arg {
    (String) => { impl Into<String> };
    (PathBuf) => { impl Into<PathBuf> };
    (f64) => { impl Into<f64> };
    ((Option<String>)) => { impl Into<String> };
    ((Option<Secret>)) => { impl Into<String> };
    ((Option<f64>)) => { impl Into<f64> };
    ((Option<Vec<String>>)) => { impl IntoIterator<Item = impl Into<String>> };
    ((Option<$t:ty>)) => { $t };
    ($t:ty) => { $t };
}

/// The field's value from a typed setter's argument.
macro_rules! setter_value {
    ((Option<Secret>), $v:ident) => { Some(Secret($v.into())) };
    ((Option<Vec<String>>), $v:ident) => { Some($v.into_iter().map(Into::into).collect()) };
    ((Option<$t:ty>), $v:ident) => { Some($v.into()) };
    ($t:tt, $v:ident) => { $v.into() };
}

/// One row of the key table: a key, its help and the kind of value it takes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key, lower case (`measure_power_secs`).
    pub key: &'static str,
    /// The lines of the key's doc comment.
    pub doc: &'static [&'static str],
    /// What it takes.
    pub kind: ValueKind,
}

impl KeyInfo {
    /// The doc comment as one line of help text.
    pub fn help(&self) -> String {
        self.doc.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

config_keys! {
    /// Project name of the run (CSV `project_name`).
    "project_name" => project_name: String = "codecarbon".into(), text;
    /// The CodeCarbon API experiment of the run (CSV `experiment_id`).
    "experiment_id" => experiment_id: String = DEFAULT_EXPERIMENT_ID.into(), trimmed;
    /// Experiment name (names the task file `emissions_<experiment_name>_<run_id>.csv`).
    "experiment_name" => experiment_name: String = "base".into(), text;
    /// Directory of the CSV files, checked at start: created if its parent exists.
    "output_dir" => output_dir: PathBuf = PathBuf::from("."), path;
    /// The CSV: a name or a relative path, taken in `output_dir`, or an absolute path, used as
    /// given (CodeCarbon's `os.path.join(output_dir, output_file)`).
    "output_file" => output_file: PathBuf = PathBuf::from("emissions.csv"), file_path;
    /// Write the CSV.
    "save_to_file" => save_to_file: bool = true, boolean;
    /// `append`: a row per flush and stop; `update`: one row per run, replaced.
    "on_csv_write" => on_csv_write: CsvWriteMode = CsvWriteMode::Append, csv_write_mode;
    /// Seconds between background measurements (0.01 to 86400).
    "measure_power_secs" => measure_power_secs: f64 = 15.0, number(0.01, 86_400.0);
    /// ISO 3166-1 alpha-3 code of the country (FRA); without it, the location is looked up
    /// (offline: the world average).
    "country_iso_code" => country_iso_code: (Option<String>) = None, optional(iso3);
    /// ISO 3166-1 alpha-2 code of the country, for Electricity Maps.
    "country_2letter_iso_code" => country_2letter_iso_code: (Option<String>) = None, optional(iso2);
    /// US state, Canadian province (full name), Nordic zone (SE1…SE4, NO1…NO5, FI) or province of
    /// China (with CHN); lower-cased.
    "region" => region: (Option<String>) = None, optional(lowercase);
    /// Cloud provider (gcp, aws, azure), with `cloud_region`.
    "cloud_provider" => cloud_provider: (Option<String>) = None, optional(lowercase);
    /// Cloud region (europe-west1), with `cloud_provider`.
    "cloud_region" => cloud_region: (Option<String>) = None, optional(lowercase);
    /// W; skips RAPL and is used as the TDP.
    "force_cpu_power" => force_cpu_power_w: (Option<f64>) = None, optional(positive(MAX_POWER_W));
    /// W, a constant RAM power.
    "force_ram_power" => force_ram_power_w: (Option<f64>) = None, optional(number(0.0, MAX_POWER_W));
    /// gCO2e/kWh, overrides every table.
    "force_carbon_intensity_g_co2e_kwh" => force_carbon_intensity_g_per_kwh: (Option<f64>) = None, optional(number(0.0, 10_000.0));
    /// Use the CPU load model even when RAPL is readable.
    "force_mode_cpu_load" => force_mode_cpu_load: bool = false, boolean;
    /// Power usage effectiveness of the facility (1 to 100): multiplies every energy.
    "pue" => pue: f64 = 1.0, pue_ratio;
    /// Water usage effectiveness, L/kWh.
    "wue" => wue_l_per_kwh: f64 = 0.0, number(0.0, 1_000.0);
    /// `machine`: the whole machine; `process`: this process and its descendants.
    "tracking_mode" => tracking_mode: TrackingMode = TrackingMode::Machine, tracking_mode;
    /// A GPU shared with other processes: `split` gives process mode (and each rank of a job) its
    /// share of it (idle part equally, active part by SM use); `whole`: the whole GPU.
    "gpu_share" => gpu_share: GpuShare = GpuShare::Split, gpu_share;
    /// Lowest level of the log lines written (debug, info, warning, error, critical, or 10…50).
    "log_level" => log_level: LogLevel = Level::Warning, log_level;
    /// Inserted in log lines as `[preamble]`.
    "logger_preamble" => logger_preamble: String = String::new(), text;
    /// The powercap root of the RAPL counters.
    "rapl_dir" => rapl_dir: PathBuf = PathBuf::from("/sys/class/powercap"), path;
    /// Add the RAPL DRAM zones to the CPU energy.
    "rapl_include_dram" => rapl_include_dram: bool = false, boolean;
    /// Use the RAPL `psys` zone instead of the packages.
    "rapl_prefer_psys" => rapl_prefer_psys: bool = false, boolean;
    /// No network call at all (asking for a network output with it is an error).
    "offline" => offline: bool = false, boolean;
    /// Upload to the CodeCarbon API (also `api` in `output_methods`).
    "save_to_api" => save_to_api: bool = false, boolean;
    /// Outputs (csv, api, prometheus, logger, logfire, otlp); when given, replaces the `save_to_*` keys.
    "output_methods" => output_methods: (Option<OutputMethods>) = None, optional(output_methods);
    /// The CodeCarbon API's base URL.
    "api_endpoint" => api_endpoint: String = DEFAULT_API_ENDPOINT.into(), url;
    /// The CodeCarbon API project token (sent as `x-api-token` only; never logged nor written).
    "api_key" => api_key: (Option<Secret>) = None, optional(secret);
    /// Upload every N background measurements; -1: only on flush/stop.
    "api_call_interval" => api_call_interval: i64 = 8, call_interval;
    /// How long `stop` waits for pending uploads, s.
    "api_timeout_s" => api_timeout_s: f64 = 5.0, number(0.0, 3_600.0);
    /// CodeCarbon's HTTPOutput: POST of the totals on flush/stop.
    "emissions_endpoint" => emissions_endpoint: (Option<String>) = None, optional(url);
    /// Look the location up on the network (geolocation and cloud metadata) when none is given;
    /// false: the world average applies (CodeCarbon's offline tracker), other network uses stay.
    "location_lookup" => location_lookup: bool = true, boolean;
    /// Probe the AWS/Azure/GCP metadata services when the location is not given.
    "cloud_detection" => cloud_detection: bool = true, boolean;
    /// The geolocation service.
    "geo_api_url" => geo_api_url: String = DEFAULT_GEO_API_URL.into(), url;
    /// The geolocation service asked when the first fails.
    "geo_backup_api_url" => geo_backup_api_url: String = DEFAULT_GEO_BACKUP_API_URL.into(), url;
    /// Base URL of the cloud metadata services.
    "cloud_metadata_url" => cloud_metadata_url: String = DEFAULT_CLOUD_METADATA_URL.into(), url;
    /// Electricity Maps token: the live carbon intensity (the tables are the fallback).
    "electricitymaps_api_token" => electricitymaps_api_token: (Option<Secret>) = None, optional(secret);
    /// CodeCarbon's older name of `electricitymaps_api_token` (used when that one is not given).
    "co2_signal_api_token" => co2_signal_api_token: (Option<Secret>) = None, optional(secret);
    /// Electricity Maps' carbon-intensity endpoint.
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
    "otlp_endpoint" => otlp_endpoint: (Option<String>) = None, optional(endpoint_url);
    /// The job this process is a rank of; default: detected (SLURM, MPI, PMIx, torchrun).
    "job_id" => job_id: (Option<String>) = None, optional(job_id);
    /// This process's rank in the job; default: detected.
    "rank" => rank: (Option<u32>) = None, optional(rank);
    /// This process's rank on its node; default: detected.
    "local_rank" => local_rank: (Option<u32>) = None, optional(rank);
    /// Ranks of one job on one node count the node's machine-wide energy once (docs/accounting.md).
    "job_count_node_once" => job_count_node_once: bool = true, boolean;
    /// Where the ranks of a node coordinate (a lock and a small state file per job).
    "job_coordination_dir" => job_coordination_dir: PathBuf = PathBuf::from(DEFAULT_JOB_COORDINATION_DIR), path;
    /// GPUs to track: NVML indices or UUID prefixes; default: `CUDA_VISIBLE_DEVICES`, else all.
    "gpu_ids" => gpu_ids: (Option<Vec<String>>) = None, gpu_ids;
    /// kWh (PUE included) the run should stay under: a warning when it is first predicted to exceed
    /// it (from `set_progress`) and when it exceeds it; `ct_tracker_predict` reports the state.
    "energy_budget_kwh" => energy_budget_kwh: (Option<f64>) = None, optional(positive(MAX_BUDGET));
    /// kg CO2e the run should stay under, as `energy_budget_kwh`.
    "emissions_budget_kg" => emissions_budget_kg: (Option<f64>) = None, optional(positive(MAX_BUDGET));
    /// The host language's version for the CSV's `python_version` column (the Python binding
    /// sets it; empty for others).
    "python_version" => python_version: (Option<String>) = None, optional(trimmed);
    /// `error`: a bad value fails `new`; `ignore`: it is logged (error level, by `new`) and
    /// the key keeps its default, as CodeCarbon does. Unknown keys in the options stay errors.
    "on_invalid_value" => on_invalid_value: OnInvalidValue = OnInvalidValue::Error, on_invalid_value;
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
    Ok(match choice(o, key, v, CsvWriteMode::NAMES)? {
        "append" => CsvWriteMode::Append,
        _ => CsvWriteMode::Update,
    })
}

fn tracking_mode(o: &str, key: &str, v: &str) -> Result<TrackingMode> {
    Ok(match choice(o, key, v, TrackingMode::NAMES)? {
        "process" => TrackingMode::Process,
        _ => TrackingMode::Machine,
    })
}

fn gpu_share(o: &str, key: &str, v: &str) -> Result<GpuShare> {
    Ok(match choice(o, key, v, GpuShare::NAMES)? {
        "whole" => GpuShare::Whole,
        _ => GpuShare::Split,
    })
}

fn on_invalid_value(o: &str, key: &str, v: &str) -> Result<OnInvalidValue> {
    Ok(match choice(o, key, v, OnInvalidValue::NAMES)? {
        "ignore" => OnInvalidValue::Ignore,
        _ => OnInvalidValue::Error,
    })
}
