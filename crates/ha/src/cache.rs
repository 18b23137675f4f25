//! What a node knows of every IKE SA of the cluster: the latest snapshot, where it came from,
//! and the ESP sequence checkpoints of its Child SAs by source. An active node keeps it to
//! answer resync requests (bulk transfers); a standby keeps it to take over.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::time::Instant;

use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSpis;
use hitless_sadb::Direction;
use hitless_sadb::Spi;

use crate::config::NodeId;

/// Who reported a piece of state.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub(crate) enum Source {
    /// This node's own engine and data plane (while it was active).
    Local,
    /// Another member.
    Peer(NodeId),
}

/// What is known of one IKE SA.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The latest good snapshot.
    pub(crate) snapshot: IkeSaSnapshot,
    /// When it arrived (its durations count from then).
    pub(crate) received_at: Instant,
    /// Its message IDs are synced lazily and may be behind.
    pub(crate) lazy_ids: bool,
    /// Who sent it.
    pub(crate) source: Source,
    /// Active in this node's engine (else passive there, or not yet imported).
    pub(crate) local: bool,
    /// Seen in the bulk transfer in progress (SAs not seen by its end are gone).
    pub(crate) confirmed: bool,
}

/// Every IKE SA and checkpoint a node knows.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    sas: BTreeMap<IkeSpis, Entry>,
    /// Inbound SPI of each Child SA → its IKE SA (inbound SPIs are ours, unique per node).
    owners: HashMap<Spi, IkeSpis>,
    marks: BTreeMap<(Spi, Direction), BTreeMap<Source, u64>>,
}

impl Cache {
    /// Stores `entry`, replacing an older one of the same IKE SA. Returns the other IKE SAs
    /// that claimed one of its Child SAs (stale copies, e.g. the old IKE SA of a rekey whose
    /// delete was lost); they are removed.
    pub(crate) fn upsert(&mut self, entry: Entry) -> Vec<IkeSpis> {
        let spis = entry.snapshot.spis;
        let mut conflicts = Vec::new();
        for child in &entry.snapshot.children {
            if let Some(&owner) = self.owners.get(&child.spi_in)
                && owner != spis
                && !conflicts.contains(&owner)
            {
                conflicts.push(owner);
            }
        }
        for owner in &conflicts {
            self.remove(*owner);
        }
        if let Some(old) = self.sas.remove(&spis) {
            self.forget_children(&old.snapshot, Some(&entry.snapshot));
        }
        for child in &entry.snapshot.children {
            self.owners.insert(child.spi_in, spis);
        }
        self.sas.insert(spis, entry);
        conflicts
    }

    /// Forgets an IKE SA and the checkpoints of its Child SAs.
    pub(crate) fn remove(&mut self, spis: IkeSpis) -> Option<Entry> {
        let entry = self.sas.remove(&spis)?;
        self.forget_children(&entry.snapshot, None);
        Some(entry)
    }

    /// Records a checkpoint; keeps the highest per source. Returns whether it moved.
    pub(crate) fn record_mark(
        &mut self,
        spi: Spi,
        direction: Direction,
        source: Source,
        sequence: u64,
    ) -> bool {
        let marks = self.marks.entry((spi, direction)).or_default();
        let mark = marks.entry(source).or_default();
        if sequence > *mark {
            *mark = sequence;
            true
        } else {
            false
        }
    }

    /// Drops checkpoints of SPIs no IKE SA references, when there are many (checkpoints
    /// may arrive for SAs whose snapshot is still on its way, so they are not dropped at
    /// once).
    pub(crate) fn trim_marks(&mut self) {
        let limit = 4 * self.owners.len() + MARKS_SLACK;
        if self.marks.len() <= limit {
            return;
        }
        let referenced: std::collections::HashSet<(Spi, Direction)> = self
            .sas
            .values()
            .flat_map(|e| {
                e.snapshot.children.iter().flat_map(|c| {
                    [
                        (c.spi_in, Direction::Inbound),
                        (c.spi_out, Direction::Outbound),
                    ]
                })
            })
            .collect();
        self.marks.retain(|key, _| referenced.contains(key));
    }

