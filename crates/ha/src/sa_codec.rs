//! [`IkeSaSnapshot`] as attributes: every key, counter and Child SA a standby needs to take an
//! IKE SA over (ARCHITECTURE.md §2.7: derived keys and state, not key-exchange inputs).
//!
//! Decoding is all or nothing: a snapshot with a missing, repeated or malformed attribute is
//! rejected whole, so a corrupt record never replaces a good snapshot. Unknown attributes are
//! skipped.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::time::Duration;

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
use hitless_wire::registry::IdType;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

use crate::tlv::Fields;
use crate::tlv::TlvError;
use crate::tlv::Writer;

/// Writes the attributes of `snapshot`.
///
/// # Errors
///
/// [`TlvError::TooLong`] when a value (a cached message, a name) does not fit.
pub(crate) fn write_snapshot(w: &mut Writer, snapshot: &IkeSaSnapshot) -> Result<(), TlvError> {
    w.bytes(CONNECTION, snapshot.connection.as_bytes())?;
    write_spis(w, snapshot.spis);
    w.flag(INITIATOR, snapshot.initiator);
    write_addr(w, LOCAL, snapshot.local)?;
    write_addr(w, REMOTE, snapshot.remote)?;
    w.u8(
        NAT,
        u8::from(snapshot.nat.local_behind_nat) | (u8::from(snapshot.nat.remote_behind_nat) << 1),
    );
    write_identity(w, LOCAL_ID, &snapshot.local_id)?;
    write_identity(w, REMOTE_ID, &snapshot.remote_id)?;
    let algorithms = snapshot.algorithms;
    w.nested(IKE_ALGORITHMS, |w| {
        w.u16(ALG_ENCR, algorithms.encryption.id.0);
        if let Some(bits) = algorithms.encryption.key_bits {
            w.u16(ALG_KEY_BITS, bits);
        }
        w.u16(ALG_INTEG, algorithms.integrity.0);
        w.u16(ALG_PRF, algorithms.prf.0);
        w.u16(ALG_KE, algorithms.key_exchange.0);
        Ok(())
    })?;
    let keys = &snapshot.keys;
    w.nested(IKE_KEYS, |w| {
        for (kind, key) in [
            (SK_D, &keys.sk_d),
            (SK_AI, &keys.sk_ai),
            (SK_AR, &keys.sk_ar),
            (SK_EI, &keys.sk_ei),
            (SK_ER, &keys.sk_er),
            (SK_PI, &keys.sk_pi),
            (SK_PR, &keys.sk_pr),
        ] {
            w.bytes(kind, key.expose())?;
        }
        Ok(())
    })?;
    w.nested(WINDOW, |w| write_window(w, &snapshot.window))?;
    if let Some(in_flight) = &snapshot.in_flight {
        write_in_flight(w, in_flight)?;
    }
    w.u8(
        RFC6311,
        u8::from(snapshot.rfc6311.message_id_sync)
            | (u8::from(snapshot.rfc6311.replay_counter_sync) << 1),
    );
    w.u64(AGE_MS, millis(snapshot.age));
    if let Some(d) = snapshot.rekey_in {
        w.u64(REKEY_IN_MS, millis(d));
    }
    if let Some(d) = snapshot.expire_in {
        w.u64(EXPIRE_IN_MS, millis(d));
    }
    for child in &snapshot.children {
        w.nested(CHILD, |w| write_child(w, child))?;
    }
    Ok(())
}

