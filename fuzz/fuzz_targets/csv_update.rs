//! The CSV reader of `on_csv_write=update`: whatever the file holds, writing a row gives Ok
//! (the file then parses) or an I/O error (the file is left as it was), never a panic.
#![no_main]
use carbon_tracker::config::CsvWriteMode;
use carbon_tracker::log::{Level, Logger};
use carbon_tracker::output::csv_file::CsvSink;
use carbon_tracker::output::EmissionsData;
use libfuzzer_sys::fuzz_target;

fn row() -> EmissionsData {
    let run = carbon_tracker::record::run::RunInfo {
        project_name: "fuzz".into(),
        run_id: "00000000-0000-0000-0000-000000000000".into(),
        pue: 1.0,
        ..Default::default()
    };
    let mut numbers = carbon_tracker::EmissionsSnapshot::default();
    (numbers.duration_s, numbers.energy_consumed_kwh) = (1.0, 1e-5);
    EmissionsData { timestamp: "2026-11-24T00:00:00".into(), run: std::sync::Arc::new(run), numbers }
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ct-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir); // .bak files from header changes would pile up
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("emissions.csv");
    // Start from our header so most inputs reach the row parser.
    let mut content = carbon_tracker::output::CSV_HEADER.as_bytes().to_vec();
    content.push(b'\n');
    content.extend_from_slice(data);
    std::fs::write(&path, &content).unwrap();
    let quiet = Logger { threshold: Level::Critical, preamble: String::new() };
    match CsvSink::new(path.clone(), CsvWriteMode::Update).write(&row(), &quiet) {
        Ok(()) => {
            let text = std::fs::read_to_string(&path).expect("a written file is UTF-8");
            let mut rdr = csv::Reader::from_reader(text.as_bytes());
            assert!(rdr.records().all(|r| r.is_ok()), "a written file parses");
        }
        Err(_) => assert_eq!(std::fs::read(&path).unwrap(), content, "a refused file is unchanged"),
    }
});
