//! Routes, addresses, MTU and link state over rtnetlink ([RFC 3549], Linux `rtnetlink(7)`),
//! in process: hand-built requests, each acknowledged by the kernel.
//!
//! The daemon routes the remote traffic selectors of each Child SA into the TUN device
//! ([`Netlink::add_route`]); tests and benchmarks give the device its address, MTU and link
//! state. Requests are built by pure functions (unit-tested byte for byte) and sent on a
//! `NETLINK_ROUTE` socket of the calling thread's network namespace.
//!
//! [RFC 3549]: https://www.rfc-editor.org/rfc/rfc3549

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::SysError;
use crate::fd::{self, cvt, cvt_size};

/// An IP prefix (address and length).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Prefix {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

/// A route into a device.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Route {
    /// Destination prefix (a remote traffic selector).
    pub dst: Prefix,
    /// Output interface index.
    pub ifindex: u32,
    /// Next hop, for routes that need one; `None` for a device route.
    pub gateway: Option<IpAddr>,
    /// Route metric (`RTA_PRIORITY`); lower wins.
    pub metric: Option<u32>,
    /// Routing table; `None` for the main table.
    pub table: Option<u32>,
}

impl Route {
    /// A device route for `dst` through interface `ifindex`, in the main table.
    pub fn device(dst: Prefix, ifindex: u32) -> Self {
        Self {
            dst,
            ifindex,
            gateway: None,
            metric: None,
            table: None,
        }
    }
}

/// A `NETLINK_ROUTE` socket.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    ///
    /// # Errors
    ///
    /// [`SysError`] if the socket cannot be opened or bound.
    pub fn open() -> Result<Self, SysError> {
        // SAFETY: plain arguments; the result is checked by `owned`.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        let fd = fd::owned(raw, "socket(AF_NETLINK)")?;
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0: the kernel assigns) is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = u16::try_from(libc::AF_NETLINK).unwrap_or(16);
        let len = crate::sockaddr::socklen::<libc::sockaddr_nl>();
        // SAFETY: sa is a valid sockaddr_nl of the given length.
        cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) })
            .map_err(|e| SysError::new("bind(AF_NETLINK)", e))?;
        Ok(Self { fd, seq: 1 })
    }

    /// Adds a route (fails with `EEXIST` if it exists; see [`Netlink::replace_route`]).
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer.
    pub fn add_route(&mut self, route: &Route) -> Result<(), SysError> {
        let flags = NLM_F_CREATE | NLM_F_EXCL;
        self.request("RTM_NEWROUTE", |seq| {
            route_message(RTM_NEWROUTE, flags, route, seq)
        })
    }

    /// Adds or replaces a route.
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer.
    pub fn replace_route(&mut self, route: &Route) -> Result<(), SysError> {
        let flags = NLM_F_CREATE | NLM_F_REPLACE;
        self.request("RTM_NEWROUTE", |seq| {
            route_message(RTM_NEWROUTE, flags, route, seq)
        })
    }

    /// Deletes a route.
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer (`ESRCH` if there is no such route).
    pub fn delete_route(&mut self, route: &Route) -> Result<(), SysError> {
        self.request("RTM_DELROUTE", |seq| {
            route_message(RTM_DELROUTE, 0, route, seq)
        })
    }

    /// Adds (or replaces) an address on an interface.
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer.
    pub fn add_address(&mut self, ifindex: u32, addr: Prefix) -> Result<(), SysError> {
        let flags = NLM_F_CREATE | NLM_F_REPLACE;
        self.request("RTM_NEWADDR", |seq| {
            address_message(RTM_NEWADDR, flags, ifindex, addr, seq)
        })
    }

    /// Removes an address from an interface.
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer.
    pub fn delete_address(&mut self, ifindex: u32, addr: Prefix) -> Result<(), SysError> {
        self.request("RTM_DELADDR", |seq| {
            address_message(RTM_DELADDR, 0, ifindex, addr, seq)
        })
    }

    /// Sets the link up or down and, if given, its MTU.
    ///
    /// # Errors
    ///
    /// [`SysError`] with the kernel's answer.
    pub fn set_link(&mut self, ifindex: u32, up: bool, mtu: Option<u32>) -> Result<(), SysError> {
        self.request("RTM_NEWLINK", |seq| link_message(ifindex, up, mtu, seq))
    }

    fn request(
        &mut self,
        op: &'static str,
        build: impl FnOnce(u32) -> Vec<u8>,
    ) -> Result<(), SysError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let msg = build(seq);
        fd::write(std::os::fd::AsFd::as_fd(&self.fd), &msg).map_err(|e| SysError::new(op, e))?;
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: buf is writable for its length.
            let n = cvt_size(unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
            })
            .map_err(|e| SysError::new(op, e))?;
            match parse_ack(&buf[..n], seq) {
                Ack::Done(0) => return Ok(()),
                Ack::Done(errno) => {
                    return Err(SysError::new(op, io::Error::from_raw_os_error(errno)));
                }
                Ack::NotYet => {}
            }
        }
    }
}

