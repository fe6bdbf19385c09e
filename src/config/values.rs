//! Typed parsing of option values, with messages that say what was expected.

use std::path::PathBuf;

use super::kinds::{OutputMethods, Secret};
use crate::error::{Error, Result};
use crate::log::Level;

// Every parser has the shape `(origin, key, value) -> Result<T>`, the last column of the key
// table; messages name the source, the key and what was expected.

/// true/false/1/0/yes/no/on/off, any case (CodeCarbon only took "true": docs/differences.md).
pub fn boolean(origin: &str, key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::option(format!("{origin}{key}={v}: expected a boolean (true/false, 1/0, yes/no)"))),
    }
}

fn finite(origin: &str, key: &str, v: &str) -> Result<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::option(format!("{origin}{key}={v}: expected a number")))
}

/// A number in `[min, max]`.
pub fn number(min: f64, max: f64) -> impl Fn(&str, &str, &str) -> Result<f64> {
    move |origin, key, v| {
        let x = finite(origin, key, v)?;
        if !(min..=max).contains(&x) {
            return Err(Error::option(format!("{origin}{key}={v}: expected a number from {min} to {max}")));
        }
        Ok(x)
    }
}

/// A number in `(0, max]`.
pub fn positive(max: f64) -> impl Fn(&str, &str, &str) -> Result<f64> {
    move |origin, key, v| {
        let x = finite(origin, key, v)?;
        if !(x > 0.0 && x <= max) {
            return Err(Error::option(format!("{origin}{key}={v}: expected a number > 0 and at most {max}")));
        }
        Ok(x)
    }
}

/// A power usage effectiveness: the facility's energy over its IT equipment's, so at least 1
/// (CodeCarbon takes any number, and a PUE below 1 silently lowers every energy).
pub fn pue_ratio(origin: &str, key: &str, v: &str) -> Result<f64> {
    let x = finite(origin, key, v)?;
    if !(1.0..=100.0).contains(&x) {
        return Err(Error::option(format!(
            "{origin}{key}={v}: expected a number from 1 to 100 (a PUE is the facility's energy over its IT \
             equipment's, never below 1; 1 is a machine without a data centre's overhead)"
        )));
    }
    Ok(x)
}

/// `parse`, or `None` for an empty value or `none`.
pub fn optional<T>(parse: impl Fn(&str, &str, &str) -> Result<T>) -> impl Fn(&str, &str, &str) -> Result<Option<T>> {
    move |origin, key, v| {
        let t = v.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("none") {
            Ok(None)
        } else {
            parse(origin, key, t).map(Some)
        }
    }
}

/// The value as given.
pub fn text(_: &str, _: &str, v: &str) -> Result<String> {
    Ok(v.to_string())
}

pub fn trimmed(_: &str, _: &str, v: &str) -> Result<String> {
    Ok(v.trim().to_string())
}

pub fn lowercase(_: &str, _: &str, v: &str) -> Result<String> {
    Ok(v.trim().to_lowercase())
}

fn non_empty(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        Err(Error::option(format!("{origin}{key}: expected a non-empty value")))
    } else {
        Ok(t.to_string())
    }
}

pub fn path(origin: &str, key: &str, v: &str) -> Result<PathBuf> {
    non_empty(origin, key, v).map(PathBuf::from)
}

/// A file's path: a name, a relative path or an absolute one, but not a directory (`out/`, `..`).
pub fn file_path(origin: &str, key: &str, v: &str) -> Result<PathBuf> {
    let f = non_empty(origin, key, v)?;
    if matches!(f.rsplit('/').next(), Some("" | "." | "..")) {
        return Err(Error::option(format!("{origin}{key}={v}: expected the path of a file, not of a directory")));
    }
    Ok(PathBuf::from(f))
}

/// One of a fixed set of words, any case.
pub fn choice<'a>(origin: &str, key: &str, v: &str, choices: &[&'a str]) -> Result<&'a str> {
    let lower = v.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|c| **c == lower)
        .copied()
        .ok_or_else(|| Error::option(format!("{origin}{key}={v}: expected one of {}", choices.join(", "))))
}

/// An ISO 3166-1 alpha-3 country code, returned upper-case. A code no country has is an error
/// naming the nearest codes (a typo such as FRN would otherwise mean the world average).
pub fn iso3(origin: &str, key: &str, v: &str) -> Result<String> {
    country_code(origin, key, v, 3, "alpha-3", "FRA or USA")
}

/// An ISO 3166-1 alpha-2 country code, returned upper-case; checked as `iso3`.
pub fn iso2(origin: &str, key: &str, v: &str) -> Result<String> {
    country_code(origin, key, v, 2, "alpha-2", "FR or US")
}

