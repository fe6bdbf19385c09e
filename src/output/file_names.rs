//! Values that become part of a file name (`experiment_name` in the task file's name, …): each
//! stays inside one name in `output_dir`, whatever it holds. Rather than refusing a value that
//! is fine everywhere else (an experiment called `ablation/lr=0.1` for the API), the name part
//! is encoded: `/`, `%` and control characters become `%XX` (so two values never share a name),
//! and a part longer than `max_bytes` is cut at a character boundary (a name over the file
//! system's 255 bytes would make every write fail). Ordinary values are unchanged, so the names
//! are CodeCarbon's.

/// `value` as part of a file name, at most `max_bytes` long.
pub fn name_part(value: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let piece = if c == '/' || c == '%' || c.is_control() {
            let mut buf = [0u8; 4];
            c.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect::<String>()
        } else {
            c.to_string()
        };
        if out.len() + piece.len() > max_bytes {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// The longest experiment name kept in a file's name: with the prefix, the run id, the extension
/// and the temporary file's affixes, the name stays under 255 bytes.
const MAX_EXPERIMENT_NAME_BYTES: usize = 160;

/// The file of run `run_id` named as CodeCarbon names its task file, `<prefix>_<experiment>_<run_id>.<ext>`
/// (`emissions_…csv` for tasks, `regions_…csv`, `run_…json`), always a single name inside `output_dir`.
pub fn run_file_path(output_dir: &std::path::Path, prefix: &str, experiment_name: &str, run_id: &str, ext: &str) -> std::path::PathBuf {
    let experiment = name_part(experiment_name, MAX_EXPERIMENT_NAME_BYTES);
    output_dir.join(format!("{prefix}_{experiment}_{}.{ext}", name_part(run_id, 64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_percent_and_controls_are_encoded_and_long_parts_cut() {
        assert_eq!(name_part("base", 100), "base");
        assert_eq!(name_part("run 1, lr=0.1 (été)", 100), "run 1, lr=0.1 (été)");
        assert_eq!(name_part("x/../../y", 100), "x%2F..%2F..%2Fy");
        assert_eq!(name_part("50%", 100), "50%25");
        assert_eq!(name_part("a\nb\0", 100), "a%0Ab%00");
        assert_eq!(name_part(&"é".repeat(10), 5), "éé", "cut at a character boundary");
        assert_eq!(name_part("ab/", 4), "ab", "an encoded character is never cut in half");
    }
}
