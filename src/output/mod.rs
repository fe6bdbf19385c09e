//! Output sinks, one file each: `emissions.csv`, the CodeCarbon API, an HTTP endpoint, a
//! Prometheus Pushgateway, OpenTelemetry (OTLP/HTTP), the log; the task, region and run files.

pub mod api;
pub mod csv_file;
pub mod http_endpoint;
pub mod logger;
pub mod otlp;
pub mod prometheus;
pub mod emissions_data;
pub mod file_names;
pub mod files;
pub mod py_format;
pub mod region_file;
pub mod registry;
pub mod run_file;
pub mod sink;
pub mod task_file;
pub mod uploader;
pub mod whole_append;
pub mod whole_file;

pub use emissions_data::{EmissionsData, CSV_HEADER};

/// An environment variable that is set and not empty (credentials and addresses of outputs).
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
