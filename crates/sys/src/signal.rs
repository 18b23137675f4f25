//! Waiting for process signals on a dedicated thread (`sigwait`), for binaries that run
//! blocking worker threads: block the signals first, before starting any thread, so every
//! thread inherits the mask and only the waiting thread receives them.

#![allow(unsafe_code)]

use std::io;

pub use libc::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

/// Blocks `signals` in the calling thread (and in threads it starts afterwards).
///
/// # Errors
///
/// The OS error of `pthread_sigmask`.
pub fn block(signals: &[i32]) -> io::Result<()> {
    let set = sigset(signals)?;
    // SAFETY: a valid, initialised sigset; the old mask is not needed.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut()) };
    if r != 0 {
        Err(io::Error::from_raw_os_error(r))
    } else {
        Ok(())
    }
}

/// Waits for one of `signals` (which must be blocked) and returns it.
///
/// # Errors
///
/// The OS error of `sigwait`.
pub fn wait(signals: &[i32]) -> io::Result<i32> {
    let set = sigset(signals)?;
    let mut sig = 0;
    // SAFETY: a valid sigset and a live int for the result.
    let r = unsafe { libc::sigwait(&raw const set, &raw mut sig) };
    if r != 0 {
        Err(io::Error::from_raw_os_error(r))
    } else {
        Ok(sig)
    }
}

fn sigset(signals: &[i32]) -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a live sigset_t.
    unsafe { libc::sigemptyset(&raw mut set) };
    for &s in signals {
        // SAFETY: as above; an invalid signal number is reported, not undefined.
        if unsafe { libc::sigaddset(&raw mut set, s) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}
