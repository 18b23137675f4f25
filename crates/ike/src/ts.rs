//! Traffic selector narrowing ([RFC 7296 §2.9]).
//!
//! The responder intersects the initiator's selectors with its policy and answers with the
//! intersection; the initiator checks that the answer is a subset of what it proposed.
//!
//! [RFC 7296 §2.9]: https://www.rfc-editor.org/rfc/rfc7296#section-2.9

use std::net::IpAddr;

use hitless_sadb::TrafficSelector;

/// The intersection of two selectors, if not empty. Protocol 0 matches any protocol.
pub(crate) fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let ip_protocol = match (a.ip_protocol, b.ip_protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    if start_port > end_port {
        return None;
    }
    if !same_family(a.start_address, b.start_address) {
        return None;
    }
    let start_address = a.start_address.max(b.start_address);
    let end_address = a.end_address.min(b.end_address);
    if start_address > end_address || !same_family(start_address, end_address) {
        return None;
    }
    Some(TrafficSelector {
        ip_protocol,
        start_port,
        end_port,
        start_address,
        end_address,
    })
}

/// Narrows `proposed` to `policy` (§2.9): every non-empty pairwise intersection, in the order
/// of `proposed`, without duplicates. Empty means TS_UNACCEPTABLE.
pub(crate) fn narrow(
    proposed: &[TrafficSelector],
    policy: &[TrafficSelector],
) -> Vec<TrafficSelector> {
    let mut out = Vec::new();
    for p in proposed {
        for q in policy {
            if let Some(ts) = intersect(p, q)
                && !out.contains(&ts)
            {
                out.push(ts);
            }
        }
    }
    out
}

/// Whether every selector of `narrowed` lies within one of `proposed` (the initiator's check of
/// the responder's answer, §2.9).
pub(crate) fn is_subset(narrowed: &[TrafficSelector], proposed: &[TrafficSelector]) -> bool {
    narrowed
        .iter()
        .all(|n| proposed.iter().any(|p| intersect(n, p).as_ref() == Some(n)))
}

/// A selector for one host, all protocols and ports (strongSwan's `dynamic`).
pub(crate) fn host(address: IpAddr) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: address,
        end_address: address,
    }
}

/// The configured selectors, or the host selector of `address` when none are configured.
pub(crate) fn or_host(configured: &[TrafficSelector], address: IpAddr) -> Vec<TrafficSelector> {
    if configured.is_empty() {
        vec![host(address)]
    } else {
        configured.to_vec()
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::net::Ipv6Addr;

    use super::*;

    /// A selector for a whole address family.
    fn any(v6: bool) -> TrafficSelector {
        let (start_address, end_address) = if v6 {
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::BROADCAST),
            )
        };
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start_address,
            end_address,
        }
    }

    fn net(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start_address: IpAddr::from(a),
            end_address: IpAddr::from(b),
        }
    }

    #[test]
    fn narrows_to_the_intersection() {
        let proposed = [net([10, 0, 0, 0], [10, 0, 255, 255])];
        let policy = [net([10, 0, 1, 0], [10, 0, 1, 255])];
        assert_eq!(narrow(&proposed, &policy), policy.to_vec());
        assert!(is_subset(&policy, &proposed));
        assert!(!is_subset(&proposed, &policy));
    }

    #[test]
    fn disjoint_and_mixed_families_are_empty() {
        let a = net([10, 0, 0, 0], [10, 0, 0, 255]);
        let b = net([10, 0, 1, 0], [10, 0, 1, 255]);
        assert!(narrow(&[a], &[b]).is_empty());
        assert!(intersect(&a, &any(true)).is_none());
        assert_eq!(intersect(&a, &any(false)), Some(a));
    }

    #[test]
    fn protocol_and_ports_narrow() {
        let mut tcp80 = any(false);
        tcp80.ip_protocol = 6;
        tcp80.start_port = 80;
        tcp80.end_port = 80;
        assert_eq!(intersect(&any(false), &tcp80), Some(tcp80));
        let mut udp = any(false);
        udp.ip_protocol = 17;
        assert!(intersect(&tcp80, &udp).is_none());
    }
}