/// Reads a snapshot written by [`write_snapshot`].
///
/// # Errors
///
/// The first missing, repeated or malformed attribute.
pub(crate) fn read_snapshot(f: &Fields<'_>) -> Result<IkeSaSnapshot, TlvError> {
    let nat = f.u8(NAT)?;
    let rfc6311 = f.u8(RFC6311)?;
    let algorithms = f.nested(IKE_ALGORITHMS)?;
    let key_bits = match algorithms.optional(ALG_KEY_BITS)? {
        Some(value) => Some(u16::from_be_bytes(crate::tlv::array(ALG_KEY_BITS, value)?)),
        None => None,
    };
    let keys = f.nested(IKE_KEYS)?;
    let secret = |kind| keys.one(kind).map(SecretBytes::from_slice);
    let children = f
        .all(CHILD)
        .map(|value| Fields::parse(value).and_then(|c| read_child(&c)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(IkeSaSnapshot {
        connection: f.string(CONNECTION)?,
        spis: read_spis(f)?,
        initiator: f.flag(INITIATOR)?,
        local: read_addr(f, LOCAL)?,
        remote: read_addr(f, REMOTE)?,
        nat: NatState {
            local_behind_nat: nat & 1 != 0,
            remote_behind_nat: nat & 2 != 0,
        },
        local_id: read_identity(f, LOCAL_ID)?,
        remote_id: read_identity(f, REMOTE_ID)?,
        algorithms: IkeAlgorithms {
            encryption: Encryption {
                id: EncrId(algorithms.u16(ALG_ENCR)?),
                key_bits,
            },
            integrity: IntegId(algorithms.u16(ALG_INTEG)?),
            prf: PrfId(algorithms.u16(ALG_PRF)?),
            key_exchange: KeMethod(algorithms.u16(ALG_KE)?),
        },
        keys: IkeKeys {
            sk_d: secret(SK_D)?,
            sk_ai: secret(SK_AI)?,
            sk_ar: secret(SK_AR)?,
            sk_ei: secret(SK_EI)?,
            sk_er: secret(SK_ER)?,
            sk_pi: secret(SK_PI)?,
            sk_pr: secret(SK_PR)?,
        },
        window: read_window(&f.nested(WINDOW)?)?,
        in_flight: read_in_flight(f)?,
        rfc6311: Rfc6311Support {
            message_id_sync: rfc6311 & 1 != 0,
            replay_counter_sync: rfc6311 & 2 != 0,
        },
        age: Duration::from_millis(f.u64(AGE_MS)?),
        rekey_in: f.opt_u64(REKEY_IN_MS)?.map(Duration::from_millis),
        expire_in: f.opt_u64(EXPIRE_IN_MS)?.map(Duration::from_millis),
        children,
    })
}

/// Writes an IKE SA's name across nodes: its SPI pair.
pub(crate) fn write_spis(w: &mut Writer, spis: IkeSpis) {
    w.u64(SPI_I, spis.initiator.0);
    w.u64(SPI_R, spis.responder.0);
}

/// Reads an SPI pair.
pub(crate) fn read_spis(f: &Fields<'_>) -> Result<IkeSpis, TlvError> {
    Ok(IkeSpis {
        initiator: IkeSpi(f.u64(SPI_I)?),
        responder: IkeSpi(f.u64(SPI_R)?),
    })
}

/// Writes the message-ID state of an IKE SA ([RFC 7296 §2.2–§2.3]).
///
/// [RFC 7296 §2.2–§2.3]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
pub(crate) fn write_window(w: &mut Writer, window: &WindowSnapshot) -> Result<(), TlvError> {
    w.u32(NEXT_REQUEST, window.next_request);
    w.u32(NEXT_EXPECTED, window.next_expected);
    if let Some(outstanding) = &window.outstanding {
        w.nested(OUTSTANDING, |w| {
            w.u32(MESSAGE_ID, outstanding.message_id);
            w.u8(EXCHANGE, outstanding.exchange.0);
            w.u32(RETRANSMITS, outstanding.retransmits);
            w.bytes(MESSAGE, &outstanding.message)
        })?;
    }
    if let Some(cached) = &window.last_response {
        w.nested(LAST_RESPONSE, |w| {
            w.u32(MESSAGE_ID, cached.message_id);
            w.bytes(MESSAGE, &cached.message)
        })?;
    }
    Ok(())
}

/// Reads a window written by [`write_window`].
pub(crate) fn read_window(f: &Fields<'_>) -> Result<WindowSnapshot, TlvError> {
    let outstanding = match f.opt_nested(OUTSTANDING)? {
        Some(o) => Some(OutstandingRequest {
            message_id: o.u32(MESSAGE_ID)?,
            exchange: ExchangeType(o.u8(EXCHANGE)?),
            message: o.one(MESSAGE)?.to_vec(),
            retransmits: o.u32(RETRANSMITS)?,
        }),
        None => None,
    };
    let last_response = match f.opt_nested(LAST_RESPONSE)? {
        Some(c) => Some(CachedMessage {
            message_id: c.u32(MESSAGE_ID)?,
            message: c.one(MESSAGE)?.to_vec(),
        }),
        None => None,
    };
    Ok(WindowSnapshot {
        next_request: f.u32(NEXT_REQUEST)?,
        next_expected: f.u32(NEXT_EXPECTED)?,
        outstanding,
        last_response,
    })
}

/// Writes what an outstanding request is for.
pub(crate) fn write_in_flight(w: &mut Writer, in_flight: &InFlight) -> Result<(), TlvError> {
    w.nested(IN_FLIGHT, |w| {
        match in_flight {
            InFlight::Dpd => w.u8(IN_FLIGHT_KIND, 1),
            InFlight::DeleteChild(spis) => {
                w.u8(IN_FLIGHT_KIND, 2);
                for spi in spis {
                    w.u32(IN_FLIGHT_SPI, spi.0);
                }
            }
            InFlight::DeleteIke => w.u8(IN_FLIGHT_KIND, 3),
            InFlight::Unresumable(exchange) => {
                w.u8(IN_FLIGHT_KIND, 4);
                w.u8(EXCHANGE, exchange.0);
            }
        }
        Ok(())
    })
}

/// Reads an optional [`InFlight`].
pub(crate) fn read_in_flight(f: &Fields<'_>) -> Result<Option<InFlight>, TlvError> {
    let Some(g) = f.opt_nested(IN_FLIGHT)? else {
        return Ok(None);
    };
    Ok(Some(match g.u8(IN_FLIGHT_KIND)? {
        1 => InFlight::Dpd,
        2 => InFlight::DeleteChild(
            g.all(IN_FLIGHT_SPI)
                .map(|value| crate::tlv::as_u32(IN_FLIGHT_SPI, value).map(Spi))
                .collect::<Result<_, _>>()?,
        ),
        3 => InFlight::DeleteIke,
        4 => InFlight::Unresumable(ExchangeType(g.u8(EXCHANGE)?)),
        _ => return Err(TlvError::BadValue(IN_FLIGHT_KIND)),
    }))
}

fn write_child(w: &mut Writer, child: &ChildSaSnapshot) -> Result<(), TlvError> {
    w.bytes(C_NAME, child.name.as_bytes())?;
    w.u32(C_REQID, child.reqid.0);
    w.u32(C_SPI_IN, child.spi_in.0);
    w.u32(C_SPI_OUT, child.spi_out.0);
    w.u8(
        C_MODE,
        match child.mode {
            Mode::Tunnel => 1,
            Mode::Transport => 2,
        },
    );
    let esp = child.algorithms.esp;
    w.nested(C_ALGORITHMS, |w| {
        w.u16(ALG_ENCR, esp.encr.0);
        if let Some(bits) = esp.encr_key_bits {
            w.u16(ALG_KEY_BITS, bits);
        }
        w.u16(ALG_INTEG, esp.integ.0);
        w.flag(ALG_ESN, esp.esn);
        if let Some(ke) = child.algorithms.key_exchange {
            w.u16(ALG_KE, ke.0);
        }
        Ok(())
    })?;
    let keys = &child.keys;
    w.nested(C_KEYS, |w| {
        w.bytes(ENCR_IN, keys.encr_in.expose())?;
        w.bytes(INTEG_IN, keys.integ_in.expose())?;
        w.bytes(ENCR_OUT, keys.encr_out.expose())?;
        w.bytes(INTEG_OUT, keys.integ_out.expose())
    })?;
    for ts in &child.local_ts {
        write_ts(w, C_LOCAL_TS, ts)?;
    }
    for ts in &child.remote_ts {
        write_ts(w, C_REMOTE_TS, ts)?;
    }
    w.flag(C_UDP_ENCAP, child.udp_encap);
    w.flag(C_INITIATOR, child.initiator);
    if let Some(resource) = child.resource {
        w.u32(C_RESOURCE, resource.0);
    }
    w.u32(C_REPLAY_WINDOW, child.replay_window);
    let lifetime = child.lifetime;
    w.nested(C_LIFETIME, |w| {
        for (kind, value) in [
            (SOFT_BYTES, lifetime.soft.bytes),
            (SOFT_PACKETS, lifetime.soft.packets),
            (HARD_BYTES, lifetime.hard.bytes),
            (HARD_PACKETS, lifetime.hard.packets),
        ] {
            if let Some(value) = value {
                w.u64(kind, value);
            }
        }
        Ok(())
    })?;
    w.flag(C_ROUTED, child.outbound_routed);
    w.u64(C_AGE_MS, millis(child.age));
    if let Some(d) = child.rekey_in {
        w.u64(C_REKEY_IN_MS, millis(d));
    }
    if let Some(d) = child.expire_in {
        w.u64(C_EXPIRE_IN_MS, millis(d));
    }
    w.u64(C_OUT_SEQ, child.outbound_sequence);
    w.u64(C_IN_SEQ, child.inbound_sequence);
    Ok(())
}

fn read_child(f: &Fields<'_>) -> Result<ChildSaSnapshot, TlvError> {
    let algorithms = f.nested(C_ALGORITHMS)?;
    let key_bits = match algorithms.optional(ALG_KEY_BITS)? {
        Some(value) => Some(u16::from_be_bytes(crate::tlv::array(ALG_KEY_BITS, value)?)),
        None => None,
    };
    let key_exchange = match algorithms.optional(ALG_KE)? {
        Some(value) => Some(KeMethod(u16::from_be_bytes(crate::tlv::array(
            ALG_KE, value,
        )?))),
        None => None,
    };
    let keys = f.nested(C_KEYS)?;
    let secret = |kind| keys.one(kind).map(SecretBytes::from_slice);
    let lifetime = f.nested(C_LIFETIME)?;
    let spi_in = Spi(f.u32(C_SPI_IN)?);
    let spi_out = Spi(f.u32(C_SPI_OUT)?);
    Ok(ChildSaSnapshot {
        name: f.string(C_NAME)?,
        reqid: ReqId(f.u32(C_REQID)?),
        spi_in,
        spi_out,
        mode: match f.u8(C_MODE)? {
            1 => Mode::Tunnel,
            2 => Mode::Transport,
            _ => return Err(TlvError::BadValue(C_MODE)),
        },
        algorithms: ChildAlgorithms {
            esp: EspAlgorithms {
                encr: EncrId(algorithms.u16(ALG_ENCR)?),
                encr_key_bits: key_bits,
                integ: IntegId(algorithms.u16(ALG_INTEG)?),
                esn: algorithms.flag(ALG_ESN)?,
            },
            key_exchange,
        },
        keys: ChildKeys {
            encr_in: secret(ENCR_IN)?,
            integ_in: secret(INTEG_IN)?,
            encr_out: secret(ENCR_OUT)?,
            integ_out: secret(INTEG_OUT)?,
        },
        local_ts: f
            .all(C_LOCAL_TS)
            .map(|v| read_ts(C_LOCAL_TS, v))
            .collect::<Result<_, _>>()?,
        remote_ts: f
            .all(C_REMOTE_TS)
            .map(|v| read_ts(C_REMOTE_TS, v))
            .collect::<Result<_, _>>()?,
        udp_encap: f.flag(C_UDP_ENCAP)?,
        initiator: f.flag(C_INITIATOR)?,
        resource: f.opt_u32(C_RESOURCE)?.map(ResourceId),
        replay_window: f.u32(C_REPLAY_WINDOW)?,
        lifetime: Lifetime {
            soft: Limits {
                bytes: lifetime.opt_u64(SOFT_BYTES)?,
                packets: lifetime.opt_u64(SOFT_PACKETS)?,
            },
            hard: Limits {
                bytes: lifetime.opt_u64(HARD_BYTES)?,
                packets: lifetime.opt_u64(HARD_PACKETS)?,
            },
        },
        outbound_routed: f.flag(C_ROUTED)?,
        age: Duration::from_millis(f.u64(C_AGE_MS)?),
        rekey_in: f.opt_u64(C_REKEY_IN_MS)?.map(Duration::from_millis),
        expire_in: f.opt_u64(C_EXPIRE_IN_MS)?.map(Duration::from_millis),
        outbound_sequence: f.u64(C_OUT_SEQ)?,
        inbound_sequence: f.u64(C_IN_SEQ)?,
    })
}

/// A socket address: family (4 or 6), address, port.
fn write_addr(w: &mut Writer, kind: u16, addr: SocketAddr) -> Result<(), TlvError> {
    let mut value = Vec::with_capacity(19);
    push_ip(&mut value, addr.ip());
    value.extend_from_slice(&addr.port().to_be_bytes());
    w.bytes(kind, &value)
}

fn read_addr(f: &Fields<'_>, kind: u16) -> Result<SocketAddr, TlvError> {
    let value = f.one(kind)?;
    let (ip, rest) = take_ip(kind, value)?;
    let port: [u8; 2] = rest.try_into().map_err(|_| TlvError::BadLength(kind))?;
    Ok(SocketAddr::new(ip, u16::from_be_bytes(port)))
}

/// A traffic selector ([RFC 7296 §3.13.1]): protocol, port range, address range.
///
/// [RFC 7296 §3.13.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13.1
fn write_ts(w: &mut Writer, kind: u16, ts: &TrafficSelector) -> Result<(), TlvError> {
    let mut value = Vec::with_capacity(40);
    value.push(ts.ip_protocol);
    value.extend_from_slice(&ts.start_port.to_be_bytes());
    value.extend_from_slice(&ts.end_port.to_be_bytes());
    push_ip(&mut value, ts.start_address);
    push_ip(&mut value, ts.end_address);
    w.bytes(kind, &value)
}

fn read_ts(kind: u16, value: &[u8]) -> Result<TrafficSelector, TlvError> {
    let Some((head, rest)) = value.split_first_chunk::<5>() else {
        return Err(TlvError::BadLength(kind));
    };
    let (start_address, rest) = take_ip(kind, rest)?;
    let (end_address, rest) = take_ip(kind, rest)?;
    if !rest.is_empty() || start_address.is_ipv4() != end_address.is_ipv4() {
        return Err(TlvError::BadValue(kind));
    }
    Ok(TrafficSelector {
        ip_protocol: head[0],
        start_port: u16::from_be_bytes([head[1], head[2]]),
        end_port: u16::from_be_bytes([head[3], head[4]]),
        start_address,
        end_address,
    })
}

fn push_ip(value: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            value.push(4);
            value.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            value.push(6);
            value.extend_from_slice(&v6.octets());
        }
    }
}

