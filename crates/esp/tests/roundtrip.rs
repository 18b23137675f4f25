//! Round trips between two data planes for every algorithm, both modes, both address
//! families, 32-bit and extended sequence numbers; lifetimes, checkpoints and SA commands.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::time::Duration;
use std::time::Instant;

use common::*;
use hitless_esp::Config;
use hitless_esp::DropReason;
use hitless_esp::HEADROOM;
use hitless_esp::TAILROOM;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::ExpireReason;
use hitless_sadb::Lifetime;
use hitless_sadb::Limits;
use hitless_sadb::Mode;
use hitless_sadb::ResourceId;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;

fn events(node: &Node) -> Vec<BackendEvent> {
    std::iter::from_fn(|| node.plane.poll_event()).collect()
}

#[test]
fn tunnel_mode_round_trips_for_every_suite_size_and_family() {
    for suite in Suite::ALL {
        for esn in [false, true] {
            let mut setup = Setup::new(suite);
            setup.esn = esn;
            let pair = Pair::new(setup);
            for len in [0, 1, 2, 3, 15, 16, 17, 64, 512, 1400] {
                let packet = a_to_b(len);
                let esp = seal(&pair.a, &packet).unwrap();
                assert_eq!(&esp[..4], &SPI_AB.0.to_be_bytes());
                assert!(
                    !esp.windows(packet.len()).any(|w| w == packet),
                    "plaintext leaked"
                );
                assert_eq!(
                    open(&pair.b, &esp).unwrap(),
                    packet,
                    "{suite:?} esn={esn} len={len}"
                );
                let packet = udp6("fd02::9", "fd01::5", (53, 5353), len);
                let esp = seal(&pair.b, &packet).unwrap();
                assert_eq!(
                    open(&pair.a, &esp).unwrap(),
                    packet,
                    "{suite:?} v6 len={len}"
                );
            }
            assert_eq!(pair.a.plane.drops().total(), 0);
            assert_eq!(pair.b.plane.drops().total(), 0);
            let stats = pair.b.plane.sa_stats(SPI_AB, Direction::Inbound).unwrap();
            assert_eq!(stats.packets, 10);
            assert_eq!(stats.sequence, 10);
        }
    }
}

#[test]
fn packet_layout_follows_rfc_4303() {
    for suite in Suite::ALL {
        let pair = Pair::new(Setup::new(suite));
        let packet = a_to_b(100);
        let mut buf = Buf::with(&packet);
        let sealed = pair
            .a
            .plane
            .encapsulate(None, &mut buf.bytes, HEADROOM, packet.len())
            .unwrap();
        let (iv_len, icv_len, align) = match suite {
            Suite::Aes128Gcm | Suite::Aes256Gcm | Suite::ChaCha20Poly1305 => (8, 16, 4),
            Suite::Aes128CbcSha256 => (16, 16, 16),
            Suite::Aes256CbcSha512 => (16, 32, 16),
        };
        let body = sealed.bytes.len() - 8 - iv_len - icv_len;
        assert_eq!(body % align, 0, "{suite:?}");
        assert!(body >= packet.len() + 2 && body < packet.len() + 2 + align);
        // Sequence number 1, and for an AEAD the IV is the 64-bit sequence number.
        assert_eq!(&sealed.bytes[4..8], &[0, 0, 0, 1]);
        if iv_len == 8 {
            assert_eq!(&sealed.bytes[8..16], &1u64.to_be_bytes());
        }
        assert_eq!(sealed.spi, SPI_AB);
        assert_eq!(sealed.remote, pair.setup.outer_b);
        assert_eq!(sealed.local, pair.setup.outer_a);
        assert!(sealed.udp_encap);
        assert_eq!(sealed.offset, HEADROOM - 8 - iv_len);
    }
}

