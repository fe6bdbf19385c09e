//! carbon-tracker: measures the energy use and carbon emissions of the program it is linked into.
//!
//! Layers, each importing only those below it (checked by reading the `use crate::` lines of
//! each folder):
//!
//! 1. `ffi`: the C ABI only (argument checks, the guard, conversions; feature `capi`).
//! 2. `tracker`: lifecycle, accounting, the run's description.
//! 3. `hardware` (one energy source per file) / `emissions` (intensity, geo, cloud) /
//!    `output` (one sink per file): siblings that never import each other.
//! 4. `config` (every key in one table) and `record` (the measurement record, declared once).
//! 5. `http` → `background` (the one runtime, its timer and the fork gate), `log` →
//!    `clock`, `error`.
//!
//! The public API is what this file re-exports; the layers are private (public, and hidden from
//! the documentation, only with the `test-hooks` feature of this repository's tests).
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
pub use log::{set_logger, Level as LogLevel, LogCallback};
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
    pub use crate::config::{default_text, CsvWriteMode, KeyInfo, OnInvalidValue, OutputMethods, TrackingMode, ValueKind, KEYS, KEY_TABLE};
}

pub mod files {
    //! Reading what trackers write (the `carbon-tracker report` command reads them): the
    //! emissions CSV (CodeCarbon's `emissions.csv`), the region file
    //! `regions_<experiment_name>_<run_id>.csv` and the run file
    //! `run_<experiment_name>_<run_id>.json` of a rank of a job.
    pub use crate::output::files::{emissions_csv_header, read_run_file, region_file_header, region_json};
    pub use crate::record::identity::Identity as RunIdentity;
}

pub mod process {
    //! The process tree, as `tracking_mode=process` sees it.
    pub use crate::hardware::process::descendants_of;
}
