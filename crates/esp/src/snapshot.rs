//! The immutable SAD and SPD the workers read ([RFC 4301 §4.4]): inbound SAs by SPI, policies
//! in order with their outbound SAs per RFC 9611 resource. The control side builds a new one
//! for each change and publishes it atomically; a worker loads it once per packet without a
//! lock.
//!
//! [RFC 4301 §4.4]: https://www.rfc-editor.org/rfc/rfc4301#section-4.4

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::hash::Hasher;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::TrafficSelector;

use crate::ip::FlowKey;
use crate::sa::SaEntry;

/// One published state of the SAD and SPD.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// Inbound SAs by SPI (RFC 4301 §4.4.2: SPI alone, since we choose inbound SPIs).
    pub(crate) inbound: HashMap<u32, SaEntry, SpiHash>,
    /// Outbound SAs by SPI (statistics and checkpoints; packets find them through policies).
    pub(crate) outbound: HashMap<u32, SaEntry, SpiHash>,
    /// Policies in the order they were added (RFC 4301 §4.4.1: the first match wins).
    pub(crate) policies: Vec<Policy>,
}

/// A policy as the workers see it.
pub(crate) struct Policy {
    pub(crate) selectors: Arc<Selectors>,
    /// Outbound SAs by resource; `None` is the fallback.
    pub(crate) routes: Vec<(Option<ResourceId>, SaEntry)>,
    /// Which `Acquire` events were raised (survives republication).
    pub(crate) acquired: Arc<AcquireFlags>,
}

/// The part of a policy a packet is matched against.
#[derive(Debug)]
pub(crate) struct Selectors {
    pub(crate) reqid: ReqId,
    pub(crate) local_ts: Box<[TrafficSelector]>,
    pub(crate) remote_ts: Box<[TrafficSelector]>,
}

/// One bit per resource 0–62 and one for the fallback: whether an
/// [`Acquire`](hitless_sadb::BackendEvent::Acquire) is outstanding. Read on the packet path,
/// written only when an event is raised or a route is installed.
#[derive(Debug, Default)]
pub(crate) struct AcquireFlags(AtomicU64);

/// Hashes an SPI by multiplication: SPIs of inbound SAs are random numbers we chose, so a
/// keyed hash would buy nothing but time on every packet.
#[derive(Default)]
pub(crate) struct SpiHasher(u64);

pub(crate) type SpiHash = BuildHasherDefault<SpiHasher>;

impl Snapshot {
    /// The first policy whose selectors match an outbound packet (source on our side).
    pub(crate) fn policy_for(&self, flow: &FlowKey) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|policy| policy.selectors.matches_outbound(flow))
    }
}

impl Policy {
    /// The outbound SA for `resource`, else the fallback; and whether the resource's own SA is
    /// missing (the caller may ask for it with an `Acquire`).
    pub(crate) fn route(&self, resource: Option<ResourceId>) -> (Option<&SaEntry>, bool) {
        let own = self.find(resource);
        if own.is_some() {
            return (own, false);
        }
        match resource {
            Some(_) => (self.find(None), true),
            None => (None, true),
        }
    }

    fn find(&self, resource: Option<ResourceId>) -> Option<&SaEntry> {
        self.routes
            .iter()
            .find(|(key, _)| *key == resource)
            .map(|(_, entry)| entry)
    }
}

impl Selectors {
    pub(crate) fn matches_outbound(&self, flow: &FlowKey) -> bool {
        crate::ip::matches(flow, &self.local_ts, &self.remote_ts)
    }
}

impl AcquireFlags {
    /// Marks an `Acquire` for `resource` as raised; true the first time only.
    pub(crate) fn raise(&self, resource: Option<ResourceId>) -> bool {
        let Some(bit) = Self::bit(resource) else {
            return false;
        };
        if self.0.load(Ordering::Relaxed) & bit != 0 {
            return false;
        }
        self.0.fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    /// A route for `resource` exists (or went away): a later miss may raise again.
    pub(crate) fn reset(&self, resource: Option<ResourceId>) {
        if let Some(bit) = Self::bit(resource) {
            self.0.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    fn bit(resource: Option<ResourceId>) -> Option<u64> {
        match resource {
            None => Some(1 << 63),
            Some(ResourceId(id)) if id < 63 => Some(1 << id),
            Some(_) => None,
        }
    }
}

impl Hasher for SpiHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        // Fibonacci hashing: spreads the key into the high bits hashbrown uses.
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_flags_raise_once_until_reset() {
        let flags = AcquireFlags::default();
        assert!(flags.raise(Some(ResourceId(3))));
        assert!(!flags.raise(Some(ResourceId(3))));
        assert!(flags.raise(None));
        assert!(
            !flags.raise(Some(ResourceId(100))),
            "no bit for large resource ids"
        );
        flags.reset(Some(ResourceId(3)));
        assert!(flags.raise(Some(ResourceId(3))));
        assert!(!flags.raise(None));
    }
}
