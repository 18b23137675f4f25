//! ESP without UDP encapsulation: a raw socket for IP protocol 50 ([RFC 4303 §2]), used when
//! no NAT sits between the peers.
//!
//! Sending: the payload is the ESP packet; the kernel adds the IP header. Receiving: an IPv4
//! raw socket delivers the IP header too, which [`RawEspSocket::recv_batch`] steps over; an
//! IPv6 raw socket delivers the ESP packet alone. Both directions are batched with
//! `sendmmsg`/`recvmmsg`. The kernel gives every raw ESP socket a copy of every ESP packet of
//! its namespace, so there is one such socket per address family, not one per worker.
//!
//! [RFC 4303 §2]: https://www.rfc-editor.org/rfc/rfc4303#section-2

#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::batch::GsoBatch;
use crate::error::SysError;
use crate::fd::{self, setsockopt_int};
use crate::recv::{self, RecvBatch};

/// IP protocol number of ESP.
pub const IPPROTO_ESP: i32 = 50;

/// A raw socket for ESP packets of one address family.
#[derive(Debug)]
pub struct RawEspSocket {
    fd: OwnedFd,
    ipv6: bool,
}

impl RawEspSocket {
    /// Opens a raw ESP socket for IPv4 or IPv6, bound to `local` if given (then it receives
    /// only packets for that address).
    ///
    /// # Errors
    ///
    /// [`SysError`]: `socket` (needs `CAP_NET_RAW`), `bind`.
    pub fn open(
        ipv6: bool,
        local: Option<IpAddr>,
        buffer_size: Option<usize>,
    ) -> Result<Self, SysError> {
        let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain arguments; the result is checked by `owned`.
        let raw = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, IPPROTO_ESP) };
        let fd = fd::owned(raw, "socket(SOCK_RAW, IPPROTO_ESP)")?;
        if let Some(size) = buffer_size {
            let size = i32::try_from(size).unwrap_or(i32::MAX);
            // Best effort: the forced variants need CAP_NET_ADMIN, which a raw socket user has.
            let _ = setsockopt_int(fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size);
            let _ = setsockopt_int(fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, size);
        }
        if let Some(ip) = local {
            let addr = crate::sockaddr::RawAddr::from(SocketAddr::new(ip, 0));
            // SAFETY: addr holds a valid sockaddr of length addr.len.
            fd::cvt(unsafe {
                libc::bind(
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    addr.as_ptr(),
                    addr.len,
                )
            })
            .map_err(|e| SysError::new("bind", e))?;
        }
        Ok(Self { fd, ipv6 })
    }

    /// Sends one ESP packet to `dest`.
    ///
    /// # Errors
    ///
    /// The OS error of `sendto`.
    pub fn send_to(&self, esp: &[u8], dest: IpAddr) -> io::Result<usize> {
        let addr = crate::sockaddr::RawAddr::from(SocketAddr::new(dest, 0));
        // SAFETY: esp is readable for its length; addr is a valid sockaddr.
        fd::cvt_size(unsafe {
            libc::sendto(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                esp.as_ptr().cast(),
                esp.len(),
                0,
                addr.as_ptr(),
                addr.len,
            )
        })
    }

    /// Sends every datagram of `batch` (raw sockets have no GSO: one message each, batched
    /// into `sendmmsg` calls).
    ///
    /// # Errors
    ///
    /// The OS error of the first failed send.
    pub fn send_batch(&self, batch: &GsoBatch, dest: IpAddr) -> io::Result<()> {
        crate::udp::send_datagrams(self.fd.as_fd(), batch, SocketAddr::new(dest, 0))
    }

    /// Receives a batch of ESP packets; each slot's data starts at the ESP header.
    ///
    /// # Errors
    ///
    /// The OS error of `recvmmsg`.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let n = recv::recv_batch(self.fd.as_fd(), batch)?;
        if !self.ipv6 {
            for i in 0..n {
                let data = batch.received()[i].data.clone();
                let ihl = batch
                    .buf()
                    .get(data.start)
                    .map_or(0, |b| usize::from(b & 0x0f) * 4);
                batch.skip(i, ihl);
            }
        }
        Ok(n)
    }
}

impl RawEspSocket {
    /// Waits up to `timeout_ms` (-1: forever) for a packet; true if one is ready.
    ///
    /// # Errors
    ///
    /// The OS error of `poll`.
    pub fn wait_readable(&self, timeout_ms: i32) -> io::Result<bool> {
        fd::poll_readable(self.fd.as_fd(), timeout_ms)
    }
}

impl AsFd for RawEspSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
