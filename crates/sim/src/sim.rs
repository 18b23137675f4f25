//! The simulation: a virtual clock, nodes, the network, the transcript, and the loop that
//! drives them (ARCHITECTURE.md §2.9).
//!
//! [`Sim::step`] processes the earliest of: the next packet arrival, the earliest engine timer.
//! Ties go to packets, then to timers in node order, so that a run is a pure function of the
//! seed and the test's actions.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use hitless_ike::ApiError;
use hitless_ike::ChildSaState;
use hitless_ike::Datagram;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::IkeSpis;
use hitless_ike::Output;
use hitless_ike::Transmit;
use hitless_sadb::BackendError;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::IkeSpi;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;
use hitless_sadb::keylog;
use hitless_sadb::keylog::EspSaKeys;
use hitless_wire::esp::NON_ESP_MARKER;
use hitless_wire::esp::Udp4500;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::PayloadType;

use crate::flow;
use crate::flow::Flow;
use crate::flow::FlowId;
use crate::flow::FlowState;
use crate::flow::FlowStats;
use crate::ike_view::KeyStore;
use crate::invariant;
use crate::invariant::Invariant;
use crate::invariant::Violation;
use crate::link::DropCause;
use crate::link::LinkParams;
use crate::network::Arrival;
use crate::network::FlowTag;
use crate::network::Network;
use crate::network::NodeId;
use crate::network::Packet;
use crate::network::SendOutcome;
use crate::network::Transport;
use crate::node::Node;
use crate::node::NodeConfig;
use crate::pcap;
use crate::pcap::Capture;
use crate::transcript::Fate;
use crate::transcript::Transcript;

/// A deterministic simulation of IKE nodes on a network.
pub struct Sim {
    seed: u64,
    start: Instant,
    now: Duration,
    net: Network,
    nodes: Vec<Node>,
    transcript: Transcript,
    keys: KeyStore,
    pending: Vec<PendingSummary>,
    capture: CaptureMode,
    captures: Vec<Capture>,
    esp_keys: BTreeMap<(Spi, IpAddr, IpAddr), EspSaKeys>,
    invariants: Vec<Box<dyn Invariant>>,
    checks: bool,
    record: bool,
    violation: Option<Violation>,
    ike_in_flight: usize,
    spins: (Duration, u32),
    flows: Vec<FlowState>,
    buffer: Vec<u8>,
    packet: Vec<u8>,
}

/// What [`Sim::step`] did.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Step {
    /// A packet reached a node.
    Delivered {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
    },
    /// A packet in flight was dropped (its link was cut, or its receiver is crashed).
    Dropped {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
    },
    /// A node's engine timer fired.
    Timer(NodeId),
    /// A flow sent a packet.
    Flow(FlowId),
    /// Nothing is scheduled: no packet in flight and no timer armed.
    Idle,
}

/// Which packets [`Sim::write_pcap`] will contain.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum CaptureMode {
    /// Nothing (the cheapest).
    Off,
    /// IKE messages and NAT keepalives. The default.
    #[default]
    Ike,
    /// Everything, ESP included.
    All,
}

/// Why a run stopped before its goal: the time limit passed, nothing was left to do, an
/// invariant failed, or the test said so ([`Sim::failure`]). Its `Display` has everything
/// needed to reproduce and read the failure: the seed, the reason and the transcript.
#[derive(Clone, Debug)]
pub struct Stalled {
    /// The simulation seed (rerun with `SIM_SEEDS=<seed>`).
    pub seed: u64,
    /// Virtual time when it stopped.
    pub at: Duration,
    /// Why.
    pub reason: String,
    /// The transcript (its last lines for long runs).
    pub transcript: String,
}

/// A transcript line whose summary waits for its IKE SA's keys.
#[derive(Debug)]
struct PendingSummary {
    entry: usize,
    spis: (u64, u64),
    node: NodeId,
    message: Vec<u8>,
}

/// What a drain of one node's output queue saw, for the ordering checks.
#[derive(Debug, Default)]
struct DrainLog {
    /// Position of each inbound SA installed in this drain.
    inbound_added: BTreeMap<Spi, usize>,
    /// Position of the first IKE_AUTH or CREATE_CHILD_SA response transmitted.
    first_response: Option<usize>,
    /// Position counter.
    position: usize,
}

