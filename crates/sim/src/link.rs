//! One direction of a simulated link: delay, jitter, loss (random or Gilbert–Elliott bursts),
//! duplication, reordering and MTU, in the manner of Linux netem.
//!
//! A link is FIFO unless told to reorder: jitter varies each packet's delay, but a packet never
//! overtakes the one sent before it unless the reorder draw holds that one back.

use std::time::Duration;

use crate::rng::SimRng;

/// How a link treats the packets sent over it, in one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way delay.
    pub delay: Duration,
    /// Each packet's delay varies uniformly within `delay ± jitter` (never below zero).
    pub jitter: Duration,
    /// Which packets are lost.
    pub loss: Loss,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by an extra delay, so that later packets overtake it.
    pub reorder: f64,
    /// Largest IP packet (outer IP header included) the link carries; larger ones are dropped and
    /// counted, as a path with a smaller MTU and no fragmentation would.
    pub mtu: usize,
}

/// A loss model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each packet is lost independently with this probability.
    Random(f64),
    /// Gilbert–Elliott bursts: a two-state Markov chain evaluated per packet. In the good state
    /// nothing is lost, in the bad state everything is. Mean loss is `enter / (enter + exit)`;
    /// mean burst length is `1 / exit` packets.
    Burst {
        /// Probability of moving from good to bad before a packet.
        enter: f64,
        /// Probability of moving from bad to good before a packet.
        exit: f64,
    },
}

/// Counters of one direction of a link.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct LinkStats {
    /// Packets handed to the link.
    pub sent: u64,
    /// Packets (copies included) that reached the far end.
    pub delivered: u64,
    /// Packets lost by the loss model.
    pub lost: u64,
    /// Packets dropped because the link was partitioned when they were sent or due.
    pub partitioned: u64,
    /// Packets dropped for exceeding the MTU.
    pub oversize: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Packets held back so that later ones overtake them.
    pub reordered: u64,
    /// Packets queued by [`crate::Network::hold`] instead of travelling.
    pub held: u64,
    /// Held packets dropped by the test.
    pub dropped_by_test: u64,
}

/// What the link decided for one packet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Verdict {
    /// Dropped for this reason.
    Drop(DropCause),
    /// Delivered at these times (two with a duplicate), each flagged when held back.
    Deliver(Vec<(Duration, bool)>),
}

/// Why the network dropped a packet.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum DropCause {
    /// No link joins the two nodes.
    NoLink,
    /// The nodes are partitioned.
    Partition,
    /// The loss model.
    Loss,
    /// Larger than the link MTU.
    Oversize,
    /// A NAT had no mapping for an inbound packet, or cannot carry its protocol.
    Nat,
    /// The test dropped a held packet.
    Test,
    /// No node owns the destination address.
    NoRoute,
}

/// One direction of a link with its random stream and state.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) params: LinkParams,
    pub(crate) stats: LinkStats,
    pub(crate) up: bool,
    pub(crate) held: bool,
    rng: SimRng,
    in_bad_state: bool,
    /// Arrival time of the last packet that was not held back: FIFO order is kept against it.
    last_arrival: Duration,
}

impl LinkParams {
    /// A clean link with this one-way delay: no jitter, loss, duplicates or reordering, MTU 1500.
    pub fn clean(delay: Duration) -> Self {
        Self {
            delay,
            jitter: Duration::ZERO,
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            mtu: 1500,
        }
    }

    /// With this jitter.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// With this loss model.
    #[must_use]
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// With this duplication probability.
    #[must_use]
    pub fn with_duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// With this reordering probability.
    #[must_use]
    pub fn with_reorder(mut self, reorder: f64) -> Self {
        self.reorder = reorder;
        self
    }

    /// With this MTU.
    #[must_use]
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }
}

impl Default for LinkParams {
    /// A clean 5 ms link.
    fn default() -> Self {
        Self::clean(Duration::from_millis(5))
    }
}

impl Loss {
    /// The long-run fraction of packets lost.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::Random(p) => p.clamp(0.0, 1.0),
            Self::Burst { enter, exit } if enter + exit > 0.0 => enter / (enter + exit),
            Self::Burst { .. } => 0.0,
        }
    }
}

impl Link {
    pub(crate) fn new(params: LinkParams, rng: SimRng) -> Self {
        Self {
            params,
            stats: LinkStats::default(),
            up: true,
            held: false,
            rng,
            in_bad_state: false,
            last_arrival: Duration::ZERO,
        }
    }

    /// Decides the fate of a packet of `ip_len` bytes (outer IP header included) sent at `now`.
    /// Order: partition, MTU, loss, duplication, then delay, jitter and reordering per copy.
    pub(crate) fn transmit(&mut self, now: Duration, ip_len: usize) -> Verdict {
        self.stats.sent += 1;
        if !self.up {
            self.stats.partitioned += 1;
            return Verdict::Drop(DropCause::Partition);
        }
        if ip_len > self.params.mtu {
            self.stats.oversize += 1;
            return Verdict::Drop(DropCause::Oversize);
        }
        if self.lose() {
            self.stats.lost += 1;
            return Verdict::Drop(DropCause::Loss);
        }
        let copies = if self.rng.chance(self.params.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let arrivals = (0..copies).map(|_| self.arrival(now)).collect();
        Verdict::Deliver(arrivals)
    }

    fn lose(&mut self) -> bool {
        match self.params.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::Burst { enter, exit } => {
                let flip = if self.in_bad_state { exit } else { enter };
                if self.rng.chance(flip) {
                    self.in_bad_state = !self.in_bad_state;
                }
                self.in_bad_state
            }
        }
    }

