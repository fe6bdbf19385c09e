//! Tasks: named windows of a run whose numbers are exact differences of the run's totals, while
//! the run goes on; overlapping, nested and concurrent tasks; errors; the task file.

use std::sync::Arc;
use std::time::Duration;

use carbon_tracker::config::{options, Config, Origin, Sources};
use carbon_tracker::{ErrorKind, Tracker};

/// RAM at a forced 10 W and no CPU or GPU power: every joule is 10 W × measured time, so a
/// window's energy says exactly how much time it covered.
const RAM_ONLY: &str =
    "offline=true;country_iso_code=FRA;force_ram_power=10;force_cpu_power=0.000001;measure_power_secs=0.01";

fn tracker(extra: &str) -> Tracker {
    let opts = format!("{RAM_ONLY};{extra}");
    Tracker::with_config(
        Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] }).unwrap(),
    )
}

fn ram_s(kwh: f64) -> f64 {
    kwh * 3.6e6 / 10.0
}

#[test]
fn start_task_starts_the_tracker_and_the_run_goes_on() {
    let t = tracker("save_to_file=false");
    t.start_task("load").unwrap();
    assert!(t.is_running(), "start_task starts the tracker (CodeCarbon's behaviour)");
    std::thread::sleep(Duration::from_millis(80));
    let task = t.stop_task("load").unwrap();
    std::thread::sleep(Duration::from_millis(80));
    let run = t.stop().unwrap();
    // The task covered its own window only; the run kept measuring after it (CodeCarbon stops
    // its scheduler and resets the run's start time at start_task).
    assert!((ram_s(task.ram_energy_kwh) - task.duration_s).abs() < 1e-6, "{task:?}");
    assert!(run.duration_s >= task.duration_s + 0.07, "{run:?}");
    assert!((ram_s(run.ram_energy_kwh) - run.duration_s).abs() < 1e-6, "{run:?}");
    assert!((task.ram_power_w - 10.0).abs() < 1e-6);
    assert_eq!(task.carbon_intensity_g_per_kwh, 56.039);
}

#[test]
fn overlapping_and_nested_tasks_are_exact_windows() {
    let t = tracker("save_to_file=false");
    t.start().unwrap();
    t.start_task("outer").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    t.start_task("a").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    t.start_task("b").unwrap(); // overlaps a
    std::thread::sleep(Duration::from_millis(30));
    let a = t.stop_task("a").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let b = t.stop_task("b").unwrap();
    let outer = t.stop_task("outer").unwrap();
    t.stop().unwrap();
    for (name, s) in [("a", a), ("b", b), ("outer", outer)] {
        // Each window's energy is exactly its wall time at 10 W: measured at both ends.
        assert!((ram_s(s.ram_energy_kwh) - s.duration_s).abs() < 1e-6, "{name}: {s:?}");
        assert!(s.measurements >= 1, "{name}");
    }
    assert!(outer.duration_s > a.duration_s + 0.05 && outer.duration_s > b.duration_s + 0.02);
    assert!(outer.energy_consumed_kwh > a.energy_consumed_kwh && outer.emissions_kg > b.emissions_kg);
}

#[test]
fn consecutive_tasks_add_up_to_the_window_they_cover() {
    let t = tracker("save_to_file=false");
    t.start_task("first").unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let first = t.stop_task("first").unwrap();
    t.start_task("second").unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let second = t.stop_task("second").unwrap();
    t.start_task("first").unwrap(); // a finished name may be used again
    let again = t.stop_task("first").unwrap();
    let run = t.stop().unwrap();
    let tasks = first.energy_consumed_kwh + second.energy_consumed_kwh + again.energy_consumed_kwh;
    assert!(tasks <= run.energy_consumed_kwh * (1.0 + 1e-12), "windows inside the run: {tasks} vs {run:?}");
    assert!(first.duration_s >= 0.039 && second.duration_s >= 0.039);
}

