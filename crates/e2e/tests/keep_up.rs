//! Connections that are kept up (`start_action = "start"`, `dpd_action = "restart"`,
//! `keyingtries`): hitlessd keeps initiating while its peer is not there yet, and brings the
//! tunnel back by itself when the peer restarts and loses its SAs (DPD, RFC 7296 §2.4).

use std::time::Duration;

use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::ScratchDir;
use hitless_e2e::hitless::HitlessConfig;
use hitless_e2e::hitless::Hitlessd;
use hitless_e2e::netns::TwoGateways;
use hitless_e2e::require_environment;
use hitless_e2e::scenario::PSK;
use hitless_e2e::wait_for;

#[test]
fn kept_up_connection_waits_for_its_peer_and_recovers_from_a_peer_restart() -> Result<()> {
    require_environment()?;
    let scratch = ScratchDir::new("keep-up")?;
    let topo = TwoGateways::new("e2ek", 142)?;
    let fast_ike = "[ike]\nretransmit_timeout = \"500ms\"\nretransmit_tries = 1\n".to_owned();
    let mut a = HitlessConfig::psk(
        topo.outer_a.to_string(),
        topo.outer_b.to_string(),
        "a.hitless.test",
        "b.hitless.test",
        PSK,
    );
    a.local_ts.clone_from(&topo.net_a);
    a.remote_ts.clone_from(&topo.net_b);
    a.start_action = "start".to_owned();
    a.conn_extra = "dpd_delay = \"2s\"".to_owned();
    a.child_extra = "dpd_action = \"restart\"".to_owned();
    a.extra_sections.clone_from(&fast_ike);
    let mut b = HitlessConfig::psk(
        topo.outer_b.to_string(),
        topo.outer_a.to_string(),
        "b.hitless.test",
        "a.hitless.test",
        PSK,
    );
    b.local_ts.clone_from(&topo.net_b);
    b.remote_ts.clone_from(&topo.net_a);
    b.extra_sections = fast_ike;
    // A starts alone: its first attempts fail, and it keeps trying.
    let gateway_a = Hitlessd::start(&topo.a, &scratch.path().join("a"), &a)?;
    wait_for("A's first attempt to fail", Duration::from_secs(10), || {
        let stats = gateway_a.ctl_json(&["stats"])?;
        Ok((stats.pointer("/ike/failed").and_then(|v| v.as_u64()) >= Some(1)).then_some(()))
    })?;
    let mut gateway_b = Hitlessd::start(&topo.b, &scratch.path().join("b"), &b)?;
    let first = gateway_a.wait_established(Duration::from_secs(30))?;
    gateway_b.wait_established(Duration::from_secs(5))?;
    ensure!(first.initiator, "A initiated by itself: {first:?}");
    ensure!(
        topo.a.ping(topo.inner_a, topo.inner_b, 3)? == 3,
        "ping through the tunnel"
    );
    // B dies without a word and comes back empty; A's DPD finds out and starts over.
    gateway_b.kill();
    drop(gateway_b);
    let gateway_b = Hitlessd::start(&topo.b, &scratch.path().join("b2"), &b)?;
    let second = wait_for(
        "a new IKE SA after the restart",
        Duration::from_secs(40),
        || {
            Ok(gateway_a
                .list_sas()?
                .into_iter()
                .find(|sa| sa.state == "ESTABLISHED" && sa.spi_i != first.spi_i))
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:#}\nA's log:\n{}", gateway_a.log()))?;
    let on_b = gateway_b.wait_established(Duration::from_secs(5))?;
    ensure!(
        on_b.spi_i == second.spi_i && on_b.spi_r == second.spi_r,
        "A and B disagree: {second:?} vs {on_b:?}"
    );
    ensure!(
        topo.a.ping(topo.inner_a, topo.inner_b, 3)? == 3,
        "ping through the new tunnel"
    );
    Ok(())
}
