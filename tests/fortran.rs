//! The Fortran module (bindings/fortran/carbon_tracker.f90) with gfortran against the library:
//! its procedures, stat/errmsg, ERROR STOP without stat, the final procedure, predictions on a
//! paced load, the example, and its declarations checked against the C header (the enumerators,
//! the ct_emissions and ct_prediction fields).

use crate::tools;

use crate::support;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use support::CommandTimeout;

use tools::{build_fortran, require};

/// Builds `source` with the module into `work` and runs it there with `args`, against this test
/// run's cdylib (its rpath: cargo's LD_LIBRARY_PATH would come first and may name another
/// build), logging errors only; `None` (the test is skipped) without gfortran.
fn build_and_run(source: &str, work: &Path, args: &[&OsStr]) -> Option<Output> {
    let gfortran = require("gfortran", "gfortran")?;
    let exe = build_fortran(&gfortran, source, work);
    Some(
        Command::new(exe)
            .current_dir(work)
            .args(args)
            .env_remove("LD_LIBRARY_PATH")
            .env("CODECARBON_LOG_LEVEL", "error")
            .output_timeout(),
    )
}

/// The standard output of a program that must have succeeded.
fn stdout_of_success(o: &Output) -> String {
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    stdout
}

fn kv(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

#[test]
fn fortran_module_procedures_stat_errmsg_and_final() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let Some(o) = build_and_run("tests/fortran/api_test.f90", work.path(), &[out.as_os_str()]) else { return };
    let stdout = stdout_of_success(&o);
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
    let names: Vec<String> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()[8].to_string()).collect();
    assert_eq!(names, vec!["step", "solver", "halo exchange"]);
    assert_eq!(files(&out, "emissions_fortran_").len(), 1, "the task file");
    // The local tracker of `scoped` was stopped by the final procedure: its row and region file.
    assert!(rows.iter().any(|r| &r[1] == "scoped"), "{csv}");
    assert_eq!(files(&out, "regions_scoped_").len(), 1);
}

/// A steady paced run (the test clock of this test run's cdylib) predicted through the module:
/// the prediction table the C test prints, and the budget's three states.
#[test]
fn fortran_predictions_of_a_steady_run_and_its_budget() {
    let work = tempfile::tempdir().unwrap();
    let Some(o) = build_and_run("tests/fortran/prediction_test.f90", work.path(), &[]) else { return };
    let stdout = stdout_of_success(&o);
    let kv = kv(&stdout);
    assert_eq!(kv["failures"], "0", "{stdout}");
    // 100 steps of 10 s (plus the real time the program took), predicted at 50 % to within the
    // real time's jitter.
    let real_s: f64 = kv["real_s"].parse().unwrap();
    assert!((1000.0..1010.0).contains(&real_s), "{stdout}");
    let predicted_s: f64 = kv["predicted_s_at_50"].parse().unwrap();
    assert!((predicted_s / real_s - 1.0).abs() < 1e-3, "{stdout}");
}

#[test]
fn without_stat_an_error_stops_the_program_with_the_message() {
    let work = tempfile::tempdir().unwrap();
    let Some(o) = build_and_run("tests/fortran/error_stop.f90", work.path(), &[]) else { return };
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("carbon_tracker: error 3: region_end: region `solver` is not open"), "{stderr}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("not reached"));
}

#[test]
fn fortran_example_builds_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let Some(o) =
        build_and_run("examples/fortran/simulation.f90", work.path(), &["60".as_ref(), work.path().as_os_str()])
    else {
        return;
    };
    let stdout = stdout_of_success(&o);
    assert!(stdout.contains("step   50:") && stdout.contains("g/kWh"), "{stdout}");
    // At step 50 of 60, a prediction, above what was measured by then.
    let line = |prefix: &str| {
        stdout.lines().find(|l| l.trim_start().starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {stdout}"))
    };
    let number = |text: &str| text.trim().parse::<f64>().unwrap();
    let so_far = number(line("step   50:").split(", ").nth(2).unwrap().trim_end_matches(" kg CO2e"));
    let predicted = line("predicted at the end:").trim().trim_start_matches("predicted at the end:");
    let (point, interval) = predicted.split_once(" kg CO2e [").unwrap();
    let (low, rest) = interval.split_once(", ").unwrap();
    let high = rest.split_once(']').unwrap().0;
    let (point, low, high) = (number(point), number(low), number(high));
    assert!(so_far <= point && low <= point && point <= high, "{stdout}");
    assert_eq!(files(work.path(), "regions_").len(), 1);
}

/// The module's declarations, read from its source, against the C header's.
#[test]
fn fortran_declarations_match_the_header() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let module = std::fs::read_to_string(root.join("bindings/fortran/carbon_tracker.f90")).unwrap();
    let header = std::fs::read_to_string(root.join("include/carbon_tracker.h")).unwrap();
    // The enumerators of ct_status, ct_prediction_state and ct_budget_state (not ct_log_level:
    // the module has no logger).
    let c_values: Vec<(String, i64)> = header
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (name, value) = l.split_once(" = ")?;
            Some((name.to_string(), value.parse::<i64>().ok()?))
        })
        .filter(|(n, _)| ["CT_OK", "CT_ERR_", "CT_PREDICTION_", "CT_BUDGET_"].iter().any(|p| n.starts_with(p)))
        .collect();
    assert_eq!(c_values.len(), 8 + 3 + 4, "{c_values:?}");
    for (name, value) in &c_values {
        let decl = format!("integer, parameter, public :: {name} = {value}");
        assert!(module.contains(&decl), "the module lacks `{decl}`");
    }
    // The structs: the same fields in the same order, with interoperable kinds.
    for name in ["ct_emissions", "ct_prediction"] {
        let c_struct = &header[header.find(&format!("typedef struct {name} {{")).unwrap()..];
        let c_struct = &c_struct[..c_struct.find(&format!("}} {name};")).unwrap()];
        let c_fields: Vec<(String, String)> = c_struct
            .lines()
            .filter(|l| !l.trim_start().starts_with('*'))
            .filter_map(|l| {
                let l = l.trim().strip_suffix(';')?;
                let (ty, name) = l.rsplit_once(' ')?;
                Some((ty.to_string(), name.to_string()))
            })
            .collect();
        let f_type = &module[module.find(&format!("type, bind(c), public :: {name}")).unwrap()
            ..module.find(&format!("end type {name}")).unwrap()];
        let f_fields: Vec<(String, String)> = f_type
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().split_once(" :: ").map(|(k, n)| (k.to_string(), n.to_string())))
            .collect();
        assert!(c_fields.len() > 15, "{name}: {c_fields:?}");
        assert_eq!(f_fields.len(), c_fields.len(), "{name}: {f_fields:?} vs {c_fields:?}");
        for ((cty, cname), (fty, fname)) in c_fields.iter().zip(&f_fields) {
            assert_eq!(cname, fname, "{name}");
            let want = match cty.as_str() {
                "uint32_t" => "integer(c_int32_t)",
                "double" => "real(c_double)",
                "uint64_t" => "integer(c_int64_t)",
                // A C enum is an int with gcc and clang (every value fits).
                "enum ct_prediction_state" | "enum ct_budget_state" => "integer(c_int)",
                other => panic!("a C type the module does not map: {other}"),
            };
            assert_eq!(fty, want, "{name}.{cname}");
        }
    }
}
