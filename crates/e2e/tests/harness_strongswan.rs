//! The harness itself: two strongSwan daemons establish a tunnel and carry a ping. If this fails,
//! every interop test would fail for reasons that are not ours.

use std::time::Duration;

use hitless_e2e::ScratchDir;
use hitless_e2e::netns::TwoGateways;
use hitless_e2e::require_environment;
use hitless_e2e::strongswan::Charon;
use hitless_e2e::strongswan::SwanConnection;
use hitless_e2e::wait_for;

#[test]
fn strongswan_pair_establishes_and_carries_ping() -> anyhow::Result<()> {
    require_environment()?;
    let scratch = ScratchDir::new("harness-strongswan")?;
    let topo = TwoGateways::new("e2ehs", 60)?;
    let mut a = SwanConnection::psk(
        topo.outer_a.to_string(),
        topo.outer_b.to_string(),
        "a.test",
        "b.test",
        "harness-secret-0123456789",
    );
    a.local_ts = topo.net_a.clone();
    a.remote_ts = topo.net_b.clone();
    let mut b = SwanConnection::psk(
        topo.outer_b.to_string(),
        topo.outer_a.to_string(),
        "b.test",
        "a.test",
        "harness-secret-0123456789",
    );
    b.local_ts = topo.net_b.clone();
    b.remote_ts = topo.net_a.clone();
    let charon_a = Charon::start(&topo.a, &scratch.path().join("a"), &a, 1)?;
    let charon_b = Charon::start(&topo.b, &scratch.path().join("b"), &b, 1)?;
    charon_a.initiate()?;
    let sas_b = wait_for("child SA on b", Duration::from_secs(10), || {
        let sas = charon_b.list_sas()?;
        Ok(sas
            .iter()
            .any(|sa| sa.children.iter().any(|c| c.state == "INSTALLED"))
            .then_some(sas))
    })?;
    let sas_a = charon_a.list_sas()?;
    assert_eq!(sas_a[0].state, "ESTABLISHED");
    assert_eq!(sas_b[0].state, "ESTABLISHED");
    assert_eq!(sas_a[0].spi_i, sas_b[0].spi_i);
    assert_eq!(sas_a[0].children[0].spi_in, sas_b[0].children[0].spi_out);
    let replies = topo.a.ping(topo.inner_a, topo.inner_b, 3)?;
    assert_eq!(replies, 3, "ping through the strongSwan tunnel");
    Ok(())
}
