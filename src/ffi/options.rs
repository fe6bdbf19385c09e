//! C-ABI-only option text help: Rust strings are UTF-8, so only `ct_tracker_new`'s bytes can be
//! invalid, and only it needs to say where.

/// Why options given as bytes (the C ABI's) are not UTF-8, naming the key whose value holds the
/// first bad byte `at` when there is one: `project_name: the value is not valid UTF-8 (at byte
/// 14 of the options)`, after `options: `, in the words every binding uses.
pub fn invalid_utf8(bytes: &[u8], at: usize) -> String {
    let before = std::str::from_utf8(&bytes[..at.min(bytes.len())]).unwrap_or_default();
    let segment = crate::config::options::split_segments(before).pop().unwrap_or_default();
    match segment.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => {
            format!(
                "{}: {} (at byte {at} of the options)",
                key.trim().to_ascii_lowercase(),
                crate::config::options::NOT_UTF8
            )
        }
        _ => format!("not valid UTF-8 (at byte {at}), outside any value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
