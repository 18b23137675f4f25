//! The simulated network: nodes' addresses, directed links, NATs, and the packets in flight,
//! ordered by (arrival time, sequence number) so that equal arrival times resolve the same way in
//! every run.
//!
//! The network knows nothing of IKE or ESP: it moves [`Packet`]s between nodes on a virtual
//! timeline given by the caller. [`crate::Sim`] drives it.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::BinaryHeap;
use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::time::Duration;

use crate::link::DropCause;
use crate::link::Link;
use crate::link::LinkParams;
use crate::link::LinkStats;
use crate::link::Verdict;
use crate::nat::Nat;
use crate::rng::SimRng;

/// A node of the simulation, numbered in the order it was added.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct NodeId(pub(crate) u8);

/// What a packet carries above IP.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Transport {
    /// A UDP datagram (IKE on 500/4500, ESP-in-UDP on 4500, NAT keepalives).
    Udp,
    /// A bare ESP packet (IP protocol 50); ports in the addresses are ignored.
    Esp,
}

/// One packet on the network, as the receiving node will see it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Packet {
    /// The sending node.
    pub from: NodeId,
    /// The receiving node.
    pub to: NodeId,
    /// Source address (after NAT, if the sender is behind one).
    pub src: SocketAddr,
    /// Destination address (after NAT, if the receiver is behind one).
    pub dst: SocketAddr,
    /// UDP or bare ESP.
    pub transport: Transport,
    /// The UDP payload or the ESP packet.
    pub payload: Vec<u8>,
    /// When it was sent.
    pub sent_at: Duration,
    /// A number unique to this send; a duplicate keeps its original's.
    pub id: u64,
    /// For synthetic traffic: which flow and which packet of it (not on the wire; the sender
    /// knows it, and the simulator uses it to count packets the network drops).
    pub tag: Option<FlowTag>,
}

/// Which packet of which synthetic flow a packet carries.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct FlowTag {
    /// The flow's index.
    pub flow: u32,
    /// The packet's sequence number in the flow.
    pub seq: u64,
}

/// What became of a packet handed to [`Network::send`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SendOutcome {
    /// On its way; `copies` is 2 for a duplicated packet, `held_back` when reordering delays it.
    InFlight {
        /// The packet as it travels (NAT applied).
        packet: Packet,
        /// 1, or 2 when duplicated.
        copies: u8,
        /// Whether a copy was held back so that later packets overtake it.
        held_back: bool,
    },
    /// Queued for the test to deliver or drop (see [`Network::hold`]).
    Held(Packet),
    /// Dropped.
    Dropped(Packet, DropCause),
}

/// What [`Network::pop_next`] returns: a packet that arrived, or one that was in flight when its
/// link was cut.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Arrival {
    /// Reached its destination.
    Delivered(Packet),
    /// Dropped on the way.
    Dropped(Packet, DropCause),
}

/// The network: addresses, links, NATs, packets in flight and held packets.
#[derive(Debug)]
pub struct Network {
    seed: u64,
    addresses: BTreeMap<IpAddr, NodeId>,
    names: Vec<String>,
    links: BTreeMap<(NodeId, NodeId), Link>,
    nats: BTreeMap<NodeId, Nat>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    held: BTreeMap<NodeId, VecDeque<Packet>>,
    next_id: u64,
    next_seq: u64,
}

#[derive(Debug)]
struct InFlight {
    arrival: Duration,
    seq: u64,
    packet: Packet,
}

