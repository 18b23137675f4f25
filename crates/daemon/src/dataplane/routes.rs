//! Routes for the remote traffic selectors of installed policies into the TUN device, so the
//! kernel hands the protected traffic to the data plane. A prefix shared by several policies
//! is routed once and removed with the last of them.
//!
//! Two rules keep the host's own routing intact: a route that already exists (the default
//! route, a connected subnet) is never replaced, only reported; and the peer's outer address
//! is cut out of the selectors that contain it (`0.0.0.0/0` becomes the 32 prefixes around
//! it), since its ESP and IKE packets routed into the tunnel would loop.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use hitless_sadb::ReqId;
use hitless_sadb::TrafficSelector;
use hitless_sys::netlink::Netlink;
use hitless_sys::netlink::Prefix;
use hitless_sys::netlink::Route;
use tracing::debug;
use tracing::warn;

/// At most this many prefixes per address range (any IPv6 range fits in 254); a range that
/// needed more would be routed by its first prefixes only, and logged.
const MAX_PREFIXES_PER_RANGE: usize = 256;

/// The routes the daemon added, by policy.
pub(crate) struct Routes {
    netlink: Netlink,
    ifindex: u32,
    by_policy: BTreeMap<ReqId, Vec<Prefix>>,
    /// How many policies use each prefix, and whether we added its route (false when another
    /// route for it existed).
    users: BTreeMap<(IpAddr, u8), (usize, bool)>,
}

