//! Property tests: every valid representation survives emit → parse unchanged, payload by
//! payload, as a chain and as a whole message (plain, SK and SKF).

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::ike::AuthPayload;
use crate::ike::CertPayload;
use crate::ike::CertReqPayload;
use crate::ike::CfgAttribute;
use crate::ike::CpPayload;
use crate::ike::DeletePayload;
use crate::ike::EapPayload;
use crate::ike::EncryptedKind;
use crate::ike::Flags;
use crate::ike::Header;
use crate::ike::IdPayload;
use crate::ike::KePayload;
use crate::ike::NoncePayload;
use crate::ike::NotifyPayload;
use crate::ike::Payload;
use crate::ike::Proposal;
use crate::ike::SaPayload;
use crate::ike::TrafficSelector;
use crate::ike::Transform;
use crate::ike::TransformAttribute;
use crate::ike::TsPayload;
use crate::ike::VendorIdPayload;
use crate::ike::chain::emit_with_encrypted;
use crate::ike::parse_message;
use crate::ike::parse_payload_chain;
use crate::ike::try_emit_payload_chain;
use crate::registry::AuthMethod;
use crate::registry::CertEncoding;
use crate::registry::CfgAttributeType;
use crate::registry::CfgType;
use crate::registry::ExchangeType;
use crate::registry::IdType;
use crate::registry::KeMethod;
use crate::registry::NotifyType;
use crate::registry::PayloadType;
use crate::registry::ProtocolId;
use crate::registry::TransformType;

pub(crate) fn bytes(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), range)
}

fn attribute() -> impl Strategy<Value = TransformAttribute> {
    prop_oneof![
        (0..0x8000_u16, any::<u16>())
            .prop_map(|(kind, value)| TransformAttribute::Tv { kind, value }),
        (0..0x8000_u16, bytes(0..8))
            .prop_map(|(kind, value)| TransformAttribute::Tlv { kind, value }),
    ]
}

fn transform() -> impl Strategy<Value = Transform> {
    (any::<u8>(), any::<u16>(), vec(attribute(), 0..3)).prop_map(
        |(transform_type, id, attributes)| Transform {
            transform_type: TransformType(transform_type),
            id,
            attributes,
        },
    )
}

pub(crate) fn proposal() -> impl Strategy<Value = Proposal> {
    let protocol_and_spi = prop_oneof![
        prop_oneof![bytes(0..1), bytes(8..9)].prop_map(|spi| (ProtocolId::IKE, spi)),
        bytes(4..5).prop_map(|spi| (ProtocolId::ESP, spi)),
        bytes(4..5).prop_map(|spi| (ProtocolId::AH, spi)),
        (4..=u8::MAX, bytes(0..12)).prop_map(|(protocol, spi)| (ProtocolId(protocol), spi)),
    ];
    (any::<u8>(), protocol_and_spi, vec(transform(), 1..6)).prop_map(
        |(number, (protocol, spi), transforms)| Proposal {
            number,
            protocol,
            spi,
            transforms,
        },
    )
}

pub(crate) fn selector() -> impl Strategy<Value = TrafficSelector> {
    let addresses = prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(start, end)| (
            IpAddr::V4(Ipv4Addr::from(start)),
            IpAddr::V4(Ipv4Addr::from(end))
        )),
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(start, end)| (
            IpAddr::V6(Ipv6Addr::from(start)),
            IpAddr::V6(Ipv6Addr::from(end))
        )),
    ];
    (any::<u8>(), any::<u16>(), any::<u16>(), addresses).prop_map(
        |(ip_protocol, start_port, end_port, (start_address, end_address))| TrafficSelector {
            ip_protocol,
            start_port,
            end_port,
            start_address,
            end_address,
        },
    )
}

fn notify() -> impl Strategy<Value = NotifyPayload> {
    let protocol_and_spi = prop_oneof![
        Just((ProtocolId::NONE, Vec::new())),
        (any::<u8>(), bytes(1..9)).prop_map(|(protocol, spi)| (ProtocolId(protocol), spi)),
    ];
    (protocol_and_spi, any::<u16>(), bytes(0..24)).prop_map(
        |((protocol, spi), notify_type, data)| NotifyPayload {
            protocol,
            spi,
            notify_type: NotifyType(notify_type),
            data,
        },
    )
}

fn delete() -> impl Strategy<Value = DeletePayload> {
    prop_oneof![
        Just(DeletePayload {
            protocol: ProtocolId::IKE,
            spis: vec![],
        }),
        (
            prop_oneof![Just(ProtocolId::ESP), Just(ProtocolId::AH)],
            vec(any::<u32>(), 0..6)
        )
            .prop_map(|(protocol, spis)| DeletePayload { protocol, spis }),
    ]
}

fn eap() -> impl Strategy<Value = EapPayload> {
    let request_or_response = (1..=2_u8, any::<u8>(), any::<u8>(), bytes(0..16)).prop_map(
        |(code, identifier, eap_type, data)| {
            let mut message = vec![code, identifier, 0, 0, eap_type];
            message.extend_from_slice(&data);
            message
        },
    );
    let other = (3..=u8::MAX, any::<u8>(), bytes(0..8)).prop_map(|(code, identifier, data)| {
        let mut message = vec![code, identifier, 0, 0];
        message.extend_from_slice(&data);
        message
    });
    prop_oneof![request_or_response, other].prop_map(|mut message| {
        let length = u16::try_from(message.len()).unwrap();
        message[2..4].copy_from_slice(&length.to_be_bytes());
        EapPayload { message }
    })
}

fn unknown_type() -> impl Strategy<Value = PayloadType> {
    prop_oneof![1..=32_u8, 49..=52_u8, 54..=u8::MAX].prop_map(PayloadType)
}

