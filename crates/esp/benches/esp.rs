//! Micro benchmarks of the ESP data plane (issue 6, "Performance"), each against its anchor in
//! the same run:
//!
//! - `seal_<suite>/{hitless,raw}/<size>`: `DataPlane::encapsulate` of an inner packet of
//!   `size` bytes (policy lookup, sequence number, padding, AEAD or CBC+HMAC) against the raw
//!   aws-lc-rs primitive on the same number of bytes;
//! - `open_<suite>/{hitless,raw}/<size>`: `DataPlane::decapsulate` (SPI lookup, replay check
//!   and commit, ICV, trailer and selector checks) against the raw open;
//! - `replay/...`: the anti-replay window's check + commit, in order and out of order;
//! - after criterion, the ratios raw/hitless measured by interleaving both in alternating
//!   batches (5th percentiles, robust on a shared machine), and 1 vs 2 threads encapsulating on
//!   one shared SA and on one SA each.
//!
//! Run: `cargo bench -p hitless-esp --bench esp`. Both sides of each comparison copy their
//! input into the work buffer inside the timed loop (as a worker copies a packet it read),
//! so the copy cancels out of the ratio; packets to open are sealed outside the timed section.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::disallowed_methods
)]

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use aws_lc_rs::aead;
use aws_lc_rs::cipher;
use aws_lc_rs::hmac;
use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use hitless_crypto::SecretBytes;
use hitless_esp::Config;
use hitless_esp::DataPlane;
use hitless_esp::DataPlaneControl;
use hitless_esp::HEADROOM;
use hitless_esp::TAILROOM;
use hitless_esp::replay::ReplayWindow;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

const SIZES: [usize; 3] = [64, 512, 1400];

#[derive(Clone, Copy)]
enum Suite {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128CbcSha256,
}

impl Suite {
    const ALL: [Self; 4] = [
        Self::Aes128Gcm,
        Self::Aes256Gcm,
        Self::ChaCha20Poly1305,
        Self::Aes128CbcSha256,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "aes128gcm",
            Self::Aes256Gcm => "aes256gcm",
            Self::ChaCha20Poly1305 => "chacha20poly1305",
            Self::Aes128CbcSha256 => "aes128cbc_sha256",
        }
    }

    fn algorithms(self) -> EspAlgorithms {
        let (encr, encr_key_bits, integ) = match self {
            Self::Aes128Gcm => (EncrId::AES_GCM_16, Some(128), IntegId::NONE),
            Self::Aes256Gcm => (EncrId::AES_GCM_16, Some(256), IntegId::NONE),
            Self::ChaCha20Poly1305 => (EncrId::CHACHA20_POLY1305, None, IntegId::NONE),
            Self::Aes128CbcSha256 => (EncrId::AES_CBC, Some(128), IntegId::HMAC_SHA2_256_128),
        };
        EspAlgorithms {
            encr,
            encr_key_bits,
            integ,
            esn: true,
        }
    }

    fn keys(self) -> (SecretBytes, SecretBytes) {
        let (encr, integ) = match self {
            Self::Aes128Gcm => (20, 0),
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => (36, 0),
            Self::Aes128CbcSha256 => (16, 32),
        };
        (
            SecretBytes::new((0..encr).map(|i| i as u8 ^ 0x5a).collect()),
            SecretBytes::new((0..integ).map(|i| i as u8 ^ 0xa5).collect()),
        )
    }
}

fn any_v4() -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: Ipv4Addr::UNSPECIFIED.into(),
        end_address: Ipv4Addr::BROADCAST.into(),
    }
}

