//! The C ABI, and nothing else: argument checks, the panic guard, conversions. All behaviour
//! lives in [`crate::tracker`]. The header `include/carbon_tracker.h` is generated from this
//! file by cbindgen (`CT_BLESS=1 cargo test --test integration header::`).
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
// The pointer contract of each entry point is in its doc comment (the C header), not a `# Safety` section.
#![allow(clippy::missing_safety_doc)]

mod error;
mod options;
mod prediction;
mod regions;
#[cfg(feature = "test-hooks")]
mod test_clock;

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

pub use error::ct_status;
pub use prediction::{ct_budget_state, ct_prediction, ct_prediction_state};
pub use regions::{ct_tracker_region_begin, ct_tracker_region_end};

use crate::config::Options;
use crate::error::{Error, ErrorKind, Result};
use crate::log::Level;
use crate::record::EmissionsSnapshot;
use crate::tracker::{ReportError, Tracker};

/// An opaque tracker. Create with `ct_tracker_new`, release with `ct_tracker_free`.
/// One handle may be used from several threads at once (calls are serialised inside), but
/// `ct_tracker_free` must not race with other calls on the same handle.
pub struct ct_tracker {
    tracker: Tracker,
}

/// Cumulative numbers since `ct_tracker_start`, as CodeCarbon's EmissionsData.
/// Energies include PUE; powers are time-weighted means, PUE included (as CodeCarbon 3.3).
///
/// Set `struct_size = sizeof(ct_emissions)` before passing it: fields past `struct_size` are
/// not written, so programs built against an older, shorter struct keep working when fields are
/// added at the end in later versions.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ct_emissions {
    /// Set by the caller: `sizeof(ct_emissions)`.
    pub struct_size: u32,
    /// Seconds since start.
    pub duration_s: f64,
    /// kg CO2-equivalent.
    pub emissions_kg: f64,
    /// `emissions_kg / duration_s`.
    pub emissions_rate_kg_per_s: f64,
    /// Mean CPU power, W.
    pub cpu_power_w: f64,
    /// Mean GPU power, W.
    pub gpu_power_w: f64,
    /// Mean RAM power, W.
    pub ram_power_w: f64,
    /// kWh.
    pub cpu_energy_kwh: f64,
    /// kWh.
    pub gpu_energy_kwh: f64,
    /// kWh.
    pub ram_energy_kwh: f64,
    /// cpu + gpu + ram, kWh.
    pub energy_consumed_kwh: f64,
    /// Litres (`wue` × energy).
    pub water_consumed_l: f64,
    /// Mean machine-wide CPU use, %.
    pub cpu_utilization_percent: f64,
    /// Mean GPU use, %.
    pub gpu_utilization_percent: f64,
    /// Mean RAM use, %.
    pub ram_utilization_percent: f64,
    /// Mean RAM used, GiB.
    pub ram_used_gb: f64,
    /// The intensity applied, gCO2e/kWh.
    pub carbon_intensity_g_per_kwh: f64,
    /// The PUE applied.
    pub pue: f64,
    /// Number of measured intervals since start.
    pub measurements: u64,
}

