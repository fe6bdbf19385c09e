//! A Rust program using the published crate as a user would (scripts/publish-check.sh builds it
//! against the package `cargo publish --dry-run` made, outside the workspace):
//! rust_user OUT_DIR. Prints the run's numbers; fails if anything is off.

use std::time::Duration;

use carbon_tracker::{ErrorKind, Options, PredictionState, Tracker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: rust_user OUT_DIR")?;
    // A typo is caught at once, with the nearest key.
    let e = Tracker::new(Options::new().set("country_iso_cod", "FRA")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidOption);
    println!("a misspelt key: {e}");

    let tracker = Tracker::new(Options::new().project_name("rust-user").country_iso_code("FRA").offline(true).output_dir(&out))?;
    tracker.start()?;
    tracker.start_task("warm-up")?;
    std::thread::sleep(Duration::from_millis(100));
    let warm_up = tracker.stop_task("warm-up")?;
    let steps = 50;
    for i in 1..=steps {
        let _step = tracker.region("step")?;
        std::thread::sleep(Duration::from_millis(4));
        tracker.set_progress(f64::from(i), f64::from(steps))?;
    }
    let flushed = tracker.flush()?;
    let prediction = tracker.predict()?;
    let run = tracker.stop()?;
    println!("task warm-up: {:.3} s, {:.3e} kWh", warm_up.duration_s, warm_up.energy_consumed_kwh);
    println!("flush: {:.3e} kWh; prediction: {:?}", flushed.energy_consumed_kwh, prediction.state);
    println!(
        "run: {:.3} s, {:.3e} kWh, {:.3e} kg CO2e at {} g/kWh, {} measurements",
        run.duration_s, run.energy_consumed_kwh, run.emissions_kg, run.carbon_intensity_g_per_kwh, run.measurements
    );
    let regions = tracker.regions();
    assert_eq!((regions[0].name.as_str(), regions[0].calls), ("step", 50));
    assert!(run.energy_consumed_kwh >= flushed.energy_consumed_kwh && run.emissions_kg > 0.0);
    assert_ne!(prediction.state, PredictionState::NoProgress);
    let rows = std::fs::read_to_string(std::path::Path::new(&out).join("emissions.csv"))?.lines().count();
    assert_eq!(rows, 3, "the header, the flush and the stop");
    println!("carbon-tracker {} from crates.io's package: ok", carbon_tracker::VERSION);
    Ok(())
}
