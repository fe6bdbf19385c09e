//! The tracker through its Rust API: exact accounting under concurrency, RAPL counters end to
//! end on a fake powercap tree, and output faults that lose nothing.

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
        layers: vec![(carbon_tracker::config::Origin::Options, carbon_tracker::config::options::parse(&options).unwrap())],
    };
    Tracker::with_config(Config::from_sources(&sources).unwrap())
}

fn write_counter(root: &Path, zone: &str, uj: u64) {
    // Rename makes the update atomic for the reader.
    let tmp = root.join(format!("{zone}.tmp"));
    std::fs::write(&tmp, format!("{uj}\n")).unwrap();
    std::fs::rename(&tmp, root.join(zone).join("energy_uj")).unwrap();
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
    assert_eq!(t.flush().unwrap_err().kind, ErrorKind::InvalidState);
    assert_eq!(t.stop().unwrap_err().kind, ErrorKind::InvalidState);
    t.start().unwrap();
    assert_eq!(t.start().unwrap_err().kind, ErrorKind::InvalidState);
    t.stop().unwrap();
    for e in [t.start().unwrap_err(), t.flush().unwrap_err(), t.stop().unwrap_err()] {
        assert_eq!(e.kind, ErrorKind::InvalidState, "{e}");
    }
}

#[test]
fn sixteen_threads_flushing_with_background_ticks_count_each_interval_once() {
    // RAM at a forced 10 W: RAM energy = 10 W × (sum of measured intervals). If any interval
    // were counted twice (CodeCarbon's flush/tick race), that sum would exceed the duration.
    let t = Arc::new(tracker("save_to_file=false;force_ram_power=10;measure_power_secs=0.01;country_iso_code=DEU"));
    t.start().unwrap();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut last = 0.0;
                for _ in 0..200 {
                    let r = t.flush().unwrap();
                    assert!(r.errors.is_empty());
                    // Totals never go backwards.
                    assert!(r.emissions.energy_consumed_kwh >= last);
                    last = r.emissions.energy_consumed_kwh;
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap().emissions;
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
    let opts = format!("save_to_file=false;measure_power_secs=0.01;force_ram_power=0;rapl_dir={}", root.display());
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
        std::thread::sleep(Duration::from_millis(3));
        if i % 10 == 0 {
            t.flush().unwrap();
        }
    }
    let s = t.stop().unwrap().emissions;
    let want_kwh = added as f64 / 3.6e12;
    assert!((s.cpu_energy_kwh - want_kwh).abs() <= 1e-12 * want_kwh, "{} vs {want_kwh}", s.cpu_energy_kwh);
    assert_eq!(s.ram_energy_kwh, 0.0);
}

#[test]
fn unwritable_output_dir_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("not-yet");
    let t = tracker(&format!("output_dir={};force_ram_power=5;country_iso_code=FRA", out.display()));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let first = t.flush().unwrap();
    let err = first.errors.first().cloned().expect("the directory does not exist");
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("not-yet"), "{}", err.message);
    assert!(first.emissions.energy_consumed_kwh > 0.0);

    std::fs::create_dir(&out).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let second = t.stop().unwrap();
    assert!(second.errors.is_empty());
    let text = std::fs::read_to_string(out.join("emissions.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    let energy: f64 = rows[0][13].parse().unwrap();
    assert_eq!(energy, second.emissions.energy_consumed_kwh);
    assert!(energy > first.emissions.energy_consumed_kwh, "the earlier interval is in the cumulative row");
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
    let sa = a.stop().unwrap().emissions;
    b.stop().unwrap();
    let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    let row_a = rows.iter().find(|r| &r[2] == a.run_id()).unwrap();
    assert_eq!(row_a[4].parse::<f64>().unwrap(), sa.duration_s);
}

#[test]
fn hardware_is_probed_once_for_many_trackers() {
    let opts = "save_to_file=false;force_ram_power=7.25";
    let first = tracker(opts);
    first.start().unwrap();
    let cached = carbon_tracker::hardware::probes_cached();
    let many: Vec<Tracker> = (0..50).map(|_| tracker(opts)).collect();
    for t in &many {
        t.start().unwrap();
    }
    assert_eq!(carbon_tracker::hardware::probes_cached(), cached);
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