/// `ct_emissions` is the measurement record of `crate::record` behind a `struct_size`: this
/// conversion names every field of the record, so a field missing here, or one here that the
/// record lacks, does not compile; the assertions check that the fields are 8-byte, in the
/// record's order, without gaps, and that nothing follows them.
macro_rules! ct_emissions_from_record {
    ($( $(#[$doc:meta])* $f:ident : $t:ty => $how:ident ),* $(,)?) => {
        impl ct_emissions {
            fn from_snapshot(struct_size: u32, s: &EmissionsSnapshot) -> ct_emissions {
                ct_emissions { struct_size, $( $f: s.$f, )* }
            }
        }
        const _: () = {
            let mut offset = std::mem::offset_of!(ct_emissions, duration_s);
            assert!(offset == 8, "struct_size, then the first 8-byte field");
            $(
                assert!(std::mem::offset_of!(ct_emissions, $f) == offset, "ct_emissions follows the record's order");
                assert!(std::mem::size_of::<$t>() == 8);
                offset += 8;
            )*
            assert!(std::mem::size_of::<ct_emissions>() == offset, "no field past the record's");
        };
    };
}
crate::record::for_each_measurement!(ct_emissions_from_record);

/// What an entry point returns on success and on failure: one [`guarded`] serves every shape.
trait Boundary {
    type Value;
    fn success(v: Self::Value) -> Self;
    fn failure(status: ct_status) -> Self;
}

impl Boundary for ct_status {
    type Value = ();
    fn success(_: ()) -> ct_status {
        ct_status::CT_OK
    }
    fn failure(status: ct_status) -> ct_status {
        status
    }
}

impl Boundary for *mut c_char {
    type Value = *mut c_char;
    fn success(p: *mut c_char) -> *mut c_char {
        p
    }
    fn failure(_: ct_status) -> *mut c_char {
        std::ptr::null_mut()
    }
}

impl Boundary for () {
    type Value = ();
    fn success(_: ()) {}
    fn failure(_: ct_status) {}
}

/// The guard of every entry point: runs `body` inside the fork gate (a `fork()` waits for it, so
/// a child never inherits a lock it held); its error, or a panic caught here, becomes this
/// thread's `ct_last_error()` / `ct_last_status()` and the entry point's failure value. Log lines
/// of the call reach a `ct_set_logger` callback once it is done and no lock is held; what the
/// callback does (it may call the library, and fail) leaves the call's status and message as
/// they were for the caller to read.
fn guarded<R: Boundary>(body: impl FnOnce() -> Result<R::Value>) -> R {
    let (outcome, held) = crate::background::inside_fork_gate(|| catch_unwind(AssertUnwindSafe(body)));
    let result = match outcome {
        Ok(Ok(v)) => R::success(v),
        Ok(Err(e)) => R::failure(error::set(e)),
        Err(panic) => R::failure(error::set_panic(panic)),
    };
    if !held.is_empty() {
        let last = error::save();
        held.deliver();
        error::restore(last);
    }
    result
}

/// `&T` from a pointer the caller promised is NULL or valid.
///
/// # Safety
/// `p` is NULL or points to a live `T` for the duration of the call.
unsafe fn arg<'a, T>(p: *const T, func: &str, name: &str) -> Result<&'a T> {
    // SAFETY: as the caller promised.
    unsafe { p.as_ref() }.ok_or_else(|| Error::new(ErrorKind::NullArgument, format!("{func}: `{name}` is NULL")))
}

/// Checks `out->struct_size` before anything happens, so a bad struct changes no state.
///
/// # Safety
/// `out` is NULL or points to at least `out->struct_size` writable bytes.
unsafe fn check_out(out: *mut ct_emissions, func: &str) -> Result<Option<u32>> {
    if out.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null `out` points to at least the leading `struct_size` field.
    let size = unsafe { std::ptr::addr_of!((*out).struct_size).read_unaligned() };
    // At least `struct_size` and `duration_s` (16 bytes with the alignment padding).
    if (size as usize) < std::mem::offset_of!(ct_emissions, duration_s) + size_of::<f64>() {
        return Err(Error::option(format!(
            "{func}: out->struct_size is {size}; set it to sizeof(ct_emissions) ({})",
            size_of::<ct_emissions>()
        )));
    }
    Ok(Some(size))
}

/// A `&str` from a C string argument: NULL and invalid UTF-8 are errors naming it.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for the call.
unsafe fn str_arg<'a>(p: *const c_char, func: &str, name: &str) -> Result<&'a str> {
    // SAFETY: as the caller promised.
    let c = unsafe { arg(p, func, name) }?;
    // SAFETY: non-null and NUL-terminated, as promised.
    let c = unsafe { CStr::from_ptr(c) };
    c.to_str().map_err(|e| Error::option(format!("{func}: `{name}` is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// Copies `s` into `out` (whole 8-byte fields up to `size`).
///
/// # Safety
/// `out` points to at least `size` writable bytes.
unsafe fn fill(out: *mut ct_emissions, size: u32, s: &EmissionsSnapshot) {
    let full = ct_emissions::from_snapshot(size, s);
    // Whole 8-byte fields only: a size that ends inside a field leaves that field untouched.
    let n = (size as usize).min(size_of::<ct_emissions>()) & !7;
    // SAFETY: the caller owns `size` bytes at `out`; we copy at most that many.
    unsafe { std::ptr::copy_nonoverlapping(&full as *const ct_emissions as *const u8, out as *mut u8, n) };
}

/// flush and stop: check the arguments, call, fill `out` even when the output failed.
///
/// # Safety
/// As `ct_tracker_flush`.
unsafe fn report_call(
    t: *mut ct_tracker,
    out: *mut ct_emissions,
    func: &str,
    call: fn(&Tracker) -> std::result::Result<EmissionsSnapshot, ReportError>,
) -> Result<()> {
    // SAFETY: the entry point's contract.
    let (t, size) = unsafe { (arg(t, func, "t")?, check_out(out, func)?) };
    let (numbers, error) = match call(&t.tracker) {
        Ok(numbers) => (Some(numbers), None),
        // The first error gives the status; the message lists them all.
        Err(e) => (e.emissions().copied(), Some(Error::from(e))),
    };
    if let (Some(size), Some(numbers)) = (size, numbers) {
        // SAFETY: `check_out` read `size` from a caller-owned struct of that size.
        unsafe { fill(out, size, &numbers) };
    }
    error.map_or(Ok(()), Err)
}

/// Creates a tracker. `options` is NULL or a UTF-8 string of `key=value` pairs separated by `;`
/// (`\;` for a literal semicolon), with CodeCarbon's config keys, e.g.
/// `"project_name=sim;country_iso_code=FRA;measure_power_secs=1"`. Options override
/// `CODECARBON_*` environment variables, which override `./.codecarbon.config`, then
/// `~/.codecarbon.config`. No hardware probing, file or network I/O happens here (only the two
/// config files are read; one that cannot be read, such as a directory, is skipped with a
/// warning at start). `api_key` values are never logged or written anywhere.
///
/// On success `*out` receives a handle to release with `ct_tracker_free`. Errors:
/// `CT_ERR_NULL_ARGUMENT` (out is NULL), `CT_ERR_INVALID_OPTION` (unknown key, bad value,
/// invalid UTF-8; the message names the key and what was expected).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_new(options: *const c_char, out: *mut *mut ct_tracker) -> ct_status {
    guarded(|| {
        if out.is_null() {
            return Err(Error::new(ErrorKind::NullArgument, "ct_tracker_new: `out` is NULL"));
        }
        // SAFETY: non-null `out` is writable.
        unsafe { *out = std::ptr::null_mut() };
        let opts = if options.is_null() {
            ""
        } else {
            // SAFETY: non-null `options` is a NUL-terminated string.
            let c = unsafe { CStr::from_ptr(options) };
            c.to_str().map_err(|e| {
                Error::option(format!("options: {}", options::invalid_utf8(c.to_bytes(), e.valid_up_to())))
            })?
        };
        let tracker = Tracker::new(Options::parse(opts)?)?;
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(Box::new(ct_tracker { tracker })) };
        Ok(())
    })
}

/// Starts measuring. The first start in the process probes the hardware (CPU model and TDP,
/// RAPL, RAM) and caches it; later trackers reuse it. Measurements then run every
/// `measure_power_secs` on the library's single background thread.
/// `output_dir` is checked first (when `save_to_file`): a missing directory is created if its
/// parent exists, and the CSV's header is written.
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_STATE` (already started or stopped),
/// `CT_ERR_IO` (`output_dir` cannot be created or written; the message starts with
/// `output_dir <dir>:`; the tracker stays unstarted and may be started again).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_start(t: *mut ct_tracker) -> ct_status {
    // SAFETY: `t` is NULL or a live handle (the contract above).
    guarded(|| unsafe { arg(t, "ct_tracker_start", "t") }?.tracker.start())
}

/// Measures now (unless the last measurement is under 50 ms old), appends a row to the CSV
/// output, queues the API/endpoint uploads (sent in the background: this call never waits for
/// the network) and, if `out` is not NULL, fills it with the cumulative totals since start.
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_STATE` (not running),
/// `CT_ERR_INVALID_OPTION` (`out->struct_size` not set), `CT_ERR_IO` (the CSV could not be
/// written: `out` is still filled and nothing measured is lost; the next flush writes it again).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_flush(t: *mut ct_tracker, out: *mut ct_emissions) -> ct_status {
    // SAFETY: the contract above.
    guarded(|| unsafe { report_call(t, out, "ct_tracker_flush", Tracker::flush) })
}

/// Measures the last interval (always, however recent the previous measurement), writes the
/// final CSV row, fills `out` like `ct_tracker_flush` and stops measuring. With network outputs
/// it then waits up to `api_timeout_s` for pending uploads: `CT_ERR_NETWORK` says how many were
/// not delivered (`out` is filled all the same). A stopped tracker cannot be restarted (unless
/// made with `restart_after_stop=true`: then `ct_tracker_start` resumes the run); every other
/// later call on it except `ct_tracker_free` returns `CT_ERR_INVALID_STATE`.
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_stop(t: *mut ct_tracker, out: *mut ct_emissions) -> ct_status {
    // SAFETY: the contract above.
    guarded(|| unsafe { report_call(t, out, "ct_tracker_stop", Tracker::stop) })
}

/// Starts the task `name` (a named window of the run), starting the tracker first if it is not
/// running, as CodeCarbon's `start_task` does. The run itself goes on measuring; tasks may
/// overlap and nest, and a name may be used again once its task stopped.
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_OPTION` (`name` empty, over 256 bytes, with
/// control characters or not UTF-8), `CT_ERR_INVALID_STATE` (a task of that name is running, or
/// the tracker was stopped).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_start_task(t: *mut ct_tracker, name: *const c_char) -> ct_status {
    const F: &str = "ct_tracker_start_task";
    // SAFETY: the contract above.
    guarded(|| unsafe { arg(t, F, "t")?.tracker.start_task(str_arg(name, F, "name")?) })
}

/// Stops the task `name` and, if `out` is not NULL, fills it with the task's numbers: the
/// difference of the run's totals between the task's start and now (`duration_s`: its wall
/// time; powers: means over it). Its row is written to the task file
/// `emissions_<experiment_name>_<run_id>.csv` at the next flush or stop.
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_OPTION` (`out->struct_size` not set, `name`
/// not UTF-8), `CT_ERR_INVALID_STATE` (no running task of that name; the message lists the
/// running ones).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_stop_task(
    t: *mut ct_tracker,
    name: *const c_char,
    out: *mut ct_emissions,
) -> ct_status {
    const F: &str = "ct_tracker_stop_task";
    guarded(|| {
        // SAFETY: the contract above.
        let (t, name, size) = unsafe { (arg(t, F, "t")?, str_arg(name, F, "name")?, check_out(out, F)?) };
        let numbers = t.tracker.stop_task(name)?;
        if let Some(size) = size {
            // SAFETY: `check_out` read `size` from a caller-owned struct of that size.
            unsafe { fill(out, size, &numbers) };
        }
        Ok(())
    })
}

/// Fills `out` with the run's totals as of its last measurement (background ticks keep them
/// fresh), without measuring or writing anything: for live displays and for outputs that follow
/// the background measurements. `out->measurements` counts the measurements so far.
/// Errors: `CT_ERR_NULL_ARGUMENT` (`t` or `out` is NULL), `CT_ERR_INVALID_OPTION`
/// (`out->struct_size` not set), `CT_ERR_INVALID_STATE` (not running).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_peek(t: *const ct_tracker, out: *mut ct_emissions) -> ct_status {
    const F: &str = "ct_tracker_peek";
    guarded(|| {
        if out.is_null() {
            return Err(Error::new(ErrorKind::NullArgument, "ct_tracker_peek: `out` is NULL"));
        }
        // SAFETY: the contract above.
        let (t, size) = unsafe { (arg(t, F, "t")?, check_out(out, F)?) };
        let numbers = t.tracker.peek()?;
        // SAFETY: `check_out` read the size from a caller-owned struct of that size.
        unsafe { fill(out, size.expect("out is not NULL"), &numbers) };
        Ok(())
    })
}

/// Releases a tracker. NULL is accepted. A running tracker is stopped first (its final CSV row
/// is written and, with network outputs, uploads are waited for up to `api_timeout_s`; errors
/// are logged); `ct_tracker_discard` releases without stopping. The handle must not be used
/// afterwards.
///
/// After `fork()`, the child's copy of a running tracker is inert: releasing it there (a C++
/// global's destructor, a Fortran `final`, Python's exit) measures, writes, uploads, unlocks
/// and removes nothing (the parent's run, its CSV rows and its node coordination go on);
/// `ct_tracker_flush` and `ct_tracker_stop` in the child give the totals as of the parent's
/// last measurement before the fork, and write nothing.
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_free(t: *mut ct_tracker) {
    guarded(|| {
        if !t.is_null() {
            // SAFETY: `t` came from `ct_tracker_new` and is freed once, as documented.
            drop(unsafe { Box::from_raw(t) });
        }
        Ok(())
    })
}

/// Releases a tracker without stopping it: for finalizers and garbage collectors, which must
/// not block. A running tracker measures and writes nothing more (no final CSV row, no task
/// rows: CodeCarbon writes nothing for a tracker collected without `stop()`), gives up the
/// uploads still queued, waits for nothing, and logs a warning that it was never stopped.
/// NULL is accepted. The handle must not be used afterwards. Programs that end a tracker on
/// purpose call `ct_tracker_stop` (or `ct_tracker_free`, which stops a running tracker).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_discard(t: *mut ct_tracker) {
    guarded(|| {
        if !t.is_null() {
            // SAFETY: `t` came from `ct_tracker_new` and is released once, as documented.
            unsafe { Box::from_raw(t) }.tracker.discard();
        }
        Ok(())
    })
}

/// A JSON document describing the tracker: the detected hardware (CPU model, TDP match, RAPL
/// zones, RAM, GPUs), which source or model produces each of the CPU, GPU and RAM numbers, the
/// carbon intensity and its source (once started), the outputs, and every region's totals
/// (`"regions"`: one object per name, see `ct_tracker_region_begin`). For a rank of a job,
/// `"job"` names it and says what it counts now: `"counts_node_now"` (the node's CPU and RAM) and
/// `"gpus_counted_now"` (the UUIDs of the GPUs it counts; each GPU of the node is counted by one
/// of the ranks that see it). Probes the hardware if the tracker is not started yet. Returns a
/// new NUL-terminated UTF-8 string that the caller must release with `ct_string_free`, or NULL
/// on error (see `ct_last_error`).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_json(t: *const ct_tracker) -> *mut c_char {
    guarded(|| {
        // SAFETY: `t` is NULL or a live handle (the contract above).
        let t = unsafe { arg(t, "ct_tracker_json", "t") }?;
        let text = t.tracker.describe().to_string();
        // serde_json escapes control characters, so the text has no NUL byte.
        Ok(std::ffi::CString::new(text).map_err(|_| Error::new(ErrorKind::Panic, "JSON with a NUL byte"))?.into_raw())
    })
}

