//! The validated configuration becomes the IKE engine's config, and settings the engine cannot
//! do yet are reported at their place in the file instead of being dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::CERT_PEM;
use common::KEY_PEM;
use common::MemoryFiles;
use common::PSK;
use common::examples_dir;
use hitless_config::ErrorKind;
use hitless_ike::config as ike;

fn no_dns(_: &str) -> Vec<IpAddr> {
    Vec::new()
}

#[test]
fn site_to_site_psk_example_maps_onto_the_engine() {
    let files = MemoryFiles::new().private("/etc/hitless/secrets/site-b.psk", PSK);
    let config =
        hitless_config::load_with(&examples_dir().join("site-to-site-psk.toml"), &files).unwrap();
    config.check_engine_support().unwrap();
    let engine = config.to_ike_config(&no_dns).unwrap();
    assert_eq!(engine.connections.len(), 1);
    let connection = &engine.connections[0];
    assert_eq!(connection.name, "site-b");
    assert_eq!(
        connection.remote_addrs,
        ["198.51.100.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        connection.local_id,
        Some(ike::Identity::Fqdn("gw-a.example.org".into()))
    );
    assert_eq!(
        connection.remote_id,
        Some(ike::Identity::Fqdn("gw-b.example.org".into()))
    );
    assert_eq!(connection.ike_proposals.len(), 2);
    assert_eq!(
        connection.ike_proposals[0].key_exchange,
        [hitless_wire::registry::KeMethod::CURVE25519]
    );
    assert_eq!(
        connection.ike_lifetime.rekey_time,
        Some(Duration::from_secs(4 * 3600))
    );
    assert_eq!(connection.dpd_delay, Some(Duration::from_secs(30)));
    assert!(connection.rfc6311);
    let child = connection.child("net").unwrap();
    assert_eq!(child.local_ts.len(), 1);
    assert_eq!(
        child.local_ts[0].start_address,
        "10.1.0.0".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        child.local_ts[0].end_address,
        "10.1.255.255".parse::<IpAddr>().unwrap()
    );
    assert_eq!(child.start_action, ike::StartAction::Start);
    assert_eq!(child.esp_proposals[0].esn, ike::Esn::No);
    assert_eq!(child.lifetime.life_time, Some(Duration::from_secs(3960)));
    assert_eq!(child.replay_window, 1024);
    assert_eq!(engine.retransmit.tries, 5);
    assert_eq!(engine.half_open.cookie_threshold, 30);
}

#[test]
fn certificate_example_is_reported_as_unsupported_where_it_says_so() {
    let files = MemoryFiles::new()
        .public("/etc/hitless/certs/gw-a.pem", CERT_PEM)
        .private("/etc/hitless/private/gw-a.key", KEY_PEM)
        .public("/etc/hitless/cacerts/ca.pem", CERT_PEM);
    let config =
        hitless_config::load_with(&examples_dir().join("site-to-site-cert.toml"), &files).unwrap();
    let error = config.check_engine_support().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported);
    assert_eq!(error.key_path().to_string(), "connections.site-b.cert");
    assert_eq!(error.line(), Some(27));
    assert!(
        error
            .message()
            .starts_with("certificate authentication is not supported")
    );
}

const BASE: &str = r#"
[connections.gw]
remote_addrs = ["vpn.example.org"]
psk_file = "/k.psk"
remote_id = "gw"

[connections.gw.children.net]
local_ts = ["dynamic[udp/53]", "10.1.0.0/16"]
remote_ts = ["dynamic"]
rekey_bytes = "1G"
life_bytes = "2G"
rand_bytes = "100M"
"#;

fn parse(source: &str) -> hitless_config::Config {
    let files = MemoryFiles::new().private("/k.psk", PSK);
    hitless_config::parse(source, Path::new("/etc/hitless/hitless.toml"), &files).unwrap()
}

