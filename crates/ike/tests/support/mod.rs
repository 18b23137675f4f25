//! A two-endpoint harness in quinn's `Pair` shape: two [`Endpoint`]s, a fake clock, queues of
//! datagrams in flight in each direction that a test can deliver, drop, duplicate, hold or
//! reorder, an optional NAT in front of `a`, and a small model of each side's SA backend.
//!
//! Self-contained (only the public API of `hitless-ike` and the insecure provider), so it can
//! move to `hitless-sim` as is.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
// The fake clock needs an origin; the engine itself never reads the time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::CryptoProvider;
use hitless_crypto::SecretBytes;
use hitless_ike::ChildSaId;
use hitless_ike::Config;
use hitless_ike::Datagram;
use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::Output;
use hitless_ike::Transmit;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::Connection;
use hitless_ike::config::StartAction;
use hitless_sadb::Direction;
use hitless_sadb::ReqId;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;

pub mod explore;
pub mod tamper;

/// Address of node `a`.
pub const A_IP: [u8; 4] = [192, 0, 2, 1];
/// Address of node `b`.
pub const B_IP: [u8; 4] = [198, 51, 100, 2];
/// Public address of the NAT in front of `a`.
pub const NAT_IP: [u8; 4] = [203, 0, 113, 7];

/// One side of the pair.
pub struct Node {
    /// Its name in failure messages.
    pub name: &'static str,
    /// The engine.
    pub endpoint: Endpoint,
    /// Its IP address.
    pub ip: IpAddr,
    /// Every output it produced, in order, with the time.
    pub log: Vec<(Instant, Output)>,
    /// Its SA backend.
    pub backend: Backend,
}

/// A datagram on the wire.
#[derive(Clone, Debug)]
pub struct Wire {
    /// Sender address as seen by the receiver.
    pub from: SocketAddr,
    /// Receiver address.
    pub to: SocketAddr,
    /// The IKE message (marker stripped) or keepalive.
    pub payload: Vec<u8>,
    /// The transmit it came from.
    pub transmit: Transmit,
}

/// A model of a backend: installed SAs, policies and routes.
#[derive(Debug, Default)]
pub struct Backend {
    /// Installed SAs.
    pub sas: BTreeMap<(Spi, Direction), SaSpec>,
    /// Policies by slot.
    pub policies: BTreeSet<ReqId>,
    /// Outbound route per slot.
    pub routes: BTreeMap<ReqId, Spi>,
}

/// Two endpoints and the network between them.
pub struct Pair {
    /// The initiator side.
    pub a: Node,
    /// The responder side.
    pub b: Node,
    /// The fake clock.
    pub now: Instant,
    /// Datagrams from `a` to `b` not yet delivered.
    pub to_b: VecDeque<Wire>,
    /// Datagrams from `b` to `a` not yet delivered.
    pub to_a: VecDeque<Wire>,
    /// NAT in front of `a`: private port → public port.
    pub nat: Option<BTreeMap<u16, u16>>,
    /// Drop everything from `b` to `a`.
    pub b_silent: bool,
    /// Drop everything from `a` to `b`.
    pub a_silent: bool,
}

impl Backend {
    fn apply(&mut self, command: &SaCommand) {
        match command {
            SaCommand::AddSa(spec) => {
                self.sas
                    .insert((spec.spi, spec.direction), (**spec).clone());
            }
            SaCommand::DeleteSa { spi, direction } => {
                self.sas.remove(&(*spi, *direction));
            }
            SaCommand::AddPolicy(policy) => {
                self.policies.insert(policy.reqid);
            }
            SaCommand::DeletePolicy { reqid } => {
                self.policies.remove(reqid);
                self.routes.remove(reqid);
            }
            SaCommand::RouteOutbound { reqid, spi, .. } => {
                self.routes.insert(*reqid, *spi);
            }
            SaCommand::UpdateAddresses {
                spi,
                direction,
                local,
                remote,
                udp_encap,
            } => {
                if let Some(spec) = self.sas.get_mut(&(*spi, *direction)) {
                    spec.local = *local;
                    spec.remote = *remote;
                    spec.udp_encap = *udp_encap;
                }
            }
            SaCommand::AdvanceSequence { .. } | SaCommand::SkipSequence { .. } => {}
        }
    }

    /// The installed inbound SPIs.
    pub fn inbound(&self) -> Vec<Spi> {
        self.sas
            .keys()
            .filter(|(_, d)| *d == Direction::Inbound)
            .map(|(s, _)| *s)
            .collect()
    }

    /// The installed outbound SPIs.
    pub fn outbound(&self) -> Vec<Spi> {
        self.sas
            .keys()
            .filter(|(_, d)| *d == Direction::Outbound)
            .map(|(s, _)| *s)
            .collect()
    }
}