fn take_ip(kind: u16, value: &[u8]) -> Result<(IpAddr, &[u8]), TlvError> {
    match value.split_first() {
        Some((4, rest)) => {
            let (octets, rest) = rest
                .split_first_chunk::<4>()
                .ok_or(TlvError::BadLength(kind))?;
            Ok((IpAddr::V4(Ipv4Addr::from(*octets)), rest))
        }
        Some((6, rest)) => {
            let (octets, rest) = rest
                .split_first_chunk::<16>()
                .ok_or(TlvError::BadLength(kind))?;
            Ok((IpAddr::V6(Ipv6Addr::from(*octets)), rest))
        }
        _ => Err(TlvError::BadValue(kind)),
    }
}

/// An identity ([RFC 7296 §3.5]): its ID type, then its data.
///
/// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
fn write_identity(w: &mut Writer, kind: u16, id: &Identity) -> Result<(), TlvError> {
    let (id_type, data): (IdType, Vec<u8>) = match id {
        Identity::Ipv4(a) => (IdType::IPV4_ADDR, a.octets().to_vec()),
        Identity::Ipv6(a) => (IdType::IPV6_ADDR, a.octets().to_vec()),
        Identity::Fqdn(s) => (IdType::FQDN, s.as_bytes().to_vec()),
        Identity::Rfc822(s) => (IdType::RFC822_ADDR, s.as_bytes().to_vec()),
        Identity::KeyId(b) => (IdType::KEY_ID, b.clone()),
    };
    let mut value = Vec::with_capacity(1 + data.len());
    value.push(id_type.0);
    value.extend_from_slice(&data);
    w.bytes(kind, &value)
}

