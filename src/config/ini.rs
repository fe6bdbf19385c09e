//! The subset of Python's `configparser` that CodeCarbon's config files use, with its exact
//! semantics (an ini crate would interpret escapes, quotes and inline comments, which
//! configparser does not): `[section]` headers; `key = value` or `key: value` (split at the
//! first `=` or `:`); keys lower-cased and trimmed; values trimmed and taken verbatim; lines
//! starting with `#` or `;` are comments; indented lines continue the previous value (joined
//! with `\n`); `[DEFAULT]` values are inherited by every section.

use std::collections::BTreeMap;

/// The keys of `section` (with `[DEFAULT]` inherited), in key order.
pub fn section(text: &str, wanted: &str) -> Result<Vec<(String, String)>, String> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.len() != trimmed.len();
        if indented {
            if let (Some(sec), Some(key)) = (&current, &last_key) {
                let v = sections.get_mut(sec).and_then(|s| s.get_mut(key)).expect("key was inserted");
                v.push('\n');
                v.push_str(trimmed);
                continue;
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            last_key = None;
            continue;
        }
        let Some(sec) = &current else {
            return Err(format!("line {}: a key outside any [section]", n + 1));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(format!("line {}: expected `key = value`, got `{trimmed}`", n + 1));
        };
        let key = trimmed[..split].trim().to_lowercase();
        let value = trimmed[split + 1..].trim().to_string();
        sections.get_mut(sec).expect("section exists").insert(key.clone(), value);
        last_key = Some(key);
    }
    let mut merged = sections.get("DEFAULT").cloned().unwrap_or_default();
    match sections.get(wanted) {
        Some(s) => merged.extend(s.clone()),
        None => return Ok(Vec::new()),
    }
    Ok(merged.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::section;

    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_are_verbatim_like_configparser() {
        let text = "[codecarbon]\nProject_Name = \"quoted\"\noutput_dir = /tmp/a\\new\nlog_level: debug\n\
                    comment_like = a # not a comment\n# real comment\n; another\n";
        assert_eq!(
            section(text, "codecarbon").unwrap(),
            kv(&[
                ("comment_like", "a # not a comment"),
                ("log_level", "debug"),
                ("output_dir", "/tmp/a\\new"),
                ("project_name", "\"quoted\""),
            ])
        );
    }

    #[test]
    fn continuation_default_and_other_sections() {
        let text = "[DEFAULT]\npue = 1.1\nwue = 3\n[other]\npue = 9\n[codecarbon]\nwue = 4\nproject_name = a\n  b\n";
        assert_eq!(
            section(text, "codecarbon").unwrap(),
            kv(&[("project_name", "a\nb"), ("pue", "1.1"), ("wue", "4")])
        );
        assert_eq!(section("[other]\nx=1\n", "codecarbon").unwrap(), vec![]);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(section("x = 1\n", "codecarbon").unwrap_err().contains("outside any [section]"));
        assert!(section("[codecarbon]\njust words\n", "codecarbon").unwrap_err().contains("line 2"));
    }
}
