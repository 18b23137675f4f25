//! The settings of an HA node: who is in the cluster, the sync channel's secret, and the
//! policies for checkpoints, message IDs and takeover (docs/design/ha.md explains each
//! default).

use std::fmt;
use std::time::Duration;

use hitless_crypto::CryptoError;
use hitless_crypto::SecretBytes;

/// A cluster member's number, carried in every sync datagram's header.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct NodeId(pub u16);

/// An HA node's configuration.
#[derive(Clone, Debug)]
pub struct HaConfig {
    /// This node.
    pub node: NodeId,
    /// The other members of the cluster (one for active/standby). Datagrams from any other
    /// node are dropped.
    pub members: Vec<NodeId>,
    /// The cluster's shared secret (at least 16 random bytes). Every sync key is derived from
    /// it (docs/design/ha.md, "The sync channel").
    pub secret: SecretBytes,
    /// The largest sync datagram to send, in bytes (the UDP payload). Records are batched up
    /// to it; a single snapshot larger than it goes alone and relies on IP fragmentation.
    pub mtu: usize,
    /// How often a node sends a heartbeat to each member.
    pub heartbeat_interval: Duration,
    /// A member not heard from for this long is reported dead (an alarm; nothing else
    /// changes: keepalived decides roles).
    pub peer_dead_after: Duration,
    /// When ESP sequence numbers are synced.
    pub checkpoints: CheckpointPolicy,
    /// When IKE message IDs are synced.
    pub message_ids: MessageIdPolicy,
    /// How far a takeover moves sequence numbers.
    pub takeover: TakeoverPolicy,
    /// Reliability and pacing of the sync stream.
    pub stream: StreamSettings,
}

/// When an active node sends ESP sequence checkpoints: per SA, as soon as its number moved
/// `packets` past the last one sent, or `interval` after the last one sent if it moved at all,
/// whichever comes first; never when it did not move.
///
/// The data plane must report at least as often (`hitless_esp::Config::checkpoint_packets` at
/// most `packets`, and `checkpoint_interval` at most `interval`): the takeover bound relies
/// on an unreported gap of at most `packets`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CheckpointPolicy {
    /// N: packets between count-triggered checkpoints.
    pub packets: u64,
    /// T: the longest a moved number waits before it is sent.
    pub interval: Duration,
}

/// When an active node syncs an IKE SA's message IDs.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MessageIdPolicy {
    /// After every exchange, with the cached request and response, so a takeover continues
    /// with exact counters (strongSwan's behaviour).
    PerExchange,
    /// For IKE SAs on which both sides announced IKEV2_MESSAGE_ID_SYNC_SUPPORTED ([RFC 6311]),
    /// only every `exchanges` exchanges or `interval` after the first unsynced one; the new
    /// active repairs the counters with the peer. Other IKE SAs still sync per exchange.
    ///
    /// [RFC 6311]: https://www.rfc-editor.org/rfc/rfc6311
    Lazy {
        /// Exchanges between syncs.
        exchanges: u32,
        /// The longest an exchange waits to be synced.
        interval: Duration,
    },
}

/// The terms of the takeover bound (docs/design/ha.md, "Why no sequence number is used
/// twice"): a new active node starts each outbound SA after
///
/// ```text
/// checkpoint + N + R × (age + D) + margin [+ R × split_brain_allowance]
/// ```
///
/// where N is [`CheckpointPolicy::packets`], `age` the time since the checkpoint's sender was
/// last heard in order, and the last term applies while the old node may still be sending.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TakeoverPolicy {
    /// R: the most packets per second one outbound SA can carry on this hardware.
    pub max_packet_rate: u64,
    /// D: the longest a checkpoint takes from the data plane of the active node to the
    /// standby (event queue, sync send, network).
    pub max_sync_delay: Duration,
    /// A constant extra margin, in packets.
    pub margin: u64,
    /// How long a demoted or partitioned old active node may keep sending on an SA before it
    /// could reach the numbers the new active uses (with extended sequence numbers).
    pub split_brain_allowance: Duration,
    /// The most the split-brain term may add for SAs with 32-bit sequence numbers, whose
    /// whole space is 2^32 (a larger jump brings the rekey closer instead).
    pub narrow_allowance_cap: u64,
}

/// Reliability and pacing of the sync stream.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct StreamSettings {
    /// How long a gap in the received stream may last before a NACK asks for it.
    pub nack_delay: Duration,
    /// Datagrams kept per member for retransmission until it acknowledges them. A NACK for
    /// one no longer kept starts a bulk resync.
    pub retransmit_buffer: usize,
    /// Datagrams received ahead of a gap that are kept until it fills.
    pub reorder_buffer: usize,
    /// IKE SAs a bulk transfer sends per step.
    pub bulk_batch: usize,
    /// The pause between bulk transfer steps.
    pub bulk_pause: Duration,
    /// How often a node that is not ready repeats its resync request.
    pub resync_retry: Duration,
}

