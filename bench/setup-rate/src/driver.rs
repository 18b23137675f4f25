//! The load loop: keeps WINDOW handshakes in flight (or, as the responder, answers), feeds
//! datagrams and timeouts to the engine, sends its transmits, and counts how each IKE SA ends
//! (Child SA installed, or failed).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::Result;
use hitless_ike::Datagram;
use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::Output;
use hitless_ike::Transmit;
use tokio::net::UdpSocket;

/// What to initiate.
#[derive(Debug)]
pub(crate) struct Load {
    /// The connection each IKE SA is created from.
    pub(crate) connection: String,
    /// IKE SAs to set up.
    pub(crate) count: usize,
    /// Handshakes in flight at most.
    pub(crate) window: usize,
    /// When to give up.
    pub(crate) timeout: Duration,
    /// Answer instead of initiating: count the IKE SAs peers set up with us, report once
    /// `count` are, and go on answering (no timeout) until the process is ended.
    pub(crate) respond: bool,
}

/// The IKE port and the NAT-T port (used once NAT detection moves an IKE SA there, RFC 7296
/// §2.23; strongSwan with kernel-libipsec always claims a NAT), on one local address.
#[derive(Debug)]
pub(crate) struct Sockets {
    ike: UdpSocket,
    nat_t: UdpSocket,
}

impl Sockets {
    /// Binds `local` on both ports.
    ///
    /// # Errors
    ///
    /// When a port is taken or the address is not ours.
    pub(crate) async fn bind(local: IpAddr, ike_port: u16, nat_t_port: u16) -> Result<Self> {
        let bind = |port| async move {
            UdpSocket::bind(SocketAddr::new(local, port))
                .await
                .with_context(|| format!("binding {local} port {port}"))
        };
        Ok(Self {
            ike: bind(ike_port).await?,
            nat_t: bind(nat_t_port).await?,
        })
    }

    /// Sends one transmit from the port it names (4500 framing when it carries the marker).
    async fn send(&self, transmit: &Transmit) -> io::Result<()> {
        let nat_t_port = self.nat_t.local_addr()?.port();
        let from_nat_t = match transmit.local.map(|l| l.port()) {
            Some(port) => port == nat_t_port,
            None => transmit.non_esp_marker || transmit.keepalive,
        };
        let socket = if from_nat_t { &self.nat_t } else { &self.ike };
        if transmit.non_esp_marker {
            let mut framed = Vec::with_capacity(NON_ESP_MARKER.len() + transmit.payload.len());
            framed.extend_from_slice(&NON_ESP_MARKER);
            framed.extend_from_slice(&transmit.payload);
            socket.send_to(&framed, transmit.remote).await?;
        } else {
            socket.send_to(&transmit.payload, transmit.remote).await?;
        }
        Ok(())
    }
}

/// How the run went.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// IKE SAs whose Child SA was installed.
    pub(crate) established: usize,
    /// IKE SAs that failed, by reason.
    pub(crate) failed: BTreeMap<String, usize>,
    /// IKE SAs initiated.
    pub(crate) initiated: usize,
    /// From the first initiation to the last installed Child SA.
    pub(crate) elapsed: Duration,
    /// From the first initiation to the first installed Child SA.
    pub(crate) first: Option<Duration>,
    /// IKE datagrams sent: two per handshake, more for retransmissions and cookie rounds.
    /// `extra_sent` in the summary is what exceeds two per handshake.
    pub(crate) sent: u64,
    /// IKE datagrams received.
    pub(crate) received: u64,
    /// Datagrams on the NAT-T port that were not IKE (ESP: we have no data plane).
    pub(crate) not_ike: u64,
    /// Sends that failed.
    pub(crate) send_errors: u64,
    /// The run ended at the timeout.
    pub(crate) timed_out: bool,
}

impl Outcome {
    /// One line of `key=value` figures.
    pub(crate) fn summary(&self, load: &Load) -> String {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.established as f64 / seconds
        } else {
            0.0
        };
        let failed: usize = self.failed.values().sum();
        // Two messages of ours per handshake: requests as the initiator, responses as the
        // responder.
        let handshakes = if load.respond {
            self.established + failed
        } else {
            self.initiated
        };
        let reasons = if self.failed.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|(r, n)| format!("{r}:{n}"))
                .collect();
            format!(" failures={}", list.join(","))
        };
        format!(
            "count={} window={} established={} failed={failed} initiated={} elapsed={seconds:.3}s \
             rate={rate:.1}/s first_ms={:.1} sent={} received={} extra_sent={} not_ike={} \
             send_errors={} timed_out={}{reasons}",
            load.count,
            load.window,
            self.established,
            self.initiated,
            self.first.map_or(0.0, |d| d.as_secs_f64() * 1e3),
            self.sent,
            self.received,
            self.sent.saturating_sub(2 * handshakes as u64),
            self.not_ike,
            self.send_errors,
            self.timed_out,
        )
    }
}

