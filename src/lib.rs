//! carbon-tracker: measures the energy use and carbon emissions of the program it is linked into.
//!
//! Layers, one direction: [`ffi`] (the C ABI only) → [`tracker`] (lifecycle and accounting) →
//! [`hardware`] (power sources) / [`emissions`] (intensity tables) → [`output`] (sinks).
//! Rust users can use [`tracker::Tracker`] directly; C, C++, Go and Python go through [`ffi`].

pub mod background;
pub mod config;
pub mod emissions;
pub mod error;
pub mod ffi;
pub mod hardware;
pub mod http;
pub mod log;
pub mod output;
pub mod record;
pub mod tracker;

pub use config::Config;
pub use error::{Error, ErrorKind};
pub use tracker::{EmissionsSnapshot, Report, Tracker};

/// The library version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