/// Releases a string returned by this library (`ct_tracker_json`). NULL is accepted.
#[no_mangle]
pub unsafe extern "C" fn ct_string_free(s: *mut c_char) {
    guarded(|| {
        if !s.is_null() {
            // SAFETY: `s` came from CString::into_raw in this library and is freed once, as documented.
            drop(unsafe { std::ffi::CString::from_raw(s) });
        }
        Ok(())
    })
}

/// Log levels, numbered as Python's `logging` levels.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ct_log_level {
    CT_LOG_DEBUG = 10,
    CT_LOG_INFO = 20,
    CT_LOG_WARNING = 30,
    CT_LOG_ERROR = 40,
    CT_LOG_CRITICAL = 50,
}

impl From<Level> for ct_log_level {
    fn from(l: Level) -> ct_log_level {
        match l {
            Level::Debug => ct_log_level::CT_LOG_DEBUG,
            Level::Info => ct_log_level::CT_LOG_INFO,
            Level::Warning => ct_log_level::CT_LOG_WARNING,
            Level::Error => ct_log_level::CT_LOG_ERROR,
            Level::Critical => ct_log_level::CT_LOG_CRITICAL,
        }
    }
}

/// Receives a log line: `user_data` as given to `ct_set_logger`, the level, and the message
/// (UTF-8, NUL-terminated, valid only during the call).
pub type ct_log_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, level: ct_log_level, message: *const c_char)>;

