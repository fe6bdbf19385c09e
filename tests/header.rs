//! The committed C header must be what cbindgen generates from src/ffi today.
//! `CT_BLESS=1 cargo test --test integration header::` rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = root.join("include/carbon_tracker.h");
    if std::env::var_os("CT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/carbon_tracker.h is stale: run `CT_BLESS=1 cargo test --test integration header::` and commit it"
    );
}

/// The header's own words are true: the preamble names every call that does not return a
/// `ct_status` and every function that frees what the library returns, and every status is
/// either listed among some call's errors or documented as reserved (never returned).
#[test]
fn the_headers_words_are_true() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let h = std::fs::read_to_string(root.join("include/carbon_tracker.h")).unwrap();
    let preamble = &h[..h.find("#ifndef").unwrap()];
    // Prototypes: `<return type> ct_name(` at the start of a line.
    let mut functions = Vec::new();
    for line in h.lines().filter(|l| !l.starts_with([' ', '*', '/', '#']) && !l.starts_with("typedef")) {
        let Some(before) = line.split_once('(').map(|(b, _)| b) else { continue };
        let Some(split) = before.rfind([' ', '*']) else { continue };
        let name = &before[split + 1..];
        if name.starts_with("ct_") {
            functions.push((before[..=split].trim().to_string(), name.to_string()));
        }
    }
    assert!(functions.len() >= 10, "{functions:?}");
    for (ret, name) in &functions {
        if ret != "ct_status" && ret != "enum ct_status" {
            assert!(
                preamble.contains(name.as_str()),
                "{name} returns `{ret}`, not a ct_status: the preamble must say so:\n{preamble}"
            );
        }
    }
    // What the library hands out to be freed: each freeing function is in the preamble.
    for (_, name) in functions.iter().filter(|(_, n)| n.ends_with("_free")) {
        assert!(
            preamble.contains(name.as_str()),
            "{name} frees something the library returned: the preamble must say so:\n{preamble}"
        );
    }
    // Statuses: returned by some call (named in its doc) or reserved.
    let status_enum = &h[h.find("typedef enum ct_status").unwrap()..h.find("} ct_status;").unwrap()];
    let mut doc = String::new();
    for line in status_enum.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("CT_ERR_").map(|r| format!("CT_ERR_{}", r.split(' ').next().unwrap())) {
            let listed = h.matches(name.as_str()).count() > 1; // besides its own declaration
            let reserved = doc.contains("Reserved") && doc.contains("never returned");
            assert!(listed || reserved, "{name} is neither returned by a documented call nor reserved: {doc}");
            assert!(!(listed && reserved), "{name}: reserved, yet a call says it returns it");
            doc.clear();
        } else {
            doc.push_str(t);
            doc.push(' ');
        }
    }
}
