//! IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18) with `hitless_crypto::derive` and the
//! production provider, against the values a real strongSwan 5.9.8 handshake derived.
//!
//! The fixtures in `tests/fixtures/strongswan/` were captured by `capture.sh` there (two charon
//! daemons in network namespaces, log level 4) and extracted by `extract.py`; see its README.
//! Each covers IKE_SA_INIT + IKE_AUTH, a CREATE_CHILD_SA Child SA rekey (with PFS where the ESP
//! proposal has a KE method) and a CREATE_CHILD_SA IKE SA rekey.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use hitless_crypto::CryptoProvider;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_crypto::derive;
use hitless_crypto::derive::IkeKeyLengths;
use hitless_crypto::derive::IkeKeys;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

const FIXTURES: [&str; 5] = [
    "aes128gcm16-prfsha256-x25519",
    "aes256-sha256-modp2048",
    "aes256gcm16-prfsha384-ecp384",
    "chacha20poly1305-prfsha512-ecp256",
    "aes128-sha512-modp3072",
];

#[test]
fn ike_and_child_keys_match_strongswan() {
    let provider = hitless_crypto_awslc::provider();
    for name in FIXTURES {
        let fixture = Fixture::load(name);
        check_case(&provider, &fixture);
    }
}

fn check_case(provider: &CryptoProvider, fixture: &Fixture) {
    let name = &fixture.name;
    let prf = provider
        .prf(prf_id(fixture.text("", "ike_prf")))
        .expect("PRF offered");
    let ike_lengths = IkeKeyLengths {
        prf: prf.key_len(),
        integ: integ_key_len(provider, fixture.text("", "ike_integ")),
        encr: encr_key_len(
            provider,
            fixture.text("", "ike_encr"),
            fixture.text("", "ike_encr_keysize"),
        ),
    };

    // IKE_SA_INIT: SKEYSEED = prf(Ni | Nr, g^ir); SK_* = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
    let init = "ike_sa_init";
    let shared = fixture.bytes(init, "shared");
    let ke = ke_method(fixture.text("", "ike_ke"));
    let (_, _, secret_len) = hitless_crypto::conformance::expected_lengths(ke).unwrap();
    assert_eq!(shared.len(), secret_len, "{name}: KE secret length");
    let skeyseed = derive::skeyseed(
        prf,
        &fixture.bytes(init, "nonce_i"),
        &fixture.bytes(init, "nonce_r"),
        &shared,
    );
    assert_eq!(
        skeyseed.expose(),
        fixture.bytes(init, "skeyseed"),
        "{name}: SKEYSEED"
    );
    let keys = derive::derive_ike_keys(
        prf,
        &skeyseed,
        &fixture.bytes(init, "nonce_i"),
        &fixture.bytes(init, "nonce_r"),
        fixture.spi(init, "spi_i"),
        fixture.spi(init, "spi_r"),
        ike_lengths,
    )
    .unwrap();
    check_ike_keys(fixture, init, &keys);

    // IKE_AUTH's Child SA: KEYMAT = prf+(SK_d, Ni | Nr), IKE_SA_INIT nonces, no KE.
    let seed = [
        fixture.bytes(init, "nonce_i"),
        fixture.bytes(init, "nonce_r"),
    ]
    .concat();
    assert_eq!(
        seed,
        fixture.bytes("ike_auth_child", "seed"),
        "{name}: seed"
    );
    check_child_keys(
        provider,
        prf,
        fixture,
        "ike_auth_child",
        &keys.sk_d,
        &[],
        init,
    );

    // CREATE_CHILD_SA Child SA rekey: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr).
    let rekey = "child_rekey";
    let shared = fixture.bytes(rekey, "shared");
    let seed = [
        shared.clone(),
        fixture.bytes(rekey, "nonce_i"),
        fixture.bytes(rekey, "nonce_r"),
    ]
    .concat();
    assert_eq!(seed, fixture.bytes(rekey, "seed"), "{name}: rekey seed");
    check_child_keys(provider, prf, fixture, rekey, &keys.sk_d, &shared, rekey);

    // IKE SA rekey: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF;
    // SK_* from the new nonces and SPIs (here the new SA negotiates the same PRF).
    let ike_rekey = "ike_rekey";
    let skeyseed = derive::rekey_skeyseed(
        prf,
        &keys.sk_d,
        &fixture.bytes(ike_rekey, "shared"),
        &fixture.bytes(ike_rekey, "nonce_i"),
        &fixture.bytes(ike_rekey, "nonce_r"),
    );
    assert_eq!(
        skeyseed.expose(),
        fixture.bytes(ike_rekey, "skeyseed"),
        "{name}: rekeyed SKEYSEED"
    );
    let new_keys = derive::derive_ike_keys(
        prf,
        &skeyseed,
        &fixture.bytes(ike_rekey, "nonce_i"),
        &fixture.bytes(ike_rekey, "nonce_r"),
        fixture.spi(ike_rekey, "spi_i"),
        fixture.spi(ike_rekey, "spi_r"),
        ike_lengths,
    )
    .unwrap();
    check_ike_keys(fixture, ike_rekey, &new_keys);
}