impl Sim {
    /// An empty simulation. Every random decision derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            // The base of virtual time. Engines only ever see it plus a virtual offset and
            // never print absolute instants, so runs stay reproducible.
            start: Instant::now(),
            now: Duration::ZERO,
            net: Network::new(seed),
            nodes: Vec::new(),
            transcript: Transcript::new(),
            keys: KeyStore::default(),
            pending: Vec::new(),
            capture: CaptureMode::default(),
            captures: Vec::new(),
            esp_keys: BTreeMap::new(),
            invariants: invariant::builtin(),
            checks: true,
            record: true,
            violation: None,
            ike_in_flight: 0,
            spins: (Duration::ZERO, 0),
            flows: Vec::new(),
            buffer: vec![0; hitless_esp::HEADROOM + MAX_PACKET + hitless_esp::TAILROOM],
            packet: Vec::with_capacity(MAX_PACKET),
        }
    }

    /// Adds a node with its engine and backend, and gives it its addresses.
    pub fn add_node(&mut self, name: &str, config: NodeConfig) -> NodeId {
        let id = self.net.add_node(name);
        for address in &config.addresses {
            self.net.add_address(id, *address);
        }
        self.nodes.push(Node::new(id, name, config, self.seed));
        id
    }

    /// Joins two nodes with a link.
    pub fn link(&mut self, a: NodeId, b: NodeId, a_to_b: LinkParams, b_to_a: LinkParams) {
        self.net.connect(a, b, a_to_b, b_to_a);
    }

    /// Changes one direction of a link.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, params: LinkParams) {
        self.net.set_params(from, to, params);
        self.note(
            "test",
            format!("link {}→{} changed", self.name(from), self.name(to)),
        );
    }

    /// Cuts both directions between two nodes.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.net.partition(a, b);
        self.note(
            "test",
            format!("partition {} | {}", self.name(a), self.name(b)),
        );
    }

    /// Restores both directions between two nodes.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.net.heal(a, b);
        self.note("test", format!("heal {} | {}", self.name(a), self.name(b)));
    }

    /// Puts `node` behind a NAT with this public address.
    pub fn set_nat(&mut self, node: NodeId, public: IpAddr) {
        self.net.set_nat(node, public);
    }

    /// Moves `address` to `node` (a cluster's virtual IP taken over by another node, as
    /// keepalived does with VRRP): packets to it go to `node` from now on.
    pub fn move_address(&mut self, address: IpAddr, node: NodeId) {
        self.net.add_address(node, address);
        self.note_node(node, format!("takes address {address}"));
    }

    /// The public address the NAT in front of `node` currently maps `private` to.
    pub fn nat_mapping(&self, node: NodeId, private: SocketAddr) -> Option<SocketAddr> {
        self.net.nat(node)?.mapping(private)
    }

    /// Makes the NAT in front of `node` forget its mappings (new public ports from now on).
    pub fn nat_rebind(&mut self, node: NodeId) {
        if let Some(nat) = self.net.nat_mut(node) {
            nat.rebind();
            self.note("test", format!("NAT of {} rebinds", self.name(node)));
        }
    }

    /// Holds packets from `from` to `to` for message-level stepping.
    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        self.net.hold(from, to);
    }

    /// Stops holding packets from `from` to `to`; those still held go on their way now, through
    /// the link.
    pub fn release(&mut self, from: NodeId, to: NodeId) {
        let outcomes = self.net.release(self.now, from, to);
        if !outcomes.is_empty() {
            let text = format!("{} held packets released", outcomes.len());
            self.note_node(from, text);
        }
        for outcome in outcomes {
            let (packet, copies) = match &outcome {
                SendOutcome::InFlight { packet, copies, .. } => (packet, *copies),
                SendOutcome::Dropped(packet, _) => (packet, 0),
                SendOutcome::Held(packet) => (packet, 1),
            };
            if is_ike(packet) {
                self.ike_in_flight += usize::from(copies);
            }
            if let Some(tag) = packet.tag {
                let stats = &mut self.flow_mut(tag).stats;
                // It was counted in flight once while held.
                stats.in_flight = stats.in_flight + u64::from(copies) - 1;
                if copies == 0 {
                    stats.network_dropped += 1;
                }
            }
        }
    }

    /// The next held packet for `to`, without delivering it.
    pub fn peek_next(&self, to: NodeId) -> Option<&Packet> {
        self.net.peek_held(to)
    }

    /// Delivers the next held packet for `to` now and drains the receiver.
    pub fn deliver_next(&mut self, to: NodeId) -> Option<Packet> {
        let packet = self.net.take_held(to)?;
        if let Some(tag) = packet.tag {
            self.flow_mut(tag).stats.in_flight -= 1;
        }
        self.note_held(&packet, Fate::DeliveredByTest);
        self.deliver(packet.clone());
        self.after_step(true);
        Some(packet)
    }

    /// Drops the next held packet for `to`.
    pub fn drop_next(&mut self, to: NodeId) -> Option<Packet> {
        let packet = self.net.drop_held(to)?;
        if let Some(tag) = packet.tag {
            let stats = &mut self.flow_mut(tag).stats;
            stats.in_flight -= 1;
            stats.network_dropped += 1;
        }
        self.note_held(&packet, Fate::DroppedByTest);
        Some(packet)
    }

    /// Sends a datagram from `from` as if its node had sent it (a scripted message, for
    /// example a responder's cookie demand): it travels the link like any other.
    pub fn inject(&mut self, from: NodeId, src: SocketAddr, dst: SocketAddr, payload: Vec<u8>) {
        self.send(from, src, dst, Transport::Udp, payload, true, None);
    }

    /// Runs `action` on a node's engine at the current virtual time, then drains its outputs.
    /// This is how a test issues commands: `sim.act(a, |ike, now| ike.rekey_child(now, id))`.
    pub fn act<R>(
        &mut self,
        node: NodeId,
        action: impl FnOnce(&mut hitless_ike::Endpoint, Instant) -> R,
    ) -> R {
        let now = self.instant();
        let result = action(&mut self.nodes[node.index()].ike, now);
        self.drain(node);
        self.after_step(true);
        result
    }

    /// Calls [`Endpoint::start`](hitless_ike::Endpoint::start) on a node (its config's start
    /// actions).
    pub fn start(&mut self, node: NodeId) {
        self.act(node, |ike, now| ike.start(now));
    }

    /// Initiates `connection` on `node`.
    ///
    /// # Errors
    ///
    /// What [`Endpoint::initiate`](hitless_ike::Endpoint::initiate) returns.
    pub fn initiate(&mut self, node: NodeId, connection: &str) -> Result<IkeSaId, ApiError> {
        self.note_node(node, format!("initiate {connection}"));
        self.act(node, |ike, now| ike.initiate(now, connection))
    }

    /// Delivers a backend event to a node's engine now (an expiry, a first use).
    pub fn backend_event(&mut self, node: NodeId, event: BackendEvent) {
        self.act(node, |ike, now| ike.handle_backend_event(now, event));
    }

    /// Applies an SA command to a node's backend directly, bypassing its engine (static SAs
    /// for data-plane tests, or a test that corrupts backend state on purpose).
    ///
    /// # Errors
    ///
    /// When the backend refuses the command.
    pub fn apply_sa_command(
        &mut self,
        node: NodeId,
        command: &SaCommand,
    ) -> Result<(), BackendError> {
        let now = self.now;
        self.nodes[node.index()].backend.apply(now, command)
    }

    /// Crashes a node: from now on it receives nothing and its timers do not fire. Its state
    /// stays readable.
    pub fn crash(&mut self, node: NodeId) {
        self.nodes[node.index()].crashed = true;
        self.note_node(node, "crashed");
    }

    /// Restarts a crashed (or running) node with a fresh engine and backend from its config,
    /// and performs its start actions.
    pub fn restart(&mut self, node: NodeId) {
        let seed = self.seed;
        self.nodes[node.index()].restart(seed);
        self.note_node(node, "restarted");
        self.start(node);
    }

    /// Starts synthetic traffic from `from` to `to` through their userspace data planes, from
    /// now on. Its packets must match a Child SA's traffic selectors to be protected.
    ///
    /// # Errors
    ///
    /// [`FlowError`] when either node has no userspace data plane or the addresses' families
    /// differ.
    pub fn start_flow(
        &mut self,
        from: NodeId,
        to: NodeId,
        flow: Flow,
    ) -> Result<FlowId, FlowError> {
        for node in [from, to] {
            if self.nodes[node.index()].backend.data_plane().is_none() {
                return Err(FlowError::NoDataPlane(self.name(node).to_owned()));
            }
        }
        if flow.src.is_ipv4() != flow.dst.is_ipv4() {
            return Err(FlowError::MixedFamilies);
        }
        let id = FlowId(u32::try_from(self.flows.len()).map_err(|_| FlowError::TooMany)?);
        let text = format!(
            "flow {} {}→{} starts: {} → {} at {} packets/s",
            id.0,
            self.name(from),
            self.name(to),
            flow.src,
            flow.dst,
            flow.rate
        );
        self.note("test", text);
        self.flows.push(FlowState::new(from, flow, self.now));
        Ok(id)
    }

    /// Stops a flow (packets on the way still arrive).
    pub fn stop_flow(&mut self, flow: FlowId) {
        if let Some(state) = self.flows.get_mut(flow.0 as usize) {
            state.stopped = true;
        }
    }

    /// What became of a flow's packets so far.
    ///
    /// # Panics
    ///
    /// For a `FlowId` of another simulation.
    pub fn flow_stats(&self, flow: FlowId) -> &FlowStats {
        &self.flows[flow.0 as usize].stats
    }

    /// Processes the next packet arrival or timer, whichever is earlier.
    pub fn step(&mut self) -> Step {
        let Some((at, source)) = self.next_event() else {
            return Step::Idle;
        };
        self.now = self.now.max(at);
        match source {
            Source::Network => {
                let Some((_, arrival)) = self.net.pop_next() else {
                    return Step::Idle;
                };
                match arrival {
                    Arrival::Delivered(packet) => {
                        let (from, to) = (packet.from, packet.to);
                        if let Some(tag) = packet.tag {
                            self.flow_mut(tag).stats.in_flight -= 1;
                        }
                        if is_ike(&packet) {
                            self.ike_in_flight = self.ike_in_flight.saturating_sub(1);
                        }
                        let touched = self.deliver(packet);
                        self.after_step(touched);
                        if touched {
                            Step::Delivered { from, to }
                        } else {
                            Step::Dropped { from, to }
                        }
                    }
                    Arrival::Dropped(packet, cause) => {
                        if let Some(tag) = packet.tag {
                            let stats = &mut self.flow_mut(tag).stats;
                            stats.in_flight -= 1;
                            stats.network_dropped += 1;
                        }
                        if is_ike(&packet) {
                            self.ike_in_flight = self.ike_in_flight.saturating_sub(1);
                            let text = format!(
                                "{}→{} dropped in flight: {cause:?}",
                                self.name(packet.from),
                                self.name(packet.to)
                            );
                            self.note("net", text);
                        }
                        Step::Dropped {
                            from: packet.from,
                            to: packet.to,
                        }
                    }
                }
            }
            Source::Flow(index) => {
                let touched = self.send_flow_packet(index);
                self.after_step(touched);
                Step::Flow(FlowId(u32::try_from(index).unwrap_or(u32::MAX)))
            }
            Source::Timer(node) => {
                self.count_spin(node);
                let now = self.instant();
                self.nodes[node.index()].ike.handle_timeout(now);
                self.drain(node);
                self.after_step(true);
                Step::Timer(node)
            }
        }
    }

    /// Runs for `duration` of virtual time.
    ///
    /// # Errors
    ///
    /// When an invariant is violated.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), Stalled> {
        let until = self.now + duration;
        while let Some((at, _)) = self.next_event() {
            if at > until {
                break;
            }
            self.step();
            self.check_violation()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs until `done` holds, and returns the virtual time it took. Checks `done` before every
    /// step.
    ///
    /// # Errors
    ///
    /// [`Stalled`] when `limit` of virtual time passes, when nothing is left to do, or when an
    /// invariant is violated.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<Duration, Stalled> {
        let started = self.now;
        let deadline = started + limit;
        loop {
            self.check_violation()?;
            if done(self) {
                return Ok(self.now - started);
            }
            match self.next_event() {
                Some((at, _)) if at <= deadline => {
                    self.step();
                }
                Some(_) => {
                    self.now = deadline;
                    return Err(self.failure(format!("not done after {limit:?}")));
                }
                None => return Err(self.failure("nothing left to do (no packet, no timer)")),
            }
        }
    }

    /// Runs until nothing is scheduled before `limit` passes: no packet in flight and no timer
    /// due. Engines with periodic timers (DPD, rekeys) never go idle, so this stops at `limit`
    /// for them; it is for flows that end.
    ///
    /// # Errors
    ///
    /// When an invariant is violated.
    pub fn run_until_idle(&mut self, limit: Duration) -> Result<(), Stalled> {
        let deadline = self.now + limit;
        while let Some((at, _)) = self.next_event() {
            if at > deadline {
                break;
            }
            self.step();
            self.check_violation()?;
        }
        Ok(())
    }

    /// A failure of this run with `reason`, the seed and the transcript: what a scenario
    /// returns when its own check fails.
    pub fn failure(&self, reason: impl Into<String>) -> Stalled {
        Stalled {
            seed: self.seed,
            at: self.now,
            reason: reason.into(),
            transcript: self.transcript.tail(TRANSCRIPT_LINES_IN_FAILURES),
        }
    }

    /// Adds an invariant, checked after every step that gave an engine input.
    pub fn add_invariant(&mut self, invariant: Box<dyn Invariant>) {
        self.invariants.push(invariant);
    }

    /// Turns invariant and ordering checks on or off (off for large measurements).
    pub fn set_checks(&mut self, on: bool) {
        self.checks = on;
    }

    /// Turns the transcript (and the key harvesting that decrypts it) on or off. Off, a run
    /// keeps no per-message state: for measurements with many SAs.
    pub fn set_transcript(&mut self, on: bool) {
        self.record = on;
    }

    /// Chooses what the capture records.
    pub fn set_capture(&mut self, mode: CaptureMode) {
        self.capture = mode;
    }

    /// Writes the capture of the run so far as a pcap file (LINKTYPE_RAW).
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_pcap(&self, path: &Path) -> io::Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = io::BufWriter::new(fs::File::create(path)?);
        pcap::write_pcap(&mut out, &self.captures)
    }

    /// Writes Wireshark's IKEv2 and ESP decryption tables for the capture into directory `dir`
    /// (use it as `WIRESHARK_CONFIG_DIR`). Only meaningful with [`CryptoChoice::AwsLc`]
    /// nodes: the insecure provider's ciphers are not the real ones.
    ///
    /// [`CryptoChoice::AwsLc`]: crate::node::CryptoChoice::AwsLc
    ///
    /// # Errors
    ///
    /// When the files cannot be written.
    pub fn write_keylog(&self, dir: &Path) -> io::Result<()> {
        let esp: Vec<EspSaKeys> = self.esp_keys.values().cloned().collect();
        fs::create_dir_all(dir)?;
        fs::write(
            dir.join(keylog::IKEV2_TABLE_FILE),
            keylog::ikev2_decryption_table(&self.keys.wireshark()).expose(),
        )?;
        fs::write(
            dir.join(keylog::ESP_TABLE_FILE),
            keylog::esp_sa_table(&esp).expose(),
        )?;
        fs::write(dir.join(keylog::PREFERENCES_FILE), keylog::PREFERENCES)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// The current virtual time as the engines see it.
    pub fn instant(&self) -> Instant {
        self.start + self.now
    }

    /// A node.
    pub fn node(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.index()]
    }

    /// A node, read-only.
    pub fn node_ref(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Every node.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        self.net.name(id)
    }

    /// The network, for link counters.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Adds a note to the transcript.
    pub fn note(&mut self, who: &str, text: impl Into<String>) {
        if self.record {
            self.transcript.note(self.now, who, text);
        }
    }

    /// Adds a note about a node to the transcript.
    fn note_node(&mut self, node: NodeId, text: impl Into<String>) {
        let name = self.name(node).to_owned();
        self.note(&name, text);
    }

    /// Whether the IKE side is at rest: no IKE message in flight or held, every IKE SA of every
    /// running node established, and every Child SA installed (or replaced and lingering).
    pub fn is_quiescent(&self) -> bool {
        if self.ike_in_flight > 0 {
            return false;
        }
        self.nodes.iter().filter(|node| !node.crashed).all(|node| {
            self.net.held_count(node.id) == 0
                && node.ike.ike_sas().all(|ike| {
                    matches!(ike.state, IkeSaState::Established | IkeSaState::Passive)
                        && ike.children.iter().all(|child| {
                            matches!(child.state, ChildSaState::Installed | ChildSaState::Rekeyed)
                        })
                })
        })
    }

    /// The IKE SA keys learnt so far (for decrypting transcripts), by SPI pair.
    pub fn knows_keys(&self, spis: IkeSpis) -> bool {
        self.keys.knows((spis.initiator.0, spis.responder.0))
    }

    fn next_event(&self) -> Option<(Duration, Source)> {
        let mut next = self.net.next_arrival().map(|at| (at, Source::Network));
        for node in self.nodes.iter().filter(|node| !node.crashed) {
            let Some(deadline) = node.ike.poll_timeout() else {
                continue;
            };
            let at = deadline.saturating_duration_since(self.start).max(self.now);
            if next.as_ref().is_none_or(|(best, _)| at < *best) {
                next = Some((at, Source::Timer(node.id)));
            }
        }
        for (index, flow) in self.flows.iter().enumerate() {
            let Some(at) = flow.next_send() else {
                continue;
            };
            let at = at.max(self.now);
            if next.as_ref().is_none_or(|(best, _)| at < *best) {
                next = Some((at, Source::Flow(index)));
            }
        }
        next
    }

    /// Hands a packet to its receiver. Returns whether an engine got input.
    fn deliver(&mut self, packet: Packet) -> bool {
        let node = &mut self.nodes[packet.to.index()];
        if node.crashed {
            if let Some(tag) = packet.tag {
                self.flow_mut(tag).stats.receiver_down += 1;
            }
            return false;
        }
        let now = self.start + self.now;
        let message: &[u8] = match packet.transport {
            Transport::Esp => return self.deliver_esp(&packet),
            Transport::Udp if packet.dst.port() == NAT_T_PORT => {
                match hitless_wire::esp::classify_udp4500(&packet.payload) {
                    Udp4500::Ike(message) => message,
                    Udp4500::Esp(_) => return self.deliver_esp(&packet),
                    Udp4500::Keepalive | Udp4500::Invalid => return false,
                }
            }
            Transport::Udp => &packet.payload,
        };
        let datagram = Datagram {
            local: packet.dst,
            remote: packet.src,
            payload: message,
        };
        node.ike.handle_datagram(now, datagram);
        self.drain(packet.to);
        true
    }

    /// Drains a node's output queue (and its backend's events) completely, in order.
    fn drain(&mut self, id: NodeId) -> bool {
        let now = self.now;
        let instant = self.instant();
        let mut transmits = Vec::new();
        let mut events = Vec::new();
        let mut log = DrainLog::default();
        let node = &mut self.nodes[id.index()];
        loop {
            if let Some(output) = node.ike.poll_output() {
                log.position += 1;
                match output {
                    Output::Transmit(transmit) => {
                        if log.first_response.is_none() && announces_child(&transmit) {
                            log.first_response = Some(log.position);
                        }
                        transmits.push(transmit);
                    }
                    Output::Sa(command) => {
                        if let SaCommand::AddSa(spec) = &command {
                            if spec.direction == Direction::Inbound {
                                log.inbound_added.entry(spec.spi).or_insert(log.position);
                            }
                            let keys = EspSaKeys::from_spec(spec);
                            self.esp_keys.insert((keys.spi, keys.src, keys.dst), keys);
                        }
                        if let Err(error) = node.backend.apply(now, &command) {
                            let failed = install_failed(&command, &error);
                            node.backend_errors.push((now, command, error));
                            if let Some(event) = failed {
                                node.ike.handle_backend_event(instant, event);
                            }
                        }
                    }
                    Output::Event(event) => events.push(event),
                }
                continue;
            }
            if let Some(event) = node.backend.poll_event() {
                log.position += 1;
                node.ike.handle_backend_event(instant, event);
                continue;
            }
            break;
        }
        if log.position == 0 {
            return false;
        }
        for transmit in transmits {
            self.transmit(id, transmit);
        }
        self.record_events(id, events);
        if self.checks {
            self.check_inbound_before_response(id, &log);
        }
        true
    }

    fn transmit(&mut self, id: NodeId, transmit: Transmit) {
        let node = &self.nodes[id.index()];
        // An unspecified or missing source address is the driver's choice (the socket's).
        let chosen = match transmit.local {
            Some(local) if !local.ip().is_unspecified() => Some(local),
            Some(local) => node
                .default_local(transmit.remote)
                .map(|default| SocketAddr::new(default.ip(), local.port())),
            None => node.default_local(transmit.remote),
        };
        let Some(local) = chosen else {
            self.note(
                &node.name.clone(),
                format!("no local address to reach {}", transmit.remote),
            );
            return;
        };
        if self.checks
            && !transmit.keepalive
            && let Ok(header) = hitless_wire::ike::parse_header(&transmit.payload)
        {
            let spis = IkeSpis {
                initiator: IkeSpi(header.spi_i),
                responder: IkeSpi(header.spi_r),
            };
            // Only messages protected by the SA count: an unprotected INVALID_IKE_SPI answer to
            // a stray message copies the dead SA's SPIs (RFC 7296 §2.21.4) and is fine.
            if matches!(header.next_payload, PayloadType::SK | PayloadType::SKF)
                && node.gone.contains(&spis)
            {
                let detail = format!(
                    "{} transmitted for IKE SA {spis}, which it reported gone",
                    node.name
                );
                self.violate("no transmit for a deleted IKE SA", detail);
            }
        }
        let mut payload = transmit.payload;
        if transmit.non_esp_marker {
            let mut framed = NON_ESP_MARKER.to_vec();
            framed.append(&mut payload);
            payload = framed;
        }
        self.send(
            id,
            local,
            transmit.remote,
            Transport::Udp,
            payload,
            !transmit.keepalive,
            None,
        );
    }

    /// Sends a packet into the network and records it in the transcript and the capture.
    fn send(
        &mut self,
        from: NodeId,
        src: SocketAddr,
        dst: SocketAddr,
        transport: Transport,
        payload: Vec<u8>,
        ike: bool,
        tag: Option<FlowTag>,
    ) {
        let message = if ike && self.record {
            let offset = if dst.port() == NAT_T_PORT && payload.starts_with(&NON_ESP_MARKER) {
                4
            } else {
                0
            };
            Some(payload[offset..].to_vec())
        } else {
            None
        };
        let captured = match self.capture {
            CaptureMode::All => Some(payload.clone()),
            CaptureMode::Ike if transport == Transport::Udp && tag.is_none() => {
                Some(payload.clone())
            }
            CaptureMode::Ike | CaptureMode::Off => None,
        };
        let outcome = self
            .net
            .send(self.now, from, src, dst, transport, payload, tag);
        if let Some(tag) = tag {
            let stats = &mut self.flow_mut(tag).stats;
            match &outcome {
                SendOutcome::InFlight { copies, .. } => stats.in_flight += u64::from(*copies),
                SendOutcome::Held(_) => stats.in_flight += 1,
                SendOutcome::Dropped(..) => stats.network_dropped += 1,
            }
        }
        let (packet, fate) = match &outcome {
            SendOutcome::InFlight {
                packet,
                copies,
                held_back,
            } => {
                if ike {
                    self.ike_in_flight += usize::from(*copies);
                }
                let fate = match (copies, held_back) {
                    (2, _) => Fate::Duplicated,
                    (_, true) => Fate::Reordered,
                    _ => Fate::Sent,
                };
                (packet, fate)
            }
            SendOutcome::Held(packet) => (packet, Fate::Held),
            SendOutcome::Dropped(packet, cause) => (packet, Fate::Dropped(*cause)),
        };
        if let Some(payload) = captured {
            // The capture point is the wire beyond the sender's NAT and before the receiver's.
            self.captures.push(Capture {
                at: self.now,
                src: packet.src,
                dst,
                transport,
                payload,
            });
        }
        let Some(message) = message else {
            return;
        };
        let to = match fate {
            Fate::Dropped(DropCause::NoRoute) => "?".to_owned(),
            _ => self.net.name(packet.to).to_owned(),
        };
        let from_name = self.net.name(from).to_owned();
        let crypto = std::sync::Arc::clone(&self.nodes[from.index()].crypto);
        let summary = self.keys.summarize(&message, &crypto);
        let entry = self.transcript.len();
        self.transcript
            .message(self.now, &from_name, &to, summary.text, fate);
        if !summary.complete
            && let Ok(header) = hitless_wire::ike::parse_header(&message)
        {
            self.pending.push(PendingSummary {
                entry,
                spis: (header.spi_i, header.spi_r),
                node: from,
                message,
            });
        }
    }

    fn record_events(&mut self, id: NodeId, events: Vec<Event>) {
        let now = self.now;
        let instant = self.instant();
        for event in events {
            if self.record
                && let Some(text) = describe(&event)
            {
                let name = self.nodes[id.index()].name.clone();
                self.transcript.note(now, &name, text);
            }
            match &event {
                Event::IkeSaEstablished { ike, .. } | Event::IkeSaRekeyed { new: ike, .. }
                    if self.record =>
                {
                    self.learn_keys(id, *ike, instant);
                }
                Event::IkeSaDeleted { spis, .. } | Event::IkeSaFailed { spis, .. } => {
                    self.nodes[id.index()].gone.insert(*spis);
                }
                _ => {}
            }
            self.nodes[id.index()].events.push((now, event));
        }
    }

    fn learn_keys(&mut self, id: NodeId, ike: IkeSaId, instant: Instant) {
        let node = &self.nodes[id.index()];
        let Some(snapshot) = node.ike.export(instant, ike) else {
            return;
        };
        let spis = (snapshot.spis.initiator.0, snapshot.spis.responder.0);
        if !self.keys.learn(spis, snapshot.algorithms, snapshot.keys) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for item in pending {
            if item.spis != spis {
                self.pending.push(item);
                continue;
            }
            let crypto = std::sync::Arc::clone(&self.nodes[item.node.index()].crypto);
            let summary = self.keys.summarize(&item.message, &crypto);
            self.transcript.set_summary(item.entry, summary.text);
        }
    }

    /// RFC 7296 §2.8: a responder installs the inbound SA of a new Child SA before the response
    /// that announces it leaves.
    fn check_inbound_before_response(&mut self, id: NodeId, log: &DrainLog) {
        let Some(response_at) = log.first_response else {
            return;
        };
        let late: Vec<Spi> = log
            .inbound_added
            .iter()
            .filter(|(_, position)| **position > response_at)
            .map(|(spi, _)| *spi)
            .collect();
        let node = &self.nodes[id.index()];
        for spi in late {
            let announced = node.ike.ike_sas().any(|ike| {
                ike.children
                    .iter()
                    .any(|child| child.spi_in == spi && !child.initiator)
            });
            if announced {
                let detail = format!(
                    "{} installed inbound SA {spi} after transmitting the response that announces it",
                    node.name
                );
                self.violate("inbound SA before response", detail);
                return;
            }
        }
    }

    fn after_step(&mut self, touched_engine: bool) {
        if !touched_engine || !self.checks || self.violation.is_some() {
            return;
        }
        let mut invariants = std::mem::take(&mut self.invariants);
        for invariant in &mut invariants {
            if let Err(detail) = invariant.check(self) {
                let name = invariant.name().to_owned();
                self.violate(&name, detail);
                break;
            }
        }
        self.invariants = invariants;
    }

    fn violate(&mut self, invariant: &str, detail: String) {
        if self.violation.is_none() {
            self.transcript
                .note(self.now, "invariant", format!("{invariant}: {detail}"));
            self.violation = Some(Violation {
                invariant: invariant.to_owned(),
                at: self.now,
                detail,
            });
        }
    }

    fn check_violation(&self) -> Result<(), Stalled> {
        match &self.violation {
            Some(violation) => Err(self.failure(violation.to_string())),
            None => Ok(()),
        }
    }

    /// Guards against an engine whose timer stays due without progress.
    fn count_spin(&mut self, node: NodeId) {
        if self.spins.0 == self.now {
            self.spins.1 += 1;
        } else {
            self.spins = (self.now, 0);
        }
        if self.spins.1 == MAX_STEPS_AT_ONE_INSTANT {
            let detail = format!(
                "{}'s timer fired {MAX_STEPS_AT_ONE_INSTANT} times at one instant without \
                 moving on",
                self.name(node)
            );
            self.violate("timers make progress", detail);
        }
    }

    fn note_held(&mut self, packet: &Packet, fate: Fate) {
        if !is_ike(packet) {
            return;
        }
        let message = if packet.dst.port() == NAT_T_PORT {
            &packet.payload[4..]
        } else {
            &packet.payload[..]
        };
        let crypto = std::sync::Arc::clone(&self.nodes[packet.from.index()].crypto);
        let summary = self.keys.summarize(message, &crypto);
        let (from, to) = (
            self.name(packet.from).to_owned(),
            self.name(packet.to).to_owned(),
        );
        self.transcript
            .message(self.now, &from, &to, summary.text, fate);
    }
}

