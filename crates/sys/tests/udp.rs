//! UDP sockets across a veth pair: GSO sends arrive as GRO batches with the segment size,
//! pktinfo gives the local address, SO_REUSEPORT shares a port, and the non-GSO fallback sends
//! the same datagrams one by one. IPv4 and IPv6.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test set-up fails loudly

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{UL_A, UL_B, UL6_A, UL6_B, addr, data, underlay};
use hitless_sys::{GsoBatch, RecvBatch, UdpConfig, UdpSocket};

fn recv_all(
    sock: &UdpSocket,
    want_bytes: usize,
) -> (Vec<u8>, Vec<usize>, Option<SocketAddr>, Option<IpAddr>) {
    let mut rx = RecvBatch::new(8, 65_535);
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    let (mut src, mut local) = (None, None);
    while got.len() < want_bytes {
        assert!(
            sock.wait_readable(2000).unwrap(),
            "timed out after {} bytes",
            got.len()
        );
        sock.recv_batch(&mut rx).unwrap();
        for m in rx.received() {
            assert!(!m.truncated);
            sizes.push(m.segment_size);
            src = m.source;
            local = m.local;
            got.extend_from_slice(&rx.buf()[m.data.clone()]);
        }
    }
    (got, sizes, src, local)
}

fn gso_to_gro(a_ip: &str, b_ip: &str) {
    let u = underlay(if a_ip.contains(':') { "udp6" } else { "udp4" });
    let cfg = |ip: &str| UdpConfig {
        gro: true,
        pktinfo: true,
        reuse_port: true,
        ..UdpConfig::new(addr(ip, 4500))
    };
    let a = u.a.run(|| UdpSocket::bind(&cfg(a_ip)).unwrap()).unwrap();
    let b = u.b.run(|| UdpSocket::bind(&cfg(b_ip)).unwrap()).unwrap();
    // A second socket on the same port: SO_REUSEPORT.
    let b2 = u.b.run(|| UdpSocket::bind(&cfg(b_ip)).unwrap()).unwrap();
    assert_eq!(b2.local_addr().unwrap(), addr(b_ip, 4500));
    drop(b2);

    let payload = data(20 * 1000 + 500, 1);
    a.send_gso(&payload, 1000, Some(addr(b_ip, 4500))).unwrap();
    assert!(a.gso_enabled(), "GSO fell back on veth");
    let (got, sizes, src, local) = recv_all(&b, payload.len());
    assert!(got == payload, "GSO/GRO payload differs");
    assert!(
        sizes.contains(&1000),
        "no GRO segment size 1000 reported: {sizes:?}"
    );
    assert_eq!(src, Some(addr(a_ip, 4500)));
    assert_eq!(local, Some(b_ip.parse().unwrap()), "pktinfo local address");

    // A batch of runs of different sizes, one sendmmsg.
    let mut batch = GsoBatch::new(100_000);
    let mut expect = Vec::new();
    for (i, len) in [1200, 1200, 1200, 300, 1400, 1400, 64]
        .into_iter()
        .enumerate()
    {
        let d = data(len, i as u64 + 10);
        batch.spare()[..len].copy_from_slice(&d);
        assert!(batch.commit(len));
        expect.extend_from_slice(&d);
    }
    assert_eq!(batch.runs().len(), 2);
    a.send_batch(&batch, Some(addr(b_ip, 4500))).unwrap();
    let (got, _, _, _) = recv_all(&b, expect.len());
    assert!(got == expect, "batched runs differ");

    // Without GSO the same bytes arrive as single datagrams.
    a.disable_gso();
    a.send_batch(&batch, Some(addr(b_ip, 4500))).unwrap();
    let (got, _, _, _) = recv_all(&b, expect.len());
    assert!(got == expect, "fallback sends differ");

    // Replies leave from the pktinfo address.
    b.send_from(b"reply", addr(a_ip, 4500), b_ip.parse().unwrap())
        .unwrap();
    let (got, _, src, _) = recv_all(&a, 5);
    assert_eq!(got, b"reply");
    assert_eq!(src, Some(addr(b_ip, 4500)));
}

#[test]
fn icmp_errors_on_a_connected_socket_do_not_fail_receives() {
    let u = underlay("udp-icmp");
    let a =
        u.a.run(|| UdpSocket::bind(&UdpConfig::new(addr(UL_A, 4500))).unwrap())
            .unwrap();
    a.connect(addr(UL_B, 4500)).unwrap();
    // Nobody listens on B yet: the port-unreachable ICMP is queued on A's socket.
    a.send_to(b"lost", None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let b =
        u.b.run(|| UdpSocket::bind(&UdpConfig::new(addr(UL_B, 4500))).unwrap())
            .unwrap();
    b.send_to(b"hello", Some(addr(UL_A, 4500))).unwrap();
    let (got, _, _, _) = recv_all(&a, 5);
    assert_eq!(got, b"hello");
}

#[test]
fn ipv4_gso_sends_arrive_as_gro_batches_with_pktinfo() {
    gso_to_gro(UL_A, UL_B);
}

#[test]
fn ipv6_gso_sends_arrive_as_gro_batches_with_pktinfo() {
    gso_to_gro(UL6_A, UL6_B);
}
