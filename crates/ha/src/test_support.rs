//! Sample state for unit tests and fuzz seeds.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::SecretBytes;
use hitless_crypto::derive::IkeKeys;
use hitless_ike::CachedMessage;
use hitless_ike::ChildAlgorithms;
use hitless_ike::ChildKeys;
use hitless_ike::ChildSaSnapshot;
use hitless_ike::IkeAlgorithms;
use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSpis;
use hitless_ike::InFlight;
use hitless_ike::NatState;
use hitless_ike::OutstandingRequest;
use hitless_ike::Rfc6311Support;
use hitless_ike::WindowSnapshot;
use hitless_ike::config::Encryption;
use hitless_ike::config::Identity;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::IkeSpi;
use hitless_sadb::Lifetime;
use hitless_sadb::Limits;
use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

/// A snapshot with every optional field set and two Child SAs, distinct per `seed`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn sample_snapshot(seed: u8) -> IkeSaSnapshot {
    let key = |n: u8, len: usize| SecretBytes::new(vec![seed ^ n; len]);
    let s = u32::from(seed);
    let child = |n: u32, transport: bool| ChildSaSnapshot {
        name: format!("net{n}"),
        reqid: ReqId(n + 1),
        spi_in: Spi(0x1000_0000 + (s << 8) + n),
        spi_out: Spi(0x2000_0000 + (s << 8) + n),
        mode: if transport {
            Mode::Transport
        } else {
            Mode::Tunnel
        },
        algorithms: ChildAlgorithms {
            esp: EspAlgorithms {
                encr: EncrId::AES_GCM_16,
                encr_key_bits: Some(256),
                integ: IntegId::NONE,
                esn: n == 0,
            },
            key_exchange: (n == 1).then_some(KeMethod(31)),
        },
        keys: ChildKeys {
            encr_in: key(10, 36),
            integ_in: SecretBytes::new(Vec::new()),
            encr_out: key(11, 36),
            integ_out: SecretBytes::new(Vec::new()),
        },
        local_ts: vec![TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start_address: IpAddr::V4(Ipv4Addr::new(10, 1, seed, 0)),
            end_address: IpAddr::V4(Ipv4Addr::new(10, 1, seed, 255)),
        }],
        remote_ts: vec![
            TrafficSelector {
                ip_protocol: 17,
                start_port: 500,
                end_port: 4500,
                start_address: IpAddr::V6(Ipv6Addr::LOCALHOST),
                end_address: IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 9)),
            },
            TrafficSelector {
                ip_protocol: 0,
                start_port: 0,
                end_port: u16::MAX,
                start_address: IpAddr::V4(Ipv4Addr::new(10, 2, 0, 0)),
                end_address: IpAddr::V4(Ipv4Addr::new(10, 2, 255, 255)),
            },
        ],
        udp_encap: transport,
        initiator: n == 0,
        resource: (n == 1).then_some(ResourceId(3)),
        replay_window: 1024,
        lifetime: Lifetime {
            soft: Limits {
                bytes: Some(1 << 30),
                packets: None,
            },
            hard: Limits {
                bytes: None,
                packets: Some(1 << 40),
            },
        },
        outbound_routed: n == 0,
        age: Duration::from_millis(1234),
        rekey_in: Some(Duration::from_secs(3000)),
        expire_in: (n == 0).then_some(Duration::from_secs(3600)),
        outbound_sequence: u64::from(n) * 7,
        inbound_sequence: u64::from(n) * 11,
    };
    IkeSaSnapshot {
        connection: format!("gw{seed}"),
        spis: IkeSpis {
            initiator: IkeSpi(0x1111_0000_0000_0000 | u64::from(seed)),
            responder: IkeSpi(0x2222_0000_0000_0000 | u64::from(seed)),
        },
        initiator: seed.is_multiple_of(2),
        local: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 4500),
        remote: SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            500,
        ),
        nat: NatState {
            local_behind_nat: true,
            remote_behind_nat: false,
        },
        local_id: Identity::Fqdn(format!("a{seed}.example")),
        remote_id: Identity::KeyId(vec![seed, 1, 2]),
        algorithms: IkeAlgorithms {
            encryption: Encryption {
                id: EncrId::AES_GCM_16,
                key_bits: Some(256),
            },
            integrity: IntegId::NONE,
            prf: PrfId::HMAC_SHA2_256,
            key_exchange: KeMethod(31),
        },
        keys: IkeKeys {
            sk_d: key(1, 32),
            sk_ai: SecretBytes::new(Vec::new()),
            sk_ar: SecretBytes::new(Vec::new()),
            sk_ei: key(4, 36),
            sk_er: key(5, 36),
            sk_pi: key(6, 32),
            sk_pr: key(7, 32),
        },
        window: WindowSnapshot {
            next_request: 5,
            next_expected: 3,
            outstanding: Some(OutstandingRequest {
                message_id: 4,
                exchange: ExchangeType::INFORMATIONAL,
                message: vec![seed; 80],
                retransmits: 2,
            }),
            last_response: Some(CachedMessage {
                message_id: 2,
                message: vec![seed ^ 0xff; 96],
            }),
        },
        in_flight: Some(InFlight::DeleteChild(vec![Spi(0x1000_0000 + (s << 8))])),
        rfc6311: Rfc6311Support {
            message_id_sync: true,
            replay_counter_sync: false,
        },
        age: Duration::from_secs(77),
        rekey_in: Some(Duration::from_secs(10_000)),
        expire_in: None,
        children: vec![child(0, false), child(1, true)],
    }
}

/// A fixed origin for test and fuzzing clocks.
pub(crate) fn origin() -> Instant {
    // Test clocks need an origin; the code under test never reads the time.
    #[allow(clippy::disallowed_methods)]
    static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);
    *ORIGIN
}
