//! The tracker through its Rust API: exact accounting under concurrency, RAPL counters end to
//! end on a fake powercap tree, and output faults that lose nothing.

use crate::support;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use carbon_tracker::config::{Config, Sources};
use carbon_tracker::{ErrorKind, Tracker};

fn tracker(options: &str) -> Tracker {
    // Only the options string: the test must not depend on the machine's env or config files.
    // Offline: these tests are about measuring, not about the location lookup.
    let options = format!("offline=true;{options}");
    let sources = Sources {
        layers: vec![(
            carbon_tracker::config::Origin::Options,
            carbon_tracker::config::options::parse(&options).unwrap(),
        )],
    };
    Tracker::with_config(Config::from_sources(&sources).unwrap())
}

fn write_counter(root: &Path, zone: &str, uj: u64) {
    // In place, as sysfs regenerates it: the library keeps the file open and re-reads it.
    std::fs::write(root.join(zone).join("energy_uj"), format!("{uj}\n")).unwrap();
}

fn fake_zone(root: &Path, zone: &str, name: &str, uj: u64, max_uj: u64) {
    let d = root.join(zone);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
    std::fs::write(d.join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
    write_counter(root, zone, uj);
}

#[test]
fn lifecycle_errors_are_invalid_state() {
    let t = tracker("save_to_file=false");
    // Nothing measured: errors without numbers.
    for e in [t.flush().unwrap_err(), t.stop().unwrap_err()] {
        assert_eq!((e.kind(), e.emissions()), (ErrorKind::InvalidState, None), "{e}");
    }
    // The calls that need a running tracker, each naming itself in its error.
    let not_running = |t: &Tracker| {
        for (call, e) in [
            ("peek", t.peek().unwrap_err()),
            ("predict", t.predict().unwrap_err()),
            ("peek_prediction", t.peek_prediction().unwrap_err()),
            ("set_progress", t.set_progress(1.0, 2.0).unwrap_err()),
        ] {
            assert_eq!(e.kind, ErrorKind::InvalidState, "{e}");
            assert!(e.message.starts_with(&format!("{call}: ")), "{call}: {e}");
        }
    };
    not_running(&t);
    t.start().unwrap();
    assert_eq!(t.start().unwrap_err().kind, ErrorKind::InvalidState);
    t.stop().unwrap();
    assert_eq!(t.start().unwrap_err().kind, ErrorKind::InvalidState);
    for e in [t.flush().unwrap_err(), t.stop().unwrap_err()] {
        assert_eq!((e.kind(), e.emissions()), (ErrorKind::InvalidState, None), "{e}");
    }
    not_running(&t);
}

#[test]
fn sixteen_threads_flushing_with_background_ticks_count_each_interval_once() {
    // RAM at a forced 10 W: RAM energy = 10 W × (sum of measured intervals). If any interval
    // were counted twice (CodeCarbon's flush/tick race), that sum would exceed the duration.
    // CT_SOAK_SECS=30 (scripts/reliability.sh) makes it a soak: flushes with short pauses, so
    // fresh measurements and background ticks interleave for that long.
    let soak_s: f64 = std::env::var("CT_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let until = std::time::Instant::now() + Duration::from_secs_f64(soak_s);
    let t = Arc::new(tracker("save_to_file=false;force_ram_power=10;measure_power_secs=0.01;country_iso_code=DEU"));
    t.start().unwrap();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut last = 0.0;
                let mut i = 0u64;
                while i < 200 || std::time::Instant::now() < until {
                    i += 1;
                    if soak_s > 0.0 && i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(7));
                    }
                    let r = t.flush().unwrap();
                    // Totals never go backwards.
                    assert!(r.energy_consumed_kwh >= last);
                    last = r.energy_consumed_kwh;
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    let measured_s = s.ram_energy_kwh * 3.6e6 / 10.0;
    assert!(measured_s <= s.duration_s + 1e-9, "counted twice: {measured_s} s measured in {} s", s.duration_s);
    // stop measures the last interval, so every second of the run is counted.
    assert!(measured_s >= s.duration_s - 1e-6, "dropped: {measured_s} s measured in {} s", s.duration_s);
    assert!(s.measurements > 2);
    assert!((s.ram_power_w - 10.0).abs() < 1e-9);
    assert!((s.emissions_kg / s.energy_consumed_kwh * 1000.0 - 380.95).abs() < 1e-9);
}

#[test]
fn rapl_counters_end_to_end_with_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let max = 1_000_000_000u64; // wraps every 1 kJ
    fake_zone(root, "intel-rapl:0", "package-0", 900_000_000, max);
    fake_zone(root, "intel-rapl:0:0", "core", 0, max); // inside the package: never added
                                                       // No background ticks: counters change only between readings (an in-place rewrite read
                                                       // half-way would be a torn number), and every flush 60 ms apart takes a fresh reading.
    let opts = format!("save_to_file=false;measure_power_secs=3600;force_ram_power=0;rapl_dir={}", root.display());
    let t = tracker(&opts);
    t.start().unwrap();
    let mut counter = 900_000_000u64;
    let mut added = 0u64;
    for i in 0..40u64 {
        let step = 30_000_000 + i * 1_000_000; // 30..69 J per step, several wraps in all
        counter = (counter + step) % max;
        added += step;
        write_counter(root, "intel-rapl:0", counter);
        write_counter(root, "intel-rapl:0:0", counter);
        if i % 5 == 4 {
            std::thread::sleep(Duration::from_millis(60));
            assert!(t.flush().unwrap().measurements > i / 5, "a fresh reading at each flush");
        }
    }
    let s = t.stop().unwrap();
    let want_kwh = added as f64 / 3.6e12;
    assert!((s.cpu_energy_kwh - want_kwh).abs() <= 1e-12 * want_kwh, "{} vs {want_kwh}", s.cpu_energy_kwh);
    assert_eq!(s.ram_energy_kwh, 0.0);
}

