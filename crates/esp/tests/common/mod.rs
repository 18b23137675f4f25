//! Shared set-up for the integration tests: two data planes with matching SAs, and packet
//! builders.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation
)]

use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;

use hitless_crypto::CryptoProvider;
use hitless_crypto::SecretBytes;
use hitless_esp::Config;
use hitless_esp::DataPlane;
use hitless_esp::DataPlaneControl;
use hitless_esp::HEADROOM;
use hitless_esp::TAILROOM;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

/// The algorithm combinations under test.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Suite {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128CbcSha256,
    Aes256CbcSha512,
}

impl Suite {
    pub const ALL: [Self; 5] = [
        Self::Aes128Gcm,
        Self::Aes256Gcm,
        Self::ChaCha20Poly1305,
        Self::Aes128CbcSha256,
        Self::Aes256CbcSha512,
    ];

    pub fn algorithms(self, esn: bool) -> EspAlgorithms {
        let (encr, encr_key_bits, integ) = match self {
            Self::Aes128Gcm => (EncrId::AES_GCM_16, Some(128), IntegId::NONE),
            Self::Aes256Gcm => (EncrId::AES_GCM_16, Some(256), IntegId::NONE),
            Self::ChaCha20Poly1305 => (EncrId::CHACHA20_POLY1305, None, IntegId::NONE),
            Self::Aes128CbcSha256 => (EncrId::AES_CBC, Some(128), IntegId::HMAC_SHA2_256_128),
            Self::Aes256CbcSha512 => (EncrId::AES_CBC, Some(256), IntegId::HMAC_SHA2_512_256),
        };
        EspAlgorithms {
            encr,
            encr_key_bits,
            integ,
            esn,
        }
    }

    /// Encryption key (with salt for an AEAD) and integrity key lengths.
    pub fn key_lens(self) -> (usize, usize) {
        match self {
            Self::Aes128Gcm => (20, 0),
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => (36, 0),
            Self::Aes128CbcSha256 => (16, 32),
            Self::Aes256CbcSha512 => (32, 64),
        }
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(hitless_crypto_awslc::provider())
}

pub fn ts(start: &str, end: &str) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: start.parse().unwrap(),
        end_address: end.parse().unwrap(),
    }
}

/// Gateway A protects 10.1.0.0/16 and fd01::/64; B protects 10.2.0.0/16 and fd02::/64.
pub fn net_a() -> Vec<TrafficSelector> {
    vec![
        ts("10.1.0.0", "10.1.255.255"),
        ts("fd01::", "fd01::ffff:ffff:ffff:ffff"),
    ]
}

pub fn net_b() -> Vec<TrafficSelector> {
    vec![
        ts("10.2.0.0", "10.2.255.255"),
        ts("fd02::", "fd02::ffff:ffff:ffff:ffff"),
    ]
}

/// Knobs of one SA pair.
#[derive(Clone, Debug)]
pub struct Setup {
    pub suite: Suite,
    pub mode: Mode,
    pub esn: bool,
    pub replay_window: u32,
    pub lifetime: Lifetime,
    pub initial_sequence: u64,
    pub report_first_use: bool,
    pub udp_encap: bool,
    pub outer_a: SocketAddr,
    pub outer_b: SocketAddr,
    pub config: Config,
}

impl Setup {
    pub fn new(suite: Suite) -> Self {
        Self {
            suite,
            mode: Mode::Tunnel,
            esn: false,
            replay_window: 1024,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: false,
            udp_encap: true,
            outer_a: "192.0.2.1:4500".parse().unwrap(),
            outer_b: "198.51.100.2:4500".parse().unwrap(),
            config: Config::default(),
        }
    }
}

/// One gateway.
pub struct Node {
    pub plane: Arc<DataPlane>,
    pub control: DataPlaneControl,
}

/// Gateways A and B with one Child SA (A→B SPI 0x1000_0001, B→A SPI 0x2000_0002).
pub struct Pair {
    pub a: Node,
    pub b: Node,
    pub setup: Setup,
}

pub const SPI_AB: Spi = Spi(0x1000_0001);
pub const SPI_BA: Spi = Spi(0x2000_0002);
pub const REQID: ReqId = ReqId(7);

pub fn keys(suite: Suite, seed: u8) -> (SecretBytes, SecretBytes) {
    let (encr, integ) = suite.key_lens();
    let encr = (0..encr)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect();
    let integ = (0..integ)
        .map(|i| seed.wrapping_mul(17) ^ (i as u8))
        .collect();
    (SecretBytes::new(encr), SecretBytes::new(integ))
}

pub fn sa_spec(
    setup: &Setup,
    spi: Spi,
    direction: Direction,
    a_side: bool,
    key_seed: u8,
) -> SaSpec {
    let (local, remote, local_ts, remote_ts) = if a_side {
        (setup.outer_a, setup.outer_b, net_a(), net_b())
    } else {
        (setup.outer_b, setup.outer_a, net_b(), net_a())
    };
    let (local_ts, remote_ts) = match setup.mode {
        Mode::Tunnel => (local_ts, remote_ts),
        Mode::Transport => (vec![host_ts(local.ip())], vec![host_ts(remote.ip())]),
    };
    let (encr_key, integ_key) = keys(setup.suite, key_seed);
    SaSpec {
        spi,
        direction,
        reqid: REQID,
        resource: None,
        local,
        remote,
        udp_encap: setup.udp_encap,
        mode: setup.mode,
        algorithms: setup.suite.algorithms(setup.esn),
        encr_key,
        integ_key,
        replay_window: setup.replay_window,
        lifetime: setup.lifetime,
        initial_sequence: setup.initial_sequence,
        report_first_use: setup.report_first_use,
        local_ts,
        remote_ts,
    }
}

