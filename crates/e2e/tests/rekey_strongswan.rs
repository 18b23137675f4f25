//! Rekeying through hitlessd against strongSwan 5.9, started from either side, while a ping
//! runs through the tunnel: a Child SA rekey and an IKE SA rekey (RFC 7296 §1.3.2, §1.3.3,
//! §2.8), each checked on both sides (new SPIs, the same on both) and without a lost ping.
//! This exercises the daemon's plumbing (control requests, SA commands, routes kept across
//! the switch); the engine's own rekey tests cover the protocol cases.

use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::hitless::HitlessIkeSa;
use hitless_e2e::scenario::Initiator;
use hitless_e2e::scenario::SUITES;
use hitless_e2e::scenario::VsStrongswan;
use hitless_e2e::scenario::same_sas;
use hitless_e2e::strongswan::SwanIkeSa;
use hitless_e2e::wait_for;

/// Pings at 20 per second for as long as the rekeys take.
const PINGS: u32 = 120;

/// Waits until both sides agree on an IKE SA and one installed Child SA that differ from
/// `before` in the part that was rekeyed.
fn wait_rekeyed(
    setup: &VsStrongswan,
    before: &HitlessIkeSa,
    ike: bool,
) -> Result<(HitlessIkeSa, SwanIkeSa)> {
    wait_for(
        "both sides on the rekeyed SA",
        Duration::from_secs(15),
        || {
            let ours = setup.hitless.list_sas()?;
            let theirs = setup.charon.list_sas()?;
            let (Some(ours), Some(theirs)) = (
                ours.into_iter().find(|sa| sa.state == "ESTABLISHED"),
                theirs.into_iter().find(|sa| sa.state == "ESTABLISHED"),
            ) else {
                return Ok(None);
            };
            let installed = |sa: &HitlessIkeSa| {
                sa.children
                    .iter()
                    .filter(|c| c.state == "INSTALLED")
                    .count()
            };
            let changed = if ike {
                ours.spi_i != before.spi_i
            } else {
                ours.children
                    .iter()
                    .any(|c| c.state == "INSTALLED" && c.spi_in != before.children[0].spi_in)
            };
            let mut ours_now = ours.clone();
            ours_now.children.retain(|c| c.state == "INSTALLED");
            let mut theirs_now = theirs;
            theirs_now.children.retain(|c| c.state == "INSTALLED");
            let agree = same_sas(&ours_now, &theirs_now, Initiator::Hitless).is_ok()
                || same_sas(&ours_now, &theirs_now, Initiator::Peer).is_ok();
            Ok((changed && installed(&ours) == 1 && agree).then_some((ours_now, theirs_now)))
        },
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n===== hitlessd =====\n{}\n===== charon =====\n{}",
            setup.hitless.log(),
            setup.charon.log()
        )
    })
}

fn rekeys(name: &str, net: u8, from: Initiator) -> Result<()> {
    let setup = VsStrongswan::start(name, &format!("e2er{net}"), net, SUITES[0])?;
    let (mut current, _) = setup.establish(Initiator::Hitless)?;
    let topo = &setup.topo;
    let mut ping = topo.a.command("ping");
    ping.args(["-c", &PINGS.to_string(), "-i", "0.05", "-W", "2", "-I"])
        .arg(topo.inner_a.to_string())
        .arg(topo.inner_b.to_string());
    let pinger = std::thread::spawn(move || ping.output());
    std::thread::sleep(Duration::from_millis(500));
    for ike in [false, true] {
        match (from, ike) {
            (Initiator::Hitless, false) => setup.hitless.ctl(&["rekey", "--child", "net"])?,
            (Initiator::Hitless, true) => setup.hitless.ctl(&["rekey", "--ike", "peer"])?,
            (Initiator::Peer, false) => setup.charon.swanctl(&["--rekey", "--child", "net"])?,
            (Initiator::Peer, true) => setup.charon.swanctl(&["--rekey", "--ike", "conn"])?,
        };
        let (ours, _) = wait_rekeyed(&setup, &current, ike)?;
        if ike {
            ensure!(
                ours.children[0].spi_in == current.children[0].spi_in,
                "an IKE SA rekey moves the Child SAs, it does not rekey them: {current:?} -> {ours:?}"
            );
        }
        current = ours;
    }
    let output = pinger.join().ok().context("ping thread")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let received: u32 = stdout
        .lines()
        .find_map(|l| {
            l.split_once(" packets transmitted, ")?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    ensure!(
        received == PINGS,
        "pings lost across the rekeys: {received}/{PINGS}\n{stdout}"
    );
    ensure!(
        topo.a.ping(topo.inner_a, topo.inner_b, 3)? == 3,
        "ping after the rekeys"
    );
    Ok(())
}

#[test]
fn hitless_rekeys_child_and_ike_sa_without_losing_a_ping() -> Result<()> {
    rekeys("rekey-swan-hitless", 144, Initiator::Hitless)
}

#[test]
fn strongswan_rekeys_child_and_ike_sa_without_losing_a_ping() -> Result<()> {
    rekeys("rekey-swan-peer", 146, Initiator::Peer)
}
