//! Measures the energy use and carbon emissions of the program it is linked into: CodeCarbon's
//! tracker core, rebuilt as a native library. Its numbers follow CodeCarbon's models (RAPL or the
//! CPU load model, NVML for NVIDIA GPUs, RAM power, each country's carbon intensity), and the CSV
//! it writes is CodeCarbon's `emissions.csv`, byte for byte.
//!
//! # Start, flush, stop
//!
//! ```
//! use carbon_tracker::{Options, Tracker};
//! # fn simulate(_step: u32) { std::thread::sleep(std::time::Duration::from_millis(1)) }
//! # let dir = std::env::temp_dir().join(format!("carbon-tracker-doc-{}", std::process::id()));
//!
//! let tracker = Tracker::new(Options::new().project_name("sim").country_iso_code("FRA").output_dir(&dir))?;
//! tracker.start()?;
//! for step in 1..=300 {
//!     simulate(step);
//!     if step % 100 == 0 {
//!         let so_far = tracker.flush()?; // the totals since start; a row of emissions.csv
//!         println!("{:.3e} kg CO2e so far", so_far.emissions_kg);
//!     }
//! }
//! let run = tracker.stop()?; // the final row
//! println!("{:.3e} kWh, {:.3e} kg CO2e at {} g/kWh", run.energy_consumed_kwh, run.emissions_kg, run.carbon_intensity_g_per_kwh);
//! # assert!(run.measurements >= 3 && run.emissions_kg > 0.0);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Options are CodeCarbon's configuration keys ([`options`] has the table), one typed setter
//! each, or text: `"project_name=sim;country_iso_code=FRA".parse::<Options>()`. The
//! `CODECARBON_*` environment and the `.codecarbon.config` files apply below them, as in
//! CodeCarbon. Measurements also run in the background every `measure_power_secs` (15 s), so a
//! flush is never needed for accuracy; a dropped tracker is stopped (its final row written).
//!
//! # Errors
//!
//! A mistake is an error at once, with a message that names the key and suggests the nearest
//! valid value ([`Error`], [`ErrorKind`]):
//!
//! ```
//! use carbon_tracker::{ErrorKind, Options, Tracker};
//!
//! let e = Tracker::new(Options::new().country_iso_code("FRN")).unwrap_err();
//! assert_eq!(e.kind, ErrorKind::InvalidOption);
//! assert!(e.message.contains("FRA"), "{e}"); // the nearest codes that exist
//! ```
//!
//! Measuring and saving are separate. When the CSV (or an upload at `stop`) fails, `flush` and
//! `stop` return an error that still carries the numbers, [`ReportError::emissions`]; the
//! tracker keeps them and the next flush writes them again. So `tracker.flush()?` never hides
//! a row that was not written, and nothing measured is lost:
//!
//! ```
//! # use carbon_tracker::{Options, Tracker};
//! # let dir = std::env::temp_dir().join(format!("carbon-tracker-doc-{}", std::process::id()));
//! # let tracker = Tracker::new(Options::new().country_iso_code("FRA").output_dir(&dir))?;
//! # tracker.start()?;
//! # std::fs::remove_dir_all(&dir)?; // the CSV cannot be written any more
//! match tracker.stop() {
//!     Ok(run) => println!("{:.3e} kg CO2e, saved", run.emissions_kg),
//!     Err(failed) => {
//!         eprintln!("carbon-tracker: {failed}"); // what was not saved, and why
//!         if let Some(run) = failed.emissions() {
//!             println!("{:.3e} kg CO2e, not saved", run.emissions_kg);
//!         }
//! #       assert!(failed.emissions().is_some());
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tasks and regions
//!
//! A task is a named window with its own numbers (CodeCarbon's `start_task`/`stop_task`); a
//! region is a phase entered many times (the solver of each time step), with calls, durations
//! and the energy of the time it was open, at about 0.1 µs a boundary.
//!
//! ```
//! # use carbon_tracker::{Options, Tracker};
//! # fn load() {} fn solve() {} fn exchange() {}
//! # let tracker = Tracker::new(Options::new().country_iso_code("FRA").save_to_file(false))?;
//! tracker.start_task("load")?;
//! load();
//! let loading = tracker.stop_task("load")?; // the task's own numbers
//! println!("loading: {:.3e} kWh", loading.energy_consumed_kwh);
//!
//! for _step in 0..1000 {
//!     let _step = tracker.region("step")?; // ends at the end of the loop body
//!     {
//!         let _solver = tracker.region("solver")?;
//!         solve();
//!     }
//!     tracker.region_begin("halo")?; // or begin and end by hand
//!     exchange();
//!     tracker.region_end("halo")?;
//! }
//! for r in tracker.regions() {
//!     println!("{}: {} calls, {:.3} s, {:.3e} kWh", r.name, r.calls, r.duration_s, r.energy_consumed_kwh);
//! }
//! # assert_eq!(tracker.regions().iter().map(|r| (r.name.as_str(), r.calls)).collect::<Vec<_>>(), [("step", 1000), ("solver", 1000), ("halo", 1000)]);
//! # tracker.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Progress, predictions and budgets
//!
//! A run that reports its progress gets its totals at completion predicted while it runs, with
//! 90 % intervals, and may be held to a budget (`energy_budget_kwh`, `emissions_budget_kg`: a
//! warning when the run is predicted to exceed one, another when it does).
//!
//! ```
//! use carbon_tracker::{BudgetState, Options, PredictionState, Tracker};
//! # fn step(_i: u32) { std::thread::sleep(std::time::Duration::from_millis(2)) }
//!
//! let tracker = Tracker::new(Options::new().country_iso_code("FRA").save_to_file(false).energy_budget_kwh(0.5))?;
//! tracker.start()?;
//! let steps = 100;
//! for i in 1..=steps {
//!     step(i);
//!     tracker.set_progress(i as f64, steps as f64)?; // about 40 ns: every step
//!     if i % 25 == 0 {
//!         let p = tracker.predict()?;
//!         if p.state == PredictionState::Ready {
//!             println!("{:.0} %: {:.3e} kWh [{:.3e}, {:.3e}] at the end, {:.1} s left",
//!                 100.0 * p.progress, p.predicted_energy_kwh, p.predicted_energy_low_kwh,
//!                 p.predicted_energy_high_kwh, p.time_left_s);
//!         }
//!         assert_ne!(p.budget_state, BudgetState::Exceeded);
//!     }
//! }
//! tracker.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Logging
//!
//! Log lines go to standard error in CodeCarbon's format, from `log_level` (`warning` by
//! default) up; [`set_logger`] sends them to a function instead (to the `log` or `tracing`
//! crates, say).
//!
//! # Features
//!
//! None by default: a Rust program builds the library alone. `cli` builds the
//! `carbon-tracker` command (`cargo install carbon-tracker --features cli`); `capi` the C ABI
//! (`include/carbon_tracker.h`), for building the C library from this crate
//! (`cargo rustc --lib --crate-type cdylib --features capi`); `test-hooks` is for this
//! repository's tests only.

