//! Anti-replay window and extended sequence number inference ([RFC 4303 §3.4.3], [Appendix A]).
//!
//! The receiver checks a sequence number before it verifies the ICV and commits it only after
//! the ICV verified ([RFC 4303 §3.4.3]): a forged packet can neither move the window nor mark a
//! number as seen. The bitmap is a ring of 64-bit words with one spare word ([RFC 6479]), so
//! moving the window forward clears whole words instead of shifting bits.
//!
//! With extended sequence numbers only the low 32 bits travel in the packet; the high 32 bits
//! are inferred from the window ([Appendix A2.2]), and a wrong guess shows up as an ICV failure,
//! after which nothing is committed.
//!
//! [RFC 4303 §3.4.3]: https://www.rfc-editor.org/rfc/rfc4303#section-3.4.3
//! [Appendix A]: https://www.rfc-editor.org/rfc/rfc4303#appendix-A
//! [Appendix A2.2]: https://www.rfc-editor.org/rfc/rfc4303#appendix-A2.2
//! [RFC 6479]: https://www.rfc-editor.org/rfc/rfc6479
//!
//! Shared by workers, the window is read without a lock: the top and the bitmap words are
//! atomics, so phase one costs two loads. Writers (commit, advance) are serialised by
//! `SharedReplayWindow`'s lock and publish a new top only after clearing the words it uncovers.
//! A check racing a commit can only wrongly pass (the commit, which checks again under the lock,
//! then refuses the packet) or name the wrong reason for a number that is refused anyway.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

/// The default anti-replay window, in packets.
pub const DEFAULT_REPLAY_WINDOW: u32 = 1024;

/// The largest anti-replay window an SA may be installed with, in packets.
pub const MAX_REPLAY_WINDOW: u32 = 1 << 16;

/// The window used only to infer the high sequence bits of an ESN SA whose replay check is
/// disabled (RFC 4303 §2.2.1 still requires the receiver to track the high-order bits).
const INFERENCE_ONLY_WINDOW: u32 = DEFAULT_REPLAY_WINDOW;

/// Why a sequence number is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ReplayError {
    /// Inside the window and already received.
    Replayed,
    /// Older than the window (or zero, which no sender uses).
    OutOfWindow,
}

/// The receive side of one SA's sequence space: the highest authenticated number and a bitmap
/// of the numbers seen below it.
#[derive(Debug)]
pub struct ReplayWindow {
    /// Highest sequence number committed (0: none yet).
    top: AtomicU64,
    /// Window size in packets; 0 disables the replay check (but not ESN inference).
    size: u32,
    /// Ring of `size / 64 + 1` (rounded up) words; bit `n % (64 * len)` stands for number `n`.
    bitmap: Box<[AtomicU64]>,
    /// Extended sequence numbers (RFC 4303 §2.2.1).
    esn: bool,
}

/// A [`ReplayWindow`] shared by workers: lock-free checks, commits under a short lock.
#[derive(Debug)]
pub(crate) struct SharedReplayWindow {
    window: ReplayWindow,
    writer: Mutex<()>,
}

impl ReplayWindow {
    /// A window of `size` packets (clamped to [`MAX_REPLAY_WINDOW`]) whose highest number seen
    /// is `initial` (0 for a fresh SA).
    pub fn new(size: u32, esn: bool, initial: u64) -> Self {
        let size = size.min(MAX_REPLAY_WINDOW);
        let words = usize::try_from(size.div_ceil(64)).unwrap_or(0) + 1;
        let mut window = Self {
            top: AtomicU64::new(0),
            size,
            bitmap: (0..words).map(|_| AtomicU64::new(0)).collect(),
            esn,
        };
        window.advance_to(initial);
        window
    }

    /// The highest sequence number committed so far.
    pub fn top(&self) -> u64 {
        self.top.load(Ordering::Acquire)
    }