impl Node {
    fn new(name: &'static str, config: Config, seed: u64, ip: [u8; 4]) -> Self {
        let crypto: Arc<CryptoProvider> = Arc::new(hitless_crypto_insecure::provider(seed));
        Self::with_crypto(name, config, crypto, ip)
    }

    /// A node with an explicit provider.
    pub fn with_crypto(
        name: &'static str,
        config: Config,
        crypto: Arc<CryptoProvider>,
        ip: [u8; 4],
    ) -> Self {
        Self {
            name,
            endpoint: Endpoint::new(Arc::new(config), crypto),
            ip: IpAddr::from(ip),
            log: Vec::new(),
            backend: Backend::default(),
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every SA command so far.
    pub fn commands(&self) -> Vec<SaCommand> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Sa(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every transmit so far.
    pub fn transmits(&self) -> Vec<Transmit> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Transmit(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The only IKE SA, which must be established.
    pub fn established(&self) -> IkeSaId {
        let sas: Vec<_> = self.endpoint.ike_sas().collect();
        assert_eq!(sas.len(), 1, "{}: expected one IKE SA: {sas:#?}", self.name);
        assert_eq!(sas[0].state, IkeSaState::Established, "{}", self.name);
        sas[0].id
    }

    /// The Child SAs of IKE SA `ike`, by id.
    pub fn children(&self, ike: IkeSaId) -> Vec<(ChildSaId, Spi, Spi)> {
        self.endpoint
            .ike_sa(ike)
            .map(|info| {
                info.children
                    .iter()
                    .map(|c| (c.id, c.spi_in, c.spi_out))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether any event matches.
    pub fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events().iter().any(f)
    }
}

impl Pair {
    /// Two nodes with the given configs, deterministic providers seeded `seed` and `seed + 1`.
    pub fn new(a: Config, b: Config, seed: u64) -> Self {
        Self::from_nodes(
            Node::new("a", a, seed, A_IP),
            Node::new("b", b, seed.wrapping_add(1), B_IP),
        )
    }

    /// A pair from two nodes.
    pub fn from_nodes(a: Node, b: Node) -> Self {
        Self {
            a,
            b,
            now: Instant::now(),
            to_b: VecDeque::new(),
            to_a: VecDeque::new(),
            nat: None,
            b_silent: false,
            a_silent: false,
        }
    }

    /// Puts `a` behind a NAT.
    pub fn with_nat(mut self) -> Self {
        self.nat = Some(BTreeMap::new());
        self
    }

    /// Collects both sides' outputs into the logs, backends and wires.
    pub fn drain(&mut self) {
        while let Some(output) = self.a.endpoint.poll_output() {
            self.collect(true, output);
        }
        while let Some(output) = self.b.endpoint.poll_output() {
            self.collect(false, output);
        }
    }

    fn collect(&mut self, from_a: bool, output: Output) {
        let now = self.now;
        let (node, peer_ip) = if from_a {
            (&mut self.a, self.b.ip)
        } else {
            (&mut self.b, self.a.ip)
        };
        if let Output::Sa(command) = &output {
            node.backend.apply(command);
        }
        if let Output::Transmit(t) = &output {
            let via_nat = !from_a && self.nat.is_some() && t.remote.ip() == IpAddr::from(NAT_IP);
            assert!(
                t.remote.ip() == peer_ip || via_nat,
                "{} sent to a stranger: {}",
                node.name,
                t.remote
            );
            let local_port = t.local.map_or(500, |l| l.port());
            let mut from = SocketAddr::new(node.ip, local_port);
            let to = t.remote;
            if from_a && let Some(nat) = &mut self.nat {
                let next = 40000 + u16::try_from(nat.len()).unwrap();
                let public = *nat.entry(local_port).or_insert(next);
                from = SocketAddr::new(IpAddr::from(NAT_IP), public);
            }
            let wire = Wire {
                from,
                to,
                payload: t.payload.clone(),
                transmit: t.clone(),
            };
            if from_a {
                if !self.a_silent {
                    self.to_b.push_back(wire);
                }
            } else if !self.b_silent {
                self.to_a.push_back(wire);
            }
        }
        let node = if from_a { &mut self.a } else { &mut self.b };
        node.log.push((now, output));
    }

    /// Delivers the next datagram to `b`.
    pub fn deliver_to_b(&mut self) -> bool {
        let Some(wire) = self.to_b.pop_front() else {
            return false;
        };
        self.inject_b(&wire);
        true
    }

    /// Delivers the next datagram to `a` (through the NAT).
    pub fn deliver_to_a(&mut self) -> bool {
        let Some(wire) = self.to_a.pop_front() else {
            return false;
        };
        self.inject_a(&wire);
        true
    }

    /// Hands `wire` to `b` now.
    pub fn inject_b(&mut self, wire: &Wire) {
        if wire.transmit.keepalive {
            self.drain();
            return;
        }
        let datagram = Datagram {
            local: wire.to,
            remote: wire.from,
            payload: &wire.payload,
        };
        self.b.endpoint.handle_datagram(self.now, datagram);
        self.drain();
    }

    /// Hands `wire` to `a` now, translating the NAT.
    pub fn inject_a(&mut self, wire: &Wire) {
        if wire.transmit.keepalive {
            self.drain();
            return;
        }
        let mut local = wire.to;
        if let Some(nat) = &self.nat {
            let private = nat
                .iter()
                .find(|(_, public)| **public == local.port())
                .map(|(private, _)| *private)
                .expect("NAT has no mapping");
            local = SocketAddr::new(self.a.ip, private);
        }
        let datagram = Datagram {
            local,
            remote: wire.from,
            payload: &wire.payload,
        };
        self.a.endpoint.handle_datagram(self.now, datagram);
        self.drain();
    }

    /// Delivers everything in flight, both ways, until nothing is left (at the current time).
    pub fn drive(&mut self) {
        self.drain();
        for _ in 0..10_000 {
            let moved = self.deliver_to_b() | self.deliver_to_a();
            if !moved {
                return;
            }
        }
        panic!("livelock: messages keep flowing");
    }

    /// Advances the clock by `d`, firing timers as they fall due and delivering traffic.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        let mut stuck = 0;
        loop {
            self.drive();
            let next = [
                self.a.endpoint.poll_timeout(),
                self.b.endpoint.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= end => {
                    // A timer that stays due after it fired would make a driver spin.
                    stuck = if at <= self.now { stuck + 1 } else { 0 };
                    assert!(stuck < 100, "a timer stays due at the same time");
                    self.now = self.now.max(at);
                    self.a.endpoint.handle_timeout(self.now);
                    self.b.endpoint.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.drive();
    }

    /// `a` initiates `connection` and everything runs to completion.
    pub fn connect(&mut self, connection: &str) -> IkeSaId {
        let id = self
            .a
            .endpoint
            .initiate(self.now, connection)
            .expect("initiate");
        self.drive();
        id
    }
}

/// The PSK both sides use by default.
pub fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"correct horse battery staple")
}

/// A /24 selector.
pub fn net(a: u8, b: u8, c: u8) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: IpAddr::V4(Ipv4Addr::new(a, b, c, 0)),
        end_address: IpAddr::V4(Ipv4Addr::new(a, b, c, 255)),
    }
}

/// A selector from `start` to `end`.
pub fn range(start: [u8; 4], end: [u8; 4]) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: IpAddr::from(start),
        end_address: IpAddr::from(end),
    }
}

/// A connection from `local` to `remote` with one tunnel Child SA "net" between 10.1.0.0/24
/// (a's side) and 10.2.0.0/24 (b's side), started at once.
pub fn connection(local: [u8; 4], remote: [u8; 4], a_side: bool) -> Connection {
    let mut connection = Connection::with_psk("gw", psk());
    connection.local_addrs = vec![IpAddr::from(local)];
    connection.remote_addrs = vec![IpAddr::from(remote)];
    let (mine, theirs) = if a_side {
        (net(10, 1, 0), net(10, 2, 0))
    } else {
        (net(10, 2, 0), net(10, 1, 0))
    };
    let mut child = ChildConfig::tunnel("net", vec![mine], vec![theirs]);
    child.start_action = StartAction::Start;
    connection.children.push(child);
    connection
}

/// The default config of `a`.
pub fn config_a() -> Config {
    Config {
        connections: vec![connection(A_IP, B_IP, true)],
        ..Config::default()
    }
}

/// The default config of `b`.
pub fn config_b() -> Config {
    Config {
        connections: vec![connection(B_IP, A_IP, false)],
        ..Config::default()
    }
}

/// A default pair.
pub fn pair() -> Pair {
    Pair::new(config_a(), config_b(), 1)
}

/// Asserts that both sides hold the same Child SAs, mirrored, with matching keys.
pub fn assert_children_match(pair: &Pair) {
    assert_eq!(pair.a.backend.inbound(), pair.b.backend.outbound());
    assert_eq!(pair.b.backend.inbound(), pair.a.backend.outbound());
    for ((spi, direction), spec) in &pair.a.backend.sas {
        let other = match direction {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        };
        let peer = &pair.b.backend.sas[&(*spi, other)];
        assert_eq!(spec.encr_key, peer.encr_key, "keys of {spi}");
        assert_eq!(spec.integ_key, peer.integ_key, "keys of {spi}");
        assert_eq!(spec.algorithms, peer.algorithms);
        assert_eq!(spec.mode, peer.mode);
        assert_eq!(spec.local_ts, peer.remote_ts);
        assert_eq!(spec.remote_ts, peer.local_ts);
    }
}
