//! A conformance suite every [`CryptoProvider`] must pass (the shape of rustls's
//! `rustls-provider-test`).
//!
//! Each check panics with a message naming the algorithm and the property that failed, so a
//! provider crate runs it from an ordinary `#[test]`:
//!
//! ```ignore
//! #[test]
//! fn conformance() {
//!     hitless_crypto::conformance::check_provider(&my_provider());
//! }
//! ```
//!
//! It checks what the engines rely on: declared lengths, AEAD and cipher round trips, tamper
//! detection, key-length checks, prf+ lengths and its 255-block limit ([RFC 7296 §2.13]), key
//! exchange agreement for every method with the public-value lengths of [RFC 7296 §3.4] (and
//! the method's own RFC), and rejection of malformed or degenerate peer values ([RFC 6989]).
//! Known-answer tests belong to each provider; these checks hold for any correct provider,
//! including the insecure deterministic one.
//!
//! Compiled only with the `conformance` feature; provider crates enable it in
//! `[dev-dependencies]`.
//!
//! [RFC 7296 §2.13]: https://www.rfc-editor.org/rfc/rfc7296#section-2.13
//! [RFC 7296 §3.4]: https://www.rfc-editor.org/rfc/rfc7296#section-3.4
//! [RFC 6989]: https://www.rfc-editor.org/rfc/rfc6989

// Test support: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use hitless_wire::registry::EncrId;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

use crate::derive::prf_plus;
use crate::provider::Aead;
use crate::provider::Cipher;
use crate::provider::CryptoError;
use crate::provider::CryptoProvider;
use crate::provider::Integ;
use crate::provider::KeyExchange;
use crate::provider::Prf;

/// Runs every check below.
pub fn check_provider(provider: &CryptoProvider) {
    check_offers_hitless_algorithms(provider);
    check_aeads(provider);
    check_ciphers(provider);
    check_integs(provider);
    check_prfs(provider);
    check_hashes(provider);
    check_key_exchanges(provider);
    check_random(provider);
}

/// The provider offers every algorithm hitless negotiates (issue 3's list), so proposals built
/// against one provider negotiate identically with another.
pub fn check_offers_hitless_algorithms(provider: &CryptoProvider) {
    for (id, key_length) in [
        (EncrId::AES_GCM_16, Some(128)),
        (EncrId::AES_GCM_16, Some(256)),
        (EncrId::CHACHA20_POLY1305, None),
    ] {
        assert!(
            provider.aead(id, key_length).is_some(),
            "missing AEAD {id:?} KEY_LENGTH {key_length:?}"
        );
    }
    for key_length in [128, 256] {
        assert!(
            provider.cipher(EncrId::AES_CBC, Some(key_length)).is_some(),
            "missing AES-CBC-{key_length}"
        );
    }
    for id in [
        IntegId::HMAC_SHA2_256_128,
        IntegId::HMAC_SHA2_384_192,
        IntegId::HMAC_SHA2_512_256,
    ] {
        assert!(provider.integ(id).is_some(), "missing integrity {id:?}");
    }
    for id in [
        PrfId::HMAC_SHA2_256,
        PrfId::HMAC_SHA2_384,
        PrfId::HMAC_SHA2_512,
    ] {
        assert!(provider.prf(id).is_some(), "missing PRF {id:?}");
    }
    for method in [
        KeMethod::CURVE25519,
        KeMethod::ECP_256,
        KeMethod::ECP_384,
        KeMethod::ML_KEM_768,
        KeMethod::MODP_2048,
        KeMethod::MODP_3072,
    ] {
        assert!(
            provider.key_exchange(method).is_some(),
            "missing key exchange {method:?}"
        );
    }
    for algorithm in [
        HashAlgorithm::SHA1,
        HashAlgorithm::SHA2_256,
        HashAlgorithm::SHA2_384,
        HashAlgorithm::SHA2_512,
    ] {
        assert!(
            provider.hash(algorithm).is_some(),
            "missing hash {algorithm:?}"
        );
    }
}

