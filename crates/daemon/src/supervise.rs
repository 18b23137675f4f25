//! Keeping connections up, the part of the configuration the daemon carries out itself rather
//! than the engine: a connection with a Child SA marked `start_action = "start"` is initiated
//! again when its IKE SA fails or expires, up to `keyingtries` attempts in a row (forever when
//! unset), with a growing pause between attempts; a connection with `dpd_action = "restart"`
//! is initiated again at once when the peer is declared dead (RFC 7296 §2.4).

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;
use std::time::Instant;

use hitless_config::model::DpdAction;
use hitless_config::model::StartAction;
use hitless_ike::DeleteReason;

/// The pause before the first retry of a failed initiation; later ones grow linearly.
const RETRY_STEP: Duration = Duration::from_secs(5);
/// The longest pause between retries.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the daemon does for one connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Policy {
    /// Re-initiate when the IKE SA fails or expires.
    pub(crate) keep_up: bool,
    /// Re-initiate at once when DPD declares the peer dead.
    pub(crate) restart_on_dpd: bool,
    /// Attempts in a row before giving up; `None` for no limit.
    pub(crate) keyingtries: Option<NonZeroU32>,
}

/// Retries scheduled per connection.
#[derive(Debug, Default)]
pub(crate) struct Supervisor {
    policies: BTreeMap<String, Policy>,
    /// Failed attempts in a row.
    failures: BTreeMap<String, u32>,
    /// When to initiate again.
    scheduled: BTreeMap<String, Instant>,
}

impl Supervisor {
    /// A supervisor for the connections of `config`.
    pub(crate) fn new(config: &hitless_config::Config) -> Self {
        let mut supervisor = Self::default();
        supervisor.reload(config);
        supervisor
    }

    /// Takes the policies of a reloaded configuration; removed connections are forgotten.
    pub(crate) fn reload(&mut self, config: &hitless_config::Config) {
        self.policies = config
            .connections
            .iter()
            .map(|c| {
                let policy = Policy {
                    keep_up: c
                        .children
                        .iter()
                        .any(|child| child.start_action == StartAction::Start),
                    restart_on_dpd: c
                        .children
                        .iter()
                        .any(|child| child.dpd_action == DpdAction::Restart),
                    keyingtries: c.keyingtries,
                };
                (c.name.clone(), policy)
            })
            .collect();
        let policies = &self.policies;
        self.failures.retain(|name, _| policies.contains_key(name));
        self.scheduled.retain(|name, _| policies.contains_key(name));
    }

    /// An IKE SA of `connection` was established: the attempts start over.
    pub(crate) fn established(&mut self, connection: &str) {
        self.failures.remove(connection);
        self.scheduled.remove(connection);
    }

    /// An IKE SA of `connection` failed (or an initiation could not start). Returns the pause
    /// before the next attempt, `None` when the connection is not kept up or ran out of tries.
    pub(crate) fn failed(&mut self, now: Instant, connection: &str) -> Option<Duration> {
        let policy = *self.policies.get(connection)?;
        if !policy.keep_up {
            return None;
        }
        let failures = self.failures.entry(connection.to_owned()).or_default();
        *failures += 1;
        if policy
            .keyingtries
            .is_some_and(|tries| *failures >= tries.get())
        {
            self.failures.remove(connection);
            return None;
        }
        let pause = RETRY_STEP.saturating_mul(*failures).min(RETRY_MAX);
        self.scheduled.insert(connection.to_owned(), now + pause);
        Some(pause)
    }

    /// An IKE SA of `connection` was deleted for `reason`. Returns whether it is initiated
    /// again (at once).
    pub(crate) fn deleted(&mut self, now: Instant, connection: &str, reason: DeleteReason) -> bool {
        let Some(policy) = self.policies.get(connection) else {
            return false;
        };
        let restart = match reason {
            DeleteReason::PeerDead => policy.restart_on_dpd || policy.keep_up,
            DeleteReason::Expired => policy.keep_up,
            DeleteReason::Local
            | DeleteReason::Peer
            | DeleteReason::Rekeyed
            | DeleteReason::IkeSaGone
            | DeleteReason::InitialContact => false,
        };
        if restart {
            self.scheduled.insert(connection.to_owned(), now);
        }
        restart
    }

    /// The next retry, if any is scheduled.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.scheduled.values().min().copied()
    }

    /// The connections due for a retry at `now`, unscheduled.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<String> = self
            .scheduled
            .iter()
            .filter(|&(_, &at)| at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &due {
            self.scheduled.remove(name);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supervisor(policy: Policy) -> Supervisor {
        Supervisor {
            policies: [("site".to_owned(), policy)].into(),
            ..Supervisor::default()
        }
    }

    #[test]
    fn failed_initiations_are_retried_with_growing_pauses_up_to_keyingtries() {
        let now = Instant::now();
        let mut s = supervisor(Policy {
            keep_up: true,
            restart_on_dpd: false,
            keyingtries: NonZeroU32::new(3),
        });
        assert_eq!(s.failed(now, "site"), Some(RETRY_STEP));
        assert_eq!(s.next(), Some(now + RETRY_STEP));
        assert!(s.due(now).is_empty());
        assert_eq!(s.due(now + RETRY_STEP), ["site"]);
        assert_eq!(s.failed(now, "site"), Some(RETRY_STEP * 2));
        assert_eq!(s.failed(now, "site"), None, "three tries, then give up");
        assert_eq!(s.failed(now, "other"), None, "unknown connection");
    }

    #[test]
    fn forever_without_keyingtries_and_capped_pause() {
        let now = Instant::now();
        let mut s = supervisor(Policy {
            keep_up: true,
            restart_on_dpd: false,
            keyingtries: None,
        });
        let pauses: Vec<_> = (0..20).filter_map(|_| s.failed(now, "site")).collect();
        assert_eq!(pauses.len(), 20);
        assert_eq!(pauses[19], RETRY_MAX);
        s.established("site");
        assert_eq!(s.next(), None);
        assert_eq!(
            s.failed(now, "site"),
            Some(RETRY_STEP),
            "counting starts over"
        );
    }

    #[test]
    fn dead_peers_restart_at_once_only_when_asked() {
        let now = Instant::now();
        let mut s = supervisor(Policy {
            keep_up: false,
            restart_on_dpd: true,
            keyingtries: None,
        });
        assert!(!s.deleted(now, "site", DeleteReason::Local));
        assert!(!s.deleted(now, "site", DeleteReason::Peer));
        assert!(!s.deleted(now, "site", DeleteReason::Expired));
        assert!(s.deleted(now, "site", DeleteReason::PeerDead));
        assert_eq!(s.due(now), ["site"]);
        assert_eq!(s.failed(now, "site"), None, "not kept up: no retries");
    }
}
