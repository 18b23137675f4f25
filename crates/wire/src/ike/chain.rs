//! The payload chain ([RFC 7296 §3.2]) and whole messages.
//!
//! Each payload's generic header names the type of the next one; the chain ends with NONE, or
//! with an SK or SKF payload, whose Next Payload field names the first payload inside it and which
//! must therefore end the message ([RFC 7296 §3.14], [RFC 7383 §2.5]). The walker checks every
//! length against what contains it, caps the number of payloads at [`MAX_PAYLOADS`], and rejects
//! bytes after the last payload.
//!
//! [RFC 7296 §3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.2
//! [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
//! [RFC 7383 §2.5]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5

use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::EncryptedKind;
use crate::ike::GENERIC_HEADER_LEN;
use crate::ike::HEADER_LEN;
use crate::ike::Header;
use crate::ike::MAX_PAYLOADS;
use crate::ike::ParsedMessage;
use crate::ike::Payload;
use crate::ike::encrypted;
use crate::ike::encrypted::FragmentPacket;
use crate::ike::header;
use crate::ike::header::Packet;
use crate::ike::payload::PayloadPacket;
use crate::registry::PayloadType;

pub(crate) fn parse_message(bytes: &[u8]) -> Result<ParsedMessage<'_>, ParseError> {
    let header = header::parse(bytes)?;
    let (payloads, end) = walk(header.next_payload, &bytes[HEADER_LEN..], true)?;
    let encrypted = match end {
        ChainEnd::None => None,
        ChainEnd::Encrypted {
            offset,
            payload_type,
        } => Some(encrypted::frame(bytes, HEADER_LEN + offset, payload_type)?),
    };
    Ok(ParsedMessage {
        header,
        payloads,
        encrypted,
    })
}

pub(crate) fn parse_chain(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, ParseError> {
    let (payloads, _) = walk(first, bytes, false)?;
    Ok(payloads)
}

pub(crate) fn emit_chain(
    payloads: &[Payload],
    next_after_last: PayloadType,
) -> Result<Vec<u8>, EmitError> {
    let mut bytes = vec![0; chain_len(payloads)];
    emit_chain_into(payloads, next_after_last, &mut bytes)?;
    Ok(bytes)
}

pub(crate) fn emit_message(header: &Header, payloads: &[Payload]) -> Result<Vec<u8>, EmitError> {
    emit_with_encrypted(header, payloads, None).map(|(bytes, _)| bytes)
}

/// Emits a header, the unencrypted `payloads` and, if `encrypted` is given, an SK or SKF payload
/// of that kind with `body_len` zero bytes of body; returns the message and where the body
/// starts. The header's `next_payload` and `length` are computed.
pub(crate) fn emit_with_encrypted(
    header: &Header,
    payloads: &[Payload],
    encrypted: Option<(EncryptedKind, PayloadType, usize)>,
) -> Result<(Vec<u8>, usize), EmitError> {
    let chain_len = chain_len(payloads);
    let encrypted_len = encrypted.map_or(0, |(kind, _, body_len)| kind.header_len() + body_len);
    let total = HEADER_LEN + chain_len + encrypted_len;
    let length = u32::try_from(total).map_err(|_| EmitError::new(PayloadType::NONE, "length"))?;
    let encrypted_type = encrypted.map(|(kind, _, _)| kind.payload_type());
    let first = payloads
        .first()
        .map(Payload::payload_type)
        .or(encrypted_type)
        .unwrap_or(PayloadType::NONE);
    let mut bytes = vec![0; total];
    let header = Header {
        next_payload: first,
        length,
        ..*header
    };
    header.emit(&mut Packet::new_unchecked(&mut bytes[..]))?;
    let chain_end = HEADER_LEN + chain_len;
    emit_chain_into(
        payloads,
        encrypted_type.unwrap_or(PayloadType::NONE),
        &mut bytes[HEADER_LEN..chain_end],
    )?;
    let Some((kind, first_inner, _)) = encrypted else {
        return Ok((bytes, total));
    };
    let payload_type = kind.payload_type();
    let payload_length =
        u16::try_from(encrypted_len).map_err(|_| EmitError::new(payload_type, "payload length"))?;
    let mut packet = PayloadPacket::new_unchecked(&mut bytes[chain_end..]);
    packet.set_next_payload(first_inner);
    packet.set_critical(false);
    packet.set_payload_length(payload_length);
    if let EncryptedKind::Skf {
        fragment_number,
        total_fragments,
    } = kind
    {
        let mut fragment = FragmentPacket::new_unchecked(packet.body_mut());
        fragment.set_fragment_number(fragment_number);
        fragment.set_total_fragments(total_fragments);
    }
    Ok((bytes, chain_end + kind.header_len()))
}

impl ParsedMessage<'_> {
    /// Emits the message again: the header, the unencrypted payloads and the SK or SKF payload
    /// with its body as received. Reserved bits and critical flags come out as zero and unknown
    /// traffic selector types are dropped; otherwise the bytes are the ones parsed.
    ///
    /// # Errors
    ///
    /// Only for a representation changed after parsing so that a value no longer fits.
    pub fn emit(&self) -> Result<Vec<u8>, EmitError> {
        let encrypted = self
            .encrypted
            .map(|encrypted| (encrypted.kind, encrypted.first_inner, encrypted.body.len()));
        let (mut bytes, body_start) = emit_with_encrypted(&self.header, &self.payloads, encrypted)?;
        if let Some(encrypted) = &self.encrypted {
            bytes[body_start..].copy_from_slice(encrypted.body);
        }
        Ok(bytes)
    }

    /// The one-line summary of this message ([`crate::ike::summary()`]), with SKF fragments shown
    /// as `SKF(n/total)`.
    pub fn summary(&self) -> String {
        crate::ike::summary::summarize_parsed(self)
    }
}

