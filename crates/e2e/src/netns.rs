//! Network namespaces and veth links, deleted on drop.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::Result;

use crate::process::run;
use crate::process::run_stdout;

/// A network namespace with `lo` up, deleted (with everything in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name`, deleting a stale one of the same name first.
    pub fn new(name: &str) -> Result<Self> {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run(Command::new("ip").args(["netns", "add", name]))?;
        let ns = Self {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        ns.sysctl("net.ipv4.ip_forward", "1")?;
        ns.sysctl("net.ipv4.conf.all.rp_filter", "0")?;
        ns.sysctl("net.ipv4.conf.default.rp_filter", "0")?;
        Ok(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `ip -n NAME args…`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        run_stdout(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// Sets a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        run(self
            .command("sysctl")
            .args(["-qw", &format!("{key}={value}")]))?;
        Ok(())
    }

    /// Runs a program inside the namespace and returns stdout; fails on a non-zero exit.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        run_stdout(self.command(program).args(args))
    }

    /// Pings `to` from `from` `count` times; returns how many replies arrived.
    pub fn ping(&self, from: Ipv4Addr, to: Ipv4Addr, count: u32) -> Result<u32> {
        let output = self
            .command("ping")
            .args(["-c", &count.to_string(), "-i", "0.2", "-W", "2", "-I"])
            .arg(from.to_string())
            .arg(to.to_string())
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
}

impl Drop for Netns {
    fn drop(&mut self) {
        if std::env::var_os("HITLESS_E2E_KEEP").is_none() {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }
}

/// Creates a veth pair between two namespaces, with an IPv4 address (CIDR) on each end, up.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_cidr: &str,
    b: &Netns,
    b_if: &str,
    b_cidr: &str,
) -> Result<()> {
    run(Command::new("ip").args([
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]))?;
    a.ip(&["addr", "add", a_cidr, "dev", a_if])?;
    b.ip(&["addr", "add", b_cidr, "dev", b_if])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// Two gateways joined by a veth "underlay", each with a protected address on `lo`, as the
/// strongSwan reference harness sets them up. Addresses: underlay `10.{net}.0.1/24` and
/// `10.{net}.0.2/24`; protected subnets `10.{net+1}.1.0/24` (a) and `10.{net+1}.2.0/24` (b) with
/// `.1` on `lo`.
#[derive(Debug)]
pub struct TwoGateways {
    /// Gateway A.
    pub a: Netns,
    /// Gateway B.
    pub b: Netns,
    /// A's underlay address.
    pub outer_a: Ipv4Addr,
    /// B's underlay address.
    pub outer_b: Ipv4Addr,
    /// A's protected address (on lo).
    pub inner_a: Ipv4Addr,
    /// B's protected address (on lo).
    pub inner_b: Ipv4Addr,
    /// A's protected subnet.
    pub net_a: String,
    /// B's protected subnet.
    pub net_b: String,
}

impl TwoGateways {
    /// Builds the topology with namespaces `{prefix}a` and `{prefix}b`, using `10.{net}/16` and
    /// `10.{net+1}/16`.
    pub fn new(prefix: &str, net: u8) -> Result<Self> {
        let a = Netns::new(&format!("{prefix}a"))?;
        let b = Netns::new(&format!("{prefix}b"))?;
        let outer_a = Ipv4Addr::new(10, net, 0, 1);
        let outer_b = Ipv4Addr::new(10, net, 0, 2);
        let inner_a = Ipv4Addr::new(10, net + 1, 1, 1);
        let inner_b = Ipv4Addr::new(10, net + 1, 2, 1);
        veth(
            &a,
            "ula",
            &format!("{outer_a}/24"),
            &b,
            "ulb",
            &format!("{outer_b}/24"),
        )?;
        a.ip(&["addr", "add", &format!("{inner_a}/32"), "dev", "lo"])?;
        b.ip(&["addr", "add", &format!("{inner_b}/32"), "dev", "lo"])?;
        Ok(Self {
            a,
            b,
            outer_a,
            outer_b,
            inner_a,
            inner_b,
            net_a: format!("10.{}.1.0/24", net + 1),
            net_b: format!("10.{}.2.0/24", net + 1),
        })
    }
}
