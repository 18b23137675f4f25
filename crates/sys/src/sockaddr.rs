//! Conversions between `std::net` addresses and the kernel's `sockaddr_in`/`sockaddr_in6`.

#![allow(unsafe_code)]

use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A socket address in the kernel's layout, large enough for IPv4 and IPv6.
#[derive(Clone, Copy)]
pub(crate) struct RawAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl RawAddr {
    pub(crate) fn empty() -> Self {
        // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
        let storage = unsafe { std::mem::zeroed() };
        Self {
            storage,
            len: socklen::<libc::sockaddr_storage>(),
        }
    }

    pub(crate) fn from(addr: SocketAddr) -> Self {
        let mut raw = Self::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: family(libc::AF_INET),
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write((&raw mut raw.storage).cast::<libc::sockaddr_in>(), sin) };
                raw.len = socklen::<libc::sockaddr_in>();
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: family(libc::AF_INET6),
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo().to_be(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe {
                    std::ptr::write((&raw mut raw.storage).cast::<libc::sockaddr_in6>(), sin6);
                };
                raw.len = socklen::<libc::sockaddr_in6>();
            }
        }
        raw
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    pub(crate) fn to_std(self) -> Option<SocketAddr> {
        to_std(&self.storage)
    }
}

/// Reads a `sockaddr_storage` the kernel filled in.
pub(crate) fn to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let sin = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in>()) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>()) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

pub(crate) fn socklen<T>() -> libc::socklen_t {
    // Socket address structures are a few dozen bytes.
    libc::socklen_t::try_from(size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

fn family(af: libc::c_int) -> libc::sa_family_t {
    // AF_INET and AF_INET6 are small constants.
    libc::sa_family_t::try_from(af).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v4_and_v6() {
        for a in [
            "10.1.2.3:4500",
            "[2001:db8::1]:500",
            "0.0.0.0:0",
            "[::]:4500",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(RawAddr::from(a).to_std(), Some(a));
        }
    }
}
