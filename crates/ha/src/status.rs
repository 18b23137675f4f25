//! What `hitlessctl ha status` and the metrics show: role, readiness, sync lag, SAs synced,
//! checkpoint age, and counters of everything sent, received and dropped.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::config::NodeId;

/// A node's role, as keepalived's notify hooks set it (`hitlessctl ha active|standby|fault`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Role {
    /// Holds every SA passive, sends nothing on them, receives sync.
    Standby,
    /// Owns the virtual IP and every SA; sends sync.
    Active,
    /// Declared faulty by keepalived: like standby.
    Fault,
}

/// Why a sync datagram was dropped. Every drop is counted ([`HaCounters::dropped`]).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, thiserror::Error)]
pub enum DropReason {
    /// Shorter than a header and a tag.
    #[error("truncated")]
    Truncated,
    /// Not a sync datagram (wrong magic).
    #[error("not a sync datagram")]
    NotSync,
    /// A protocol version this node does not speak.
    #[error("incompatible version")]
    Version,
    /// From a node that is not a member of the cluster (or claims to be this node).
    #[error("not from a cluster member")]
    NonMember,
    /// Addressed to another node.
    #[error("addressed to another node")]
    Misdirected,
    /// Failed authentication: forged, corrupted, or keyed with another secret.
    #[error("failed authentication")]
    Forged,
    /// A sequence number already received (a replay or a network duplicate).
    #[error("replayed")]
    Replayed,
    /// Too far ahead of the stream to buffer; the gap is recovered by a NACK or a resync.
    #[error("too far ahead")]
    TooFarAhead,
    /// From a session of the sender that has not answered a challenge yet, and the buffer
    /// for such datagrams is full.
    #[error("unverified session")]
    Unverified,
}

/// Counters of one node's sync traffic.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct HaCounters {
    /// Datagrams sent (retransmissions included).
    pub datagrams_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Datagrams accepted (authenticated and fresh).
    pub datagrams_received: u64,
    /// Bytes accepted.
    pub bytes_received: u64,
    /// Datagrams retransmitted after a NACK.
    pub retransmitted: u64,
    /// Dropped datagrams by reason.
    pub dropped: BTreeMap<DropReason, u64>,
    /// Records of a type this version does not know (skipped).
    pub unknown_records: u64,
    /// Records that failed to decode (dropped; the previous state stays).
    pub corrupt_records: u64,
    /// IKE SA snapshots sent.
    pub snapshots_sent: u64,
    /// Message-ID updates sent.
    pub message_id_updates_sent: u64,
    /// Checkpoints sent.
    pub checkpoints_sent: u64,
    /// IKE SA snapshots applied.
    pub snapshots_applied: u64,
    /// Checkpoints applied.
    pub checkpoints_applied: u64,
    /// Snapshots the local engine refused to import.
    pub import_failures: u64,
    /// Snapshots that could not be encoded (too large for one record).
    pub encode_failures: u64,
    /// Bulk transfers sent.
    pub bulk_sent: u64,
    /// Bulk transfers completed as receiver.
    pub bulk_received: u64,
    /// Takeovers (this node became active).
    pub takeovers: u64,
    /// Demotions (this node stopped being active).
    pub demotions: u64,
    /// Times another node claimed to be active while this one was.
    pub split_brain: u64,
}

/// The state of one HA node, for `hitlessctl ha status` and metrics.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HaStatus {
    /// This node.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// The highest takeover epoch it knows.
    pub epoch: u64,
    /// A standby holds a complete copy of the active node's state (a bulk transfer from it
    /// completed); an active node is always ready.
    pub ready: bool,
    /// IKE SAs it holds a copy of (standby) or replicates (active).
    pub ike_sas: usize,
    /// Child SAs among them.
    pub child_sas: usize,
    /// The age of the newest checkpoint received (standby) or sent (active).
    pub last_checkpoint_age: Option<Duration>,
    /// The other members.
    pub peers: Vec<PeerStatus>,
    /// Counters.
    pub counters: HaCounters,
}

/// What a node knows of another member.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PeerStatus {
    /// The member.
    pub node: NodeId,
    /// Its role, from its last heartbeat.
    pub role: Option<Role>,
    /// Whether it says it is ready.
    pub ready: bool,
    /// Whether its datagrams arrive (within the configured dead interval). An alarm only:
    /// losing the sync channel never stops an active node's traffic.
    pub alive: bool,
    /// Time since the last datagram from it was accepted in order.
    pub last_heard: Option<Duration>,
    /// How far it lags behind what this node sent: the age of the oldest datagram it has not
    /// acknowledged (zero when it is caught up).
    pub sync_lag: Duration,
    /// Datagrams sent to it and not yet acknowledged.
    pub unacked: usize,
}

impl Role {
    /// Whether the node sends on its SAs.
    pub fn is_active(self) -> bool {
        self == Self::Active
    }

    pub(crate) fn to_wire(self) -> u8 {
        match self {
            Self::Standby => 1,
            Self::Active => 2,
            Self::Fault => 3,
        }
    }

    pub(crate) fn from_wire(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Standby),
            2 => Some(Self::Active),
            3 => Some(Self::Fault),
            _ => None,
        }
    }
}

impl HaCounters {
    /// Total dropped datagrams.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_default() += 1;
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standby => "standby",
            Self::Active => "active",
            Self::Fault => "fault",
        })
    }
}
