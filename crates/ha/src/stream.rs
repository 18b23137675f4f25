//! The ordered, reliable sync stream between two nodes (docs/design/ha.md, "The sync
//! channel").
//!
//! Each sender numbers its datagrams to each receiver 1, 2, 3, … in its session. The receiver
//! applies them strictly in that order, so its state is always the sender's state as of some
//! datagram, never a mix. Datagrams that arrive ahead of a gap wait in a bounded buffer; a gap
//! that lasts asks for a retransmission with a NACK; the sender keeps what the receiver has not
//! acknowledged (heartbeats carry the acknowledgement) and resends it byte for byte. When it no
//! longer has what is asked for, it restarts the stream with a reset datagram followed by a
//! bulk transfer of its whole state. A sequence number below the next expected one, or already
//! buffered, is a replay and is dropped.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::AeadKey;
use hitless_crypto::CryptoError;
use zeroize::Zeroizing;

use crate::channel;
use crate::channel::Header;
use crate::config::NodeId;
use crate::message::SessionId;
use crate::status::DropReason;

/// Our stream to one member.
pub(crate) struct OutStream {
    key: Box<dyn AeadKey>,
    sender: NodeId,
    receiver: NodeId,
    session: SessionId,
    next_sequence: u64,
    next_control: u64,
    unacked: VecDeque<Sent>,
    capacity: usize,
    acked: u64,
    /// The sequence number of the last reset datagram, if any.
    reset_at: Option<u64>,
    /// The next ordered datagram restarts the stream.
    reset_pending: bool,
}

/// A sent datagram kept until acknowledged.
struct Sent {
    sequence: u64,
    at: Instant,
    bytes: Vec<u8>,
}

/// Why a NACK cannot be answered from the retransmit buffer.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Unavailable;

/// A member's stream to us, in one of its sessions.
pub(crate) struct InStream {
    pub(crate) session: SessionId,
    key: Box<dyn AeadKey>,
    next_expected: u64,
    buffered: BTreeMap<u64, Zeroizing<Vec<u8>>>,
    resets: BTreeSet<u64>,
    highest_control: u64,
    gap_since: Option<Instant>,
    last_nack: Option<Instant>,
}

impl OutStream {
    /// A stream from `sender` to `receiver` in `session`, keeping `capacity` datagrams for
    /// retransmission.
    pub(crate) fn new(
        key: Box<dyn AeadKey>,
        sender: NodeId,
        receiver: NodeId,
        session: SessionId,
        capacity: usize,
    ) -> Self {
        Self {
            key,
            sender,
            receiver,
            session,
            next_sequence: 1,
            next_control: 1,
            unacked: VecDeque::new(),
            capacity,
            acked: 0,
            reset_at: None,
            reset_pending: false,
        }
    }

    /// Seals the next datagram of the ordered stream and keeps it for retransmission.
    ///
    /// # Errors
    ///
    /// What the provider reports, or [`CryptoError::InvalidLength`] when the sequence space
    /// is exhausted (2^63 datagrams).
    pub(crate) fn seal_ordered(
        &mut self,
        now: Instant,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let sequence = self.next_sequence;
        if sequence > channel::MAX_SEQUENCE {
            return Err(CryptoError::InvalidLength);
        }
        let mut flags = 0;
        if self.reset_pending {
            flags |= channel::FLAG_RESET;
        }
        let bytes = channel::seal(&*self.key, &self.header(flags, sequence), plaintext)?;
        self.next_sequence += 1;
        if self.reset_pending {
            self.reset_pending = false;
            self.reset_at = Some(sequence);
        }
        if self.unacked.len() == self.capacity {
            self.unacked.pop_front();
        }
        self.unacked.push_back(Sent {
            sequence,
            at: now,
            bytes: bytes.clone(),
        });
        Ok(bytes)
    }

    /// Seals a control datagram (outside the ordered stream; not kept).
    ///
    /// # Errors
    ///
    /// As [`OutStream::seal_ordered`].
    pub(crate) fn seal_control(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sequence = self.next_control;
        if sequence > channel::MAX_SEQUENCE {
            return Err(CryptoError::InvalidLength);
        }
        self.next_control += 1;
        channel::seal(
            &*self.key,
            &self.header(channel::FLAG_CONTROL, sequence),
            plaintext,
        )
    }

    /// The receiver has everything up to `ack`.
    pub(crate) fn ack(&mut self, ack: u64) {
        if ack >= self.next_sequence {
            // Acknowledges what we never sent: an old session's stream. Ignore.
            return;
        }
        self.acked = self.acked.max(ack);
        while self
            .unacked
            .front()
            .is_some_and(|sent| sent.sequence <= self.acked)
        {
            self.unacked.pop_front();
        }
    }

