#![allow(clippy::cast_possible_truncation)] // test data is small

use super::*;
use crate::offload::testutil::{Tcp, as_super_packet, assert_valid, data, tcp_packet, udp_packet};

fn split_all(vnet: &VirtioNetHdr, p: &[u8]) -> Vec<Vec<u8>> {
    let mut s = Segments::new(vnet, p).expect("segmentable");
    let count = s.count();
    let full = s.segment_len();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Some(n) = s.write_next(&mut buf).expect("fits") {
        out.push(buf[..n].to_vec());
    }
    assert_eq!(out.len(), count);
    for (i, seg) in out.iter().enumerate() {
        if i + 1 < out.len() {
            assert_eq!(seg.len(), full, "all but the last are full-sized");
        } else {
            assert!(seg.len() <= full);
        }
    }
    out
}

fn check_tcp_split(v6: bool, payload_len: usize, mss: u16) {
    let payload = data(payload_len, payload_len as u32);
    let spec = Tcp {
        v6,
        flags: 0x10 | 0x08 | 0x01 | 0x80,
        payload: payload.clone(),
        ..Tcp::default()
    };
    let mut p = tcp_packet(&spec);
    let gso = if v6 { GsoType::TcpV6 } else { GsoType::TcpV4 };
    let vnet = as_super_packet(&mut p, gso, mss);
    let segs = split_all(&vnet, &p);
    assert_eq!(segs.len(), payload_len.div_ceil(usize::from(mss)).max(1));
    let l4 = if v6 { 40 } else { 20 };
    let hl = l4 + 32;
    let mut joined = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        assert_valid(s);
        let last = i + 1 == segs.len();
        let seq = u32::from_be_bytes(s[l4 + 4..l4 + 8].try_into().unwrap());
        assert_eq!(
            seq,
            spec.seq.wrapping_add((i * usize::from(mss)) as u32),
            "seq of {i}"
        );
        let flags = s[l4 + 13];
        assert_eq!(flags & 0x01 != 0, last, "FIN only on the last");
        assert_eq!(flags & 0x08 != 0, last, "PSH only on the last");
        assert_eq!(flags & 0x80 != 0, i == 0, "CWR only on the first");
        assert_eq!(flags & 0x10, 0x10);
        if !v6 {
            let id = u16::from_be_bytes([s[4], s[5]]);
            assert_eq!(id, spec.id.wrapping_add(i as u16), "ip id of {i}");
        }
        // Everything else in the headers is copied.
        assert_eq!(s[l4..l4 + 4], p[l4..l4 + 4]);
        assert_eq!(s[l4 + 8..l4 + 13], p[l4 + 8..l4 + 13]);
        assert_eq!(s[l4 + 20..hl], p[l4 + 20..hl]);
        joined.extend_from_slice(&s[hl..]);
    }
    assert_eq!(joined, payload);
}

#[test]
fn tcp4_super_packet_splits_into_valid_segments() {
    check_tcp_split(false, 64_000, 1368);
    check_tcp_split(false, 1368 * 3, 1368);
    check_tcp_split(false, 1, 1368);
    check_tcp_split(false, 9_999, 536);
}

#[test]
fn tcp6_super_packet_splits_into_valid_segments() {
    check_tcp_split(true, 63_000, 1348);
    check_tcp_split(true, 1348 * 2 + 1, 1348);
}

#[test]
fn header_only_super_packet_yields_one_segment() {
    check_tcp_split(false, 0, 1368);
}

#[test]
fn udp_super_packet_splits_with_udp_lengths() {
    for v6 in [false, true] {
        let payload = data(10_000, 9);
        let mut p = udp_packet(v6, &payload, 100);
        let vnet = as_super_packet(&mut p, GsoType::UdpL4, 1200);
        let segs = split_all(&vnet, &p);
        assert_eq!(segs.len(), 9);
        let l4 = if v6 { 40 } else { 20 };
        let mut joined = Vec::new();
        for s in &segs {
            assert_valid(s);
            joined.extend_from_slice(&s[l4 + 8..]);
        }
        assert_eq!(joined, payload);
    }
}

