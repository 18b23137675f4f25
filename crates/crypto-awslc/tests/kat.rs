//! Known-answer tests for every algorithm of the production provider, from published vectors,
//! run through the provider's trait objects (so the IPsec nonce layout, the truncations and the
//! KE encodings are what is tested, not only AWS-LC).
//!
//! Sources: draft-mcgrew-gcm-test-01 (AES-GCM in ESP, the RFC 4106 layout), RFC 8439 §2.8.2 and
//! RFC 7634 Appendix A (ChaCha20-Poly1305), RFC 3602 §4 and NIST SP 800-38A F.2.5 (AES-CBC),
//! RFC 4231 §4 (HMAC-SHA2 as PRF), RFC 4868 §2.7.2 (truncated HMAC-SHA2 integrity), RFC 2202
//! §3 (HMAC-SHA1), FIPS 180-2 Appendix A-C (SHA), RFC 7748 §5.2 and §6.1 (X25519), RFC 5903 §8
//! (ECP-256, ECP-384: IKE test vectors), `fixtures/modp/` (MODP, computed with Python's pow()),
//! and the RustCrypto `ml-kem` crate as an independent ML-KEM-768 implementation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::SecureRandom;
use hitless_crypto_awslc::testing::ecdh_with_private_key;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

fn provider() -> CryptoProvider {
    hitless_crypto_awslc::provider()
}

/// Decodes hex, ignoring whitespace.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// One AEAD vector in ESP form: KEYMAT = key | salt, nonce = salt | IV.
struct AeadVector {
    name: &'static str,
    id: EncrId,
    key_length: Option<u16>,
    key: &'static str,
    salt: &'static str,
    iv: &'static str,
    aad: &'static str,
    plaintext: &'static str,
    ciphertext_and_tag: &'static str,
}

fn check_aead(vector: &AeadVector) {
    let provider = provider();
    let aead = provider.aead(vector.id, vector.key_length).unwrap();
    let keymat = [hex(vector.key), hex(vector.salt)].concat();
    let key = aead.new_key(&keymat).unwrap();
    let iv = hex(vector.iv);
    let aad = hex(vector.aad);
    let plaintext = hex(vector.plaintext);
    let expected = hex(vector.ciphertext_and_tag);
    let (expected_ciphertext, expected_tag) = expected.split_at(plaintext.len());

    let mut buffer = plaintext.clone();
    let mut tag = vec![0; aead.tag_len()];
    key.seal_in_place(&iv, &aad, &mut buffer, &mut tag).unwrap();
    assert_eq!(buffer, expected_ciphertext, "{}: ciphertext", vector.name);
    assert_eq!(tag, expected_tag, "{}: tag", vector.name);

    key.open_in_place(&iv, &aad, &mut buffer, expected_tag)
        .unwrap();
    assert_eq!(buffer, plaintext, "{}: decryption", vector.name);

    let mut forged = expected_ciphertext.to_vec();
    *forged.last_mut().unwrap() ^= 1;
    assert_eq!(
        key.open_in_place(&iv, &aad, &mut forged, expected_tag),
        Err(CryptoError::AuthenticationFailed),
        "{}: forgery accepted",
        vector.name
    );
}