impl Routes {
    /// Routes into interface `ifindex` through `netlink`.
    pub(crate) fn new(netlink: Netlink, ifindex: u32) -> Self {
        Self {
            netlink,
            ifindex,
            by_policy: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }

    /// A policy was installed (or replaced): route its remote selectors, except `peer` (the
    /// peer's outer address, when known).
    pub(crate) fn policy_added(
        &mut self,
        reqid: ReqId,
        remote_ts: &[TrafficSelector],
        peer: Option<IpAddr>,
    ) {
        let mut prefixes: Vec<Prefix> = Vec::new();
        for ts in remote_ts {
            let covering = selector_prefixes_except(ts, peer);
            if covering.len() >= MAX_PREFIXES_PER_RANGE {
                warn!(
                    start = %ts.start_address,
                    end = %ts.end_address,
                    "traffic selector needs too many routes; routing its first {MAX_PREFIXES_PER_RANGE} prefixes"
                );
            }
            for prefix in covering {
                if !prefixes.contains(&prefix) {
                    prefixes.push(prefix);
                }
            }
        }
        // A replaced policy: add the new routes before removing the old ones.
        let old = self
            .by_policy
            .insert(reqid, prefixes.clone())
            .unwrap_or_default();
        for prefix in &prefixes {
            self.acquire(*prefix);
        }
        for prefix in old {
            self.release(prefix);
        }
    }

    /// A policy was deleted: remove the routes no other policy uses.
    pub(crate) fn policy_deleted(&mut self, reqid: ReqId) {
        for prefix in self.by_policy.remove(&reqid).unwrap_or_default() {
            self.release(prefix);
        }
    }

    /// Removes every route the daemon added (at exit).
    pub(crate) fn clear(&mut self) {
        let policies: Vec<ReqId> = self.by_policy.keys().copied().collect();
        for reqid in policies {
            self.policy_deleted(reqid);
        }
    }

    fn acquire(&mut self, prefix: Prefix) {
        let key = (prefix.addr, prefix.len);
        if let Some((users, _)) = self.users.get_mut(&key) {
            *users += 1;
            return;
        }
        let route = Route::device(prefix, self.ifindex);
        let ours = match self.netlink.add_route(&route) {
            Ok(()) => {
                debug!(dst = %prefix.addr, len = prefix.len, "route added");
                true
            }
            Err(error) if error.source.raw_os_error() == Some(EEXIST) => {
                warn!(
                    dst = %prefix.addr,
                    len = prefix.len,
                    "a route for this remote traffic selector exists already and is left \
                     alone; its traffic does not enter the tunnel"
                );
                false
            }
            Err(error) => {
                warn!(dst = %prefix.addr, len = prefix.len, %error, "cannot add route");
                false
            }
        };
        self.users.insert(key, (1, ours));
    }

    fn release(&mut self, prefix: Prefix) {
        let key = (prefix.addr, prefix.len);
        let Some((users, ours)) = self.users.get_mut(&key) else {
            return;
        };
        *users -= 1;
        if *users > 0 {
            return;
        }
        let ours = *ours;
        self.users.remove(&key);
        if !ours {
            return;
        }
        let route = Route::device(prefix, self.ifindex);
        match self.netlink.delete_route(&route) {
            Ok(()) => debug!(dst = %prefix.addr, len = prefix.len, "route removed"),
            Err(error) => {
                debug!(dst = %prefix.addr, len = prefix.len, %error, "cannot remove route")
            }
        }
    }
}

/// `EEXIST`: the kernel already has that route.
const EEXIST: i32 = 17;

/// The prefixes covering a selector's addresses without `except` (when the selector contains
/// it).
pub(crate) fn selector_prefixes_except(
    ts: &TrafficSelector,
    except: Option<IpAddr>,
) -> Vec<Prefix> {
    let Some(except) = except.filter(|address| contains(ts, *address)) else {
        return selector_prefixes(ts);
    };
    let below = step(except, false);
    let above = step(except, true);
    let mut prefixes = Vec::new();
    for (start, end) in [
        (Some(ts.start_address), below),
        (above, Some(ts.end_address)),
    ] {
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        if order(start) > order(end) {
            continue;
        }
        let range = TrafficSelector {
            start_address: start,
            end_address: end,
            ..*ts
        };
        prefixes.extend(selector_prefixes(&range));
    }
    prefixes
}

fn contains(ts: &TrafficSelector, address: IpAddr) -> bool {
    address.is_ipv4() == ts.start_address.is_ipv4()
        && order(ts.start_address) <= order(address)
        && order(address) <= order(ts.end_address)
}

/// An address as a number, for comparisons within one family.
fn order(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address after (`up`) or before `address`, if there is one.
fn step(address: IpAddr, up: bool) -> Option<IpAddr> {
    match address {
        IpAddr::V4(v4) => {
            let n = u32::from(v4);
            let next = if up {
                n.checked_add(1)
            } else {
                n.checked_sub(1)
            };
            next.map(|n| IpAddr::V4(Ipv4Addr::from(n)))
        }
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            let next = if up {
                n.checked_add(1)
            } else {
                n.checked_sub(1)
            };
            next.map(|n| IpAddr::V6(Ipv6Addr::from(n)))
        }
    }
}

/// The smallest set of prefixes covering a selector's address range (at most
/// [`MAX_PREFIXES_PER_RANGE`]); none for a range of mixed families or reversed.
pub(crate) fn selector_prefixes(ts: &TrafficSelector) -> Vec<Prefix> {
    match (ts.start_address, ts.end_address) {
        (IpAddr::V4(start), IpAddr::V4(end)) => {
            range_prefixes(u128::from(u32::from(start)), u128::from(u32::from(end)), 32)
                .into_iter()
                .map(|(addr, len)| Prefix {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::try_from(addr).unwrap_or(0))),
                    len,
                })
                .collect()
        }
        (IpAddr::V6(start), IpAddr::V6(end)) => {
            range_prefixes(u128::from(start), u128::from(end), 128)
                .into_iter()
                .map(|(addr, len)| Prefix {
                    addr: IpAddr::V6(Ipv6Addr::from(addr)),
                    len,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Splits `start..=end` in a `bits`-bit address space into aligned prefixes.
fn range_prefixes(start: u128, end: u128, bits: u8) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    let mut current = start;
    if start > end {
        return out;
    }
    while out.len() < MAX_PREFIXES_PER_RANGE {
        // The largest block aligned at `current` that stays within the range.
        let mut size_log = u32::from(bits).min(current.trailing_zeros());
        while size_log > 0 {
            let span = if size_log >= 128 {
                u128::MAX
            } else {
                (1u128 << size_log) - 1
            };
            if current.checked_add(span).is_some_and(|last| last <= end) {
                break;
            }
            size_log -= 1;
        }
        let len = bits - u8::try_from(size_log).unwrap_or(bits);
        out.push((current, len));
        let size = 1u128.checked_shl(size_log).unwrap_or(0);
        match current.checked_add(size) {
            Some(next) if next <= end && size != 0 => current = next,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(start: &str, end: &str) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start_address: start.parse().unwrap(),
            end_address: end.parse().unwrap(),
        }
    }

    fn show(prefixes: &[Prefix]) -> Vec<String> {
        prefixes
            .iter()
            .map(|p| format!("{}/{}", p.addr, p.len))
            .collect()
    }

    #[test]
    fn subnets_become_one_prefix() {
        assert_eq!(
            show(&selector_prefixes(&ts("10.1.2.0", "10.1.2.255"))),
            ["10.1.2.0/24"]
        );
        assert_eq!(
            show(&selector_prefixes(&ts("10.1.2.7", "10.1.2.7"))),
            ["10.1.2.7/32"]
        );
        assert_eq!(
            show(&selector_prefixes(&ts("0.0.0.0", "255.255.255.255"))),
            ["0.0.0.0/0"]
        );
        assert_eq!(
            show(&selector_prefixes(&ts(
                "2001:db8::",
                "2001:db8::ffff:ffff:ffff:ffff"
            ))),
            ["2001:db8::/64"]
        );
        assert_eq!(
            show(&selector_prefixes(&ts(
                "::",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            ))),
            ["::/0"]
        );
    }

    #[test]
    fn ranges_split_into_aligned_prefixes() {
        assert_eq!(
            show(&selector_prefixes(&ts("10.0.0.1", "10.0.0.6"))),
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert!(selector_prefixes(&ts("10.0.0.9", "10.0.0.1")).is_empty());
        assert!(selector_prefixes(&ts("10.0.0.1", "::1")).is_empty());
        let many = selector_prefixes(&ts("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
        assert_eq!(many.len(), 254);
    }

    #[test]
    fn the_peer_is_cut_out() {
        let peer = Some("10.0.0.2".parse().unwrap());
        let all = selector_prefixes_except(&ts("0.0.0.0", "255.255.255.255"), peer);
        assert_eq!(all.len(), 32);
        assert!(show(&all).contains(&"10.0.0.3/32".to_owned()));
        assert!(show(&all).contains(&"128.0.0.0/1".to_owned()));
        let covered: u64 = all.iter().map(|p| 1u64 << (32 - u32::from(p.len))).sum();
        assert_eq!(covered, (1u64 << 32) - 1, "everything but the peer");
        assert!(!all.iter().any(|p| {
            let IpAddr::V4(a) = p.addr else { return false };
            let mask = u32::MAX.checked_shl(32 - u32::from(p.len)).unwrap_or(0);
            u32::from(a) == u32::from(Ipv4Addr::new(10, 0, 0, 2)) & mask
        }));
        // A selector without the peer is routed as it is.
        assert_eq!(
            show(&selector_prefixes_except(
                &ts("10.1.0.0", "10.1.255.255"),
                peer
            )),
            ["10.1.0.0/16"]
        );
        // The peer alone: nothing to route.
        assert!(selector_prefixes_except(&ts("10.0.0.2", "10.0.0.2"), peer).is_empty());
        let v6 = Some("2001:db8::1".parse().unwrap());
        let all =
            selector_prefixes_except(&ts("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), v6);
        assert_eq!(all.len(), 128);
    }
}