#[test]
fn output_dir_is_checked_at_start() {
    let root = tempfile::tempdir().unwrap();
    // Missing, and so is its parent: an I/O error at start, naming both; nothing starts.
    let out = root.path().join("parent").join("out");
    let t = tracker(&format!("output_dir={};force_ram_power=5;country_iso_code=FRA", out.display()));
    let e = t.start().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert_eq!(
        e.message,
        format!(
            "output_dir {}: no such directory, nor its parent {}; create it or choose an existing directory",
            out.display(),
            out.parent().unwrap().display()
        )
    );
    assert!(!t.is_running());
    assert_eq!(t.start_task("x").unwrap_err().kind, ErrorKind::Io, "start_task starts the same way");
    // Missing with its parent there: created at start, as a user expects, with the CSV's header.
    std::fs::create_dir(root.path().join("parent")).unwrap();
    t.start().unwrap();
    assert!(std::fs::read_to_string(out.join("emissions.csv")).unwrap().starts_with("timestamp,"));
    t.stop().unwrap();
    // A file, or a directory nobody may write to (sysfs refuses new files even to root).
    let file = root.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let e = tracker(&format!("output_dir={}", file.display())).start().unwrap_err();
    assert_eq!((e.kind, e.message), (ErrorKind::Io, format!("output_dir {}: not a directory", file.display())));
    let e = tracker("output_dir=/sys").start().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.message.starts_with("output_dir /sys: cannot open the emissions CSV for appending /sys/emissions.csv: "),
        "{}",
        e.message
    );
    // Without a CSV, output_dir is not used and not checked.
    tracker(&format!("output_dir={};save_to_file=false", out.join("x/y").display())).start().unwrap();
}

#[test]
fn update_mode_keeps_one_row_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let opts = format!("output_dir={};on_csv_write=update;force_ram_power=5", dir.path().display());
    let a = tracker(&opts);
    let b = tracker(&opts);
    a.start().unwrap();
    b.start().unwrap();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(55));
        a.flush().unwrap();
        b.flush().unwrap();
    }
    let sa = a.stop().unwrap();
    b.stop().unwrap();
    let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    let row_a = rows.iter().find(|r| &r[2] == a.run_id()).unwrap();
    assert_eq!(row_a[4].parse::<f64>().unwrap(), sa.duration_s);
}

#[test]
fn hardware_is_probed_once_for_many_trackers() {
    let opts = "save_to_file=false;force_ram_power=7.25";
    // A probe key of this test's own (force_ram_power=7.25): other tests cannot change its count.
    let first = tracker(opts);
    assert_eq!(carbon_tracker::hardware::probe_count(first.config()), 0);
    first.start().unwrap();
    assert_eq!(carbon_tracker::hardware::probe_count(first.config()), 1);
    let many: Vec<Tracker> = (0..50).map(|_| tracker(opts)).collect();
    for t in &many {
        t.start().unwrap();
    }
    assert_eq!(carbon_tracker::hardware::probe_count(first.config()), 1, "probed again");
    for t in &many {
        t.stop().unwrap();
    }
    first.stop().unwrap();
}