/// Two providers declare the same algorithms with the same lengths (the insecure provider
/// must mirror the production one so that negotiation and key derivation see no difference).
pub fn check_same_shape(a: &CryptoProvider, b: &CryptoProvider) {
    let aeads = |p: &CryptoProvider| -> Vec<_> {
        p.aeads
            .iter()
            .map(|x| {
                let shape = (x.key_len(), x.salt_len(), x.iv_len(), x.tag_len());
                (x.id(), x.key_length_attribute(), shape)
            })
            .collect()
    };
    assert_eq!(aeads(a), aeads(b), "AEAD tables differ");
    let ciphers = |p: &CryptoProvider| -> Vec<_> {
        p.ciphers
            .iter()
            .map(|x| {
                (
                    x.id(),
                    x.key_length_attribute(),
                    x.key_len(),
                    x.block_len(),
                    x.iv_len(),
                )
            })
            .collect()
    };
    assert_eq!(ciphers(a), ciphers(b), "cipher tables differ");
    let integs = |p: &CryptoProvider| -> Vec<_> {
        p.integs
            .iter()
            .map(|x| (x.id(), x.key_len(), x.icv_len()))
            .collect()
    };
    assert_eq!(integs(a), integs(b), "integrity tables differ");
    let prfs = |p: &CryptoProvider| -> Vec<_> {
        p.prfs
            .iter()
            .map(|x| (x.id(), x.key_len(), x.output_len()))
            .collect()
    };
    assert_eq!(prfs(a), prfs(b), "PRF tables differ");
    let kes =
        |p: &CryptoProvider| -> Vec<_> { p.key_exchanges.iter().map(|x| x.method()).collect() };
    assert_eq!(kes(a), kes(b), "key exchange tables differ");
    let hashes = |p: &CryptoProvider| -> Vec<_> {
        p.hashes
            .iter()
            .map(|x| (x.algorithm(), x.output_len()))
            .collect()
    };
    assert_eq!(hashes(a), hashes(b), "hash tables differ");
}

/// Every AEAD: declared lengths, key-length check, round trips, tamper detection.
pub fn check_aeads(provider: &CryptoProvider) {
    assert!(!provider.aeads.is_empty(), "no AEADs");
    for aead in &provider.aeads {
        check_aead(*aead);
    }
}

/// Every CBC cipher: declared lengths, key-length check, round trips, whole blocks only.
pub fn check_ciphers(provider: &CryptoProvider) {
    for cipher in &provider.ciphers {
        check_cipher(*cipher);
    }
}

/// Every integrity algorithm: lengths, key-length check, sign/verify, tamper detection.
pub fn check_integs(provider: &CryptoProvider) {
    for integ in &provider.integs {
        check_integ(*integ);
    }
}

/// Every PRF: output length, determinism, key sensitivity, prf+ lengths and limit.
pub fn check_prfs(provider: &CryptoProvider) {
    assert!(!provider.prfs.is_empty(), "no PRFs");
    for prf in &provider.prfs {
        check_prf(*prf);
    }
}

/// Every hash: output length, determinism, split input equals joined input.
pub fn check_hashes(provider: &CryptoProvider) {
    for hash in &provider.hashes {
        let name = format!("{hash:?}");
        let whole = hash.hash(&[b"hello world"]);
        assert_eq!(whole.len(), hash.output_len(), "{name}: output length");
        assert_eq!(
            hash.hash(&[b"hello", b" ", b"world"]),
            whole,
            "{name}: split input"
        );
        assert_ne!(hash.hash(&[b"hello worle"]), whole, "{name}: input ignored");
    }
}

/// Every key exchange: agreement, lengths, and rejection of malformed peer values.
pub fn check_key_exchanges(provider: &CryptoProvider) {
    assert!(!provider.key_exchanges.is_empty(), "no key exchanges");
    for ke in &provider.key_exchanges {
        check_key_exchange(provider, *ke);
    }
}