fn read_identity(f: &Fields<'_>, kind: u16) -> Result<Identity, TlvError> {
    let value = f.one(kind)?;
    let Some((&id_type, data)) = value.split_first() else {
        return Err(TlvError::BadLength(kind));
    };
    let text = || String::from_utf8(data.to_vec()).map_err(|_| TlvError::BadValue(kind));
    Ok(match IdType(id_type) {
        IdType::IPV4_ADDR => Identity::Ipv4(Ipv4Addr::from(crate::tlv::array::<4>(kind, data)?)),
        IdType::IPV6_ADDR => Identity::Ipv6(Ipv6Addr::from(crate::tlv::array::<16>(kind, data)?)),
        IdType::FQDN => Identity::Fqdn(text()?),
        IdType::RFC822_ADDR => Identity::Rfc822(text()?),
        IdType::KEY_ID => Identity::KeyId(data.to_vec()),
        _ => return Err(TlvError::BadValue(kind)),
    })
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

// Attribute types of an IKE SA snapshot (docs/design/ha.md lists them). Numbers are never
// reused; a new field gets a new number.
const CONNECTION: u16 = 1;
pub(crate) const SPI_I: u16 = 2;
pub(crate) const SPI_R: u16 = 3;
const INITIATOR: u16 = 4;
const LOCAL: u16 = 5;
const REMOTE: u16 = 6;
const NAT: u16 = 7;
const LOCAL_ID: u16 = 8;
const REMOTE_ID: u16 = 9;
const IKE_ALGORITHMS: u16 = 10;
const IKE_KEYS: u16 = 11;
pub(crate) const WINDOW: u16 = 12;
const IN_FLIGHT: u16 = 13;
const RFC6311: u16 = 14;
const AGE_MS: u16 = 15;
const REKEY_IN_MS: u16 = 16;
const EXPIRE_IN_MS: u16 = 17;
const CHILD: u16 = 18;

// Inside IKE_ALGORITHMS and C_ALGORITHMS.
const ALG_ENCR: u16 = 1;
const ALG_KEY_BITS: u16 = 2;
const ALG_INTEG: u16 = 3;
const ALG_PRF: u16 = 4;
const ALG_KE: u16 = 5;
const ALG_ESN: u16 = 6;

// Inside IKE_KEYS.
const SK_D: u16 = 1;
const SK_AI: u16 = 2;
const SK_AR: u16 = 3;
const SK_EI: u16 = 4;
const SK_ER: u16 = 5;
const SK_PI: u16 = 6;
const SK_PR: u16 = 7;

// Inside WINDOW.
const NEXT_REQUEST: u16 = 1;
const NEXT_EXPECTED: u16 = 2;
const OUTSTANDING: u16 = 3;
const LAST_RESPONSE: u16 = 4;
// Inside OUTSTANDING and LAST_RESPONSE.
const MESSAGE_ID: u16 = 1;
const EXCHANGE: u16 = 2;
const RETRANSMITS: u16 = 3;
const MESSAGE: u16 = 4;

// Inside IN_FLIGHT.
const IN_FLIGHT_KIND: u16 = 1;
const IN_FLIGHT_SPI: u16 = 3;

// Inside CHILD.
const C_NAME: u16 = 1;
const C_REQID: u16 = 2;
const C_SPI_IN: u16 = 3;
const C_SPI_OUT: u16 = 4;
const C_MODE: u16 = 5;
const C_ALGORITHMS: u16 = 6;
const C_KEYS: u16 = 7;
const C_LOCAL_TS: u16 = 8;
const C_REMOTE_TS: u16 = 9;
const C_UDP_ENCAP: u16 = 10;
const C_INITIATOR: u16 = 11;
const C_RESOURCE: u16 = 12;
const C_REPLAY_WINDOW: u16 = 13;
const C_LIFETIME: u16 = 14;
const C_ROUTED: u16 = 15;
const C_AGE_MS: u16 = 17;
const C_REKEY_IN_MS: u16 = 18;
const C_EXPIRE_IN_MS: u16 = 19;
const C_OUT_SEQ: u16 = 20;
const C_IN_SEQ: u16 = 21;

// Inside C_KEYS.
const ENCR_IN: u16 = 1;
const INTEG_IN: u16 = 2;
const ENCR_OUT: u16 = 3;
const INTEG_OUT: u16 = 4;

// Inside C_LIFETIME.
const SOFT_BYTES: u16 = 1;
const SOFT_PACKETS: u16 = 2;
const HARD_BYTES: u16 = 3;
const HARD_PACKETS: u16 = 4;
