//! Typed parsing of option values, with messages that say what was expected.

use crate::error::{Error, Result};

/// true/false/1/0/yes/no/on/off, any case (CodeCarbon only took "true": its quirk Q10).
pub fn parse_bool(origin: &str, key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::option(format!("{origin}{key}={v}: expected a boolean (true/false, 1/0, yes/no)"))),
    }
}

/// A finite number with a lower bound (`min_exclusive` makes the bound strict).
pub fn parse_f64(origin: &str, key: &str, v: &str, min: f64, min_exclusive: bool) -> Result<f64> {
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| Error::option(format!("{origin}{key}={v}: expected a number")))?;
    let ok = x.is_finite() && if min_exclusive { x > min } else { x >= min };
    if !ok {
        let rel = if min_exclusive { ">" } else { ">=" };
        return Err(Error::option(format!("{origin}{key}={v}: expected a finite number {rel} {min}")));
    }
    Ok(x)
}

/// One of a fixed set of words, any case.
pub fn parse_choice<'a>(origin: &str, key: &str, v: &str, choices: &[&'a str]) -> Result<&'a str> {
    let lower = v.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|c| **c == lower)
        .copied()
        .ok_or_else(|| Error::option(format!("{origin}{key}={v}: expected one of {}", choices.join(", "))))
}

/// An ISO 3166-1 alpha-3 country code (three ASCII letters), returned upper-case.
pub fn parse_iso3(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(Error::option(format!("{origin}{key}={v}: expected an ISO 3166-1 alpha-3 country code such as FRA or USA")))
    }
}

/// An ISO 3166-1 alpha-2 country code, returned upper-case.
pub fn parse_iso2(origin: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.len() == 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(Error::option(format!("{origin}{key}={v}: expected an ISO 3166-1 alpha-2 country code such as FR")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "1", "yes", "On"] {
            assert!(parse_bool("", "k", t).unwrap());
        }
        for f in ["false", "0", "no", "OFF"] {
            assert!(!parse_bool("", "k", f).unwrap());
        }
        let e = parse_bool("", "save_to_file", "maybe").unwrap_err();
        assert!(e.message.contains("save_to_file=maybe") && e.message.contains("boolean"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_f64("", "pue", "1.5", 0.0, true).unwrap(), 1.5);
        assert!(parse_f64("", "pue", "0", 0.0, true).is_err());
        assert!(parse_f64("", "wue", "-1", 0.0, false).is_err());
        assert!(parse_f64("", "wue", "NaN", 0.0, false).is_err());
        assert!(parse_f64("", "wue", "inf", 0.0, false).is_err());
        assert!(parse_f64("", "wue", "abc", 0.0, false).unwrap_err().message.contains("expected a number"));
    }

    #[test]
    fn codes() {
        assert_eq!(parse_iso3("", "c", "fra").unwrap(), "FRA");
        assert!(parse_iso3("", "c", "FR").is_err());
        assert!(parse_iso3("", "c", "F1A").is_err());
        assert_eq!(parse_iso2("", "c", "fr").unwrap(), "FR");
        assert_eq!(parse_choice("", "m", "Update", &["append", "update"]).unwrap(), "update");
    }
}
