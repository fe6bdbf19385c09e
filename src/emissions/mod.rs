//! Carbon intensity: which gCO2e/kWh applies to a tracker's energy, and where it comes from
//! (CodeCarbon's resolution order, docs/measuring.md): forced value > cloud region (`impact.csv`) >
//! country region (US states, Canadian provinces, Nordic zones) > country > world average.

pub mod cloud;
pub mod electricitymaps;
pub mod geo;
pub mod location;
pub mod tables;

use crate::log::Logger;
mod place;
pub use place::Place;
pub use tables::country_name;
use tables::*;

pub use crate::record::location::Location;

#[derive(Debug, Clone, PartialEq)]
pub struct Intensity {
    pub g_per_kwh: f64,
    /// Which table or rule gave the number, for logs and transparency.
    pub source: String,
    pub location: Location,
}

impl Intensity {
    /// Where Electricity Maps should be asked about this location, if anywhere.
    pub fn live_zone(&self, place: &Place) -> Option<electricitymaps::Zone> {
        if let (Some(lat), Some(lon)) = (self.location.latitude, self.location.longitude) {
            return Some(electricitymaps::Zone::LatLon(lat, lon));
        }
        let iso2 = place.country_2letter_iso_code.clone().or_else(|| {
            let iso3 = self.location.country_iso_code.as_deref()?;
            Some(isocountry::CountryCode::for_alpha3(iso3).ok()?.alpha2().to_string())
        })?;
        Some(electricitymaps::Zone::Country(iso2))
    }

    pub fn kg_for(&self, energy_kwh: f64) -> f64 {
        energy_kwh * self.g_per_kwh / 1000.0
    }
}

/// lbs/MWh → g/kWh.
const G_PER_KWH_PER_LBS_PER_MWH: f64 = 0.453_592_37;
/// kg/kWh of the fossil shares of a Canadian province mix (CodeCarbon's factors).
const CANADA_FOSSIL_KG_PER_KWH: [(&str, f64); 3] =
    [("coal", 0.995725971), ("petroleum", 0.8166885263), ("naturalGas", 0.7438415916)];

/// The intensity for `place`, completed by a finished network lookup (`None` while offline or
/// while it is not needed).
pub fn resolve_located(place: &Place, located: Option<&location::Located>, log: &Logger) -> Intensity {
    let Some(l) = located else { return resolve(place, log) };
    let mut i = resolve(&location::apply(place, l), log);
    if let Ok(g) = &l.geo {
        i.location.latitude = g.latitude;
        i.location.longitude = g.longitude;
        i.location.country_name = Some(g.country_name.clone()).filter(|n| !n.is_empty()).or(i.location.country_name);
    }
    i
}

/// Resolves the intensity for `place` from the embedded tables (no network).
pub fn resolve(place: &Place, log: &Logger) -> Intensity {
    let mut location = Location {
        country_iso_code: place.country_iso_code.clone(),
        country_name: place.country_iso_code.as_deref().and_then(country_name),
        region: place.region.clone(),
        cloud_provider: place.cloud_provider.clone(),
        cloud_region: place.cloud_region.clone(),
        longitude: None,
        latitude: None,
    };
    if let Some(g) = place.force_g_per_kwh {
        return Intensity { g_per_kwh: g, source: "forced by force_carbon_intensity_g_co2e_kwh".into(), location };
    }
    if let (Some(p), Some(r)) = (&place.cloud_provider, &place.cloud_region) {
        if let Some(row) = CLOUD_REGIONS.iter().find(|c| &c.provider == p && &c.region == r) {
            // The region's own country, as CodeCarbon writes it.
            location.country_iso_code = Some(row.country_iso_code.clone());
            location.country_name = Some(row.country_name.clone());
            return Intensity { g_per_kwh: row.impact_g_per_kwh, source: format!("cloud region {p}/{r} (impact.csv)"), location };
        }
        log.info(format!(
            "Cloud region {p}/{r} has no carbon intensity in impact.csv (it lists GCP regions only); \
             using the country's if known, else the world average"
        ));
    }
    let (g, source) = private_infra(place.country_iso_code.as_deref(), place.region.as_deref(), log);
    Intensity { g_per_kwh: g, source, location }
}


fn world_average(why: &str) -> (f64, String) {
    (*WORLD_AVERAGE_G_PER_KWH, format!("world average ({why})"))
}

