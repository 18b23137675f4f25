//! The error of a set-up operation: which system call or step failed, and the OS error.
//!
//! Hot-path calls (packet reads, writes, sends, receives) return plain [`std::io::Result`]
//! instead, so callers can match `WouldBlock` and count drops without allocating.

use std::io;

/// A failed set-up step.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {source}")]
pub struct SysError {
    /// What we were doing (`"TUNSETIFF"`, `"bind"`, `"RTM_NEWROUTE"`, ...).
    pub op: &'static str,
    /// The error the kernel returned.
    #[source]
    pub source: io::Error,
}

impl SysError {
    /// Wraps an I/O error with the step that failed.
    pub fn new(op: &'static str, source: io::Error) -> Self {
        Self { op, source }
    }

    /// The OS error of the last system call, attributed to `op`.
    pub fn last(op: &'static str) -> Self {
        Self::new(op, io::Error::last_os_error())
    }

    /// An invalid-argument error raised by our own checks.
    pub fn invalid(op: &'static str, what: &'static str) -> Self {
        Self::new(op, io::Error::new(io::ErrorKind::InvalidInput, what))
    }
}
