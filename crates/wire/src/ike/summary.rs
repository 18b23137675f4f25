//! One-line message summaries for logs and transcripts, in the shape strongSwan's message
//! logging made familiar: `IKE_AUTH request mid=1 [IDi AUTH SA TSi TSr N(INITIAL_CONTACT)]`.
//!
//! Payloads use short names (RFC 7296 §3.2 notation where it has one): SA KE IDi IDr CERT
//! CERTREQ AUTH No N(TYPE) D V TSi TSr SK CP EAP SKF; an unknown payload shows as `U(type)`.
//! Nothing secret is printed: only types, never contents.

use std::fmt::Write;

use crate::ike::EncryptedKind;
use crate::ike::Header;
use crate::ike::ParsedMessage;
use crate::ike::Payload;

pub(crate) fn summarize(header: &Header, payloads: &[Payload], encrypted: bool) -> String {
    let encrypted = encrypted.then_some(EncryptedKind::Sk);
    summarize_with(header, payloads, encrypted)
}

pub(crate) fn summarize_parsed(message: &ParsedMessage<'_>) -> String {
    let encrypted = message.encrypted.map(|encrypted| encrypted.kind);
    summarize_with(&message.header, &message.payloads, encrypted)
}

fn summarize_with(
    header: &Header,
    payloads: &[Payload],
    encrypted: Option<EncryptedKind>,
) -> String {
    let role = if header.flags.response {
        "response"
    } else {
        "request"
    };
    let mut line = format!("{} {role} mid={} [", header.exchange, header.message_id);
    let mut names = payloads.iter().map(short_name).collect::<Vec<_>>();
    match encrypted {
        Some(EncryptedKind::Sk) => names.push("SK".to_owned()),
        Some(EncryptedKind::Skf {
            fragment_number,
            total_fragments,
        }) => names.push(format!("SKF({fragment_number}/{total_fragments})")),
        None => {}
    }
    line.push_str(&names.join(" "));
    line.push(']');
    line
}

fn short_name(payload: &Payload) -> String {
    let name = match payload {
        Payload::Sa(_) => "SA",
        Payload::Ke(_) => "KE",
        Payload::IdI(_) => "IDi",
        Payload::IdR(_) => "IDr",
        Payload::Cert(_) => "CERT",
        Payload::CertReq(_) => "CERTREQ",
        Payload::Auth(_) => "AUTH",
        Payload::Nonce(_) => "No",
        Payload::Delete(_) => "D",
        Payload::VendorId(_) => "V",
        Payload::TsI(_) => "TSi",
        Payload::TsR(_) => "TSr",
        Payload::Cp(_) => "CP",
        Payload::Eap(_) => "EAP",
        Payload::Notify(notify) => {
            let mut name = String::from("N(");
            match notify.notify_type.name() {
                Some(known) => name.push_str(known),
                None => {
                    let _ = write!(name, "{}", notify.notify_type.0);
                }
            }
            name.push(')');
            return name;
        }
        Payload::Unknown { payload_type, .. } => return format!("U({})", payload_type.0),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ike::AuthPayload;
    use crate::ike::Flags;
    use crate::ike::IdPayload;
    use crate::ike::NotifyPayload;
    use crate::ike::SaPayload;
    use crate::ike::TsPayload;
    use crate::registry::AuthMethod;
    use crate::registry::ExchangeType;
    use crate::registry::IdType;
    use crate::registry::NotifyType;
    use crate::registry::PayloadType;
    use crate::registry::ProtocolId;

    fn header(response: bool) -> Header {
        Header {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::SK,
            major_version: 2,
            minor_version: 0,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags {
                initiator: true,
                version: false,
                response,
            },
            message_id: 1,
            length: 0,
        }
    }

    fn notify(notify_type: NotifyType) -> Payload {
        Payload::Notify(NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: vec![],
            notify_type,
            data: vec![],
        })
    }

    #[test]
    fn ike_auth_request() {
        let payloads = [
            Payload::IdI(IdPayload {
                id_type: IdType::FQDN,
                data: b"a".to_vec(),
            }),
            Payload::Auth(AuthPayload {
                method: AuthMethod::SHARED_KEY_MIC,
                data: vec![1],
            }),
            Payload::Sa(SaPayload::default()),
            Payload::TsI(TsPayload::default()),
            Payload::TsR(TsPayload::default()),
            notify(NotifyType::INITIAL_CONTACT),
        ];
        assert_eq!(
            summarize(&header(false), &payloads, false),
            "IKE_AUTH request mid=1 [IDi AUTH SA TSi TSr N(INITIAL_CONTACT)]"
        );
    }

    #[test]
    fn encrypted_and_unknown() {
        assert_eq!(
            summarize(&header(true), &[], true),
            "IKE_AUTH response mid=1 [SK]"
        );
        let payloads = [
            notify(NotifyType(40000)),
            Payload::Unknown {
                payload_type: PayloadType(99),
                body: vec![],
            },
        ];
        assert_eq!(
            summarize(&header(false), &payloads, true),
            "IKE_AUTH request mid=1 [N(40000) U(99) SK]"
        );
        assert_eq!(
            summarize_with(
                &header(false),
                &[],
                Some(EncryptedKind::Skf {
                    fragment_number: 1,
                    total_fragments: 3
                })
            ),
            "IKE_AUTH request mid=1 [SKF(1/3)]"
        );
    }

    #[test]
    fn unknown_exchange() {
        let header = Header {
            exchange: ExchangeType(200),
            ..header(false)
        };
        assert_eq!(
            summarize(&header, &[], false),
            "ExchangeType(200) request mid=1 []"
        );
    }
}