fn private_infra(iso3: Option<&str>, region: Option<&str>, log: &Logger) -> (f64, String) {
    let Some(iso3) = iso3 else {
        return world_average("no country given");
    };
    if let Some(region) = region {
        if let Some(found) = region_intensity(iso3, region) {
            return found;
        }
        log.warning(format!("No carbon intensity for region `{region}` of {iso3}; using the country's"));
    }
    match country(iso3) {
        None => {
            let (g, source) = world_average(&format!("no data for country {iso3}"));
            log.warning(format!(
                "country_iso_code {iso3}: no such country in the carbon intensity tables (is it an ISO 3166-1 \
                 alpha-3 code?); using the world average, {g} gCO2e/kWh"
            ));
            (g, source)
        }
        // A zero is a real figure (CodeCarbon 3.3.2); only a missing one falls back to the mix.
        Some(rec) => match rec.get("carbon_intensity").and_then(|v| v.as_f64()) {
            Some(g) => (g, format!("country {iso3} (global_energy_mix.json)")),
            None => match mix_intensity(&rec) {
                Some(g) => (g, format!("country {iso3} generation mix (global_energy_mix.json)")),
                None => world_average(&format!("incomplete generation mix for {iso3}")),
            },
        },
    }
}

/// US state, Canadian province, Nordic bidding zone or Chinese province; `None` when the region
/// is not in a table.
fn region_intensity(iso3: &str, region: &str) -> Option<(f64, String)> {
    let region = region.to_lowercase();
    let nordic_prefix = match iso3 {
        "SWE" => Some("SE"),
        "NOR" => Some("NO"),
        "FIN" => Some("FI"),
        _ => None,
    };
    if let Some(prefix) = nordic_prefix {
        let zone = region.to_ascii_uppercase();
        if zone.starts_with(prefix) {
            let g = *NORDIC_G_PER_KWH.get(&zone)?;
            return Some((g, format!("Nordic zone {zone} (nordic_emissions.json)")));
        }
        return None;
    }
    match iso3 {
        "USA" => {
            let lbs = *USA_LBS_PER_MWH.get(&region)?;
            Some((lbs * G_PER_KWH_PER_LBS_PER_MWH, format!("US state {region} (usa_emissions.json)")))
        }
        "CHN" => {
            let name = china_province_name(&region);
            let p = CHINA_PROVINCES.iter().find(|p| p.names.contains(&name))?;
            Some((p.g_per_kwh, format!("Chinese province {} {} (china_provincial_emissions.json)", p.code, p.name)))
        }
        "CAN" => {
            let mix = CANADA_MIX.get(&region)?;
            let total = *mix.get("total")?;
            if total <= 0.0 {
                return None;
            }
            let kg: f64 = CANADA_FOSSIL_KG_PER_KWH.iter().map(|(k, f)| mix.get(*k).copied().unwrap_or(0.0) / total * f).sum();
            Some((kg * 1000.0, format!("Canadian province {region} (canada_energy_mix.json)")))
        }
        _ => None,
    }
}

/// A region as the Chinese table names it: lower case, single spaces, without a trailing
/// `province`, `municipality`, `autonomous region` (or their pinyin `sheng`, `shi`, `zizhiqu`).
fn china_province_name(region: &str) -> String {
    let mut name = region.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    for suffix in [" autonomous region", " municipality", " province", " sheng", " shi", " zizhiqu"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            name = stem.to_string();
            break;
        }
    }
    name
}

