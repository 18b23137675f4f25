//! The Prometheus endpoint: `GET /metrics` on `daemon.metrics_listen` (off unless configured)
//! answers the text exposition format with SA counts, handshakes and failures by reason,
//! rekeys, ESP traffic and drops by reason, and whether the Wireshark key log is on. The
//! numbers come from the IKE task through the same requests as `hitlessctl status` and `stats`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::response::Stats;
use hitless_control::response::Status;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tracing::debug;
use tracing::info;

use crate::control::Call;

/// Largest request head read.
const MAX_REQUEST: usize = 8 * 1024;
/// A client gets this long to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the endpoint.
///
/// # Errors
///
/// When the address cannot be bound.
pub(crate) async fn bind(address: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the metrics endpoint on {address}"))?;
    info!(%address, "metrics endpoint listening");
    Ok(listener)
}

/// Serves scrapes forever.
pub(crate) async fn serve(listener: TcpListener, calls: mpsc::Sender<Call>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let calls = calls.clone();
        tokio::spawn(async move {
            if let Err(error) = scrape(stream, &calls).await {
                debug!(%peer, error = %format!("{error:#}"), "metrics request failed");
            }
        });
    }
}

async fn scrape(mut stream: TcpStream, calls: &mpsc::Sender<Call>) -> Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .context("request timed out")??;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method != "GET" {
        ("405 Method Not Allowed", "only GET is served\n".to_owned())
    } else if path != "/metrics" {
        ("404 Not Found", "metrics are at /metrics\n".to_owned())
    } else {
        match (
            call(calls, Request::Status).await,
            call(calls, Request::Stats).await,
        ) {
            (Some(Response::Status(status)), Some(Response::Stats(stats))) => {
                ("200 OK", render(&status, &stats))
            }
            _ => (
                "503 Service Unavailable",
                "hitlessd is shutting down\n".to_owned(),
            ),
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

async fn call(calls: &mpsc::Sender<Call>, request: Request) -> Option<Response> {
    let (reply, answer) = oneshot::channel();
    calls.send(Call { request, reply }).await.ok()?;
    answer.await.ok()?.ok()
}

/// The exposition text.
pub(crate) fn render(status: &Status, stats: &Stats) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let plain = |value: u64| vec![(String::new(), value)];
    let labelled = |label: &str, pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs
            .iter()
            .map(|(value, count)| (format!("{{{label}=\"{}\"}}", escape(value)), *count))
            .collect()
    };
    metric(
        "hitless_uptime_seconds",
        "gauge",
        "Seconds since hitlessd started.",
        &plain(status.uptime_secs),
    );
    metric(
        "hitless_wireshark_keylog_enabled",
        "gauge",
        "1 while [debug] wireshark_keylog writes every session key to disk; alert on it.",
        &plain(u64::from(status.wireshark_keylog.is_some())),
    );
    metric(
        "hitless_ike_sas",
        "gauge",
        "IKE SAs by state.",
        &labelled(
            "state",
            &[
                ("established", u64::from(status.ike_sas)),
                ("connecting", u64::from(status.half_open_ike_sas)),
            ],
        ),
    );
    metric(
        "hitless_child_sas",
        "gauge",
        "Child SAs.",
        &plain(u64::from(status.child_sas)),
    );
    let ike = &stats.ike;
    metric(
        "hitless_ike_handshakes_total",
        "counter",
        "IKE SAs established, by our role.",
        &labelled(
            "role",
            &[
                ("initiator", ike.handshakes_initiated),
                ("responder", ike.handshakes_responded),
            ],
        ),
    );
    let failures: Vec<(&str, u64)> = ike
        .failures
        .iter()
        .map(|(reason, count)| (reason.as_str(), *count))
        .collect();
    metric(
        "hitless_ike_failures_total",
        "counter",
        "IKE SAs that failed, by reason.",
        &labelled("reason", &failures),
    );
    metric(
        "hitless_ike_rekeys_total",
        "counter",
        "IKE SA rekeys.",
        &plain(ike.ike_rekeys),
    );
    metric(
        "hitless_child_rekeys_total",
        "counter",
        "Child SA rekeys.",
        &plain(ike.child_rekeys),
    );
    metric(
        "hitless_ike_retransmits_total",
        "counter",
        "IKE requests retransmitted (current IKE SAs).",
        &plain(ike.retransmits),
    );
    metric(
        "hitless_ike_invalid_messages_total",
        "counter",
        "IKE messages dropped as malformed, unauthenticated or unexpected.",
        &plain(ike.invalid_messages),
    );
    let data = &stats.data_plane;
    metric(
        "hitless_esp_packets_total",
        "counter",
        "Inner packets through the ESP data plane.",
        &labelled(
            "direction",
            &[("in", data.packets_in), ("out", data.packets_out)],
        ),
    );
    metric(
        "hitless_esp_bytes_total",
        "counter",
        "Inner bytes through the ESP data plane.",
        &labelled(
            "direction",
            &[("in", data.bytes_in), ("out", data.bytes_out)],
        ),
    );
    let drops: Vec<(&str, u64)> = data
        .drops
        .iter()
        .map(|(reason, count)| (reason.as_str(), *count))
        .collect();
    metric(
        "hitless_esp_drops_total",
        "counter",
        "Packets dropped by the ESP data plane, by reason.",
        &labelled("reason", &drops),
    );
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitless_control::LogLevel;

    #[test]
    fn renders_the_exposition_format() {
        let status = Status {
            software: "hitlessd 0".into(),
            pid: 1,
            uptime_secs: 42,
            config_file: "x".into(),
            log_level: LogLevel::Info,
            backend: "userspace".into(),
            workers: 2,
            ike_sas: 3,
            half_open_ike_sas: 1,
            child_sas: 4,
            connections: vec![],
            metrics_listen: None,
            wireshark_keylog: Some("/tmp/keys".into()),
            ha: None,
        };
        let mut stats = Stats::default();
        stats.ike.handshakes_initiated = 5;
        stats.ike.failures.insert("authentication-failed".into(), 2);
        stats.data_plane.bytes_out = 1000;
        stats.data_plane.drops.insert("icv-mismatch".into(), 7);
        let text = render(&status, &stats);
        for line in [
            "# TYPE hitless_ike_sas gauge",
            "hitless_ike_sas{state=\"established\"} 3",
            "hitless_ike_sas{state=\"connecting\"} 1",
            "hitless_child_sas 4",
            "hitless_ike_handshakes_total{role=\"initiator\"} 5",
            "hitless_ike_failures_total{reason=\"authentication-failed\"} 2",
            "hitless_esp_bytes_total{direction=\"out\"} 1000",
            "hitless_esp_drops_total{reason=\"icv-mismatch\"} 7",
            "hitless_uptime_seconds 42",
            "# TYPE hitless_wireshark_keylog_enabled gauge",
            "hitless_wireshark_keylog_enabled 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
