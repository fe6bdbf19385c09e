//! The Python binding's option types, `bindings/python/carbon_tracker/_options.py`, are generated
//! from the library's key table (src/config/keys.rs: each key, its help line and the kind of value
//! it takes), so `mypy --strict` catches a misspelt or mistyped option in a user's code.
//! `CT_BLESS=1 cargo test --test integration binding_options::` rewrites the file.

use std::path::Path;

use carbon_tracker::config::{default_text, ValueKind, KEY_TABLE};

const FILE: &str = "bindings/python/carbon_tracker/_options.py";

fn python_type(kind: ValueKind) -> String {
    match kind {
        ValueKind::Text | ValueKind::Secret => "str".into(),
        ValueKind::Path => "Union[str, os.PathLike[str]]".into(),
        ValueKind::Boolean => "bool".into(),
        ValueKind::Number => "float".into(),
        ValueKind::Integer => "int".into(),
        ValueKind::Choice(words) => {
            format!("Literal[{}]", words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", "))
        }
        // A name in any case, or a `logging` number.
        ValueKind::LogLevel => "Union[str, int]".into(),
        ValueKind::OutputMethods => "Union[str, Sequence[str]]".into(),
        ValueKind::List => "Union[str, Sequence[Union[int, str]]]".into(),
        other => panic!("no Python type for {other:?}: add it here"),
    }
}

fn render() -> String {
    let mut out = String::from(
        r#""""The options of :class:`carbon_tracker.Tracker` (keyword arguments), with their types.

Generated from the library's key table (src/config/keys.rs) by tests/binding_options.rs; do not
edit: ``CT_BLESS=1 cargo test --test integration binding_options::`` rewrites it."""

from __future__ import annotations

import os
from typing import Literal, Optional, Sequence, Tuple, TypedDict, Union


class TrackerOptions(TypedDict, total=False):
    """The library's options (CodeCarbon's config keys). ``None`` means not given: the
    ``CODECARBON_*`` variables, ``.codecarbon.config`` files or the default then apply."""
"#,
    );
    for info in KEY_TABLE {
        out += &format!("\n    {}: Optional[{}]\n", info.key, python_type(info.kind));
        let mut doc = info.help();
        if let Some(d) = default_text(info.key) {
            doc += &format!(" Default: ``{d}``.");
        }
        out += &format!("    \"\"\"{}\"\"\"\n", doc.replace('\\', "\\\\"));
    }
    out += "\n\n# Every key, in the table's order.\nOPTION_KEYS: Tuple[str, ...] = (\n";
    for info in KEY_TABLE {
        out += &format!("    \"{}\",\n", info.key);
    }
    out += ")\n";
    out
}

#[test]
fn python_option_types_are_the_key_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let generated = render();
    if std::env::var_os("CT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{FILE} is stale: run `CT_BLESS=1 cargo test --test integration binding_options::` and commit it"
    );
}

/// tests/vectors/option_refusals.json: options no binding may pass to `ct_tracker_new` (a NUL
/// byte, a key the string cannot carry). The C++, Go and Python bindings refuse them before
/// building the string, in the words checked here against the library's own.
#[test]
fn refused_options_are_the_librarys_words() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/option_refusals.json");
    let vector: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = vector["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let (name, key, value, message) =
            ["name", "key", "value", "message"].map(|f| case[f].as_str().unwrap().to_string()).into();
        // The Rust API: the options carry anything; Tracker::new refuses.
        let options = carbon_tracker::Options::new().set(key.clone(), value.clone()).set("experiment_name", "after");
        let e = carbon_tracker::Tracker::new(options.default_value("save_to_file", "false")).unwrap_err();
        assert_eq!(e.kind, carbon_tracker::ErrorKind::InvalidOption, "{name}");
        assert_eq!(e.message, message, "{name}");
        // The C ABI, where the string can hold the key (a `\` written `\\`).
        if !key.contains(['=', ';', '\0']) && !value.contains('\0') {
            let text =
                std::ffi::CString::new(format!("{}={value};experiment_name=after", key.replace('\\', "\\\\"))).unwrap();
            let mut t = std::ptr::null_mut();
            // SAFETY: a NUL-terminated string and a writable out pointer.
            let status = unsafe { carbon_tracker::ffi::ct_tracker_new(text.as_ptr(), &mut t) };
            assert_eq!(status, carbon_tracker::ffi::ct_status::CT_ERR_INVALID_OPTION, "{name}");
            // SAFETY: the library's thread-local message, valid until the next call.
            let got =
                unsafe { std::ffi::CStr::from_ptr(carbon_tracker::ffi::ct_last_error()) }.to_str().unwrap().to_string();
            assert_eq!(got, message, "{name}");
        }
    }
}