#[test]
fn free_of_a_running_tracker_writes_the_final_row() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!("output_dir={};force_ram_power=5", dir.path().display()));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    drop(t);
    let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
    assert_eq!(text.lines().count(), 2);
}

/// Rows of the CSV, or `None` if it does not parse.
fn csv_rows(path: &Path) -> Option<Vec<csv::StringRecord>> {
    let text = std::fs::read_to_string(path).ok()?;
    csv::Reader::from_reader(text.as_bytes()).records().collect::<Result<Vec<_>, _>>().ok()
}

#[test]
fn disk_full_is_an_io_error_and_the_totals_survive() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!("output_dir={};force_ram_power=10", dir.path().display()));
    t.start().unwrap();
    // The disk fills up after start (a full disk at start is an error of start).
    std::fs::remove_file(dir.path().join("emissions.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("emissions.csv")).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    // An error that carries the numbers: `t.stop()?` cannot hide that the row was not written.
    let r = t.stop().unwrap_err();
    assert_eq!(r.errors().len(), 1);
    assert_eq!(r.kind(), ErrorKind::Io);
    assert!(r.errors()[0].message.contains("No space left"), "{}", r.errors()[0].message);
    assert_eq!(r.to_string(), r.errors()[0].message);
    let numbers = r.emissions().expect("the numbers measured");
    assert!(numbers.ram_energy_kwh * 3.6e6 / 10.0 > numbers.duration_s - 1e-6, "nothing lost");
    assert!(!t.is_running(), "stopped all the same");
}

#[test]
fn output_dir_removed_mid_run_then_restored() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let t = tracker(&format!("output_dir={};force_ram_power=10", out.display()));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let during = t.flush().unwrap_err();
    assert_eq!(during.kind(), ErrorKind::Io);
    assert!(during.emissions().is_some_and(|e| e.energy_consumed_kwh > 0.0));
    std::fs::create_dir(&out).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let end = t.stop().unwrap();
    let rows = csv_rows(&out.join("emissions.csv")).unwrap();
    assert_eq!(rows.len(), 1, "a new file with the cumulative row");
    assert_eq!(rows[0][13].parse::<f64>().unwrap(), end.energy_consumed_kwh);
}

#[test]
fn csv_damaged_between_flushes() {
    // append: a truncated file still gets whole rows; update: a corrupt file is refused, kept,
    // and the numbers are still returned.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emissions.csv");
    let t = tracker(&format!("output_dir={};force_ram_power=10", dir.path().display()));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() - 40]).unwrap(); // cut mid-row
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    let last_line = std::fs::read_to_string(&path).unwrap().lines().last().unwrap().to_string();
    assert_eq!(last_line.split(',').count(), 38, "the new row is whole: {last_line}");
    t.stop().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emissions.csv");
    let t = tracker(&format!("output_dir={};force_ram_power=10;on_csv_write=update", dir.path().display()));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 10] = b'"'; // an unbalanced quote: the CSV no longer parses
    std::fs::write(&path, &bytes).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let r = t.stop().unwrap_err();
    assert_eq!(r.errors().len(), 1, "{r:?}");
    assert!(r.errors()[0].message.contains("corrupt"), "{}", r.errors()[0].message);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    assert!(r.emissions().unwrap().energy_consumed_kwh > 0.0);
}