impl Sim {
    fn flow_mut(&mut self, tag: FlowTag) -> &mut FlowState {
        &mut self.flows[tag.flow as usize]
    }

    /// Sends the next packet of flow `index` through its sender's data plane. Returns whether
    /// the sender's engine got input (a backend event the packet caused).
    fn send_flow_packet(&mut self, index: usize) -> bool {
        let state = &mut self.flows[index];
        let seq = state.next_seq;
        state.next_seq += 1;
        let (from, id) = (state.from, FlowId(u32::try_from(index).unwrap_or(u32::MAX)));
        let tag = FlowTag { flow: id.0, seq };
        if self.nodes[from.index()].crashed {
            self.flows[index].stats.sender_down += 1;
            return false;
        }
        if !flow::build_packet(&self.flows[index].flow, id, seq, &mut self.packet) {
            return false;
        }
        let len = self.packet.len();
        let start = hitless_esp::HEADROOM;
        self.buffer[start..start + len].copy_from_slice(&self.packet);
        let resource = self.flows[index].flow.resource;
        let Some(plane) = self.nodes[from.index()].backend.data_plane() else {
            return false;
        };
        self.flows[index].stats.sent += 1;
        let sealed = plane
            .encapsulate(resource, &mut self.buffer, start, len)
            .map(|sealed| {
                (
                    sealed.local,
                    sealed.remote,
                    sealed.udp_encap,
                    sealed.bytes.to_vec(),
                )
            });
        match sealed {
            Ok((local, remote, udp_encap, bytes)) => {
                let transport = if udp_encap {
                    Transport::Udp
                } else {
                    Transport::Esp
                };
                self.send(from, local, remote, transport, bytes, false, Some(tag));
            }
            Err(reason) => self.flows[index].encap_dropped(reason),
        }
        self.drain(from)
    }

