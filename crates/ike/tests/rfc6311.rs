//! RFC 6311 in both roles: negotiation, the peer's answer to IKEV2_MESSAGE_ID_SYNC and
//! IPSEC_REPLAY_COUNTER_SYNC, bad input, and the cluster side after a takeover (simulated with
//! the export/import harness: `a` is the cluster, its standby takes over from a snapshot that
//! is behind, `b` is the peer).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hitless_crypto::CryptoProvider;
use hitless_ike::Config;
use hitless_ike::ErrorCounter;
use hitless_ike::Event;
use hitless_ike::IkeSaSnapshot;
use hitless_ike::ReplayFallback;
use hitless_ike::TakeoverPlan;
use hitless_ike::Transmit;
use hitless_ike::config::ChildConfig;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;
use hitless_wire::ike;
use hitless_wire::ike::DeletePayload;
use hitless_wire::ike::EncryptedKind;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;
use support::*;

// ---------------------------------------------------------------------------------------------
// Helpers: forging authentic messages with an exported IKE SA's keys (AEAD suites, which the
// default proposals choose).

/// `payloads` in an SK payload under `header`, protected as the sender of `header` would.
fn seal(
    crypto: &CryptoProvider,
    s: &IkeSaSnapshot,
    header: &Header,
    payloads: &[Payload],
) -> Vec<u8> {
    let encryption = s.algorithms.encryption;
    let aead = crypto.aead(encryption.id, encryption.key_bits).unwrap();
    let key = if header.flags.initiator {
        &s.keys.sk_ei
    } else {
        &s.keys.sk_er
    };
    let key = aead.new_key(key.expose()).unwrap();
    let first = payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type);
    let mut plaintext = ike::try_emit_payload_chain(payloads, PayloadType::NONE).unwrap();
    plaintext.push(0);
    let body_len = aead.iv_len() + plaintext.len() + aead.tag_len();
    let (mut message, offset) =
        ike::try_emit_encrypted_message(header, EncryptedKind::Sk, first, body_len).unwrap();
    let (aad, body) = message.split_at_mut(offset);
    let (iv, rest) = body.split_at_mut(aead.iv_len());
    iv.copy_from_slice(&payloads.len().to_be_bytes()[..iv.len().min(8)].repeat(2)[..iv.len()]);
    let (data, tag) = rest.split_at_mut(plaintext.len());
    data.copy_from_slice(&plaintext);
    key.seal_in_place(iv, aad, data, tag).unwrap();
    message
}

/// The header and SK contents of `message` on the IKE SA of `s`.
fn open(crypto: &CryptoProvider, s: &IkeSaSnapshot, message: &[u8]) -> (Header, Vec<Payload>) {
    let parsed = ike::parse_message(message).unwrap();
    let encrypted = parsed.encrypted.expect("an SK message");
    let encryption = s.algorithms.encryption;
    let aead = crypto.aead(encryption.id, encryption.key_bits).unwrap();
    let key = if parsed.header.flags.initiator {
        &s.keys.sk_ei
    } else {
        &s.keys.sk_er
    };
    let key = aead.new_key(key.expose()).unwrap();
    let (iv, rest) = encrypted.body.split_at(aead.iv_len());
    let (ciphertext, tag) = rest.split_at(rest.len() - aead.tag_len());
    let mut data = ciphertext.to_vec();
    key.open_in_place(iv, encrypted.authenticated_prefix, &mut data, tag)
        .unwrap();
    let pad = usize::from(data.pop().unwrap());
    data.truncate(data.len() - pad);
    let payloads = ike::parse_payload_chain(encrypted.first_inner, &data).unwrap();
    (parsed.header, payloads)
}

/// A header of `a` (the original initiator) on the IKE SA of `s`.
fn header_from_a(s: &IkeSaSnapshot, exchange: ExchangeType, message_id: u32) -> Header {
    Header {
        spi_i: s.spis.initiator.0,
        spi_r: s.spis.responder.0,
        next_payload: PayloadType::NONE,
        major_version: 2,
        minor_version: 0,
        exchange,
        flags: Flags {
            initiator: true,
            version: false,
            response: false,
        },
        message_id,
        length: 0,
    }
}

fn notify(kind: NotifyType, data: Vec<u8>) -> Payload {
    Payload::Notify(NotifyPayload {
        protocol: ProtocolId::NONE,
        spi: Vec::new(),
        notify_type: kind,
        data,
    })
}

fn mid_sync(nonce: [u8; 4], send: u32, recv: u32) -> Payload {
    let mut data = nonce.to_vec();
    data.extend_from_slice(&send.to_be_bytes());
    data.extend_from_slice(&recv.to_be_bytes());
    notify(NotifyType::IKEV2_MESSAGE_ID_SYNC, data)
}

fn replay_sync(delta: u64) -> Payload {
    notify(
        NotifyType::IPSEC_REPLAY_COUNTER_SYNC,
        delta.to_be_bytes().to_vec(),
    )
}