    /// The configured window size (0: replay check disabled).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Reconstructs the full sequence number from the 32 bits in a packet (RFC 4303 Appendix
    /// A2.2 for ESN; without ESN the number is the 32 bits).
    pub fn infer(&self, low: u32) -> u64 {
        if !self.esn {
            return u64::from(low);
        }
        let window = u64::from(if self.size == 0 {
            INFERENCE_ONLY_WINDOW
        } else {
            self.size
        });
        let top = self.top();
        let top_high = top >> 32;
        let top_low = top & 0xffff_ffff;
        let low = u64::from(low);
        // Appendix A2.2: the window lies in one 2^32 block (case A) or straddles two (case B).
        let high = if top_low + 1 >= window {
            // Case A: a number below the window's bottom belongs to the next block.
            if low + window > top_low {
                top_high
            } else {
                top_high + 1
            }
        } else if low + window > top_low + (1 << 32) {
            // Case B: the number sits in the part of the window in the previous block.
            match top_high.checked_sub(1) {
                Some(previous) => previous,
                // Nothing precedes block 0: return a number the window refuses.
                None => return 0,
            }
        } else {
            top_high
        };
        // Beyond block 2^32 - 1 lies nothing a sender may use (it must rekey before).
        if high > u64::from(u32::MAX) {
            return 0;
        }
        (high << 32) | low
    }

    /// Phase one ([RFC 4303 §3.4.3]): would `seq` be accepted? Changes nothing.
    ///
    /// [RFC 4303 §3.4.3]: https://www.rfc-editor.org/rfc/rfc4303#section-3.4.3
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        // The first packet of an SA carries 1; 0 is never sent (RFC 4303 §3.3.3).
        if seq == 0 {
            return Err(ReplayError::OutOfWindow);
        }
        let top = self.top();
        if self.size == 0 || seq > top {
            return Ok(());
        }
        if seq.saturating_add(u64::from(self.size)) <= top {
            return Err(ReplayError::OutOfWindow);
        }
        let (word, bit) = self.position(seq);
        if self.bitmap[word].load(Ordering::Relaxed) & bit != 0 {
            return Err(ReplayError::Replayed);
        }
        Ok(())
    }

    /// Phase two: record `seq` after its ICV verified. Checks again, because another worker may
    /// have committed the same number meanwhile; returns whether the top moved.
    pub fn commit(&mut self, seq: u64) -> Result<bool, ReplayError> {
        self.commit_exclusive(seq)
    }

    /// Refuses everything at or below `seq` from now on (RFC 6311 replay-counter sync, HA
    /// takeover). Never moves the window back.
    pub fn advance_to(&mut self, seq: u64) {
        self.advance_exclusive(seq);
    }

    /// [`Self::commit`] for a caller that guarantees it is the only writer.
    fn commit_exclusive(&self, seq: u64) -> Result<bool, ReplayError> {
        self.check(seq)?;
        let moved = seq > self.top();
        if self.size != 0 {
            let (word, bit) = self.position(seq);
            if moved {
                self.clear_up_to(seq);
            }
            self.bitmap[word].fetch_or(bit, Ordering::Relaxed);
        }
        if moved {
            // Published after the words it uncovers were cleared.
            self.top.store(seq, Ordering::Release);
        }
        Ok(moved)
    }

    /// [`Self::advance_to`] for a caller that guarantees it is the only writer.
    fn advance_exclusive(&self, seq: u64) {
        if seq == 0 {
            return;
        }
        let top = self.top();
        if self.size != 0 {
            if seq > top {
                self.clear_up_to(seq);
            }
            // Mark every number of the new window at or below `seq` as seen.
            let new_top = top.max(seq);
            let bottom = new_top.saturating_sub(u64::from(self.size) - 1).max(1);
            for n in bottom..=seq {
                let (word, bit) = self.position(n);
                self.bitmap[word].fetch_or(bit, Ordering::Relaxed);
            }
        }
        if seq > top {
            self.top.store(seq, Ordering::Release);
        }
    }

    /// Clears the words that scroll into the window when the top moves to `seq` (> top).
    fn clear_up_to(&self, seq: u64) {
        let words = self.bitmap.len() as u64;
        let old_word = self.top() / 64;
        let new_word = seq / 64;
        let clear = (new_word - old_word).min(words);
        for i in 1..=clear {
            let index = (old_word + i) % words;
            // `index < words`, which came from a usize.
            self.bitmap[usize::try_from(index).unwrap_or(0)].store(0, Ordering::Relaxed);
        }
    }

    fn position(&self, seq: u64) -> (usize, u64) {
        let words = self.bitmap.len() as u64;
        let word = (seq / 64) % words;
        // `word < words`, which came from a usize.
        (usize::try_from(word).unwrap_or(0), 1u64 << (seq % 64))
    }
}