    /// Hands an ESP packet to its receiver's data plane. Returns whether the receiver's engine
    /// got input (a first-use event, for example).
    fn deliver_esp(&mut self, packet: &Packet) -> bool {
        let to = packet.to;
        let Some(plane) = self.nodes[to.index()].backend.data_plane() else {
            return false;
        };
        let start = hitless_esp::HEADROOM;
        let len = packet.payload.len();
        let Some(room) = self.buffer.get_mut(start..start + len) else {
            return false;
        };
        room.copy_from_slice(&packet.payload);
        let opened = plane
            .decapsulate(&mut self.buffer, start, len)
            .map(|opened| flow::parse_packet(opened.inner));
        match opened {
            Ok(Some((flow, seq))) => {
                if let Some(state) = self.flows.get_mut(flow.0 as usize) {
                    state.accepted(seq);
                }
            }
            Ok(None) => {}
            Err(reason) => {
                if let Some(tag) = packet.tag {
                    self.flow_mut(tag).decap_dropped(reason);
                }
            }
        }
        self.drain(to)
    }
}

/// Why a flow cannot start.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum FlowError {
    /// A node has a mock backend, which carries no packets.
    #[error("node {0} has no userspace data plane (use DataPlaneKind::Userspace)")]
    NoDataPlane(String),
    /// Source and destination are of different address families.
    #[error("flow addresses of different families")]
    MixedFamilies,
    /// More than 2^32 flows.
    #[error("too many flows")]
    TooMany,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Source {
    Network,
    Timer(NodeId),
    Flow(usize),
}

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.at.as_millis();
        writeln!(
            f,
            "seed {} failed at {}.{:03}s: {}",
            self.seed,
            millis / 1000,
            millis % 1000,
            self.reason
        )?;
        writeln!(f, "rerun with SIM_SEEDS={}", self.seed)?;
        writeln!(f, "transcript:")?;
        f.write_str(&self.transcript)
    }
}

