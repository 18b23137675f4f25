//! The queue of [`BackendEvent`]s the workers raise and the control side drains with
//! [`DataPlane::poll_event`](crate::DataPlane::poll_event).
//!
//! Events are rare (a lifetime crossed, a first use, a checkpoint every N packets), so a short
//! lock is fine here; the per-packet path never touches it otherwise.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use hitless_sadb::BackendEvent;

/// Checkpoints beyond this many queued events are discarded (a later checkpoint supersedes
/// them); lifetime and first-use events are always kept.
const MAX_QUEUED_CHECKPOINTS: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    queue: Mutex<VecDeque<BackendEvent>>,
    discarded: AtomicU64,
}

impl EventQueue {
    pub(crate) fn push(&self, event: BackendEvent) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if matches!(event, BackendEvent::SequenceCheckpoint { .. })
            && queue.len() >= MAX_QUEUED_CHECKPOINTS
        {
            self.discarded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.push_back(event);
    }

    pub(crate) fn pop(&self) -> Option<BackendEvent> {
        self.queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .pop_front()
    }

    /// Checkpoints discarded because nobody drained the queue.
    pub(crate) fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}