impl Network {
    /// An empty network whose random streams derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            addresses: BTreeMap::new(),
            names: Vec::new(),
            links: BTreeMap::new(),
            nats: BTreeMap::new(),
            in_flight: BinaryHeap::new(),
            held: BTreeMap::new(),
            next_id: 0,
            next_seq: 0,
        }
    }

    /// Adds a node. Names are for transcripts and random-stream labels.
    ///
    /// # Panics
    ///
    /// When more than 256 nodes are added.
    pub fn add_node(&mut self, name: &str) -> NodeId {
        let index = u8::try_from(self.names.len()).unwrap_or_else(|_| panic!("at most 256 nodes"));
        self.names.push(name.to_owned());
        NodeId(index)
    }

    /// Gives `node` an address. Packets to it are routed to `node`.
    pub fn add_address(&mut self, node: NodeId, address: IpAddr) {
        self.addresses.insert(address, node);
    }

    /// Joins `a` and `b` with a link, with parameters for each direction.
    pub fn connect(&mut self, a: NodeId, b: NodeId, a_to_b: LinkParams, b_to_a: LinkParams) {
        let forward = self.new_link(a, b, a_to_b);
        let backward = self.new_link(b, a, b_to_a);
        self.links.insert((a, b), forward);
        self.links.insert((b, a), backward);
    }

    /// Changes the parameters of one direction of a link (its random stream and counters stay).
    /// Returns false when there is no such link.
    pub fn set_params(&mut self, from: NodeId, to: NodeId, params: LinkParams) -> bool {
        match self.links.get_mut(&(from, to)) {
            Some(link) => {
                link.params = params;
                true
            }
            None => false,
        }
    }

    /// Puts `node` behind a NAT with this public address (which routes to `node`).
    pub fn set_nat(&mut self, node: NodeId, public: IpAddr) {
        self.add_address(node, public);
        self.nats.insert(node, Nat::new(public));
    }

    /// The NAT in front of `node`.
    pub fn nat(&self, node: NodeId) -> Option<&Nat> {
        self.nats.get(&node)
    }

    /// The NAT in front of `node`, to inspect or rebind it.
    pub fn nat_mut(&mut self, node: NodeId) -> Option<&mut Nat> {
        self.nats.get_mut(&node)
    }

    /// Cuts both directions between `a` and `b`: packets sent or due while cut are dropped.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.set_up(a, b, false);
    }

    /// Restores both directions between `a` and `b`.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.set_up(a, b, true);
    }

    /// From now on, packets from `from` to `to` are queued at `to` without delay or loss until
    /// the test delivers or drops them ([`Self::take_held`]).
    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        if let Some(link) = self.links.get_mut(&(from, to)) {
            link.held = true;
        }
    }

    /// Stops holding packets from `from` to `to`. Packets still held from `from` for `to` go on
    /// their way at `now` through the link (delay, loss and the rest apply), in the order they
    /// were sent; their outcomes are returned.
    pub fn release(&mut self, now: Duration, from: NodeId, to: NodeId) -> Vec<SendOutcome> {
        let Some(link) = self.links.get_mut(&(from, to)) else {
            return Vec::new();
        };
        link.held = false;
        let Some(queue) = self.held.get_mut(&to) else {
            return Vec::new();
        };
        let (released, kept): (VecDeque<Packet>, VecDeque<Packet>) =
            queue.drain(..).partition(|packet| packet.from == from);
        *queue = kept;
        released
            .into_iter()
            .map(|packet| {
                // Counted as sent when it was held.
                if let Some(link) = self.links.get_mut(&(from, to)) {
                    link.stats.sent -= 1;
                }
                self.transmit(now, packet)
            })
            .collect()
    }

    /// Sends a packet at `now`: routes it by destination address, applies NATs, then the link.
    pub fn send(
        &mut self,
        now: Duration,
        from: NodeId,
        src: SocketAddr,
        dst: SocketAddr,
        transport: Transport,
        payload: Vec<u8>,
        tag: Option<FlowTag>,
    ) -> SendOutcome {
        let id = self.next_id;
        self.next_id += 1;
        let to = self.addresses.get(&dst.ip()).copied().unwrap_or(from);
        let mut packet = Packet {
            from,
            to,
            src,
            dst,
            transport,
            payload,
            sent_at: now,
            id,
            tag,
        };
        if !self.addresses.contains_key(&dst.ip()) {
            return SendOutcome::Dropped(packet, DropCause::NoRoute);
        }
        if let Err(cause) = self.translate(&mut packet) {
            return SendOutcome::Dropped(packet, cause);
        }
        let Some(link) = self.links.get_mut(&(from, packet.to)) else {
            return SendOutcome::Dropped(packet, DropCause::NoLink);
        };
        if link.held {
            link.stats.sent += 1;
            link.stats.held += 1;
            self.held
                .entry(packet.to)
                .or_default()
                .push_back(packet.clone());
            return SendOutcome::Held(packet);
        }
        self.transmit(now, packet)
    }

    /// Puts a routed, translated packet through its link and in flight.
    fn transmit(&mut self, now: Duration, packet: Packet) -> SendOutcome {
        let ip_len = packet.ip_len();
        let Some(link) = self.links.get_mut(&(packet.from, packet.to)) else {
            return SendOutcome::Dropped(packet, DropCause::NoLink);
        };
        let arrivals = match link.transmit(now, ip_len) {
            Verdict::Drop(cause) => return SendOutcome::Dropped(packet, cause),
            Verdict::Deliver(arrivals) => arrivals,
        };
        let copies = u8::try_from(arrivals.len()).unwrap_or(u8::MAX);
        let held_back = arrivals.iter().any(|(_, held_back)| *held_back);
        for (arrival, _) in arrivals {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.in_flight.push(Reverse(InFlight {
                arrival,
                seq,
                packet: packet.clone(),
            }));
        }
        SendOutcome::InFlight {
            packet,
            copies,
            held_back,
        }
    }

    /// When the next packet in flight arrives.
    pub fn next_arrival(&self) -> Option<Duration> {
        self.in_flight.peek().map(|Reverse(next)| next.arrival)
    }

    /// Takes the next packet in flight, with its arrival time. A packet whose link is cut when
    /// it is due comes back as [`Arrival::Dropped`].
    pub fn pop_next(&mut self) -> Option<(Duration, Arrival)> {
        let Reverse(next) = self.in_flight.pop()?;
        let key = (next.packet.from, next.packet.to);
        let Some(link) = self.links.get_mut(&key) else {
            return Some((
                next.arrival,
                Arrival::Dropped(next.packet, DropCause::NoLink),
            ));
        };
        if !link.up {
            link.stats.partitioned += 1;
            return Some((
                next.arrival,
                Arrival::Dropped(next.packet, DropCause::Partition),
            ));
        }
        link.stats.delivered += 1;
        Some((next.arrival, Arrival::Delivered(next.packet)))
    }

    /// The next held packet for `to`, without taking it.
    pub fn peek_held(&self, to: NodeId) -> Option<&Packet> {
        self.held.get(&to).and_then(VecDeque::front)
    }

    /// Takes the next held packet for `to` (in the order they were sent), for the caller to
    /// deliver; counts it as delivered.
    pub fn take_held(&mut self, to: NodeId) -> Option<Packet> {
        let packet = self.held.get_mut(&to)?.pop_front()?;
        if let Some(link) = self.links.get_mut(&(packet.from, packet.to)) {
            link.stats.delivered += 1;
        }
        Some(packet)
    }

    /// Drops the next held packet for `to` and returns it.
    pub fn drop_held(&mut self, to: NodeId) -> Option<Packet> {
        let packet = self.held.get_mut(&to)?.pop_front()?;
        if let Some(link) = self.links.get_mut(&(packet.from, packet.to)) {
            link.stats.dropped_by_test += 1;
        }
        Some(packet)
    }

    /// How many packets are held for `to`.
    pub fn held_count(&self, to: NodeId) -> usize {
        self.held.get(&to).map_or(0, VecDeque::len)
    }

    /// How many packets are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Counters of the link from `from` to `to`.
    pub fn stats(&self, from: NodeId, to: NodeId) -> Option<LinkStats> {
        self.links.get(&(from, to)).map(|link| link.stats)
    }

    /// The parameters of the link from `from` to `to`.
    pub fn params(&self, from: NodeId, to: NodeId) -> Option<&LinkParams> {
        self.links.get(&(from, to)).map(|link| &link.params)
    }

    /// The name a node was added with.
    pub fn name(&self, node: NodeId) -> &str {
        self.names
            .get(usize::from(node.0))
            .map_or("?", String::as_str)
    }

    /// The node that owns `address`.
    pub fn route(&self, address: IpAddr) -> Option<NodeId> {
        self.addresses.get(&address).copied()
    }

    fn new_link(&self, from: NodeId, to: NodeId, params: LinkParams) -> Link {
        let label = format!("link {}→{}", self.name(from), self.name(to));
        Link::new(params, SimRng::new(self.seed, &label))
    }

    fn set_up(&mut self, a: NodeId, b: NodeId, up: bool) {
        for key in [(a, b), (b, a)] {
            if let Some(link) = self.links.get_mut(&key) {
                link.up = up;
            }
        }
    }

    /// Applies the sender's and the receiver's NATs.
    fn translate(&mut self, packet: &mut Packet) -> Result<(), DropCause> {
        if let Some(nat) = self.nats.get_mut(&packet.from)
            && packet.src.ip() != nat.public()
        {
            if packet.transport == Transport::Esp {
                return Err(DropCause::Nat);
            }
            packet.src = nat.translate_outbound(packet.src);
        }
        if let Some(nat) = self.nats.get(&packet.to)
            && packet.dst.ip() == nat.public()
        {
            if packet.transport == Transport::Esp {
                return Err(DropCause::Nat);
            }
            packet.dst = nat.translate_inbound(packet.dst).ok_or(DropCause::Nat)?;
        }
        Ok(())
    }
}

