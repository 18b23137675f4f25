//! Complete IKEv2 handshakes (IKE_SA_INIT + IKE_AUTH with a PSK, X25519, one Child SA with
//! AES-128-GCM) between two in-memory endpoints with the production provider: handshakes per
//! second on one core. No simulator in the loop: each endpoint's transmits go straight to the
//! other's `handle_datagram`, SA commands are dropped.
//!
//! `cargo bench -p hitless-sim --bench handshake` runs criterion, with one X25519 exchange as
//! the anchor measured in the same run. With `HANDSHAKES=n` set, it
//! runs n handshakes and exits, for `bench/handshake-crypto-share.sh` (callgrind), which
//! reports the share of instructions spent in crypto primitives.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use criterion::Criterion;
use criterion::Throughput;
use hitless_crypto::CryptoProvider;
use hitless_ike::Config;
use hitless_ike::Datagram;
use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_ike::Output;
use hitless_ike::config::Encryption;
use hitless_ike::config::Esn;
use hitless_ike::config::EspProposal;
use hitless_ike::config::IkeProposal;
use hitless_sim::scenario;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

/// The configs of both sides with one IKE and one ESP proposal, no liveness checks.
fn configs() -> (Arc<Config>, Arc<Config>) {
    let ike = IkeProposal {
        encryption: vec![Encryption::aes_gcm16(128)],
        integrity: Vec::new(),
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange: vec![KeMethod::CURVE25519],
    };
    let esp = EspProposal {
        encryption: vec![Encryption::aes_gcm16(128)],
        integrity: Vec::new(),
        key_exchange: Vec::new(),
        esn: Esn::No,
    };
    let mut a = scenario::config_a();
    let mut b = scenario::config_b();
    for config in [&mut a, &mut b] {
        let connection = &mut config.connections[0];
        connection.ike_proposals = vec![ike.clone()];
        connection.children[0].esp_proposals = vec![esp.clone()];
        connection.dpd_delay = None;
    }
    (Arc::new(a), Arc::new(b))
}

/// One handshake from scratch: two fresh endpoints, until both report the Child SA installed.
fn handshake(configs: &(Arc<Config>, Arc<Config>), crypto: &Arc<CryptoProvider>, now: Instant) {
    let addr_a = SocketAddr::new(scenario::GW_A, 500);
    let addr_b = SocketAddr::new(scenario::GW_B, 500);
    let mut a = Endpoint::new(Arc::clone(&configs.0), Arc::clone(crypto));
    let mut b = Endpoint::new(Arc::clone(&configs.1), Arc::clone(crypto));
    a.initiate(now, "gw").unwrap();
    let mut to_a: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_b: VecDeque<Vec<u8>> = VecDeque::new();
    let mut installed = 0;
    loop {
        for (endpoint, queue) in [(&mut a, &mut to_b), (&mut b, &mut to_a)] {
            while let Some(output) = endpoint.poll_output() {
                match output {
                    Output::Transmit(transmit) => queue.push_back(transmit.payload),
                    Output::Event(Event::ChildSaInstalled { .. }) => installed += 1,
                    Output::Sa(command) => {
                        black_box(command);
                    }
                    Output::Event(_) => {}
                }
            }
        }
        if installed == 2 {
            return;
        }
        if let Some(message) = to_b.pop_front() {
            let datagram = Datagram {
                local: addr_b,
                remote: addr_a,
                payload: &message,
            };
            b.handle_datagram(now, datagram);
        } else if let Some(message) = to_a.pop_front() {
            let datagram = Datagram {
                local: addr_a,
                remote: addr_b,
                payload: &message,
            };
            a.handle_datagram(now, datagram);
        } else {
            panic!("handshake stalled");
        }
    }
}

fn main() {
    let configs = configs();
    let crypto = Arc::new(hitless_crypto_awslc::provider());
    let now = Instant::now();
    if let Some(count) = std::env::var("HANDSHAKES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        for _ in 0..count {
            handshake(&configs, &crypto, now);
        }
        return;
    }
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut group = criterion.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("psk_x25519_aes128gcm", |bench| {
        bench.iter(|| handshake(&configs, &crypto, now));
    });
    // Anchor in the same run: one X25519 exchange (both key pairs and both agreements), the
    // largest crypto cost of a handshake.
    let x25519 = crypto.key_exchange(KeMethod::CURVE25519).expect("X25519");
    group.bench_function("anchor_x25519_exchange", |bench| {
        bench.iter(|| {
            let private = x25519.start(&*crypto.random).unwrap();
            let (public, shared) = x25519.respond(&*crypto.random, private.public()).unwrap();
            black_box((private.complete(&public).unwrap(), shared))
        });
    });
    group.finish();
    criterion.final_summary();
}