/// How a payload chain ended.
enum ChainEnd {
    /// With Next Payload NONE.
    None,
    /// With an SK or SKF payload at `offset` of the chain bytes.
    Encrypted {
        offset: usize,
        payload_type: PayloadType,
    },
}

/// Walks a chain that starts with `first`, parsing every payload up to NONE or (if
/// `allow_encrypted`) an SK/SKF payload, which must end `bytes`.
fn walk(
    first: PayloadType,
    bytes: &[u8],
    allow_encrypted: bool,
) -> Result<(Vec<Payload>, ChainEnd), ParseError> {
    let mut payloads = Vec::new();
    let mut next = first;
    let mut last = PayloadType::NONE;
    let mut offset = 0;
    while next != PayloadType::NONE {
        if payloads.len() == MAX_PAYLOADS {
            return Err(ParseError::new(
                next,
                "next payload",
                ParseErrorKind::TooMany,
            ));
        }
        let packet =
            PayloadPacket::new_checked(&bytes[offset..]).map_err(|e| e.in_payload(next))?;
        let length = usize::from(packet.payload_length());
        if next == PayloadType::SK || next == PayloadType::SKF {
            if !allow_encrypted {
                // An SK payload inside an SK payload is never valid.
                return Err(ParseError::new(
                    last,
                    "next payload",
                    ParseErrorKind::InvalidValue,
                ));
            }
            // RFC 7296 §3.14: the SK payload is the last payload of the message.
            if offset + length != bytes.len() {
                return Err(ParseError::new(
                    next,
                    "payload length",
                    ParseErrorKind::TrailingData,
                ));
            }
            return Ok((
                payloads,
                ChainEnd::Encrypted {
                    offset,
                    payload_type: next,
                },
            ));
        }
        payloads.push(Payload::parse(next, packet.critical(), packet.body())?);
        last = next;
        next = packet.next_payload();
        offset += length;
    }
    if offset != bytes.len() {
        return Err(ParseError::new(
            last,
            "next payload",
            ParseErrorKind::TrailingData,
        ));
    }
    Ok((payloads, ChainEnd::None))
}

fn chain_len(payloads: &[Payload]) -> usize {
    payloads
        .iter()
        .map(|payload| GENERIC_HEADER_LEN + payload.buffer_len())
        .sum()
}

