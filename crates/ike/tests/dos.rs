//! The responder under load: COOKIE demands (RFC 7296 §2.6) and half-open limits (RFC 8019
//! §4). Spoofed requests are copies of one real IKE_SA_INIT request with other initiator SPIs
//! and source addresses, handed straight to the responder (its answers to strangers bypass the
//! pair's wire).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::net::IpAddr;
use std::net::SocketAddr;
use std::time::Duration;

use hitless_ike::Config;
use hitless_ike::Datagram;
use hitless_ike::ErrorCounter;
use hitless_ike::IkeSaState;
use hitless_ike::Output;
use hitless_ike::config::HalfOpenConfig;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::ProtocolId;
use support::*;

/// b accepts any peer, with these half-open limits.
fn responder(limits: HalfOpenConfig) -> Config {
    let mut b = config_b();
    b.connections[0].remote_addrs.clear();
    b.half_open = limits;
    b
}

/// A pair whose responder demands cookies always.
fn cookie_pair() -> Pair {
    let limits = HalfOpenConfig {
        cookie_threshold: 0,
        ..HalfOpenConfig::default()
    };
    Pair::new(config_a(), responder(limits), 11)
}

/// What the responder sent back to one datagram.
struct Answer {
    transmits: Vec<Vec<u8>>,
}

impl Answer {
    /// The COOKIE of a stateless cookie demand, if that is what the answer was.
    fn cookie(&self) -> Option<Vec<u8>> {
        let [only] = self.transmits.as_slice() else {
            return None;
        };
        let parsed = hitless_wire::ike::parse_message(only).unwrap();
        assert_eq!(parsed.header.spi_r, 0, "a cookie demand keeps no state");
        match parsed.payloads.as_slice() {
            [Payload::Notify(n)] if n.notify_type == NotifyType::COOKIE => Some(n.data.clone()),
            _ => None,
        }
    }

    /// Whether it was an IKE_SA_INIT response with a responder SPI (state was created).
    fn accepted(&self) -> bool {
        self.transmits.iter().any(|t| {
            let parsed = hitless_wire::ike::parse_message(t).unwrap();
            parsed.header.spi_r != 0
        })
    }
}

/// Hands `payload` from `from` to b and collects what b transmits (to anyone).
fn to_b(pair: &mut Pair, from: SocketAddr, payload: &[u8]) -> Answer {
    let local = SocketAddr::new(pair.b.ip, 500);
    let datagram = Datagram {
        local,
        remote: from,
        payload,
    };
    pair.b.endpoint.handle_datagram(pair.now, datagram);
    let mut transmits = Vec::new();
    while let Some(output) = pair.b.endpoint.poll_output() {
        if let Output::Transmit(t) = output {
            assert_eq!(t.remote, from, "answers go back to the sender");
            transmits.push(t.payload);
        }
    }
    Answer { transmits }
}

/// a's first IKE_SA_INIT request (without cookie), taken off the wire.
fn captured_request(pair: &mut Pair) -> Vec<u8> {
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    pair.to_b.pop_front().unwrap().payload
}

/// `request` with initiator SPI `spi_i` and, if given, a COOKIE as its first payload.
fn variant(request: &[u8], spi_i: u64, cookie: Option<&[u8]>) -> Vec<u8> {
    let parsed = hitless_wire::ike::parse_message(request).unwrap();
    let mut payloads: Vec<Payload> = parsed
        .payloads
        .into_iter()
        .filter(|p| !matches!(p, Payload::Notify(n) if n.notify_type == NotifyType::COOKIE))
        .collect();
    if let Some(cookie) = cookie {
        payloads.insert(
            0,
            Payload::Notify(NotifyPayload {
                protocol: ProtocolId::NONE,
                spi: Vec::new(),
                notify_type: NotifyType::COOKIE,
                data: cookie.to_vec(),
            }),
        );
    }
    let header = hitless_wire::ike::Header {
        spi_i,
        ..parsed.header
    };
    hitless_wire::ike::emit_message(&header, &payloads)
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::from([192, 0, 2, last]), 500)
}

fn half_open(pair: &Pair) -> usize {
    pair.b
        .endpoint
        .ike_sas()
        .filter(|sa| sa.state == IkeSaState::Connecting)
        .count()
}

