//! The C libraries of carbon-tracker: the `ct_*` functions, defined in the library's `ffi`
//! module (feature `capi`), exported from a cdylib and a staticlib. Nothing else lives here.

pub use tracker::ffi::*;