fn spec(suite: Suite, spi: Spi, direction: Direction, resource: Option<ResourceId>) -> SaSpec {
    let (encr_key, integ_key) = suite.keys();
    SaSpec {
        spi,
        direction,
        reqid: ReqId(1),
        resource,
        local: "192.0.2.1:4500".parse().unwrap(),
        remote: "192.0.2.2:4500".parse().unwrap(),
        udp_encap: true,
        mode: Mode::Tunnel,
        algorithms: suite.algorithms(),
        encr_key,
        integ_key,
        replay_window: 1024,
        lifetime: Lifetime::default(),
        initial_sequence: 0,
        report_first_use: false,
        local_ts: vec![any_v4()],
        remote_ts: vec![any_v4()],
    }
}

/// A data plane with outbound SA `0x1000` (fallback route) and inbound SA `0x1000`, so that
/// it can open what it seals. `per_resource` adds outbound SAs `0x2000 + r` for resources.
fn plane(suite: Suite, per_resource: u32) -> (Arc<DataPlane>, DataPlaneControl) {
    let (plane, mut control) = DataPlane::new(
        Config::default(),
        Arc::new(hitless_crypto_awslc::provider()),
    );
    let spi = Spi(0x1000);
    let mut commands = vec![
        SaCommand::AddSa(Box::new(spec(suite, spi, Direction::Outbound, None))),
        SaCommand::AddSa(Box::new(spec(suite, spi, Direction::Inbound, None))),
        SaCommand::AddPolicy(PolicySpec {
            reqid: ReqId(1),
            local_ts: vec![any_v4()],
            remote_ts: vec![any_v4()],
            mode: Mode::Tunnel,
        }),
        SaCommand::RouteOutbound {
            reqid: ReqId(1),
            resource: None,
            spi,
        },
    ];
    for r in 0..per_resource {
        let spi = Spi(0x2000 + r);
        let resource = Some(ResourceId(r));
        commands.push(SaCommand::AddSa(Box::new(spec(
            suite,
            spi,
            Direction::Outbound,
            resource,
        ))));
        commands.push(SaCommand::RouteOutbound {
            reqid: ReqId(1),
            resource,
            spi,
        });
    }
    for command in &commands {
        control.execute(command).unwrap();
    }
    (plane, control)
}

/// An IPv4 UDP packet of `len` bytes in total.
fn packet(len: usize) -> Vec<u8> {
    let mut packet = vec![0u8; len];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    packet[8] = 64;
    packet[9] = 17;
    packet[12..16].copy_from_slice(&[10, 1, 0, 1]);
    packet[16..20].copy_from_slice(&[10, 2, 0, 1]);
    packet[20..22].copy_from_slice(&4000u16.to_be_bytes());
    packet[22..24].copy_from_slice(&5000u16.to_be_bytes());
    packet
}

fn buffer_with(bytes: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM + bytes.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
    buf
}

/// The raw aws-lc-rs operations that anchor each suite (built once per suite, so the size
/// difference of the variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Raw {
    Aead(aead::LessSafeKey),
    CbcHmac {
        encrypt: cipher::EncryptingKey,
        decrypt: cipher::DecryptingKey,
        mac: hmac::Key,
    },
}

