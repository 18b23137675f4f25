//! Network namespaces for tests and benchmarks: create and delete them (with `ip netns`, as
//! iproute2 keeps them under `/run/netns`), run a closure inside one on a thread of its own,
//! or run a command inside one.
//!
//! A socket or TUN device belongs to the namespace of the thread that created it and stays
//! there, so a closure run with [`NetNs::run`] can open devices and sockets that the rest of
//! the process then uses from any thread.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

use crate::error::SysError;

/// A named network namespace, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace `name` (deleting a stale one of that name first) with its
    /// loopback up.
    ///
    /// # Errors
    ///
    /// [`SysError`] if `ip netns add` fails (not root, no iproute2).
    pub fn create(name: &str) -> Result<Self, SysError> {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name])?;
        let ns = Self {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on a new thread that has entered the namespace, and returns its result.
    ///
    /// # Errors
    ///
    /// [`SysError`] if the namespace cannot be entered; a panic in `f` is resumed here.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, SysError> {
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                self.enter_current_thread()?;
                Ok(f())
            });
            match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Moves the calling thread into the namespace (for a worker thread that stays there).
    ///
    /// # Errors
    ///
    /// [`SysError`] if `/run/netns/<name>` cannot be opened or `setns` fails.
    pub fn enter_current_thread(&self) -> Result<(), SysError> {
        let f = File::open(format!("/run/netns/{}", self.name))
            .map_err(|e| SysError::new("open /run/netns", e))?;
        // SAFETY: a valid namespace descriptor and the matching type; affects this thread only.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        if r < 0 {
            Err(SysError::last("setns"))
        } else {
            Ok(())
        }
    }

    /// Runs `ip ARGS...` inside the namespace.
    ///
    /// # Errors
    ///
    /// [`SysError`] with `ip`'s message if it fails.
    pub fn ip(&self, args: &[&str]) -> Result<(), SysError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs a command inside the namespace (`ip netns exec`) and returns its output.
    ///
    /// # Errors
    ///
    /// [`SysError`] if it cannot be started.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output, SysError> {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .map_err(|e| SysError::new("ip netns exec", e))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Creates a veth pair with one end in each namespace, addresses them and sets them up.
///
/// # Errors
///
/// [`SysError`] with `ip`'s message.
pub fn veth_pair(a: (&NetNs, &str, &str), b: (&NetNs, &str, &str)) -> Result<(), SysError> {
    let (ns_a, if_a, addr_a) = a;
    let (ns_b, if_b, addr_b) = b;
    ip(&[
        "link",
        "add",
        if_a,
        "netns",
        ns_a.name(),
        "type",
        "veth",
        "peer",
        "name",
        if_b,
        "netns",
        ns_b.name(),
    ])?;
    ns_a.ip(&["addr", "add", addr_a, "dev", if_a])?;
    ns_b.ip(&["addr", "add", addr_b, "dev", if_b])?;
    ns_a.ip(&["link", "set", if_a, "up"])?;
    ns_b.ip(&["link", "set", if_b, "up"])?;
    Ok(())
}

/// Runs `ip ARGS...`.
///
/// # Errors
///
/// [`SysError`] with `ip`'s standard error if it fails or cannot be started.
pub fn ip(args: &[&str]) -> Result<(), SysError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| SysError::new("ip", e))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = format!(
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Err(SysError::new("ip", io::Error::other(msg)))
}