/// The IKEV2_MESSAGE_ID_SYNC data of a message: (nonce, expected send, expected receive).
fn sync_data(payloads: &[Payload]) -> ([u8; 4], u32, u32) {
    let data = payloads
        .iter()
        .find_map(|p| match p {
            Payload::Notify(n) if n.notify_type == NotifyType::IKEV2_MESSAGE_ID_SYNC => {
                Some(n.data.clone())
            }
            _ => None,
        })
        .expect("an IKEV2_MESSAGE_ID_SYNC");
    assert_eq!(data.len(), 12);
    (
        data[..4].try_into().unwrap(),
        u32::from_be_bytes(data[4..8].try_into().unwrap()),
        u32::from_be_bytes(data[8..12].try_into().unwrap()),
    )
}

/// A datagram from `a` to `b`.
fn wire_to_b(payload: Vec<u8>) -> Wire {
    let to = SocketAddr::from((B_IP, 500));
    Wire {
        from: SocketAddr::from((A_IP, 500)),
        to,
        payload: payload.clone(),
        transmit: Transmit {
            local: None,
            remote: to,
            non_esp_marker: false,
            keepalive: false,
            payload,
        },
    }
}

/// `a`'s snapshot of its only IKE SA.
fn snapshot(pair: &Pair) -> IkeSaSnapshot {
    let ike = pair.a.established();
    pair.a.endpoint.export(pair.now, ike).unwrap()
}

/// What `b`'s only IKE SA looks like: (next request, next expected).
fn b_counters(pair: &Pair) -> (u32, u32) {
    let info = pair.b.endpoint.ike_sa(pair.b.established()).unwrap();
    (info.next_request, info.next_expected)
}

/// Sends a forged request from `a` to `b` and returns what `b` transmitted in answer.
fn forge_to_b(pair: &mut Pair, header: &Header, payloads: &[Payload]) -> Vec<Vec<u8>> {
    let s = snapshot(pair);
    let bytes = seal(pair.a.endpoint.crypto(), &s, header, payloads);
    send_to_b(pair, bytes)
}

/// Hands `bytes` to `b` and returns what `b` transmitted in answer (taken off the wire).
fn send_to_b(pair: &mut Pair, bytes: Vec<u8>) -> Vec<Vec<u8>> {
    pair.drive();
    pair.inject_b(&wire_to_b(bytes));
    pair.to_a.drain(..).map(|w| w.payload).collect()
}

fn counter(node: &Node, reason: ErrorCounter) -> u64 {
    node.endpoint.counters().get(reason)
}

/// Two Child SAs on the first IKE SA.
fn two_children() -> (Config, Config) {
    let mut a = config_a();
    let mut b = config_b();
    for (c, mine, theirs) in [(&mut a, 1, 2), (&mut b, 2, 1)] {
        c.connections[0].children.push(ChildConfig::tunnel(
            "db",
            vec![net(10, mine, 9)],
            vec![net(10, theirs, 9)],
        ));
    }
    (a, b)
}

/// A standby of `a` with the given snapshot imported, swapped in for `a` (the old node is
/// gone).
fn fail_over(pair: &mut Pair, config: Config, snapshot: IkeSaSnapshot, seed: u64) {
    let mut standby = Node::with_crypto(
        "standby",
        config,
        Arc::new(hitless_crypto_insecure::provider(seed)),
        A_IP,
    );
    standby.endpoint.import_passive(pair.now, snapshot).unwrap();
    pair.a = standby;
    pair.to_b.clear();
}