// draft-mcgrew-gcm-test-01 §3 (AES-GCM ESP packets; SPI | sequence number as AAD).
const GCM_VECTORS: [AeadVector; 5] = [
    AeadVector {
        name: "gcm-test-01 case 1 (AES-128, 64-bit sequence)",
        id: EncrId::AES_GCM_16,
        key_length: Some(128),
        key: "4c80cdefbb5d10da906ac73c3613a634",
        salt: "2e443b68",
        iv: "4956ed7e3b244cfe",
        aad: "000043218765432100000000",
        plaintext: "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000
                    00000000045f736970045f7564700373697009637962657263697479
                    02646b000021000101020201",
        ciphertext_and_tag: "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34
                    cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce
                    61bc17d768fd9732459018148f6cbe722fd04796562dfdb4",
    },
    AeadVector {
        name: "gcm-test-01 case 2 (AES-128)",
        id: EncrId::AES_GCM_16,
        key_length: Some(128),
        key: "feffe9928665731c6d6a8f9467308308",
        salt: "cafebabe",
        iv: "facedbaddecaf888",
        aad: "0000a5f80000000a",
        plaintext: "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100
                    000100000000000003736970096379626572636974790264
                    6b00000100010001",
        ciphertext_and_tag: "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c
                    3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1
                    83b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    AeadVector {
        name: "gcm-test-01 case 3 (AES-256)",
        id: EncrId::AES_GCM_16,
        key_length: Some(256),
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        salt: "11223344",
        iv: "0102030405060708",
        aad: "4a2cbfe300000002",
        plaintext: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000
                    7002400020bf0000020405b40101040201020201",
        ciphertext_and_tag: "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763
                    748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c49
                    15956c96",
    },
    AeadVector {
        name: "gcm-test-01 case 4 (AES-128, all-zero key)",
        id: EncrId::AES_GCM_16,
        key_length: Some(128),
        key: "00000000000000000000000000000000",
        salt: "00000000",
        iv: "0000000000000000",
        aad: "0000000000000001",
        plaintext: "4500003c99c500008001cb7a40679318010101010800075c0200440061626364
                    65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
        ciphertext_and_tag: "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284
                    456476492719ffb64de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3
                    f821d496eeb096e98ad2b69e4799c71d",
    },
    AeadVector {
        name: "gcm-test-01 case 9 (AES-256, 64-bit sequence)",
        id: EncrId::AES_GCM_16,
        key_length: Some(256),
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        salt: "73616c74",
        iv: "616e640169766563",
        aad: "17405e67156f3126dd0db99b",
        plaintext: "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602
                    50101f646d540001",
        ciphertext_and_tag: "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57f
                    f4d3a31ce673119e451626c2415771e3b7eebca614c89b35",
    },
];

#[test]
fn aes_gcm_esp_vectors() {
    for vector in &GCM_VECTORS {
        check_aead(vector);
    }
}

#[test]
fn chacha20_poly1305_rfc8439_aead_vector() {
    // RFC 8439 §2.8.2: nonce 07000000 | 4041424344454647 is the IPsec layout with salt
    // 07000000 and IV 4041424344454647.
    check_aead(&AeadVector {
        name: "RFC 8439 §2.8.2",
        id: EncrId::CHACHA20_POLY1305,
        key_length: None,
        key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        salt: "07000000",
        iv: "4041424344454647",
        aad: "50515253c0c1c2c3c4c5c6c7",
        plaintext: "4c616469657320616e642047656e746c656d656e206f662074686520636c6173
                    73206f66202739393a204966204920636f756c64206f6666657220796f75206f
                    6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73
                    637265656e20776f756c642062652069742e",
        ciphertext_and_tag: "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
                    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
                    92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
                    3ff4def08e4b7a9de576d26586cec64b6116
                    1ae10b594f09e26a7e902ecbd0600691",
    });
}

#[test]
fn chacha20_poly1305_rfc7634_esp_example() {
    // RFC 7634 Appendix A: KEYMAT = key | salt a0a1a2a3, IV 1011121314151617, AAD = SPI
    // 01020304 | sequence number 5; the plaintext is an ICMP packet with the ESP trailer.
    check_aead(&AeadVector {
        name: "RFC 7634 Appendix A",
        id: EncrId::CHACHA20_POLY1305,
        key_length: None,
        key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        salt: "a0a1a2a3",
        iv: "1011121314151617",
        aad: "0102030400000005",
        plaintext: "4500 0054 a6f2 0000 4001 e778 c633 6405 c000 0205 0800 5b7a 3a08 0000
                    553b ec10 0007 3627 0809 0a0b 0c0d 0e0f 1011 1213 1415 1617 1819 1a1b
                    1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637
                    0102 0204",
        ciphertext_and_tag: "2403 9428 b97f 417e 3c13 753a 4f05 087b 67c3 52e6 a7fa b1b9 82d4 66ef
                    407a e5c6 14ee 8099 d528 44eb 61aa 95df ab4c 02f7 2aa7 1e7c 4c4f 64c9
                    befe 2fac c638 e8f3 cbec 163f ac46 9b50 2773 f6fb 94e6 64da 9165 b828
                    29f6 41e0
                    76aa a826 6b7f b0f7 b11b 3699 07e1 ad43",
    });
}

#[test]
fn aes_cbc_vectors() {
    // (source, key, IV, plaintext, ciphertext)
    let vectors = [
        (
            "RFC 3602 §4 case 1",
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            "53696e676c6520626c6f636b206d7367",
            "e353779c1079aeb82708942dbe77181a",
        ),
        (
            "RFC 3602 §4 case 2",
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        ),
        (
            "RFC 3602 §4 case 3",
            "6c3ea0477630ce21a2ce334aa746c2cd",
            "c782dc4c098c66cbd9cd27d825682c81",
            "5468697320697320612034382d62797465206d657373616765202865786163746c7920332041455320626c6f636b7329",
            "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5021c19216bad525c8579695d83ba2684",
        ),
        (
            "RFC 3602 §4 case 4",
            "56e47a38c5598974bc46903dba290349",
            "8ce82eefbea0da3c44699ed7db51b7d9",
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
             c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
            "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e
             35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55",
        ),
        (
            "SP 800-38A F.2.5 (AES-256)",
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "000102030405060708090a0b0c0d0e0f",
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51
             30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d
             39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
        ),
    ];
    let provider = provider();
    for (name, key, iv, plaintext, ciphertext) in vectors {
        let key = hex(key);
        let bits = u16::try_from(key.len() * 8).unwrap();
        let cipher = provider.cipher(EncrId::AES_CBC, Some(bits)).unwrap();
        let key = cipher.new_key(&key).unwrap();
        let mut buffer = hex(plaintext);
        key.encrypt_in_place(&hex(iv), &mut buffer).unwrap();
        assert_eq!(buffer, hex(ciphertext), "{name}: encryption");
        key.decrypt_in_place(&hex(iv), &mut buffer).unwrap();
        assert_eq!(buffer, hex(plaintext), "{name}: decryption");
    }
}

#[test]
fn hmac_prf_rfc4231_vectors() {
    // RFC 4231 §4.2-§4.8 test cases 1, 2, 3, 4, 6, 7: (key, data, SHA-256, SHA-384, SHA-512).
    let aa131 = "aa".repeat(131);
    let cases = [
        (
            "0b".repeat(20),
            "4869205468657265".to_owned(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c
             faea9ea9076ede7f4af152e8b2fa9cb6",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            "4a656665".to_owned(),
            "7768617420646f2079612077616e7420666f72206e6f7468696e673f".to_owned(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e
             8e2240ca5e69e2c78b3239ecfab21649",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (
            "aa".repeat(20),
            "dd".repeat(50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b
             2a5ab39dc13814b94e3ab6e101a34f27",
            "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39
             bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
        ),
        (
            "0102030405060708090a0b0c0d0e0f10111213141516171819".to_owned(),
            "cd".repeat(50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e
             6801dd23c4a7d679ccf8a386c674cffb",
            "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db
             a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
        ),
        (
            aa131.clone(),
            "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a
             65204b6579202d2048617368204b6579204669727374"
                .to_owned(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6
             0c2ef6ab4030fe8296248df163f44952",
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352
             6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
        ),
        (
            aa131,
            "5468697320697320612074657374207573696e672061206c6172676572207468
             616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074
             68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565
             647320746f20626520686173686564206265666f7265206265696e6720757365
             642062792074686520484d414320616c676f726974686d2e"
                .to_owned(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5
             a678cc31e799176d3860e6110c46523e",
            "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944
             b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
        ),
    ];
    let provider = provider();
    for (index, (key, data, sha256, sha384, sha512)) in cases.iter().enumerate() {
        for (id, expected) in [
            (PrfId::HMAC_SHA2_256, sha256),
            (PrfId::HMAC_SHA2_384, sha384),
            (PrfId::HMAC_SHA2_512, sha512),
        ] {
            let prf = provider.prf(id).unwrap();
            let data = hex(data);
            let (head, tail) = data.split_at(data.len() / 3);
            let out = prf.compute(&hex(key), &[head, tail]);
            assert_eq!(
                out.expose(),
                hex(expected),
                "RFC 4231 case {index}: {prf:?}"
            );
        }
    }
}

#[test]
fn hmac_sha1_rfc2202_vectors() {
    let provider = provider();
    let prf = provider.prf(PrfId::HMAC_SHA1).unwrap();
    // RFC 2202 §3 test cases 1 and 2.
    assert_eq!(
        prf.compute(&hex(&"0b".repeat(20)), &[b"Hi There"]).expose(),
        hex("b617318655057264e28bc0b6fb378c8ef146be00")
    );
    assert_eq!(
        prf.compute(b"Jefe", &[b"what do ya want for nothing?"])
            .expose(),
        hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
    // HMAC-SHA1-96 (RFC 2404): the first 96 bits, with a 20-byte key.
    let integ = provider.integ(IntegId::HMAC_SHA1_96).unwrap();
    let key = integ.new_key(&hex(&"0b".repeat(20))).unwrap();
    let mut icv = [0u8; 12];
    key.sign(&[b"Hi There"], &mut icv).unwrap();
    assert_eq!(icv.to_vec(), hex("b617318655057264e28bc0b6"));
    key.verify(&[b"Hi ", b"There"], &icv).unwrap();
}

#[test]
fn truncated_hmac_integrity_rfc4868_vectors() {
    // RFC 4868 §2.7.2.1 AUTH256-1..4 (32-byte keys) and §2.7.2.2 AUTH384-2 (48-byte key):
    // the ICV is the leftmost half of the HMAC.
    let cases = [
        (
            IntegId::HMAC_SHA2_256_128,
            "0b".repeat(32),
            "4869205468657265".to_owned(),
            "198a607eb44bfbc69903a0f1cf2bbdc5",
        ),
        (
            IntegId::HMAC_SHA2_256_128,
            "4a656665".repeat(8),
            "7768617420646f2079612077616e7420666f72206e6f7468696e673f".to_owned(),
            "167f928588c5cc2eef8e3093caa0e87c",
        ),
        (
            IntegId::HMAC_SHA2_256_128,
            "aa".repeat(32),
            "dd".repeat(50),
            "cdcb1220d1ecccea91e53aba3092f962",
        ),
        (
            IntegId::HMAC_SHA2_256_128,
            "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20".to_owned(),
            "cd".repeat(50),
            "372efcf9b40b35c2115b1346903d2ef4",
        ),
        (
            IntegId::HMAC_SHA2_384_192,
            "4a656665".repeat(12),
            "7768617420646f2079612077616e7420666f72206e6f7468696e673f".to_owned(),
            "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d",
        ),
    ];
    let provider = provider();
    for (id, key, data, icv) in cases {
        let integ = provider.integ(id).unwrap();
        let key = integ.new_key(&hex(&key)).unwrap();
        let mut computed = vec![0; integ.icv_len()];
        key.sign(&[&hex(&data)], &mut computed).unwrap();
        assert_eq!(computed, hex(icv), "{integ:?}");
        key.verify(&[&hex(&data)], &hex(icv)).unwrap();
    }
    // HMAC-SHA2-512-256 (64-byte key): no published vector in our sources, so a consistency
    // check that the ICV is the leftmost 256 bits of the HMAC-SHA-512 whose full output the
    // RFC 4231 vectors above pin down.
    let prf = provider.prf(PrfId::HMAC_SHA2_512).unwrap();
    let integ = provider.integ(IntegId::HMAC_SHA2_512_256).unwrap();
    let key_bytes = hex(&"4a656665".repeat(16));
    let full = prf.compute(&key_bytes, &[b"what do ya want for nothing?"]);
    let key = integ.new_key(&key_bytes).unwrap();
    let mut icv = [0u8; 32];
    key.sign(&[b"what do ya want for nothing?"], &mut icv)
        .unwrap();
    assert_eq!(&icv[..], &full.expose()[..32]);
}

#[test]
fn sha_fips180_vectors() {
    let provider = provider();
    for (algorithm, digest) in [
        (
            HashAlgorithm::SHA1,
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        (
            HashAlgorithm::SHA2_256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlgorithm::SHA2_384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed
             8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            HashAlgorithm::SHA2_512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ] {
        let hash = provider.hash(algorithm).unwrap();
        assert_eq!(hash.hash(&[b"a", b"bc"]), hex(digest), "{hash:?}(\"abc\")");
    }
}

#[test]
fn x25519_rfc7748_vectors() {
    // §5.2: scalar multiplication of a given u-coordinate.
    for (scalar, u, output) in [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ] {
        let private = ecdh_with_private_key(KeMethod::CURVE25519, &hex(scalar)).unwrap();
        assert_eq!(private.complete(&hex(u)).unwrap().expose(), hex(output));
    }
    // §6.1: Diffie-Hellman between Alice and Bob.
    let alice = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    let alice_public = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    let bob = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    let bob_public = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    let a = ecdh_with_private_key(KeMethod::CURVE25519, &hex(alice)).unwrap();
    assert_eq!(a.public(), hex(alice_public));
    assert_eq!(a.complete(&hex(bob_public)).unwrap().expose(), hex(shared));
    let b = ecdh_with_private_key(KeMethod::CURVE25519, &hex(bob)).unwrap();
    assert_eq!(b.public(), hex(bob_public));
    assert_eq!(
        b.complete(&hex(alice_public)).unwrap().expose(),
        hex(shared)
    );
}

/// RFC 5903 §8: i, g^i = (gix, giy), r, g^r = (grx, gry), g^ir = (girx, giry). The KE payload
/// carries gix | giy, and the shared secret is girx alone (§7).
fn check_rfc5903(method: KeMethod, vector: [&str; 8]) {
    let [i, gix, giy, r, grx, gry, girx, _giry] = vector;
    let initiator = ecdh_with_private_key(method, &hex(i)).unwrap();
    let gi = [hex(gix), hex(giy)].concat();
    let gr = [hex(grx), hex(gry)].concat();
    assert_eq!(initiator.public(), gi, "{method:?}: initiator's KE data");
    assert_eq!(initiator.complete(&gr).unwrap().expose(), hex(girx));
    let responder = ecdh_with_private_key(method, &hex(r)).unwrap();
    assert_eq!(responder.public(), gr, "{method:?}: responder's KE data");
    assert_eq!(responder.complete(&gi).unwrap().expose(), hex(girx));

    // RFC 6989 §2.3: a point off the curve is refused.
    let mut off_curve = gr;
    *off_curve.last_mut().unwrap() ^= 1;
    let initiator = ecdh_with_private_key(method, &hex(i)).unwrap();
    assert_eq!(
        initiator.complete(&off_curve).err(),
        Some(CryptoError::InvalidPeerPublicValue)
    );
    let ke = provider().key_exchange(method).unwrap();
    assert_eq!(
        ke.respond(provider().random.as_ref(), &off_curve).err(),
        Some(CryptoError::InvalidPeerPublicValue)
    );
}

#[test]
fn ecp256_rfc5903_vector() {
    check_rfc5903(
        KeMethod::ECP_256,
        [
            "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
            "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180",
            "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
            "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
            "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63",
            "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
            "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
            "522bde0af0d8585b8def9c183b5ae38f50235206a8674ecb5d98edb20eb153a2",
        ],
    );
}

#[test]
fn ecp384_rfc5903_vector() {
    check_rfc5903(
        KeMethod::ECP_384,
        [
            "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783ab194",
            "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f41aa",
            "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c",
            "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a7448fc",
            "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a3571",
            "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c",
            "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f59746",
            "a2a9f38ef5cafbe2347cf7ec24bdd5e624bc93bfa82771f40d1b65d06256a852c983135d4669f8792f2c1d55718afbb4",
        ],
    );
}

/// A "random" source that hands out fixed bytes, to pin a MODP exponent.
struct FixedRandom(Vec<u8>);

impl SecureRandom for FixedRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        assert_eq!(out.len(), self.0.len(), "unexpected random request");
        out.copy_from_slice(&self.0);
        Ok(())
    }
}

#[test]
fn modp_python_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/modp/modp.txt"
    ))
    .unwrap();
    let mut checked = 0;
    for (method, section) in [
        (KeMethod::MODP_2048, "[modp2048]"),
        (KeMethod::MODP_3072, "[modp3072]"),
    ] {
        let body = text.split(section).nth(1).unwrap();
        let field = |name: &str| {
            let line = body
                .lines()
                .find(|line| line.starts_with(&format!("{name} = ")))
                .unwrap();
            hex(line.split_once(" = ").unwrap().1)
        };
        let (prime, exponent, peer) = (field("prime"), field("exponent"), field("peer"));
        let (public, shared) = (field("public"), field("shared"));
        let ke = provider().key_exchange(method).unwrap();
        let random = FixedRandom(exponent);

        // Initiator: g^x, then (g^z)^x.
        let initiator = ke.start(&random).unwrap();
        assert_eq!(initiator.public(), public, "{ke:?}: public value");
        assert_eq!(
            initiator.complete(&peer).unwrap().expose(),
            shared,
            "{ke:?}: secret"
        );
        // Responder: the same with the roles swapped.
        let (response, secret) = ke.respond(&random, &peer).unwrap();
        assert_eq!(response, public, "{ke:?}: responder public value");
        assert_eq!(secret.expose(), shared, "{ke:?}: responder secret");

        // RFC 6989 §2.1: 1 < y < p - 1, and values past p, are refused.
        let minus = |value: &[u8], k: u8| {
            let mut out = value.to_vec();
            let last = out.len() - 1;
            out[last] -= k; // the primes end in 0xff..ff
            out
        };
        let plus_one = {
            let mut out = prime.clone();
            let last = out.len() - 1;
            out[last] = 0;
            out[last - 1] = 0;
            out[last - 2] = 0;
            out[last - 3] = 0;
            let mut index = last - 4;
            while out[index] == 0xff {
                out[index] = 0;
                index -= 1;
            }
            out[index] += 1;
            out
        };
        for (what, value) in [
            ("p - 1", minus(&prime, 1)),
            ("p", prime.clone()),
            ("p + 1 - 2^32", plus_one),
        ] {
            assert_eq!(
                ke.respond(&random, &value).err(),
                Some(CryptoError::InvalidPeerPublicValue),
                "{ke:?}: accepted {what}"
            );
        }
        assert!(
            ke.respond(&random, &minus(&prime, 2)).is_ok(),
            "{ke:?}: refused p - 2"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn ml_kem_768_against_rustcrypto() {
    use ml_kem::DecapsulationKey768;
    use ml_kem::EncapsulationKey768;
    use ml_kem::KeyExport;
    use ml_kem::kem::Decapsulate;

    let provider = provider();
    let ke = provider.key_exchange(KeMethod::ML_KEM_768).unwrap();
    for round in 0u8..4 {
        // Our initiator, RustCrypto's responder.
        let initiator = ke.start(provider.random.as_ref()).unwrap();
        let ek = EncapsulationKey768::new(initiator.public().try_into().unwrap()).unwrap();
        let (ciphertext, expected) = ek.encapsulate_deterministic(&[round; 32].into());
        let secret = initiator.complete(ciphertext.as_slice()).unwrap();
        assert_eq!(
            secret.expose(),
            expected.as_slice(),
            "round {round}: our decapsulation"
        );

        // RustCrypto's initiator, our responder.
        let dk = DecapsulationKey768::from_seed([round.wrapping_add(100); 64].into());
        let ek_bytes = dk.encapsulation_key().to_bytes();
        let (ciphertext, secret) = ke
            .respond(provider.random.as_ref(), ek_bytes.as_slice())
            .unwrap();
        assert_eq!(ciphertext.len(), 1088);
        let expected = dk.decapsulate(ciphertext.as_slice().try_into().unwrap());
        assert_eq!(
            secret.expose(),
            expected.as_slice(),
            "round {round}: our encapsulation"
        );
    }
}
