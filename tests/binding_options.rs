//! The Python binding's option types, `bindings/python/carbon_tracker/_options.py`, are generated
//! from the library's key table (src/config/keys.rs: each key, its help line and the kind of value
//! it takes), so `mypy --strict` catches a misspelt or mistyped option in a user's code.
//! `CT_BLESS=1 cargo test --test binding_options` rewrites the file.

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
        ValueKind::Choice(words) => format!("Literal[{}]", words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")),
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
edit: ``CT_BLESS=1 cargo test --test binding_options`` rewrites it."""

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
    assert!(committed == generated, "{FILE} is stale: run `CT_BLESS=1 cargo test --test binding_options` and commit it");
}
