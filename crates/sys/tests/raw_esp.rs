//! Raw ESP (IP protocol 50) sockets across a veth pair: the receiver sees the ESP packet with
//! the IPv4 header stripped, in batches; IPv6 too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test set-up fails loudly

mod common;

use common::{UL_A, UL_B, UL6_A, UL6_B, data, underlay};
use hitless_sys::raw_esp::RawEspSocket;
use hitless_sys::{GsoBatch, RecvBatch};

fn exchange(a_ip: &str, b_ip: &str) {
    let v6 = a_ip.contains(':');
    let u = underlay(if v6 { "esp6" } else { "esp4" });
    let a =
        u.a.run(|| RawEspSocket::open(v6, None, None).unwrap())
            .unwrap();
    let b =
        u.b.run(|| RawEspSocket::open(v6, Some(b_ip.parse().unwrap()), None).unwrap())
            .unwrap();
    let mut packets = Vec::new();
    let mut batch = GsoBatch::new(10_000);
    for i in 0..3u8 {
        let mut p = vec![0, 0, 0x10, i + 1, 0, 0, 0, 1];
        p.extend_from_slice(&data(100 + usize::from(i) * 50, u64::from(i)));
        batch.spare()[..p.len()].copy_from_slice(&p);
        assert!(batch.commit(p.len()));
        packets.push(p);
    }
    a.send_batch(&batch, b_ip.parse().unwrap()).unwrap();
    a.send_to(&packets[0], b_ip.parse().unwrap()).unwrap();
    let mut rx = RecvBatch::new(8, 2048);
    let mut got = Vec::new();
    while got.len() < 4 {
        assert!(b.wait_readable(2000).unwrap(), "no ESP packet arrived");
        b.recv_batch(&mut rx).unwrap();
        for m in rx.received() {
            assert_eq!(m.source.map(|s| s.ip()), Some(a_ip.parse().unwrap()));
            got.push(rx.buf()[m.data.clone()].to_vec());
        }
    }
    assert_eq!(got[..3], packets[..]);
    assert_eq!(got[3], packets[0]);
}

#[test]
fn ipv4_raw_esp_round_trip_strips_the_ip_header() {
    exchange(UL_A, UL_B);
}

#[test]
fn ipv6_raw_esp_round_trip() {
    exchange(UL6_A, UL6_B);
}