impl Raw {
    fn new(suite: Suite) -> Self {
        let (encr, integ) = suite.keys();
        let aead_key = |algorithm: &'static aead::Algorithm| {
            let key = aead::UnboundKey::new(algorithm, &encr.expose()[..algorithm.key_len()]);
            Self::Aead(aead::LessSafeKey::new(key.unwrap()))
        };
        match suite {
            Suite::Aes128Gcm => aead_key(&aead::AES_128_GCM),
            Suite::Aes256Gcm => aead_key(&aead::AES_256_GCM),
            Suite::ChaCha20Poly1305 => aead_key(&aead::CHACHA20_POLY1305),
            Suite::Aes128CbcSha256 => {
                let key =
                    || cipher::UnboundCipherKey::new(&cipher::AES_128, encr.expose()).unwrap();
                Self::CbcHmac {
                    encrypt: cipher::EncryptingKey::cbc(key()).unwrap(),
                    decrypt: cipher::DecryptingKey::cbc(key()).unwrap(),
                    mac: hmac::Key::new(hmac::HMAC_SHA256, integ.expose()),
                }
            }
        }
    }

    /// Seals `data` (a multiple of 16 bytes for CBC) in place; returns the tag.
    fn seal(&self, data: &mut [u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        match self {
            Self::Aead(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        aead::Nonce::assume_unique_for_key([7; 12]),
                        aead::Aad::from([1u8; 8]),
                        data,
                    )
                    .unwrap();
                out.copy_from_slice(tag.as_ref());
            }
            Self::CbcHmac { encrypt, mac, .. } => {
                let context = cipher::EncryptionContext::Iv128([9u8; 16].into());
                encrypt.less_safe_encrypt(data, context).unwrap();
                out.copy_from_slice(&hmac::sign(mac, data).as_ref()[..16]);
            }
        }
        out
    }

    fn open(&self, data: &mut [u8], tag: &[u8; 16]) {
        match self {
            Self::Aead(key) => {
                key.open_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key([7; 12]),
                    aead::Aad::from([1u8; 8]),
                    tag,
                    data,
                )
                .unwrap();
            }
            Self::CbcHmac { decrypt, mac, .. } => {
                hmac::verify(mac, data, tag).unwrap_or(());
                decrypt
                    .decrypt(data, cipher::DecryptionContext::Iv128([9u8; 16].into()))
                    .unwrap();
            }
        }
    }
}

/// The raw primitive works on what ESP encrypts: the packet plus trailer, aligned.
fn raw_len(suite: Suite, size: usize) -> usize {
    match suite {
        Suite::Aes128CbcSha256 => (size + 2).next_multiple_of(16),
        _ => (size + 2).next_multiple_of(4),
    }
}

fn seal_and_open(c: &mut Criterion) {
    for suite in Suite::ALL {
        let (plane, _control) = plane(suite, 0);
        let raw = Raw::new(suite);
        let mut group = c.benchmark_group(format!("seal_{}", suite.name()));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let inner = packet(size);
            group.bench_with_input(BenchmarkId::new("hitless", size), &inner, |b, inner| {
                let mut buf = buffer_with(inner);
                b.iter(|| {
                    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(inner);
                    let sealed = plane
                        .encapsulate(None, &mut buf, HEADROOM, inner.len())
                        .unwrap();
                    black_box(sealed.bytes.len());
                });
            });
            let plain = vec![0x42u8; raw_len(suite, size)];
            group.bench_with_input(BenchmarkId::new("raw", size), &plain, |b, plain| {
                let mut buf = plain.clone();
                b.iter(|| {
                    buf.copy_from_slice(plain);
                    black_box(raw.seal(&mut buf));
                });
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("open_{}", suite.name()));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let inner = packet(size);
            group.bench_with_input(BenchmarkId::new("hitless", size), &inner, |b, inner| {
                // Every packet needs a fresh sequence number: seal a chunk outside the timed
                // section, then time copying each into the work buffer and opening it.
                const CHUNK: usize = 1024;
                let mut sealed = Vec::with_capacity(CHUNK);
                let mut work = vec![0u8; HEADROOM + inner.len() + 2 * TAILROOM];
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK as u64);
                        left -= n;
                        sealed.clear();
                        for _ in 0..n {
                            let mut buf = buffer_with(inner);
                            let esp = plane
                                .encapsulate(None, &mut buf, HEADROOM, inner.len())
                                .unwrap();
                            sealed.push(esp.bytes.to_vec());
                        }
                        let start = Instant::now();
                        for esp in &sealed {
                            work[HEADROOM..HEADROOM + esp.len()].copy_from_slice(esp);
                            let opened = plane.decapsulate(&mut work, HEADROOM, esp.len()).unwrap();
                            black_box(opened.inner.len());
                        }
                        elapsed += start.elapsed();
                    }
                    elapsed
                });
            });
            let mut sealed = vec![0x42u8; raw_len(suite, size)];
            let tag = raw.seal(&mut sealed);
            group.bench_with_input(BenchmarkId::new("raw", size), &sealed, |b, sealed| {
                let mut buf = sealed.clone();
                b.iter(|| {
                    buf.copy_from_slice(sealed);
                    raw.open(&mut buf, &tag);
                });
            });
        }
        group.finish();
    }
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    for size in [1024u32, 8192] {
        group.bench_function(BenchmarkId::new("in_order", size), |b| {
            let mut window = ReplayWindow::new(size, true, 0);
            let mut seq = 0u64;
            b.iter(|| {
                seq += 1;
                window.check(black_box(seq)).unwrap();
                window.commit(seq).unwrap();
            });
        });
        // Out of order: each block of 64 numbers arrives in a scrambled order (an odd stride
        // visits every residue), as parallel workers and multi-path links deliver them.
        group.bench_function(BenchmarkId::new("out_of_order", size), |b| {
            let mut window = ReplayWindow::new(size, true, 0);
            let mut n = 0u64;
            b.iter(|| {
                let seq = (n / 64) * 64 + (n * 37 % 64) + 1;
                n += 1;
                window.check(black_box(seq)).unwrap();
                window.commit(seq).unwrap();
            });
        });
    }
    group.bench_function("replayed_duplicate_check", |b| {
        let mut window = ReplayWindow::new(1024, true, 0);
        for seq in 1..=2000 {
            window.commit(seq).unwrap();
        }
        b.iter(|| window.check(black_box(1500)).unwrap_err());
    });
    group.finish();
}