#[test]
fn errors_are_clear_and_change_nothing() {
    let t = tracker("save_to_file=false");
    assert_eq!(t.stop_task("x").unwrap_err().kind, ErrorKind::InvalidState);
    t.start_task("x").unwrap();
    let e = t.start_task("x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidState);
    assert!(e.message.contains("`x` is already running"), "{e}");
    let e = t.stop_task("y").unwrap_err();
    assert!(e.message.contains("no running task `y`") && e.message.contains("running: x"), "{e}");
    for bad in ["", "a\nb", &"n".repeat(300)] {
        assert_eq!(t.start_task(bad).unwrap_err().kind, ErrorKind::InvalidOption, "{bad:?}");
    }
    t.stop_task("x").unwrap();
    t.stop().unwrap();
    assert_eq!(t.start_task("z").unwrap_err().kind, ErrorKind::InvalidState, "stopped for good");
}

#[test]
fn eight_threads_with_their_own_tasks() {
    let t = Arc::new(tracker("save_to_file=false"));
    t.start().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut total_s = 0.0;
                for j in 0..20 {
                    let name = format!("thread{i}-step{j}");
                    t.start_task(&name).unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    let s = t.stop_task(&name).unwrap();
                    assert!((ram_s(s.ram_energy_kwh) - s.duration_s).abs() < 1e-6, "{name}: {s:?}");
                    total_s += s.duration_s;
                }
                total_s
            })
        })
        .collect();
    for th in threads {
        assert!(th.join().unwrap() >= 20.0 * 0.002);
    }
    let run = t.stop().unwrap();
    assert!((ram_s(run.ram_energy_kwh) - run.duration_s).abs() < 1e-6, "the run is still exact: {run:?}");
}

#[test]
fn task_rows_go_to_codecarbons_task_file_and_stop_ends_running_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!("output_dir={};experiment_name=exp", dir.path().display()));
    t.start_task("done").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let done = t.stop_task("done").unwrap();
    t.start_task("left running").unwrap();
    t.flush().unwrap();
    let path = dir.path().join(format!("emissions_exp_{}.csv", t.run_id()));
    let read = |p: &std::path::Path| -> Vec<csv::StringRecord> {
        csv::Reader::from_reader(std::fs::read(p).unwrap().as_slice()).records().map(|r| r.unwrap()).collect()
    };
    let rows = read(&path);
    assert_eq!(rows.len(), 1, "the running task has no row yet");
    assert_eq!((&rows[0][0], &rows[0][3]), ("done", t.run_id()));
    assert_eq!(rows[0][4].parse::<f64>().unwrap(), done.duration_s);
    t.stop().unwrap();
    let rows = read(&path);
    assert_eq!(rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(), ["done", "left running"]);
    assert!(rows.iter().all(|r| r.len() == 36));
}

#[test]
fn an_experiment_name_never_leaves_output_dir() {
    // `experiment_name` is part of the task file's name: whatever it holds, the file is one name
    // inside output_dir (`/` and control characters percent-encoded, a long name cut short).
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("a").join("out");
    std::fs::create_dir_all(&out).unwrap();
    let long = "n".repeat(400);
    for name in ["x/../../y", "a/b", "../escape", "tab\there", "%2F", long.as_str()] {
        let t = tracker(&format!("output_dir={};experiment_name={}", out.display(), name.replace(';', "\\;")));
        t.start_task("t").unwrap();
        t.stop_task("t").unwrap();
        t.flush().unwrap_or_else(|e| panic!("{name:?}: {e}"));
        t.stop().unwrap();
    }
    let mut inside: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    inside.sort();
    let task_files: Vec<&String> = inside.iter().filter(|n| n.starts_with("emissions_")).collect();
    assert_eq!(task_files.len(), 6, "one task file per run, all in output_dir: {inside:?}");
    assert!(task_files.iter().all(|n| n.len() <= 255 && !n.contains('/')));
    assert!(inside.iter().any(|n| n.starts_with("emissions_x%2F..%2F..%2Fy_")), "{inside:?}");
    assert!(inside.iter().any(|n| n.starts_with("emissions_%252F_")), "`%` is encoded too: {inside:?}");
    assert!(inside.iter().any(|n| n.starts_with("emissions_tab%09here_")), "{inside:?}");
    // Nothing was written anywhere else under the root.
    let mut elsewhere = Vec::new();
    let mut stack = vec![root.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.parent() != Some(out.as_path()) {
                elsewhere.push(p);
            }
        }
    }
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
}