fn emit_chain_into(
    payloads: &[Payload],
    next_after_last: PayloadType,
    bytes: &mut [u8],
) -> Result<(), EmitError> {
    let mut offset = 0;
    for (index, payload) in payloads.iter().enumerate() {
        let next = payloads
            .get(index + 1)
            .map_or(next_after_last, Payload::payload_type);
        let len = GENERIC_HEADER_LEN + payload.buffer_len();
        let length = u16::try_from(len)
            .map_err(|_| EmitError::new(payload.payload_type(), "payload length"))?;
        let mut packet = PayloadPacket::new_unchecked(&mut bytes[offset..offset + len]);
        packet.set_next_payload(next);
        packet.set_critical(false);
        packet.set_payload_length(length);
        payload.emit(packet.body_mut())?;
        offset += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::Flags;
    use crate::ike::IdPayload;
    use crate::ike::KePayload;
    use crate::ike::NoncePayload;
    use crate::ike::NotifyPayload;
    use crate::ike::Proposal;
    use crate::ike::SaPayload;
    use crate::ike::Transform;
    use crate::ike::TsPayload;
    use crate::ike::emit_encrypted_message;
    use crate::ike::emit_payload_chain;
    use crate::registry::ExchangeType;
    use crate::registry::IdType;
    use crate::registry::KeMethod;
    use crate::registry::NotifyType;
    use crate::registry::ProtocolId;
    use crate::registry::TransformType;

    fn header(exchange: ExchangeType) -> Header {
        Header {
            spi_i: 0x1122_3344_5566_7788,
            spi_r: 0,
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange,
            flags: Flags {
                initiator: true,
                ..Flags::default()
            },
            message_id: 0,
            length: 0,
        }
    }

    fn notify(notify_type: NotifyType, data: &[u8]) -> Payload {
        Payload::Notify(NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: vec![],
            notify_type,
            data: data.to_vec(),
        })
    }

    fn init_payloads() -> Vec<Payload> {
        vec![
            Payload::Sa(SaPayload {
                proposals: vec![Proposal {
                    number: 1,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![Transform {
                        transform_type: TransformType::KE,
                        id: KeMethod::CURVE25519.0,
                        attributes: vec![],
                    }],
                }],
            }),
            Payload::Ke(KePayload {
                method: KeMethod::CURVE25519,
                data: vec![9; 32],
            }),
            Payload::Nonce(NoncePayload { data: vec![7; 32] }),
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, &[1; 20]),
            notify(NotifyType::NAT_DETECTION_DESTINATION_IP, &[2; 20]),
        ]
    }

    fn init_message() -> Vec<u8> {
        emit_message(&header(ExchangeType::IKE_SA_INIT), &init_payloads()).unwrap()
    }

    fn parse_error(bytes: &[u8]) -> ParseError {
        parse_message(bytes).unwrap_err()
    }

    #[test]
    fn message_round_trip() {
        let bytes = init_message();
        let message = parse_message(&bytes).unwrap();
        assert_eq!(message.header.next_payload, PayloadType::SA);
        assert_eq!(usize::try_from(message.header.length).unwrap(), bytes.len());
        assert_eq!(message.payloads, init_payloads());
        assert_eq!(message.encrypted, None);
        assert_eq!(message.emit().unwrap(), bytes);
        assert_eq!(
            message.summary(),
            "IKE_SA_INIT request mid=0 [SA KE No N(NAT_DETECTION_SOURCE_IP) \
             N(NAT_DETECTION_DESTINATION_IP)]"
        );
    }

    #[test]
    fn empty_message() {
        let bytes = emit_message(&header(ExchangeType::INFORMATIONAL), &[]).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN);
        let message = parse_message(&bytes).unwrap();
        assert!(message.payloads.is_empty());
        assert_eq!(message.header.next_payload, PayloadType::NONE);
    }

    #[test]
    fn encrypted_message() {
        let (mut bytes, offset) = emit_encrypted_message(
            &header(ExchangeType::IKE_AUTH),
            EncryptedKind::Sk,
            PayloadType::IDI,
            40,
        );
        assert_eq!(offset, HEADER_LEN + 4);
        assert_eq!(bytes.len(), offset + 40);
        bytes[offset..].fill(0x5a);
        let message = parse_message(&bytes).unwrap();
        assert_eq!(message.header.next_payload, PayloadType::SK);
        assert!(message.payloads.is_empty());
        let encrypted = message.encrypted.unwrap();
        assert_eq!(encrypted.kind, EncryptedKind::Sk);
        assert_eq!(encrypted.first_inner, PayloadType::IDI);
        assert_eq!(encrypted.authenticated_prefix, &bytes[..offset]);
        assert_eq!(encrypted.body, &[0x5a; 40]);
        assert_eq!(message.emit().unwrap(), bytes);
        assert_eq!(message.summary(), "IKE_AUTH request mid=0 [SK]");
    }

    #[test]
    fn fragment_message() {
        let kind = EncryptedKind::Skf {
            fragment_number: 1,
            total_fragments: 2,
        };
        let (mut bytes, offset) =
            emit_encrypted_message(&header(ExchangeType::IKE_AUTH), kind, PayloadType::IDI, 30);
        assert_eq!(offset, HEADER_LEN + 8);
        bytes[offset..].fill(0xa5);
        let message = parse_message(&bytes).unwrap();
        assert_eq!(message.header.next_payload, PayloadType::SKF);
        let encrypted = message.encrypted.unwrap();
        assert_eq!(encrypted.kind, kind);
        assert_eq!(encrypted.authenticated_prefix, &bytes[..offset]);
        assert_eq!(encrypted.authenticated_prefix[offset - 4..], [0, 1, 0, 2]);
        assert_eq!(encrypted.body.len(), 30);
        assert_eq!(message.summary(), "IKE_AUTH request mid=0 [SKF(1/2)]");
    }

    #[test]
    fn unencrypted_payloads_before_sk() {
        let header = header(ExchangeType::IKE_AUTH);
        let payloads = vec![notify(NotifyType::COOKIE, &[1, 2, 3, 4])];
        let (mut bytes, offset) = emit_with_encrypted(
            &header,
            &payloads,
            Some((EncryptedKind::Sk, PayloadType::IDI, 8)),
        )
        .unwrap();
        bytes[offset..].fill(1);
        let message = parse_message(&bytes).unwrap();
        assert_eq!(message.payloads, payloads);
        assert_eq!(message.encrypted.unwrap().body, &[1; 8]);
        assert_eq!(message.emit().unwrap(), bytes);
    }

    #[test]
    fn inner_chain() {
        let inner = vec![
            Payload::IdI(IdPayload {
                id_type: IdType::FQDN,
                data: b"a.test".to_vec(),
            }),
            Payload::TsI(TsPayload::default()),
            notify(NotifyType::INITIAL_CONTACT, &[]),
        ];
        let bytes = emit_payload_chain(&inner, PayloadType::NONE);
        assert_eq!(parse_chain(PayloadType::IDI, &bytes).unwrap(), inner);
        assert_eq!(parse_chain(PayloadType::NONE, &[]).unwrap(), vec![]);
    }

    #[test]
    fn sk_inside_sk_is_rejected() {
        let mut bytes =
            emit_payload_chain(&[notify(NotifyType::INITIAL_CONTACT, &[])], PayloadType::SK);
        bytes.extend_from_slice(&[0, 0, 0, 5, 1]);
        assert_eq!(
            parse_chain(PayloadType::NOTIFY, &bytes).unwrap_err(),
            ParseError::new(
                PayloadType::NOTIFY,
                "next payload",
                ParseErrorKind::InvalidValue
            )
        );
    }

    #[test]
    fn sk_must_be_last() {
        let (mut bytes, _) = emit_encrypted_message(
            &header(ExchangeType::IKE_AUTH),
            EncryptedKind::Sk,
            PayloadType::IDI,
            8,
        );
        // Shorten the SK payload length by 2: two bytes follow it.
        let at = HEADER_LEN + 2;
        bytes[at + 1] -= 2;
        assert_eq!(
            parse_error(&bytes),
            ParseError::new(
                PayloadType::SK,
                "payload length",
                ParseErrorKind::TrailingData
            )
        );
    }

    #[test]
    fn unknown_payloads() {
        let mut bytes = init_message();
        // Retype the last payload (a notify) as 99, non-critical, then critical.
        let nat_d_len = GENERIC_HEADER_LEN + 4 + 20;
        let previous = bytes.len() - 2 * nat_d_len;
        bytes[previous] = 99;
        let message = parse_message(&bytes).unwrap();
        assert_eq!(
            message.payloads.last().unwrap().payload_type(),
            PayloadType(99)
        );
        assert!(message.summary().ends_with("U(99)]"));
        assert_eq!(message.emit().unwrap(), bytes);
        let last = bytes.len() - nat_d_len;
        bytes[last + 1] = 0x80;
        assert_eq!(
            parse_error(&bytes),
            ParseError::new(
                PayloadType(99),
                "critical",
                ParseErrorKind::UnsupportedCritical(PayloadType(99))
            )
        );
        // The critical bit of a known payload is ignored.
        let mut bytes = init_message();
        bytes[HEADER_LEN + 1] = 0x80;
        assert_eq!(parse_message(&bytes).unwrap().payloads, init_payloads());
    }

    #[test]
    fn bad_chains() {
        let bytes = init_message();
        // Trailing data: claim the first payload is the last.
        let mut trailing = bytes.clone();
        trailing[HEADER_LEN] = 0;
        assert_eq!(
            parse_error(&trailing),
            ParseError::new(
                PayloadType::SA,
                "next payload",
                ParseErrorKind::TrailingData
            )
        );
        // The chain promises a payload after the last one.
        let mut promise = bytes.clone();
        let last = bytes.len() - (GENERIC_HEADER_LEN + 4 + 20);
        promise[last] = PayloadType::VENDOR_ID.0;
        assert_eq!(
            parse_error(&promise),
            ParseError::new(
                PayloadType::VENDOR_ID,
                "generic payload header",
                ParseErrorKind::Truncated
            )
        );
        // A payload length past the end.
        let mut overlong = bytes.clone();
        overlong[last + 3] += 1;
        assert_eq!(
            parse_error(&overlong),
            ParseError::new(
                PayloadType::NOTIFY,
                "payload length",
                ParseErrorKind::BadLength
            )
        );
        // A payload length under 4.
        let mut short = bytes.clone();
        short[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&[0, 3]);
        assert_eq!(
            parse_error(&short),
            ParseError::new(PayloadType::SA, "payload length", ParseErrorKind::BadLength)
        );
        // Header length not the buffer's.
        assert_eq!(parse_error(&bytes[..bytes.len() - 1]).field, "length");
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(parse_error(&longer).kind, ParseErrorKind::TrailingData);
        // Major version 3.
        let mut v3 = bytes;
        v3[17] = 0x30;
        assert_eq!(parse_error(&v3).kind, ParseErrorKind::UnsupportedVersion(3));
    }

    #[test]
    fn errors_name_idr_and_tsr() {
        assert_eq!(
            parse_chain(PayloadType::IDR, &[0, 0, 0, 7, 1, 0, 0]).unwrap_err(),
            ParseError::new(
                PayloadType::IDR,
                "payload length",
                ParseErrorKind::BadLength
            )
        );
        assert_eq!(
            parse_chain(PayloadType::TSR, &[0, 0, 0, 8, 1, 0, 0, 0]).unwrap_err(),
            ParseError::new(
                PayloadType::TSR,
                "number of TSs",
                ParseErrorKind::Inconsistent
            )
        );
    }

    #[test]
    fn too_many_payloads() {
        let vendor = Payload::VendorId(crate::ike::VendorIdPayload { data: vec![] });
        let payloads = vec![vendor; MAX_PAYLOADS + 1];
        let bytes = emit_payload_chain(&payloads, PayloadType::NONE);
        assert_eq!(
            parse_chain(PayloadType::VENDOR_ID, &bytes).unwrap_err(),
            ParseError::new(
                PayloadType::VENDOR_ID,
                "next payload",
                ParseErrorKind::TooMany
            )
        );
        assert_eq!(
            parse_chain(PayloadType::VENDOR_ID, &bytes[4..])
                .unwrap()
                .len(),
            MAX_PAYLOADS
        );
    }

    #[test]
    fn emit_reports_oversized_payloads() {
        let huge = Payload::VendorId(crate::ike::VendorIdPayload {
            data: vec![0; 65_532],
        });
        assert_eq!(
            emit_chain(&[huge], PayloadType::NONE).unwrap_err(),
            EmitError::new(PayloadType::VENDOR_ID, "payload length")
        );
        let result = crate::ike::try_emit_encrypted_message(
            &header(ExchangeType::IKE_AUTH),
            EncryptedKind::Sk,
            PayloadType::IDI,
            65_532,
        );
        assert_eq!(
            result.unwrap_err(),
            EmitError::new(PayloadType::SK, "payload length")
        );
    }
}
