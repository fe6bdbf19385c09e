//! The documentation stays true to the tree: `docs/options.md` holds the key table as
//! `src/config/keys.rs` has it (`CT_BLESS=1 cargo test --test docs` rewrites the generated part),
//! every relative Markdown link resolves to a file of this repository (and a `#section` to one of
//! its headings), the README stays short, and no file cites a path outside the repository.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use carbon_tracker::options::{default_text, ValueKind, KEY_TABLE};

const OPTIONS_PAGE: &str = "docs/options.md";
const BEGIN: &str = "<!-- generated from src/config/keys.rs by tests/docs.rs: begin -->";
const END: &str = "<!-- generated: end -->";
/// The README is the front page: what it is, the two commands, a quick start per language.
const README_MAX_LINES: usize = 320;

/// Pages written on other branches of issue 31, linked from the index before they are merged.
/// Once they exist on `main` this list can be emptied: a missing one is then an error.
const PAGES_FROM_OTHER_BRANCHES: &[&str] = &[
    "docs/launchers.md",
    "docs/accounting-faults.md",
    "docs/slurm-plugin.md",
    "docs/codecarbon-differences.md",
    "docs/gpu-sharing.md",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kind_words(kind: ValueKind) -> String {
    match kind {
        ValueKind::Text => "text".into(),
        ValueKind::Secret => "text (secret: never logged nor written)".into(),
        ValueKind::Path => "path".into(),
        ValueKind::Boolean => "boolean".into(),
        ValueKind::Number => "number".into(),
        ValueKind::Integer => "integer".into(),
        ValueKind::Choice(words) => words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(" or "),
        ValueKind::LogLevel => "level name or 10…50".into(),
        ValueKind::OutputMethods => "comma-separated outputs".into(),
        ValueKind::List => "comma-separated list".into(),
        other => panic!("no words for {other:?}: add them here"),
    }
}

/// A table cell: `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The generated part of the options page: one row per key, in the table's order.
fn render_options_table() -> String {
    let mut out = String::from("| key | value | default | meaning |\n|---|---|---|---|\n");
    for info in KEY_TABLE {
        let default = default_text(info.key).map(|d| format!("`{}`", cell(&d))).unwrap_or_else(|| "–".into());
        out += &format!("| `{}` | {} | {} | {} |\n", info.key, kind_words(info.kind), default, cell(&info.help()));
    }
    out
}

#[test]
fn options_page_is_the_key_table() {
    let path = root().join(OPTIONS_PAGE);
    let page = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) else {
        panic!("{OPTIONS_PAGE} must hold the lines\n{BEGIN}\n{END}\naround the generated table");
    };
    let committed = &page[b + BEGIN.len()..e];
    let generated = format!("\n{}", render_options_table());
    if std::env::var_os("CT_BLESS").is_some() {
        std::fs::write(&path, format!("{}{generated}{}", &page[..b + BEGIN.len()], &page[e..])).unwrap();
        return;
    }
    assert!(committed == generated, "{OPTIONS_PAGE} is stale: run `CT_BLESS=1 cargo test --test docs` and commit it");
}

#[test]
fn every_key_is_on_the_options_page_once() {
    let rows = render_options_table();
    for info in KEY_TABLE {
        let n = rows.lines().filter(|l| l.starts_with(&format!("| `{}` |", info.key))).count();
        assert_eq!(n, 1, "{} is on {n} rows", info.key);
    }
}

/// README.md, CONTRIBUTING.md, CHANGELOG.md and every page under docs/.
fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"].iter().map(|p| root().join(p)).collect();
    let mut stack = vec![root().join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files
}

/// The text outside fenced code blocks and inline code spans, line by line (a fenced line empty).
fn prose_lines(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        // Fenced lines are kept empty, so that an index is a line number.
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            lines.push(String::new());
            continue;
        }
        if fenced {
            lines.push(String::new());
            continue;
        }
        // Drop `code spans`: a `[x](y)` inside one is not a link.
        let mut kept = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                kept += part;
            }
        }
        lines.push(kept);
    }
    lines
}

/// The targets of `[text](target)` links.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The path with its `.` and `..` parts resolved (without following links).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn anchors_of(file: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut fenced = false;
    let mut anchors = HashSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            anchors.insert(anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}

#[test]
fn relative_links_resolve_to_files_of_the_repository() {
    let root = normalize(root());
    let mut broken = Vec::new();
    for file in markdown_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            broken.push(format!("{}: missing", file.display()));
            continue;
        };
        for (n, line) in prose_lines(&text).iter().enumerate() {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, section) = match target.split_once('#') {
                    Some((p, s)) => (p, Some(s)),
                    None => (target.as_str(), None),
                };
                let where_ = format!("{}:{}: ({target})", file.strip_prefix(&root).unwrap_or(&file).display(), n + 1);
                let resolved =
                    normalize(&if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) });
                if !resolved.starts_with(&root) {
                    broken.push(format!("{where_}: outside the repository"));
                } else if !resolved.exists() {
                    if !PAGES_FROM_OTHER_BRANCHES.iter().any(|o| resolved == root.join(o)) {
                        broken.push(format!("{where_}: no such file"));
                    }
                } else if let Some(section) = section {
                    if resolved.extension().is_some_and(|x| x == "md") && !anchors_of(&resolved).contains(section) {
                        broken.push(format!("{where_}: no heading `#{section}` there"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn readme_stays_short() {
    let n = std::fs::read_to_string(root().join("README.md")).unwrap().lines().count();
    assert!(n <= README_MAX_LINES, "README.md has {n} lines (at most {README_MAX_LINES}): move details to docs/");
}

#[test]
fn no_file_cites_a_path_outside_the_repository() {
    // Written in two parts so that this file does not match itself.
    let patterns = [concat!("../", "shared/"), concat!("shared/", "spec"), concat!("spec ", "section")];
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = [
        "src",
        "include",
        "bindings",
        "examples",
        "tests",
        "scripts",
        "bench",
        "capi",
        "cmake",
        "docs",
        ".ci",
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "Cargo.toml",
        "CMakeLists.txt",
        "build.rs",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let skip = p.file_name().is_some_and(|n| n == "target" || n == "build" || n == "__pycache__");
            if !skip {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            for (n, line) in t.lines().enumerate() {
                if patterns.iter().any(|pat| line.contains(pat)) {
                    found.push(format!("{}:{}: {line}", p.display(), n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "files citing a path outside the repository:\n{}", found.join("\n"));
}