/// Sends the log lines of every tracker to `fn` instead of standard error; NULL restores
/// standard error. Each tracker's `log_level` still decides which lines are made. May be called
/// from any thread, at any time. `fn` is called on the thread that made the line (the caller's,
/// or the library's background thread) once the library holds no lock, so it may call any
/// function of this library, this one included; the status and message (`ct_last_status`,
/// `ct_last_error`) of the call that made the line are as they were when that call returns,
/// whatever the callback's own calls did. A call already in progress may still reach the
/// previous function just after `ct_set_logger` returns.
#[no_mangle]
pub extern "C" fn ct_set_logger(f: ct_log_fn, user_data: *mut c_void) {
    let user_data = user_data as usize; // handed back untouched; the caller owns what it points to
    let cb = f.map(|f| -> crate::log::LogCallback {
        Arc::new(move |level: Level, message: &str| {
            let c = std::ffi::CString::new(message.replace('\0', "\\0")).unwrap_or_default();
            // SAFETY: the caller keeps `f` callable with `user_data` until it replaces it.
            unsafe { f(user_data as *mut c_void, level.into(), c.as_ptr()) }
        })
    });
    guarded(|| {
        crate::log::set_logger(cb);
        Ok(())
    })
}

/// The message of the last failed call on this thread ("" if none). The pointer stays valid
/// until the next failing call on the same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn ct_last_error() -> *const c_char {
    error::last()
}

