//! Fuzz entry points, shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay test
//! below, so every CI run on stable covers the committed corpora (quinn's pattern).
//!
//! Each entry point feeds arbitrary bytes to a parser and, when they parse, checks that emitting
//! the result and parsing it again gives the same value (rustls's `fuzz_message` shape), and
//! that emitting is canonical (emit ∘ parse ∘ emit = emit). A panic is a finding.
//!
//! Compiled only under `cfg(fuzzing)` (set by cargo-fuzz) and in tests.

use crate::esp;
use crate::ike;
use crate::ike::Payload;
use crate::ike::SaPayload;
use crate::ike::TsPayload;
use crate::registry::PayloadType;

/// Parses an IKE message; if it parses, re-emits and re-parses it and checks both agree. The
/// body of an SK/SKF payload is also parsed as a plaintext inner chain.
///
/// # Panics
///
/// On any disagreement, or on a panic inside the parser: that is what the fuzzer looks for.
pub fn ike_message(data: &[u8]) {
    let Ok(message) = ike::parse_message(data) else {
        return;
    };
    let _ = message.summary();
    let emitted = match message.emit() {
        Ok(emitted) => emitted,
        Err(error) => panic!("parsed message does not emit: {error}"),
    };
    let reparsed = match ike::parse_message(&emitted) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!("emitted message does not parse: {error}"),
    };
    assert_eq!(
        ike::Header {
            length: reparsed.header.length,
            ..message.header
        },
        reparsed.header
    );
    assert_eq!(without_unknown_ts(&message.payloads), reparsed.payloads);
    assert_eq!(framing(&message), framing(&reparsed));
    assert_eq!(reparsed.emit().ok(), Some(emitted));
    if let Some(encrypted) = message.encrypted {
        inner_chain(encrypted.first_inner, encrypted.body);
    }
}

/// Parses a payload chain as the plaintext of an SK payload starting with `first`, then checks
/// the emit → parse round trip.
///
/// # Panics
///
/// On any disagreement.
pub fn inner_chain(first: PayloadType, data: &[u8]) {
    let Ok(payloads) = ike::parse_payload_chain(first, data) else {
        return;
    };
    let emitted = match ike::try_emit_payload_chain(&payloads, PayloadType::NONE) {
        Ok(emitted) => emitted,
        Err(error) => panic!("parsed chain does not emit: {error}"),
    };
    let reemitted_first = payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type);
    match ike::parse_payload_chain(reemitted_first, &emitted) {
        Ok(reparsed) => assert_eq!(without_unknown_ts(&payloads), reparsed),
        Err(error) => panic!("emitted chain does not parse: {error}"),
    }
}

/// Parses an SA payload body (proposals, transforms, attributes) and checks the round trip.
///
/// # Panics
///
/// On any disagreement.
pub fn sa_proposals(data: &[u8]) {
    let Ok(sa) = SaPayload::parse(data) else {
        return;
    };
    let mut emitted = vec![0; sa.buffer_len()];
    if let Err(error) = sa.emit(&mut emitted) {
        panic!("parsed SA payload does not emit: {error}");
    }
    match SaPayload::parse(&emitted) {
        Ok(reparsed) => assert_eq!(sa, reparsed),
        Err(error) => panic!("emitted SA payload does not parse: {error}"),
    }
    // Only reserved octets may differ from the input.
    assert_eq!(emitted.len(), data.len());
}

/// Parses a TSi/TSr payload body and checks the round trip (unknown selector types are
/// dropped on emit).
///
/// # Panics
///
/// On any disagreement.
pub fn traffic_selectors(data: &[u8]) {
    let Ok(ts) = TsPayload::parse(data) else {
        return;
    };
    let mut emitted = vec![0; ts.buffer_len()];
    if let Err(error) = ts.emit(&mut emitted) {
        panic!("parsed TS payload does not emit: {error}");
    }
    match TsPayload::parse(&emitted) {
        Ok(reparsed) => {
            assert_eq!(ts.selectors, reparsed.selectors);
            assert!(reparsed.unknown_types.is_empty());
        }
        Err(error) => panic!("emitted TS payload does not parse: {error}"),
    }
}

/// Classifies a UDP/4500 datagram, reads an ESP header from it, and parses its tail as an ESP
/// trailer (as if it were decrypted plaintext), checking that re-emitting the trailer gives the
/// same bytes.
///
/// # Panics
///
/// On any disagreement.
pub fn esp_packet(data: &[u8]) {
    if let esp::Udp4500::Ike(message) = esp::classify_udp4500(data) {
        ike_message(message);
    }
    if let Ok(packet) = esp::Packet::new_checked(data) {
        let _ = (packet.sequence_number(), packet.payload().len());
        if let Ok(header) = esp::Header::parse(&packet) {
            let mut bytes = [0; esp::ESP_HEADER_LEN];
            if let Err(error) = header.emit(&mut esp::Packet::new_unchecked(&mut bytes[..])) {
                panic!("ESP header does not emit: {error}");
            }
            assert_eq!(bytes[..], data[..esp::ESP_HEADER_LEN]);
        }
    }
    if let Ok((inner, trailer)) = esp::Trailer::parse(data) {
        let mut tail = vec![0; trailer.buffer_len()];
        if let Err(error) = trailer.emit(&mut tail) {
            panic!("ESP trailer does not emit: {error}");
        }
        assert_eq!(tail[..], data[inner.len()..]);
    }
}

/// The SK/SKF framing and body of a message (its authenticated prefix holds reserved bits that
/// emit clears).
fn framing<'a>(
    message: &ike::ParsedMessage<'a>,
) -> Option<(ike::EncryptedKind, PayloadType, &'a [u8])> {
    message
        .encrypted
        .map(|encrypted| (encrypted.kind, encrypted.first_inner, encrypted.body))
}

/// The payloads as they come back from emit → parse: TS payloads lose their unknown types.
fn without_unknown_ts(payloads: &[Payload]) -> Vec<Payload> {
    payloads
        .iter()
        .cloned()
        .map(|payload| match payload {
            Payload::TsI(ts) => Payload::TsI(TsPayload {
                unknown_types: vec![],
                ..ts
            }),
            Payload::TsR(ts) => Payload::TsR(TsPayload {
                unknown_types: vec![],
                ..ts
            }),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests;
