//! Random inputs that must give a status, never a panic: the options parser (through the C ABI,
//! with arbitrary bytes) and the CSV reader of `update` mode (with damaged files). Seeded and
//! quick here; `CT_ROBUSTNESS_ITERS=200000 cargo test --release --test integration robustness::` for a long run
//! (scripts/reliability.sh does that).

use std::ffi::{c_char, CString};

use carbon_tracker::ffi::*;

/// xorshift64*: deterministic, so a failure is reproducible from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn iterations(quick: usize) -> usize {
    std::env::var("CT_ROBUSTNESS_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(quick)
}

const PIECES: &[&str] = &[
    "project_name",
    "measure_power_secs",
    "country_iso_code",
    "pue",
    "wue",
    "output_dir",
    "on_csv_write",
    "offline",
    "save_to_api",
    "api_key",
    "gpu_ids",
    "tracking_mode",
    "log_level",
    "=",
    ";",
    "\\",
    "\\;",
    "=;",
    "FRA",
    "1e308",
    "-1",
    "NaN",
    "inf",
    "true",
    "update",
    "process",
    " ",
    "\u{00e9}",
    "\u{1F600}",
    "0x10",
    "",
    "/tmp",
    "https://x",
];

#[test]
fn random_option_strings_never_panic() {
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let n = iterations(3000);
    for i in 0..n {
        let mut bytes: Vec<u8> = Vec::new();
        for _ in 0..rng.below(12) {
            if rng.below(4) == 0 {
                bytes.push((rng.next() % 255 + 1) as u8); // any byte but NUL: invalid UTF-8 too
            } else {
                bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
            }
        }
        // Never start or write anything: only the parser and config checks run.
        let c = CString::new(bytes.clone()).unwrap();
        let mut t = std::ptr::null_mut();
        // SAFETY: a valid C string and out pointer.
        let status = unsafe { ct_tracker_new(c.as_ptr() as *const c_char, &mut t) };
        assert_ne!(status, ct_status::CT_ERR_PANIC, "iteration {i}: {:?}", String::from_utf8_lossy(&bytes));
        assert_eq!(status == ct_status::CT_OK, !t.is_null());
        // SAFETY: NULL or the handle just made.
        unsafe { ct_tracker_free(t) };
    }
}

#[test]
fn damaged_csv_files_in_update_mode_never_panic_or_lose_the_file() {
    use carbon_tracker::config::CsvWriteMode;
    use carbon_tracker::output::csv_file::CsvSink;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emissions.csv");
    let log = carbon_tracker::log::Logger { threshold: carbon_tracker::log::Level::Critical, preamble: String::new() };
    // A valid file with three rows from a real tracker.
    let t = carbon_tracker::Tracker::with_config(
        carbon_tracker::config::Config::from_sources(&carbon_tracker::config::Sources {
            layers: vec![(
                carbon_tracker::config::Origin::Options,
                carbon_tracker::config::options::parse(&format!(
                    "offline=true;output_dir={};on_csv_write=append",
                    dir.path().display()
                ))
                .unwrap(),
            )],
        })
        .unwrap(),
    );
    t.start().unwrap();
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(55));
        t.flush().unwrap();
    }
    t.stop().unwrap();
    let valid = std::fs::read(&path).unwrap();
    let row_text = String::from_utf8(valid.clone()).unwrap();
    let last_row: Vec<String> = csv::Reader::from_reader(row_text.as_bytes())
        .records()
        .last()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut row = sample_row();
    std::sync::Arc::make_mut(&mut row.run).run_id = last_row[2].clone();
    let sink = CsvSink::new(path.clone(), CsvWriteMode::Update);
    let mut rng = Rng(0xD1B54A32D192ED03);
    for i in 0..iterations(400) {
        let mut bytes = valid.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes.truncate(at);
                }
                1 if !bytes.is_empty() => {
                    let at = rng.below(bytes.len());
                    bytes[at] = [b',', b'"', b'\n', b'\r', 0xff, b'x'][rng.below(6)];
                }
                _ => {
                    let at = rng.below(bytes.len() + 1);
                    bytes.insert(at, [b',', b'"', b'\n'][rng.below(3)]);
                }
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.write(&row, &log)));
        let result = result.unwrap_or_else(|_| panic!("iteration {i} panicked"));
        let after = std::fs::read(&path).unwrap_or_default();
        match result {
            // Written: the file parses and holds this run's row once.
            Ok(()) => {
                let text = String::from_utf8(after).expect("written files are UTF-8");
                let recs: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
                    .records()
                    .collect::<Result<_, _>>()
                    .expect("written files parse");
                assert!(recs.iter().filter(|r| &r[2] == row.run.run_id.as_str()).count() >= 1, "iteration {i}");
            }
            // Refused: the damaged file is left exactly as it was (or renamed to .bak on a header change).
            Err(e) => {
                assert_eq!(e.kind, carbon_tracker::ErrorKind::Io, "iteration {i}: {e}");
                assert_eq!(after, bytes, "iteration {i}: a refused file must not change");
            }
        }
    }
}

fn sample_row() -> carbon_tracker::output::EmissionsData {
    let run = carbon_tracker::record::run::RunInfo {
        project_name: "p".into(),
        experiment_id: "e".into(),
        os: "Linux".into(),
        tracking_mode: "machine".into(),
        pue: 1.0,
        ..Default::default()
    };
    let mut numbers = carbon_tracker::EmissionsSnapshot::default();
    (numbers.duration_s, numbers.emissions_kg, numbers.ram_power_w) = (1.0, 1e-6, 10.0);
    (numbers.ram_energy_kwh, numbers.energy_consumed_kwh, numbers.pue) = (1e-5, 1e-5, 1.0);
    carbon_tracker::output::EmissionsData {
        timestamp: "2026-11-24T00:00:00".into(),
        run: std::sync::Arc::new(run),
        numbers,
    }
}