/// Any payload that the parser accepts.
pub(crate) fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        vec(proposal(), 1..4).prop_map(|proposals| Payload::Sa(SaPayload { proposals })),
        (any::<u16>(), bytes(1..64)).prop_map(|(method, data)| Payload::Ke(KePayload {
            method: KeMethod(method),
            data
        })),
        (any::<u8>(), bytes(0..32)).prop_map(|(id_type, data)| Payload::IdI(IdPayload {
            id_type: IdType(id_type),
            data
        })),
        (any::<u8>(), bytes(0..32)).prop_map(|(id_type, data)| Payload::IdR(IdPayload {
            id_type: IdType(id_type),
            data
        })),
        (any::<u8>(), bytes(1..48)).prop_map(|(encoding, data)| Payload::Cert(CertPayload {
            encoding: CertEncoding(encoding),
            data
        })),
        (any::<u8>(), bytes(0..60)).prop_map(|(encoding, authority)| Payload::CertReq(
            CertReqPayload {
                encoding: CertEncoding(encoding),
                authority
            }
        )),
        (any::<u8>(), bytes(1..48)).prop_map(|(method, data)| Payload::Auth(AuthPayload {
            method: AuthMethod(method),
            data
        })),
        bytes(16..257).prop_map(|data| Payload::Nonce(NoncePayload { data })),
        notify().prop_map(Payload::Notify),
        delete().prop_map(Payload::Delete),
        bytes(0..20).prop_map(|data| Payload::VendorId(VendorIdPayload { data })),
        vec(selector(), 0..4).prop_map(|selectors| Payload::TsI(TsPayload {
            selectors,
            unknown_types: vec![]
        })),
        vec(selector(), 0..4).prop_map(|selectors| Payload::TsR(TsPayload {
            selectors,
            unknown_types: vec![]
        })),
        (any::<u8>(), vec((0..0x8000_u16, bytes(0..8)), 0..5)).prop_map(
            |(cfg_type, attributes)| Payload::Cp(CpPayload {
                cfg_type: CfgType(cfg_type),
                attributes: attributes
                    .into_iter()
                    .map(|(kind, value)| CfgAttribute {
                        attribute_type: CfgAttributeType(kind),
                        value
                    })
                    .collect()
            })
        ),
        eap().prop_map(Payload::Eap),
        (unknown_type(), bytes(0..16))
            .prop_map(|(payload_type, body)| Payload::Unknown { payload_type, body }),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
        0..16_u8,
        any::<(bool, bool, bool)>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                spi_i,
                spi_r,
                exchange,
                minor_version,
                (initiator, version, response),
                message_id,
            )| {
                Header {
                    spi_i,
                    spi_r,
                    next_payload: PayloadType::NONE,
                    major_version: 2,
                    minor_version,
                    exchange: ExchangeType(exchange),
                    flags: Flags {
                        initiator,
                        version,
                        response,
                    },
                    message_id,
                    length: 0,
                }
            },
        )
}

fn encrypted_kind() -> impl Strategy<Value = EncryptedKind> {
    prop_oneof![
        Just(EncryptedKind::Sk),
        (1..=u16::MAX).prop_flat_map(|total| (1..=total).prop_map(move |number| {
            EncryptedKind::Skf {
                fragment_number: number,
                total_fragments: total,
            }
        })),
    ]
}

proptest! {
    #[test]
    fn every_payload_round_trips(payload in payload()) {
        let mut body = vec![0; payload.buffer_len()];
        payload.emit(&mut body).unwrap();
        prop_assert_eq!(Payload::parse(payload.payload_type(), false, &body).unwrap(), payload);
    }

    #[test]
    fn chains_round_trip(payloads in vec(payload(), 0..10)) {
        let bytes = try_emit_payload_chain(&payloads, PayloadType::NONE).unwrap();
        let first = payloads.first().map_or(PayloadType::NONE, Payload::payload_type);
        prop_assert_eq!(parse_payload_chain(first, &bytes).unwrap(), payloads);
    }

    #[test]
    fn messages_round_trip(
        header in header(),
        payloads in vec(payload(), 0..8),
        encrypted in proptest::option::of((encrypted_kind(), any::<u8>(), bytes(1..64))),
    ) {
        let framing = encrypted
            .as_ref()
            .map(|(kind, first, body)| (*kind, PayloadType(*first), body.len()));
        let (mut bytes, body_start) = emit_with_encrypted(&header, &payloads, framing).unwrap();
        if let Some((_, _, body)) = &encrypted {
            bytes[body_start..].copy_from_slice(body);
        }
        let message = parse_message(&bytes).unwrap();
        let expected_first = payloads
            .first()
            .map(Payload::payload_type)
            .or_else(|| encrypted.as_ref().map(|(kind, _, _)| kind.payload_type()))
            .unwrap_or(PayloadType::NONE);
        prop_assert_eq!(message.header.next_payload, expected_first);
        prop_assert_eq!(usize::try_from(message.header.length).unwrap(), bytes.len());
        prop_assert_eq!(
            Header { next_payload: PayloadType::NONE, length: 0, ..message.header },
            header
        );
        prop_assert_eq!(&message.payloads, &payloads);
        match (&message.encrypted, &encrypted) {
            (None, None) => {}
            (Some(parsed), Some((kind, first, body))) => {
                prop_assert_eq!(parsed.kind, *kind);
                prop_assert_eq!(parsed.first_inner, PayloadType(*first));
                prop_assert_eq!(parsed.body, &body[..]);
                prop_assert_eq!(parsed.authenticated_prefix, &bytes[..body_start]);
            }
            _ => prop_assert!(false, "encrypted part lost or invented"),
        }
        prop_assert_eq!(message.emit().unwrap(), bytes);
    }
}