/// The random source fills buffers and does not repeat itself.
pub fn check_random(provider: &CryptoProvider) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    provider.fill_random(&mut a).unwrap();
    provider.fill_random(&mut b).unwrap();
    assert_ne!(a, [0; 32], "random: all zero");
    assert_ne!(a, b, "random: repeated output");
    provider.fill_random(&mut []).unwrap();
}

/// The public-value and shared-secret lengths of a method: `(initiator, responder, secret)`.
///
/// RFC 7296 §3.4 (MODP: the prime's length), RFC 5903 §7 (ECP: `x | y`, secret `x`), RFC 8031
/// §3 (X25519), FIPS 203 Table 3 (ML-KEM-768: encapsulation key, ciphertext, 32-byte secret).
pub fn expected_lengths(method: KeMethod) -> Option<(usize, usize, usize)> {
    Some(match method {
        KeMethod::MODP_2048 => (256, 256, 256),
        KeMethod::MODP_3072 => (384, 384, 384),
        KeMethod::ECP_256 => (64, 64, 32),
        KeMethod::ECP_384 => (96, 96, 48),
        KeMethod::CURVE25519 => (32, 32, 32),
        KeMethod::ML_KEM_768 => (1184, 1088, 32),
        _ => return None,
    })
}

fn check_aead(aead: &'static dyn Aead) {
    let name = format!("{aead:?}");
    assert_eq!(
        aead.iv_len(),
        8,
        "{name}: explicit IV is 8 bytes (RFC 4106 §3.1)"
    );
    assert_eq!(
        aead.salt_len(),
        4,
        "{name}: salt is 4 bytes (RFC 4106 §8.1)"
    );
    assert_eq!(aead.tag_len(), 16, "{name}: ICV is 16 bytes");
    match aead.id() {
        EncrId::AES_GCM_16 => {
            let bits = aead
                .key_length_attribute()
                .expect("AES-GCM needs KEY_LENGTH");
            assert_eq!(aead.key_len() * 8, usize::from(bits), "{name}: key length");
        }
        EncrId::CHACHA20_POLY1305 => {
            assert_eq!(
                aead.key_length_attribute(),
                None,
                "{name}: RFC 7634 §2 no KEY_LENGTH"
            );
            assert_eq!(aead.key_len(), 32, "{name}: key length");
        }
        _ => {}
    }
    let keymat_len = aead.key_len() + aead.salt_len();
    for bad in [0, keymat_len - 1, keymat_len + 1, aead.key_len()] {
        assert_eq!(
            aead.new_key(&vec![7; bad]).err(),
            Some(CryptoError::InvalidKeyLength),
            "{name}: accepted {bad}-byte KEYMAT"
        );
    }
    let keymat: Vec<u8> = (0..keymat_len).map(|i| i as u8).collect();
    let key = aead.new_key(&keymat).unwrap();
    let iv = [1, 2, 3, 4, 5, 6, 7, 8];
    let aad = b"spi and sequence";
    for len in [0, 1, 15, 16, 17, 64, 1400] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut buffer = plaintext.clone();
        let mut tag = vec![0; aead.tag_len()];
        key.seal_in_place(&iv, aad, &mut buffer, &mut tag).unwrap();
        if len >= 16 {
            assert_ne!(buffer, plaintext, "{name}: not encrypted");
        }
        let sealed = buffer.clone();
        key.open_in_place(&iv, aad, &mut buffer, &tag).unwrap();
        assert_eq!(buffer, plaintext, "{name}: round trip at {len} bytes");

        // A second key from the same KEYMAT opens it too (keys are deterministic).
        let mut again = sealed.clone();
        aead.new_key(&keymat)
            .unwrap()
            .open_in_place(&iv, aad, &mut again, &tag)
            .unwrap();
        assert_eq!(again, plaintext, "{name}: second key");

        let fails = |iv: &[u8], aad: &[u8], data: &[u8], tag: &[u8], what: &str| {
            let mut data = data.to_vec();
            assert_eq!(
                key.open_in_place(iv, aad, &mut data, tag),
                Err(CryptoError::AuthenticationFailed),
                "{name}: {what} not detected at {len} bytes"
            );
        };
        if len > 0 {
            let mut flipped = sealed.clone();
            flipped[len / 2] ^= 0x01;
            fails(&iv, aad, &flipped, &tag, "flipped ciphertext bit");
        }
        let mut bad_tag = tag.clone();
        bad_tag[15] ^= 0x80;
        fails(&iv, aad, &sealed, &bad_tag, "flipped tag bit");
        fails(&iv, b"spi and sequencf", &sealed, &tag, "changed AAD");
        fails(&[1, 2, 3, 4, 5, 6, 7, 9], aad, &sealed, &tag, "changed IV");

        // The salt is part of the nonce (RFC 4106 §4): another salt cannot open it.
        let mut other_salt = keymat.clone();
        other_salt[keymat_len - 1] ^= 1;
        let mut data = sealed.clone();
        assert_eq!(
            aead.new_key(&other_salt)
                .unwrap()
                .open_in_place(&iv, aad, &mut data, &tag),
            Err(CryptoError::AuthenticationFailed),
            "{name}: salt ignored"
        );
    }
    let mut buffer = [0u8; 16];
    let mut tag = vec![0; aead.tag_len()];
    assert_eq!(
        key.seal_in_place(&[0; 7], b"", &mut buffer, &mut tag),
        Err(CryptoError::InvalidLength),
        "{name}: 7-byte IV"
    );
    assert_eq!(
        key.seal_in_place(&iv, b"", &mut buffer, &mut tag[..15]),
        Err(CryptoError::InvalidLength),
        "{name}: 15-byte tag buffer"
    );
    assert_eq!(
        key.open_in_place(&iv, b"", &mut buffer, &tag[..15]),
        Err(CryptoError::InvalidLength),
        "{name}: 15-byte tag"
    );
}

