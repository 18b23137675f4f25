//! A paced UDP stream through a tunnel that counts exactly which packets were lost (the
//! `udp-stream` binary of this crate, run in the namespaces), while the caller does something
//! to the tunnel, such as rekeying it every second (issue 8).

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use serde_json::Value;

use crate::netns::Netns;
use crate::process::Guarded;

/// The port the receiver listens on.
const PORT: u16 = 5301;

/// The stream to send.
#[derive(Clone, Copy, Debug)]
pub struct StreamSpec {
    /// Packets per second.
    pub rate: u64,
    /// How long.
    pub seconds: u64,
    /// UDP payload bytes (at least 8: the sequence number).
    pub size: usize,
}

/// What the receiver saw.
#[derive(Clone, Debug, Default)]
pub struct StreamReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Sends that failed at the sender (counted among the lost).
    pub send_errors: u64,
    /// Distinct datagrams received.
    pub received: u64,
    /// Copies of datagrams already received.
    pub duplicates: u64,
    /// Datagrams that arrived after a higher-numbered one.
    pub reordered: u64,
    /// Lost sequence numbers as inclusive ranges (a lost tail included).
    pub missing: Vec<(u64, u64)>,
    /// The stream's rate, to turn sequence numbers into times.
    pub rate: u64,
}

impl StreamReport {
    /// Datagrams sent and never received.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Loss events: runs of lost datagrams merged when fewer than `gap` datagrams separate
    /// them, as (first, last, lost). A tunnel that drops traffic at every rekey makes one event
    /// per rekey; a machine that stalls a process now and then makes a few.
    pub fn loss_events(&self, gap: u64) -> Vec<(u64, u64, u64)> {
        let mut events: Vec<(u64, u64, u64)> = Vec::new();
        for &(first, last) in &self.missing {
            match events.last_mut() {
                Some(event) if first.saturating_sub(event.1) <= gap => {
                    event.1 = last;
                    event.2 += last - first + 1;
                }
                _ => events.push((first, last, last - first + 1)),
            }
        }
        events
    }

    /// When (seconds after the stream started) each run of lost datagrams was sent, and how
    /// many it held: where to look in the daemons' logs.
    pub fn loss_times(&self) -> Vec<(f64, u64)> {
        self.missing
            .iter()
            .map(|&(first, last)| (first as f64 / self.rate as f64, last - first + 1))
            .collect()
    }
}

/// Runs `spec` from `from` in `client` to `to` in `server` while `during` runs on this thread;
/// returns the receiver's report and what `during` returned. `program` is the `udp-stream`
/// binary (`env!("CARGO_BIN_EXE_udp-stream")` in this crate's tests).
///
/// # Errors
///
/// When a side fails to start or report, or `during` fails.
pub fn udp_stream<T>(
    program: &Path,
    client: &Netns,
    from: Ipv4Addr,
    server: &Netns,
    to: Ipv4Addr,
    spec: StreamSpec,
    log_dir: &Path,
    during: impl FnOnce(Instant) -> Result<T>,
) -> Result<(StreamReport, T)> {
    let program = program.to_str().context("udp-stream path")?;
    let recv_log = log_dir.join("udp-stream-recv.log");
    let mut command = server.command(program);
    command.args([
        "recv",
        &format!("{to}:{PORT}"),
        &(spec.seconds + 30).to_string(),
    ]);
    let mut receiver = Guarded::spawn("udp-stream recv", command, &recv_log)?;
    std::thread::sleep(Duration::from_millis(200));
    let send_log = log_dir.join("udp-stream-send.log");
    let mut command = client.command(program);
    command.args([
        "send",
        &from.to_string(),
        &format!("{to}:{PORT}"),
        &spec.rate.to_string(),
        &spec.seconds.to_string(),
        &spec.size.to_string(),
    ]);
    let mut sender = Guarded::spawn("udp-stream send", command, &send_log)?;
    let started = Instant::now();
    let during = during(started);
    let timeout = Duration::from_secs(spec.seconds + 20);
    let sent_code = sender.wait_exit(timeout)?;
    let recv_code = receiver.wait_exit(timeout)?;
    let during = during?;
    let sent = read_json(&send_log, sent_code)?;
    let got = read_json(&recv_log, recv_code)?;
    let number = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .with_context(|| format!("no {key} in {value}"))
    };
    let sent_count = number(&sent, "sent")?;
    let mut missing: Vec<(u64, u64)> = got
        .get("missing")
        .and_then(Value::as_array)
        .context("no missing list")?
        .iter()
        .filter_map(|pair| Some((pair.get(0)?.as_u64()?, pair.get(1)?.as_u64()?)))
        .collect();
    let next = got
        .get("highest")
        .and_then(Value::as_u64)
        .map_or(0, |h| h + 1);
    if next < sent_count {
        missing.push((next, sent_count - 1));
    }
    let report = StreamReport {
        sent: sent_count,
        send_errors: number(&sent, "send_errors")?,
        received: number(&got, "received")?,
        duplicates: number(&got, "duplicates")?,
        reordered: number(&got, "reordered")?,
        missing,
        rate: spec.rate,
    };
    Ok((report, during))
}

fn read_json(log: &Path, code: Option<i32>) -> Result<Value> {
    let text = std::fs::read_to_string(log).with_context(|| format!("{}", log.display()))?;
    if code != Some(0) {
        bail!("udp-stream exited with {code:?}: {text}");
    }
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no report from udp-stream: {text}"))?;
    serde_json::from_str(line).with_context(|| format!("udp-stream printed {line}"))
}