#[test]
fn transport_mode_round_trips_and_rebuilds_the_ip_header() {
    for suite in Suite::ALL {
        for v6 in [false, true] {
            let mut setup = Setup::new(suite);
            setup.mode = Mode::Transport;
            if v6 {
                setup.outer_a = "[2001:db8::1]:4500".parse().unwrap();
                setup.outer_b = "[2001:db8::2]:4500".parse().unwrap();
            }
            let pair = Pair::new(setup);
            let packet = if v6 {
                udp6("2001:db8::1", "2001:db8::2", (500, 500), 77)
            } else {
                udp4("192.0.2.1", "198.51.100.2", (500, 500), 77)
            };
            let esp = seal(&pair.a, &packet).unwrap();
            // The IP header is not inside ESP: payload 85 + trailer + overhead.
            let header_len = if v6 { 40 } else { 20 };
            assert!(esp.len() < packet.len() - header_len + 8 + 16 + 2 + 16 + 32);
            let opened = open(&pair.b, &esp).unwrap();
            // Same payload and protocol; the header is rebuilt from the SA's addresses.
            assert_eq!(
                &opened[header_len..],
                &packet[header_len..],
                "{suite:?} v6={v6}"
            );
            if v6 {
                assert_eq!(&opened[4..40], &packet[4..40]);
            } else {
                assert_eq!(&opened[9..10], &packet[9..10]);
                assert_eq!(&opened[12..20], &packet[12..20]);
                assert_eq!(ipv4_checksum(&opened[..20]), 0);
                assert_eq!(&opened[2..4], &packet[2..4]);
            }
            // Without headroom the payload is moved to make room for the header.
            let esp = seal(&pair.a, &packet).unwrap();
            let mut exact = esp.clone();
            let len = exact.len();
            let result = pair.b.plane.decapsulate(&mut exact, 0, len);
            if packet.len() <= len {
                assert_eq!(&result.unwrap().inner[header_len..], &packet[header_len..]);
            } else {
                // The rebuilt packet is longer than the ESP packet: the caller must give room.
                assert_eq!(result.unwrap_err(), DropReason::BufferTooSmall);
            }
        }
    }
}

#[test]
fn sequence_numbers_survive_snapshot_republication() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    seal(&pair.a, &a_to_b(10)).unwrap();
    // Replaying the full state (an engine restart) and unrelated changes republish the
    // snapshot; the counter continues.
    for command in commands(&pair.setup, true) {
        pair.a.control.apply(&command).unwrap();
    }
    pair.a
        .control
        .apply(&SaCommand::UpdateAddresses {
            spi: SPI_AB,
            direction: Direction::Outbound,
            local: "192.0.2.1:4500".parse().unwrap(),
            remote: "203.0.113.9:31337".parse().unwrap(),
            udp_encap: true,
        })
        .unwrap();
    let mut buf = Buf::with(&a_to_b(10));
    let sealed = pair
        .a
        .plane
        .encapsulate(None, &mut buf.bytes, HEADROOM, 38)
        .unwrap();
    assert_eq!(&sealed.bytes[4..8], &[0, 0, 0, 2]);
    assert_eq!(sealed.remote, "203.0.113.9:31337".parse().unwrap());
    // A re-add with other keys under the same SPI is refused.
    let mut other = sa_spec(&pair.setup, SPI_AB, Direction::Outbound, true, 99);
    other.initial_sequence = 0;
    assert!(
        pair.a
            .control
            .apply(&SaCommand::AddSa(Box::new(other)))
            .is_err()
    );
}

#[test]
fn esn_crosses_the_32_bit_boundary() {
    for suite in [
        Suite::Aes256Gcm,
        Suite::ChaCha20Poly1305,
        Suite::Aes128CbcSha256,
    ] {
        let mut setup = Setup::new(suite);
        setup.esn = true;
        setup.initial_sequence = u64::from(u32::MAX) - 3;
        let pair = Pair::new(setup);
        let mut packets = Vec::new();
        for i in 0..8 {
            packets.push(seal(&pair.a, &a_to_b(i)).unwrap());
        }
        // Deliver with some reordering across the boundary.
        for index in [1, 0, 3, 2, 5, 4, 7, 6] {
            let inner = open(&pair.b, &packets[index]).unwrap();
            assert_eq!(inner, a_to_b(index), "{suite:?} packet {index}");
        }
        assert_eq!(
            pair.b
                .plane
                .sa_stats(SPI_AB, Direction::Inbound)
                .unwrap()
                .sequence,
            (1 << 32) + 4
        );
        // The low 32 bits wrapped on the wire.
        assert_eq!(&packets[3][4..8], &[0, 0, 0, 0]);
        assert_eq!(&packets[7][4..8], &[0, 0, 0, 4]);
    }
}