fn check_ike_keys(fixture: &Fixture, section: &str, keys: &IkeKeys) {
    let name = &fixture.name;
    for (label, key) in [
        ("sk_d", &keys.sk_d),
        ("sk_ai", &keys.sk_ai),
        ("sk_ar", &keys.sk_ar),
        ("sk_ei", &keys.sk_ei),
        ("sk_er", &keys.sk_er),
        ("sk_pi", &keys.sk_pi),
        ("sk_pr", &keys.sk_pr),
    ] {
        assert_eq!(
            key.expose(),
            fixture.bytes(section, label),
            "{name} [{section}]: {label}"
        );
    }
}

/// Child SA keys: initiator-to-responder first, encryption key (with salt) before integrity key
/// (RFC 7296 §2.17, RFC 4301 §5.2).
fn check_child_keys(
    provider: &CryptoProvider,
    prf: &dyn Prf,
    fixture: &Fixture,
    section: &str,
    sk_d: &SecretBytes,
    shared: &[u8],
    nonces: &str,
) {
    let name = &fixture.name;
    let encr = encr_key_len(
        provider,
        fixture.text("", "esp_encr"),
        fixture.text("", "esp_encr_keysize"),
    );
    let integ = integ_key_len(provider, fixture.text("", "esp_integ"));
    let mut keymat = derive::child_keymat(
        prf,
        sk_d,
        shared,
        &fixture.bytes(nonces, "nonce_i"),
        &fixture.bytes(nonces, "nonce_r"),
        2 * (encr + integ),
    )
    .unwrap();
    for label in ["encr_i", "integ_i", "encr_r", "integ_r"] {
        let len = if label.starts_with("encr") {
            encr
        } else {
            integ
        };
        let key = keymat.take_prefix(len).unwrap();
        assert_eq!(
            key.expose(),
            fixture.bytes(section, label),
            "{name} [{section}]: {label}"
        );
    }
}

fn encr_key_len(provider: &CryptoProvider, encr: &str, keysize: &str) -> usize {
    let bits = keysize.parse::<u16>().ok();
    match encr {
        "AES_GCM_16" => {
            let aead = provider.aead(EncrId::AES_GCM_16, bits).unwrap();
            aead.key_len() + aead.salt_len()
        }
        "CHACHA20_POLY1305" => {
            let aead = provider.aead(EncrId::CHACHA20_POLY1305, None).unwrap();
            aead.key_len() + aead.salt_len()
        }
        "AES_CBC" => provider.cipher(EncrId::AES_CBC, bits).unwrap().key_len(),
        other => panic!("unknown encryption {other}"),
    }
}

fn integ_key_len(provider: &CryptoProvider, integ: &str) -> usize {
    let id = match integ {
        "none" => return 0,
        "HMAC_SHA2_256_128" => IntegId::HMAC_SHA2_256_128,
        "HMAC_SHA2_384_192" => IntegId::HMAC_SHA2_384_192,
        "HMAC_SHA2_512_256" => IntegId::HMAC_SHA2_512_256,
        other => panic!("unknown integrity {other}"),
    };
    provider.integ(id).unwrap().key_len()
}

fn prf_id(prf: &str) -> PrfId {
    match prf {
        "PRF_HMAC_SHA2_256" => PrfId::HMAC_SHA2_256,
        "PRF_HMAC_SHA2_384" => PrfId::HMAC_SHA2_384,
        "PRF_HMAC_SHA2_512" => PrfId::HMAC_SHA2_512,
        other => panic!("unknown PRF {other}"),
    }
}

fn ke_method(ke: &str) -> KeMethod {
    match ke {
        "CURVE_25519" => KeMethod::CURVE25519,
        "ECP_256" => KeMethod::ECP_256,
        "ECP_384" => KeMethod::ECP_384,
        "MODP_2048" => KeMethod::MODP_2048,
        "MODP_3072" => KeMethod::MODP_3072,
        other => panic!("unknown KE method {other}"),
    }
}

/// A fixture file: `key = value` lines, grouped under `[section]` headers.
struct Fixture {
    name: String,
    values: BTreeMap<(String, String), String>,
}

impl Fixture {
    fn load(name: &str) -> Self {
        let path = format!(
            "{}/tests/fixtures/strongswan/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut section = String::new();
        let mut values = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = header.to_owned();
                continue;
            }
            let (key, value) = line.split_once('=').expect("key = value");
            values.insert(
                (section.clone(), key.trim().to_owned()),
                value.trim().to_owned(),
            );
        }
        Self {
            name: name.to_owned(),
            values,
        }
    }

    fn text(&self, section: &str, key: &str) -> &str {
        self.values
            .get(&(section.to_owned(), key.to_owned()))
            .unwrap_or_else(|| panic!("{}: no {key} in [{section}]", self.name))
    }

    fn bytes(&self, section: &str, key: &str) -> Vec<u8> {
        decode_hex(self.text(section, key))
    }

    fn spi(&self, section: &str, key: &str) -> u64 {
        u64::from_str_radix(self.text(section, key), 16).unwrap()
    }
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