pub fn host_ts(address: IpAddr) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: address,
        end_address: address,
    }
}

/// The commands one side's engine would emit for the Child SA.
pub fn commands(setup: &Setup, a_side: bool) -> Vec<SaCommand> {
    let (inbound, outbound, in_seed, out_seed) = if a_side {
        (SPI_BA, SPI_AB, 2, 1)
    } else {
        (SPI_AB, SPI_BA, 1, 2)
    };
    let inbound = sa_spec(setup, inbound, Direction::Inbound, a_side, in_seed);
    let outbound = sa_spec(setup, outbound, Direction::Outbound, a_side, out_seed);
    let policy = PolicySpec {
        reqid: REQID,
        local_ts: outbound.local_ts.clone(),
        remote_ts: outbound.remote_ts.clone(),
        mode: setup.mode,
    };
    vec![
        SaCommand::AddSa(Box::new(inbound)),
        SaCommand::AddSa(Box::new(outbound)),
        SaCommand::AddPolicy(policy),
        SaCommand::RouteOutbound {
            reqid: REQID,
            resource: None,
            spi: if a_side { SPI_AB } else { SPI_BA },
        },
    ]
}

impl Pair {
    pub fn new(setup: Setup) -> Self {
        let node = |a_side: bool| {
            let (plane, mut control) = DataPlane::new(setup.config, provider());
            for command in commands(&setup, a_side) {
                control.apply(&command).unwrap();
            }
            Node { plane, control }
        };
        Self {
            a: node(true),
            b: node(false),
            setup,
        }
    }
}

/// A packet buffer with headroom and tailroom.
pub struct Buf {
    pub bytes: Vec<u8>,
}

impl Buf {
    pub fn with(packet: &[u8]) -> Self {
        let mut bytes = vec![0u8; HEADROOM + packet.len() + TAILROOM];
        bytes[HEADROOM..HEADROOM + packet.len()].copy_from_slice(packet);
        Self { bytes }
    }
}

/// Encapsulates `packet` at A; returns the ESP bytes.
pub fn seal(node: &Node, packet: &[u8]) -> Result<Vec<u8>, hitless_esp::DropReason> {
    let mut buf = Buf::with(packet);
    let sealed = node
        .plane
        .encapsulate(None, &mut buf.bytes, HEADROOM, packet.len())?;
    Ok(sealed.bytes.to_vec())
}

/// Decapsulates `esp` at a node (with headroom); returns the inner packet.
pub fn open(node: &Node, esp: &[u8]) -> Result<Vec<u8>, hitless_esp::DropReason> {
    let mut buf = Buf::with(esp);
    let opened = node
        .plane
        .decapsulate(&mut buf.bytes, HEADROOM, esp.len())?;
    Ok(opened.inner.to_vec())
}

pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 UDP packet with `payload_len` payload bytes.
pub fn udp4(source: &str, destination: &str, ports: (u16, u16), payload_len: usize) -> Vec<u8> {
    let source: std::net::Ipv4Addr = source.parse().unwrap();
    let destination: std::net::Ipv4Addr = destination.parse().unwrap();
    let total = 20 + 8 + payload_len;
    let mut packet = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    packet.extend_from_slice(&source.octets());
    packet.extend_from_slice(&destination.octets());
    let checksum = ipv4_checksum(&packet);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet.extend_from_slice(&ports.0.to_be_bytes());
    packet.extend_from_slice(&ports.1.to_be_bytes());
    packet.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend((0..payload_len).map(|i| (i * 13 + 5) as u8));
    packet
}

/// An IPv6 UDP packet with `payload_len` payload bytes.
pub fn udp6(source: &str, destination: &str, ports: (u16, u16), payload_len: usize) -> Vec<u8> {
    let source: std::net::Ipv6Addr = source.parse().unwrap();
    let destination: std::net::Ipv6Addr = destination.parse().unwrap();
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    packet.extend_from_slice(&[17, 64]);
    packet.extend_from_slice(&source.octets());
    packet.extend_from_slice(&destination.octets());
    packet.extend_from_slice(&ports.0.to_be_bytes());
    packet.extend_from_slice(&ports.1.to_be_bytes());
    packet.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend((0..payload_len).map(|i| (i * 7 + 1) as u8));
    packet
}

/// A packet from A's network to B's.
pub fn a_to_b(payload_len: usize) -> Vec<u8> {
    udp4("10.1.0.5", "10.2.0.9", (5000, 6000), payload_len)
}

/// A packet from B's network to A's.
pub fn b_to_a(payload_len: usize) -> Vec<u8> {
    udp4("10.2.0.9", "10.1.0.5", (6000, 5000), payload_len)
}