/// Initiates `load.count` IKE SAs through `endpoint`, at most `load.window` in flight, until all
/// are set up or have failed, or `load.timeout` passes; then hands the outcome to `report`.
/// With `load.respond`, initiates nothing, times from the first datagram received, reports once
/// `load.count` IKE SAs were set up by peers, and never returns.
///
/// # Errors
///
/// When the engine refuses to initiate (an unknown connection, no usable proposal) or a socket
/// cannot be read.
pub(crate) async fn run(
    mut endpoint: Endpoint,
    sockets: &Sockets,
    load: &Load,
    mut report: impl FnMut(&Outcome),
) -> Result<()> {
    let ike_local = sockets.ike.local_addr()?;
    let nat_t_local = sockets.nat_t.local_addr()?;
    let mut outcome = Outcome::default();
    let mut in_flight: BTreeSet<IkeSaId> = BTreeSet::new();
    let mut ike_buf = vec![0u8; MAX_DATAGRAM];
    let mut nat_t_buf = vec![0u8; MAX_DATAGRAM];
    let mut start = Instant::now();
    let give_up = start + load.timeout;
    let mut reported = false;
    endpoint.start(start);
    loop {
        let now = Instant::now();
        if endpoint.poll_timeout().is_some_and(|at| at <= now) {
            endpoint.handle_timeout(now);
        }
        while !load.respond && in_flight.len() < load.window && outcome.initiated < load.count {
            let id = endpoint
                .initiate(now, &load.connection)
                .with_context(|| format!("initiating {}", load.connection))?;
            in_flight.insert(id);
            outcome.initiated += 1;
        }
        let track = (!load.respond).then_some(&mut in_flight);
        drain(&mut endpoint, sockets, track, &mut outcome, start).await;
        let done = outcome.established + outcome.failed.values().sum::<usize>();
        if !load.respond && (done >= load.count || now >= give_up) {
            outcome.timed_out = done < load.count;
            report(&outcome);
            return Ok(());
        }
        if load.respond && !reported && done >= load.count {
            report(&outcome);
            reported = true;
        }
        let wake = match (endpoint.poll_timeout(), load.respond) {
            (Some(at), false) => at.min(give_up),
            (None, false) => give_up,
            (Some(at), true) => at,
            (None, true) => now + Duration::from_secs(3600),
        };
        tokio::select! {
            received = sockets.ike.recv_from(&mut ike_buf) => {
                let (len, remote) = received.context("receiving on the IKE port")?;
                if load.respond && outcome.received == 0 {
                    start = Instant::now();
                }
                outcome.received += 1;
                endpoint.handle_datagram(Instant::now(), Datagram {
                    local: ike_local,
                    remote,
                    payload: &ike_buf[..len],
                });
            }
            received = sockets.nat_t.recv_from(&mut nat_t_buf) => {
                let (len, remote) = received.context("receiving on the NAT-T port")?;
                // RFC 3948 §2.2: IKE on port 4500 follows four zero bytes; anything else is ESP.
                match nat_t_buf[..len].strip_prefix(&NON_ESP_MARKER) {
                    Some(payload) => {
                        if load.respond && outcome.received == 0 {
                            start = Instant::now();
                        }
                        outcome.received += 1;
                        endpoint.handle_datagram(Instant::now(), Datagram {
                            local: nat_t_local,
                            remote,
                            payload,
                        });
                    }
                    None => outcome.not_ike += 1,
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    }
}

/// Carries out the engine's outputs: transmits are sent, SA commands dropped, events counted:
/// those of the IKE SAs in `in_flight` (removed as they end), or all when it is `None`.
async fn drain(
    endpoint: &mut Endpoint,
    sockets: &Sockets,
    mut in_flight: Option<&mut BTreeSet<IkeSaId>>,
    outcome: &mut Outcome,
    start: Instant,
) {
    while let Some(output) = endpoint.poll_output() {
        match output {
            Output::Transmit(transmit) => match sockets.send(&transmit).await {
                Ok(()) => outcome.sent += 1,
                Err(_) => outcome.send_errors += 1,
            },
            Output::Sa(_) => {}
            Output::Event(event) => {
                let (ike, failure) = match event {
                    Event::ChildSaInstalled { ike, .. } => (ike, None),
                    Event::IkeSaFailed { ike, reason, .. } => (ike, Some(format!("{reason:?}"))),
                    Event::ChildSaFailed { ike, reason, .. } => {
                        (ike, Some(format!("child:{reason:?}")))
                    }
                    Event::IkeSaDeleted { ike, reason, .. } => {
                        (ike, Some(format!("deleted:{reason:?}")))
                    }
                    _ => continue,
                };
                if let Some(in_flight) = in_flight.as_deref_mut()
                    && !in_flight.remove(&ike)
                {
                    continue;
                }
                match failure {
                    None => {
                        outcome.established += 1;
                        outcome.elapsed = start.elapsed();
                        outcome.first.get_or_insert(outcome.elapsed);
                    }
                    Some(reason) => {
                        *outcome.failed.entry(reason.replace(' ', "_")).or_default() += 1
                    }
                }
            }
        }
    }
}

/// The non-ESP marker in front of IKE messages on port 4500 (RFC 3948 §2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;
