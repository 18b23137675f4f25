//! Retransmission timeouts ([RFC 7296 §2.1]): exponential backoff with jitter, as strongSwan's
//! `retransmit_timeout`, `retransmit_base`, `retransmit_tries`, `retransmit_jitter` and
//! `retransmit_limit`.
//!
//! [RFC 7296 §2.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1

use std::time::Duration;

use crate::config::RetransmitConfig;

/// The retransmission schedule of one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Backoff {
    initial: Duration,
    base: f64,
    tries: u32,
    jitter_percent: u32,
    cap: Option<Duration>,
}

impl Backoff {
    /// The schedule of `config`, with out-of-range values clamped (an unchecked config must not
    /// make the engine retransmit in a tight loop or never).
    pub(crate) fn new(config: &RetransmitConfig) -> Self {
        let base = if config.base.is_finite() {
            config.base.clamp(1.0, 10.0)
        } else {
            1.8
        };
        Self {
            initial: config.initial_timeout.max(Duration::from_millis(10)),
            base,
            tries: config.tries.min(100),
            jitter_percent: u32::from(config.jitter_percent.min(100)),
            cap: config.cap,
        }
    }

    /// How many retransmissions are sent before giving up.
    pub(crate) fn tries(&self) -> u32 {
        self.tries
    }

    /// How long a request is retransmitted before the sender gives up, without jitter: from
    /// its first send to the last timeout.
    pub(crate) fn span(&self) -> Duration {
        (0..=self.tries)
            .map(|retransmits| self.timeout(retransmits, 0))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// How long to wait after the send that followed `retransmits` retransmissions (0 for the
    /// first send) before retransmitting again (or giving up). `random` removes up to the
    /// configured jitter percentage.
    pub(crate) fn timeout(&self, retransmits: u32, random: u32) -> Duration {
        let exponent = i32::try_from(retransmits).unwrap_or(i32::MAX);
        let factor = self.base.powi(exponent);
        let mut timeout = self.initial.checked_mul_f64_saturating(factor);
        if let Some(cap) = self.cap {
            timeout = timeout.min(cap);
        }
        if self.jitter_percent > 0 {
            let percent = random % (self.jitter_percent + 1);
            timeout -= timeout * percent / 100;
        }
        timeout
    }
}

/// `Duration * f64` without the panic of `mul_f64` on overflow.
trait SaturatingMul {
    fn checked_mul_f64_saturating(self, factor: f64) -> Duration;
}

impl SaturatingMul for Duration {
    fn checked_mul_f64_saturating(self, factor: f64) -> Duration {
        Self::try_from_secs_f64(self.as_secs_f64() * factor).unwrap_or(MAX_TIMEOUT)
    }
}

/// No single retransmission timeout is longer than a day.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_matches_strongswan() {
        let backoff = Backoff::new(&RetransmitConfig {
            jitter_percent: 0,
            ..RetransmitConfig::default()
        });
        let schedule: Vec<f64> = (0..=5)
            .map(|n| backoff.timeout(n, 0).as_secs_f64())
            .collect();
        let expected = [4.0, 7.2, 12.96, 23.328, 41.9904, 75.58272];
        for (got, want) in schedule.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{schedule:?}");
        }
        assert_eq!(backoff.tries(), 5);
        let span = backoff.span().as_secs_f64();
        assert!((span - expected.iter().sum::<f64>()).abs() < 1e-6, "{span}");
    }

    #[test]
    fn jitter_only_shortens_and_cap_applies() {
        let backoff = Backoff::new(&RetransmitConfig {
            jitter_percent: 20,
            cap: Some(Duration::from_secs(10)),
            ..RetransmitConfig::default()
        });
        for random in 0..100 {
            let t = backoff.timeout(0, random);
            assert!(t <= Duration::from_secs(4) && t >= Duration::from_millis(3200));
        }
        assert!(backoff.timeout(5, 0) <= Duration::from_secs(10));
        // Absurd exponents saturate instead of panicking.
        assert!(backoff.timeout(u32::MAX, 0) <= Duration::from_secs(10));
    }
}