#[test]
fn cookie_flow_end_to_end() {
    let mut pair = cookie_pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    // The first request gets a cookie demand and leaves no state behind.
    pair.deliver_to_b();
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::CookieRequired),
        1
    );
    let demand = pair.to_a.front().unwrap().payload.clone();
    let answer = Answer {
        transmits: vec![demand],
    };
    let cookie = answer.cookie().expect("a cookie demand");
    assert_eq!(cookie.len(), 36);
    // The initiator retries at once with the cookie first, and the handshake completes.
    pair.drive();
    pair.a.established();
    pair.b.established();
    assert_children_match(&pair);
    let retry = pair.a.transmits().into_iter().nth(1).map(|t| {
        hitless_wire::ike::parse_message(&t.payload)
            .unwrap()
            .payloads[0]
            .clone()
    });
    assert!(matches!(retry, Some(Payload::Notify(n)) if n.data == cookie));
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::CookieRequired),
        1
    );
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::CookieInvalid),
        0
    );
}

#[test]
fn forged_stale_and_replayed_cookies_are_rejected() {
    let mut pair = cookie_pair();
    let request = captured_request(&mut pair);
    let spi_i = hitless_wire::ike::parse_header(&request).unwrap().spi_i;
    let a = SocketAddr::new(pair.a.ip, 500);
    let cookie = to_b(&mut pair, a, &request).cookie().unwrap();
    let counter = |pair: &Pair, c| pair.b.endpoint.counters().get(c);

    // Forged: one bit changed. Answered with a fresh cookie, nothing kept.
    let mut forged = cookie.clone();
    forged[20] ^= 0x40;
    let answer = to_b(&mut pair, a, &variant(&request, spi_i, Some(&forged)));
    assert_eq!(answer.cookie().as_deref(), Some(&cookie[..]));
    assert_eq!(counter(&pair, ErrorCounter::CookieInvalid), 1);
    // Invented from nothing, of the wrong length.
    let answer = to_b(&mut pair, a, &variant(&request, spi_i, Some(&[1, 2, 3])));
    assert!(answer.cookie().is_some());
    assert_eq!(counter(&pair, ErrorCounter::CookieInvalid), 2);
    // Another initiator SPI with the same cookie.
    let answer = to_b(&mut pair, a, &variant(&request, spi_i ^ 1, Some(&cookie)));
    assert!(answer.cookie().is_some());
    assert_eq!(counter(&pair, ErrorCounter::CookieInvalid), 3);
    // Replayed from another address.
    let elsewhere = SocketAddr::new(IpAddr::from([203, 0, 113, 99]), 500);
    let answer = to_b(
        &mut pair,
        elsewhere,
        &variant(&request, spi_i, Some(&cookie)),
    );
    assert!(answer.cookie().is_some());
    assert_eq!(counter(&pair, ErrorCounter::CookieInvalid), 4);
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);

    // Stale: after two secret rotations the cookie names a forgotten secret.
    let later = pair.now + Duration::from_secs(200);
    let saved = pair.now;
    pair.now = later;
    let answer = to_b(&mut pair, a, &variant(&request, spi_i, Some(&cookie)));
    assert!(answer.cookie().is_some());
    assert_eq!(counter(&pair, ErrorCounter::CookieExpired), 1);
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);

    // Within the grace period after one rotation, the cookie is still good.
    pair.now = saved + Duration::from_secs(65);
    let mut pair_b = cookie_pair();
    let request_b = captured_request(&mut pair_b);
    let spi_b = hitless_wire::ike::parse_header(&request_b).unwrap().spi_i;
    let cookie_b = to_b(&mut pair_b, a, &request_b).cookie().unwrap();
    pair_b.now += Duration::from_secs(65);
    let answer = to_b(&mut pair_b, a, &variant(&request_b, spi_b, Some(&cookie_b)));
    assert!(
        answer.accepted(),
        "a cookie from the previous secret within the grace period"
    );

    // The genuine cookie, from the genuine address, right away: accepted.
    let mut pair = cookie_pair();
    let request = captured_request(&mut pair);
    let cookie = to_b(&mut pair, a, &request).cookie().unwrap();
    let answer = to_b(
        &mut pair,
        a,
        &variant(&request, spi_i_of(&request), Some(&cookie)),
    );
    assert!(answer.accepted());
    assert_eq!(half_open(&pair), 1);
    assert_eq!(counter(&pair, ErrorCounter::CookieInvalid), 0);
}

fn spi_i_of(request: &[u8]) -> u64 {
    hitless_wire::ike::parse_header(request).unwrap().spi_i
}