/// The status of the last failed call on this thread (`CT_OK` if none failed yet), for calls
/// that report failure by returning NULL (`ct_tracker_json`).
#[no_mangle]
pub extern "C" fn ct_last_status() -> ct_status {
    error::last_status()
}

/// The library version, e.g. "0.1.0". Static storage; do not free.
#[no_mangle]
pub extern "C" fn ct_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

#[cfg(test)]
mod tests {
    use super::*;

    // The tests pass NULL or valid pointers: safe wrappers keep them readable.
    fn ct_tracker_new(o: *const c_char, out: *mut *mut ct_tracker) -> ct_status {
        unsafe { super::ct_tracker_new(o, out) }
    }
    fn ct_tracker_start(t: *mut ct_tracker) -> ct_status {
        unsafe { super::ct_tracker_start(t) }
    }
    fn ct_tracker_flush(t: *mut ct_tracker, out: *mut ct_emissions) -> ct_status {
        unsafe { super::ct_tracker_flush(t, out) }
    }
    fn ct_tracker_stop(t: *mut ct_tracker, out: *mut ct_emissions) -> ct_status {
        unsafe { super::ct_tracker_stop(t, out) }
    }
    fn ct_tracker_free(t: *mut ct_tracker) {
        unsafe { super::ct_tracker_free(t) }
    }
    fn ct_tracker_json(t: *const ct_tracker) -> *mut c_char {
        unsafe { super::ct_tracker_json(t) }
    }
    fn ct_string_free(s: *mut c_char) {
        unsafe { super::ct_string_free(s) }
    }

