//! The options string of `ct_tracker_new`: `key=value` pairs separated by `;`.
//! `\;` is a literal semicolon and `\\` a literal backslash; a `\` before any other character is
//! kept as is (so Windows paths need no escaping). Blank segments are ignored; keys are trimmed
//! and lower-cased (CodeCarbon's config keys are case-insensitive), values are trimmed.

use crate::error::{Error, Result};

/// Errors name the position of the bad part, never its text: it may be the tail of a secret
/// (an `api_key` value with an unescaped `;`).
pub fn parse(options: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (i, segment) in split_segments(options).into_iter().enumerate() {
        if segment.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = segment.split_once('=') else {
            return Err(Error::option(format!(
                "options: part {} is not of the form key=value (pairs are separated by `;`; write `\\;` for a `;` inside a value)",
                i + 1
            )));
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(Error::option(format!("options: part {} has an empty key", i + 1)));
        }
        pairs.push((key, value.trim().to_string()));
    }
    Ok(pairs)
}

/// Why options given as bytes (the C ABI's) are not UTF-8, naming the key whose value holds the
/// first bad byte `at` when there is one: `project_name: the value is not valid UTF-8 (at byte
/// 14 of the options)`, after `options: `, in the words every binding uses.
#[cfg(any(feature = "capi", test))] // for ct_tracker_new only: Rust strings are UTF-8
pub fn invalid_utf8(bytes: &[u8], at: usize) -> String {
    let before = std::str::from_utf8(&bytes[..at.min(bytes.len())]).unwrap_or_default();
    let segment = split_segments(before).pop().unwrap_or_default();
    match segment.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => {
            format!("{}: {} (at byte {at} of the options)", key.trim().to_ascii_lowercase(), NOT_UTF8)
        }
        _ => format!("not valid UTF-8 (at byte {at}), outside any value"),
    }
}

/// What is said of an option value that is not UTF-8, in the words of every binding: the C ABI
/// (which adds where), the `carbon-tracker` command and the Python binding.
pub const NOT_UTF8: &str = "the value is not valid UTF-8";

fn split_segments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(';') | Some('\\') => cur.push(chars.next().unwrap()),
                _ => cur.push('\\'),
            },
            ';' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap()
    }

    #[test]
    fn pairs_and_blanks() {
        assert_eq!(p(""), vec![]);
        assert_eq!(p(" ; ;"), vec![]);
        assert_eq!(
            p("project_name=demo; Country_ISO_Code = FRA ;"),
            vec![("project_name".into(), "demo".into()), ("country_iso_code".into(), "FRA".into())]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(p(r"project_name=a\;b;x=1"), vec![("project_name".into(), "a;b".into()), ("x".into(), "1".into())]);
        assert_eq!(p(r"output_dir=C:\tmp\\;x=1"), vec![("output_dir".into(), r"C:\tmp\".into()), ("x".into(), "1".into())]);
        // `=` inside a value is kept.
        assert_eq!(p("project_name=a=b"), vec![("project_name".into(), "a=b".into())]);
    }

    #[test]
    fn invalid_utf8_names_the_key() {
        let bytes: &[u8] = b"offline=true; Project_Name = a\xffb;x=1";
        let at = std::str::from_utf8(std::hint::black_box(bytes)).unwrap_err().valid_up_to();
        assert_eq!(invalid_utf8(bytes, at), "project_name: the value is not valid UTF-8 (at byte 30 of the options)");
        // An escaped `;` before the bad byte stays in the value.
        let bytes = b"project_name=a\\;b\xff";
        assert!(invalid_utf8(bytes, 17).starts_with("project_name: "), "{}", invalid_utf8(bytes, 17));
        assert!(invalid_utf8(b"pro\xffject=1", 3).contains("outside any value"));
    }

    #[test]
    fn malformed() {
        let e = parse("project_name").unwrap_err();
        assert!(e.message.contains("key=value"), "{}", e.message);
        let e = parse("api_key=abc;secret-tail;x=1").unwrap_err();
        assert!(e.message.contains("part 2") && !e.message.contains("secret"), "{}", e.message);
        assert!(parse("=x").is_err());
    }
}