#[test]
fn many_trackers_started_and_stopped_concurrently() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..25 {
                    let t = tracker("save_to_file=false;force_ram_power=1;measure_power_secs=0.01");
                    t.start().unwrap();
                    t.flush().unwrap();
                    let s = t.stop().unwrap();
                    // RAM at a forced 1 W over exactly the measured time; the parts add up.
                    assert!(s.duration_s > 0.0 && s.measurements >= 1, "{s:?}");
                    assert!((s.ram_energy_kwh * 3.6e6 - s.duration_s).abs() < 1e-9, "{s:?}");
                    let parts = s.cpu_energy_kwh + s.gpu_energy_kwh + s.ram_energy_kwh;
                    assert!((s.energy_consumed_kwh - parts).abs() <= 1e-12 * parts, "{s:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn pue_scales_energies_and_powers_and_is_written_as_given() {
    // CodeCarbon 3.3 multiplies power and energy by the PUE, and writes an int PUE as `2`.
    for (pue, written) in [("2", "2"), ("1.5", "1.5"), ("2.0", "2.0")] {
        let dir = tempfile::tempdir().unwrap();
        let t = tracker(&format!(
            "output_dir={};force_ram_power=10;country_iso_code=FRA;pue={pue};python_version=3.11.7",
            dir.path().display()
        ));
        t.start().unwrap();
        std::thread::sleep(Duration::from_millis(60));
        let s = t.stop().unwrap();
        let factor: f64 = pue.parse().unwrap();
        assert!((s.ram_power_w - 10.0 * factor).abs() < 1e-9, "{pue}: {s:?}");
        assert!((s.ram_energy_kwh * 3.6e6 - 10.0 * factor * s.duration_s).abs() < 1e-6, "{pue}: {s:?}");
        let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let header = rdr.headers().unwrap().clone();
        let row = rdr.records().next().unwrap().unwrap();
        let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
        assert_eq!(col("pue"), written, "{pue}");
        assert_eq!(col("python_version"), "3.11.7");
    }
}

#[test]
fn start_prepares_the_csv_so_flushes_only_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emissions.csv");
    std::fs::write(&path, "some,other,format\n1,2,3\n").unwrap();
    let t = tracker(&format!("output_dir={};force_ram_power=5", dir.path().display()));
    t.start().unwrap();
    // Created at start, header only; a file of another format was moved aside, not appended to.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", carbon_tracker::output::CSV_HEADER.as_str()));
    assert_eq!(std::fs::read_to_string(dir.path().join("emissions.csv.bak")).unwrap(), "some,other,format\n1,2,3\n");
    t.flush().unwrap();
    t.stop().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
}

#[test]
fn an_unknown_cpu_is_reported_once_per_process_in_plain_words() {
    support::in_own_process(module_path!(), "an_unknown_cpu_is_reported_once_per_process_in_plain_words", || {
        // Machine- and process-mode trackers probe separately; the warning is said once.
        let model = "Imaginary CPU 9000 (test)";
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        carbon_tracker::set_logger(Some(Arc::new(move |_, m: &str| {
            if m.contains(model) {
                sink.lock().unwrap().push(m.to_string());
            }
        })));
        let mut facts = carbon_tracker::hardware::MachineFacts::read();
        facts.cpu.model = Some(model.into());
        for mode in ["machine", "process", "machine"] {
            let c = tracker(&format!("tracking_mode={mode};rapl_dir=/nonexistent;log_level=warning"));
            carbon_tracker::hardware::probe(c.config(), &facts, &c.config().logger());
        }
        carbon_tracker::set_logger(None);
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].contains("have a "), "no `a` before a model name that may start with a vowel: {}", lines[0]);
        assert!(lines[0].contains("force_cpu_power"), "says what to do: {}", lines[0]);
    });
}

#[test]
fn output_file_may_be_a_path_outside_output_dir() {
    // As CodeCarbon's os.path.join(output_dir, output_file): an absolute path is used as is, a
    // relative one is taken in output_dir.
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let abs = other.path().join("run.csv");
    for (file, expected) in
        [(abs.display().to_string(), abs.clone()), ("sub/run.csv".to_string(), dir.path().join("sub/run.csv"))]
    {
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let t = tracker(&format!("output_dir={};output_file={file};country_iso_code=FRA", dir.path().display()));
        t.start().unwrap();
        t.stop().unwrap();
        assert_eq!(csv_rows(&expected).map(|r| r.len()), Some(1), "{file}");
        assert_eq!(t.describe()["outputs"]["csv"], expected.display().to_string());
    }
    assert!(!dir.path().join("emissions.csv").exists());
}

#[test]
fn restart_after_stop_keeps_the_tasks_of_the_first_window() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!("output_dir={};country_iso_code=FRA;restart_after_stop=true", dir.path().display()));
    t.start_task("before").unwrap();
    t.stop_task("before").unwrap();
    t.stop().unwrap();
    t.start_task("after").unwrap(); // starts (resumes) the run, as start_task does
    t.stop().unwrap(); // ends the running task too
    let tasks = csv_rows(&dir.path().join(format!("emissions_base_{}.csv", t.run_id()))).unwrap();
    let names: Vec<&str> = tasks.iter().map(|r| &r[0]).collect();
    assert_eq!(names, ["before", "after"]);
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).unwrap().len(), 2);
}