#[test]
fn sequence_space_soft_and_hard_expiry_without_esn() {
    let mut setup = Setup::new(Suite::Aes128Gcm);
    setup.initial_sequence = u64::from(u32::MAX) - 2;
    let pair = Pair::new(setup);
    // Already past the soft threshold: the first packet raises the soft event.
    seal(&pair.a, &a_to_b(1)).unwrap();
    seal(&pair.a, &a_to_b(1)).unwrap();
    assert_eq!(
        events(&pair.a),
        vec![BackendEvent::Expire {
            spi: SPI_AB,
            direction: Direction::Outbound,
            hard: false,
            reason: ExpireReason::SequenceNumbers
        }]
    );
    // 2^32 - 1 is the last number; the next packet is refused, never wrapped to 0.
    assert_eq!(
        seal(&pair.a, &a_to_b(1)),
        Err(DropReason::SequenceExhausted)
    );
    assert_eq!(
        seal(&pair.a, &a_to_b(1)),
        Err(DropReason::SequenceExhausted)
    );
    assert_eq!(
        events(&pair.a),
        vec![BackendEvent::Expire {
            spi: SPI_AB,
            direction: Direction::Outbound,
            hard: true,
            reason: ExpireReason::SequenceNumbers
        }]
    );
    assert_eq!(pair.a.plane.drops().get(DropReason::SequenceExhausted), 2);
}

#[test]
fn soft_expiry_of_the_sequence_space_comes_well_before_the_end() {
    for esn in [false, true] {
        let mut setup = Setup::new(Suite::Aes128Gcm);
        setup.esn = esn;
        let last = if esn {
            u64::MAX - (1 << 32)
        } else {
            u64::from(u32::MAX)
        };
        // One below the soft threshold (a sixteenth of the space left).
        setup.initial_sequence = last - last / 16 - 2;
        let pair = Pair::new(setup);
        seal(&pair.a, &a_to_b(1)).unwrap();
        assert!(events(&pair.a).is_empty(), "esn={esn}");
        seal(&pair.a, &a_to_b(1)).unwrap();
        assert_eq!(events(&pair.a).len(), 1, "esn={esn}");
    }
}

#[test]
fn byte_and_packet_lifetimes_raise_each_event_once() {
    let mut setup = Setup::new(Suite::ChaCha20Poly1305);
    setup.lifetime = Lifetime {
        soft: Limits {
            bytes: None,
            packets: Some(3),
        },
        hard: Limits {
            bytes: None,
            packets: Some(5),
        },
    };
    let pair = Pair::new(setup);
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(seal(&pair.a, &a_to_b(10)).unwrap());
    }
    assert_eq!(seal(&pair.a, &a_to_b(10)), Err(DropReason::Expired));
    let expire = |hard| BackendEvent::Expire {
        spi: SPI_AB,
        direction: Direction::Outbound,
        hard,
        reason: ExpireReason::Packets,
    };
    assert_eq!(events(&pair.a), vec![expire(false), expire(true)]);
    // The receiver counts the same limits on its inbound SA.
    for esp in &sent {
        open(&pair.b, esp).unwrap();
    }
    let inbound: Vec<_> = events(&pair.b);
    assert_eq!(inbound.len(), 2, "{inbound:?}");

    let mut setup = Setup::new(Suite::Aes128Gcm);
    setup.lifetime.soft.bytes = Some(100);
    setup.lifetime.hard.bytes = Some(250);
    let pair = Pair::new(setup);
    let packet = a_to_b(52); // 80 bytes
    for _ in 0..4 {
        seal(&pair.a, &packet).unwrap();
    }
    assert_eq!(seal(&pair.a, &packet), Err(DropReason::Expired));
    let reasons: Vec<_> = events(&pair.a)
        .into_iter()
        .map(|event| match event {
            BackendEvent::Expire { hard, reason, .. } => (hard, reason),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![(false, ExpireReason::Bytes), (true, ExpireReason::Bytes)]
    );
}

