//! Status codes and the thread-local last-error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::error::{Error, ErrorKind};

/// Result of every call that can fail. `CT_OK` is 0; anything else has a message in
/// `ct_last_error()`. The values never change between versions.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ct_status {
    /// Success.
    CT_OK = 0,
    /// A required pointer argument was NULL.
    CT_ERR_NULL_ARGUMENT = 1,
    /// An option (or an argument such as `struct_size`) is unknown, malformed or out of range.
    CT_ERR_INVALID_OPTION = 2,
    /// The call is not allowed in the tracker's state (flush before start, start twice, anything after stop).
    CT_ERR_INVALID_STATE = 3,
    /// Writing an output failed (unwritable directory, corrupt CSV); the totals are kept in memory.
    CT_ERR_IO = 4,
    /// Reserved, never returned: a hardware source that fails does not fail a call; the tracker
    /// falls back to a model and logs why (`ct_tracker_json` says which source gives each
    /// number). The value stays so that the others keep theirs.
    CT_ERR_HARDWARE = 5,
    /// At stop: uploads (CodeCarbon API, emissions_endpoint) not delivered within `api_timeout_s`
    /// or refused by the server; the message says how many and why. The measurement is complete.
    CT_ERR_NETWORK = 6,
    /// A bug: the library panicked; the panic was caught at the boundary.
    CT_ERR_PANIC = 7,
}

impl From<ErrorKind> for ct_status {
    fn from(k: ErrorKind) -> ct_status {
        match k {
            ErrorKind::NullArgument => ct_status::CT_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidOption => ct_status::CT_ERR_INVALID_OPTION,
            ErrorKind::InvalidState => ct_status::CT_ERR_INVALID_STATE,
            ErrorKind::Io => ct_status::CT_ERR_IO,
            ErrorKind::Network => ct_status::CT_ERR_NETWORK,
            ErrorKind::Panic => ct_status::CT_ERR_PANIC,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<(ct_status, CString)> = RefCell::new((ct_status::CT_OK, CString::default()));
}

/// Records `e` as this thread's last error and returns its status.
pub fn set(e: Error) -> ct_status {
    let msg = CString::new(e.message.replace('\0', "\\0")).unwrap_or_default();
    // try_with: during thread teardown the slot may be gone; the status still goes back.
    let status = e.kind.into();
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = (status, msg));
    status
}

pub fn set_panic(payload: Box<dyn std::any::Any + Send>) -> ct_status {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    set(Error::new(ErrorKind::Panic, format!("internal error (panic caught at the C boundary): {what}")))
}

/// Pointer to this thread's last message; valid until the next failing call on this thread.
pub fn last() -> *const c_char {
    LAST_ERROR.try_with(|m| m.borrow().1.as_ptr()).unwrap_or(c"".as_ptr())
}

/// The status of this thread's last failed call (`CT_OK` if none failed yet).
pub fn last_status() -> ct_status {
    LAST_ERROR.try_with(|m| m.borrow().0).unwrap_or(ct_status::CT_OK)
}

/// This thread's last status and message, to put back with [`restore`].
pub struct Saved(Option<(ct_status, CString)>);

pub fn save() -> Saved {
    Saved(LAST_ERROR.try_with(|m| m.borrow().clone()).ok())
}

pub fn restore(saved: Saved) {
    if let Some(v) = saved.0 {
        let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = v);
    }
}