fn established_events(node: &Node) -> usize {
    node.events()
        .iter()
        .filter(|e| matches!(e, Event::IkeSaEstablished { .. }))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Negotiation (RFC 6311 §3).

#[test]
fn support_is_negotiated_only_when_both_sides_announce_it() {
    for (a_on, b_on) in [(true, true), (true, false), (false, true), (false, false)] {
        let mut a = config_a();
        let mut b = config_b();
        a.connections[0].rfc6311 = a_on;
        b.connections[0].rfc6311 = b_on;
        let mut pair = Pair::new(a, b, 60);
        pair.connect("gw");
        let both = a_on && b_on;
        for node in [&pair.a, &pair.b] {
            let info = node.endpoint.ike_sa(node.established()).unwrap();
            assert_eq!(info.rfc6311.message_id_sync, both, "{}", node.name);
            assert_eq!(info.rfc6311.replay_counter_sync, both, "{}", node.name);
        }
        // Snapshots carry it for the HA layer.
        let s = snapshot(&pair);
        assert_eq!(s.rfc6311.message_id_sync, both);
        // Each side announces it in IKE_AUTH exactly when configured, as initiator and as
        // responder.
        let s_b = pair
            .b
            .endpoint
            .export(pair.now, pair.b.established())
            .unwrap();
        let announced = |node: &Node, s: &IkeSaSnapshot| {
            node.transmits().iter().any(|t| {
                let parsed = ike::parse_message(&t.payload).unwrap();
                parsed.header.exchange == ExchangeType::IKE_AUTH
                    && open(node.endpoint.crypto(), s, &t.payload)
                        .1
                        .iter()
                        .any(|p| {
                            matches!(p, Payload::Notify(n)
                        if n.notify_type == NotifyType::IKEV2_MESSAGE_ID_SYNC_SUPPORTED)
                        })
            })
        };
        assert_eq!(announced(&pair.a, &s), a_on);
        assert_eq!(announced(&pair.b, &s_b), b_on);
    }
}

// ---------------------------------------------------------------------------------------------
// Peer role (RFC 6311 §5.1, §6).

#[test]
fn peer_answers_a_sync_request_and_takes_its_counters() {
    let mut pair = pair();
    pair.connect("gw");
    pair.advance(Duration::from_secs(100)); // DPD both ways moves the counters
    let (b_next_request, b_next_expected) = b_counters(&pair);
    assert!(b_next_request > 0 && b_next_expected > 2);
    let s = snapshot(&pair);
    let m1 = b_next_expected + 7;
    let p1 = b_next_request + 3;
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let answers = forge_to_b(&mut pair, &header, &[mid_sync([9, 8, 7, 6], m1, p1)]);
    assert_eq!(answers.len(), 1, "exactly the answer");
    let (h, payloads) = open(pair.a.endpoint.crypto(), &s, &answers[0]);
    assert_eq!(h.exchange, ExchangeType::INFORMATIONAL);
    assert_eq!(h.message_id, 0);
    assert!(h.flags.response && !h.flags.initiator);
    assert_eq!(payloads.len(), 1, "only the sync notification");
    // Nonce echoed; P2 = max(P1, ours); M2 = M1.
    assert_eq!(sync_data(&payloads), ([9, 8, 7, 6], p1, m1));
    assert_eq!(b_counters(&pair), (p1, m1));
    // The window's response cache was left alone, and b goes on with the new counters: a
    // request at M1 is answered, one at the old ID is not.
    let old = header_from_a(&s, ExchangeType::INFORMATIONAL, b_next_expected);
    assert!(forge_to_b(&mut pair, &old, &[]).is_empty());
    let new = header_from_a(&s, ExchangeType::INFORMATIONAL, m1);
    let answers = forge_to_b(&mut pair, &new, &[]);
    assert_eq!(answers.len(), 1);
    let (h, _) = open(pair.a.endpoint.crypto(), &s, &answers[0]);
    assert_eq!(h.message_id, m1);
    assert_eq!(b_counters(&pair), (p1, m1 + 1));
}

#[test]
fn receiver_counter_too_low_is_corrected_in_the_response() {
    let mut pair = pair();
    pair.connect("gw");
    pair.advance(Duration::from_secs(100));
    let (b_next_request, b_next_expected) = b_counters(&pair);
    assert!(b_next_request >= 2);
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let answers = forge_to_b(&mut pair, &header, &[mid_sync([1; 4], b_next_expected, 0)]);
    let (_, payloads) = open(pair.a.endpoint.crypto(), &s, &answers[0]);
    // P1 = 0 is below what b has used: P2 is b's own next request.
    assert_eq!(
        sync_data(&payloads),
        ([1; 4], b_next_request, b_next_expected)
    );
    assert_eq!(b_counters(&pair), (b_next_request, b_next_expected));
}

#[test]
fn sender_counter_too_low_is_ignored() {
    let mut pair = pair();
    pair.connect("gw");
    pair.advance(Duration::from_secs(100));
    let before = b_counters(&pair);
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    for m1 in [0, before.1 - 1] {
        let answers = forge_to_b(&mut pair, &header, &[mid_sync([2; 4], m1, before.0)]);
        assert!(answers.is_empty(), "dropped silently");
    }
    assert_eq!(counter(&pair.b, ErrorCounter::SyncStale), 2);
    assert_eq!(b_counters(&pair), before);
}

#[test]
fn retransmitted_request_is_answered_from_the_cache_and_replays_are_ignored() {
    let mut pair = pair();
    pair.connect("gw");
    let (b_next_request, b_next_expected) = b_counters(&pair);
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let m1 = b_next_expected + 5;
    let request = seal(
        pair.a.endpoint.crypto(),
        &s,
        &header,
        &[mid_sync([3; 4], m1, b_next_request)],
    );
    let first = send_to_b(&mut pair, request.clone());
    assert_eq!(first.len(), 1);
    // The answer was lost; the cluster retransmits the same request.
    let again = send_to_b(&mut pair, request.clone());
    assert_eq!(again, first, "the cached answer, byte for byte");
    assert_eq!(counter(&pair.b, ErrorCounter::RetransmittedRequest), 1);
    assert_eq!(b_counters(&pair), (b_next_request, m1));
    // A sync with the same M1 but another nonce is a replay: dropped.
    let other = forge_to_b(&mut pair, &header, &[mid_sync([4; 4], m1, b_next_request)]);
    assert!(other.is_empty());
    assert_eq!(counter(&pair.b, ErrorCounter::SyncStale), 1);
    // The cluster moves on with a request at M1; from then on the old sync is only a replay.
    let next = header_from_a(&s, ExchangeType::INFORMATIONAL, m1);
    assert_eq!(forge_to_b(&mut pair, &next, &[]).len(), 1);
    let before = b_counters(&pair);
    let sent = pair.b.transmits().len();
    assert!(send_to_b(&mut pair, request).is_empty(), "replay ignored");
    assert_eq!(counter(&pair.b, ErrorCounter::SyncStale), 2);
    assert_eq!(b_counters(&pair), before);
    assert_eq!(pair.b.transmits().len(), sent);
}

#[test]
fn sync_when_not_negotiated_is_dropped() {
    let mut b = config_b();
    b.connections[0].rfc6311 = false;
    let mut pair = Pair::new(config_a(), b, 61);
    pair.connect("gw");
    let before = b_counters(&pair);
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let answers = forge_to_b(
        &mut pair,
        &header,
        &[mid_sync([5; 4], before.1 + 1, before.0), replay_sync(100)],
    );
    assert!(answers.is_empty());
    assert_eq!(counter(&pair.b, ErrorCounter::SyncNotNegotiated), 1);
    assert_eq!(b_counters(&pair), before);
    assert!(
        !pair
            .b
            .commands()
            .iter()
            .any(|c| matches!(c, SaCommand::SkipSequence { .. }))
    );
}

#[test]
fn message_id_zero_informational_with_any_other_payload_is_rejected() {
    let mut pair = pair();
    pair.connect("gw");
    let before = b_counters(&pair);
    let children = pair.b.children(pair.b.established());
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let sync = mid_sync([6; 4], before.1 + 1, before.0);
    let delete = Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spis: vec![children[0].2.0],
    });
    let others = [
        delete,
        notify(NotifyType::INITIAL_CONTACT, Vec::new()),
        Payload::Delete(DeletePayload {
            protocol: ProtocolId::IKE,
            spis: Vec::new(),
        }),
    ];
    for other in others {
        let answers = forge_to_b(&mut pair, &header, &[sync.clone(), other]);
        assert!(answers.is_empty());
    }
    assert_eq!(counter(&pair.b, ErrorCounter::SyncMalformed), 3);
    assert_eq!(b_counters(&pair), before);
    assert_eq!(pair.b.children(pair.b.established()), children);
}

