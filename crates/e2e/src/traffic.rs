//! Traffic through a tunnel: ping and iperf3 (TCP and UDP) between the protected addresses of
//! two namespaces.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use serde_json::Value;

use crate::netns::Netns;
use crate::process::Guarded;
use crate::process::run;
use crate::which;

/// The iperf3 port the tests use.
const PORT: &str = "5201";

/// Fails unless iperf3 is installed.
pub fn require_iperf3() -> Result<()> {
    which("iperf3").context("iperf3 is missing: install iperf3 (./scripts/install-deps.sh)")?;
    Ok(())
}

/// What to measure.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Iperf {
    /// One TCP stream.
    Tcp,
    /// UDP at this many Mbit/s with 1,200-byte datagrams.
    Udp {
        /// Offered rate.
        mbps: u32,
    },
}

/// An iperf3 run's result, as the receiver saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IperfResult {
    /// Received throughput.
    pub bits_per_second: f64,
    /// Bytes received.
    pub bytes: u64,
    /// UDP only: datagrams lost, percent.
    pub lost_percent: f64,
}

/// Runs iperf3 for `seconds` from `client` (bound to `from`) to a server on `server` at `to`;
/// the data flows client → server.
///
/// # Errors
///
/// When iperf3 fails or its JSON lacks the summary.
pub fn iperf3(
    client: &Netns,
    from: Ipv4Addr,
    server: &Netns,
    to: Ipv4Addr,
    mode: Iperf,
    seconds: u32,
    log_dir: &Path,
) -> Result<IperfResult> {
    require_iperf3()?;
    let mut command = server.command("iperf3");
    command
        .args(["-s", "-1", "-p", PORT, "-B"])
        .arg(to.to_string());
    let _server = Guarded::spawn("iperf3 server", command, &log_dir.join("iperf3-server.log"))?;
    // The server needs a moment to listen.
    std::thread::sleep(Duration::from_millis(300));
    let mut command = client.command("timeout");
    command
        .arg((seconds + 20).to_string())
        .args(["iperf3", "-J", "-p", PORT, "-c"])
        .arg(to.to_string())
        .arg("-B")
        .arg(from.to_string())
        .args(["-t", &seconds.to_string()]);
    if let Iperf::Udp { mbps } = mode {
        command.args(["-u", "-l", "1200", "-b", &format!("{mbps}M")]);
    }
    let output = run(&mut command).context("iperf3 client")?;
    let report: Value = serde_json::from_slice(&output.stdout).context("iperf3 -J output")?;
    let end = report
        .get("end")
        .context("no end section in iperf3's report")?;
    // The receiver's view (UDP: with the datagrams lost on the way).
    let summary = end
        .get("sum_received")
        .or_else(|| end.get("sum"))
        .context("no summary in iperf3's report")?;
    let number = |key: &str| summary.get(key).and_then(Value::as_f64);
    let Some(bits_per_second) = number("bits_per_second") else {
        bail!("no bits_per_second in iperf3's report: {summary}");
    };
    Ok(IperfResult {
        bits_per_second,
        bytes: summary.get("bytes").and_then(Value::as_u64).unwrap_or(0),
        lost_percent: number("lost_percent").unwrap_or(0.0),
    })
}
