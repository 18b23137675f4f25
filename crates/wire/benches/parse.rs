//! Parsing a typical IKE_AUTH exchange, from bytes strongSwan 5.9.8 sent (`testdata/strongswan`):
//!
//! - `inner_chain`: the decrypted SK plaintext of an IKE_AUTH request (IDi N(INITIAL_CONTACT) IDr
//!   AUTH SA TSi TSr and five notifies, 282 bytes) through `parse_payload_chain`;
//! - `outer_message`: the encrypted IKE_AUTH request (339 bytes) through `parse_message`, which
//!   checks the header and frames the SK payload;
//! - `ike_sa_init`: the plaintext IKE_SA_INIT request (two proposals, KE, nonce, notifies);
//! - anchors in the same run, since these machines are noisy: walking the same inner chain with
//!   the views only (no allocation), and copying its bytes into a new `Vec`.
//!
//! `cargo bench -p hitless-wire --bench parse`

// Benchmark setup: the inputs are committed captures that are known to parse.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::Criterion;
use criterion::Throughput;
use criterion::criterion_group;
use criterion::criterion_main;
use hitless_wire::esp;
use hitless_wire::ike;
use hitless_wire::ike::PayloadPacket;
use hitless_wire::registry::PayloadType;

static INNER: &[u8] = include_bytes!("../testdata/strongswan/inner/plain-a-00-35.bin");
static OUTER: &[u8] = include_bytes!("../testdata/strongswan/plain/02-4500-ab.bin");
static INIT: &[u8] = include_bytes!("../testdata/strongswan/plain/00-500-ab.bin");

fn parse(c: &mut Criterion) {
    let esp::Udp4500::Ike(outer) = esp::classify_udp4500(OUTER) else {
        panic!("the captured IKE_AUTH datagram has no non-ESP marker");
    };
    assert_eq!(
        ike::parse_payload_chain(PayloadType::IDI, INNER)
            .unwrap()
            .len(),
        12
    );
    assert!(ike::parse_message(outer).unwrap().encrypted.is_some());

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));
    group.bench_function("inner_chain", |b| {
        b.iter(|| ike::parse_payload_chain(PayloadType::IDI, black_box(INNER)).unwrap())
    });
    group.bench_function("outer_message", |b| {
        b.iter(|| ike::parse_message(black_box(outer)).unwrap())
    });
    group.bench_function("ike_sa_init", |b| {
        b.iter(|| ike::parse_message(black_box(INIT)).unwrap())
    });
    group.bench_function("anchor_view_walk", |b| {
        b.iter(|| view_walk(PayloadType::IDI, black_box(INNER)))
    });
    group.bench_function("anchor_copy", |b| b.iter(|| black_box(INNER).to_vec()));
    group.finish();
}

/// Walks a payload chain with the generic header view only: the floor under any parser.
fn view_walk(mut next: PayloadType, mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while next != PayloadType::NONE {
        let packet = PayloadPacket::new_checked(bytes).unwrap();
        next = packet.next_payload();
        bytes = &bytes[usize::from(packet.payload_length())..];
        count += 1;
    }
    count
}

criterion_group!(benches, parse);
criterion_main!(benches);
