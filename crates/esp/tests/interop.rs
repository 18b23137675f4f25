//! Interop checks of the byte layout: packets sealed by hitless-esp are opened by hand with
//! aws-lc-rs used directly (not through the provider), following the RFC text; and packets
//! built by hand are opened by hitless-esp.
//!
//! - AES-GCM ([RFC 4106] §3, §4, §5): nonce = salt | IV, IV = sequence number, AAD = SPI |
//!   sequence (or SPI | high | low with ESN).
//! - ChaCha20-Poly1305 ([RFC 7634] §2, §2.1): the same layout.
//! - AES-CBC + HMAC-SHA-256-128 ([RFC 3602], [RFC 4868]): ICV over header, IV and ciphertext,
//!   then the high 32 bits with ESN ([RFC 4303] §2.8, §3.3.2.1).
//!
//! [RFC 4106]: https://www.rfc-editor.org/rfc/rfc4106
//! [RFC 7634]: https://www.rfc-editor.org/rfc/rfc7634
//! [RFC 3602]: https://www.rfc-editor.org/rfc/rfc3602
//! [RFC 4868]: https://www.rfc-editor.org/rfc/rfc4868
//! [RFC 4303]: https://www.rfc-editor.org/rfc/rfc4303
#![allow(
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used
)]

mod common;

use aws_lc_rs::aead;
use aws_lc_rs::cipher;
use aws_lc_rs::hmac;
use common::*;

/// Checks and strips the RFC 4303 §2.4 trailer; returns the payload.
fn strip_trailer(plaintext: &[u8], next_header: u8) -> Vec<u8> {
    let (&nh, rest) = plaintext.split_last().unwrap();
    let (&pad_len, rest) = rest.split_last().unwrap();
    assert_eq!(nh, next_header);
    let payload_len = rest.len() - usize::from(pad_len);
    let padding: Vec<u8> = (1..=pad_len).collect();
    assert_eq!(
        &rest[payload_len..],
        &padding[..],
        "padding must be 1, 2, 3, …"
    );
    rest[..payload_len].to_vec()
}

fn aead_open_by_hand(
    algorithm: &'static aead::Algorithm,
    key_and_salt: &[u8],
    esp: &[u8],
    high: Option<u32>,
) -> Vec<u8> {
    let key_len = algorithm.key_len();
    let key =
        aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, &key_and_salt[..key_len]).unwrap());
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key_and_salt[key_len..key_len + 4]);
    nonce[4..].copy_from_slice(&esp[8..16]);
    let mut aad = esp[..4].to_vec();
    if let Some(high) = high {
        aad.extend_from_slice(&high.to_be_bytes());
    }
    aad.extend_from_slice(&esp[4..8]);
    let mut in_out = esp[16..].to_vec();
    let plaintext = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&aad),
            &mut in_out,
        )
        .expect("aws-lc-rs must open what hitless-esp sealed");
    plaintext.to_vec()
}

fn aead_seal_by_hand(
    algorithm: &'static aead::Algorithm,
    key_and_salt: &[u8],
    spi: u32,
    seq: u64,
    esn: bool,
    plaintext: &[u8],
) -> Vec<u8> {
    let key_len = algorithm.key_len();
    let key =
        aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, &key_and_salt[..key_len]).unwrap());
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key_and_salt[key_len..key_len + 4]);
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    let mut esp = spi.to_be_bytes().to_vec();
    esp.extend_from_slice(&seq.to_be_bytes()[4..]);
    let mut aad = esp.clone();
    if esn {
        aad = spi.to_be_bytes().to_vec();
        aad.extend_from_slice(&seq.to_be_bytes());
    }
    esp.extend_from_slice(&seq.to_be_bytes());
    let mut body = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&aad),
            &mut body,
        )
        .unwrap();
    esp.extend_from_slice(&body);
    esp.extend_from_slice(tag.as_ref());
    esp
}