    /// An IKE SA.
    pub(crate) fn get(&self, spis: &IkeSpis) -> Option<&Entry> {
        self.sas.get(spis)
    }

    /// An IKE SA, mutably.
    pub(crate) fn get_mut(&mut self, spis: &IkeSpis) -> Option<&mut Entry> {
        self.sas.get_mut(spis)
    }

    /// Every IKE SA, ordered by SPIs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&IkeSpis, &Entry)> {
        self.sas.iter()
    }

    /// Every IKE SA, mutably.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&IkeSpis, &mut Entry)> {
        self.sas.iter_mut()
    }

    /// The SPIs of every IKE SA.
    pub(crate) fn spis(&self) -> Vec<IkeSpis> {
        self.sas.keys().copied().collect()
    }

    /// IKE SAs known.
    pub(crate) fn len(&self) -> usize {
        self.sas.len()
    }

    /// Child SAs known.
    pub(crate) fn children(&self) -> usize {
        self.owners.len()
    }

    /// The checkpoints of one SA, by source.
    pub(crate) fn marks(&self, spi: Spi, direction: Direction) -> Option<&BTreeMap<Source, u64>> {
        self.marks.get(&(spi, direction))
    }

    /// The highest checkpoint of one SA from any source.
    pub(crate) fn max_mark(&self, spi: Spi, direction: Direction) -> Option<u64> {
        self.marks(spi, direction)?.values().copied().max()
    }

    /// Removes the owner entries and checkpoints of `old`'s Child SAs that `new` (the
    /// replacing snapshot, if any) no longer has.
    fn forget_children(&mut self, old: &IkeSaSnapshot, new: Option<&IkeSaSnapshot>) {
        for child in &old.children {
            let kept = new.is_some_and(|n| n.children.iter().any(|c| c.spi_in == child.spi_in));
            if kept {
                continue;
            }
            if self.owners.get(&child.spi_in) == Some(&old.spis) {
                self.owners.remove(&child.spi_in);
            }
            self.marks.remove(&(child.spi_in, Direction::Inbound));
            self.marks.remove(&(child.spi_out, Direction::Outbound));
        }
    }
}

/// Checkpoints of unknown SPIs kept beyond four per Child SA.
const MARKS_SLACK: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_snapshot;

    fn entry(seed: u8) -> Entry {
        Entry {
            snapshot: sample_snapshot(seed),
            received_at: crate::test_support::origin(),
            lazy_ids: false,
            source: Source::Peer(NodeId(2)),
            local: false,
            confirmed: false,
        }
    }

    #[test]
    fn a_stale_owner_of_a_child_sa_is_replaced() {
        let mut cache = Cache::default();
        let old = entry(1);
        let mut new = entry(2);
        new.snapshot.children = old.snapshot.children.clone();
        assert!(cache.upsert(old.clone()).is_empty());
        assert_eq!(cache.upsert(new.clone()), vec![old.snapshot.spis]);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&new.snapshot.spis).is_some());
    }

    #[test]
    fn marks_keep_the_highest_per_source_and_leave_with_their_sa() {
        let mut cache = Cache::default();
        let e = entry(3);
        let spi = e.snapshot.children[0].spi_out;
        cache.upsert(e.clone());
        assert!(cache.record_mark(spi, Direction::Outbound, Source::Local, 10));
        assert!(!cache.record_mark(spi, Direction::Outbound, Source::Local, 5));
        assert!(cache.record_mark(spi, Direction::Outbound, Source::Peer(NodeId(2)), 7));
        assert_eq!(cache.max_mark(spi, Direction::Outbound), Some(10));
        cache.remove(e.snapshot.spis);
        assert_eq!(cache.max_mark(spi, Direction::Outbound), None);
        assert_eq!(cache.children(), 0);
    }
}
