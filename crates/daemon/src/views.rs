//! The engine's and the data plane's state as the control protocol shows it: IKE and Child SAs
//! with SPIs, algorithms and traffic counters, and events.

use std::time::Instant;

use hitless_control::response as control;
use hitless_esp::DataPlane;
use hitless_ike::ChildSaInfo;
use hitless_ike::ChildSaState;
use hitless_ike::DeleteReason;
use hitless_ike::FailureReason;
use hitless_ike::IkeSaInfo;
use hitless_ike::IkeSaState;
use hitless_sadb::Direction;
use hitless_sadb::Mode;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::IntegId;

/// One IKE SA at `now`, with traffic counters from `plane`.
pub(crate) fn ike_sa(info: &IkeSaInfo<'_>, plane: &DataPlane, now: Instant) -> control::IkeSa {
    control::IkeSa {
        id: control::IkeSaId(info.id.0),
        connection: info.connection.to_owned(),
        state: ike_state(info.state),
        role: if info.initiator {
            control::Role::Initiator
        } else {
            control::Role::Responder
        },
        local: info.local,
        remote: info.remote,
        local_id: info
            .local_id
            .map_or_else(|| info.local.ip().to_string(), ToString::to_string),
        remote_id: info
            .remote_id
            .map_or_else(|| "%any".to_owned(), ToString::to_string),
        spi_i: info.spis.initiator,
        spi_r: info.spis.responder,
        algorithms: info.algorithms.map(|a| control::IkeAlgorithms {
            encryption: a.encryption.id.to_string(),
            key_bits: a.encryption.key_bits,
            integrity: integrity(a.integrity),
            prf: format!("PRF_{}", a.prf),
            key_exchange: a.key_exchange.to_string(),
            additional_key_exchanges: Vec::new(),
        }),
        nat: control::Nat {
            local: info.nat.local_behind_nat,
            remote: info.nat.remote_behind_nat,
        },
        age_secs: info.age(now).map_or(0, |d| d.as_secs()),
        rekey_in_secs: info.time_to_rekey(now).map(|d| d.as_secs()),
        children: info
            .children
            .iter()
            .map(|child| child_sa(child, plane, now))
            .collect(),
    }
}

fn child_sa(info: &ChildSaInfo<'_>, plane: &DataPlane, now: Instant) -> control::ChildSa {
    let inbound = plane.sa_stats(info.spi_in, Direction::Inbound);
    let outbound = plane.sa_stats(info.spi_out, Direction::Outbound);
    let esp = info.algorithms.esp;
    control::ChildSa {
        id: control::ChildSaId(info.id.0),
        name: info.name.to_owned(),
        state: child_state(info.state),
        mode: match info.mode {
            Mode::Tunnel => "tunnel",
            Mode::Transport => "transport",
        }
        .to_owned(),
        spi_in: info.spi_in,
        spi_out: info.spi_out,
        algorithms: control::ChildAlgorithms {
            encryption: esp.encr.to_string(),
            key_bits: esp.encr_key_bits,
            integrity: integrity(esp.integ),
            key_exchange: info.algorithms.key_exchange.map(|ke| ke.to_string()),
            esn: esp.esn,
        },
        udp_encap: info.udp_encap,
        resource: info.resource,
        bytes_in: inbound.map_or(0, |s| s.bytes),
        bytes_out: outbound.map_or(0, |s| s.bytes),
        packets_in: inbound.map_or(0, |s| s.packets),
        packets_out: outbound.map_or(0, |s| s.packets),
        age_secs: info.age(now).as_secs(),
        rekey_in_secs: info.time_to_rekey(now).map(|d| d.as_secs()),
        expires_in_secs: info
            .expire_at
            .map(|at| at.saturating_duration_since(now).as_secs()),
        local_ts: info.local_ts.iter().map(selector).collect(),
        remote_ts: info.remote_ts.iter().map(selector).collect(),
    }
}

fn ike_state(state: IkeSaState) -> control::IkeSaState {
    match state {
        IkeSaState::Connecting => control::IkeSaState::Connecting,
        IkeSaState::Established => control::IkeSaState::Established,
        IkeSaState::Rekeyed => control::IkeSaState::Rekeyed,
        IkeSaState::Deleting => control::IkeSaState::Deleting,
        IkeSaState::Passive => control::IkeSaState::Passive,
    }
}

