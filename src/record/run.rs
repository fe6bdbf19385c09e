//! What a run is, beside its numbers: the descriptive columns of a CSV row and the body of the
//! API's `POST /runs`. Built once per tracker at start (again when the location lookup
//! finishes), shared by every row it writes.

/// This library's version, as in Cargo.toml (the `codecarbon_version` column).
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

use super::location::Location;

/// Units: GiB, degrees. `None` prints as an empty CSV field and a JSON null.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    pub project_name: String,
    pub run_id: String,
    pub experiment_id: String,
    /// Where the energy was used.
    pub location: Location,
    /// Python's `platform.platform()` format.
    pub os: String,
    /// The host language's version where known; empty for a native library.
    pub python_version: Option<String>,
    /// This library's version (CodeCarbon's `codecarbon_version` column).
    pub version: String,
    pub cpu_count: usize,
    pub cpu_model: String,
    pub gpu_count: usize,
    pub gpu_model: String,
    pub ram_total_size_gib: f64,
    pub tracking_mode: String,
    pub pue: f64,
    /// CodeCarbon writes an integer PUE given to its constructor as `2`, not `2.0`.
    pub pue_is_integer: bool,
    pub wue_l_per_kwh: f64,
}

impl RunInfo {
    /// CodeCarbon's `on_cloud`: a cloud provider is known.
    pub fn on_cloud(&self) -> bool {
        self.location.on_cloud()
    }
}
