//! UDP sockets for IKE (500/4500) and ESP-in-UDP ([RFC 3948]) with the Linux batching
//! features: `SO_REUSEPORT` (one socket per worker on the same port), UDP GSO (`UDP_SEGMENT`,
//! many equal-size datagrams in one `sendmsg`), UDP GRO (`UDP_GRO`, many datagrams of one flow
//! in one receive, the segment size in a control message), `sendmmsg`/`recvmmsg`, and
//! `IP_PKTINFO`/`IPV6_RECVPKTINFO` for the local address of each datagram (so replies leave
//! from the address the peer used).
//!
//! [RFC 3948]: https://www.rfc-editor.org/rfc/rfc3948

#![allow(unsafe_code)]

use std::io::{self, IoSlice};
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::batch::{GsoBatch, MAX_RUNS};
use crate::error::SysError;
use crate::fd::{self, cvt, cvt_size, setsockopt_int};
use crate::recv::{self, RecvBatch};
use crate::sockaddr::RawAddr;

/// How to open a UDP socket.
#[derive(Clone, Debug)]
pub struct UdpConfig {
    /// Local address and port.
    pub bind: SocketAddr,
    /// `SO_REUSEPORT`: several sockets (one per worker) share the port; the kernel spreads
    /// flows over them by hash.
    pub reuse_port: bool,
    /// Enable UDP GRO on receive.
    pub gro: bool,
    /// Report the local address of each datagram (`IP_PKTINFO` / `IPV6_RECVPKTINFO`).
    pub pktinfo: bool,
    /// `SO_RCVBUFFORCE` / `SO_SNDBUFFORCE` in bytes (needs `CAP_NET_ADMIN`; falls back to the
    /// unprivileged options, which the kernel caps).
    pub buffer_size: Option<usize>,
    /// For IPv6 sockets: `IPV6_V6ONLY`.
    pub v6_only: bool,
}

impl UdpConfig {
    /// A plain socket on `bind`, no options.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            reuse_port: false,
            gro: false,
            pktinfo: false,
            buffer_size: None,
            v6_only: true,
        }
    }
}

/// A UDP socket; all calls take `&self`, so one socket can be shared by a sending and a
/// receiving thread.
#[derive(Debug)]
pub struct UdpSocket {
    fd: OwnedFd,
    ipv6: bool,
    /// Cleared after the kernel refused a GSO send (`EIO`: no checksum offload on the route).
    gso: AtomicBool,
    gro: bool,
}

impl UdpSocket {
    /// Opens and binds a socket.
    ///
    /// # Errors
    ///
    /// [`SysError`] naming the failed step (`socket`, `SO_REUSEPORT`, `UDP_GRO`, `bind`, ...).
    pub fn bind(config: &UdpConfig) -> Result<Self, SysError> {
        let ipv6 = config.bind.is_ipv6();
        let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain arguments; the result is checked by `owned`.
        let raw = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        let fd = fd::owned(raw, "socket(AF_INET*, SOCK_DGRAM)")?;
        let b = fd.as_fd();
        if config.reuse_port {
            setsockopt_int(b, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)
                .map_err(|e| SysError::new("SO_REUSEPORT", e))?;
        }
        if ipv6 {
            setsockopt_int(
                b,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                i32::from(config.v6_only),
            )
            .map_err(|e| SysError::new("IPV6_V6ONLY", e))?;
        }
        if let Some(size) = config.buffer_size {
            set_buffers(b, size)?;
        }
        if config.pktinfo {
            let (level, name) = if ipv6 {
                (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
            } else {
                (libc::IPPROTO_IP, libc::IP_PKTINFO)
            };
            setsockopt_int(b, level, name, 1).map_err(|e| SysError::new("IP_PKTINFO", e))?;
        }
        if config.gro {
            setsockopt_int(b, libc::SOL_UDP, libc::UDP_GRO, 1)
                .map_err(|e| SysError::new("UDP_GRO", e))?;
        }
        let addr = RawAddr::from(config.bind);
        // SAFETY: addr holds a valid sockaddr of length addr.len.
        cvt(unsafe { libc::bind(b.as_raw_fd(), addr.as_ptr(), addr.len) })
            .map_err(|e| SysError::new("bind", e))?;
        Ok(Self {
            fd,
            ipv6,
            gso: AtomicBool::new(true),
            gro: config.gro,
        })
    }

    /// Fixes the peer: sends without a destination go there, and only its datagrams arrive.
    ///
    /// # Errors
    ///
    /// The OS error of `connect`.
    pub fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        let addr = RawAddr::from(peer);
        // SAFETY: addr holds a valid sockaddr of length addr.len.
        cvt(unsafe { libc::connect(self.fd.as_raw_fd(), addr.as_ptr(), addr.len) })?;
        Ok(())
    }