#[test]
fn plain_packet_is_copied_and_partial_checksum_completed() {
    let spec = Tcp {
        payload: data(700, 1),
        ..Tcp::default()
    };
    let good = tcp_packet(&spec);
    // As is: no NEEDS_CSUM.
    assert_eq!(split_all(&VirtioNetHdr::PLAIN, &good), vec![good.clone()]);
    // Partial checksum as the kernel hands it, without GSO.
    let mut p = good.clone();
    let mut vnet = as_super_packet(&mut p, GsoType::TcpV4, 0);
    vnet.gso_type = GsoType::None;
    assert_ne!(p, good);
    let segs = split_all(&vnet, &p);
    assert_eq!(segs, vec![good]);
    for v6 in [false, true] {
        let good = udp_packet(v6, &data(333, 2), 5);
        let mut p = good.clone();
        let mut vnet = as_super_packet(&mut p, GsoType::UdpL4, 0);
        vnet.gso_type = GsoType::None;
        assert_eq!(split_all(&vnet, &p), vec![good]);
    }
}

#[test]
fn too_small_buffer_is_reported_and_not_consumed() {
    let mut p = tcp_packet(&Tcp {
        payload: data(3000, 4),
        ..Tcp::default()
    });
    let vnet = as_super_packet(&mut p, GsoType::TcpV4, 1000);
    let mut s = Segments::new(&vnet, &p).unwrap();
    let mut small = [0u8; 100];
    assert_eq!(
        s.write_next(&mut small),
        Err(OffloadError::BufferTooSmall(1052))
    );
    assert_eq!(s.next_len(), Some(1052));
    let mut big = [0u8; 2000];
    assert_eq!(s.write_next(&mut big), Ok(Some(1052)));
}

#[test]
fn malformed_inputs_are_errors() {
    let mut p = tcp_packet(&Tcp {
        payload: data(3000, 4),
        ..Tcp::default()
    });
    let vnet = as_super_packet(&mut p, GsoType::TcpV4, 1000);
    assert_eq!(
        Segments::new(&vnet, &[]).unwrap_err(),
        OffloadError::BadIpHeader
    );
    assert_eq!(
        Segments::new(&vnet, &p[..19]).unwrap_err(),
        OffloadError::BadIpHeader
    );
    assert_eq!(
        Segments::new(&vnet, &p[..30]).unwrap_err(),
        OffloadError::BadTransportHeader
    );
    let zero = VirtioNetHdr {
        gso_size: 0,
        ..vnet
    };
    assert_eq!(
        Segments::new(&zero, &p).unwrap_err(),
        OffloadError::Unsupported
    );
    let v6 = VirtioNetHdr {
        gso_type: GsoType::TcpV6,
        ..vnet
    };
    assert_eq!(
        Segments::new(&v6, &p).unwrap_err(),
        OffloadError::BadIpHeader
    );
    let ufo = VirtioNetHdr {
        gso_type: GsoType::Other(3),
        ..vnet
    };
    assert_eq!(
        Segments::new(&ufo, &p).unwrap_err(),
        OffloadError::Unsupported
    );
    let bad_start = VirtioNetHdr {
        csum_start: 4,
        ..vnet
    };
    assert_eq!(
        Segments::new(&bad_start, &p).unwrap_err(),
        OffloadError::BadIpHeader
    );
    let plain_bad = VirtioNetHdr {
        gso_type: GsoType::None,
        csum_start: 5000,
        ..vnet
    };
    assert_eq!(
        Segments::new(&plain_bad, &p).unwrap_err(),
        OffloadError::Unsupported
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut buf = vec![0u8; 70_000];
    for seed in 0..3000u32 {
        let mut d = data((seed as usize * 37) % 2000, seed);
        if let Some(b) = d.first_mut() {
            *b = if seed % 2 == 0 { 0x45 } else { 0x60 };
        }
        let raw = data(10, seed ^ 0x55);
        let Some(vnet) = VirtioNetHdr::decode(&raw) else {
            continue;
        };
        let types = [
            GsoType::TcpV4,
            GsoType::TcpV6,
            GsoType::UdpL4,
            GsoType::None,
        ];
        for gso_type in types {
            let v = VirtioNetHdr { gso_type, ..vnet };
            if let Ok(mut s) = Segments::new(&v, &d) {
                let mut n = 0;
                while let Ok(Some(_)) = s.write_next(&mut buf) {
                    n += 1;
                    assert!(n <= 70_000);
                }
            }
        }
    }
}