    /// The datagrams `from..=to` again, exactly as sent.
    ///
    /// # Errors
    ///
    /// [`Unavailable`] when one of them is no longer kept, or lies before the last reset.
    pub(crate) fn retransmit(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, Unavailable> {
        let to = to.min(self.next_sequence.saturating_sub(1));
        if to < from {
            return Ok(Vec::new());
        }
        // Before the last reset: the receiver missed the reset itself; send it again with
        // what follows it in the range.
        let from = match self.reset_at {
            Some(reset) if from < reset => reset,
            _ => from,
        };
        if to < from {
            return Ok(Vec::new());
        }
        let first = self.unacked.front().ok_or(Unavailable)?.sequence;
        if from < first || to - from >= MAX_RETRANSMIT_BURST {
            return Err(Unavailable);
        }
        Ok(self
            .unacked
            .iter()
            .filter(|sent| (from..=to).contains(&sent.sequence))
            .map(|sent| sent.bytes.clone())
            .collect())
    }

    /// The next ordered datagram restarts the stream.
    pub(crate) fn reset(&mut self) {
        self.reset_pending = true;
    }

    /// How far behind the receiver is: the age of the oldest unacknowledged datagram.
    pub(crate) fn lag(&self, now: Instant) -> Duration {
        self.unacked.front().map_or(Duration::ZERO, |sent| {
            now.saturating_duration_since(sent.at)
        })
    }

    /// Datagrams not yet acknowledged.
    pub(crate) fn unacked(&self) -> usize {
        self.unacked.len()
    }

    fn header(&self, flags: u8, sequence: u64) -> Header {
        Header {
            flags,
            sender: self.sender,
            receiver: self.receiver,
            session: self.session,
            sequence,
        }
    }
}

impl InStream {
    /// A member's stream in `session`, expecting datagram 1 next.
    pub(crate) fn new(session: SessionId, key: Box<dyn AeadKey>) -> Self {
        Self {
            session,
            key,
            next_expected: 1,
            buffered: BTreeMap::new(),
            resets: BTreeSet::new(),
            highest_control: 0,
            gap_since: None,
            last_nack: None,
        }
    }

    /// The stream's key.
    pub(crate) fn key(&self) -> &dyn AeadKey {
        &*self.key
    }

    /// Checks, before decrypting, that a datagram is fresh and fits the buffer.
    ///
    /// # Errors
    ///
    /// [`DropReason::Replayed`] or [`DropReason::TooFarAhead`].
    pub(crate) fn check(&self, header: &Header, capacity: usize) -> Result<(), DropReason> {
        if header.is_control() {
            return if header.sequence <= self.highest_control {
                Err(DropReason::Replayed)
            } else {
                Ok(())
            };
        }
        let sequence = header.sequence;
        if sequence < self.next_expected || self.buffered.contains_key(&sequence) {
            return Err(DropReason::Replayed);
        }
        let ahead = sequence - self.next_expected;
        if !header.is_reset() && ahead >= capacity as u64 {
            return Err(DropReason::TooFarAhead);
        }
        if self.buffered.len() >= capacity && !header.is_reset() {
            return Err(DropReason::TooFarAhead);
        }
        Ok(())
    }

    /// Records an authenticated control datagram as seen.
    pub(crate) fn accept_control(&mut self, sequence: u64) {
        self.highest_control = self.highest_control.max(sequence);
    }

    /// Keeps an authenticated ordered datagram until its turn.
    pub(crate) fn insert(&mut self, header: &Header, plaintext: Zeroizing<Vec<u8>>) {
        if header.is_reset() {
            self.resets.insert(header.sequence);
        }
        self.buffered.insert(header.sequence, plaintext);
    }

    /// The next datagram in order, if it has arrived. A reset moves the stream past whatever
    /// came before it.
    pub(crate) fn pop(&mut self) -> Option<(u64, Zeroizing<Vec<u8>>)> {
        if let Some(&reset) = self.resets.last()
            && reset > self.next_expected
        {
            self.next_expected = reset;
            self.buffered = self.buffered.split_off(&reset);
            self.resets = self.resets.split_off(&reset);
        }
        let sequence = self.next_expected;
        let plaintext = self.buffered.remove(&sequence)?;
        self.resets.remove(&sequence);
        self.next_expected += 1;
        Some((sequence, plaintext))
    }

    /// The highest sequence number received without a gap.
    pub(crate) fn acknowledged(&self) -> u64 {
        self.next_expected - 1
    }