// Layers, each importing only those below it (checked by reading the `use crate::` lines of
// each folder):
//
// 1. `ffi`: the C ABI only (argument checks, the guard, conversions; feature `capi`).
// 2. `tracker`: lifecycle, accounting, the run's description.
// 3. `hardware` (one energy source per file) / `emissions` (intensity, geo, cloud) /
//    `output` (one sink per file): siblings that never import each other.
// 4. `config` (every key in one table) and `record` (the measurement record, declared once).
// 5. `http` → `background` (the one runtime, its timer and the fork gate), `log` →
//    `clock`, `error`.
//
// The public API is what this file re-exports; the layers are private (public, and hidden
// from the documentation, only with the `test-hooks` feature of this repository's tests).
#![warn(missing_docs)]

/// The internal modules: private, except in this repository's test builds (feature
/// `test-hooks`), where the integration tests, benchmarks and fuzz targets reach into them.
/// Nothing in them is part of the public API or its stability.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "test-hooks")]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub mod $name;
        #[cfg(not(feature = "test-hooks"))]
        mod $name;
    )*};
}

internal_modules!(background, clock, config, emissions, error, hardware, http, log, output, record, tracker);

/// The C ABI (include/carbon_tracker.h), for the C libraries built by capi/ and the Python
/// package. Not a Rust API.
#[cfg(feature = "capi")]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod ffi;

