//! AEAD seal and open on 64- and 1400-byte packets, through the provider's trait objects
//! (`Box<dyn AeadKey>`, the path the ESP data plane takes) and through aws-lc-rs directly
//! (`LessSafeKey`), in the same run, for AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
//!
//! `cargo bench -p hitless-crypto-awslc --bench aead` runs criterion's measurements and then
//! prints a ratio table: provider time / aws-lc-rs time, measured by interleaving the two in
//! short alternating batches so that machine noise hits both alike (see [`interleaved`]).
//! Target: < 1.05 at 1400 bytes.
//!
//! "open" restores the sealed packet before each call (the decryption is in place); both
//! sides pay that copy, in the table and in criterion (where it is done in untimed setup).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::Duration;
use std::time::Instant;

use aws_lc_rs::aead::Aad;
use aws_lc_rs::aead::LessSafeKey;
use aws_lc_rs::aead::Nonce;
use aws_lc_rs::aead::UnboundKey;
use criterion::BatchSize;
use criterion::Criterion;
use hitless_crypto::AeadKey;
use hitless_wire::registry::EncrId;

const SIZES: [usize; 2] = [64, 1400];
/// Batches per variant in the ratio table.
const ROUNDS: usize = 3001;
const SALT: [u8; 4] = [0xa0, 0xa1, 0xa2, 0xa3];
const IV: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
/// SPI and 32-bit sequence number, as ESP authenticates them.
const AAD: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0, 0, 0, 5];

struct Case {
    name: &'static str,
    provider: Box<dyn AeadKey>,
    raw: LessSafeKey,
}

fn cases() -> Vec<Case> {
    let provider = hitless_crypto_awslc::provider();
    [
        (
            "AES-128-GCM",
            EncrId::AES_GCM_16,
            Some(128),
            &aws_lc_rs::aead::AES_128_GCM,
        ),
        (
            "AES-256-GCM",
            EncrId::AES_GCM_16,
            Some(256),
            &aws_lc_rs::aead::AES_256_GCM,
        ),
        (
            "ChaCha20-Poly1305",
            EncrId::CHACHA20_POLY1305,
            None,
            &aws_lc_rs::aead::CHACHA20_POLY1305,
        ),
    ]
    .into_iter()
    .map(|(name, id, key_length, algorithm)| {
        let key: Vec<u8> = (1..=algorithm.key_len())
            .map(|i| u8::try_from(i).unwrap())
            .collect();
        let keymat = [&key[..], &SALT].concat();
        Case {
            name,
            provider: provider
                .aead(id, key_length)
                .unwrap()
                .new_key(&keymat)
                .unwrap(),
            raw: LessSafeKey::new(UnboundKey::new(algorithm, &key).unwrap()),
        }
    })
    .collect()
}

fn raw_nonce() -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&SALT);
    nonce[4..].copy_from_slice(&IV);
    Nonce::assume_unique_for_key(nonce)
}

fn seal_provider(case: &Case, packet: &mut [u8], tag: &mut [u8; 16]) {
    case.provider.seal_in_place(&IV, &AAD, packet, tag).unwrap();
}

fn seal_raw(case: &Case, packet: &mut [u8], tag: &mut [u8; 16]) {
    let computed = case
        .raw
        .seal_in_place_separate_tag(raw_nonce(), Aad::from(&AAD), packet)
        .unwrap();
    tag.copy_from_slice(computed.as_ref());
}

fn open_provider(case: &Case, packet: &mut [u8], tag: &[u8; 16]) {
    case.provider.open_in_place(&IV, &AAD, packet, tag).unwrap();
}

fn open_raw(case: &Case, packet: &mut [u8], tag: &[u8; 16]) {
    case.raw
        .open_in_place_separate_tag(raw_nonce(), Aad::from(&AAD), tag, packet)
        .unwrap();
}

/// A sealed packet of `len` bytes and its tag.
fn sealed(case: &Case, len: usize) -> (Vec<u8>, [u8; 16]) {
    let mut packet = vec![0x5a; len];
    let mut tag = [0; 16];
    seal_raw(case, &mut packet, &mut tag);
    (packet, tag)
}

