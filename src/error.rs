//! The one error type of the crate. Each error has a kind (mapped to a C status code by the
//! ABI layer) and a message written for the person reading `ct_last_error()`.

use std::fmt;

/// What went wrong, coarse enough to act on from C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NullArgument,
    InvalidOption,
    InvalidState,
    Io,
    Network,
    Panic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    pub fn option(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidOption, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidState, message)
    }
    /// An I/O error on `path`, keeping the OS reason.
    pub fn io(path: &std::path::Path, what: &str, err: &std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what} {}: {err}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