/// The index of the interface called `name`.
///
/// # Errors
///
/// [`SysError`] if there is no such interface in this thread's namespace.
pub fn ifindex(name: &str) -> Result<u32, SysError> {
    let c = CString::new(name).map_err(|_| SysError::invalid("if_nametoindex", "NUL in name"))?;
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(SysError::last("if_nametoindex"))
    } else {
        Ok(i)
    }
}

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_TABLE: u16 = 15;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFLA_MTU: u16 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 1;

enum Ack {
    Done(i32),
    NotYet,
}

/// A netlink message under construction.
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32) -> Self {
        let mut v = Vec::with_capacity(128);
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        Self(v)
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }

    /// An rtattr, padded to 4 bytes.
    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

fn family(a: IpAddr) -> u8 {
    // AF_INET and AF_INET6 are small constants.
    let af = if a.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    u8::try_from(af).unwrap_or(0)
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn route_message(ty: u16, flags: u16, r: &Route, seq: u32) -> Vec<u8> {
    let mut m = Msg::new(ty, flags, seq);
    let table = r
        .table
        .map_or(RT_TABLE_MAIN, |t| u8::try_from(t).unwrap_or(0));
    let scope = if r.gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    m.bytes(&[
        family(r.dst.addr),
        r.dst.len,
        0,
        0,
        table,
        RTPROT_STATIC,
        scope,
        RTN_UNICAST,
    ]);
    m.bytes(&0u32.to_ne_bytes());
    m.attr(RTA_DST, &octets(r.dst.addr));
    m.attr(RTA_OIF, &r.ifindex.to_ne_bytes());
    if let Some(g) = r.gateway {
        m.attr(RTA_GATEWAY, &octets(g));
    }
    if let Some(p) = r.metric {
        m.attr(RTA_PRIORITY, &p.to_ne_bytes());
    }
    if let Some(t) = r.table.filter(|t| *t > 255) {
        m.attr(RTA_TABLE, &t.to_ne_bytes());
    }
    m.finish()
}

fn address_message(ty: u16, flags: u16, ifindex: u32, a: Prefix, seq: u32) -> Vec<u8> {
    let mut m = Msg::new(ty, flags, seq);
    // struct ifaddrmsg: family, prefixlen, flags, scope, index.
    m.bytes(&[family(a.addr), a.len, 0, RT_SCOPE_UNIVERSE]);
    m.bytes(&ifindex.to_ne_bytes());
    m.attr(IFA_LOCAL, &octets(a.addr));
    m.attr(IFA_ADDRESS, &octets(a.addr));
    m.finish()
}

fn link_message(ifindex: u32, up: bool, mtu: Option<u32>, seq: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWLINK, 0, seq);
    // struct ifinfomsg: family, pad, type, index, flags, change.
    m.bytes(&[0, 0, 0, 0]);
    m.bytes(&ifindex.to_ne_bytes());
    m.bytes(&(if up { IFF_UP } else { 0 }).to_ne_bytes());
    m.bytes(&IFF_UP.to_ne_bytes());
    if let Some(mtu) = mtu {
        m.attr(IFLA_MTU, &mtu.to_ne_bytes());
    }
    m.finish()
}

