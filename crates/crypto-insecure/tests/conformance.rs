//! The insecure providers against the conformance suite and against the production provider's
//! shape.

use hitless_crypto::conformance;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;

#[test]
fn insecure_provider_conforms() {
    for seed in [0, 1, 0xdead_beef] {
        conformance::check_provider(&hitless_crypto_insecure::provider(seed));
    }
}

#[test]
fn insecure_provider_mirrors_production() {
    let production = hitless_crypto_awslc::provider();
    conformance::check_same_shape(&production, &hitless_crypto_insecure::provider(7));
    conformance::check_same_shape(&production, &hitless_crypto_insecure::fuzzing_provider());
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let provider = hitless_crypto_insecure::provider(seed);
        let mut nonce = [0u8; 32];
        provider.fill_random(&mut nonce).unwrap();
        let ke = provider.key_exchange(KeMethod::CURVE25519).unwrap();
        let initiator = ke.start(provider.random.as_ref()).unwrap();
        let public = initiator.public().to_vec();
        let (response, secret) = ke.respond(provider.random.as_ref(), &public).unwrap();
        (nonce, public, response, secret)
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42).0, run(43).0);
    assert_ne!(run(42).3, run(43).3);
}

#[test]
fn fuzzing_provider_accepts_any_tag() {
    let provider = hitless_crypto_insecure::fuzzing_provider();
    for aead in &provider.aeads {
        let key = aead
            .new_key(&vec![1; aead.key_len() + aead.salt_len()])
            .unwrap();
        let mut data = *b"plaintext reaches the engine as is";
        let mut tag = [0u8; 16];
        key.seal_in_place(&[0; 8], b"aad", &mut data, &mut tag)
            .unwrap();
        assert_eq!(&data, b"plaintext reaches the engine as is");
        key.open_in_place(&[9; 8], b"other aad", &mut data, &[0xa5; 16])
            .unwrap();
        assert_eq!(&data, b"plaintext reaches the engine as is");
        // Lengths are still checked: they are parsing, not authentication.
        assert!(key.open_in_place(&[0; 7], b"", &mut data, &tag).is_err());
    }
    let integ = provider.integ(IntegId::HMAC_SHA2_256_128).unwrap();
    let key = integ.new_key(&[3; 32]).unwrap();
    key.verify(&[b"anything"], &[0xff; 16]).unwrap();
    assert!(key.verify(&[b"anything"], &[0xff; 15]).is_err());
    // Checking providers still refuse what the fuzzing one lets through.
    let checked = hitless_crypto_insecure::provider(0);
    let aead = checked.aead(EncrId::AES_GCM_16, Some(128)).unwrap();
    let key = aead.new_key(&[1; 20]).unwrap();
    let mut data = [0u8; 4];
    assert!(
        key.open_in_place(&[0; 8], b"", &mut data, &[0; 16])
            .is_err()
    );
}