impl SharedReplayWindow {
    pub(crate) fn new(window: ReplayWindow) -> Self {
        Self {
            window,
            writer: Mutex::new(()),
        }
    }

    /// Lock-free reads: inference, phase one, the top.
    pub(crate) fn window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Phase two under the writers' lock; returns the top before and whether it moved.
    pub(crate) fn commit(&self, seq: u64) -> Result<(u64, bool), ReplayError> {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let before = self.window.top();
        self.window
            .commit_exclusive(seq)
            .map(|moved| (before, moved))
    }

    /// See [`ReplayWindow::advance_to`].
    pub(crate) fn advance_to(&self, seq: u64) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.window.advance_exclusive(seq);
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_in_order_and_rejects_duplicates() {
        let mut window = ReplayWindow::new(64, false, 0);
        for seq in 1..=200 {
            assert_eq!(window.check(seq), Ok(()));
            assert_eq!(window.commit(seq), Ok(true));
            assert_eq!(window.check(seq), Err(ReplayError::Replayed));
        }
        assert_eq!(window.check(0), Err(ReplayError::OutOfWindow));
        assert_eq!(window.check(200 - 64), Err(ReplayError::OutOfWindow));
        assert_eq!(window.check(200 - 63), Err(ReplayError::Replayed));
    }

    #[test]
    fn out_of_order_inside_window_is_accepted_once() {
        let mut window = ReplayWindow::new(1024, false, 0);
        window.commit(5000).unwrap();
        assert_eq!(window.commit(5000 - 1023), Ok(false));
        assert_eq!(window.commit(5000 - 1023), Err(ReplayError::Replayed));
        assert_eq!(window.check(5000 - 1024), Err(ReplayError::OutOfWindow));
        // A far jump clears everything.
        window.commit(1 << 40).unwrap();
        assert_eq!(window.check((1 << 40) - 1), Ok(()));
    }

    #[test]
    fn disabled_window_accepts_duplicates_but_tracks_top() {
        let mut window = ReplayWindow::new(0, false, 0);
        window.commit(7).unwrap();
        window.commit(7).unwrap();
        window.commit(3).unwrap();
        assert_eq!(window.top(), 7);
        assert_eq!(window.check(0), Err(ReplayError::OutOfWindow));
    }

    #[test]
    fn advance_rejects_everything_below() {
        let mut window = ReplayWindow::new(128, false, 0);
        window.commit(10).unwrap();
        window.advance_to(100);
        for seq in 1..=100 {
            assert!(window.check(seq).is_err(), "{seq}");
        }
        assert_eq!(window.check(101), Ok(()));
        // Advancing below the top marks the older part of the window.
        window.commit(150).unwrap();
        window.advance_to(120);
        assert!(window.check(120).is_err());
        assert_eq!(window.check(121), Ok(()));
        // Never backwards.
        window.advance_to(5);
        assert_eq!(window.top(), 150);
        // An initial value is an advance.
        let window = ReplayWindow::new(128, false, 1000);
        assert!(window.check(1000).is_err());
        assert!(window.check(999).is_err());
        assert_eq!(window.check(1001), Ok(()));
    }

