//! CodeCarbon's intensity tables, embedded in the library and parsed once, at first use.
//! Sources are attributed in docs/measuring.md and THIRD_PARTY_NOTICES.md (OWID/Ember, US EPA eGRID, ENTSO-E, Google Cloud, …).

use std::collections::HashMap;

use once_cell::sync::Lazy;
use serde_json::value::RawValue;
use serde_json::Value;

static GLOBAL_ENERGY_MIX: &str = include_str!("../../data/global_energy_mix.json");
static PER_SOURCE: &str = include_str!("../../data/carbon_intensity_per_source.json");
static USA: &str = include_str!("../../data/usa_emissions.json");
static CANADA: &str = include_str!("../../data/canada_energy_mix.json");
static NORDIC: &str = include_str!("../../data/nordic_emissions.json");
static CHINA: &str = include_str!("../../data/china_provincial_emissions.json");
static IMPACT: &str = include_str!("../../data/impact.csv");

/// gCO2e/kWh when nothing better is known (`carbon_intensity_per_source.json`).
pub static WORLD_AVERAGE_G_PER_KWH: Lazy<f64> =
    Lazy::new(|| PER_SOURCE_FACTORS.get("world_average").copied().unwrap_or(475.0));

fn parse(name: &str, text: &str) -> Value {
    // The embedded files are fixed at build time and covered by tests; a parse failure is a build bug.
    serde_json::from_str(text).unwrap_or_else(|e| panic!("embedded {name} is invalid: {e}"))
}

/// ISO3 → the country's record, still as JSON text: the first `start` of a process only skims
/// the 130 kB file (a full parse into `Value`s cost 2 ms) and parses the one record it needs.
static COUNTRY_RECORDS: Lazy<HashMap<&'static str, &'static RawValue>> = Lazy::new(|| {
    serde_json::from_str(GLOBAL_ENERGY_MIX).unwrap_or_else(|e| panic!("embedded global_energy_mix.json is invalid: {e}"))
});

/// ISO3 codes of the countries in `global_energy_mix.json`.
#[cfg(test)]
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    COUNTRY_RECORDS.keys().copied()
}

/// The record of country `iso3` (`carbon_intensity`, `country_name`, `*_TWh`).
pub fn country(iso3: &str) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_str(COUNTRY_RECORDS.get(iso3)?.get()).ok()
}

/// Source name → gCO2e/kWh (numeric entries only).
pub static PER_SOURCE_FACTORS: Lazy<HashMap<String, f64>> = Lazy::new(|| match parse("carbon_intensity_per_source.json", PER_SOURCE) {
    Value::Object(m) => m.into_iter().filter_map(|(k, v)| Some((k, v.as_f64()?))).collect(),
    _ => HashMap::new(),
});

/// Lower-case US state (and `usa`) → lbs CO2e per MWh.
pub static USA_LBS_PER_MWH: Lazy<HashMap<String, f64>> = Lazy::new(|| match parse("usa_emissions.json", USA) {
    Value::Object(m) => m.into_iter().filter_map(|(k, v)| Some((k, v.get("emissions")?.as_f64()?))).collect(),
    _ => HashMap::new(),
});

/// Lower-case Canadian province → generation mix in % (`coal`, `petroleum`, `naturalGas`, `total`, …).
pub static CANADA_MIX: Lazy<HashMap<String, HashMap<String, f64>>> = Lazy::new(|| match parse("canada_energy_mix.json", CANADA) {
    Value::Object(m) => m
        .into_iter()
        .filter_map(|(k, v)| {
            let mix = v.as_object()?.iter().filter_map(|(s, x)| Some((s.clone(), x.as_f64()?))).collect();
            Some((k, mix))
        })
        .collect(),
    _ => HashMap::new(),
});

/// Nordic bidding zone (`SE1`…`SE4`, `NO1`…`NO5`, `FI`) → gCO2e/kWh.
pub static NORDIC_G_PER_KWH: Lazy<HashMap<String, f64>> = Lazy::new(|| {
    let v = parse("nordic_emissions.json", NORDIC);
    v.get("data")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, z)| Some((k.clone(), z.get("emission_factor")?.as_f64()?))).collect())
        .unwrap_or_default()
});

