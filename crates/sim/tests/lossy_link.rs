//! Establishment and liveness over lossy links (RFC 7296 §2.1): 10% and 30% random loss and
//! Gilbert–Elliott bursts, over the seed range (`SIM_SEEDS`).

use std::time::Duration;

use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

/// Establishes over `loss` for every seed, initiating again after a failed attempt (at most
/// three attempts, each given 200 s: the initiator's retransmissions span about 150 s); then,
/// for `alive`, keeps the SA up through the liveness checks on the same link.
fn survives(loss: Loss, alive: Duration) {
    let link = LinkParams::clean(scenario::LINK_DELAY).with_loss(loss);
    hitless_sim::check_seeds(|seed| {
        let mut gw = Gateways::with(
            seed,
            scenario::config_a(),
            scenario::config_b(),
            Default::default(),
            link.clone(),
        );
        gw.establish_within(3, Duration::from_secs(200))?;
        gw.check_established()?;
        gw.sim.run_for(alive)?;
        gw.check_established()
    });
}

#[test]
fn ten_percent_random_loss() {
    // An exchange fails only if all 6 tries lose the request or the response: 5e-5.
    survives(Loss::Random(0.1), Duration::from_secs(600));
}

#[test]
fn thirty_percent_random_loss() {
    // Each try gets through with 49%; a liveness check fails with 0.51^6 = 1.8%, so the SA is
    // expected to die within minutes of such a link (RFC 7296 §2.4): only establishment counts.
    survives(Loss::Random(0.3), Duration::ZERO);
}

#[test]
fn burst_loss() {
    // 9% mean loss in bursts of 5 packets on average. IKE sends few packets, so one burst can
    // swallow a request and all its retransmissions: only establishment counts.
    survives(
        Loss::Burst {
            enter: 0.02,
            exit: 0.2,
        },
        Duration::ZERO,
    );
}