/// `Σ share_k × factor_k` over the `*_TWh` sources that have a factor, when they cover the total.
fn mix_intensity(rec: &serde_json::Map<String, serde_json::Value>) -> Option<f64> {
    let total = rec.get("total_TWh")?.as_f64()?;
    if total <= 0.0 {
        return None;
    }
    let (mut covered, mut g) = (0.0, 0.0);
    for (k, v) in rec {
        let Some(source) = k.strip_suffix("_TWh") else { continue };
        let (Some(twh), Some(f)) = (v.as_f64(), PER_SOURCE_FACTORS.get(source)) else { continue };
        covered += twh;
        g += twh / total * f;
    }
    ((covered - total).abs() <= 1e-9 * total.max(1.0)).then_some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn kg(opts: &[(&str, &str)], kwh: f64) -> f64 {
        let mut c = Config::default();
        for (k, v) in opts {
            match *k {
                "country" => c.country_iso_code = Some(v.to_string()),
                "region" => c.region = Some(v.to_string()),
                "provider" => c.cloud_provider = Some(v.to_string()),
                "cloud_region" => c.cloud_region = Some(v.to_string()),
                "force" => c.force_carbon_intensity_g_per_kwh = Some(v.parse().unwrap()),
                _ => unreachable!(),
            }
        }
        resolve(&Place::of(&c), &quiet()).kg_for(kwh)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
    }

    #[test]
    fn codecarbon_vectors() {
        // Upstream tests/test_emissions.py (CodeCarbon 3.3.2's test vectors).
        assert!(close(kg(&[("provider", "aws"), ("cloud_region", "us-east-1")], 0.6), 0.285));
        assert!(close(kg(&[("country", "FRA")], 1.0), 0.056039));
        assert!(close(kg(&[("country", "USA")], 0.3), 0.3 * 0.369473));
        assert!(close(kg(&[("country", "AAA")], 1.0), 0.475));
        assert!(close(kg(&[("country", "UNK")], 1.0), 0.475));
        assert!(close(kg(&[], 1.0), 0.475));
        assert!(close(kg(&[("country", "CAN")], 3.0), 0.510129));
        assert!(close(kg(&[("force", "50")], 2.0), 0.1));
        assert!(close(kg(&[("force", "100"), ("provider", "gcp"), ("cloud_region", "europe-west1")], 2.0), 0.2));
        assert!(close(kg(&[("country", "SWE"), ("region", "se2")], 1.0), 0.0257));
    }

    #[test]
    fn regions() {
        assert!(close(kg(&[("country", "USA"), ("region", "california")], 1.0), 394.769 * 0.45359237 / 1000.0));
        assert!(close(kg(&[("country", "USA"), ("region", "texas")], 1.0), 771.179 * 0.45359237 / 1000.0));
        let quebec = kg(&[("country", "CAN"), ("region", "quebec")], 1.0) * 1000.0;
        assert!((quebec - 3.937).abs() < 0.001, "{quebec}");
        let alberta = kg(&[("country", "CAN"), ("region", "alberta")], 1.0) * 1000.0;
        assert!((alberta - 627.67).abs() < 0.01, "{alberta}");
        assert!(close(kg(&[("country", "FIN"), ("region", "FI")], 1.0), 0.072));
        // China's provinces, by any of their names, with or without a suffix.
        for region in ["guangdong", "Guangdong Province", "GUANGDONG  sheng"] {
            assert!(close(kg(&[("country", "CHN"), ("region", region)], 1.0), 0.4419), "{region}");
        }
        for region in ["Inner Mongolia Autonomous Region", "nei mongol", "Neimenggu"] {
            assert!(close(kg(&[("country", "CHN"), ("region", region)], 1.0), 0.6479), "{region}");
        }
        assert!(close(kg(&[("country", "CHN"), ("region", "Beijing Shi")], 1.0), 0.5554));
        // Not published (Tibet), or not a province: China's national value.
        let china = country("CHN").unwrap()["carbon_intensity"].as_f64().unwrap() / 1000.0;
        for region in ["tibet", "xizang", "atlantis"] {
            assert!(close(kg(&[("country", "CHN"), ("region", region)], 1.0), china), "{region}");
        }
        // A province's name under another country is not looked up in China's table.
        assert!(close(kg(&[("country", "FRA"), ("region", "guangdong")], 1.0), 0.056039));
        // A Nordic country with a non-Nordic region, or an unknown state: the country's value.
        assert!(close(kg(&[("country", "SWE"), ("region", "stockholm")], 1.0), 0.040695));
        assert!(close(kg(&[("country", "USA"), ("region", "atlantis")], 1.0), 0.369473));
    }

    #[test]
    fn cloud_gcp_and_mix_fallback() {
        assert!(close(kg(&[("provider", "gcp"), ("cloud_region", "us-central1")], 1.0), 0.430));
        // CAF's carbon_intensity is 0.0, used as given (CodeCarbon 3.3.2; 3.3.0 computed 26 g from its mix).
        assert_eq!(kg(&[("country", "CAF")], 1.0), 0.0);
    }

    #[test]
    fn location_fields() {
        let mut c = Config { country_iso_code: Some("FRA".into()), ..Default::default() };
        let i = resolve(&Place::of(&c), &quiet());
        assert_eq!(i.location.country_name.as_deref(), Some("France"));
        assert!(!i.location.on_cloud());
        c.cloud_provider = Some("gcp".into());
        c.cloud_region = Some("europe-west1".into());
        let i = resolve(&Place::of(&c), &quiet());
        assert_eq!(i.location.country_iso_code.as_deref(), Some("BEL"));
        assert_eq!(i.location.country_name.as_deref(), Some("Belgium"));
        assert!(i.location.on_cloud());
    }
}