#[test]
fn first_use_is_reported_once_after_authentication() {
    let mut setup = Setup::new(Suite::Aes128Gcm);
    setup.report_first_use = true;
    let pair = Pair::new(setup);
    let esp = seal(&pair.a, &a_to_b(10)).unwrap();
    let mut forged = esp.clone();
    *forged.last_mut().unwrap() ^= 1;
    assert_eq!(open(&pair.b, &forged), Err(DropReason::IcvMismatch));
    assert!(
        events(&pair.b).is_empty(),
        "a forged packet is no first use"
    );
    open(&pair.b, &esp).unwrap();
    open(&pair.b, &seal(&pair.a, &a_to_b(10)).unwrap()).unwrap();
    assert_eq!(
        events(&pair.b),
        vec![BackendEvent::InboundSaUsed { spi: SPI_AB }]
    );
}

#[test]
#[allow(clippy::disallowed_methods)] // the test is the driver and supplies the time
fn checkpoints_every_n_packets_and_every_interval() {
    let mut setup = Setup::new(Suite::Aes128Gcm);
    setup.config = Config {
        checkpoint_packets: Some(4),
        checkpoint_interval: Some(Duration::from_millis(100)),
    };
    let pair = Pair::new(setup);
    let mut sent = Vec::new();
    for _ in 0..9 {
        sent.push(seal(&pair.a, &a_to_b(1)).unwrap());
    }
    let checkpoint = |spi, direction, sequence| BackendEvent::SequenceCheckpoint {
        spi,
        direction,
        sequence,
    };
    assert_eq!(
        events(&pair.a),
        vec![
            checkpoint(SPI_AB, Direction::Outbound, 4),
            checkpoint(SPI_AB, Direction::Outbound, 8)
        ]
    );
    for esp in &sent {
        open(&pair.b, esp).unwrap();
    }
    assert_eq!(
        events(&pair.b),
        vec![
            checkpoint(SPI_AB, Direction::Inbound, 4),
            checkpoint(SPI_AB, Direction::Inbound, 8)
        ]
    );
    // Time-based: the first poll starts the clock, a poll an interval later reports the moved
    // counters, a poll without movement reports nothing.
    let start = Instant::now();
    pair.a.plane.poll_checkpoints(start);
    assert!(events(&pair.a).is_empty());
    pair.a
        .plane
        .poll_checkpoints(start + Duration::from_millis(50));
    assert!(events(&pair.a).is_empty());
    pair.a
        .plane
        .poll_checkpoints(start + Duration::from_millis(100));
    assert_eq!(
        events(&pair.a),
        vec![checkpoint(SPI_AB, Direction::Outbound, 9)]
    );
    pair.a
        .plane
        .poll_checkpoints(start + Duration::from_millis(300));
    assert!(events(&pair.a).is_empty());
}

#[test]
fn advance_sequence_moves_forward_only() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let early = seal(&pair.a, &a_to_b(1)).unwrap();
    let advance = |spi, direction, sequence| SaCommand::AdvanceSequence {
        spi,
        direction,
        sequence,
    };
    pair.a
        .control
        .apply(&advance(SPI_AB, Direction::Outbound, 1000))
        .unwrap();
    pair.a
        .control
        .apply(&advance(SPI_AB, Direction::Outbound, 10))
        .unwrap();
    let late = seal(&pair.a, &a_to_b(1)).unwrap();
    assert_eq!(&late[4..8], &1001u32.to_be_bytes());
    // Inbound: everything at or below the new edge is refused.
    pair.b
        .control
        .apply(&advance(SPI_AB, Direction::Inbound, 500))
        .unwrap();
    // Inside the window, marked as seen.
    assert_eq!(open(&pair.b, &early), Err(DropReason::Replayed));
    open(&pair.b, &late).unwrap();
    assert!(
        pair.b
            .control
            .apply(&advance(Spi(0xdead), Direction::Inbound, 1))
            .is_err()
    );
}