/// A province of China with its official factor (`china_provincial_emissions.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChinaProvince {
    /// `CN-GD`.
    pub code: String,
    /// `Guangdong`.
    pub name: String,
    /// gCO2/kWh.
    pub g_per_kwh: f64,
    /// Lower-case names that select it (`inner mongolia`, `nei mongol`, ...).
    pub names: Vec<String>,
}

/// China's provinces (Tibet, Hong Kong, Macao and Taiwan are not published: not listed).
pub static CHINA_PROVINCES: Lazy<Vec<ChinaProvince>> = Lazy::new(|| {
    let v = parse("china_provincial_emissions.json", CHINA);
    let Some(data) = v.get("data").and_then(Value::as_object) else { return Vec::new() };
    data.iter()
        .filter_map(|(code, p)| {
            Some(ChinaProvince {
                code: code.clone(),
                name: p.get("description")?.as_str()?.to_string(),
                g_per_kwh: p.get("emission_factor")?.as_f64()?,
                names: p.get("names")?.as_array()?.iter().filter_map(|n| Some(n.as_str()?.to_string())).collect(),
            })
        })
        .collect()
});

#[derive(Debug, Clone, PartialEq)]
pub struct CloudRegion {
    pub provider: String,
    pub region: String,
    pub country_name: String,
    pub country_iso_code: String,
    pub impact_g_per_kwh: f64,
}

/// Rows of `impact.csv` (which starts with a UTF-8 BOM).
pub static CLOUD_REGIONS: Lazy<Vec<CloudRegion>> = Lazy::new(|| {
    let text = IMPACT.trim_start_matches('\u{feff}');
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().cloned().unwrap_or_default();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (p, r, cn, ci, imp) = (col("provider"), col("region"), col("country_name"), col("countryIsoCode"), col("impact"));
    rdr.records()
        .filter_map(|rec| {
            let rec = rec.ok()?;
            let get = |i: Option<usize>| rec.get(i?).map(str::to_string);
            Some(CloudRegion {
                provider: get(p)?.to_ascii_lowercase(),
                region: get(r)?.to_ascii_lowercase(),
                country_name: get(cn).unwrap_or_default(),
                country_iso_code: get(ci).unwrap_or_default(),
                impact_g_per_kwh: get(imp)?.parse().ok()?,
            })
        })
        .collect()
});

/// The country's name in CodeCarbon's tables, from its ISO 3166-1 alpha-3 code.
pub fn country_name(iso3: &str) -> Option<String> {
    country(iso3)?.get("country_name")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_parses_with_known_values() {
        assert_eq!(country_codes().count(), 213);
        assert!(country_codes().all(|c| country(c).is_some_and(|r| r["iso_code"] == c)));
        assert_eq!(country("FRA").unwrap()["carbon_intensity"].as_f64(), Some(56.039));
        assert_eq!(country("XXX"), None);
        assert_eq!(*WORLD_AVERAGE_G_PER_KWH, 475.0);
        // CodeCarbon 3.3.2's data: eGRID2023 states, ENTSO-E 2025 Nordic zones, China's 2023 provinces.
        assert_eq!(USA_LBS_PER_MWH["texas"], 771.179);
        assert_eq!(USA_LBS_PER_MWH.len(), 52, "50 states, DC and `usa`");
        assert_eq!(CANADA_MIX["quebec"]["hydro"], 92.1);
        assert_eq!(NORDIC_G_PER_KWH["SE1"], 25.9);
        assert_eq!(NORDIC_G_PER_KWH["FI"], 72.0);
        assert_eq!(CHINA_PROVINCES.len(), 30);
        let gd = CHINA_PROVINCES.iter().find(|p| p.code == "CN-GD").unwrap();
        assert_eq!((gd.name.as_str(), gd.g_per_kwh), ("Guangdong", 441.9));
        assert_eq!(PER_SOURCE_FACTORS["biomass"], 230.0);
        assert_eq!(CLOUD_REGIONS.len(), 40);
        let ew1 = CLOUD_REGIONS.iter().find(|c| c.region == "europe-west1").unwrap();
        assert_eq!((ew1.provider.as_str(), ew1.impact_g_per_kwh, ew1.country_iso_code.as_str()), ("gcp", 122.0, "BEL"));
    }
}
