//! 1. Turns the embedded CPU TDP table (data/cpu_power.csv) into a static Rust array, so the first
//!    `start` in a process does not spend milliseconds parsing 4,900 CSV rows.
//! 2. With CARBON_TRACKER_SONAME=1, which the Python package sets when it builds this crate as a
//!    cdylib (the only thing that cargo run links), gives it the SONAME of capi/'s (`soname.rs`).

use std::io::Write;

#[path = "soname.rs"]
mod soname;

fn main() {
    cpu_power_table();
    println!("cargo:rerun-if-changed=soname.rs");
    println!("cargo:rerun-if-env-changed=CARBON_TRACKER_SONAME");
    if std::env::var_os("CARBON_TRACKER_SONAME").is_some_and(|v| v == "1") {
        soname::soname("rustc-link-arg");
    }
}

fn cpu_power_table() {
    let src = "data/cpu_power.csv";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=build.rs");
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_path(src).expect("data/cpu_power.csv");
    // Names in one string and rows as (start, len, TDP) offsets: unlike a table of `&str`s,
    // this needs no load-time relocations and no private copy of the table in each process.
    let mut names = String::new();
    let mut rows = String::new();
    for record in rdr.records() {
        let r = record.expect("data/cpu_power.csv: a malformed record");
        let Some(name) = r.get(0).map(str::trim) else { continue };
        // A few rows have a malformed TDP (`27.29.5`): kept, without a TDP (NaN here; they
        // still take part in matching). Non-finite values are no TDP either.
        let tdp = r.get(1).and_then(|t| t.trim().parse::<f64>().ok()).filter(|w| w.is_finite());
        let tdp = tdp.map_or("f64::NAN".to_string(), |w| format!("{w:?}_f64"));
        rows.push_str(&format!("({}, {}, {tdp}), ", names.len(), name.len()));
        names.push_str(name);
    }
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("cpu_power_table.rs");
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    writeln!(f, "static NAMES: &str = {names:?};").unwrap();
    writeln!(f, "static ROWS: &[(u32, u32, f64)] = &[{rows}];").unwrap();
}
