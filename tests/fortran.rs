//! The Fortran module (bindings/fortran/carbon_tracker.f90) with gfortran against the library:
//! its procedures, stat/errmsg, ERROR STOP without stat, the final procedure, the example, and
//! its declarations checked against the C header (status values, ct_emissions fields).

mod tools;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use tools::{build_fortran, require};

fn kv(stdout: &str) -> HashMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix)).collect()
}

#[test]
fn fortran_module_procedures_stat_errmsg_and_final() {
    let Some(gfortran) = require("gfortran", "gfortran") else { return };
    let work = tempfile::tempdir().unwrap();
    let exe = build_fortran(&gfortran, "tests/fortran/api_test.f90", work.path());
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = Command::new(&exe).arg(&out).env("CODECARBON_LOG_LEVEL", "error").output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let kv = kv(&stdout);
    assert_eq!(kv["failures"], "0", "{stdout}");
    assert_eq!(kv["version"], carbon_tracker::VERSION);
    // The run's last CSV row holds what stop gave to Fortran, to the last digit.
    let csv = std::fs::read_to_string(out.join("emissions.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()).collect();
    let fortran_rows: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[1] == "fortran test").collect();
    assert_eq!(fortran_rows.len(), 3 + 1, "three flushes and the stop");
    let last: f64 = fortran_rows.last().unwrap()[13].parse().unwrap();
    assert_eq!(last, kv["run_kwh"].parse::<f64>().unwrap());
    // One row per region (solver with and without its trailing blanks is one region).
    let regions = files(&out, "regions_fortran_");
    assert_eq!(regions.len(), 1);
    let text = std::fs::read_to_string(&regions[0]).unwrap();
    let names: Vec<String> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()[8].to_string()).collect();
    assert_eq!(names, vec!["step", "solver", "halo exchange"]);
    assert_eq!(files(&out, "emissions_fortran_").len(), 1, "the task file");
    // The local tracker of `scoped` was stopped by the final procedure: its row and region file.
    assert!(rows.iter().any(|r| &r[1] == "scoped"), "{csv}");
    assert_eq!(files(&out, "regions_scoped_").len(), 1);
}

#[test]
fn without_stat_an_error_stops_the_program_with_the_message() {
    let Some(gfortran) = require("gfortran", "gfortran") else { return };
    let work = tempfile::tempdir().unwrap();
    let exe = build_fortran(&gfortran, "tests/fortran/error_stop.f90", work.path());
    let o = Command::new(&exe).current_dir(work.path()).env("CODECARBON_LOG_LEVEL", "error").output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("carbon_tracker: error 3: region_end: region `solver` is not open"), "{stderr}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("not reached"));
}

#[test]
fn fortran_example_builds_and_runs() {
    let Some(gfortran) = require("gfortran", "gfortran") else { return };
    let work = tempfile::tempdir().unwrap();
    let exe = build_fortran(&gfortran, "examples/fortran/simulation.f90", work.path());
    let o = Command::new(&exe).args(["60", work.path().to_str().unwrap()]).env("CODECARBON_LOG_LEVEL", "error").output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("step   50:") && stdout.contains("g/kWh"), "{stdout}");
    assert_eq!(files(work.path(), "regions_").len(), 1);
}

/// The module's declarations, read from its source, against the C header's.
#[test]
fn fortran_declarations_match_the_header() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let module = std::fs::read_to_string(root.join("bindings/fortran/carbon_tracker.f90")).unwrap();
    let header = std::fs::read_to_string(root.join("include/carbon_tracker.h")).unwrap();
    // ct_status values.
    let c_values: Vec<(String, i64)> = header
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (name, value) = l.split_once(" = ")?;
            Some((name.to_string(), value.parse::<i64>().ok()?))
        })
        .filter(|(n, _)| n == "CT_OK" || n.starts_with("CT_ERR_"))
        .collect();
    assert_eq!(c_values.len(), 8, "{c_values:?}");
    for (name, value) in &c_values {
        let decl = format!("integer, parameter, public :: {name} = {value}");
        assert!(module.contains(&decl), "the module lacks `{decl}`");
    }
    // ct_emissions: the same fields in the same order, with interoperable kinds.
    let c_struct = &header[header.find("typedef struct ct_emissions {").unwrap()..];
    let c_struct = &c_struct[..c_struct.find("} ct_emissions;").unwrap()];
    let c_fields: Vec<(String, String)> = c_struct
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_suffix(';')?;
            let (ty, name) = l.rsplit_once(' ')?;
            Some((ty.to_string(), name.to_string()))
        })
        .collect();
    let f_type = &module[module.find("type, bind(c), public :: ct_emissions").unwrap()..module.find("end type ct_emissions").unwrap()];
    let f_fields: Vec<(String, String)> =
        f_type.lines().skip(1).filter_map(|l| l.trim().split_once(" :: ").map(|(k, n)| (k.to_string(), n.to_string()))).collect();
    assert_eq!(f_fields.len(), c_fields.len(), "{f_fields:?} vs {c_fields:?}");
    for ((cty, cname), (fty, fname)) in c_fields.iter().zip(&f_fields) {
        assert_eq!(cname, fname);
        let want = match cty.as_str() {
            "uint32_t" => "integer(c_int32_t)",
            "double" => "real(c_double)",
            "uint64_t" => "integer(c_int64_t)",
            other => panic!("a C type the module does not map: {other}"),
        };
        assert_eq!(fty, want, "{cname}");
    }
}