fn country_code(origin: &str, key: &str, v: &str, len: usize, standard: &str, examples: &str) -> Result<String> {
    use isocountry::CountryCode;
    let t = v.trim();
    let code_of = |c: &CountryCode| if len == 3 { c.alpha3() } else { c.alpha2() };
    if t.len() != len || !t.bytes().all(|b| b.is_ascii_alphabetic()) {
        // A country's name or its other code: say which code it has.
        let named = CountryCode::iter()
            .find(|c| c.name().eq_ignore_ascii_case(t) || c.alpha2().eq_ignore_ascii_case(t) || c.alpha3().eq_ignore_ascii_case(t));
        let hint = named.map_or(String::new(), |c| format!("; {} is {}", c.name(), code_of(c)));
        return Err(Error::option(format!("{origin}{key}={v}: expected an ISO 3166-1 {standard} country code such as {examples}{hint}")));
    }
    let upper = t.to_ascii_uppercase();
    let codes = || CountryCode::iter().map(code_of);
    if codes().any(|c| c == upper) {
        return Ok(upper);
    }
    let mut sorted: Vec<&str> = codes().collect();
    sorted.sort_unstable();
    let near: Vec<String> = super::suggest::nearest(&upper, sorted, 1, 5)
        .into_iter()
        .filter_map(|code| CountryCode::iter().find(|c| code_of(c) == code).map(|c| format!("{code} ({})", c.name())))
        .collect();
    let hint = if near.is_empty() { String::new() } else { format!("; did you mean {}?", super::suggest::or_list(&near)) };
    Err(Error::option(format!("{origin}{key}={v}: no country has the ISO 3166-1 {standard} code {upper}{hint}")))
}

/// An http(s) URL without its trailing `/`.
pub fn url(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if !(t.starts_with("http://") || t.starts_with("https://")) || t.len() < 10 {
        return Err(Error::option(format!("{origin}{key}={v}: expected an http:// or https:// URL")));
    }
    Ok(t.trim_end_matches('/').to_string())
}

/// A URL a request can be sent to: http(s)://host[:port][/path], no spaces, a port from 1 to
/// 65535; returned without its trailing `/`. (`url` above stays as lenient as before.)
pub fn endpoint_url(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    let bad = |why: &str| Error::option(format!("{origin}{key}={v}: expected an http:// or https:// URL with a host ({why})"));
    let rest = t.strip_prefix("http://").or_else(|| t.strip_prefix("https://")).ok_or_else(|| bad("no http:// or https://"))?;
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains a space"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(bad("unclosed [")),
        },
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c)) {
        return Err(bad("no valid host"));
    }
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
    }
    Ok(t.trim_end_matches('/').to_string())
}

/// A rank or local rank: an integer from 0 to 10,000,000.
pub fn rank(origin: &str, key: &str, v: &str) -> Result<u32> {
    match v.trim().parse::<u32>() {
        Ok(n) if n <= 10_000_000 => Ok(n),
        _ => Err(Error::option(format!("{origin}{key}={v}: expected an integer from 0 to 10000000"))),
    }
}

/// A job id: non-empty, at most 128 characters of letters, digits and `._-:@+`.
pub fn job_id(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() || t.len() > 128 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "._-:@+".contains(c)) {
        return Err(Error::option(format!("{origin}{key}={v}: expected 1 to 128 letters, digits or ._-:@+")));
    }
    Ok(t.to_string())
}

pub fn secret(_: &str, _: &str, v: &str) -> Result<Secret> {
    Ok(Secret(v.trim().to_string()))
}

pub fn log_level(origin: &str, key: &str, v: &str) -> Result<Level> {
    Level::parse(v).ok_or_else(|| Error::option(format!("{origin}{key}={v}: expected one of debug, info, warning, error, critical")))
}

/// -1 (only on flush/stop) or a count from 1 to 1,000,000.
pub fn call_interval(origin: &str, key: &str, v: &str) -> Result<i64> {
    match v.trim().parse::<i64>() {
        Ok(n) if n == -1 || (1..=1_000_000).contains(&n) => Ok(n),
        Ok(_) => Err(Error::option(format!("{origin}{key}={v}: expected -1 (only on flush/stop) or a count from 1 to 1000000"))),
        Err(_) => Err(Error::option(format!("{origin}{key}={v}: expected an integer"))),
    }
}

/// CodeCarbon's `output_methods`: a comma-separated list of csv/file, api, prometheus, logger,
/// logfire and otlp (ours: OpenTelemetry without Logfire's defaults).
pub fn output_methods(origin: &str, key: &str, v: &str) -> Result<OutputMethods> {
    let mut m = OutputMethods::default();
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "csv" | "file" => m.file = true,
            "api" => m.api = true,
            "prometheus" => m.prometheus = true,
            "logger" => m.logger = true,
            "logfire" => m.logfire = true,
            "otlp" => m.otlp = true,
            "boamps" => {
                return Err(Error::option(format!(
                    "{origin}{key}={v}: output method `{name}` is not implemented in this version (csv, api, prometheus, logger, logfire and otlp are)"
                )))
            }
            _ => {
                return Err(Error::option(format!(
                    "{origin}{key}={v}: unknown output method `{name}`; expected csv, api, prometheus, logger, logfire, otlp"
                )))
            }
        }
    }
    Ok(m)
}

