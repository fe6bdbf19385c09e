//! Electricity Maps live carbon intensity (docs/measuring.md), when `electricitymaps_api_token` is set.
//! Fetched on the background runtime and cached per zone for five minutes; measurements use the
//! latest value and fall back to the static tables until one arrives or after any error.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use crate::log::Logger;

const REFRESH: Duration = Duration::from_secs(300);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where to ask for: coordinates if known, else the alpha-2 country code.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    LatLon(f64, f64),
    Country(String),
}

impl Zone {
    fn query(&self) -> String {
        match self {
            Zone::LatLon(lat, lon) => format!("lat={lat}&lon={lon}"),
            Zone::Country(c) => format!("countryCode={c}"),
        }
    }
}

#[derive(Default)]
struct Entry {
    g_per_kwh: Option<f64>,
    fetched: Option<Instant>,
    in_flight: bool,
}

static CACHE: Lazy<Mutex<HashMap<String, Entry>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// Parses `{"carbonIntensity": 123, …}`; an `error`/`message` answer is an `Err` with its text.
pub fn parse(status: u16, body: &str) -> Result<f64, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("HTTP {status}: {e}"))?;
    if status == 200 {
        if let Some(g) = v["carbonIntensity"].as_f64() {
            return Ok(g);
        }
    }
    let why = v["error"].as_str().or(v["message"].as_str()).unwrap_or("no carbonIntensity in the answer");
    Err(format!("HTTP {status}: {why}"))
}

/// The latest live value for `zone`, starting a refresh in the background when it is stale.
pub fn current(url: &str, token: &str, zone: &Zone, log: &Logger) -> Option<f64> {
    let full = format!("{url}?{}", zone.query());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let e = cache.entry(full.clone()).or_default();
    let stale = e.fetched.is_none_or(|t| t.elapsed() >= REFRESH);
    if stale && !e.in_flight {
        e.in_flight = true;
        let (token, log) = (token.to_string(), log.clone());
        crate::background::spawn_blocking(move || {
            let got = crate::http::get(&full, &[("auth-token", &token)], TIMEOUT).and_then(|r| parse(r.status, &r.body));
            let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            let e = cache.entry(full).or_default();
            e.in_flight = false;
            e.fetched = Some(Instant::now());
            match got {
                Ok(g) => e.g_per_kwh = Some(g),
                Err(why) => {
                    e.g_per_kwh = None;
                    log.warning(format!("Electricity Maps failed ({why}); using the static tables"));
                }
            }
        });
    }
    e.g_per_kwh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse(200, r#"{"zone":"FR","carbonIntensity":32,"datetime":"x"}"#), Ok(32.0));
        assert!(parse(401, r#"{"error":"Invalid token"}"#).unwrap_err().contains("Invalid token"));
        assert!(parse(200, "not json").is_err());
        assert_eq!(Zone::Country("FR".into()).query(), "countryCode=FR");
        assert_eq!(Zone::LatLon(48.9, 2.3).query(), "lat=48.9&lon=2.3");
    }
}
