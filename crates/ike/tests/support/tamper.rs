//! Authentic but wrong messages: opens and seals SK payloads (AEAD suites only, which the
//! default proposals choose) with the keys of an exported IKE SA, so a test can rewrite what a
//! peer says (RFC 7296 §3.14, RFC 5282).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use hitless_crypto::CryptoProvider;
use hitless_ike::IkeSaSnapshot;
use hitless_wire::ike;
use hitless_wire::ike::EncryptedKind;
use hitless_wire::ike::Header;
use hitless_wire::ike::Payload;
use hitless_wire::registry::PayloadType;

use super::Node;
use super::Pair;
use super::Wire;

/// The SK payload's contents of `message`, sent on the IKE SA of `snapshot`.
pub fn open(
    crypto: &CryptoProvider,
    snapshot: &IkeSaSnapshot,
    message: &[u8],
) -> (Header, Vec<Payload>) {
    let parsed = ike::parse_message(message).unwrap();
    let encrypted = parsed.encrypted.expect("an SK message");
    assert_eq!(encrypted.kind, EncryptedKind::Sk);
    let encryption = snapshot.algorithms.encryption;
    let aead = crypto
        .aead(encryption.id, encryption.key_bits)
        .expect("an AEAD suite");
    let key = if parsed.header.flags.initiator {
        &snapshot.keys.sk_ei
    } else {
        &snapshot.keys.sk_er
    };
    let key = aead.new_key(key.expose()).unwrap();
    let (iv, rest) = encrypted.body.split_at(aead.iv_len());
    let (ciphertext, tag) = rest.split_at(rest.len() - aead.tag_len());
    let mut data = ciphertext.to_vec();
    key.open_in_place(iv, encrypted.authenticated_prefix, &mut data, tag)
        .unwrap();
    let pad = usize::from(data.pop().unwrap());
    data.truncate(data.len() - pad);
    let payloads = ike::parse_payload_chain(encrypted.first_inner, &data).unwrap();
    (parsed.header, payloads)
}

/// `payloads` in an SK payload under `header`, protected as the sender of `header` would.
pub fn seal(
    crypto: &CryptoProvider,
    snapshot: &IkeSaSnapshot,
    header: &Header,
    payloads: &[Payload],
) -> Vec<u8> {
    let encryption = snapshot.algorithms.encryption;
    let aead = crypto
        .aead(encryption.id, encryption.key_bits)
        .expect("an AEAD suite");
    let key = if header.flags.initiator {
        &snapshot.keys.sk_ei
    } else {
        &snapshot.keys.sk_er
    };
    let key = aead.new_key(key.expose()).unwrap();
    let first = payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type);
    let mut plaintext = ike::try_emit_payload_chain(payloads, PayloadType::NONE).unwrap();
    plaintext.push(0);
    let body_len = aead.iv_len() + plaintext.len() + aead.tag_len();
    let (mut message, offset) =
        ike::try_emit_encrypted_message(header, EncryptedKind::Sk, first, body_len).unwrap();
    let (aad, body) = message.split_at_mut(offset);
    let (iv, rest) = body.split_at_mut(aead.iv_len());
    iv.fill(0x42);
    let (data, tag) = rest.split_at_mut(plaintext.len());
    data.copy_from_slice(&plaintext);
    key.seal_in_place(iv, aad, data, tag).unwrap();
    message
}

/// The snapshot of `node`'s only IKE SA.
pub fn snapshot(pair: &Pair, node: &Node) -> IkeSaSnapshot {
    let ike = node.established();
    node.endpoint.export(pair.now, ike).unwrap()
}

/// `wire`, sent by `sender`, with its SK contents rewritten by `edit`.
pub fn rewrite(
    pair: &Pair,
    sender: &Node,
    wire: &Wire,
    edit: impl FnOnce(&mut Vec<Payload>),
) -> Wire {
    let snapshot = snapshot(pair, sender);
    let crypto = sender.endpoint.crypto();
    let (header, mut payloads) = open(crypto, &snapshot, &wire.payload);
    edit(&mut payloads);
    let mut wire = wire.clone();
    wire.payload = seal(crypto, &snapshot, &header, &payloads);
    wire
}

/// A new request from `sender` on its only IKE SA with the next message ID the peer expects.
pub fn request(
    pair: &Pair,
    sender: &Node,
    exchange: hitless_wire::registry::ExchangeType,
    payloads: &[Payload],
    template: &Wire,
) -> Wire {
    let snapshot = snapshot(pair, sender);
    let info = sender.endpoint.ike_sa(sender.established()).unwrap();
    let header = Header {
        spi_i: snapshot.spis.initiator.0,
        spi_r: snapshot.spis.responder.0,
        next_payload: PayloadType::NONE,
        major_version: 2,
        minor_version: 0,
        exchange,
        flags: ike::Flags {
            initiator: snapshot.initiator,
            version: false,
            response: false,
        },
        message_id: info.next_request,
        length: 0,
    };
    let mut wire = template.clone();
    wire.payload = seal(sender.endpoint.crypto(), &snapshot, &header, payloads);
    wire
}