/// Finds the acknowledgement of request `seq` in a received buffer: `Done(errno)` (0 for
/// success).
fn parse_ack(buf: &[u8], seq: u32) -> Ack {
    let mut rest = buf;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::try_from(len).unwrap_or(0);
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let s = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if len < 16 || len > rest.len() {
            return Ack::Done(libc::EBADMSG);
        }
        if ty == NLMSG_ERROR && s == seq && len >= 20 {
            let e = i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]);
            return Ack::Done(e.saturating_neg());
        }
        rest = &rest[(len + 3) & !3..];
    }
    Ack::NotYet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_request_layout() {
        let r = Route {
            dst: Prefix {
                addr: "10.9.0.0".parse().unwrap(),
                len: 16,
            },
            ifindex: 7,
            gateway: None,
            metric: Some(100),
            table: None,
        };
        let m = route_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &r, 42);
        assert_eq!(m.len(), 16 + 12 + 8 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 52);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 24);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 0x605);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 42);
        assert_eq!(m[16..24], [2, 16, 0, 0, 254, 4, 253, 1]);
        // RTA_DST 10.9.0.0
        assert_eq!(m[28..36], [8, 0, 1, 0, 10, 9, 0, 0]);
        // RTA_OIF 7
        assert_eq!(m[36..40], [8, 0, 4, 0]);
        assert_eq!(u32::from_ne_bytes(m[40..44].try_into().unwrap()), 7);
        assert_eq!(m[44..48], [8, 0, 6, 0]);
        let v6 = Route::device(
            Prefix {
                addr: "2001:db8::".parse().unwrap(),
                len: 32,
            },
            3,
        );
        let m6 = route_message(RTM_DELROUTE, 0, &v6, 1);
        assert_eq!(m6.len(), 16 + 12 + 20 + 8);
        assert_eq!(m6[16..18], [10, 32]);
    }

    #[test]
    fn address_and_link_request_layout() {
        let a = address_message(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_REPLACE,
            5,
            Prefix {
                addr: "10.1.0.1".parse().unwrap(),
                len: 24,
            },
            9,
        );
        assert_eq!(a.len(), 16 + 8 + 8 + 8);
        assert_eq!(a[16..20], [2, 24, 0, 0]);
        assert_eq!(a[24..32], [8, 0, 2, 0, 10, 1, 0, 1]);
        let l = link_message(5, true, Some(1420), 10);
        assert_eq!(l.len(), 16 + 16 + 8);
        assert_eq!(u32::from_ne_bytes(l[24..28].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(l[36..40].try_into().unwrap()), 1420);
    }

    #[test]
    fn acks_are_matched_by_sequence() {
        let mut ack = Vec::new();
        ack.extend_from_slice(&36u32.to_ne_bytes());
        ack.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack.extend_from_slice(&0u16.to_ne_bytes());
        ack.extend_from_slice(&5u32.to_ne_bytes());
        ack.extend_from_slice(&0u32.to_ne_bytes());
        ack.extend_from_slice(&(-17i32).to_ne_bytes());
        ack.extend_from_slice(&[0; 16]);
        assert!(matches!(parse_ack(&ack, 5), Ack::Done(17)));
        assert!(matches!(parse_ack(&ack, 6), Ack::NotYet));
        assert!(matches!(parse_ack(&ack[..20], 5), Ack::Done(libc::EBADMSG)));
        assert!(matches!(parse_ack(&[], 5), Ack::NotYet));
    }
}
