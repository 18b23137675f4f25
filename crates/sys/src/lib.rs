//! OS adapters for hitless: TUN devices with offloads, UDP and raw ESP sockets with batching
//! and GSO/GRO, routes and addresses over rtnetlink, and network-namespace helpers for tests.
//!
//! This is one of the two crates allowed `unsafe` (for system calls); each module that needs
//! it says so with `#![allow(unsafe_code)]`, and every block carries a `// SAFETY:` comment.
//! The packet-processing parts ([`checksum`], [`vnet`], [`offload`], [`batch`], [`port4500`])
//! are pure and tested without a kernel. `docs/design/io.md` shows how the data-plane workers
//! put the pieces together.

pub mod batch;
pub mod checksum;
pub mod error;
mod fd;
pub mod netlink;
pub mod netns;
pub mod offload;
pub mod port4500;
pub mod raw_esp;
pub mod recv;
pub mod signal;
mod sockaddr;
pub mod tun;
pub mod udp;
pub mod vnet;

pub use batch::GsoBatch;

/// Waits up to `timeout_ms` (-1: forever) until `fd` is readable; true if it is.
///
/// # Errors
///
/// The OS error of `poll`.
pub fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout_ms: i32) -> std::io::Result<bool> {
    fd::poll_readable(fd, timeout_ms)
}
pub use error::SysError;
pub use recv::{RecvBatch, RecvMeta};
pub use tun::{Offloads, TunConfig, TunDevice, TunQueue};
pub use udp::{UdpConfig, UdpSocket};