#[test]
fn bad_sync_input_is_rejected_counted_and_changes_nothing() {
    let mut pair = pair();
    pair.connect("gw");
    pair.advance(Duration::from_secs(60));
    let before = b_counters(&pair);
    let (p, m) = before;
    let s = snapshot(&pair);
    let zero = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let raw = |data: Vec<u8>| notify(NotifyType::IKEV2_MESSAGE_ID_SYNC, data);
    let good = mid_sync([7; 4], m + 1, p);
    let cases: Vec<(&str, Vec<Payload>, ErrorCounter)> = vec![
        ("short", vec![raw(vec![0; 11])], ErrorCounter::SyncMalformed),
        ("long", vec![raw(vec![0; 13])], ErrorCounter::SyncMalformed),
        ("empty", vec![raw(Vec::new())], ErrorCounter::SyncMalformed),
        (
            "twice",
            vec![good.clone(), good.clone()],
            ErrorCounter::SyncMalformed,
        ),
        (
            "replay counter alone",
            vec![replay_sync(5)],
            ErrorCounter::SyncMalformed,
        ),
        (
            "short delta",
            vec![
                good.clone(),
                notify(NotifyType::IPSEC_REPLAY_COUNTER_SYNC, vec![0; 4]),
            ],
            ErrorCounter::SyncMalformed,
        ),
        (
            "long delta",
            vec![
                good.clone(),
                notify(NotifyType::IPSEC_REPLAY_COUNTER_SYNC, vec![0; 9]),
            ],
            ErrorCounter::SyncMalformed,
        ),
        (
            "with an SPI",
            vec![Payload::Notify(NotifyPayload {
                protocol: ProtocolId::ESP,
                spi: vec![1, 2, 3, 4],
                notify_type: NotifyType::IKEV2_MESSAGE_ID_SYNC,
                data: vec![0; 12],
            })],
            ErrorCounter::SyncMalformed,
        ),
        (
            "absurd sender counter",
            vec![mid_sync([7; 4], m + (1 << 21), p)],
            ErrorCounter::SyncOutOfBounds,
        ),
        (
            "absurd receiver counter",
            vec![mid_sync([7; 4], m + 1, u32::MAX)],
            ErrorCounter::SyncOutOfBounds,
        ),
    ];
    for (name, payloads, reason) in cases {
        let was = counter(&pair.b, reason);
        let answers = forge_to_b(&mut pair, &zero, &payloads);
        assert!(answers.is_empty(), "{name}: no answer");
        assert_eq!(counter(&pair.b, reason), was + 1, "{name}: counted");
        assert_eq!(b_counters(&pair), before, "{name}: state unchanged");
    }
    // Unauthenticated: a good sync with a broken tag.
    let mut forged = seal(
        pair.a.endpoint.crypto(),
        &s,
        &zero,
        std::slice::from_ref(&good),
    );
    *forged.last_mut().unwrap() ^= 1;
    let was = counter(&pair.b, ErrorCounter::IntegrityCheckFailed);
    assert!(send_to_b(&mut pair, forged).is_empty());
    assert_eq!(
        counter(&pair.b, ErrorCounter::IntegrityCheckFailed),
        was + 1
    );
    // Sync notifications at a message ID other than 0 are an ordinary INFORMATIONAL: answered,
    // but nothing is synced.
    let normal = header_from_a(&s, ExchangeType::INFORMATIONAL, m);
    let answers = forge_to_b(&mut pair, &normal, &[good.clone(), replay_sync(10)]);
    assert_eq!(answers.len(), 1);
    let (h, payloads) = open(pair.a.endpoint.crypto(), &s, &answers[0]);
    assert_eq!(h.message_id, m);
    assert!(payloads.is_empty());
    assert_eq!(counter(&pair.b, ErrorCounter::SyncMisplaced), 1);
    assert_eq!(b_counters(&pair), (p, m + 1), "only the window moved");
    // And outside INFORMATIONAL.
    let create = header_from_a(&s, ExchangeType::CREATE_CHILD_SA, m + 1);
    let answers = forge_to_b(&mut pair, &create, &[good]);
    assert_eq!(answers.len(), 1, "an error answer");
    assert_eq!(counter(&pair.b, ErrorCounter::SyncMisplaced), 2);
    assert_eq!(b_counters(&pair), (p, m + 2));
    assert!(
        !pair
            .b
            .commands()
            .iter()
            .any(|c| matches!(c, SaCommand::SkipSequence { .. }))
    );
}

