//! The initiator answers a responder's cookie demand (RFC 7296 §2.6): a scripted message
//! replaces the responder's first answer, and the retry carries the cookie first.

use std::time::Duration;

use hitless_sim::scenario::Gateways;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;

#[test]
fn initiator_answers_a_cookie_demand() {
    let mut gw = Gateways::new(2);
    let (a, b) = (gw.a, gw.b);
    gw.sim.hold(a, b);
    gw.sim.initiate(a, "gw").unwrap();
    let first = gw.sim.drop_next(b).unwrap();
    let request = hitless_wire::ike::parse_message(&first.payload).unwrap();

    // The scripted responder demands a cookie.
    let cookie = vec![0xc0, 0x0c, 0x1e, 0x5e, 1, 2, 3, 4];
    let header = Header {
        spi_r: 0,
        next_payload: PayloadType::NONE,
        flags: Flags {
            initiator: false,
            version: false,
            response: true,
        },
        length: 0,
        ..request.header
    };
    let demand = hitless_wire::ike::emit_message(
        &header,
        &[Payload::Notify(NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: Vec::new(),
            notify_type: NotifyType::COOKIE,
            data: cookie.clone(),
        })],
    );
    gw.sim.inject(b, first.dst, first.src, demand);
    gw.sim
        .run_until(Duration::from_secs(1), |sim| sim.peek_next(b).is_some())
        .unwrap();

    let retry = gw.sim.peek_next(b).unwrap();
    let retried = hitless_wire::ike::parse_message(&retry.payload).unwrap();
    assert_eq!(retried.header.spi_i, request.header.spi_i);
    assert_eq!(retried.header.message_id, 0);
    let Payload::Notify(first_payload) = &retried.payloads[0] else {
        panic!(
            "the cookie is not the first payload: {:?}",
            retried.payloads[0]
        );
    };
    assert_eq!(first_payload.notify_type, NotifyType::COOKIE);
    assert_eq!(first_payload.data, cookie);
    assert_eq!(&retried.payloads[1..], &request.payloads[..]);

    // The real responder does not demand cookies and ignores this one: establishment completes.
    gw.sim.release(a, b);
    gw.sim
        .run_until(Duration::from_secs(5), |sim| {
            hitless_sim::scenario::established_pair(sim, a, b).is_ok()
        })
        .unwrap();
    insta::assert_snapshot!(gw.sim.transcript().messages());
}
