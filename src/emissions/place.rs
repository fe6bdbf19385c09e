//! The narrow input of the intensity tables: where the energy is used.

use crate::config::Config;

/// What the intensity tables need of the configuration: where the energy is used (completed by
/// the location lookup), or a forced intensity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    pub country_iso_code: Option<String>,
    pub country_2letter_iso_code: Option<String>,
    pub region: Option<String>,
    pub cloud_provider: Option<String>,
    pub cloud_region: Option<String>,
    pub force_g_per_kwh: Option<f64>,
}

impl Place {
    pub fn of(c: &Config) -> Place {
        Place {
            country_iso_code: c.country_iso_code.clone(),
            country_2letter_iso_code: c.country_2letter_iso_code.clone(),
            region: c.region.clone(),
            cloud_provider: c.cloud_provider.clone(),
            cloud_region: c.cloud_region.clone(),
            force_g_per_kwh: c.force_carbon_intensity_g_per_kwh,
        }
    }
}
