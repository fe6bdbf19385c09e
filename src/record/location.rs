//! Where the energy was used: declared once, resolved by the intensity tables and the location
//! lookup (`emissions`), written by every output through the run's description
//! ([`super::run::RunInfo`]).

/// Where the energy was used, as written in the CSV.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    pub country_name: Option<String>,
    pub country_iso_code: Option<String>,
    pub region: Option<String>,
    pub cloud_provider: Option<String>,
    pub cloud_region: Option<String>,
    /// From the geo lookup (full precision in the CSV, rounded in the API run).
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
}

impl Location {
    /// CodeCarbon's `on_cloud`: a cloud provider is known.
    pub fn on_cloud(&self) -> bool {
        self.cloud_provider.is_some()
    }
}
