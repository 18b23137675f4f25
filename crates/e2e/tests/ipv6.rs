//! IPv6: two hitlessd over an IPv6 underlay protecting IPv6 subnets, with ESP in UDP and as
//! plain ESP (IP protocol 50): the IKE sockets, the NAT-T sockets, the raw ESP socket and the
//! routes of the IPv6 family, with ping6 both ways.

use std::process::Command;

use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::ScratchDir;
use hitless_e2e::hitless::HitlessConfig;
use hitless_e2e::hitless::Hitlessd;
use hitless_e2e::netns::Netns;
use hitless_e2e::process::run;
use hitless_e2e::require_environment;
use hitless_e2e::scenario::PSK;

const OUTER_A: &str = "fd00:90::1";
const OUTER_B: &str = "fd00:90::2";
const INNER_A: &str = "fd00:91:a::1";
const INNER_B: &str = "fd00:91:b::1";

fn ping6(ns: &Netns, from: &str, to: &str) -> Result<u32> {
    let output = ns
        .command("ping")
        .args(["-6", "-c", "3", "-i", "0.2", "-W", "2", "-I", from, to])
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout
        .lines()
        .find_map(|line| {
            let (_, rest) = line.split_once(" packets transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0))
}

fn ipv6_tunnel(name: &str, prefix: &str, udp_encap: &str) -> Result<()> {
    require_environment()?;
    let scratch = ScratchDir::new(name)?;
    let a = Netns::new(&format!("{prefix}a"))?;
    let b = Netns::new(&format!("{prefix}b"))?;
    run(Command::new("ip").args([
        "link",
        "add",
        "ula",
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        "ulb",
        "netns",
        b.name(),
    ]))?;
    for (ns, dev, outer, inner) in [(&a, "ula", OUTER_A, INNER_A), (&b, "ulb", OUTER_B, INNER_B)] {
        ns.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        ns.ip(&["addr", "add", &format!("{outer}/64"), "dev", dev, "nodad"])?;
        ns.ip(&["addr", "add", &format!("{inner}/128"), "dev", "lo", "nodad"])?;
        ns.ip(&["link", "set", dev, "up"])?;
    }
    let config = |local: &str, remote: &str, me: &str, peer: &str, mine: &str, theirs: &str| {
        let mut config = HitlessConfig::psk(local, remote, me, peer, PSK);
        config.local_ts = format!("{mine}/64");
        config.remote_ts = format!("{theirs}/64");
        config.udp_encap = udp_encap.to_owned();
        config
    };
    let gateway_a = Hitlessd::start(
        &a,
        &scratch.path().join("a"),
        &config(
            OUTER_A,
            OUTER_B,
            "a.hitless.test",
            "b.hitless.test",
            "fd00:91:a::",
            "fd00:91:b::",
        ),
    )?;
    let gateway_b = Hitlessd::start(
        &b,
        &scratch.path().join("b"),
        &config(
            OUTER_B,
            OUTER_A,
            "b.hitless.test",
            "a.hitless.test",
            "fd00:91:b::",
            "fd00:91:a::",
        ),
    )?;
    gateway_a.initiate()?;
    let sa_a = gateway_a.wait_established(std::time::Duration::from_secs(20))?;
    let sa_b = gateway_b.wait_established(std::time::Duration::from_secs(5))?;
    ensure!(
        sa_a.spi_i == sa_b.spi_i && sa_a.children[0].spi_in == sa_b.children[0].spi_out,
        "the gateways disagree: {sa_a:?} vs {sa_b:?}"
    );
    ensure!(
        sa_a.children[0].udp_encap == (udp_encap == "force"),
        "udp_encap {udp_encap}: {sa_a:?}"
    );
    ensure!(
        ping6(&a, INNER_A, INNER_B)? == 3,
        "ping6 A -> B\n{}",
        gateway_a.log()
    );
    ensure!(
        ping6(&b, INNER_B, INNER_A)? == 3,
        "ping6 B -> A\n{}",
        gateway_b.log()
    );
    let child = &gateway_a
        .wait_established(std::time::Duration::from_secs(5))?
        .children[0];
    ensure!(
        child.packets_out == 6 && child.packets_in == 6,
        "A's counters after 3 pings each way: {child:?}"
    );
    Ok(())
}

#[test]
fn ipv6_with_esp_in_udp() -> Result<()> {
    ipv6_tunnel("ipv6-udp", "e2e6u", "force")
}

#[test]
fn ipv6_with_plain_esp() -> Result<()> {
    ipv6_tunnel("ipv6-esp", "e2e6e", "auto")
}