    fn last() -> String {
        unsafe { CStr::from_ptr(ct_last_error()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn null_arguments_are_reported() {
        assert_eq!(ct_tracker_new(std::ptr::null(), std::ptr::null_mut()), ct_status::CT_ERR_NULL_ARGUMENT);
        assert!(last().contains("`out` is NULL"));
        assert_eq!(ct_tracker_start(std::ptr::null_mut()), ct_status::CT_ERR_NULL_ARGUMENT);
        assert_eq!(ct_tracker_flush(std::ptr::null_mut(), std::ptr::null_mut()), ct_status::CT_ERR_NULL_ARGUMENT);
        assert_eq!(ct_tracker_stop(std::ptr::null_mut(), std::ptr::null_mut()), ct_status::CT_ERR_NULL_ARGUMENT);
        assert!(last().contains("ct_tracker_stop"));
        ct_tracker_free(std::ptr::null_mut());
    }

    #[test]
    fn out_of_range_numbers_are_refused_at_new() {
        // Accepted before, this one made `stop` overflow an Instant (a panic after the final row).
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false;api_timeout_s=1e20\0";
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_ERR_INVALID_OPTION);
        assert!(t.is_null());
        assert!(last().contains("api_timeout_s=1e20") && last().contains("3600"), "{}", last());
    }

    #[test]
    fn invalid_utf8_options() {
        let mut t = std::ptr::null_mut();
        let bad = b"project_name=\xff\xfe\0";
        assert_eq!(ct_tracker_new(bad.as_ptr() as *const c_char, &mut t), ct_status::CT_ERR_INVALID_OPTION);
        assert!(t.is_null());
        assert_eq!(last(), "options: project_name: the value is not valid UTF-8 (at byte 13 of the options)");
    }

    #[test]
    fn struct_size_is_checked_before_any_state_change() {
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false;country_iso_code=FRA\0";
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        let mut e = ct_emissions::default(); // struct_size 0
        assert_eq!(ct_tracker_stop(t, &mut e), ct_status::CT_ERR_INVALID_OPTION);
        assert!(last().contains("struct_size"));
        // Still running: a correct stop works.
        e.struct_size = size_of::<ct_emissions>() as u32;
        assert_eq!(ct_tracker_stop(t, &mut e), ct_status::CT_OK);
        assert_eq!(e.carbon_intensity_g_per_kwh, 56.039);
        ct_tracker_free(t);
    }

    #[test]
    fn short_struct_gets_only_its_fields() {
        // A caller built against a hypothetical v0 struct with only struct_size + duration + emissions.
        #[repr(C)]
        struct V0 {
            struct_size: u32,
            duration_s: f64,
            emissions_kg: f64,
            guard: f64,
        }
        let mut v = V0 { struct_size: 24, duration_s: -1.0, emissions_kg: -1.0, guard: 12345.0 };
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false\0";
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        assert_eq!(ct_tracker_flush(t, &mut v as *mut V0 as *mut ct_emissions), ct_status::CT_OK);
        assert!(v.duration_s >= 0.0 && v.emissions_kg >= 0.0);
        assert_eq!(v.struct_size, 24);
        assert_eq!(v.guard, 12345.0, "wrote past struct_size");
        ct_tracker_free(t);
    }

    #[test]
    fn odd_struct_sizes_never_write_half_a_field() {
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false\0";
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        let mut e = ct_emissions { struct_size: 12, duration_s: -1.0, ..Default::default() };
        assert_eq!(ct_tracker_flush(t, &mut e), ct_status::CT_ERR_INVALID_OPTION);
        assert_eq!(e.duration_s, -1.0);
        e.struct_size = 20; // duration_s whole, emissions_kg cut: left alone
        e.emissions_kg = -1.0;
        assert_eq!(ct_tracker_flush(t, &mut e), ct_status::CT_OK);
        assert!(e.duration_s >= 0.0);
        assert_eq!(e.emissions_kg, -1.0);
        assert_eq!(e.struct_size, 20);
        ct_tracker_free(t);
    }

    #[test]
    fn undelivered_uploads_are_a_network_status_with_numbers_filled() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let opts = format!(
            "save_to_file=false;save_to_api=true;api_key=k;country_iso_code=FRA;api_timeout_s=0.3;api_endpoint=http://127.0.0.1:{port}\0"
        );
        let mut t = std::ptr::null_mut();
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        let mut e = ct_emissions { struct_size: size_of::<ct_emissions>() as u32, ..Default::default() };
        let started = std::time::Instant::now();
        assert_eq!(ct_tracker_stop(t, &mut e), ct_status::CT_ERR_NETWORK);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(last().contains("not delivered"), "{}", last());
        assert_eq!(e.carbon_intensity_g_per_kwh, 56.039);
        assert!(e.duration_s > 0.0);
        ct_tracker_free(t);
    }

    #[test]
    fn discard_writes_nothing_more_and_waits_for_nothing() {
        // An API that accepts connections and never answers: a stop would wait api_timeout_s.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let opts = format!(
            "country_iso_code=FRA;save_to_api=true;api_key=k;api_timeout_s=5;api_endpoint=http://127.0.0.1:{port};output_dir={}\0",
            dir.path().display()
        );
        let mut t = std::ptr::null_mut();
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        assert_eq!(unsafe { ct_tracker_start_task(t, c"task".as_ptr()) }, ct_status::CT_OK);
        assert_eq!(ct_tracker_flush(t, std::ptr::null_mut()), ct_status::CT_OK);
        let started = std::time::Instant::now();
        unsafe { ct_tracker_discard(t) };
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
        assert_eq!(text.lines().count(), 2, "the flush's row only, no final row:\n{text}");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, vec!["emissions.csv".to_string()], "no task file");
        unsafe { ct_tracker_discard(std::ptr::null_mut()) };
    }

    #[test]
    fn json_description_is_caller_freed() {
        assert!(ct_tracker_json(std::ptr::null()).is_null());
        assert!(last().contains("ct_tracker_json"));
        assert_eq!(ct_last_status(), ct_status::CT_ERR_NULL_ARGUMENT, "the real status, not a panic");
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false;country_iso_code=FRA;force_ram_power=4\0";
        assert_eq!(ct_tracker_new(opts.as_ptr() as *const c_char, &mut t), ct_status::CT_OK);
        let before = ct_tracker_json(t);
        let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(before) }.to_str().unwrap()).unwrap();
        ct_string_free(before);
        assert_eq!(v["state"], "created");
        assert!(v["intensity"].is_null());
        assert_eq!(ct_tracker_start(t), ct_status::CT_OK);
        let during = ct_tracker_json(t);
        let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(during) }.to_str().unwrap()).unwrap();
        ct_string_free(during);
        ct_string_free(std::ptr::null_mut());
        assert_eq!(v["state"], "running");
        assert_eq!(v["ram"]["source"], "force_ram_power");
        assert_eq!(v["intensity"]["g_per_kwh"], 56.039);
        assert!(v["cpu"]["source"]["model"].is_string());
        assert!(v["methods"].as_array().unwrap().len() >= 2);
        ct_tracker_free(t);
    }

    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(unsafe { CStr::from_ptr(ct_version()) }.to_str().unwrap(), crate::VERSION);
    }
}