    /// The bound address (with the port the kernel chose for port 0).
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let mut addr = RawAddr::empty();
        // SAFETY: storage and len describe a writable sockaddr_storage.
        cvt(unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&raw mut addr.storage).cast(),
                &raw mut addr.len,
            )
        })?;
        addr.to_std()
            .ok_or_else(|| io::Error::other("unknown address family"))
    }

    /// Sends one datagram to `dest` (or the connected peer if `None`).
    ///
    /// # Errors
    ///
    /// The OS error of `sendto`.
    pub fn send_to(&self, buf: &[u8], dest: Option<SocketAddr>) -> io::Result<usize> {
        let addr = dest.map(RawAddr::from);
        let (ptr, len) = addr
            .as_ref()
            .map_or((std::ptr::null(), 0), |a| (a.as_ptr(), a.len));
        // SAFETY: buf is readable for its length; ptr/len describe a valid sockaddr or are
        // null/0.
        cvt_size(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                0,
                ptr,
                len,
            )
        })
    }

    /// Sends one datagram from the local address `source` (as learnt from pktinfo), for IKE
    /// replies on a multi-homed host.
    ///
    /// # Errors
    ///
    /// The OS error of `sendmsg`.
    pub fn send_from(&self, buf: &[u8], dest: SocketAddr, source: IpAddr) -> io::Result<usize> {
        let mut ctrl = [0u64; 8];
        let mut msg = Message::new(IoSlice::new(buf), Some(RawAddr::from(dest)));
        msg.set_source(&mut ctrl, source);
        let h = msg.header(&mut ctrl);
        // SAFETY: the header points at `msg` and `ctrl`, alive across the call.
        cvt_size(unsafe { libc::sendmsg(self.fd.as_raw_fd(), &raw const h, 0) })
    }

    /// Sends `buf` as datagrams of `segment_size` bytes (the last may be shorter) with one UDP
    /// GSO `sendmsg`; falls back to one `sendmmsg` of single datagrams when the kernel cannot
    /// segment on this route.
    ///
    /// # Errors
    ///
    /// The OS error of the send.
    pub fn send_gso(
        &self,
        buf: &[u8],
        segment_size: usize,
        dest: Option<SocketAddr>,
    ) -> io::Result<()> {
        let mut batch = Runs::default();
        batch.push(buf, segment_size);
        self.send_runs(&batch, dest)
    }

    /// Sends every run of `batch` to `dest` (or the connected peer), one GSO message per run,
    /// all in one `sendmmsg`.
    ///
    /// # Errors
    ///
    /// The OS error of the first failed send; runs before it were sent.
    pub fn send_batch(&self, batch: &GsoBatch, dest: Option<SocketAddr>) -> io::Result<()> {
        let mut runs = Runs::default();
        for r in batch.runs() {
            runs.push(batch.bytes(r), r.segment_size);
        }
        self.send_runs(&runs, dest)
    }

    /// Receives up to a batch of datagrams (`recvmmsg`), blocking for the first unless the
    /// socket is non-blocking. Returns the number of slots filled; see
    /// [`RecvBatch::received`].
    ///
    /// ICMP errors the kernel queued on the socket (port or host unreachable after an earlier
    /// send, reported on connected sockets) concern that send, not this receive: they are
    /// consumed and the receive is retried.
    ///
    /// # Errors
    ///
    /// The OS error (`WouldBlock` when non-blocking and nothing is queued).
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        loop {
            match recv::recv_batch(self.fd.as_fd(), batch) {
                Err(e) if is_icmp_report(&e) => {}
                other => return other,
            }
        }
    }

    /// Switches non-blocking mode.
    ///
    /// # Errors
    ///
    /// The OS error of `fcntl`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        fd::set_nonblocking(self.fd.as_fd(), on)
    }

    /// Waits up to `timeout_ms` (-1: forever) for a datagram; true if one is ready.
    ///
    /// # Errors
    ///
    /// The OS error of `poll`.
    pub fn wait_readable(&self, timeout_ms: i32) -> io::Result<bool> {
        fd::poll_readable(self.fd.as_fd(), timeout_ms)
    }

    /// Stops using GSO: every datagram is sent as its own message (still batched with
    /// `sendmmsg`). For measuring what GSO is worth, and for peers' paths that need it.
    pub fn disable_gso(&self) {
        self.gso.store(false, Ordering::Relaxed);
    }

    /// Whether GSO sends are in use (false after the kernel refused one).
    pub fn gso_enabled(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    /// Whether UDP GRO was enabled.
    pub fn gro_enabled(&self) -> bool {
        self.gro
    }

    /// Whether this is an IPv6 socket.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    fn send_runs(&self, runs: &Runs<'_>, dest: Option<SocketAddr>) -> io::Result<()> {
        let addr = dest.map(RawAddr::from);
        if self.gso_enabled() {
            match send_mmsg(self.fd.as_fd(), runs, addr.as_ref(), true) {
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    // The route's device cannot checksum GSO segments: send singly from now.
                    self.gso.store(false, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        send_singles(self.fd.as_fd(), runs, addr.as_ref())
    }
}

/// Sends every datagram of `batch` as its own message (raw sockets have no GSO).
pub(crate) fn send_datagrams(
    fd: BorrowedFd<'_>,
    batch: &GsoBatch,
    dest: SocketAddr,
) -> io::Result<()> {
    let mut runs = Runs::default();
    for r in batch.runs() {
        runs.push(batch.bytes(r), r.segment_size);
    }
    send_singles(fd, &runs, Some(&RawAddr::from(dest)))
}

/// Every datagram of every run as its own message, `MAX_RUNS` per `sendmmsg`.
fn send_singles(fd: BorrowedFd<'_>, runs: &Runs<'_>, addr: Option<&RawAddr>) -> io::Result<()> {
    let mut singles = Runs::default();
    for (bytes, seg) in runs.iter() {
        for chunk in bytes.chunks(seg.max(1)) {
            if singles.len == MAX_RUNS {
                send_mmsg(fd, &singles, addr, false)?;
                singles = Runs::default();
            }
            singles.push(chunk, chunk.len());
        }
    }
    send_mmsg(fd, &singles, addr, false)
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Up to [`MAX_RUNS`] (bytes, segment size) pairs.
struct Runs<'a> {
    items: [(&'a [u8], usize); MAX_RUNS],
    len: usize,
}

impl Default for Runs<'_> {
    fn default() -> Self {
        Self {
            items: [(&[], 0); MAX_RUNS],
            len: 0,
        }
    }
}

impl<'a> Runs<'a> {
    fn push(&mut self, bytes: &'a [u8], seg: usize) {
        if self.len < MAX_RUNS {
            self.items[self.len] = (bytes, seg);
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'a [u8], usize)> + '_ {
        self.items[..self.len].iter().copied()
    }
}

/// One outgoing message: payload, destination, and room for control messages.
struct Message<'a> {
    iov: IoSlice<'a>,
    dest: Option<RawAddr>,
    ctrl_len: usize,
}

impl<'a> Message<'a> {
    fn new(iov: IoSlice<'a>, dest: Option<RawAddr>) -> Self {
        Self {
            iov,
            dest,
            ctrl_len: 0,
        }
    }

    /// Appends a `UDP_SEGMENT` control message.
    fn set_segment(&mut self, ctrl: &mut [u64; 8], seg: u16) {
        self.append_cmsg(ctrl, libc::SOL_UDP, libc::UDP_SEGMENT, &seg.to_ne_bytes());
    }

    /// Appends an `IP_PKTINFO` / `IPV6_PKTINFO` control message choosing the source address.
    fn set_source(&mut self, ctrl: &mut [u64; 8], source: IpAddr) {
        match source {
            IpAddr::V4(a) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                // SAFETY: in_pktinfo is plain data; viewing it as bytes is sound.
                let bytes = unsafe { as_bytes(&info) };
                self.append_cmsg(ctrl, libc::IPPROTO_IP, libc::IP_PKTINFO, bytes);
            }
            IpAddr::V6(a) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                // SAFETY: in6_pktinfo is plain data; viewing it as bytes is sound.
                let bytes = unsafe { as_bytes(&info) };
                self.append_cmsg(ctrl, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, bytes);
            }
        }
    }

    fn append_cmsg(&mut self, ctrl: &mut [u64; 8], level: i32, ty: i32, data: &[u8]) {
        let data_len = u32::try_from(data.len()).unwrap_or(0);
        // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
        let (space, len) = unsafe { (libc::CMSG_SPACE(data_len), libc::CMSG_LEN(data_len)) };
        let space = usize::try_from(space).unwrap_or(usize::MAX);
        let start = self.ctrl_len;
        if start + space > size_of::<[u64; 8]>() {
            return;
        }
        let base = ctrl.as_mut_ptr().cast::<u8>();
        // SAFETY: start + space is within `ctrl` (checked above), and start is a multiple of
        // CMSG_ALIGN, so the cmsghdr is aligned.
        unsafe {
            let cm = base.add(start).cast::<libc::cmsghdr>();
            (*cm).cmsg_level = level;
            (*cm).cmsg_type = ty;
            (*cm).cmsg_len = usize::try_from(len).unwrap_or(0);
            std::ptr::copy_nonoverlapping(data.as_ptr(), libc::CMSG_DATA(cm), data.len());
        }
        self.ctrl_len = start + space;
    }

    fn header(&mut self, ctrl: &mut [u64; 8]) -> libc::msghdr {
        // SAFETY: msghdr is plain data; all-zero is valid.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        if let Some(d) = &self.dest {
            h.msg_name = d.as_ptr().cast_mut().cast();
            h.msg_namelen = d.len;
        }
        h.msg_iov = (&raw mut self.iov).cast();
        h.msg_iovlen = 1;
        if self.ctrl_len > 0 {
            h.msg_control = ctrl.as_mut_ptr().cast();
            h.msg_controllen = self.ctrl_len;
        }
        h
    }
}

/// One `sendmmsg` of all runs (retrying on partial sends). With `gso`, runs of several
/// segments carry `UDP_SEGMENT`.
fn send_mmsg(
    fd: BorrowedFd<'_>,
    runs: &Runs<'_>,
    dest: Option<&RawAddr>,
    gso: bool,
) -> io::Result<()> {
    if runs.len == 0 {
        return Ok(());
    }
    if let [(bytes, seg)] = runs.items[..runs.len] {
        // The common case (one super-packet, one run): a plain sendmsg, nothing to zero.
        let mut ctrl = [0u64; 8];
        let mut m = Message::new(IoSlice::new(bytes), dest.copied());
        if gso && bytes.len() > seg {
            m.set_segment(&mut ctrl, u16::try_from(seg).unwrap_or(u16::MAX));
        }
        let h = m.header(&mut ctrl);
        // SAFETY: the header points at `m`, its address and `ctrl`, alive across the call.
        cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &raw const h, 0) })?;
        return Ok(());
    }
    let mut ctrls = [[0u64; 8]; MAX_RUNS];
    let mut msgs: [Option<Message<'_>>; MAX_RUNS] = std::array::from_fn(|_| None);
    // SAFETY: mmsghdr is plain data; all-zero is valid.
    let mut hdrs: [libc::mmsghdr; MAX_RUNS] = unsafe { std::mem::zeroed() };
    for (i, (bytes, seg)) in runs.iter().enumerate() {
        let mut m = Message::new(IoSlice::new(bytes), dest.copied());
        if gso && bytes.len() > seg {
            m.set_segment(&mut ctrls[i], u16::try_from(seg).unwrap_or(u16::MAX));
        }
        msgs[i] = Some(m);
    }
    for (i, m) in msgs.iter_mut().enumerate().take(runs.len) {
        if let Some(m) = m {
            hdrs[i].msg_hdr = m.header(&mut ctrls[i]);
        }
    }
    let mut sent = 0;
    while sent < runs.len {
        let vlen = libc::c_uint::try_from(runs.len - sent).unwrap_or(1);
        // SAFETY: headers sent..runs.len point at messages, iovecs, addresses and control
        // buffers that live on this stack frame across the call.
        let n = cvt(unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs[sent..].as_mut_ptr(), vlen, 0) })?;
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        sent += n;
    }
    Ok(())
}

/// Errors that report an ICMP message about an earlier datagram.
fn is_icmp_report(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN)
    )
}

fn set_buffers(fd: BorrowedFd<'_>, size: usize) -> Result<(), SysError> {
    let size = i32::try_from(size).unwrap_or(i32::MAX);
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt_int(fd, libc::SOL_SOCKET, force, size).is_err() {
            setsockopt_int(fd, libc::SOL_SOCKET, plain, size)
                .map_err(|e| SysError::new("SO_RCVBUF/SO_SNDBUF", e))?;
        }
    }
    Ok(())
}

/// Views a plain-data value as bytes.
///
/// # Safety
///
/// `T` must have no padding bytes and no interior pointers that matter.
unsafe fn as_bytes<T>(v: &T) -> &[u8] {
    // SAFETY: the caller guarantees T is plain data; the slice covers exactly *v.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
}
