//! End to end through two TUN devices relayed over UDP in network namespaces, with and without
//! offloads: TCP over IPv4 and IPv6 must arrive byte for byte, and with offloads the TSO
//! super-packets, UDP GSO/GRO and TUN coalescing must all have been exercised.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test set-up fails loudly

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Relay, UL_A, UL_B, addr, data, relay, underlay};

const LEN: usize = 16 << 20;

fn transfer(u: &common::Underlay, server: std::net::SocketAddr) {
    let listener = u.b.run(|| TcpListener::bind(server).unwrap()).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::with_capacity(LEN);
        s.read_to_end(&mut got).unwrap();
        got
    });
    let sent = data(LEN, 42);
    let mut stream =
        u.a.run(|| TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap())
            .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(&sent).unwrap();
    drop(stream);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), sent.len(), "bytes received");
    assert!(got == sent, "payload corrupted in transit");
}

fn pair(u: &common::Underlay, offload: bool) -> (Relay, Relay) {
    let ra = relay(
        &u.a,
        ("10.242.0.1/24", "fd00:242::1/64"),
        addr(UL_A, 4500),
        addr(UL_B, 4500),
        offload,
    );
    let rb = relay(
        &u.b,
        ("10.242.0.2/24", "fd00:242::2/64"),
        addr(UL_B, 4500),
        addr(UL_A, 4500),
        offload,
    );
    (ra, rb)
}

#[test]
fn tcp_over_relay_with_offloads_is_intact_and_uses_tso_gso_gro() {
    let u = underlay("relay-off");
    let (ra, rb) = pair(&u, true);
    let out =
        u.a.exec("ping", &["-c", "1", "-W", "2", "10.242.0.2"])
            .unwrap();
    assert!(
        out.status.success(),
        "ping over the relay: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    transfer(&u, addr("10.242.0.2", 5001));
    transfer(&u, addr("fd00:242::2", 5002));
    let a = &ra.stats;
    let b = &rb.stats;
    let l = |x: &std::sync::atomic::AtomicU64| x.load(Ordering::Relaxed);
    assert!(l(&a.super_packets) > 0, "no TSO super-packets read: {a:?}");
    assert!(
        l(&a.segments_sent) > l(&a.tun_reads),
        "segmentation did not multiply packets: {a:?}"
    );
    assert!(
        l(&b.coalesced_writes) > 0,
        "nothing coalesced for the TUN: {b:?}"
    );
    assert!(
        l(&b.tun_writes) < l(&b.segments_received),
        "GRO did not reduce TUN writes: {b:?}"
    );
    assert_eq!(l(&a.drops) + l(&b.drops), 0);
}

#[test]
fn tcp_over_relay_without_offloads_is_intact() {
    let u = underlay("relay-plain");
    let (ra, rb) = pair(&u, false);
    transfer(&u, addr("10.242.0.2", 5001));
    transfer(&u, addr("fd00:242::2", 5002));
    assert_eq!(ra.stats.super_packets.load(Ordering::Relaxed), 0);
    assert_eq!(rb.stats.coalesced_writes.load(Ordering::Relaxed), 0);
}
