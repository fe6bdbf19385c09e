//! Regions through the public API: calls from several threads at once, nesting and overlap,
//! energy attributed by open time, the region file (one row per region, rewritten at each
//! flush), `describe()["regions"]`, and errors.

use std::sync::Arc;
use std::time::Duration;

use carbon_tracker::{ErrorKind, Tracker};

/// RAM at a forced 10 W and next to no CPU power: a region's energy says how long it was open.
const RAM_ONLY: &str =
    "offline=true;country_iso_code=FRA;force_ram_power=10;force_cpu_power=0.000001;measure_power_secs=0.01";

fn tracker(extra: &str) -> Tracker {
    Tracker::new(carbon_tracker::Options::parse(&format!("{RAM_ONLY};{extra}")).unwrap()).unwrap()
}

fn ram_s(kwh: f64) -> f64 {
    kwh * 3.6e6 / 10.0
}

#[test]
fn a_region_open_in_several_threads_counts_each_call_and_its_energy_once() {
    let t = Arc::new(tracker("save_to_file=false"));
    t.start().unwrap();
    const THREADS: usize = 4;
    const CALLS: usize = 2_000;
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..CALLS {
                    t.region_begin("solve").unwrap();
                    if i % 500 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    t.region_end("solve").unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let run = t.stop().unwrap();
    let solve = t.regions().into_iter().find(|r| r.name == "solve").unwrap();
    assert_eq!((solve.calls, solve.open_calls), ((THREADS * CALLS) as u64, 0));
    assert!(solve.duration_s >= solve.wall_s - 1e-9, "each thread's calls add up: {solve:?}");
    assert!(solve.min_duration_s < 0.001 && solve.max_duration_s >= 0.005, "{solve:?}");
    // Energy over the time at least one call was open, counted once however many threads.
    assert!((ram_s(solve.ram_energy_kwh) - solve.wall_s).abs() < 1e-6, "{solve:?}");
    assert!(solve.energy_consumed_kwh <= run.energy_consumed_kwh * (1.0 + 1e-12));
}

#[test]
fn nested_and_overlapping_regions() {
    let t = tracker("save_to_file=false");
    t.start().unwrap();
    t.region_begin("step").unwrap();
    t.region_begin("solver").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    t.region_begin("io").unwrap(); // overlaps solver
    std::thread::sleep(Duration::from_millis(20));
    t.region_end("solver").unwrap(); // not the last begun: regions need not end in order
    t.region_begin("solver").unwrap(); // again, nested in itself? no: a second call after the first ended
    t.region_begin("solver").unwrap(); // recursion: two calls of solver open on this thread
    std::thread::sleep(Duration::from_millis(10));
    t.region_end("solver").unwrap();
    t.region_end("solver").unwrap();
    t.region_end("io").unwrap();
    t.region_end("step").unwrap();
    t.stop().unwrap();
    let r = t.regions();
    assert_eq!(
        r.iter().map(|x| (x.name.as_str(), x.calls)).collect::<Vec<_>>(),
        vec![("step", 1), ("solver", 3), ("io", 1)]
    );
    let (step, solver, io) = (&r[0], &r[1], &r[2]);
    assert!(step.wall_s >= solver.wall_s && step.wall_s >= io.wall_s, "{r:?}");
    // The recursive calls overlap: solver's open time is less than the sum of its calls.
    assert!(solver.duration_s > solver.wall_s + 0.009, "{solver:?}");
    for x in &r {
        assert!((ram_s(x.ram_energy_kwh) - x.wall_s).abs() < 1e-6, "{x:?}");
    }
}

#[test]
fn errors_name_the_problem_and_change_nothing() {
    let t = tracker("save_to_file=false");
    // Before start: calls count, their time has no energy.
    t.region_begin("setup").unwrap();
    t.region_end("setup").unwrap();
    t.start().unwrap();
    t.region_begin("solver").unwrap();
    let e = t.region_end("halo").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidState);
    assert!(e.message.contains("`halo` is not open (open: solver)"), "{}", e.message);
    for bad in ["", "a\tb", &"x".repeat(257)] {
        assert_eq!(t.region_begin(bad).unwrap_err().kind, ErrorKind::InvalidOption, "{bad:?}");
    }
    t.region_end("solver").unwrap();
    t.stop().unwrap();
    assert_eq!(t.region_begin("solver").unwrap_err().kind, ErrorKind::InvalidState);
    assert!(t.region_end("solver").unwrap_err().message.contains("stopped"));
    let r = t.regions();
    assert_eq!(r.iter().map(|x| (x.name.as_str(), x.calls)).collect::<Vec<_>>(), vec![("setup", 1), ("solver", 1)]);
    assert_eq!(r[0].energy_consumed_kwh, 0.0, "nothing is measured before start");
}

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    (header, reader.records().map(|r| r.unwrap()).collect())
}