#[test]
fn skip_sequence_moves_forward_from_the_current_number() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let skip = |spi, direction, count| SaCommand::SkipSequence {
        spi,
        direction,
        count,
    };
    let mut early = Vec::new();
    for _ in 0..3 {
        early.push(seal(&pair.a, &a_to_b(1)).unwrap());
    }
    // RFC 6311 replay-counter sync, peer side: three used, skip 1000, the next is 1004.
    pair.a
        .control
        .apply(&skip(SPI_AB, Direction::Outbound, 1000))
        .unwrap();
    let late = seal(&pair.a, &a_to_b(1)).unwrap();
    assert_eq!(&late[4..8], &1004u32.to_be_bytes());
    // Inbound: everything at or below the highest accepted (1) + 500 is refused.
    open(&pair.b, &early[0]).unwrap();
    pair.b
        .control
        .apply(&skip(SPI_AB, Direction::Inbound, 500))
        .unwrap();
    assert_eq!(open(&pair.b, &early[1]), Err(DropReason::Replayed));
    open(&pair.b, &late).unwrap();
    // A skip past the end of the 32-bit space saturates: the SA is exhausted, never wrapped.
    pair.a
        .control
        .apply(&skip(SPI_AB, Direction::Outbound, u64::MAX))
        .unwrap();
    assert!(seal(&pair.a, &a_to_b(1)).is_err());
    assert!(
        pair.b
            .control
            .apply(&skip(Spi(0xdead), Direction::Inbound, 1))
            .is_err()
    );
}

#[test]
fn rekey_switches_the_outbound_sa_and_old_inbound_keeps_working() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let old = seal(&pair.a, &a_to_b(5)).unwrap();
    // The responder (B) installs the new inbound SA first; A installs both and switches.
    let new_spi = Spi(0x3000_0003);
    let new_in = sa_spec(&pair.setup, new_spi, Direction::Inbound, false, 9);
    let new_out = sa_spec(&pair.setup, new_spi, Direction::Outbound, true, 9);
    pair.b
        .control
        .apply(&SaCommand::AddSa(Box::new(new_in)))
        .unwrap();
    pair.a
        .control
        .apply(&SaCommand::AddSa(Box::new(new_out)))
        .unwrap();
    pair.a
        .control
        .apply(&SaCommand::RouteOutbound {
            reqid: REQID,
            resource: None,
            spi: new_spi,
        })
        .unwrap();
    let new = seal(&pair.a, &a_to_b(5)).unwrap();
    assert_eq!(&new[..4], &new_spi.0.to_be_bytes());
    open(&pair.b, &new).unwrap();
    open(&pair.b, &old).unwrap();
    // Deleting the old inbound SA: its packets now find no SA.
    pair.b
        .control
        .apply(&SaCommand::DeleteSa {
            spi: SPI_AB,
            direction: Direction::Inbound,
        })
        .unwrap();
    pair.b
        .control
        .apply(&SaCommand::DeleteSa {
            spi: SPI_AB,
            direction: Direction::Inbound,
        })
        .unwrap();
    assert_eq!(open(&pair.b, &old), Err(DropReason::NoSa));
}