    #[test]
    fn esn_inference_follows_appendix_a() {
        // Case A: window inside one block.
        let mut window = ReplayWindow::new(1024, true, 0);
        window.commit((3 << 32) | 5000).unwrap();
        assert_eq!(window.infer(5001), (3 << 32) | 5001);
        assert_eq!(window.infer(5000 - 1023), (3 << 32) | (5000 - 1023));
        // Below the window: taken as the next block.
        assert_eq!(window.infer(10), (4 << 32) | 10);
        // Case B: window straddles a block boundary.
        let mut window = ReplayWindow::new(1024, true, 0);
        window.commit((3 << 32) | 100).unwrap();
        assert_eq!(window.infer(50), (3 << 32) | 50);
        assert_eq!(window.infer(u32::MAX), (2 << 32) | u64::from(u32::MAX));
        assert_eq!(
            window.infer(u32::MAX - 1000),
            (3 << 32) | u64::from(u32::MAX - 1000)
        );
        // Block 0 has nothing before it.
        let mut window = ReplayWindow::new(1024, true, 0);
        window.commit(100).unwrap();
        assert_eq!(window.infer(u32::MAX), 0);
        // Without ESN the 32 bits are the number.
        let window = ReplayWindow::new(1024, false, (7 << 32) | 1);
        assert_eq!(window.infer(9), 9);
    }

    /// The model: a set of accepted numbers and the highest of them.
    #[derive(Default)]
    struct Model {
        accepted: BTreeSet<u64>,
        top: u64,
    }

    impl Model {
        fn in_window(&self, seq: u64, size: u32) -> bool {
            seq != 0 && seq + u64::from(size) > self.top
        }
    }

    /// A step of a sender's sequence: a small step forward or back, or a far jump.
    fn step() -> impl Strategy<Value = i64> {
        prop_oneof![
            6 => -40i64..40,
            2 => -3000i64..3000,
            1 => -(1i64 << 33)..(1i64 << 33),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// No number is accepted twice, and every number inside the window not yet accepted is
        /// accepted (RFC 4303 §3.4.3), including across the 32-bit boundary of ESN.
        #[test]
        fn window_matches_model(
            size in prop_oneof![Just(1u32), Just(64), Just(100), Just(1024), Just(8192), 1u32..5000],
            start in prop_oneof![Just(1u64), Just((1u64 << 32) - 2000), Just((5u64 << 32) - 10), 1u64..(1 << 40)],
            esn in any::<bool>(),
            steps in proptest::collection::vec(step(), 1..400),
        ) {
            let mut window = ReplayWindow::new(size, esn, 0);
            let mut model = Model::default();
            let mut sender = start;
            for delta in steps {
                sender = sender.saturating_add_signed(delta).max(1);
                if !esn {
                    sender = sender.min(u64::from(u32::MAX));
                }
                // The receiver sees the low 32 bits only; a wrong inference fails the ICV.
                let low = (sender & 0xffff_ffff) as u32;
                let guess = window.infer(low);
                let checked = window.check(guess);
                let authentic = guess == sender;
                let accepted = checked.is_ok() && authentic && window.commit(guess).is_ok();
                let should = !model.accepted.contains(&sender) && model.in_window(sender, size);
                if accepted {
                    prop_assert!(should, "accepted {sender} twice or outside the window");
                    model.accepted.insert(sender);
                    model.top = model.top.max(sender);
                } else if should {
                    // Rejection inside the window is only allowed when the number lies too far
                    // ahead for ESN inference (RFC 4303 Appendix A: 2^32 - window).
                    let reachable = sender <= model.top + (1u64 << 32) - u64::from(size)
                        && sender + u64::from(size) > model.top;
                    prop_assert!(esn && !reachable,
                        "{sender} wrongly rejected (top {}, guess {guess}, {checked:?})", model.top);
                }
                prop_assert_eq!(window.top(), model.top);
            }
        }
    }
}