#[test]
fn replay_counter_delta_applies_to_every_child_sa_of_the_ike_sa_and_no_other() {
    let (mut a, mut b) = two_children();
    // A second IKE SA between the same gateways (another connection), with one Child SA.
    for (c, local, remote, mine, theirs) in [(&mut a, A_IP, B_IP, 1, 2), (&mut b, B_IP, A_IP, 2, 1)]
    {
        let mut second = connection(local, remote, mine == 1);
        second.name = "gw2".into();
        second.children[0] =
            ChildConfig::tunnel("other", vec![net(10, mine, 7)], vec![net(10, theirs, 7)]);
        second.initial_contact = false;
        c.connections.push(second);
        c.connections[0].initial_contact = false;
    }
    let mut pair = Pair::new(a, b, 62);
    let first = pair.connect("gw");
    pair.a.endpoint.create_child(pair.now, first, "db").unwrap();
    pair.drive();
    let second = pair.connect("gw2");
    pair.drive();
    assert_eq!(pair.b.endpoint.ike_sas().count(), 2);
    let s = pair.a.endpoint.export(pair.now, first).unwrap();
    let b_first = pair
        .b
        .endpoint
        .ike_sas()
        .find(|i| i.spis == s.spis)
        .unwrap();
    let (p, m) = (b_first.next_request, b_first.next_expected);
    let mine: Vec<Spi> = b_first.children.iter().map(|c| c.spi_out).collect();
    assert_eq!(mine.len(), 2);
    let theirs: Vec<Spi> = pair
        .b
        .endpoint
        .ike_sas()
        .find(|i| i.spis != s.spis)
        .unwrap()
        .children
        .iter()
        .map(|c| c.spi_out)
        .collect();
    let _ = second;
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let bytes = seal(
        pair.a.endpoint.crypto(),
        &s,
        &header,
        &[mid_sync([8; 4], m + 1, p), replay_sync(5000)],
    );
    let commands = pair.b.commands().len();
    assert_eq!(send_to_b(&mut pair, bytes).len(), 1);
    let skips: Vec<(Spi, Direction, u64)> = pair.b.commands()[commands..]
        .iter()
        .filter_map(|c| match c {
            SaCommand::SkipSequence {
                spi,
                direction,
                count,
            } => Some((*spi, *direction, *count)),
            _ => None,
        })
        .collect();
    let mut expected: Vec<_> = mine
        .iter()
        .map(|spi| (*spi, Direction::Outbound, 5000))
        .collect();
    expected.sort();
    let mut got = skips.clone();
    got.sort();
    assert_eq!(got, expected);
    assert!(skips.iter().all(|(spi, _, _)| !theirs.contains(spi)));
    // The skip is applied before the answer leaves.
    let log = &pair.b.log;
    let last_skip = log
        .iter()
        .rposition(|(_, o)| matches!(o, hitless_ike::Output::Sa(SaCommand::SkipSequence { .. })))
        .unwrap();
    let answer = log
        .iter()
        .rposition(|(_, o)| matches!(o, hitless_ike::Output::Transmit(_)))
        .unwrap();
    assert!(last_skip < answer);
}

#[test]
fn absurd_replay_delta_rekeys_instead_of_wrapping() {
    let (a, b) = two_children();
    let mut pair = Pair::new(a, b, 63);
    let ike = pair.connect("gw");
    pair.a.endpoint.create_child(pair.now, ike, "db").unwrap();
    pair.drive();
    let (p, m) = b_counters(&pair);
    let s = snapshot(&pair);
    let header = header_from_a(&s, ExchangeType::INFORMATIONAL, 0);
    let commands = pair.b.commands().len();
    let answers = forge_to_b(
        &mut pair,
        &header,
        &[mid_sync([9; 4], m, p), replay_sync(u64::MAX)],
    );
    // The answer, then b's CREATE_CHILD_SA rekeying the first Child SA (one at a time).
    assert_eq!(answers.len(), 2);
    assert!(
        !pair.b.commands()[commands..]
            .iter()
            .any(|c| matches!(c, SaCommand::SkipSequence { .. })),
        "nothing skipped past the sequence space"
    );
    assert_eq!(counter(&pair.b, ErrorCounter::SyncOutOfBounds), 1);
    let (h, _) = ike::parse_message(&answers[1])
        .map(|p| (p.header, ()))
        .unwrap();
    assert_eq!(h.exchange, ExchangeType::CREATE_CHILD_SA);
}

