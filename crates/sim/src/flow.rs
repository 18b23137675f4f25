//! Synthetic IP traffic through the nodes' real ESP data planes (`hitless-esp`): each packet
//! is a UDP datagram whose payload carries its flow and sequence number, encapsulated by the
//! sender's [`DataPlane`](hitless_esp::DataPlane), carried by the network, and decapsulated by
//! the receiver's. [`FlowStats`] counts what arrived, what was lost and where.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use hitless_esp::DropReason;
use hitless_sadb::ResourceId;

use crate::network::NodeId;
use crate::pcap::internet_checksum;

/// A stream of UDP packets at a constant rate.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Flow {
    /// Inner source address (inside the sender's traffic selectors).
    pub src: IpAddr,
    /// Inner destination address (inside the receiver's traffic selectors).
    pub dst: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// Packets per second of virtual time.
    pub rate: u32,
    /// Inner IP packet length in bytes (at least the headers and the 16-byte flow marker).
    pub size: usize,
    /// Stop after this long; `None` runs until [`crate::Sim::stop_flow`].
    pub duration: Option<Duration>,
    /// The RFC 9611 resource (data-plane worker) the sender encapsulates on.
    pub resource: Option<ResourceId>,
}

/// Identifies a flow of a simulation.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct FlowId(pub(crate) u32);

/// What became of a flow's packets so far.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct FlowStats {
    /// Packets handed to the sender's data plane.
    pub sent: u64,
    /// Distinct packets the receiver's data plane accepted.
    pub received: u64,
    /// Packets accepted more than once (anti-replay should make this zero).
    pub duplicated: u64,
    /// Packets accepted after one with a higher sequence number.
    pub reordered: u64,
    /// Packets on the network now.
    pub in_flight: u64,
    /// Packets the network dropped (loss, partition, MTU, NAT).
    pub network_dropped: u64,
    /// Packets the sender's data plane refused, by reason (no policy, no SA, …).
    pub encap_dropped: BTreeMap<&'static str, u64>,
    /// Packets the receiver's data plane refused, by reason (replayed, no SA, …). Includes the
    /// second copy of a packet the network duplicated.
    pub decap_dropped: BTreeMap<&'static str, u64>,
    /// Packets that could not be sent because the sender was crashed.
    pub sender_down: u64,
    /// Packets that arrived at a crashed receiver.
    pub receiver_down: u64,
}

/// The simulator's state of one flow.
#[derive(Debug)]
pub(crate) struct FlowState {
    pub(crate) from: NodeId,
    pub(crate) flow: Flow,
    pub(crate) started: Duration,
    pub(crate) next_seq: u64,
    pub(crate) stopped: bool,
    pub(crate) stats: FlowStats,
    highest: Option<u64>,
    seen: Vec<u64>,
}

impl Flow {
    /// A UDP flow of 100-byte packets between two inner addresses at `rate` packets/s, from
    /// port 40000 to port 9.
    pub fn udp(src: IpAddr, dst: IpAddr, rate: u32) -> Self {
        Self {
            src,
            dst,
            src_port: 40_000,
            dst_port: 9,
            rate,
            size: 100,
            duration: None,
            resource: None,
        }
    }

    /// With this inner packet size.
    #[must_use]
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// Stopping after `duration`.
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// On this resource.
    #[must_use]
    pub fn resource(mut self, resource: ResourceId) -> Self {
        self.resource = Some(resource);
        self
    }
}

impl FlowStats {
    /// Packets sent that did not arrive and are not on the way: refused by either data plane,
    /// dropped by the network, or sent to or from a crashed node.
    pub fn lost(&self) -> u64 {
        (self.sent + self.sender_down).saturating_sub(self.received + self.in_flight)
    }
}

impl FlowState {
    pub(crate) fn new(from: NodeId, flow: Flow, started: Duration) -> Self {
        Self {
            from,
            flow,
            started,
            next_seq: 0,
            stopped: false,
            stats: FlowStats::default(),
            highest: None,
            seen: Vec::new(),
        }
    }

    /// When the next packet is due, `None` when the flow is over.
    pub(crate) fn next_send(&self) -> Option<Duration> {
        if self.stopped || self.flow.rate == 0 {
            return None;
        }
        let offset = offset_of(self.next_seq, self.flow.rate);
        if self.flow.duration.is_some_and(|limit| offset >= limit) {
            return None;
        }
        Some(self.started + offset)
    }

    /// Records a packet the receiver accepted.
    pub(crate) fn accepted(&mut self, seq: u64) {
        let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        if self.seen[word] & bit != 0 {
            self.stats.duplicated += 1;
            return;
        }
        self.seen[word] |= bit;
        self.stats.received += 1;
        match self.highest {
            Some(highest) if seq < highest => self.stats.reordered += 1,
            _ => self.highest = Some(seq),
        }
    }

