//! The Prometheus endpoint (issue 7 item 4): off unless configured; when on, `GET /metrics`
//! shows the SA counts, handshakes by role and ESP traffic of the running daemon, and anything
//! else gets an HTTP error.

use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::netns::Netns;
use hitless_e2e::scenario::SUITES;
use hitless_e2e::scenario::VsHitless;

const PORT: u16 = 9477;

/// An HTTP/1.0 request from inside `ns` (bash's /dev/tcp; no curl needed).
fn http_get(ns: &Netns, path: &str) -> Result<String> {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{PORT} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && \
         timeout 5 cat <&3"
    );
    ns.exec("bash", &["-c", &script])
}

fn value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn metrics_endpoint_reports_sas_handshakes_and_traffic() -> Result<()> {
    let setup = VsHitless::start_with("metrics", "e2em", 140, SUITES[0], "force", |config| {
        if config.local_id.starts_with('a') {
            config.daemon_extra = format!("metrics_listen = \"127.0.0.1:{PORT}\"");
        }
    })?;
    setup.establish()?;
    let topo = &setup.topo;
    ensure!(
        topo.a.ping(topo.inner_a, topo.inner_b, 3)? == 3,
        "ping through the tunnel"
    );
    let text = http_get(&topo.a, "/metrics")?;
    ensure!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    ensure!(
        text.contains("# TYPE hitless_esp_packets_total counter"),
        "{text}"
    );
    ensure!(
        value(&text, "hitless_ike_sas{state=\"established\"}") == Some(1)
            && value(&text, "hitless_child_sas") == Some(1)
            && value(&text, "hitless_ike_handshakes_total{role=\"initiator\"}") == Some(1),
        "{text}"
    );
    ensure!(
        value(&text, "hitless_esp_packets_total{direction=\"out\"}") >= Some(3)
            && value(&text, "hitless_esp_packets_total{direction=\"in\"}") >= Some(3),
        "{text}"
    );
    let missing = http_get(&topo.a, "/other")?;
    ensure!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    // Off unless configured: B has no listener.
    ensure!(
        http_get(&topo.b, "/metrics").is_err(),
        "B serves metrics without metrics_listen"
    );
    Ok(())
}
