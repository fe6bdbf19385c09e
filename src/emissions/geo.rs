//! Where this machine is, from its public IP (docs/measuring.md): GeoJS, then ipinfo. Unlike CodeCarbon,
//! a double failure is reported as such (no silent "Canada", its #854).

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Geo {
    pub country_iso_code: String,
    pub country_name: String,
    /// Lower-cased (US state, Canadian province…), if given.
    pub region: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub country_2letter_iso_code: Option<String>,
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A GeoJS answer: `country_code3`, `country`, `region`, `latitude`, `longitude`, `country_code`.
pub fn parse_geojs(v: &Value) -> Option<Geo> {
    let iso3 = text(&v["country_code3"])?.to_ascii_uppercase();
    Some(Geo {
        country_name: text(&v["country"]).unwrap_or_else(|| super::tables::country_name(&iso3).unwrap_or_default()),
        country_iso_code: iso3,
        region: text(&v["region"]).map(|r| r.to_lowercase()),
        latitude: num(&v["latitude"]),
        longitude: num(&v["longitude"]),
        country_2letter_iso_code: text(&v["country_code"]).map(|c| c.to_ascii_uppercase()),
    })
}

/// An ipinfo answer: `country` (alpha-2), `region`, `loc` = "lat,lon".
pub fn parse_ipinfo(v: &Value) -> Option<Geo> {
    let iso2 = text(&v["country"])?.to_ascii_uppercase();
    let code = isocountry::CountryCode::for_alpha2(&iso2).ok()?;
    let iso3 = code.alpha3().to_string();
    let (lat, lon) = match text(&v["loc"]).as_deref().and_then(|l| l.split_once(',')) {
        Some((a, b)) => (a.trim().parse().ok(), b.trim().parse().ok()),
        None => (None, None),
    };
    Some(Geo {
        country_name: super::tables::country_name(&iso3).unwrap_or_else(|| code.name().to_string()),
        country_iso_code: iso3,
        region: text(&v["region"]).map(|r| r.to_lowercase()),
        latitude: lat,
        longitude: lon,
        country_2letter_iso_code: Some(iso2),
    })
}

/// Tries `primary` (GeoJS format) then `backup` (ipinfo format). `Err` says why both failed.
pub fn lookup(primary: &str, backup: &str, timeout: Duration) -> Result<Geo, String> {
    let fetch = |url: &str, parse: fn(&Value) -> Option<Geo>| -> Result<Geo, String> {
        let r = crate::http::get(url, &[], timeout)?;
        if r.status != 200 {
            return Err(format!("HTTP {}", r.status));
        }
        r.json().as_ref().and_then(parse).ok_or_else(|| "no country in the answer".to_string())
    };
    match fetch(primary, parse_geojs) {
        Ok(g) => Ok(g),
        Err(e1) => fetch(backup, parse_ipinfo).map_err(|e2| format!("{primary}: {e1}; {backup}: {e2}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codecarbon_fixtures() {
        // Upstream tests/testdata.py.
        let g = parse_geojs(&json!({"region":"Illinois","country_code3":"USA","country":"United States","country_code":"US","latitude":"0","longitude":"88"})).unwrap();
        assert_eq!(g.country_iso_code, "USA");
        assert_eq!(g.region.as_deref(), Some("illinois"));
        assert_eq!((g.latitude, g.longitude), (Some(0.0), Some(88.0)));
        let b = parse_ipinfo(&json!({"region":"Illinois","country":"US","loc":"0,88"})).unwrap();
        assert_eq!(b.country_iso_code, "USA");
        assert_eq!(b.country_name, "United States");
        assert_eq!(b.longitude, Some(88.0));
        assert!(parse_geojs(&json!({"country":"nowhere"})).is_none());
        assert!(parse_ipinfo(&json!({"country":"ZZ"})).is_none());
    }
}
