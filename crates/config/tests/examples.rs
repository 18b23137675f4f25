//! Every example configuration in `examples/` loads, and means what its comments say.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::CERT_PEM;
use common::KEY_PEM;
use common::MemoryFiles;
use common::PSK;
use common::examples_dir;
use hitless_config::Identity;
use hitless_config::model::Auth;
use hitless_config::model::Backend;
use hitless_config::model::DpdAction;
use hitless_config::model::Mode;
use hitless_config::model::Parallelism;
use hitless_config::model::PeerAddress;
use hitless_config::model::StartAction;
use hitless_wire::registry::EsnId;
use hitless_wire::registry::KeMethod;

fn load(name: &str, files: &MemoryFiles) -> hitless_config::Config {
    let path = examples_dir().join(name);
    hitless_config::load_with(&path, files).unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn site_to_site_psk() {
    let files = MemoryFiles::new().private("/etc/hitless/secrets/site-b.psk", PSK);
    let config = load("site-to-site-psk.toml", &files);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(
        config.daemon.control_socket.to_str(),
        Some("/run/hitless/hitlessd.sock")
    );
    assert_eq!(config.daemon.metrics_listen, None);
    assert_eq!(config.debug.wireshark_keylog, None);
    let connection = config.connection("site-b").unwrap();
    assert_eq!(
        connection.local_addrs,
        ["192.0.2.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        connection.remote_addrs,
        [PeerAddress::Ip("198.51.100.1".parse().unwrap())]
    );
    assert_eq!(
        connection.remote_id,
        Identity::Fqdn("gw-b.example.org".into())
    );
    let Auth::Psk(psk) = &connection.auth else {
        panic!("expected PSK auth");
    };
    assert_eq!(psk.key.expose(), b"0123456789abcdef0123456789abcdef");
    assert_eq!(
        connection
            .proposals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "aes256gcm16-prfsha384-x25519",
            "aes128gcm16-prfsha256-ecp256"
        ]
    );
    assert_eq!(connection.dpd_delay, Some(Duration::from_secs(30)));
    assert_eq!(
        connection.lifetime.rekey,
        Some(Duration::from_secs(4 * 3600))
    );
    // life_time defaults to rekey_time + 10 %, rand_time to the difference (swanctl).
    assert_eq!(
        connection.lifetime.life,
        Some(Duration::from_secs(4 * 3600 + 1440))
    );
    assert_eq!(connection.lifetime.jitter, Duration::from_secs(1440));
    let child = connection.child("net").unwrap();
    assert_eq!(child.local_ts[0].to_string(), "10.1.0.0/16");
    assert_eq!(child.remote_ts[0].to_string(), "10.2.0.0/16");
    assert_eq!(child.mode, Mode::Tunnel);
    assert_eq!(child.start_action, StartAction::Start);
    assert_eq!(child.dpd_action, DpdAction::Restart);
    assert_eq!(child.time.rekey, Some(Duration::from_secs(3600)));
    assert_eq!(child.time.life, Some(Duration::from_secs(3960)));
    assert_eq!(child.bytes.rekey, None);
    assert_eq!(child.replay_window, 1024);
    assert_eq!(child.per_resource_sas, None);
    assert_eq!(child.esp_proposals[0].esn, [EsnId::NO_ESN]);
}

#[test]
fn site_to_site_cert() {
    let files = MemoryFiles::new()
        .public("/etc/hitless/certs/gw-a.pem", CERT_PEM)
        .private("/etc/hitless/private/gw-a.key", KEY_PEM)
        .public("/etc/hitless/cacerts/ca.pem", CERT_PEM);
    let config = load("site-to-site-cert.toml", &files);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.data_plane.backend, Backend::Userspace);
    assert_eq!(config.data_plane.workers, Parallelism::PerCpu);
    assert_eq!(
        config.daemon.metrics_listen,
        Some("127.0.0.1:9745".parse().unwrap())
    );
    let connection = config.connection("site-b").unwrap();
    let Identity::Dn(dn) = connection.local_id.as_ref().unwrap() else {
        panic!("expected a DN");
    };
    assert_eq!(dn.to_string(), "C=CH, O=Example Ltd, CN=gw-a.example.org");
    let Auth::Certificate(cert) = &connection.auth else {
        panic!("expected certificate auth");
    };
    assert_eq!(cert.certs, [vec![0x30, 0x03, 0x02, 0x01, 0x00]]);
    assert_eq!(
        cert.private_key.der.expose(),
        [0x30, 0x03, 0x02, 0x01, 0x01]
    );
    assert_eq!(cert.cacerts.len(), 1);
    let hybrid = &connection.proposals[0];
    assert_eq!(
        hybrid.additional_key_exchanges[0].methods,
        [KeMethod::ML_KEM_768]
    );
    assert_eq!(
        connection.lifetime.reauth,
        Some(Duration::from_secs(24 * 3600))
    );
    let child = connection.child("lan").unwrap();
    assert_eq!(child.local_ts.len(), 2);
    assert_eq!(child.start_action, StartAction::Trap);
    assert_eq!(child.esp_proposals[0].key_exchange, [KeMethod::CURVE25519]);
    assert_eq!(child.esp_proposals[0].esn, [EsnId::ESN]);
    assert_eq!(child.bytes.rekey, Some(500 << 30));
    assert_eq!(child.per_resource_sas, Some(Parallelism::PerCpu));
    assert_eq!(child.replay_window, 4096);
}

#[test]
fn road_warrior_responder() {
    let files = MemoryFiles::new()
        .public("/etc/hitless/certs/vpn.pem", CERT_PEM)
        .private("/etc/hitless/private/vpn.key", KEY_PEM)
        .public("/etc/hitless/cacerts/clients-ca.pem", CERT_PEM);
    let config = load("road-warrior.toml", &files);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.ike.cookie_threshold, 50);
    assert_eq!(config.pools[0].range.to_string(), "10.99.0.0/24");
    let connection = config.connection("rw").unwrap();
    assert_eq!(connection.remote_addrs, [PeerAddress::Any]);
    assert_eq!(connection.remote_id, Identity::Any);
    assert_eq!(connection.pools, ["rw-v4"]);
    assert!(connection.initiation_target().is_none());
    assert_eq!(
        connection.proposals,
        hitless_config::IkeProposal::defaults()
    );
    let child = connection.child("office").unwrap();
    assert_eq!(child.start_action, StartAction::None);
    assert_eq!(child.remote_ts[0].to_string(), "dynamic");
    // Explicit proposals first, then the defaults that are not already listed.
    assert_eq!(child.esp_proposals[0].to_string(), "aes256gcm16");
    assert_eq!(child.esp_proposals[1].to_string(), "chacha20poly1305");
    assert_eq!(
        child.esp_proposals.len(),
        2 + hitless_config::EspProposal::defaults().len()
    );
}

#[test]
fn every_example_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "road-warrior.toml",
            "site-to-site-cert.toml",
            "site-to-site-psk.toml"
        ],
        "a new example needs a test in this file"
    );
}