// ---------------------------------------------------------------------------------------------
// Cluster role: takeover with stale message IDs (RFC 6311 §5) and a replay gap (§6).

/// Connects, lets DPD run, takes a snapshot (the last lazy sync), lets more exchanges happen
/// in both directions, and fails `a` over to a standby holding the old snapshot.
fn lazy_takeover(b_rfc6311: bool, seed: u64) -> (Pair, IkeSaSnapshot, Config) {
    let (a_config, mut b_config) = two_children();
    b_config.connections[0].rfc6311 = b_rfc6311;
    let mut pair = Pair::new(a_config.clone(), b_config, seed);
    let ike = pair.connect("gw");
    pair.advance(Duration::from_secs(45));
    let stale = pair.a.endpoint.export(pair.now, ike).unwrap();
    // More exchanges the standby never hears of: DPD both ways, and a Child SA and its delete.
    pair.advance(Duration::from_secs(100));
    pair.a.endpoint.create_child(pair.now, ike, "db").unwrap();
    pair.drive();
    let extra = pair.a.children(ike).last().unwrap().0;
    pair.a.endpoint.terminate_child(pair.now, extra).unwrap();
    pair.drive();
    let fresh = pair.a.endpoint.ike_sa(ike).unwrap();
    assert!(fresh.next_request > stale.window.next_request + 1);
    assert!(fresh.next_expected > stale.window.next_expected);
    (pair, stale, a_config)
}

#[test]
fn takeover_with_lazy_message_ids_syncs_and_carries_on() {
    let (mut pair, stale, config) = lazy_takeover(true, 64);
    let b_established = established_events(&pair.b);
    let b_ike = pair.b.established();
    fail_over(&mut pair, config, stale.clone(), 90);
    pair.now += Duration::from_secs(1);
    pair.a.endpoint.activate_with(pair.now, |_| {
        Some(TakeoverPlan {
            message_id_margin: Some(50),
            ..TakeoverPlan::default()
        })
    });
    pair.drain();
    // The first thing out is the message-ID-0 sync.
    let request = pair.to_b.front().unwrap().payload.clone();
    let (h, payloads) = open(pair.a.endpoint.crypto(), &stale, &request);
    assert_eq!((h.exchange, h.message_id), (ExchangeType::INFORMATIONAL, 0));
    let (_, m1, p1) = sync_data(&payloads);
    assert_eq!(m1, stale.window.next_request + 50);
    assert_eq!(p1, stale.window.next_expected);
    pair.drive();
    let ike = pair.a.established();
    let a_info = pair.a.endpoint.ike_sa(ike).unwrap();
    let (b_next_request, b_next_expected) = b_counters(&pair);
    assert_eq!(a_info.next_request, b_next_expected);
    assert_eq!(a_info.next_expected, b_next_request);
    assert!(pair.a.saw(|e| matches!(e, Event::MessageIdsChanged { .. })));

    // DPD both ways, a new Child SA from the cluster, a delete from the peer, an IKE SA
    // rekey, and the delete: all on the same IKE SA, never re-established.
    pair.advance(Duration::from_secs(200));
    let ike = pair.a.established();
    assert_eq!(pair.b.established(), b_ike);
    pair.a.endpoint.create_child(pair.now, ike, "db").unwrap();
    pair.drive();
    assert_eq!(pair.a.children(ike).len(), 2);
    assert_children_match(&pair);
    let (first, _, _) = pair.b.children(b_ike)[0];
    pair.b.endpoint.terminate_child(pair.now, first).unwrap();
    pair.drive();
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_children_match(&pair);
    pair.b.endpoint.rekey_ike(pair.now, b_ike).unwrap();
    pair.advance(Duration::from_secs(40));
    let ike = pair.a.established();
    let b_ike = pair.b.established();
    assert!(pair.b.saw(|e| matches!(e, Event::IkeSaRekeyed { .. })));
    assert!(
        established_events(&pair.b) <= b_established + 1,
        "never re-established, only rekeyed"
    );
    pair.advance(Duration::from_secs(100));
    pair.a.endpoint.terminate_ike(pair.now, ike).unwrap();
    pair.drive();
    assert!(pair.b.endpoint.ike_sa(b_ike).is_none());
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
}