    /// A range to ask for again, when a gap has lasted `delay` and no NACK went out for it in
    /// the last `4 × delay`.
    pub(crate) fn nack_due(&mut self, now: Instant, delay: Duration) -> Option<(u64, u64)> {
        let Some(gap) = self.gap() else {
            self.gap_since = None;
            return None;
        };
        let since = *self.gap_since.get_or_insert(now);
        if now < since + delay {
            return None;
        }
        if self.last_nack.is_some_and(|at| now < at + delay * 4) {
            return None;
        }
        self.last_nack = Some(now);
        Some(gap)
    }

    /// When [`InStream::nack_due`] may next return a range.
    pub(crate) fn nack_deadline(&self, delay: Duration) -> Option<Instant> {
        self.gap()?;
        let since = self.gap_since?;
        Some(match self.last_nack {
            Some(at) => (since + delay).max(at + delay * 4),
            None => since + delay,
        })
    }

    /// Missing datagrams before the first buffered one.
    fn gap(&self) -> Option<(u64, u64)> {
        if self.resets.last().is_some_and(|&r| r > self.next_expected) {
            // A reset lies ahead: nothing before it is needed.
            return None;
        }
        let (&first, _) = self.buffered.first_key_value()?;
        (first > self.next_expected).then(|| (self.next_expected, first - 1))
    }
}

/// The most datagrams one NACK may ask for; a larger gap is cheaper to close with a bulk
/// transfer.
const MAX_RETRANSMIT_BURST: u64 = 1024;

#[cfg(test)]
mod tests {
    use hitless_crypto::SecretBytes;

    use super::*;
    use crate::channel::Suite;

    fn pair(capacity: usize) -> (OutStream, InStream) {
        let provider = hitless_crypto_insecure::provider(1);
        let suite = Suite::new(&provider, SecretBytes::new(vec![1; 32])).unwrap();
        let session = [4; 16];
        let out = OutStream::new(
            suite.key(NodeId(1), NodeId(2), &session).unwrap(),
            NodeId(1),
            NodeId(2),
            session,
            capacity,
        );
        let input = InStream::new(session, suite.key(NodeId(1), NodeId(2), &session).unwrap());
        (out, input)
    }

    fn receive(input: &mut InStream, datagram: &[u8]) -> Result<(), DropReason> {
        let header = Header::parse(datagram)?;
        input.check(&header, 8)?;
        let plaintext = channel::open(input.key(), &header, datagram)?;
        if header.is_control() {
            input.accept_control(header.sequence);
        } else {
            input.insert(&header, plaintext);
        }
        Ok(())
    }

    fn drain(input: &mut InStream) -> Vec<u8> {
        std::iter::from_fn(|| input.pop().map(|(_, p)| p[0])).collect()
    }

    #[test]
    fn in_order_delivery_despite_reordering() {
        let now = crate::test_support::origin();
        let (mut out, mut input) = pair(16);
        let d: Vec<_> = (0..4u8)
            .map(|i| out.seal_ordered(now, &[i]).unwrap())
            .collect();
        receive(&mut input, &d[1]).unwrap();
        receive(&mut input, &d[3]).unwrap();
        assert!(drain(&mut input).is_empty());
        receive(&mut input, &d[0]).unwrap();
        assert_eq!(drain(&mut input), vec![0, 1]);
        receive(&mut input, &d[2]).unwrap();
        assert_eq!(drain(&mut input), vec![2, 3]);
        assert_eq!(input.acknowledged(), 4);
    }

    #[test]
    fn replays_and_duplicates_are_dropped() {
        let now = crate::test_support::origin();
        let (mut out, mut input) = pair(16);
        let first = out.seal_ordered(now, &[0]).unwrap();
        let third = {
            out.seal_ordered(now, &[1]).unwrap();
            out.seal_ordered(now, &[2]).unwrap()
        };
        receive(&mut input, &first).unwrap();
        drain(&mut input);
        assert_eq!(receive(&mut input, &first), Err(DropReason::Replayed));
        receive(&mut input, &third).unwrap();
        assert_eq!(receive(&mut input, &third), Err(DropReason::Replayed));
        let control = out.seal_control(b"c").unwrap();
        receive(&mut input, &control).unwrap();
        assert_eq!(receive(&mut input, &control), Err(DropReason::Replayed));
    }

