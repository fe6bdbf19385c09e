//! The one error type of the crate. Each error has a kind (mapped to a C status code by the
//! ABI layer) and a message written for the person reading `ct_last_error()`.

use std::fmt;

/// What went wrong, coarse enough to act on (each kind is a status of the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required argument was missing (the C ABI's NULL pointers; `CT_ERR_NULL_ARGUMENT`).
    NullArgument,
    /// An option, or an argument, is not valid: an unknown key (the message suggests the nearest
    /// ones), a value out of range, a country code that exists nowhere, a task or region name
    /// that is empty or has control characters, progress that is not a number
    /// (`CT_ERR_INVALID_OPTION`).
    InvalidOption,
    /// The call does not fit the tracker's state: flushing before `start`, starting twice,
    /// stopping a task that is not running, anything but `start` after `stop`
    /// (`CT_ERR_INVALID_STATE`).
    InvalidState,
    /// A file could not be written: `output_dir` at `start` (the tracker stays unstarted), the
    /// CSV or a file beside it at a flush or stop (the numbers are kept; see
    /// [`ReportError`](crate::ReportError)) (`CT_ERR_IO`).
    Io,
    /// Uploads not delivered within `api_timeout_s` at `stop` (`CT_ERR_NETWORK`).
    Network,
    /// A bug, caught at the C boundary (`CT_ERR_PANIC`); a Rust caller sees the panic itself.
    Panic,
}

/// An error: its kind, and a message for a person (it names the key, file or call involved,
/// and what was expected).
///
/// ```
/// use carbon_tracker::{ErrorKind, Options, Tracker};
///
/// let e = Tracker::new(Options::new().set("projet_name", "sim")).unwrap_err();
/// assert_eq!(e.kind, ErrorKind::InvalidOption);
/// assert_eq!(e.message, "options: unknown option `projet_name`; did you mean `project_name`?");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Why, in words: what `Display` prints (and `ct_last_error()` returns).
    pub message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    pub(crate) fn option(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidOption, message)
    }
    pub(crate) fn state(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidState, message)
    }
    /// An I/O error on `path`, keeping the OS reason.
    pub(crate) fn io(path: &std::path::Path, what: &str, err: &std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what} {}: {err}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `Result<T, carbon_tracker::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