impl Packet {
    /// The size of the packet on the wire: outer IP header, UDP header if any, payload.
    pub fn ip_len(&self) -> usize {
        let ip = if self.dst.is_ipv4() { 20 } else { 40 };
        let udp = if self.transport == Transport::Udp {
            8
        } else {
            0
        };
        ip + udp + self.payload.len()
    }
}

impl NodeId {
    /// The node's index, in the order nodes were added.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.arrival, self.seq) == (other.arrival, other.seq)
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.arrival, self.seq).cmp(&(other.arrival, other.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Loss;

    struct Pair {
        net: Network,
        a: NodeId,
        b: NodeId,
        a_addr: SocketAddr,
        b_addr: SocketAddr,
    }

    fn pair(seed: u64, params: LinkParams) -> Pair {
        let mut net = Network::new(seed);
        let a = net.add_node("a");
        let b = net.add_node("b");
        let a_addr: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let b_addr: SocketAddr = "192.0.2.2:500".parse().unwrap();
        net.add_address(a, a_addr.ip());
        net.add_address(b, b_addr.ip());
        net.connect(a, b, params.clone(), params);
        Pair {
            net,
            a,
            b,
            a_addr,
            b_addr,
        }
    }

    /// Sends `count` numbered packets each way, 1 ms apart, and returns every arrival in order.
    fn trace(seed: u64, params: LinkParams, count: u32) -> Vec<(Duration, NodeId, Vec<u8>)> {
        let mut p = pair(seed, params);
        for i in 0..count {
            let now = Duration::from_millis(u64::from(i));
            let payload = i.to_be_bytes().to_vec();
            p.net.send(
                now,
                p.a,
                p.a_addr,
                p.b_addr,
                Transport::Udp,
                payload.clone(),
                None,
            );
            p.net
                .send(now, p.b, p.b_addr, p.a_addr, Transport::Udp, payload, None);
        }
        let mut arrivals = Vec::new();
        while let Some((at, arrival)) = p.net.pop_next() {
            if let Arrival::Delivered(packet) = arrival {
                arrivals.push((at, packet.to, packet.payload));
            }
        }
        arrivals
    }

    fn impaired() -> LinkParams {
        LinkParams::clean(Duration::from_millis(10))
            .with_jitter(Duration::from_millis(5))
            .with_loss(Loss::Random(0.1))
            .with_duplicate(0.05)
            .with_reorder(0.05)
    }

    #[test]
    fn same_seed_gives_an_identical_trace() {
        let first = trace(3, impaired(), 2000);
        assert_eq!(first, trace(3, impaired(), 2000));
        assert_ne!(first, trace(4, impaired(), 2000));
    }

    #[test]
    fn arrivals_come_in_time_order() {
        let arrivals = trace(5, impaired(), 2000);
        assert!(arrivals.windows(2).all(|w| w[0].0 <= w[1].0));
        let received = arrivals.iter().filter(|(_, to, _)| to.index() == 1).count();
        // 10% loss and 5% duplicates around 2000 packets.
        assert!((1_800..2_000).contains(&received), "{received}");
    }

    #[test]
    fn impairments_are_counted_per_direction() {
        let mut p = pair(9, impaired());
        for i in 0..10_000u64 {
            let now = Duration::from_micros(i * 100);
            p.net.send(
                now,
                p.a,
                p.a_addr,
                p.b_addr,
                Transport::Udp,
                vec![0; 100],
                None,
            );
        }
        while p.net.pop_next().is_some() {}
        let stats = p.net.stats(p.a, p.b).unwrap();
        assert_eq!(stats.sent, 10_000);
        assert!((900..1_100).contains(&stats.lost), "{stats:?}");
        assert!(stats.duplicated > 300 && stats.reordered > 300, "{stats:?}");
        assert_eq!(stats.delivered, stats.sent - stats.lost + stats.duplicated);
        assert_eq!(p.net.stats(p.b, p.a).unwrap().sent, 0);
    }

    #[test]
    fn partition_drops_everything_including_packets_in_flight() {
        let mut p = pair(1, LinkParams::default());
        p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            p.b_addr,
            Transport::Udp,
            vec![1],
            None,
        );
        p.net.partition(p.a, p.b);
        let outcome = p.net.send(
            Duration::ZERO,
            p.b,
            p.b_addr,
            p.a_addr,
            Transport::Udp,
            vec![2],
            None,
        );
        assert!(matches!(
            outcome,
            SendOutcome::Dropped(_, DropCause::Partition)
        ));
        assert!(matches!(
            p.net.pop_next(),
            Some((_, Arrival::Dropped(_, DropCause::Partition)))
        ));
        p.net.heal(p.a, p.b);
        p.net.send(
            Duration::ZERO,
            p.b,
            p.b_addr,
            p.a_addr,
            Transport::Udp,
            vec![3],
            None,
        );
        assert!(matches!(p.net.pop_next(), Some((_, Arrival::Delivered(_)))));
    }

    #[test]
    fn held_packets_wait_for_the_test() {
        let mut p = pair(1, LinkParams::default().with_loss(Loss::Random(1.0)));
        p.net.hold(p.a, p.b);
        for i in 0..3u8 {
            let outcome = p.net.send(
                Duration::ZERO,
                p.a,
                p.a_addr,
                p.b_addr,
                Transport::Udp,
                vec![i],
                None,
            );
            assert!(matches!(outcome, SendOutcome::Held(_)));
        }
        assert_eq!(p.net.next_arrival(), None);
        assert_eq!(p.net.held_count(p.b), 3);
        assert_eq!(p.net.drop_held(p.b).unwrap().payload, vec![0]);
        assert_eq!(p.net.peek_held(p.b).unwrap().payload, vec![1]);
        assert_eq!(p.net.take_held(p.b).unwrap().payload, vec![1]);
        // Released, the last held packet meets the link's 100% loss.
        let released = p.net.release(Duration::ZERO, p.a, p.b);
        assert!(
            matches!(&released[..], [SendOutcome::Dropped(packet, DropCause::Loss)] if packet.payload == vec![2])
        );
        assert_eq!(p.net.held_count(p.b), 0);
        let outcome = p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            p.b_addr,
            Transport::Udp,
            vec![9],
            None,
        );
        assert!(matches!(outcome, SendOutcome::Dropped(_, DropCause::Loss)));
        let stats = p.net.stats(p.a, p.b).unwrap();
        // Three held (one dropped by the test, one taken, one released into the loss), one sent.
        let counts = (
            stats.sent,
            stats.held,
            stats.dropped_by_test,
            stats.delivered,
            stats.lost,
        );
        assert_eq!(counts, (4, 3, 1, 1, 2));
    }

    #[test]
    fn unknown_destinations_and_missing_links_drop() {
        let mut p = pair(1, LinkParams::default());
        let nowhere: SocketAddr = "203.0.113.9:500".parse().unwrap();
        let outcome = p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            nowhere,
            Transport::Udp,
            vec![],
            None,
        );
        assert!(matches!(
            outcome,
            SendOutcome::Dropped(_, DropCause::NoRoute)
        ));
        let c = p.net.add_node("c");
        p.net.add_address(c, nowhere.ip());
        let outcome = p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            nowhere,
            Transport::Udp,
            vec![],
            None,
        );
        assert!(matches!(
            outcome,
            SendOutcome::Dropped(_, DropCause::NoLink)
        ));
    }

    #[test]
    fn nat_rewrites_both_ways_and_blocks_bare_esp() {
        let mut p = pair(1, LinkParams::default());
        let public: IpAddr = "198.51.100.1".parse().unwrap();
        p.net.set_nat(p.a, public);
        let out = p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            p.b_addr,
            Transport::Udp,
            vec![1],
            None,
        );
        let SendOutcome::InFlight { packet, .. } = out else {
            panic!("{out:?}")
        };
        assert_eq!(packet.src, SocketAddr::new(public, 40_000));
        let back = p.net.send(
            Duration::ZERO,
            p.b,
            p.b_addr,
            packet.src,
            Transport::Udp,
            vec![2],
            None,
        );
        let SendOutcome::InFlight { packet, .. } = back else {
            panic!("{back:?}")
        };
        assert_eq!((packet.to, packet.dst), (p.a, p.a_addr));
        let esp = p.net.send(
            Duration::ZERO,
            p.a,
            p.a_addr,
            p.b_addr,
            Transport::Esp,
            vec![3],
            None,
        );
        assert!(matches!(esp, SendOutcome::Dropped(_, DropCause::Nat)));
        p.net.nat_mut(p.a).unwrap().rebind();
        let stale = SocketAddr::new(public, 40_000);
        let lost = p.net.send(
            Duration::ZERO,
            p.b,
            p.b_addr,
            stale,
            Transport::Udp,
            vec![4],
            None,
        );
        assert!(matches!(lost, SendOutcome::Dropped(_, DropCause::Nat)));
    }
}