#[test]
fn the_cluster_retransmits_its_sync_request_and_ignores_foreign_nonces() {
    let (mut pair, stale, config) = lazy_takeover(true, 65);
    fail_over(&mut pair, config, stale.clone(), 91);
    pair.a.endpoint.activate_with(pair.now, |_| {
        Some(TakeoverPlan {
            message_id_margin: Some(20),
            ..TakeoverPlan::default()
        })
    });
    pair.drain();
    let ike = pair.a.endpoint.ike_sas().next().unwrap().id;
    let stale_ids = pair.a.endpoint.ike_sa(ike).unwrap().next_request;
    // The request is lost.
    let request = pair.to_b.pop_front().unwrap();
    // A delayed answer to an earlier sync (another nonce) arrives: ignored, still waiting.
    let (h, payloads) = open(pair.a.endpoint.crypto(), &stale, &request.payload);
    let (nonce, m1, p1) = sync_data(&payloads);
    let answer = Header {
        flags: Flags {
            initiator: false,
            version: false,
            response: true,
        },
        ..h
    };
    let bytes = seal(
        pair.b.endpoint.crypto(),
        &stale,
        &answer,
        &[mid_sync([!nonce[0], 0, 0, 0], p1 + 1, m1)],
    );
    let wire = Wire {
        from: SocketAddr::from((B_IP, 500)),
        to: SocketAddr::from((A_IP, 500)),
        payload: bytes.clone(),
        transmit: Transmit {
            local: None,
            remote: SocketAddr::from((A_IP, 500)),
            non_esp_marker: false,
            keepalive: false,
            payload: bytes,
        },
    };
    pair.inject_a(&wire);
    assert_eq!(counter(&pair.a, ErrorCounter::SyncNonceMismatch), 1);
    assert_eq!(pair.a.endpoint.ike_sa(ike).unwrap().next_request, stale_ids);
    // So is an answer with counters below what we sent (RFC 6311 §5.1: M2 >= M1).
    let bytes = seal(
        pair.b.endpoint.crypto(),
        &stale,
        &answer,
        &[mid_sync(nonce, p1, m1 - 1)],
    );
    let mut low = wire.clone();
    low.payload = bytes;
    pair.inject_a(&low);
    assert_eq!(counter(&pair.a, ErrorCounter::SyncOutOfBounds), 1);
    assert_eq!(pair.a.endpoint.ike_sa(ike).unwrap().next_request, stale_ids);
    // The window retransmits the same request; its answer completes the sync.
    pair.advance(Duration::from_secs(5));
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.counters.retransmits, 1);
    assert_eq!(info.next_request, b_counters(&pair).1);
    assert_eq!(info.next_expected, b_counters(&pair).0);
    // The answer seen again later matches nothing.
    let was = counter(&pair.a, ErrorCounter::UnmatchedResponse);
    pair.inject_a(&wire);
    assert_eq!(counter(&pair.a, ErrorCounter::UnmatchedResponse), was + 1);
}

#[test]
fn the_peer_resends_its_request_in_flight_under_the_synced_id() {
    let (mut pair, stale, config) = lazy_takeover(true, 66);
    let b_ike = pair.b.established();
    // b starts a liveness check that the old node never answers (it died).
    let b_sa = pair.b.endpoint.ike_sa(b_ike).unwrap();
    let in_flight = b_sa.next_request;
    pair.b
        .endpoint
        .terminate_child(pair.now, b_sa.children[0].id)
        .unwrap();
    pair.drain();
    pair.to_a.clear();
    fail_over(&mut pair, config, stale, 92);
    pair.a.endpoint.activate_with(pair.now, |_| {
        Some(TakeoverPlan {
            message_id_margin: Some(50),
            ..TakeoverPlan::default()
        })
    });
    pair.drive();
    // b answered the sync with P2 past its request in flight and sent that request again
    // under P2; the new active answered it.
    let ike = pair.a.established();
    assert!(pair.a.children(ike).is_empty(), "b's delete went through");
    assert!(pair.b.children(b_ike).is_empty());
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
    let (b_next_request, _) = b_counters(&pair);
    assert_eq!(b_next_request, in_flight + 2);
    assert_eq!(
        pair.a.endpoint.ike_sa(ike).unwrap().next_expected,
        b_next_request
    );
    pair.advance(Duration::from_secs(200));
    pair.a.established();
    assert_eq!(pair.b.established(), b_ike);
}

/// The outbound and inbound sequence numbers installed on `node`'s backend for `spi`, as
/// `(initial, advanced, skipped)`.
fn sequence_commands(node: &Node, spi: Spi, direction: Direction) -> (u64, u64, u64) {
    let mut initial = 0;
    let mut advanced = 0;
    let mut skipped = 0;
    for command in node.commands() {
        match command {
            SaCommand::AddSa(spec) if spec.spi == spi && spec.direction == direction => {
                initial = spec.initial_sequence;
            }
            SaCommand::AdvanceSequence {
                spi: s,
                direction: d,
                sequence,
            } if s == spi && d == direction => advanced = advanced.max(sequence),
            SaCommand::SkipSequence {
                spi: s,
                direction: d,
                count,
            } if s == spi && d == direction => skipped += count,
            _ => {}
        }
    }
    (initial, advanced, skipped)
}

