//! Routes for the remote traffic selectors of installed policies into the TUN device, so the
//! kernel hands the protected traffic to the data plane. A prefix shared by several policies
//! is routed once and removed with the last of them.

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

/// At most this many prefixes per selector: an address range that needs more is routed by its
/// first prefixes only (and logged), rather than flooding the routing table.
const MAX_PREFIXES_PER_SELECTOR: usize = 64;

/// The routes the daemon added, by policy.
pub(crate) struct Routes {
    netlink: Netlink,
    ifindex: u32,
    by_policy: BTreeMap<ReqId, Vec<Prefix>>,
    users: BTreeMap<(IpAddr, u8), usize>,
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

    /// A policy was installed (or replaced): route its remote selectors.
    pub(crate) fn policy_added(&mut self, reqid: ReqId, remote_ts: &[TrafficSelector]) {
        let mut prefixes: Vec<Prefix> = Vec::new();
        for ts in remote_ts {
            let covering = selector_prefixes(ts);
            if covering.len() >= MAX_PREFIXES_PER_SELECTOR {
                warn!(
                    start = %ts.start_address,
                    end = %ts.end_address,
                    "traffic selector needs too many routes; routing its first {MAX_PREFIXES_PER_SELECTOR} prefixes"
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
        let users = self.users.entry((prefix.addr, prefix.len)).or_default();
        *users += 1;
        if *users > 1 {
            return;
        }
        let route = Route::device(prefix, self.ifindex);
        match self.netlink.replace_route(&route) {
            Ok(()) => debug!(dst = %prefix.addr, len = prefix.len, "route added"),
            Err(error) => warn!(dst = %prefix.addr, len = prefix.len, %error, "cannot add route"),
        }
    }

    fn release(&mut self, prefix: Prefix) {
        let key = (prefix.addr, prefix.len);
        let Some(users) = self.users.get_mut(&key) else {
            return;
        };
        *users -= 1;
        if *users > 0 {
            return;
        }
        self.users.remove(&key);
        let route = Route::device(prefix, self.ifindex);
        match self.netlink.delete_route(&route) {
            Ok(()) => debug!(dst = %prefix.addr, len = prefix.len, "route removed"),
            Err(error) => {
                debug!(dst = %prefix.addr, len = prefix.len, %error, "cannot remove route")
            }
        }
    }
}

/// The smallest set of prefixes covering a selector's address range (at most
/// [`MAX_PREFIXES_PER_SELECTOR`]); none for a range of mixed families or reversed.
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
    while out.len() < MAX_PREFIXES_PER_SELECTOR {
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
        assert_eq!(many.len(), MAX_PREFIXES_PER_SELECTOR);
    }
}