/// Runs `hitless` and `raw` in alternating batches of `n` calls and returns the 5th
/// percentile of each one's time per call in nanoseconds: on a machine shared with other jobs
/// the low percentiles of interleaved batches stay comparable where means do not. Each closure
/// runs `n` calls and returns the time they took (untimed preparation is its own business).
fn interleaved(
    n: usize,
    mut hitless: impl FnMut(usize) -> Duration,
    mut raw: impl FnMut(usize) -> Duration,
) -> (f64, f64) {
    const BATCHES: usize = 1001;
    let mut ours = Vec::with_capacity(BATCHES);
    let mut theirs = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        ours.push(hitless(n).as_nanos() as f64 / n as f64);
        theirs.push(raw(n).as_nanos() as f64 / n as f64);
    }
    (percentile5(ours), percentile5(theirs))
}

fn percentile5(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 20]
}

fn print_ratios() {
    // Where the inner packet (seal) and the ESP packet (open) start in their buffers. Moving
    // them to 16-byte aligned offsets made no measurable difference here.
    let (seal_at, open_at) = (HEADROOM, HEADROOM);
    println!("\nhitless vs raw aws-lc-rs, interleaved batches, 5th percentile per call");
    println!("(ratio = raw time / hitless time: the share of raw crypto speed hitless keeps)");
    println!(
        "{:<18} {:>5} {:<5} {:>11} {:>11} {:>7}",
        "suite", "bytes", "op", "hitless ns", "raw ns", "ratio"
    );
    for suite in Suite::ALL {
        let (plane, _control) = plane(suite, 0);
        let raw = Raw::new(suite);
        for size in SIZES {
            let n = if size < 512 { 256 } else { 32 };
            let inner = packet(size);
            let mut buf = vec![0u8; seal_at + inner.len() + TAILROOM];
            let plain = vec![0x42u8; raw_len(suite, size)];
            let mut raw_buf = plain.clone();
            let (ours, theirs) = interleaved(
                n,
                |n| {
                    let start = Instant::now();
                    for _ in 0..n {
                        buf[seal_at..seal_at + inner.len()].copy_from_slice(&inner);
                        let sealed = plane.encapsulate(None, &mut buf, seal_at, inner.len());
                        black_box(sealed.unwrap().bytes.len());
                    }
                    start.elapsed()
                },
                |n| {
                    let start = Instant::now();
                    for _ in 0..n {
                        raw_buf.copy_from_slice(&plain);
                        black_box(raw.seal(&mut raw_buf));
                    }
                    start.elapsed()
                },
            );
            print_row(suite, size, "seal", ours, theirs);

            let mut sealed: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(size + 64)).collect();
            let mut seal_buf = buffer_with(&inner);
            let mut open_buf = vec![0u8; open_at + inner.len() + 2 * TAILROOM];
            let mut ciphertext = plain.clone();
            let tag = raw.seal(&mut ciphertext);
            let (ours, theirs) = interleaved(
                n,
                |n| {
                    for esp in sealed.iter_mut().take(n) {
                        seal_buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
                        let out = plane.encapsulate(None, &mut seal_buf, HEADROOM, inner.len());
                        esp.clear();
                        esp.extend_from_slice(out.unwrap().bytes);
                    }
                    let start = Instant::now();
                    for esp in sealed.iter().take(n) {
                        open_buf[open_at..open_at + esp.len()].copy_from_slice(esp);
                        let opened = plane.decapsulate(&mut open_buf, open_at, esp.len());
                        black_box(opened.unwrap().inner.len());
                    }
                    start.elapsed()
                },
                |n| {
                    let start = Instant::now();
                    for _ in 0..n {
                        raw_buf.copy_from_slice(&ciphertext);
                        raw.open(&mut raw_buf, &tag);
                    }
                    start.elapsed()
                },
            );
            print_row(suite, size, "open", ours, theirs);
        }
    }
}

