#![allow(clippy::cast_possible_truncation)] // test data is small

use super::*;
use crate::offload::Segments;
use crate::offload::testutil::{
    Tcp, as_super_packet, assert_valid, data, reference_sum, tcp_packet, udp_packet,
};

/// One TUN write: the decoded header and the bytes after it.
#[derive(Debug)]
struct Write {
    vnet: VirtioNetHdr,
    packet: Vec<u8>,
}

fn run(packets: &[Vec<u8>]) -> Vec<Write> {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for p in packets {
        ranges.push(buf.len()..buf.len() + p.len());
        buf.extend_from_slice(p);
    }
    let mut c = Coalescer::new();
    for r in ranges {
        c.push(&buf, r);
    }
    let mut writes = Vec::new();
    c.flush(&buf, |iov| {
        let all: Vec<u8> = iov.iter().flat_map(|s| s.iter().copied()).collect();
        writes.push(Write {
            vnet: VirtioNetHdr::decode(&all).unwrap(),
            packet: all[VNET_HDR_LEN..].to_vec(),
        });
        Ok::<(), ()>(())
    })
    .unwrap();
    assert!(c.is_empty());
    writes
}

/// Completes a NEEDS_CSUM packet with the reference code, as the kernel would.
fn complete(w: &Write) -> Vec<u8> {
    let mut p = w.packet.clone();
    if w.vnet.needs_csum() {
        let start = usize::from(w.vnet.csum_start);
        let at = start + usize::from(w.vnet.csum_offset);
        let c = !reference_sum(&p[start..]);
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    p
}

fn split(p: &[u8], vnet: &VirtioNetHdr) -> Vec<Vec<u8>> {
    let mut s = Segments::new(vnet, p).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(n) = s.write_next(&mut buf).unwrap() {
        out.push(buf[..n].to_vec());
    }
    out
}

fn super_packet(spec: &Tcp, mss: u16) -> (Vec<u8>, VirtioNetHdr, Vec<Vec<u8>>) {
    let original = tcp_packet(spec);
    let mut p = original.clone();
    let gso = if spec.v6 {
        GsoType::TcpV6
    } else {
        GsoType::TcpV4
    };
    let vnet = as_super_packet(&mut p, gso, mss);
    let segs = split(&p, &vnet);
    (original, vnet, segs)
}

#[test]
fn split_then_coalesce_restores_the_super_packet() {
    for v6 in [false, true] {
        for len in [2 * 1360, 64_000 - 200, 5 * 1360 + 17] {
            let spec = Tcp {
                v6,
                flags: 0x18,
                payload: data(len, 3),
                ..Tcp::default()
            };
            let (original, vnet, segs) = super_packet(&spec, 1360);
            let writes = run(&segs);
            assert_eq!(writes.len(), 1, "one TUN write for {len} bytes");
            let w = &writes[0];
            assert_eq!(w.vnet.gso_type, vnet.gso_type);
            assert_eq!(w.vnet.gso_size, 1360);
            assert!(w.vnet.needs_csum());
            assert_eq!(w.vnet.csum_start, vnet.csum_start);
            assert_eq!(w.vnet.csum_offset, 16);
            assert_eq!(usize::from(w.vnet.hdr_len), if v6 { 72 } else { 52 });
            let completed = complete(w);
            assert_valid(&completed);
            assert_eq!(completed, original);
            // And the coalesced packet splits into the same segments again.
            assert_eq!(split(&w.packet, &w.vnet), segs);
        }
    }
}

#[test]
fn a_single_segment_is_written_unchanged_with_a_plain_header() {
    let p = tcp_packet(&Tcp {
        payload: data(1000, 1),
        ..Tcp::default()
    });
    let u = udp_packet(true, &data(100, 2), 0);
    let writes = run(&[p.clone(), u.clone()]);
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].vnet, VirtioNetHdr::PLAIN);
    assert_eq!(writes[0].packet, p);
    assert_eq!(writes[1].vnet, VirtioNetHdr::PLAIN);
    assert_eq!(writes[1].packet, u);
}

#[test]
fn interleaved_flows_are_grouped_separately() {
    let a = Tcp {
        payload: data(4 * 1000, 5),
        ..Tcp::default()
    };
    let b = Tcp {
        sport: 40_001,
        seq: 5,
        payload: data(3 * 1000, 6),
        ..Tcp::default()
    };
    let (oa, _, sa) = super_packet(&a, 1000);
    let (ob, _, sb) = super_packet(&b, 1000);
    let mut mixed = Vec::new();
    for (i, a) in sa.iter().enumerate() {
        mixed.push(a.clone());
        if let Some(s) = sb.get(i) {
            mixed.push(s.clone());
        }
    }
    let writes = run(&mixed);
    assert_eq!(writes.len(), 2);
    assert_eq!(complete(&writes[0]), oa);
    assert_eq!(complete(&writes[1]), ob);
}