#[test]
fn takeover_closes_the_replay_gap_with_the_peer() {
    let (mut pair, mut stale, config) = lazy_takeover(true, 67);
    // The HA layer's checkpoints: the old node had accepted up to 1000 on each inbound SA
    // when it last reported, and may have accepted up to 4000 more.
    for child in &mut stale.children {
        child.inbound_sequence = 1000;
        child.outbound_sequence = 9000;
    }
    fail_over(&mut pair, config, stale.clone(), 93);
    pair.a.endpoint.activate_with(pair.now, |_| {
        Some(TakeoverPlan {
            message_id_margin: Some(50),
            replay_margin: 4000,
            replay_fallback: ReplayFallback::RekeyChildren,
        })
    });
    pair.drain();
    let (_, payloads) = open(
        pair.a.endpoint.crypto(),
        &stale,
        &pair.to_b.front().unwrap().payload,
    );
    assert!(payloads.contains(&replay_sync(4000)));
    pair.drive();
    for child in &stale.children {
        // The new active starts its inbound window past what the old node may have accepted.
        assert_eq!(
            sequence_commands(&pair.a, child.spi_in, Direction::Inbound),
            (5000, 5000, 0)
        );
        assert_eq!(
            sequence_commands(&pair.a, child.spi_out, Direction::Outbound).0,
            9000
        );
        // The peer skips as many on its outbound SA (our inbound).
        assert_eq!(
            sequence_commands(&pair.b, child.spi_in, Direction::Outbound).2,
            4000
        );
    }
    // No fallback rekey: the peer closed the gap.
    assert!(!pair.a.saw(|e| matches!(e, Event::ChildSaRekeyed { .. })));
}

#[test]
fn takeover_without_peer_support_falls_back() {
    for fallback in [
        ReplayFallback::AcceptExposure,
        ReplayFallback::RekeyChildren,
    ] {
        let (mut pair, stale, config) = lazy_takeover(false, 68);
        // Without RFC 6311 the HA layer syncs message IDs per exchange: the snapshot is exact.
        let ike = pair.a.established();
        let exact = pair.a.endpoint.export(pair.now, ike).unwrap();
        let _ = stale;
        let b_ike = pair.b.established();
        fail_over(&mut pair, config, exact.clone(), 94);
        pair.a.endpoint.activate_with(pair.now, |_| {
            Some(TakeoverPlan {
                message_id_margin: Some(50),
                replay_margin: 4000,
                replay_fallback: fallback,
            })
        });
        pair.drain();
        // No sync request: a liveness check at the exact next message ID.
        let (h, payloads) = open(
            pair.a.endpoint.crypto(),
            &exact,
            &pair.to_b.front().unwrap().payload,
        );
        assert_eq!(h.message_id, exact.window.next_request);
        assert!(payloads.is_empty());
        pair.advance(Duration::from_secs(30));
        let rekeyed = pair.a.saw(|e| matches!(e, Event::ChildSaRekeyed { .. }));
        assert_eq!(
            rekeyed,
            fallback == ReplayFallback::RekeyChildren,
            "{fallback:?}"
        );
        for child in &exact.children {
            assert_eq!(
                sequence_commands(&pair.a, child.spi_in, Direction::Inbound),
                (0, 0, 0)
            );
        }
        pair.advance(Duration::from_secs(200));
        pair.a.established();
        assert_eq!(pair.b.established(), b_ike);
        assert_children_match(&pair);
    }
}

/// A model of ESP sequence numbers on both sides of one Child SA pair direction: what the
/// sender hands out and what the receiver's replay window accepts.
#[test]
fn replay_windows_never_accept_a_packet_twice_across_the_takeover() {
    let (mut pair, mut stale, config) = lazy_takeover(true, 69);
    let child = stale.children[0].clone();
    // Before the failure: b sent 1..=3000 to the old node, which accepted them all but
    // reported only up to 1000; the old node sent 1..=7000 to b, reported up to 6000.
    let b_sent_before: Vec<u64> = (1..=3000).collect();
    stale.children[0].inbound_sequence = 1000;
    // The HA layer's outbound bound: checkpoint + N + R × (age + D) + margin.
    stale.children[0].outbound_sequence = 6000 + 2000;
    fail_over(&mut pair, config, stale, 95);
    pair.a.endpoint.activate_with(pair.now, |_| {
        Some(TakeoverPlan {
            message_id_margin: Some(50),
            replay_margin: 2500,
            replay_fallback: ReplayFallback::AcceptExposure,
        })
    });
    pair.drive();
    // a → b: the new active's first number is above anything the old node used, so b's window
    // (which saw 1..=7000) accepts each new packet once.
    let (a_out, _, _) = sequence_commands(&pair.a, child.spi_out, Direction::Outbound);
    assert!(a_out + 1 > 7000);
    // b → a: the new active rejects everything at or below its lower edge; b's next numbers
    // start after its skip.
    let (_, edge, _) = sequence_commands(&pair.a, child.spi_in, Direction::Inbound);
    let (_, _, skip) = sequence_commands(&pair.b, child.spi_in, Direction::Outbound);
    let replays_accepted = b_sent_before.iter().filter(|seq| **seq > edge).count();
    assert_eq!(
        replays_accepted, 0,
        "an old packet replayed into the new active"
    );
    let b_next = 3000 + skip + 1;
    assert!(b_next > edge, "b's new packets are accepted");
}