fn check_cipher(cipher: &'static dyn Cipher) {
    let name = format!("{cipher:?}");
    assert_eq!(cipher.block_len(), 16, "{name}: block length");
    assert_eq!(cipher.iv_len(), 16, "{name}: IV length");
    if let Some(bits) = cipher.key_length_attribute() {
        assert_eq!(
            cipher.key_len() * 8,
            usize::from(bits),
            "{name}: key length"
        );
    }
    for bad in [0, cipher.key_len() - 1, cipher.key_len() + 1] {
        assert_eq!(
            cipher.new_key(&vec![7; bad]).err(),
            Some(CryptoError::InvalidKeyLength),
            "{name}: accepted {bad}-byte key"
        );
    }
    let key_bytes: Vec<u8> = (0..cipher.key_len()).map(|i| i as u8).collect();
    let key = cipher.new_key(&key_bytes).unwrap();
    let iv = [9u8; 16];
    for len in [16, 32, 1408] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let mut buffer = plaintext.clone();
        key.encrypt_in_place(&iv, &mut buffer).unwrap();
        assert_ne!(buffer, plaintext, "{name}: not encrypted");
        // CBC: identical plaintext blocks under another IV give other ciphertext.
        let mut other_iv = plaintext.clone();
        key.encrypt_in_place(&[8u8; 16], &mut other_iv).unwrap();
        assert_ne!(other_iv, buffer, "{name}: IV ignored");
        key.decrypt_in_place(&iv, &mut buffer).unwrap();
        assert_eq!(buffer, plaintext, "{name}: round trip at {len} bytes");
    }
    let mut ragged = [0u8; 17];
    assert_eq!(
        key.encrypt_in_place(&iv, &mut ragged),
        Err(CryptoError::InvalidLength),
        "{name}: partial block"
    );
    assert_eq!(
        key.decrypt_in_place(&iv, &mut ragged),
        Err(CryptoError::InvalidLength),
        "{name}: partial block"
    );
    assert_eq!(
        key.encrypt_in_place(&iv[..8], &mut [0u8; 16]),
        Err(CryptoError::InvalidLength),
        "{name}: short IV"
    );
}