#[test]
fn gaps_acks_and_short_segments_end_a_group_without_reordering() {
    let spec = Tcp {
        payload: data(6 * 1000, 7),
        ..Tcp::default()
    };
    let (_, _, s) = super_packet(&spec, 1000);
    // A gap: segment 2 is missing, so 3 cannot follow 1.
    let writes = run(&[s[0].clone(), s[1].clone(), s[3].clone(), s[4].clone()]);
    assert_eq!(writes.len(), 2);
    assert_eq!(split(&writes[0].packet, &writes[0].vnet), &s[0..2]);
    assert_eq!(split(&writes[1].packet, &writes[1].vnet), &s[3..5]);

    // A new ACK number starts a new group.
    let mut acked = s[2].clone();
    acked[28..32].copy_from_slice(&1000u32.to_be_bytes());
    let fixed = fix_tcp_checksum(acked);
    let writes = run(&[s[0].clone(), s[1].clone(), fixed.clone(), s[3].clone()]);
    assert_eq!(writes.len(), 3);
    assert_eq!(writes[1].packet, fixed);
    assert_eq!(writes[2].packet, s[3]);

    // A short segment ends the group; what follows starts another.
    let base = Tcp {
        payload: data(1000, 8),
        ..Tcp::default()
    };
    let short = Tcp {
        seq: base.seq.wrapping_add(1000),
        id: base.id.wrapping_add(1),
        payload: data(500, 9),
        ..base.clone()
    };
    let after = Tcp {
        seq: base.seq.wrapping_add(1500),
        payload: data(1000, 10),
        ..base.clone()
    };
    let packets = [tcp_packet(&base), tcp_packet(&short), tcp_packet(&after)];
    let writes = run(&packets);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(split(&writes[0].packet, &writes[0].vnet), &packets[..2]);
    assert_eq!(writes[1].packet, packets[2]);
}

#[test]
fn control_packets_close_their_flow_group() {
    let spec = Tcp {
        payload: data(3 * 1000, 9),
        ..Tcp::default()
    };
    let (_, _, s) = super_packet(&spec, 1000);
    let syn = tcp_packet(&Tcp {
        flags: 0x02,
        ..Tcp::default()
    });
    let pure_ack = tcp_packet(&Tcp::default());
    let writes = run(&[
        s[0].clone(),
        s[1].clone(),
        syn.clone(),
        s[2].clone(),
        pure_ack.clone(),
    ]);
    assert_eq!(writes.len(), 4);
    assert_eq!(split(&writes[0].packet, &writes[0].vnet), &s[0..2]);
    assert_eq!(writes[1].packet, syn);
    assert_eq!(writes[2].packet, s[2]);
    assert_eq!(writes[3].packet, pure_ack);
}

#[test]
fn groups_stop_at_the_segment_limit() {
    let spec = Tcp {
        payload: data(100 * 100, 10),
        ..Tcp::default()
    };
    let (original, _, s) = super_packet(&spec, 100);
    assert_eq!(s.len(), 100);
    let writes = run(&s);
    assert_eq!(writes.len(), 2);
    assert_eq!(
        split(&writes[0].packet, &writes[0].vnet).len(),
        MAX_SEGMENTS
    );
    let mut joined = Vec::new();
    for w in &writes {
        for seg in split(&w.packet, &w.vnet) {
            assert_valid(&seg);
            joined.extend_from_slice(&seg[52..]);
        }
    }
    assert_eq!(joined, original[52..]);
}

#[test]
fn garbage_never_panics() {
    let mut packets = Vec::new();
    for seed in 0..2000u32 {
        let mut d = data((seed as usize * 13) % 200, seed);
        if let Some(b) = d.first_mut() {
            *b = [0x45, 0x46, 0x60, 0x4f][seed as usize % 4];
        }
        if d.len() > 9 {
            d[9] = 6;
        }
        if d.len() > 6 {
            d[6] = 6;
        }
        packets.push(d);
    }
    let writes = run(&packets);
    assert!(!writes.is_empty());
}

fn fix_tcp_checksum(mut p: Vec<u8>) -> Vec<u8> {
    p[36..38].copy_from_slice(&[0, 0]);
    let mut pseudo = p[12..20].to_vec();
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&((p.len() - 20) as u16).to_be_bytes());
    pseudo.extend_from_slice(&p[20..]);
    let c = !reference_sum(&pseudo);
    p[36..38].copy_from_slice(&c.to_be_bytes());
    assert_valid(&p);
    p
}