impl Error for Stalled {}

/// Whether a packet carries an IKE message (not ESP, not a NAT keepalive).
fn is_ike(packet: &Packet) -> bool {
    match packet.transport {
        Transport::Esp => false,
        Transport::Udp if packet.dst.port() == NAT_T_PORT => {
            packet.payload.len() > 4 && packet.payload.starts_with(&NON_ESP_MARKER)
        }
        Transport::Udp => packet.payload.len() > 1,
    }
}

/// Whether a transmit is a response that can announce a new Child SA.
fn announces_child(transmit: &Transmit) -> bool {
    let Ok(header) = hitless_wire::ike::parse_header(&transmit.payload) else {
        return false;
    };
    header.flags.response
        && matches!(
            header.exchange,
            ExchangeType::IKE_AUTH | ExchangeType::CREATE_CHILD_SA
        )
}

/// The event a driver feeds back when the backend refuses a command.
fn install_failed(command: &SaCommand, error: &BackendError) -> Option<BackendEvent> {
    let (spi, direction) = match command {
        SaCommand::AddSa(spec) => (spec.spi, spec.direction),
        SaCommand::RouteOutbound { spi, .. } => (*spi, Direction::Outbound),
        SaCommand::UpdateAddresses { spi, direction, .. }
        | SaCommand::AdvanceSequence { spi, direction, .. }
        | SaCommand::SkipSequence { spi, direction, .. } => (*spi, *direction),
        SaCommand::DeleteSa { .. } | SaCommand::AddPolicy(_) | SaCommand::DeletePolicy { .. } => {
            return None;
        }
    };
    Some(BackendEvent::InstallFailed {
        spi,
        direction,
        reason: error.0.clone(),
    })
}