fn check_integ(integ: &'static dyn Integ) {
    let name = format!("{integ:?}");
    assert!(
        integ.icv_len() > 0 && integ.key_len() > 0,
        "{name}: lengths"
    );
    for bad in [0, integ.key_len() - 1, integ.key_len() + 1] {
        assert_eq!(
            integ.new_key(&vec![7; bad]).err(),
            Some(CryptoError::InvalidKeyLength),
            "{name}: accepted {bad}-byte key"
        );
    }
    let key_bytes: Vec<u8> = (0..integ.key_len()).map(|i| i as u8).collect();
    let key = integ.new_key(&key_bytes).unwrap();
    let mut icv = vec![0; integ.icv_len()];
    key.sign(&[b"header", b"body"], &mut icv).unwrap();
    key.verify(&[b"header", b"body"], &icv).unwrap();
    key.verify(&[b"headerbody"], &icv).unwrap();
    let mut joined = vec![0; integ.icv_len()];
    key.sign(&[b"headerbody"], &mut joined).unwrap();
    assert_eq!(joined, icv, "{name}: split input");
    assert_eq!(
        key.verify(&[b"header", b"bodz"], &icv),
        Err(CryptoError::AuthenticationFailed),
        "{name}: changed data"
    );
    let mut bad = icv.clone();
    bad[0] ^= 1;
    assert_eq!(
        key.verify(&[b"header", b"body"], &bad),
        Err(CryptoError::AuthenticationFailed),
        "{name}: changed ICV"
    );
    let mut other_key = key_bytes.clone();
    other_key[0] ^= 1;
    assert_eq!(
        integ
            .new_key(&other_key)
            .unwrap()
            .verify(&[b"header", b"body"], &icv),
        Err(CryptoError::AuthenticationFailed),
        "{name}: key ignored"
    );
    assert_eq!(
        key.verify(&[b"header", b"body"], &icv[1..]),
        Err(CryptoError::InvalidLength),
        "{name}: short ICV"
    );
    assert_eq!(
        key.sign(&[b"x"], &mut vec![0; integ.icv_len() + 1]),
        Err(CryptoError::InvalidLength),
        "{name}: long ICV buffer"
    );
}

fn check_prf(prf: &'static dyn Prf) {
    let name = format!("{prf:?}");
    assert!(prf.output_len() > 0 && prf.key_len() > 0, "{name}: lengths");
    let out = prf.compute(b"key", &[b"some ", b"data"]);
    assert_eq!(out.len(), prf.output_len(), "{name}: output length");
    assert_eq!(
        prf.compute(b"key", &[b"some data"]),
        out,
        "{name}: split input"
    );
    assert_ne!(
        prf.compute(b"kez", &[b"some data"]),
        out,
        "{name}: key ignored"
    );
    assert_ne!(
        prf.compute(b"key", &[b"some datb"]),
        out,
        "{name}: data ignored"
    );
    // RFC 7296 §2.13: PRFs take keys of any length.
    for key_len in [0, 1, prf.key_len(), 4 * prf.key_len() + 3] {
        let out = prf.compute(&vec![5; key_len], &[b"x"]);
        assert_eq!(out.len(), prf.output_len(), "{name}: {key_len}-byte key");
    }
    let block = prf.output_len();
    for len in [1, block - 1, block, block + 1, 3 * block + 5, 255 * block] {
        let stream = prf_plus(prf, b"key", b"seed", len).unwrap();
        assert_eq!(stream.len(), len, "{name}: prf+ length {len}");
    }
    let long = prf_plus(prf, b"key", b"seed", 255 * block).unwrap();
    let short = prf_plus(prf, b"key", b"seed", 2 * block + 1).unwrap();
    assert_eq!(
        &long.expose()[..short.len()],
        short.expose(),
        "{name}: prf+ prefix"
    );
    assert_eq!(
        &long.expose()[..block],
        prf.compute(b"key", &[b"seed", &[1]]).expose(),
        "{name}: T1 = prf(K, S | 0x01)"
    );
    assert_eq!(
        prf_plus(prf, b"key", b"seed", 255 * block + 1),
        Err(CryptoError::InvalidLength),
        "{name}: prf+ past 255 blocks"
    );
}