/// A worker seals a TSO packet's segments with one flow; when a rekey switches the policy and
/// deletes the old outbound SA in the middle (RFC 7296 §2.8), the remaining segments go out on
/// the successor instead of being dropped, unless the successor cannot join the batch.
#[test]
fn a_flow_whose_sa_is_deleted_mid_batch_continues_on_the_successor() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let segment = a_to_b(600);
    let flow = pair.a.plane.outbound_flow(None, &segment).unwrap();
    let stride = flow.sealed_len(segment.len());
    let mut batch = vec![0u8; stride * 3 + TAILROOM];
    let mut seal_at = |i: usize| {
        let offset = i * stride + flow.headroom();
        batch[offset..offset + segment.len()].copy_from_slice(&segment);
        flow.encapsulate(&mut batch, offset, segment.len())
            .map(|sealed| (sealed.spi, sealed.bytes.to_vec()))
    };
    let (spi, first) = seal_at(0).unwrap();
    assert_eq!(spi, SPI_AB);
    // The rekey: B installs the new inbound SA, A the new outbound one, switches and deletes
    // the old outbound SA while the flow still holds it.
    let new_spi = Spi(0x3000_0003);
    let new_in = sa_spec(&pair.setup, new_spi, Direction::Inbound, false, 9);
    let new_out = sa_spec(&pair.setup, new_spi, Direction::Outbound, true, 9);
    pair.b
        .control
        .apply(&SaCommand::AddSa(Box::new(new_in)))
        .unwrap();
    for command in [
        SaCommand::AddSa(Box::new(new_out)),
        SaCommand::RouteOutbound {
            reqid: REQID,
            resource: None,
            spi: new_spi,
        },
        SaCommand::DeleteSa {
            spi: SPI_AB,
            direction: Direction::Outbound,
        },
    ] {
        pair.a.control.apply(&command).unwrap();
    }
    let (spi, second) = seal_at(1).unwrap();
    assert_eq!(
        spi, new_spi,
        "the rest of the batch goes out on the successor"
    );
    assert_eq!(second.len(), stride, "and still fits the batch");
    assert_eq!(open(&pair.b, &first).unwrap(), segment);
    assert_eq!(open(&pair.b, &second).unwrap(), segment);
    // A successor toward another peer address cannot join this batch's send: dropped.
    let other = Spi(0x3000_0004);
    let mut spec = sa_spec(&pair.setup, other, Direction::Outbound, true, 10);
    spec.remote = "192.0.2.99:4500".parse().unwrap();
    for command in [
        SaCommand::AddSa(Box::new(spec)),
        SaCommand::RouteOutbound {
            reqid: REQID,
            resource: None,
            spi: other,
        },
        SaCommand::DeleteSa {
            spi: new_spi,
            direction: Direction::Outbound,
        },
    ] {
        pair.a.control.apply(&command).unwrap();
    }
    assert_eq!(seal_at(2), Err(DropReason::Expired));
}

#[test]
fn per_resource_routes_fall_back_and_acquire_once() {
    let mut pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let packet = a_to_b(10);
    let seal_for = |node: &Node, resource| {
        let mut buf = Buf::with(&packet);
        node.plane
            .encapsulate(resource, &mut buf.bytes, HEADROOM, packet.len())
            .map(|sealed| sealed.spi)
    };
    // No SA for resource 1 yet: the fallback carries it, and one Acquire asks for its own.
    assert_eq!(seal_for(&pair.a, Some(ResourceId(1))), Ok(SPI_AB));
    assert_eq!(seal_for(&pair.a, Some(ResourceId(1))), Ok(SPI_AB));
    assert_eq!(
        events(&pair.a),
        vec![BackendEvent::Acquire {
            reqid: REQID,
            resource: Some(ResourceId(1))
        }]
    );
    let spi_1 = Spi(0x1000_0101);
    let mut spec = sa_spec(&pair.setup, spi_1, Direction::Outbound, true, 11);
    spec.resource = Some(ResourceId(1));
    pair.a
        .control
        .apply(&SaCommand::AddSa(Box::new(spec)))
        .unwrap();
    pair.a
        .control
        .apply(&SaCommand::RouteOutbound {
            reqid: REQID,
            resource: Some(ResourceId(1)),
            spi: spi_1,
        })
        .unwrap();
    assert_eq!(seal_for(&pair.a, Some(ResourceId(1))), Ok(spi_1));
    assert_eq!(seal_for(&pair.a, Some(ResourceId(2))), Ok(SPI_AB));
    assert_eq!(seal_for(&pair.a, None), Ok(SPI_AB));
    // Without any route, traffic is dropped and acquired once.
    pair.a
        .control
        .apply(&SaCommand::DeleteSa {
            spi: SPI_AB,
            direction: Direction::Outbound,
        })
        .unwrap();
    events(&pair.a);
    assert_eq!(seal_for(&pair.a, None), Err(DropReason::NoSa));
    assert_eq!(seal_for(&pair.a, None), Err(DropReason::NoSa));
    assert_eq!(
        events(&pair.a),
        vec![BackendEvent::Acquire {
            reqid: REQID,
            resource: None
        }]
    );
    // Routing to an unknown SA or policy is refused.
    assert!(
        pair.a
            .control
            .apply(&SaCommand::RouteOutbound {
                reqid: REQID,
                resource: None,
                spi: Spi(0x4444_4444)
            })
            .is_err()
    );
    pair.a
        .control
        .apply(&SaCommand::DeletePolicy { reqid: REQID })
        .unwrap();
    assert_eq!(
        seal_for(&pair.a, Some(ResourceId(1))),
        Err(DropReason::NoPolicy)
    );
}