/// A configuration that cannot work.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The secret is shorter than 16 bytes.
    #[error("HA secret has {0} bytes, expected at least 16")]
    SecretTooShort(usize),
    /// A member has this node's own id, or appears twice.
    #[error("member {0} listed twice or equal to this node")]
    DuplicateMember(NodeId),
    /// The MTU cannot hold a header, a tag and one record.
    #[error("HA MTU {0} outside 576..=65507")]
    Mtu(usize),
    /// A zero interval, packet count or buffer.
    #[error("HA setting {0} must not be zero")]
    Zero(&'static str),
    /// The crypto provider lacks AES-256-GCM or HMAC-SHA2-256.
    #[error("the crypto provider lacks {0}")]
    Algorithm(&'static str),
    /// The provider failed to derive a key or draw the session id.
    #[error("crypto provider: {0}")]
    Crypto(#[from] CryptoError),
}

impl HaConfig {
    /// A configuration with the defaults of docs/design/ha.md.
    pub fn new(node: NodeId, members: Vec<NodeId>, secret: SecretBytes) -> Self {
        Self {
            node,
            members,
            secret,
            mtu: 1400,
            heartbeat_interval: Duration::from_millis(100),
            peer_dead_after: Duration::from_secs(1),
            checkpoints: CheckpointPolicy::default(),
            message_ids: MessageIdPolicy::PerExchange,
            takeover: TakeoverPolicy::default(),
            stream: StreamSettings::default(),
        }
    }

    /// Checks that the configuration can work.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.secret.len() < 16 {
            return Err(ConfigError::SecretTooShort(self.secret.len()));
        }
        let mut seen = vec![self.node];
        for member in &self.members {
            if seen.contains(member) {
                return Err(ConfigError::DuplicateMember(*member));
            }
            seen.push(*member);
        }
        if !(576..=65_507).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        let zero = [
            ("heartbeat_interval", self.heartbeat_interval.is_zero()),
            ("peer_dead_after", self.peer_dead_after.is_zero()),
            ("checkpoints.packets", self.checkpoints.packets == 0),
            ("checkpoints.interval", self.checkpoints.interval.is_zero()),
            ("stream.nack_delay", self.stream.nack_delay.is_zero()),
            (
                "stream.retransmit_buffer",
                self.stream.retransmit_buffer == 0,
            ),
            ("stream.reorder_buffer", self.stream.reorder_buffer == 0),
            ("stream.bulk_batch", self.stream.bulk_batch == 0),
            ("stream.resync_retry", self.stream.resync_retry.is_zero()),
            (
                "message_ids.exchanges",
                matches!(self.message_ids, MessageIdPolicy::Lazy { exchanges: 0, .. }),
            ),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, is_zero)| *is_zero) {
            return Err(ConfigError::Zero(name));
        }
        Ok(())
    }
}

impl Default for CheckpointPolicy {
    /// N = 1024 packets, T = 50 ms: at 100,000 packets/s per SA that is 100 checkpoints a
    /// second, 29 bytes each; idle SAs send none.
    fn default() -> Self {
        Self {
            packets: 1024,
            interval: Duration::from_millis(50),
        }
    }
}

impl Default for TakeoverPolicy {
    /// R = 2,000,000 packets/s (above what one core seals), D = 100 ms, margin 1024, and one
    /// hour of split brain (7.2 × 10^9 numbers of a 64-bit space; capped at 2^30 for 32-bit
    /// SAs).
    fn default() -> Self {
        Self {
            max_packet_rate: 2_000_000,
            max_sync_delay: Duration::from_millis(100),
            margin: 1024,
            split_brain_allowance: Duration::from_secs(3600),
            narrow_allowance_cap: 1 << 30,
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            nack_delay: Duration::from_millis(20),
            retransmit_buffer: 4096,
            reorder_buffer: 1024,
            bulk_batch: 256,
            bulk_pause: Duration::from_millis(2),
            resync_retry: Duration::from_secs(1),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HaConfig {
        HaConfig::new(NodeId(1), vec![NodeId(2)], SecretBytes::new(vec![7; 32]))
    }

    #[test]
    fn defaults_validate() {
        config().validate().unwrap();
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = config();
        c.secret = SecretBytes::new(vec![1; 8]);
        assert_eq!(c.validate(), Err(ConfigError::SecretTooShort(8)));
        let mut c = config();
        c.members.push(NodeId(1));
        assert_eq!(c.validate(), Err(ConfigError::DuplicateMember(NodeId(1))));
        let mut c = config();
        c.mtu = 100;
        assert_eq!(c.validate(), Err(ConfigError::Mtu(100)));
        let mut c = config();
        c.checkpoints.packets = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("checkpoints.packets")));
        let mut c = config();
        c.message_ids = MessageIdPolicy::Lazy {
            exchanges: 0,
            interval: Duration::from_secs(1),
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Zero("message_ids.exchanges"))
        );
    }
}