fn criterion_benches(c: &mut Criterion) {
    for case in &cases() {
        for len in SIZES {
            let mut group = c.benchmark_group(format!("{}/{len}", case.name));
            group.throughput(criterion::Throughput::Bytes(len as u64));
            let mut packet = vec![0x5a; len];
            let mut tag = [0u8; 16];
            group.bench_function("seal/provider", |b| {
                b.iter(|| seal_provider(case, black_box(&mut packet), &mut tag))
            });
            group.bench_function("seal/aws-lc-rs", |b| {
                b.iter(|| seal_raw(case, black_box(&mut packet), &mut tag))
            });
            let (ciphertext, tag) = sealed(case, len);
            group.bench_function("open/provider", |b| {
                b.iter_batched_ref(
                    || ciphertext.clone(),
                    |packet| open_provider(case, black_box(packet), &tag),
                    BatchSize::SmallInput,
                )
            });
            group.bench_function("open/aws-lc-rs", |b| {
                b.iter_batched_ref(
                    || ciphertext.clone(),
                    |packet| open_raw(case, black_box(packet), &tag),
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

/// Nanoseconds per call of `a` and of `b`: many short batches (tens of microseconds, well
/// inside one scheduler time slice), the two variants alternating batch by batch and taking
/// turns to go first, summarised by the 5th percentile of each. On a shared, loaded machine the
/// low percentile is the time of batches nothing interrupted, which is what is being compared.
fn interleaved(
    rounds: usize,
    iterations: u32,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (f64, f64) {
    let time = |op: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..iterations {
            op();
        }
        start.elapsed().as_nanos() as f64 / f64::from(iterations)
    };
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        if round % 2 == 0 {
            ta.push(time(&mut a));
            tb.push(time(&mut b));
        } else {
            tb.push(time(&mut b));
            ta.push(time(&mut a));
        }
    }
    let low = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 20]
    };
    (low(&mut ta), low(&mut tb))
}

fn ratio_table() {
    println!();
    println!(
        "provider (Box<dyn AeadKey>) vs aws-lc-rs (LessSafeKey): interleaved batches, 5th percentile"
    );
    println!(
        "{:<20} {:>5} {:>5} {:>12} {:>12} {:>7}",
        "algorithm", "op", "bytes", "provider ns", "aws-lc ns", "ratio"
    );
    for case in &cases() {
        for len in SIZES {
            let iterations = if len > 1000 { 32 } else { 256 };
            let mut packet = vec![0x5a; len];
            let mut tag = [0u8; 16];
            let mut packet2 = packet.clone();
            let mut tag2 = tag;
            let (provider, raw) = interleaved(
                ROUNDS,
                iterations,
                || seal_provider(case, black_box(&mut packet), &mut tag),
                || seal_raw(case, black_box(&mut packet2), &mut tag2),
            );
            print_row(case.name, "seal", len, provider, raw);

            let (ciphertext, tag) = sealed(case, len);
            let mut work = ciphertext.clone();
            let mut work2 = ciphertext.clone();
            let (provider, raw) = interleaved(
                ROUNDS,
                iterations,
                || {
                    work.copy_from_slice(&ciphertext);
                    open_provider(case, black_box(&mut work), &tag)
                },
                || {
                    work2.copy_from_slice(&ciphertext);
                    open_raw(case, black_box(&mut work2), &tag)
                },
            );
            print_row(case.name, "open", len, provider, raw);
        }
    }
}

fn print_row(name: &str, op: &str, len: usize, provider: f64, raw: f64) {
    println!(
        "{name:<20} {op:>5} {len:>5} {provider:>12.1} {raw:>12.1} {:>7.3}",
        provider / raw
    );
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once and must
    // stay quick, so the ratio table only runs under `cargo bench`.
    if std::env::args().any(|arg| arg == "--bench") {
        ratio_table();
    }
}
