//! One `emissions.csv`, many writer processes (the ranks of a job sharing `output_dir`): one
//! header and every row, in both `on_csv_write` modes. The test binary runs itself as the
//! writer processes (`CT_WRITER_DIR` set), so the writers are real, separate processes.

use crate::support;
use std::path::Path;
use std::process::Command;
use support::ChildTimeout;

use carbon_tracker::config::{options, Config, Origin, Sources};
use carbon_tracker::Tracker;

const WRITERS: usize = 8;
const FLUSHES: usize = 12;

fn tracker(opts: &str) -> Tracker {
    let sources = Sources { layers: vec![(Origin::Options, options::parse(opts).unwrap())] };
    Tracker::with_config(Config::from_sources(&sources).unwrap())
}

/// The writer: waits for the go file (all writers start together), then flushes and stops.
#[test]
fn csv_writer_process() {
    let Ok(dir) = std::env::var("CT_WRITER_DIR") else { return }; // only as a child
    let mode = std::env::var("CT_WRITER_MODE").unwrap();
    let go = Path::new(&dir).join("go");
    while !go.exists() {
        std::thread::yield_now();
    }
    let t = tracker(&format!(
        "offline=true;country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;measure_power_secs=3600;\
         output_dir={dir};on_csv_write={mode};job_count_node_once=false"
    ));
    t.start().unwrap();
    for _ in 0..FLUSHES {
        t.flush().unwrap();
    }
    let last = t.stop().unwrap();
    std::fs::write(Path::new(&dir).join(format!("{}.done", t.run_id())), format!("{:?}", last.duration_s)).unwrap();
}

fn run_writers(mode: &str) -> (tempfile::TempDir, Vec<csv::StringRecord>, String) {
    let d = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|_| {
            Command::new(&me)
                .args([
                    "--exact",
                    support::test_name(module_path!(), "csv_writer_process").as_str(),
                    "--test-threads",
                    "1",
                    "--quiet",
                ])
                .env("CT_WRITER_DIR", d.path())
                .env("CT_WRITER_MODE", mode)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(d.path().join("go"), "").unwrap();
    for mut c in children {
        assert!(c.wait_timeout().success());
    }
    let text = std::fs::read_to_string(d.path().join("emissions.csv")).unwrap();
    let records = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
    (d, records, text)
}

fn header_count(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("timestamp,project_name,")).count()
}

#[test]
fn many_processes_append_one_header_and_every_row() {
    let (_d, records, text) = run_writers("append");
    assert_eq!(header_count(&text), 1, "{text}");
    assert_eq!(records.len(), WRITERS * (FLUSHES + 1));
    let mut runs: Vec<&str> = records.iter().map(|r| &r[2]).collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), WRITERS);
}

#[test]
fn many_processes_update_keep_every_run_row() {
    let (d, records, text) = run_writers("update");
    assert_eq!(header_count(&text), 1, "{text}");
    assert_eq!(records.len(), WRITERS, "one row per run, none lost:\n{text}");
    for r in &records {
        // Each run's row is its final one (the stop's duration).
        let done = std::fs::read_to_string(d.path().join(format!("{}.done", &r[2]))).unwrap();
        assert_eq!(r[4].parse::<f64>().unwrap(), done.parse::<f64>().unwrap(), "run {}", &r[2]);
    }
}

/// Rounds of simultaneous first writes: every writer process leaves its spin at the same
/// CLOCK_MONOTONIC instant and writes to a new file, where each sees it empty unless the
/// header check and the write are one critical section across processes.
const ROUNDS: u64 = 150;
const RACERS: usize = 2; // no more than the cores, so the spins end together

#[test]
fn header_race_process() {
    let Ok(dir) = std::env::var("CT_RACE_DIR") else { return };
    let base: u64 = std::env::var("CT_RACE_BASE_NS").unwrap().parse().unwrap();
    let me: usize = std::env::var("CT_RACE_ME").unwrap().parse().unwrap();
    let now = carbon_tracker::tracker::node_share::monotonic_ns;
    let run = std::sync::Arc::new(carbon_tracker::record::run::RunInfo {
        run_id: format!("racer-{me}"),
        ..Default::default()
    });
    for k in 0..ROUNDS {
        let at = base + k * 10_000_000;
        while now() < at {
            std::hint::spin_loop();
        }
        let sink = carbon_tracker::output::csv_file::CsvSink::new(
            Path::new(&dir).join(format!("e{k}.csv")),
            carbon_tracker::config::CsvWriteMode::Append,
        );
        let row = carbon_tracker::output::EmissionsData {
            timestamp: "2026-01-01T00:00:00".into(),
            run: run.clone(),
            numbers: Default::default(),
        };
        sink.write(&row, &carbon_tracker::log::Logger::default()).unwrap();
    }
}

#[test]
fn simultaneous_first_writes_in_many_processes_write_one_header() {
    let d = tempfile::tempdir().unwrap();
    let base = carbon_tracker::tracker::node_share::monotonic_ns() + 500_000_000;
    let children: Vec<_> = (0..RACERS)
        .map(|me| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    support::test_name(module_path!(), "header_race_process").as_str(),
                    "--test-threads",
                    "1",
                    "--quiet",
                ])
                .env("CT_RACE_DIR", d.path())
                .env("CT_RACE_BASE_NS", base.to_string())
                .env("CT_RACE_ME", me.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait_timeout().success());
    }
    for k in 0..ROUNDS {
        let text = std::fs::read_to_string(d.path().join(format!("e{k}.csv"))).unwrap();
        assert_eq!(header_count(&text), 1, "round {k}:\n{text}");
        assert_eq!(text.lines().count(), 1 + RACERS, "round {k}:\n{text}");
    }
}