    /// The arrival time of one copy, and whether it was held back.
    fn arrival(&mut self, now: Duration) -> (Duration, bool) {
        let delay = self.jittered_delay();
        if self.rng.chance(self.params.reorder) {
            self.stats.reordered += 1;
            // Held back by one more delay plus up to one more (at least 1 ms), so that packets
            // sent soon after it arrive first.
            let base = self.params.delay.max(Duration::from_millis(1));
            let extra = base + self.rng.duration_up_to(base);
            return (now + delay + extra, true);
        }
        let arrival = (now + delay).max(self.last_arrival);
        self.last_arrival = arrival;
        (arrival, false)
    }

    fn jittered_delay(&mut self) -> Duration {
        let jitter = self.params.jitter;
        if jitter.is_zero() {
            return self.params.delay;
        }
        let offset = self.rng.duration_up_to(jitter * 2);
        (self.params.delay + offset).saturating_sub(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(params: LinkParams) -> Link {
        Link::new(params, SimRng::new(42, "test link"))
    }

    fn loss_ratio(params: LinkParams, packets: u32) -> f64 {
        let mut link = link(params);
        let lost = (0..packets)
            .filter(|_| link.transmit(Duration::ZERO, 100) == Verdict::Drop(DropCause::Loss))
            .count();
        lost as f64 / f64::from(packets)
    }

    #[test]
    fn clean_link_delivers_after_the_delay() {
        let mut link = link(LinkParams::clean(Duration::from_millis(7)));
        let verdict = link.transmit(Duration::from_secs(1), 1500);
        assert_eq!(
            verdict,
            Verdict::Deliver(vec![(Duration::from_millis(1007), false)])
        );
    }

    #[test]
    fn random_loss_rate_is_within_tolerance() {
        for p in [0.1, 0.3] {
            let params = LinkParams::default().with_loss(Loss::Random(p));
            let ratio = loss_ratio(params, 100_000);
            assert!((ratio - p).abs() < 0.01, "p={p} measured {ratio}");
        }
    }

    #[test]
    fn burst_loss_rate_and_burst_length_match_the_model() {
        let loss = Loss::Burst {
            enter: 0.02,
            exit: 0.2,
        };
        let mut link = link(LinkParams::default().with_loss(loss));
        let outcomes: Vec<bool> = (0..200_000)
            .map(|_| link.transmit(Duration::ZERO, 100) == Verdict::Drop(DropCause::Loss))
            .collect();
        let lost = outcomes.iter().filter(|lost| **lost).count();
        let ratio = lost as f64 / outcomes.len() as f64;
        assert!(
            (ratio - loss.mean()).abs() < 0.01,
            "mean {} measured {ratio}",
            loss.mean()
        );
        let bursts = outcomes.windows(2).filter(|w| !w[0] && w[1]).count();
        let mean_burst = lost as f64 / bursts as f64;
        assert!((mean_burst - 5.0).abs() < 0.5, "mean burst {mean_burst}");
    }

    #[test]
    fn oversize_packets_are_dropped_and_counted() {
        let mut link = link(LinkParams::default().with_mtu(1280));
        assert_eq!(
            link.transmit(Duration::ZERO, 1281),
            Verdict::Drop(DropCause::Oversize)
        );
        assert!(matches!(
            link.transmit(Duration::ZERO, 1280),
            Verdict::Deliver(_)
        ));
        assert_eq!(link.stats.oversize, 1);
    }

    #[test]
    fn a_down_link_drops_everything() {
        let mut link = link(LinkParams::default());
        link.up = false;
        for _ in 0..100 {
            assert_eq!(
                link.transmit(Duration::ZERO, 100),
                Verdict::Drop(DropCause::Partition)
            );
        }
        assert_eq!(link.stats.partitioned, 100);
    }

    #[test]
    fn jitter_without_reorder_keeps_fifo_order() {
        let params =
            LinkParams::clean(Duration::from_millis(20)).with_jitter(Duration::from_millis(15));
        let mut link = link(params);
        let mut last = Duration::ZERO;
        let mut distinct = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let Verdict::Deliver(arrivals) = link.transmit(Duration::from_millis(i), 100) else {
                panic!("clean link dropped a packet");
            };
            let at = arrivals[0].0;
            assert!(at >= last, "packet {i} overtook its predecessor");
            assert!(at >= Duration::from_millis(i + 5));
            distinct.insert(at - Duration::from_millis(i));
            last = at;
        }
        assert!(distinct.len() > 100, "jitter did not vary the delay");
    }

    #[test]
    fn reorder_holds_packets_back() {
        let mut link = link(LinkParams::default().with_reorder(0.2));
        let arrivals: Vec<Duration> = (0..1000)
            .map(|i| match link.transmit(Duration::from_millis(i), 100) {
                Verdict::Deliver(arrivals) => arrivals[0].0,
                Verdict::Drop(cause) => panic!("dropped: {cause:?}"),
            })
            .collect();
        let overtaken = arrivals.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(overtaken > 100, "only {overtaken} reorderings");
        assert!(
            (150..250).contains(&link.stats.reordered),
            "{}",
            link.stats.reordered
        );
    }

    #[test]
    fn duplicate_makes_two_copies() {
        let mut link = link(LinkParams::default().with_duplicate(1.0));
        let Verdict::Deliver(arrivals) = link.transmit(Duration::ZERO, 100) else {
            panic!("dropped");
        };
        assert_eq!(arrivals.len(), 2);
        assert_eq!(link.stats.duplicated, 1);
    }
}