#[test]
fn host_names_resolve_and_dynamic_selectors_need_one_address() {
    let config = parse(BASE);
    // Without DNS the check passes on everything but the name-dependent selector.
    let error = config.check_engine_support().unwrap_err();
    assert_eq!(
        error.key_path().to_string(),
        "connections.gw.children.net.local_ts[0]"
    );
    assert_eq!(error.line(), Some(8));

    let config = parse(&BASE.replace("remote_addrs", "local_addrs = \"192.0.2.1\"\nremote_addrs"));
    config.check_engine_support().unwrap();
    let error = config.to_ike_config(&no_dns).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ReferencedFile);
    assert_eq!(error.message(), "cannot resolve `vpn.example.org`");
    let resolve = |name: &str| {
        assert_eq!(name, "vpn.example.org");
        vec!["203.0.113.7".parse().unwrap()]
    };
    let engine = config.to_ike_config(&resolve).unwrap();
    let connection = &engine.connections[0];
    assert_eq!(
        connection.remote_addrs,
        ["203.0.113.7".parse::<IpAddr>().unwrap()]
    );
    let child = &connection.children[0];
    assert_eq!(
        child.local_ts[0].start_address,
        "192.0.2.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        (child.local_ts[0].ip_protocol, child.local_ts[0].start_port),
        (17, 53)
    );
    // A lone plain `dynamic` is the engine's empty list.
    assert!(child.remote_ts.is_empty());
    // Soft limits carry half the jitter; hard limits are the life limits.
    assert_eq!(child.lifetime.soft.bytes, Some((1 << 30) - (50 << 20)));
    assert_eq!(child.lifetime.hard.bytes, Some(2 << 30));
}

#[test]
fn unsupported_features_are_named() {
    let cases = [
        (
            "remote_id = \"gw\"",
            "remote_id = \"*.example.org\"",
            "connections.gw.remote_id",
        ),
        (
            "remote_id = \"gw\"",
            "remote_id = \"gw\"\nreauth_time = \"1d\"",
            "connections.gw.reauth_time",
        ),
        (
            "remote_id = \"gw\"",
            "remote_id = \"gw\"\nproposals = [\"aes256gcm16-prfsha384-x25519-ke1_mlkem768\"]",
            "connections.gw.proposals[0]",
        ),
        (
            "vpn.example.org",
            "10.0.0.0/8",
            "connections.gw.remote_addrs[0]",
        ),
    ];
    for (from, to, key) in cases {
        let config = parse(
            &BASE
                .replace(from, to)
                .replace("dynamic[udp/53]", "10.9.0.0/16"),
        );
        let error = config.check_engine_support().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
        assert_eq!(error.key_path().to_string(), key, "{error}");
        assert!(error.location().is_some(), "{error}");
    }
}

#[test]
fn inline_psk_is_never_echoed_in_errors() {
    let source = BASE.replace("psk_file = \"/k.psk\"", "psk = \"0xnothex-hunter2\"");
    let files = MemoryFiles::new();
    let error =
        hitless_config::parse(&source, Path::new("/etc/hitless/hitless.toml"), &files).unwrap_err();
    assert_eq!(error.key_path().to_string(), "connections.gw.psk");
    let rendered = error.render();
    assert!(!rendered.contains("hunter2"), "{rendered}");
    assert!(rendered.contains("psk = \"[redacted]\""), "{rendered}");
    assert!(!error.to_string().contains("hunter2"));
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[test]
fn half_open_limits_reach_the_engine() {
    let resolve = |_: &str| vec!["203.0.113.7".parse().unwrap()];
    let base = BASE.replace("dynamic[udp/53]", "10.9.0.0/16");
    let defaults = parse(&base).to_ike_config(&resolve).unwrap().half_open;
    assert_eq!(
        (
            defaults.cookie_threshold,
            defaults.max_per_source,
            defaults.max_total
        ),
        (30, 5, 10_000)
    );
    let source = format!(
        "[ike]\ncookie_threshold = 100000\nblock_threshold = 100000\n\
         init_limit_half_open = 200000\n{base}"
    );
    let raised = parse(&source).to_ike_config(&resolve).unwrap().half_open;
    assert_eq!(
        (
            raised.cookie_threshold,
            raised.max_per_source,
            raised.max_total
        ),
        (100_000, 100_000, 200_000)
    );
}