    pub(crate) fn encap_dropped(&mut self, reason: DropReason) {
        *self.stats.encap_dropped.entry(reason.as_str()).or_default() += 1;
    }

    pub(crate) fn decap_dropped(&mut self, reason: DropReason) {
        *self.stats.decap_dropped.entry(reason.as_str()).or_default() += 1;
    }
}

/// Offset of packet `seq` from the flow's start, without drift.
fn offset_of(seq: u64, rate: u32) -> Duration {
    let nanos = u128::from(seq) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Writes packet `seq` of flow `id` into `out` (cleared first): an IPv4 or IPv6 header, a UDP
/// header and the flow marker, padded to the flow's size. Returns false when the addresses'
/// families differ.
pub(crate) fn build_packet(flow: &Flow, id: FlowId, seq: u64, out: &mut Vec<u8>) -> bool {
    out.clear();
    let ip_header = if flow.src.is_ipv4() { 20 } else { 40 };
    let size = flow.size.max(ip_header + UDP_HEADER + MARKER_LEN);
    let udp_len = size - ip_header;
    let (Ok(udp_len16), Ok(total16)) = (u16::try_from(udp_len), u16::try_from(size)) else {
        return false;
    };
    match (flow.src, flow.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total16.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0x40, 0, 64, PROTO_UDP, 0, 0]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
            let checksum = internet_checksum(&[&out[..20]]);
            out[10..12].copy_from_slice(&checksum.to_be_bytes());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&udp_len16.to_be_bytes());
            out.extend_from_slice(&[PROTO_UDP, 64]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        _ => return false,
    }
    out.extend_from_slice(&flow.src_port.to_be_bytes());
    out.extend_from_slice(&flow.dst_port.to_be_bytes());
    out.extend_from_slice(&udp_len16.to_be_bytes());
    // No UDP checksum: the data plane does not check it, and the ESP ICV protects the packet.
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&id.0.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.resize(size, 0);
    true
}

/// The flow and sequence number in a decapsulated inner packet, if it is one of ours.
pub(crate) fn parse_packet(inner: &[u8]) -> Option<(FlowId, u64)> {
    let version = inner.first()? >> 4;
    let (header_len, protocol) = match version {
        4 => (usize::from(inner.first()? & 0x0f) * 4, *inner.get(9)?),
        6 => (40, *inner.get(6)?),
        _ => return None,
    };
    if protocol != PROTO_UDP {
        return None;
    }
    let marker = inner.get(header_len + UDP_HEADER..header_len + UDP_HEADER + MARKER_LEN)?;
    if marker[..4] != MAGIC {
        return None;
    }
    let id = u32::from_be_bytes(marker[4..8].try_into().ok()?);
    let seq = u64::from_be_bytes(marker[8..16].try_into().ok()?);
    Some((FlowId(id), seq))
}

const PROTO_UDP: u8 = 17;
const UDP_HEADER: usize = 8;
const MAGIC: [u8; 4] = *b"HLSF";
const MARKER_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_for_both_families() {
        for (src, dst) in [("10.1.0.1", "10.2.0.1"), ("fd00::1", "fd00::2")] {
            let flow = Flow::udp(src.parse().unwrap(), dst.parse().unwrap(), 100).size(200);
            let mut buf = Vec::new();
            assert!(build_packet(&flow, FlowId(3), 77, &mut buf));
            assert_eq!(buf.len(), 200);
            assert_eq!(parse_packet(&buf), Some((FlowId(3), 77)));
        }
        assert_eq!(parse_packet(&[0x45; 10]), None);
    }

    #[test]
    fn schedule_has_no_drift_and_ends() {
        let flow = Flow::udp("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), 3)
            .duration(Duration::from_secs(1));
        let mut state = FlowState::new(NodeId(0), flow, Duration::from_secs(5));
        let mut times = Vec::new();
        while let Some(at) = state.next_send() {
            times.push(at);
            state.next_seq += 1;
        }
        assert_eq!(times.len(), 3);
        assert_eq!(
            times[2],
            Duration::from_secs(5) + Duration::from_nanos(666_666_666)
        );
    }

    #[test]
    fn duplicates_and_reordering_are_counted() {
        let flow = Flow::udp("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), 1);
        let mut state = FlowState::new(NodeId(0), flow, Duration::ZERO);
        for seq in [0, 2, 1, 2, 200] {
            state.accepted(seq);
        }
        assert_eq!(
            (
                state.stats.received,
                state.stats.duplicated,
                state.stats.reordered
            ),
            (4, 1, 1)
        );
    }
}