#[test]
fn the_region_file_has_one_row_per_region_rewritten_at_each_flush() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!(
        "output_dir={};experiment_name=exp;project_name=sim;job_id=j1;rank=3;job_count_node_once=false",
        dir.path().display()
    ));
    t.start().unwrap();
    for _ in 0..1000 {
        t.region_begin("solver").unwrap();
        t.region_end("solver").unwrap();
    }
    t.flush().unwrap();
    let path = dir.path().join(format!("regions_exp_{}.csv", t.run_id()));
    let (header, rows) = read_csv(&path);
    assert_eq!(rows.len(), 1, "one row per region, not per call");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"));
    assert_eq!(&rows[0][col("calls")], "1000");
    assert_eq!((&rows[0][col("job_id")], &rows[0][col("rank")], &rows[0][col("run_id")]), ("j1", "3", t.run_id()));
    t.region_begin("io").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    t.region_end("io").unwrap();
    let run = t.stop().unwrap();
    let (_, rows) = read_csv(&path);
    assert_eq!(rows.iter().map(|r| r[col("name")].to_string()).collect::<Vec<_>>(), vec!["solver", "io"]);
    // The file, describe() and regions() say the same.
    let json = t.describe();
    let regions = t.regions();
    for (row, r) in rows.iter().zip(&regions) {
        let j = json["regions"].as_array().unwrap().iter().find(|j| j["name"] == r.name.as_str()).unwrap();
        for (key, v) in [
            ("energy_consumed_kwh", r.energy_consumed_kwh),
            ("emissions_kg", r.emissions_kg),
            ("duration_s", r.duration_s),
            ("wall_s", r.wall_s),
        ] {
            assert_eq!(row[col(key)].parse::<f64>().unwrap(), v, "{key}");
            assert_eq!(j[key].as_f64().unwrap(), v, "{key}");
        }
        assert_eq!(j["calls"].as_u64().unwrap(), r.calls);
    }
    let io = &regions[1];
    assert!(io.energy_consumed_kwh > 0.0 && io.energy_consumed_kwh < run.energy_consumed_kwh);
    assert!((io.emissions_kg / io.energy_consumed_kwh - 0.056039).abs() < 1e-9);
    // emissions.csv is CodeCarbon's (its header untouched); the run file names the job and rank.
    let emissions = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
    assert_eq!(emissions.lines().next().unwrap(), carbon_tracker::output::CSV_HEADER.as_str());
    let id = carbon_tracker::output::run_file::read(&dir.path().join(format!("run_exp_{}.json", t.run_id()))).unwrap();
    assert_eq!(
        (id.job_id(), id.rank(), id.run_id.as_str(), id.output_file.as_str()),
        (Some("j1"), Some(3), t.run_id(), "emissions.csv")
    );
}

#[test]
fn no_region_file_without_regions_and_no_run_file_outside_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!("output_dir={}", dir.path().display()));
    t.start().unwrap();
    t.stop().unwrap();
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["emissions.csv"]);
}

#[test]
fn an_unwritable_region_file_is_an_io_error_and_the_totals_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let t = tracker(&format!("output_dir={}", out.display()));
    t.start().unwrap();
    t.region_begin("a").unwrap();
    t.region_end("a").unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    let r = t.flush().unwrap_err();
    assert!(r.errors().iter().any(|e| e.kind == ErrorKind::Io && e.message.contains("region file")), "{r:?}");
    assert!(r.emissions().is_some(), "the numbers, measured all the same");
    std::fs::create_dir(&out).unwrap();
    t.stop().unwrap();
    assert!(out.join(format!("regions_base_{}.csv", t.run_id())).exists());
}

#[test]
fn a_region_guard_is_a_call_that_ends_with_its_scope() {
    let t = tracker("save_to_file=false");
    t.start().unwrap();
    for finished in 0..3 {
        let _call = t.region("scope").unwrap();
        let open = t.regions();
        assert_eq!((open[0].calls, open[0].open_calls), (finished, 1), "open while the guard lives");
    }
    let r = &t.regions()[0];
    assert_eq!((r.name.as_str(), r.calls, r.open_calls), ("scope", 3, 0));
    // A name made for the call (a String the guard keeps), ended by `end` or by its scope.
    for level in 0..2 {
        let call = t.region(format!("level {level}")).unwrap();
        assert_eq!(t.regions().last().unwrap().open_calls, 1);
        if level == 0 {
            call.end().unwrap();
        }
    }
    let levels: Vec<_> = t.regions().iter().skip(1).map(|r| (r.name.clone(), r.calls, r.open_calls)).collect();
    assert_eq!(levels, [("level 0".to_string(), 1, 0), ("level 1".to_string(), 1, 0)]);
    // `end` reports what dropping would ignore: after stop, a region cannot end.
    let guard = t.region("late").unwrap();
    t.stop().unwrap(); // ends it, with a warning naming it
    assert_eq!(guard.end().unwrap_err().kind, ErrorKind::InvalidState);
    assert_eq!(t.region("after").unwrap_err().kind, ErrorKind::InvalidState);
    // A bad name is refused at the start of the scope.
    let t = tracker("save_to_file=false");
    assert_eq!(t.region("").unwrap_err().kind, ErrorKind::InvalidOption);
}
