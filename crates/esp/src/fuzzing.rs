//! Entry points for the fuzz targets in `fuzz/` (ARCHITECTURE §3.7), compiled only for fuzzing
//! and tests.
//!
//! The target `esp_decapsulate` feeds arbitrary bytes to a data plane with fixed inbound SAs
//! (tunnel mode with AES-GCM, transport mode with ChaCha20-Poly1305 and ESN, tunnel mode with
//! AES-CBC + HMAC-SHA2 and ESN). With `hitless_crypto_insecure::fuzzing_provider()` every ICV
//! verifies, so the fuzzer reaches the replay window, trailer, IP and selector checks.

use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;

use hitless_crypto::CryptoProvider;
use hitless_crypto::SecretBytes;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

use crate::DataPlane;
use crate::DataPlaneControl;
use crate::DropReason;
use crate::HEADROOM;
use crate::TAILROOM;

/// The fixed SAs: SPI, mode, algorithms.
const SAS: [(u32, Mode, EncrId, Option<u16>, IntegId, bool); 3] = [
    (
        0x0000_1000,
        Mode::Tunnel,
        EncrId::AES_GCM_16,
        Some(128),
        IntegId::NONE,
        false,
    ),
    (
        0x0000_1001,
        Mode::Transport,
        EncrId::CHACHA20_POLY1305,
        None,
        IntegId::NONE,
        true,
    ),
    (
        0x0000_1002,
        Mode::Tunnel,
        EncrId::AES_CBC,
        Some(256),
        IntegId::HMAC_SHA2_256_128,
        true,
    ),
];

/// Decapsulates `data` with the fixed SAs and checks the invariants that must hold for any
/// input: no panic, the inner packet lies inside the buffer, and an accepted packet is never
/// accepted a second time.
///
/// The first byte, if any, chooses the headroom in front of the packet (0–63 bytes).
///
/// # Panics
///
/// When an invariant is violated (that is the point of a fuzz target).
pub fn esp_decapsulate(provider: Arc<CryptoProvider>, data: &[u8]) {
    let (plane, _control) = fixed_plane(provider, Direction::Inbound);
    let (headroom, packet) = match data.split_first() {
        Some((first, rest)) => (usize::from(first % 64), rest),
        None => (0, data),
    };
    let mut buf = vec![0u8; headroom + packet.len()];
    buf[headroom..].copy_from_slice(packet);
    let first = plane.decapsulate(&mut buf, headroom, packet.len());
    let accepted = match first {
        Ok(opened) => {
            assert!(opened.offset + opened.inner.len() <= headroom + packet.len());
            assert!(!opened.inner.is_empty());
            true
        }
        Err(_) => false,
    };
    assert_eq!(plane.drops().total(), u64::from(!accepted));
    // The same bytes again: refused whenever the first copy was accepted (each SA has a
    // replay window).
    let mut again = vec![0u8; headroom + packet.len()];
    again[headroom..].copy_from_slice(packet);
    let second = plane.decapsulate(&mut again, headroom, packet.len());
    if accepted {
        assert!(
            matches!(second, Err(DropReason::Replayed)),
            "accepted twice: {second:?}"
        );
    }
}

/// Well-formed ESP packets for the fixed SAs, sealed with `provider`: seeds for the corpus.
pub fn seed_packets(provider: Arc<CryptoProvider>) -> Vec<Vec<u8>> {
    let (plane, _control) = fixed_plane(provider, Direction::Outbound);
    let mut seeds = Vec::new();
    for (i, &(spi, mode, ..)) in SAS.iter().enumerate() {
        for len in [0usize, 1, 17, 100] {
            let packet = match mode {
                Mode::Tunnel => udp_packet(inner_source(i), inner_destination(), len),
                Mode::Transport => udp_packet(outer_remote().ip(), outer_local().ip(), len),
            };
            let mut buf = vec![0u8; HEADROOM + packet.len() + TAILROOM];
            buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
            let resource = Some(hitless_sadb::ResourceId(u32::try_from(i).unwrap_or(0)));
            if let Ok(sealed) = plane.encapsulate(resource, &mut buf, HEADROOM, packet.len()) {
                debug_assert_eq!(sealed.spi, Spi(spi));
                let mut seed = vec![u8::try_from(len % 64).unwrap_or(0)];
                seed.extend_from_slice(sealed.bytes);
                seeds.push(seed);
            }
        }
    }
    seeds
}