/// A transcript note for an engine event; `None` for the noisy ones.
fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::IkeSaEstablished { ike, initiator, .. } => {
            let role = if *initiator { "initiator" } else { "responder" };
            format!("IKE SA {ike} established ({role})")
        }
        Event::IkeSaRekeyed { old, new, .. } => format!("IKE SA {old} rekeyed to {new}"),
        Event::IkeSaDeleted { ike, reason, .. } => format!("IKE SA {ike} deleted ({reason:?})"),
        Event::IkeSaFailed { ike, reason, .. } => format!("IKE SA {ike} failed: {reason:?}"),
        Event::IkeSaAddressesChanged {
            ike, local, remote, ..
        } => {
            format!("IKE SA {ike} addresses now {local} ↔ {remote}")
        }
        Event::MessageIdsChanged { .. } => return None,
        Event::ChildSaInstalled {
            child,
            name,
            spi_in,
            spi_out,
            ..
        } => {
            format!("Child SA {name} {child} installed (in {spi_in}, out {spi_out})")
        }
        Event::ChildSaRekeyed {
            old,
            new,
            spi_in,
            spi_out,
            ..
        } => {
            format!("Child SA {old} rekeyed to {new} (in {spi_in}, out {spi_out})")
        }
        Event::ChildSaDeleted {
            child,
            name,
            reason,
            ..
        } => {
            format!("Child SA {name} {child} deleted ({reason:?})")
        }
        Event::ChildSaFailed { name, reason, .. } => format!("Child SA {name} failed: {reason:?}"),
    })
}

/// IKE over UDP encapsulation and ESP-in-UDP (RFC 3948).
const NAT_T_PORT: u16 = 4500;
/// The largest packet the simulator carries.
const MAX_PACKET: usize = 65_535;
/// Lines of transcript in a failure report.
const TRANSCRIPT_LINES_IN_FAILURES: usize = 400;
/// An engine timer that fires this often at one instant is stuck.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 10_000;