pub use config::Options;
pub use error::{Error, ErrorKind, Result};
pub use log::{set_logger, LogCallback, LogLevel};
pub use record::region::RegionTotals;
pub use record::{BudgetState, EmissionsSnapshot, Prediction, PredictionState};
pub use tracker::{LocationLookup, RegionGuard, ReportError, Tracker};

/// The library version, as in Cargo.toml.
pub use record::run::LIBRARY_VERSION as VERSION;

pub mod options {
    //! The option keys: CodeCarbon's configuration keys, one table ([`KEY_TABLE`]) from which
    //! the typed setters of [`Options`](crate::Options), the command's flags and the bindings'
    //! option types are all made, and the types of the values that are more than a number or
    //! a string.
    pub use crate::config::options::NOT_UTF8;
    pub use crate::config::{
        default_text, CsvWriteMode, GpuShare, KeyInfo, OnInvalidValue, OutputMethods, TrackingMode, ValueKind, KEYS,
        KEY_TABLE,
    };
}

pub mod files {
    //! Reading what trackers write (the `carbon-tracker report` command reads them): the
    //! emissions CSV (CodeCarbon's `emissions.csv`), the region file
    //! `regions_<experiment_name>_<run_id>.csv` and the run file
    //! `run_<experiment_name>_<run_id>.json` of a rank of a job.
    pub use crate::output::files::{emissions_csv_header, read_run_file, region_file_header, region_json};
    pub use crate::record::identity::Identity as RunIdentity;
    pub use crate::record::job::Job as RunJob;
}

pub mod process {
    //! The process tree, as `tracking_mode=process` sees it.
    pub use crate::hardware::process::descendants_of;
}

/// What the public API promises about its types, checked as a user's code sees them (each
/// doctest is a crate of its own): the records and the enums that may grow in later versions
/// are `#[non_exhaustive]`, so adding a field or a variant is not a breaking change.
#[cfg(doctest)]
mod api_promises {
    /// A user cannot name every field of a record that may grow (error E0639)...
    ///
    /// ```compile_fail,E0639
    /// let _ = carbon_tracker::options::OutputMethods { file: true, api: false, prometheus: false, logger: false, logfire: false, otlp: false };
    /// ```
    ///
    /// ...but starts from its default (the same fields, set one by one):
    ///
    /// ```
    /// let mut m = carbon_tracker::options::OutputMethods::default();
    /// (m.file, m.api, m.prometheus, m.logger, m.logfire, m.otlp) = (true, false, false, false, false, false);
    /// ```
    pub struct RecordsMayGrow;