/// A data plane holding the fixed SAs in `direction`. Outbound SAs are the mirror image (their
/// remote is the inbound SAs' local), routed per resource `i` for SA `i`, so that their packets
/// open at the inbound plane.
fn fixed_plane(
    provider: Arc<CryptoProvider>,
    direction: Direction,
) -> (Arc<DataPlane>, DataPlaneControl) {
    let (plane, mut control) = DataPlane::new(crate::Config::default(), provider);
    let inbound = direction == Direction::Inbound;
    let (local, remote) = if inbound {
        (outer_local(), outer_remote())
    } else {
        (outer_remote(), outer_local())
    };
    for (i, &(spi, mode, encr, encr_key_bits, integ, esn)) in SAS.iter().enumerate() {
        let (net_local, net_remote) = if inbound {
            (inner_destination(), inner_source(i))
        } else {
            (inner_source(i), inner_destination())
        };
        let (local_ts, remote_ts) = match mode {
            Mode::Tunnel => (host(net_local), host(net_remote)),
            Mode::Transport => (host(local.ip()), host(remote.ip())),
        };
        let encr_len = match (encr, encr_key_bits) {
            (EncrId::AES_GCM_16, Some(128)) => 20,
            (EncrId::AES_CBC, Some(256)) => 32,
            _ => 36,
        };
        let resource = hitless_sadb::ResourceId(u32::try_from(i).unwrap_or(0));
        let spec = SaSpec {
            spi: Spi(spi),
            direction,
            reqid: ReqId(u32::try_from(i + 1).unwrap_or(0)),
            resource: (!inbound).then_some(resource),
            local,
            remote,
            udp_encap: true,
            mode,
            algorithms: EspAlgorithms {
                encr,
                encr_key_bits,
                integ,
                esn,
            },
            encr_key: SecretBytes::new(vec![0x11; encr_len]),
            integ_key: SecretBytes::new(vec![0x22; if integ == IntegId::NONE { 0 } else { 32 }]),
            replay_window: 64,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: true,
            local_ts: vec![local_ts],
            remote_ts: vec![remote_ts],
        };
        let policy = PolicySpec {
            reqid: spec.reqid,
            local_ts: spec.local_ts.clone(),
            remote_ts: spec.remote_ts.clone(),
            mode,
        };
        let mut commands = vec![SaCommand::AddSa(Box::new(spec))];
        if !inbound {
            commands.push(SaCommand::AddPolicy(policy));
            commands.push(SaCommand::RouteOutbound {
                reqid: ReqId(u32::try_from(i + 1).unwrap_or(0)),
                resource: Some(resource),
                spi: Spi(spi),
            });
        }
        for command in &commands {
            // A provider without one of these algorithms simply leaves that SA out.
            let _ = control.execute(command);
        }
    }
    (plane, control)
}

fn host(address: IpAddr) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: address,
        end_address: address,
    }
}

fn outer_local() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 4500))
}

fn outer_remote() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 4500))
}

/// The peer-side inner host of tunnel SA `i` (one per SA, so each policy picks its own SA).
fn inner_source(i: usize) -> IpAddr {
    IpAddr::from([10, 2, 0, u8::try_from(i + 1).unwrap_or(0)])
}

fn inner_destination() -> IpAddr {
    IpAddr::from([10, 1, 0, 1])
}

/// An IPv4 UDP packet with `payload_len` payload bytes (checksums left zero).
fn udp_packet(source: IpAddr, destination: IpAddr, payload_len: usize) -> Vec<u8> {
    let total = u16::try_from(28 + payload_len).unwrap_or(u16::MAX);
    let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0];
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    if let (IpAddr::V4(source), IpAddr::V4(destination)) = (source, destination) {
        packet.extend_from_slice(&source.octets());
        packet.extend_from_slice(&destination.octets());
    }
    packet.extend_from_slice(&[0x13, 0x88, 0x17, 0x70]);
    packet.extend_from_slice(&(total - 20).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.resize(usize::from(total), 0x5a);
    packet
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn corpus_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/esp_decapsulate")
    }

    /// The seeds open at the fixed inbound SAs with the fuzzing provider and with real crypto,
    /// so the corpus starts from packets that pass authentication.
    #[test]
    fn seeds_are_accepted() {
        for provider in [
            Arc::new(hitless_crypto_insecure::fuzzing_provider()),
            Arc::new(hitless_crypto_awslc::provider()),
        ] {
            let seeds = seed_packets(Arc::clone(&provider));
            assert_eq!(seeds.len(), 12);
            for seed in seeds {
                let (plane, _control) = fixed_plane(Arc::clone(&provider), Direction::Inbound);
                let len = seed.len() - 1;
                // Room for the transport-mode header rebuilt in front of the payload.
                let mut buf = vec![0u8; 64 + len];
                buf[64..].copy_from_slice(&seed[1..]);
                let opened = plane.decapsulate(&mut buf, 64, len);
                assert!(opened.is_ok(), "{opened:?}");
                esp_decapsulate(Arc::clone(&provider), &seed);
            }
        }
    }

    /// Replays the committed corpus of the `esp_decapsulate` fuzz target on stable.
    #[test]
    fn corpus_replays_without_panics() {
        let dir = corpus_dir();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("corpus {} missing: {error}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            esp_decapsulate(Arc::new(hitless_crypto_insecure::fuzzing_provider()), &data);
            count += 1;
        }
        assert!(count >= 12, "only {count} corpus entries");
    }

    /// Writes the seeds into the corpus directory:
    /// `cargo test -p hitless-esp write_seed_corpus -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/corpus/esp_decapsulate; run by hand"]
    fn write_seed_corpus() {
        let dir = corpus_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let seeds = seed_packets(Arc::new(hitless_crypto_insecure::fuzzing_provider()));
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
        }
    }
}
