//! Counts of half-open responder IKE SAs, in all and per peer address, for the responder's
//! admission decisions ([RFC 7296 §2.6], [RFC 8019 §4]).
//!
//! An SA counts from the moment we answer its IKE_SA_INIT until it leaves the
//! `InitReplied` state (IKE_AUTH completed or failed, or the half-open timeout). SAs whose
//! address a valid cookie proved are counted apart: only they are limited per address, because
//! an attacker who spoofs a victim's address cannot return cookies and so cannot use up the
//! victim's share.
//!
//! [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
//! [RFC 8019 §4]: https://www.rfc-editor.org/rfc/rfc8019#section-4

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::ids::IkeSaId;

/// The half-open SAs and their counts.
#[derive(Debug, Default)]
pub(crate) struct HalfOpenSas {
    members: BTreeMap<IkeSaId, Member>,
    per_address: BTreeMap<IpAddr, Count>,
}

#[derive(Clone, Copy, Debug)]
struct Member {
    address: IpAddr,
    proven: bool,
}

/// Half-open SAs from one address.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct Count {
    /// All of them.
    pub all: u32,
    /// Those whose request carried a valid cookie.
    pub proven: u32,
}

impl HalfOpenSas {
    /// How many SAs are half-open.
    pub(crate) fn total(&self) -> usize {
        self.members.len()
    }

    /// The half-open SAs from `address`.
    pub(crate) fn of_address(&self, address: IpAddr) -> Count {
        self.per_address.get(&address).copied().unwrap_or_default()
    }

    /// Counts SA `id`, from `address`, `proven` by a cookie or not.
    pub(crate) fn insert(&mut self, id: IkeSaId, address: IpAddr, proven: bool) {
        if self
            .members
            .insert(id, Member { address, proven })
            .is_some()
        {
            return;
        }
        let count = self.per_address.entry(address).or_default();
        count.all += 1;
        count.proven += u32::from(proven);
    }

    /// Stops counting SA `id`.
    pub(crate) fn remove(&mut self, id: IkeSaId) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        if let Some(count) = self.per_address.get_mut(&member.address) {
            count.all = count.all.saturating_sub(1);
            count.proven = count.proven.saturating_sub(u32::from(member.proven));
            if count.all == 0 {
                self.per_address.remove(&member.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_inserts_and_removes() {
        let mut sas = HalfOpenSas::default();
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        sas.insert(IkeSaId(1), a, false);
        sas.insert(IkeSaId(2), a, true);
        sas.insert(IkeSaId(2), a, true);
        sas.insert(IkeSaId(3), b, true);
        assert_eq!(sas.total(), 3);
        assert_eq!(sas.of_address(a), Count { all: 2, proven: 1 });
        sas.remove(IkeSaId(2));
        sas.remove(IkeSaId(2));
        assert_eq!(sas.of_address(a), Count { all: 1, proven: 0 });
        sas.remove(IkeSaId(1));
        sas.remove(IkeSaId(3));
        assert_eq!(sas.total(), 0);
        assert!(sas.per_address.is_empty());
    }
}