    /// A `match` on an enum that may grow needs a wildcard arm (error E0004 without one)...
    ///
    /// ```compile_fail,E0004
    /// fn f(s: carbon_tracker::PredictionState) -> u8 {
    ///     use carbon_tracker::PredictionState::*;
    ///     match s { NoProgress => 0, NotEnoughEvidence => 1, Ready => 2 }
    /// }
    /// ```
    ///
    /// ```compile_fail,E0004
    /// fn f(s: carbon_tracker::BudgetState) -> u8 {
    ///     use carbon_tracker::BudgetState::*;
    ///     match s { None => 0, Below => 1, PredictedToExceed => 2, Exceeded => 3 }
    /// }
    /// ```
    ///
    /// ```compile_fail,E0004
    /// fn f(m: carbon_tracker::options::TrackingMode) -> u8 {
    ///     use carbon_tracker::options::TrackingMode::*;
    ///     match m { Machine => 0, Process => 1 }
    /// }
    /// ```
    ///
    /// ```compile_fail,E0004
    /// fn f(m: carbon_tracker::options::CsvWriteMode) -> u8 {
    ///     use carbon_tracker::options::CsvWriteMode::*;
    ///     match m { Append => 0, Update => 1 }
    /// }
    /// ```
    ///
    /// ```compile_fail,E0004
    /// fn f(m: carbon_tracker::options::OnInvalidValue) -> u8 {
    ///     use carbon_tracker::options::OnInvalidValue::*;
    ///     match m { Error => 0, Ignore => 1 }
    /// }
    /// ```
    ///
    /// ...and compiles with one (the same code, with the wildcard arm: stable rustdoc does not
    /// check a `compile_fail` test's error code, so this shows nothing else is wrong in them):
    ///
    /// ```
    /// fn f(s: carbon_tracker::PredictionState) -> u8 {
    ///     use carbon_tracker::PredictionState::*;
    ///     match s { NoProgress => 0, NotEnoughEvidence => 1, Ready => 2, _ => 9 }
    /// }
    /// fn g(s: carbon_tracker::BudgetState) -> u8 {
    ///     use carbon_tracker::BudgetState::*;
    ///     match s { None => 0, Below => 1, PredictedToExceed => 2, Exceeded => 3, _ => 9 }
    /// }
    /// fn h(m: carbon_tracker::options::TrackingMode) -> u8 {
    ///     use carbon_tracker::options::TrackingMode::*;
    ///     match m { Machine => 0, Process => 1, _ => 9 }
    /// }
    /// fn i(m: carbon_tracker::options::CsvWriteMode) -> u8 {
    ///     use carbon_tracker::options::CsvWriteMode::*;
    ///     match m { Append => 0, Update => 1, _ => 9 }
    /// }
    /// fn j(m: carbon_tracker::options::OnInvalidValue) -> u8 {
    ///     use carbon_tracker::options::OnInvalidValue::*;
    ///     match m { Error => 0, Ignore => 1, _ => 9 }
    /// }
    /// ```
    pub struct EnumsMayGrow;

    /// The Prometheus and OTLP outputs' view of a prediction is theirs: its gauge type is not
    /// public, so neither is the method that makes them...
    ///
    /// ```compile_fail,E0624
    /// let _ = carbon_tracker::Prediction::unknown().gauges();
    /// ```
    ///
    /// ...while the prediction's numbers are:
    ///
    /// ```
    /// let _ = carbon_tracker::Prediction::unknown().to_json();
    /// ```
    pub struct NoInternalTypes;

    /// A record that may grow does not give its numbers as an array, whose length would be
    /// part of the type...
    ///
    /// ```compile_fail,E0308
    /// let _: [(&str, f64); 17] = carbon_tracker::Prediction::unknown().numbers();
    /// ```
    ///
    /// ...but as an iterator:
    ///
    /// ```
    /// let n = carbon_tracker::Prediction::unknown().numbers().count();
    /// assert_eq!(n, carbon_tracker::Prediction::NUMBERS.len());
    /// assert_eq!(n, 17);
    /// ```
    pub struct NoLengthInTypes;

    /// A tracker may be shared between threads (in an `Arc`, or borrowed by scoped threads), and
    /// its numbers and errors sent between them; a region's guard may end in another thread.
    ///
    /// ```
    /// fn shared<T: Send + Sync + 'static>() {}
    /// shared::<carbon_tracker::Tracker>();
    /// shared::<carbon_tracker::Options>();
    /// shared::<carbon_tracker::EmissionsSnapshot>();
    /// shared::<carbon_tracker::Prediction>();
    /// shared::<carbon_tracker::RegionTotals>();
    /// shared::<carbon_tracker::Error>();
    /// shared::<carbon_tracker::ReportError>();
    /// fn sent<T: Send>() {}
    /// sent::<carbon_tracker::RegionGuard<'static>>();
    /// ```
    pub struct ThreadSafe;
}