#[test]
fn outbound_flow_seals_a_batch_of_equal_segments() {
    let pair = Pair::new(Setup::new(Suite::Aes256Gcm));
    let segment = a_to_b(1000);
    let flow = pair.a.plane.outbound_flow(None, &segment).unwrap();
    let stride = flow.sealed_len(segment.len());
    assert_eq!(flow.headroom(), 16);
    let count = 8;
    let mut batch = vec![0u8; stride * count + TAILROOM];
    let mut offsets = Vec::new();
    for i in 0..count {
        let offset = i * stride + flow.headroom();
        batch[offset..offset + segment.len()].copy_from_slice(&segment);
        let sealed = flow.encapsulate(&mut batch, offset, segment.len()).unwrap();
        assert_eq!(sealed.offset, i * stride);
        assert_eq!(sealed.bytes.len(), stride);
        offsets.push(sealed.offset);
    }
    // The batch is contiguous: one GSO send of `count` segments of `stride` bytes.
    for offset in offsets {
        assert_eq!(
            open(&pair.b, &batch[offset..offset + stride]).unwrap(),
            segment
        );
    }
    // A packet of another flow is refused, not sent on this SA.
    let stray = udp4("10.9.0.1", "10.2.0.9", (1, 2), 1000);
    let mut buf = Buf::with(&stray);
    assert_eq!(
        flow.encapsulate(&mut buf.bytes, HEADROOM, stray.len())
            .unwrap_err(),
        DropReason::PolicyMismatch
    );
}

#[test]
fn many_threads_never_reuse_a_sequence_number() {
    let pair = Pair::new(Setup::new(Suite::Aes128Gcm));
    let per_thread = 2000;
    let sequences: Vec<u32> = std::thread::scope(|scope| {
        // Collected so that all workers run before the first join.
        #[allow(clippy::needless_collect)]
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let packet = a_to_b(20);
                    let mut buf = Buf::with(&packet);
                    (0..per_thread)
                        .map(|_| {
                            buf.bytes[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                            let sealed = pair
                                .a
                                .plane
                                .encapsulate(None, &mut buf.bytes, HEADROOM, packet.len())
                                .unwrap();
                            u32::from_be_bytes(sealed.bytes[4..8].try_into().unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let unique: std::collections::BTreeSet<_> = sequences.iter().copied().collect();
    assert_eq!(unique.len(), 4 * per_thread);
    assert_eq!(unique.last(), Some(&(4 * per_thread as u32)));
}

#[test]
fn concurrent_receivers_accept_each_packet_exactly_once() {
    let mut setup = Setup::new(Suite::ChaCha20Poly1305);
    setup.replay_window = 4096;
    let pair = Pair::new(setup);
    let count = 2000;
    let sent: Vec<Vec<u8>> = (0..count)
        .map(|_| seal(&pair.a, &a_to_b(16)).unwrap())
        .collect();
    // Four workers each try every packet, in different orders, at the same time.
    let accepted: Vec<usize> = std::thread::scope(|scope| {
        #[allow(clippy::needless_collect)] // spawn all before the first join
        let workers: Vec<_> = (0..4usize)
            .map(|worker| {
                let sent = &sent;
                let plane = &pair.b.plane;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..count {
                        let index = match worker {
                            0 => i,
                            1 => count - 1 - i,
                            2 => (i * 7) % count,
                            _ => (i * 13 + 5) % count,
                        };
                        let mut buf = Buf::with(&sent[index]);
                        let len = sent[index].len();
                        if plane.decapsulate(&mut buf.bytes, HEADROOM, len).is_ok() {
                            mine.push(index);
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let unique: std::collections::BTreeSet<_> = accepted.iter().copied().collect();
    assert_eq!(unique.len(), accepted.len(), "a packet was accepted twice");
    assert_eq!(
        unique.len(),
        count,
        "a packet inside the window was refused"
    );
    assert_eq!(
        pair.b.plane.drops().get(DropReason::Replayed),
        3 * count as u64
    );
}