fn check_key_exchange(provider: &CryptoProvider, ke: &'static dyn KeyExchange) {
    let name = format!("{ke:?}");
    let random = provider.random.as_ref();
    let (len_i, len_r, secret_len) = expected_lengths(ke.method())
        .unwrap_or_else(|| panic!("{name}: method {:?} unknown to the suite", ke.method()));
    for round in 0..3 {
        let initiator = ke.start(random).unwrap();
        assert_eq!(
            initiator.public().len(),
            len_i,
            "{name}: initiator public length"
        );
        let (response, responder_secret) = ke.respond(random, initiator.public()).unwrap();
        assert_eq!(response.len(), len_r, "{name}: responder public length");
        assert_eq!(responder_secret.len(), secret_len, "{name}: secret length");
        let initiator_public = initiator.public().to_vec();
        let initiator_secret = initiator.complete(&response).unwrap();
        assert_eq!(
            initiator_secret, responder_secret,
            "{name}: no agreement (round {round})"
        );

        // Fresh keys each time.
        let other = ke.start(random).unwrap();
        assert_ne!(
            other.public(),
            &initiator_public[..],
            "{name}: repeated key"
        );
    }

    // RFC 7296 §3.4: wrong lengths are refused on both sides.
    for bad_len in [0, len_i - 1, len_i + 1] {
        assert_eq!(
            ke.respond(random, &vec![0x55; bad_len]).err(),
            Some(CryptoError::InvalidPeerPublicValue),
            "{name}: respond accepted {bad_len} bytes"
        );
    }
    for bad_len in [0, len_r - 1, len_r + 1] {
        let initiator = ke.start(random).unwrap();
        assert_eq!(
            initiator.complete(&vec![0x55; bad_len]).err(),
            Some(CryptoError::InvalidPeerPublicValue),
            "{name}: complete accepted {bad_len} bytes"
        );
    }

    // Degenerate values of the right length (RFC 6989; RFC 7748 §6.1; FIPS 203 §7.2).
    for (what, value) in degenerate_values(ke.method(), len_i) {
        assert_eq!(
            ke.respond(random, &value).err(),
            Some(CryptoError::InvalidPeerPublicValue),
            "{name}: respond accepted {what}"
        );
    }
    if ke.method() != KeMethod::ML_KEM_768 {
        for (what, value) in degenerate_values(ke.method(), len_r) {
            let initiator = ke.start(random).unwrap();
            assert_eq!(
                initiator.complete(&value).err(),
                Some(CryptoError::InvalidPeerPublicValue),
                "{name}: complete accepted {what}"
            );
        }
    }
}

/// Peer values of the right length that every provider must refuse.
fn degenerate_values(method: KeMethod, len: usize) -> Vec<(&'static str, Vec<u8>)> {
    let zero = vec![0u8; len];
    let ones = vec![0xffu8; len];
    let mut one_be = zero.clone();
    one_be[len - 1] = 1;
    let mut one_le = zero.clone();
    one_le[0] = 1;
    match method {
        // RFC 6989 §2.1: 1 < y < p - 1; all-ones exceeds p.
        KeMethod::MODP_2048 | KeMethod::MODP_3072 => {
            vec![("y = 0", zero), ("y = 1", one_be), ("y > p", ones)]
        }
        // RFC 5903 §7 / RFC 6989 §2.3: points off the curve; coordinates past the field size.
        KeMethod::ECP_256 | KeMethod::ECP_384 => {
            vec![
                ("(0, 0)", zero),
                ("(0, 1)", one_be),
                ("coordinates > p", ones),
            ]
        }
        // RFC 7748 §6.1: low-order points give an all-zero secret (u = 0 and u = 1).
        KeMethod::CURVE25519 => vec![("u = 0", zero), ("u = 1", one_le)],
        // FIPS 203 §7.2: coefficients >= q fail the modulus check.
        KeMethod::ML_KEM_768 => vec![("encapsulation key with coefficients >= q", ones)],
        _ => Vec::new(),
    }
}
