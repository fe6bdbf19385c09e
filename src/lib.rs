//! carbon-tracker: measures the energy use and carbon emissions of the program it is linked into.
//!
//! Layers, each importing only those below it (checked by reading the `use crate::` lines of
//! each folder):
//!
//! 1. [`ffi`]: the C ABI only (argument checks, the guard, conversions).
//! 2. [`tracker`]: lifecycle, accounting, the run's description.
//! 3. [`hardware`] (one energy source per file) / [`emissions`] (intensity, geo, cloud) /
//!    [`output`] (one sink per file): siblings that never import each other.
//! 4. [`config`] (every key in one table) and [`record`] (the measurement record, declared once).
//! 5. [`http`] → [`background`] (the one runtime, its timer and the fork gate), [`log`] →
//!    [`clock`], [`error`].
//!
//! Rust users can use [`tracker::Tracker`] directly; C, C++, Go and Python go through [`ffi`].

pub mod background;
pub mod clock;
pub mod config;
pub mod emissions;
pub mod error;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod hardware;
pub mod http;
pub mod log;
pub mod output;
pub mod record;
pub mod tracker;

pub use config::Config;
pub use error::{Error, ErrorKind};
pub use record::EmissionsSnapshot;
pub use tracker::{Report, Tracker};

/// The library version, as in Cargo.toml.
pub use record::run::LIBRARY_VERSION as VERSION;
