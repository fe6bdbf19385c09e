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

/// What is said of an option value that is not UTF-8, in the words of every binding: the C ABI
/// (which adds where), the `carbon-tracker` command and the Python binding.
pub const NOT_UTF8: &str = "the value is not valid UTF-8";

pub(crate) fn split_segments(s: &str) -> Vec<String> {
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
    fn malformed() {
        let e = parse("project_name").unwrap_err();
        assert!(e.message.contains("key=value"), "{}", e.message);
        let e = parse("api_key=abc;secret-tail;x=1").unwrap_err();
        assert!(e.message.contains("part 2") && !e.message.contains("secret"), "{}", e.message);
        assert!(parse("=x").is_err());
    }
}