    #[test]
    fn gaps_are_nacked_and_filled_by_retransmission() {
        let t0 = crate::test_support::origin();
        let delay = Duration::from_millis(20);
        let (mut out, mut input) = pair(16);
        let d: Vec<_> = (0..3u8)
            .map(|i| out.seal_ordered(t0, &[i]).unwrap())
            .collect();
        receive(&mut input, &d[0]).unwrap();
        receive(&mut input, &d[2]).unwrap();
        drain(&mut input);
        assert_eq!(input.nack_due(t0, delay), None);
        assert_eq!(input.nack_deadline(delay), Some(t0 + delay));
        assert_eq!(input.nack_due(t0 + delay, delay), Some((2, 2)));
        assert_eq!(input.nack_due(t0 + delay * 2, delay), None, "rate-limited");
        for datagram in out.retransmit(2, 2).unwrap() {
            receive(&mut input, &datagram).unwrap();
        }
        assert_eq!(drain(&mut input), vec![1, 2]);
        assert_eq!(input.nack_deadline(delay), None);
        out.ack(input.acknowledged());
        assert_eq!(out.unacked(), 0);
        assert_eq!(out.lag(t0), Duration::ZERO);
    }

    #[test]
    fn a_reset_skips_what_cannot_be_retransmitted() {
        let now = crate::test_support::origin();
        let (mut out, mut input) = pair(2);
        let d: Vec<_> = (0..4u8)
            .map(|i| out.seal_ordered(now, &[i]).unwrap())
            .collect();
        receive(&mut input, &d[0]).unwrap();
        drain(&mut input);
        // Datagrams 2 and 3 are lost and 2 has left the retransmit buffer.
        assert_eq!(out.retransmit(2, 3), Err(Unavailable));
        out.reset();
        let reset = out.seal_ordered(now, &[9]).unwrap();
        assert!(Header::parse(&reset).unwrap().is_reset());
        // A reset far ahead is accepted even beyond the reorder window.
        receive(&mut input, &reset).unwrap();
        // What arrives from before the reset is abandoned.
        receive(&mut input, &d[3]).unwrap();
        assert_eq!(drain(&mut input), vec![9]);
        // A NACK from before the reset gets the reset datagram again.
        assert_eq!(out.retransmit(2, 5).unwrap(), vec![reset]);
    }

    #[test]
    fn too_far_ahead_is_refused() {
        let now = crate::test_support::origin();
        let (mut out, mut input) = pair(64);
        let d: Vec<_> = (0..10u8)
            .map(|i| out.seal_ordered(now, &[i]).unwrap())
            .collect();
        assert_eq!(receive(&mut input, &d[9]), Err(DropReason::TooFarAhead));
        receive(&mut input, &d[7]).unwrap();
    }
}

#[cfg(test)]
mod properties {
    use hitless_crypto::SecretBytes;
    use proptest::prelude::*;

    use super::*;
    use crate::channel::Suite;

    proptest! {
        /// Whatever the network does (reorder, duplicate, drop), the receiver applies each
        /// datagram exactly once and in order, once NACKs have recovered what was lost.
        #[test]
        fn delivery_is_exactly_once_and_in_order(
            order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle(),
            duplicated in proptest::collection::vec(any::<bool>(), 40),
            dropped in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let provider = hitless_crypto_insecure::provider(3);
            let suite = Suite::new(&provider, SecretBytes::new(vec![2; 32])).unwrap();
            let session = [8; 16];
            let key = || suite.key(NodeId(1), NodeId(2), &session).unwrap();
            let mut out = OutStream::new(key(), NodeId(1), NodeId(2), session, 64);
            let mut input = InStream::new(session, key());
            let now = crate::test_support::origin();
            let sent: Vec<Vec<u8>> = (0..40u8)
                .map(|i| out.seal_ordered(now, &[i]).unwrap())
                .collect();
            let mut applied = Vec::new();
            let deliver = |input: &mut InStream, datagram: &[u8], applied: &mut Vec<u8>| {
                let header = Header::parse(datagram).unwrap();
                if input.check(&header, 64).is_ok() {
                    let plaintext = channel::open(input.key(), &header, datagram).unwrap();
                    input.insert(&header, plaintext);
                }
                while let Some((_, p)) = input.pop() {
                    applied.push(p[0]);
                }
            };
            for &i in &order {
                if dropped[i] {
                    continue;
                }
                deliver(&mut input, &sent[i], &mut applied);
                if duplicated[i] {
                    deliver(&mut input, &sent[i], &mut applied);
                }
            }
            // Recovery: the receiver NACKs gaps, the sender resends; a lost tail is found by
            // the next datagram (here: a heartbeat-like 41st).
            let tail = out.seal_ordered(now, &[40]).unwrap();
            deliver(&mut input, &tail, &mut applied);
            let mut t = now;
            for _ in 0..50 {
                t += Duration::from_millis(100);
                if let Some((from, to)) = input.nack_due(t, Duration::from_millis(20)) {
                    for datagram in out.retransmit(from, to).unwrap() {
                        deliver(&mut input, &datagram, &mut applied);
                    }
                }
            }
            prop_assert_eq!(applied, (0..=40u8).collect::<Vec<_>>());
        }
    }
}