fn print_row(suite: Suite, size: usize, op: &str, ours: f64, theirs: f64) {
    println!(
        "{:<18} {:>5} {:<5} {:>11.1} {:>11.1} {:>6.1}%",
        suite.name(),
        size,
        op,
        ours,
        theirs,
        100.0 * theirs / ours
    );
}

/// Encapsulates `per_thread` 1400-byte packets on each of `threads` threads; with
/// `own_sa` each thread uses its own RFC 9611 resource SA, else all share one.
fn threads_run(threads: u32, own_sa: bool, per_thread: u32) -> Duration {
    let (plane, _control) = plane(Suite::Aes128Gcm, if own_sa { threads } else { 0 });
    let inner = packet(1400);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let plane = &plane;
            let inner = &inner;
            let resource = own_sa.then_some(ResourceId(t));
            scope.spawn(move || {
                let mut buf = buffer_with(inner);
                for _ in 0..per_thread {
                    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(inner);
                    let sealed = plane
                        .encapsulate(resource, &mut buf, HEADROOM, inner.len())
                        .unwrap();
                    black_box(sealed.bytes.len());
                }
            });
        }
    });
    start.elapsed()
}

fn print_threads() {
    let per_thread = 400_000;
    println!("\nencapsulate AES-128-GCM 1400 B, {per_thread} packets per thread (best of 3)");
    println!("{:<26} {:>10} {:>10}", "case", "Mpps", "Gbit/s");
    for (threads, own_sa, name) in [
        (1, false, "1 thread"),
        (2, false, "2 threads, one shared SA"),
        (2, true, "2 threads, one SA each"),
    ] {
        let best = (0..3)
            .map(|_| threads_run(threads, own_sa, per_thread))
            .min()
            .unwrap();
        let packets = f64::from(threads * per_thread);
        let mpps = packets / best.as_secs_f64() / 1e6;
        println!(
            "{name:<26} {mpps:>10.3} {:>10.2}",
            mpps * 1400.0 * 8.0 / 1e3
        );
    }
}

/// Where criterion writes its estimates, decided as criterion does and then passed to it.
fn output_directory() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // target/<profile>/deps/esp-<hash>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).map_or_else(
        || PathBuf::from("target/criterion"),
        |target| target.join("criterion"),
    )
}

fn main() {
    let dir = output_directory();
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    seal_and_open(&mut criterion);
    replay(&mut criterion);
    criterion.final_summary();
    if std::env::args().all(|arg| arg != "--list") {
        print_ratios();
        print_threads();
    }
}