#[test]
fn cookies_are_demanded_from_the_threshold_on() {
    let limits = HalfOpenConfig {
        cookie_threshold: 3,
        ..HalfOpenConfig::default()
    };
    let mut pair = Pair::new(config_a(), responder(limits), 12);
    let request = captured_request(&mut pair);
    for i in 0..3 {
        let answer = to_b(
            &mut pair,
            addr(10 + i),
            &variant(&request, 100 + u64::from(i), None),
        );
        assert!(answer.accepted(), "request {i} is below the threshold");
    }
    assert_eq!(half_open(&pair), 3);
    let answer = to_b(&mut pair, addr(20), &variant(&request, 200, None));
    let cookie = answer
        .cookie()
        .expect("at the threshold a cookie is demanded");
    assert_eq!(half_open(&pair), 3);
    let answer = to_b(&mut pair, addr(20), &variant(&request, 200, Some(&cookie)));
    assert!(answer.accepted());
    assert_eq!(half_open(&pair), 4);
    // When the half-open SAs time out, cookies are no longer needed.
    pair.b_silent = true;
    pair.a_silent = true;
    pair.advance(Duration::from_secs(31));
    assert_eq!(half_open(&pair), 0);
    let answer = to_b(&mut pair, addr(21), &variant(&request, 300, None));
    assert!(answer.accepted());
}

#[test]
fn half_open_sas_are_limited_per_source() {
    let limits = HalfOpenConfig {
        cookie_threshold: 100,
        max_per_source: 3,
        ..HalfOpenConfig::default()
    };
    let mut pair = Pair::new(config_a(), responder(limits), 13);
    let request = captured_request(&mut pair);
    let victim = addr(50);
    // A spoofer uses up the victim's share without cookies.
    for spi in 1..=3 {
        assert!(to_b(&mut pair, victim, &variant(&request, spi, None)).accepted());
    }
    // From then on the address must prove itself with a cookie.
    let answer = to_b(&mut pair, victim, &variant(&request, 10, None));
    assert!(answer.cookie().is_some());
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::CookieRequired),
        1
    );
    // The real owner of the address can: up to the limit of proven SAs.
    for spi in 10..13 {
        let cookie = to_b(&mut pair, victim, &variant(&request, spi, None))
            .cookie()
            .unwrap();
        let answer = to_b(&mut pair, victim, &variant(&request, spi, Some(&cookie)));
        assert!(answer.accepted(), "proven request {spi}");
    }
    assert_eq!(half_open(&pair), 6);
    let cookie = to_b(&mut pair, victim, &variant(&request, 13, None))
        .cookie()
        .unwrap();
    let answer = to_b(&mut pair, victim, &variant(&request, 13, Some(&cookie)));
    assert!(answer.transmits.is_empty(), "dropped without an answer");
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::HalfOpenPerSource),
        1
    );
    // Other addresses are not affected.
    assert!(to_b(&mut pair, addr(51), &variant(&request, 20, None)).accepted());
    assert_eq!(half_open(&pair), 7);
}

#[test]
fn half_open_sas_are_limited_in_total() {
    let limits = HalfOpenConfig {
        cookie_threshold: 4,
        max_total: 4,
        ..HalfOpenConfig::default()
    };
    let mut pair = Pair::new(config_a(), responder(limits), 14);
    let request = captured_request(&mut pair);
    for i in 0..4u8 {
        assert!(
            to_b(
                &mut pair,
                addr(60 + i),
                &variant(&request, u64::from(i) + 1, None)
            )
            .accepted()
        );
    }
    let cookie = to_b(&mut pair, addr(70), &variant(&request, 70, None))
        .cookie()
        .unwrap();
    let answer = to_b(&mut pair, addr(70), &variant(&request, 70, Some(&cookie)));
    assert!(answer.transmits.is_empty());
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::HalfOpenLimit),
        1
    );
    assert_eq!(half_open(&pair), 4);
}

#[test]
fn established_sas_no_longer_count_as_half_open() {
    let limits = HalfOpenConfig {
        cookie_threshold: 1,
        ..HalfOpenConfig::default()
    };
    let mut pair = Pair::new(config_a(), responder(limits), 15);
    pair.connect("gw");
    pair.b.established();
    // The established SA does not count: the next request needs no cookie.
    let mut other = Pair::new(config_a(), config_b(), 16);
    let request = captured_request(&mut other);
    assert!(to_b(&mut pair, addr(80), &variant(&request, 5, None)).accepted());
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::CookieRequired),
        0
    );
}