/// `gpu_ids` (or `CUDA_VISIBLE_DEVICES`) as a list: indices, UUID prefixes or MIG instance ids
/// (`MIG-<uuid>`, `MIG-GPU-<uuid>/<gi>/<ci>`), resolved against the devices when probing.
pub fn parse_gpu_ids(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

pub fn gpu_ids(_: &str, _: &str, v: &str) -> Result<Option<Vec<String>>> {
    Ok(Some(parse_gpu_ids(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "1", "yes", "On"] {
            assert!(boolean("", "k", t).unwrap());
        }
        for f in ["false", "0", "no", "OFF"] {
            assert!(!boolean("", "k", f).unwrap());
        }
        let e = boolean("", "save_to_file", "maybe").unwrap_err();
        assert!(e.message.contains("save_to_file=maybe") && e.message.contains("boolean"));
    }

    #[test]
    fn numbers() {
        assert_eq!(positive(100.0)("", "pue", "1.5").unwrap(), 1.5);
        assert!(positive(100.0)("", "pue", "0").is_err());
        assert!(positive(100.0)("", "pue", "101").unwrap_err().message.contains("at most 100"));
        assert_eq!(pue_ratio("", "pue", "1").unwrap(), 1.0);
        assert_eq!(pue_ratio("", "pue", "1.5").unwrap(), 1.5);
        for bad in ["0.5", "0.99", "0", "-1", "101", "NaN"] {
            let e = pue_ratio("", "pue", bad).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption, "pue={bad}");
            assert!(e.message.contains(&format!("pue={bad}")), "{}", e.message);
        }
        assert!(pue_ratio("", "pue", "0.5").unwrap_err().message.contains("never below 1"));
        assert!(number(0.0, 10.0)("", "wue", "-1").is_err());
        assert!(number(0.0, 10.0)("", "wue", "NaN").is_err());
        assert!(number(0.0, 10.0)("", "wue", "inf").is_err());
        assert!(number(0.0, 10.0)("", "wue", "abc").unwrap_err().message.contains("expected a number"));
        assert_eq!(optional(number(0.0, 1.0))("", "x", " none ").unwrap(), None);
        assert_eq!(call_interval("", "n", "-1").unwrap(), -1);
        assert!(call_interval("", "n", "0").is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(iso3("", "c", "fra").unwrap(), "FRA");
        assert!(iso3("", "c", "FR").is_err());
        assert!(iso3("", "c", "F1A").is_err());
        assert_eq!(iso2("", "c", "fr").unwrap(), "FR");
        // A code of no country: an error with the nearest codes, not the world average.
        let e = iso3("options: ", "country_iso_code", "FRN").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption);
        assert!(
            e.message.starts_with("options: country_iso_code=FRN: no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France), FRO (Faroe Islands), FIN (Finland)"),
            "{}",
            e.message
        );
        let e = iso2("", "country_2letter_iso_code", "UK").unwrap_err();
        assert!(e.message.contains("no country has the ISO 3166-1 alpha-2 code UK; did you mean"), "{}", e.message);
        // A name or the other code: the message gives the code.
        let e = iso3("", "country_iso_code", "France").unwrap_err();
        assert!(e.message.ends_with("France is FRA"), "{}", e.message);
        let e = iso3("", "country_iso_code", "de").unwrap_err();
        assert!(e.message.ends_with("is DEU"), "{}", e.message);
        // Codes without carbon data are still countries (the world average applies, with a warning).
        assert_eq!(iso3("", "c", "ata").unwrap(), "ATA");
        assert_eq!(choice("", "m", "Update", &["append", "update"]).unwrap(), "update");
        assert_eq!(parse_gpu_ids(" 0, MIG-GPU-ab/1/2 ,,GPU-cd"), vec!["0", "MIG-GPU-ab/1/2", "GPU-cd"]);
    }

    #[test]
    fn endpoint_urls() {
        for ok in ["http://127.0.0.1:9091", "https://gw.example/", "http://[::1]:4318/v1/metrics", "http://u:p@host:80/x"] {
            assert!(endpoint_url("", "u", ok).is_ok(), "{ok}");
        }
        assert_eq!(endpoint_url("", "u", "http://h:1/").unwrap(), "http://h:1");
        for bad in ["localhost:9091", "http://", "http://:80", "http://h:99999", "http://h:x", "http://h k", "ftp://h", "http://h/a b"] {
            assert!(endpoint_url("", "prometheus_url", bad).is_err(), "{bad}");
        }
        assert_eq!(rank("", "rank", " 3 ").unwrap(), 3);
        assert!(rank("", "rank", "-1").is_err() && rank("", "rank", "10000001").is_err());
        assert!(job_id("", "job_id", "12345.batch").is_ok() && job_id("", "job_id", "a/b").is_err());
        let m = output_methods("", "output_methods", "csv, prometheus,logger,logfire,otlp").unwrap();
        assert!(m.file && m.prometheus && m.logger && m.logfire && m.otlp && !m.api);
    }
}
