//! A NAT in front of a node ([RFC 7296 §2.23], [RFC 3948]): it rewrites the source address and
//! port of the node's outgoing UDP datagrams to its public address, with an endpoint-independent
//! mapping, and maps replies back. Bare ESP (IP protocol 50) does not pass, as with most NATs
//! that do not track ESP, so a working tunnel behind it proves UDP encapsulation.
//!
//! [RFC 7296 §2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23
//! [RFC 3948]: https://www.rfc-editor.org/rfc/rfc3948

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::net::SocketAddr;

/// A NAT's state: its public address and current mappings.
#[derive(Clone, Debug)]
pub struct Nat {
    public: IpAddr,
    next_port: u16,
    outbound: BTreeMap<SocketAddr, u16>,
    inbound: BTreeMap<u16, SocketAddr>,
}

impl Nat {
    /// A NAT with this public address. Mapped ports start at 40000 (never 500 or 4500, so the
    /// peer sees that ports changed).
    pub fn new(public: IpAddr) -> Self {
        Self {
            public,
            next_port: FIRST_PORT,
            outbound: BTreeMap::new(),
            inbound: BTreeMap::new(),
        }
    }

    /// Forgets every mapping, as a NAT that rebooted or timed them out: the next datagram from
    /// the inside gets a new public port, and replies to the old ports are dropped.
    pub fn rebind(&mut self) {
        self.outbound.clear();
        self.inbound.clear();
    }

    /// The public address.
    pub fn public(&self) -> IpAddr {
        self.public
    }

    /// The public address `private` is currently mapped to, if any.
    pub fn mapping(&self, private: SocketAddr) -> Option<SocketAddr> {
        self.outbound
            .get(&private)
            .map(|port| SocketAddr::new(self.public, *port))
    }

    /// Rewrites the source of an outgoing datagram, creating a mapping if needed.
    pub(crate) fn translate_outbound(&mut self, private: SocketAddr) -> SocketAddr {
        if let Some(port) = self.outbound.get(&private) {
            return SocketAddr::new(self.public, *port);
        }
        let port = self.allocate_port();
        self.outbound.insert(private, port);
        self.inbound.insert(port, private);
        SocketAddr::new(self.public, port)
    }

    /// Rewrites the destination of an incoming datagram; `None` when there is no mapping.
    pub(crate) fn translate_inbound(&self, public: SocketAddr) -> Option<SocketAddr> {
        if public.ip() != self.public {
            return None;
        }
        self.inbound.get(&public.port()).copied()
    }

    fn allocate_port(&mut self) -> u16 {
        loop {
            let port = self.next_port;
            self.next_port = if port == u16::MAX {
                FIRST_PORT
            } else {
                port + 1
            };
            if !self.inbound.contains_key(&port) {
                return port;
            }
        }
    }
}

const FIRST_PORT: u16 = 40_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_endpoint_independent_and_reversible() {
        let mut nat = Nat::new("198.51.100.1".parse().unwrap());
        let inside: SocketAddr = "10.0.0.1:500".parse().unwrap();
        let public = nat.translate_outbound(inside);
        assert_eq!(public, "198.51.100.1:40000".parse().unwrap());
        assert_eq!(nat.translate_outbound(inside), public);
        assert_eq!(nat.translate_inbound(public), Some(inside));
        assert_eq!(
            nat.translate_inbound("198.51.100.1:40001".parse().unwrap()),
            None
        );
    }

    #[test]
    fn rebind_changes_the_public_port() {
        let mut nat = Nat::new("198.51.100.1".parse().unwrap());
        let inside: SocketAddr = "10.0.0.1:4500".parse().unwrap();
        let before = nat.translate_outbound(inside);
        nat.rebind();
        assert_eq!(nat.translate_inbound(before), None);
        assert_ne!(nat.translate_outbound(inside), before);
    }
}
