//! Regions in the C ABI: `ct_tracker_region_begin` / `ct_tracker_region_end`.

use std::ffi::c_char;

use super::{arg, ct_status, ct_tracker, guarded, str_arg};

/// Begins a call of the region `name` on the calling thread. A region is a named part of the
/// program entered many times (a phase of a time step): its calls accumulate (number of calls,
/// total, shortest and longest duration, CPU/GPU/RAM energy, energy, emissions), reported under
/// `"regions"` in `ct_tracker_json` and, at every flush and stop, in the region file
/// `regions_<experiment_name>_<run_id>.csv` (one row per region). No measurement is taken: the
/// cost is a clock read (well under a microsecond). Regions may nest and overlap, and be open
/// in several threads at once (each thread's calls count). A region's energy is the run's
/// energy over the wall-clock time during which at least one of its calls was open, each
/// measured interval's energy spread evenly over that interval (see docs/c.md).
/// A region may begin before `ct_tracker_start` (its calls count; time before start has no
/// energy, none being measured).
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_OPTION` (a new `name` empty, over 256 bytes,
/// with control characters, or not UTF-8), `CT_ERR_INVALID_STATE` (the tracker was stopped).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_region_begin(t: *mut ct_tracker, name: *const c_char) -> ct_status {
    const F: &str = "ct_tracker_region_begin";
    // SAFETY: `t` is NULL or a live handle, `name` NULL or a NUL-terminated string.
    guarded(|| unsafe { arg(t, F, "t")?.tracker.region_begin(str_arg(name, F, "name")?) })
}

/// Ends a call of the region `name`: the latest one begun on the calling thread, or, if this
/// thread began none, the oldest open one (a call may end on another thread). Calls still open
/// at `ct_tracker_stop` end there.
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_OPTION` (`name` not UTF-8),
/// `CT_ERR_INVALID_STATE` (no call of `name` is open, the message lists the open regions; or
/// the tracker was stopped).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_region_end(t: *mut ct_tracker, name: *const c_char) -> ct_status {
    const F: &str = "ct_tracker_region_end";
    // SAFETY: as above.
    guarded(|| unsafe { arg(t, F, "t")?.tracker.region_end(str_arg(name, F, "name")?) })
}