#[test]
fn aead_packets_open_with_aws_lc_directly() {
    let cases: [(Suite, &'static aead::Algorithm); 3] = [
        (Suite::Aes128Gcm, &aead::AES_128_GCM),
        (Suite::Aes256Gcm, &aead::AES_256_GCM),
        (Suite::ChaCha20Poly1305, &aead::CHACHA20_POLY1305),
    ];
    for (suite, algorithm) in cases {
        for esn in [false, true] {
            let mut setup = Setup::new(suite);
            setup.esn = esn;
            // With ESN, start just below 2^32 so the high bits are 1 after two packets.
            setup.initial_sequence = if esn { u64::from(u32::MAX) - 1 } else { 41 };
            let pair = Pair::new(setup.clone());
            let (key, _) = keys(suite, 1);
            for i in 0..3u64 {
                let inner = a_to_b(33 + i as usize);
                let esp = seal(&pair.a, &inner).unwrap();
                let seq = setup.initial_sequence + 1 + i;
                assert_eq!(&esp[..4], &SPI_AB.0.to_be_bytes());
                assert_eq!(
                    &esp[4..8],
                    &seq.to_be_bytes()[4..],
                    "low 32 bits on the wire"
                );
                assert_eq!(
                    &esp[8..16],
                    &seq.to_be_bytes(),
                    "IV = 64-bit sequence number"
                );
                let high = esn.then_some((seq >> 32) as u32);
                let plaintext = aead_open_by_hand(algorithm, key.expose(), &esp, high);
                assert_eq!(plaintext.len() % 4, 0, "4-byte alignment");
                assert_eq!(strip_trailer(&plaintext, 4), inner, "{suite:?} esn={esn}");
                // And the other way: a packet built by hand opens at hitless-esp.
                let mut by_hand = inner.clone();
                let pad = (4 - (inner.len() + 2) % 4) % 4;
                by_hand.extend((1..=pad as u8).chain([pad as u8, 4]));
                let esp =
                    aead_seal_by_hand(algorithm, key.expose(), SPI_AB.0, seq + 100, esn, &by_hand);
                assert_eq!(
                    open(&pair.b, &esp).unwrap(),
                    inner,
                    "{suite:?} esn={esn} by hand"
                );
            }
        }
    }
}

#[test]
fn cbc_hmac_packets_verify_and_decrypt_with_aws_lc_directly() {
    for esn in [false, true] {
        let mut setup = Setup::new(Suite::Aes128CbcSha256);
        setup.esn = esn;
        setup.initial_sequence = (7 << 32) * u64::from(esn) + 99;
        let pair = Pair::new(setup.clone());
        let (encr, integ) = keys(Suite::Aes128CbcSha256, 1);
        let inner = a_to_b(70);
        let esp = seal(&pair.a, &inner).unwrap();
        let seq = setup.initial_sequence + 1;
        assert_eq!(&esp[4..8], &seq.to_be_bytes()[4..]);
        let (signed, icv) = esp.split_at(esp.len() - 16);
        // RFC 4868 §2.6: HMAC-SHA-256 truncated to 128 bits; with ESN the high 32 bits follow
        // the packet in the ICV input (RFC 4303 §3.3.2.1) without being sent.
        let key = hmac::Key::new(hmac::HMAC_SHA256, integ.expose());
        let mut context = hmac::Context::with_key(&key);
        context.update(signed);
        if esn {
            context.update(&((seq >> 32) as u32).to_be_bytes());
        }
        assert_eq!(&context.sign().as_ref()[..16], icv, "esn={esn}");
        // RFC 3602: random 16-byte IV, then CBC without padding of its own.
        let iv: [u8; 16] = signed[8..24].try_into().unwrap();
        let mut body = signed[24..].to_vec();
        assert_eq!(body.len() % 16, 0);
        let key = cipher::DecryptingKey::cbc(
            cipher::UnboundCipherKey::new(&cipher::AES_128, encr.expose()).unwrap(),
        )
        .unwrap();
        let plaintext = key
            .decrypt(&mut body, cipher::DecryptionContext::Iv128(iv.into()))
            .unwrap();
        assert_eq!(strip_trailer(plaintext, 4), inner);
        // Two packets of the same content get different IVs.
        let again = seal(&pair.a, &inner).unwrap();
        assert_ne!(&again[8..24], &esp[8..24]);
    }
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// RFC 7634 Appendix A: the ChaCha20-Poly1305 ESP example (tunnel mode, an ICMP echo request
/// from 198.51.100.5 to 192.0.2.5, SPI 0x01020304, sequence number 5).
#[test]
fn rfc7634_appendix_a_esp_example() {
    use hitless_sadb::Direction;
    use hitless_sadb::SaBackend;
    use hitless_sadb::SaCommand;
    use hitless_sadb::Spi;

    let keymat = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3");
    let inner_with_trailer = hex(
        "4500 0054 a6f2 0000 4001 e778 c633 6405 c000 0205 0800 5b7a 3a08 0000
         553b ec10 0007 3627 0809 0a0b 0c0d 0e0f 1011 1213 1415 1617 1819 1a1b
         1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637
         0102 0204",
    );
    let inner = &inner_with_trailer[..inner_with_trailer.len() - 4];
    let mut esp = hex("01020304 00000005 1011121314151617");
    esp.extend(hex(
        "2403 9428 b97f 417e 3c13 753a 4f05 087b 67c3 52e6 a7fa b1b9 82d4 66ef
         407a e5c6 14ee 8099 d528 44eb 61aa 95df ab4c 02f7 2aa7 1e7c 4c4f 64c9
         befe 2fac c638 e8f3 cbec 163f ac46 9b50 2773 f6fb 94e6 64da 9165 b828
         29f6 41e0 76aa a826 6b7f b0f7 b11b 3699 07e1 ad43",
    ));

    let mut setup = Setup::new(Suite::ChaCha20Poly1305);
    setup.outer_a = "203.0.113.1:4500".parse().unwrap();
    setup.outer_b = "203.0.113.2:4500".parse().unwrap();
    let spec = |direction, initial_sequence| {
        let mut spec = sa_spec(&setup, Spi(0x0102_0304), direction, false, 0);
        spec.encr_key = hitless_crypto::SecretBytes::from_slice(&keymat);
        spec.local_ts = vec![ts("192.0.2.5", "192.0.2.5")];
        spec.remote_ts = vec![ts("198.51.100.5", "198.51.100.5")];
        spec.initial_sequence = initial_sequence;
        spec
    };
    let (plane, mut control) = hitless_esp::DataPlane::new(setup.config, provider());
    control
        .apply(&SaCommand::AddSa(Box::new(spec(Direction::Inbound, 0))))
        .unwrap();
    let mut buf = Buf::with(&esp);
    let opened = plane
        .decapsulate(&mut buf.bytes, hitless_esp::HEADROOM, esp.len())
        .unwrap();
    assert_eq!(opened.inner, inner);
    assert_eq!(opened.spi, Spi(0x0102_0304));

    // The same packet sealed by hitless-esp at sequence 5 carries the RFC's plaintext and
    // trailer (pad 01 02, pad length 2, next header 4); only the IV differs (ours is the
    // sequence number), so the ciphertext does too.
    let (plane, mut control) = hitless_esp::DataPlane::new(setup.config, provider());
    let mut outbound = spec(Direction::Outbound, 4);
    std::mem::swap(&mut outbound.local_ts, &mut outbound.remote_ts);
    control
        .apply(&SaCommand::AddSa(Box::new(outbound.clone())))
        .unwrap();
    control
        .apply(&SaCommand::AddPolicy(hitless_sadb::PolicySpec {
            reqid: REQID,
            local_ts: outbound.local_ts.clone(),
            remote_ts: outbound.remote_ts.clone(),
            mode: hitless_sadb::Mode::Tunnel,
        }))
        .unwrap();
    control
        .apply(&SaCommand::RouteOutbound {
            reqid: REQID,
            resource: None,
            spi: Spi(0x0102_0304),
        })
        .unwrap();
    let node = Node { plane, control };
    let sealed = seal(&node, inner).unwrap();
    assert_eq!(&sealed[..8], &esp[..8]);
    assert_eq!(sealed.len(), esp.len());
    let plaintext = aead_open_by_hand(&aead::CHACHA20_POLY1305, &keymat, &sealed, None);
    assert_eq!(plaintext, inner_with_trailer);
}