fn child_state(state: ChildSaState) -> control::ChildSaState {
    match state {
        ChildSaState::Installed | ChildSaState::OutboundPending => control::ChildSaState::Installed,
        ChildSaState::Rekeying => control::ChildSaState::Rekeying,
        ChildSaState::Rekeyed => control::ChildSaState::Rekeyed,
        ChildSaState::Deleting => control::ChildSaState::Deleting,
    }
}

fn integrity(id: IntegId) -> Option<String> {
    (id != IntegId::NONE).then(|| id.to_string())
}

/// A failure as a short kebab-case reason for counters (`timeout`, `authentication-failed`).
pub(crate) fn failure_key(reason: &FailureReason) -> String {
    match reason {
        FailureReason::PeerUnreachable => "timeout".to_owned(),
        FailureReason::HalfOpenTimeout => "half-open-timeout".to_owned(),
        FailureReason::Protocol(error) => error.counter().as_str().replace('_', "-"),
        FailureReason::Backend(_) => "backend".to_owned(),
    }
}

/// A failure for people.
pub(crate) fn failure_text(reason: &FailureReason) -> String {
    match reason {
        FailureReason::PeerUnreachable => "peer did not answer (retransmissions exhausted)".into(),
        FailureReason::HalfOpenTimeout => "half-open IKE SA timed out".into(),
        FailureReason::Protocol(error) => error.to_string(),
        FailureReason::Backend(message) => format!("SA backend: {message}"),
    }
}

/// Why an SA was deleted, in kebab-case.
pub(crate) fn delete_reason(reason: DeleteReason) -> &'static str {
    match reason {
        DeleteReason::Local => "terminated",
        DeleteReason::Peer => "peer-deleted",
        DeleteReason::PeerDead => "dpd-timeout",
        DeleteReason::Expired => "expired",
        DeleteReason::Rekeyed => "rekeyed",
        DeleteReason::IkeSaGone => "ike-sa-gone",
        DeleteReason::InitialContact => "initial-contact",
    }
}

/// A selector as `10.1.0.0/16`, `10.0.0.1-10.0.0.9`, with `[proto/port]` when restricted (as
/// swanctl prints them).
pub(crate) fn selector(ts: &TrafficSelector) -> String {
    let prefixes = crate::dataplane::selector_prefixes(ts);
    let addresses = match prefixes.as_slice() {
        [one] => format!("{}/{}", one.addr, one.len),
        _ => format!("{}-{}", ts.start_address, ts.end_address),
    };
    let any_port = ts.start_port == 0 && ts.end_port == u16::MAX;
    match (ts.ip_protocol, any_port) {
        (0, true) => addresses,
        (protocol, true) => format!("{addresses}[{protocol}]"),
        (protocol, false) if ts.start_port == ts.end_port => {
            format!("{addresses}[{protocol}/{}]", ts.start_port)
        }
        (protocol, false) => {
            format!("{addresses}[{protocol}/{}-{}]", ts.start_port, ts.end_port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(start: &str, end: &str, protocol: u8, ports: (u16, u16)) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: protocol,
            start_port: ports.0,
            end_port: ports.1,
            start_address: start.parse().unwrap(),
            end_address: end.parse().unwrap(),
        }
    }

    #[test]
    fn selectors_read_like_swanctl() {
        assert_eq!(
            selector(&ts("10.1.0.0", "10.1.255.255", 0, (0, 65535))),
            "10.1.0.0/16"
        );
        assert_eq!(
            selector(&ts("10.0.0.1", "10.0.0.9", 0, (0, 65535))),
            "10.0.0.1-10.0.0.9"
        );
        assert_eq!(
            selector(&ts("10.0.0.1", "10.0.0.1", 6, (443, 443))),
            "10.0.0.1/32[6/443]"
        );
        assert_eq!(
            selector(&ts(
                "::",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                17,
                (0, 65535)
            )),
            "::/0[17]"
        );
    }

    #[test]
    fn reasons_are_kebab_case() {
        assert_eq!(failure_key(&FailureReason::PeerUnreachable), "timeout");
        assert_eq!(
            failure_key(&FailureReason::Protocol(
                hitless_ike::Error::NoProposalChosen
            )),
            "no-proposal-chosen"
        );
        assert_eq!(delete_reason(DeleteReason::PeerDead), "dpd-timeout");
    }
}
