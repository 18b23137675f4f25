//! IKE and ESP proposals in strongSwan's syntax (`aes256gcm16-prfsha384-x25519`).
//!
//! A proposal is a `-`-separated list of algorithm tokens. Several tokens of one transform type
//! are alternatives the peer may choose from (RFC 7296 §3.3: one proposal, several transforms of
//! a type). `keN_<method>` adds the N-th additional key exchange of [RFC 9370] (`ke1_mlkem768`
//! makes a hybrid post-quantum exchange). `esn` / `noesn` choose extended sequence numbers for
//! ESP ([RFC 4303 §2.2.1]). The keyword `default` stands for hitless's default proposals.
//!
//! Algorithms deprecated by [RFC 8247] (IKE) and [RFC 8221] (ESP), such as `3des`, `md5`,
//! `sha1` and `modp1024`, are refused with that reason rather than as unknown words.
//!
//! [RFC 9370]: https://www.rfc-editor.org/rfc/rfc9370
//! [RFC 4303 §2.2.1]: https://www.rfc-editor.org/rfc/rfc4303#section-2.2.1
//! [RFC 8247]: https://www.rfc-editor.org/rfc/rfc8247
//! [RFC 8221]: https://www.rfc-editor.org/rfc/rfc8221

use std::fmt;
use std::str::FromStr;

use hitless_wire::registry::EncrId;
use hitless_wire::registry::EsnId;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;
use serde::Deserialize;
use serde::Deserializer;

/// An encryption transform: algorithm and key length.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Encryption {
    /// The ENCR transform ID.
    pub id: EncrId,
    /// The Key Length attribute in bits (RFC 7296 §3.3.5); `None` for ciphers with a fixed key
    /// size such as ChaCha20-Poly1305 (RFC 7634 §2).
    pub key_bits: Option<u16>,
}

/// An IKE SA proposal (RFC 7296 §3.3).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IkeProposal {
    /// Encryption algorithms, all AEAD or all not.
    pub encryption: Vec<Encryption>,
    /// Integrity algorithms, empty with AEAD ciphers.
    pub integrity: Vec<IntegId>,
    /// Pseudorandom functions, never empty.
    pub prf: Vec<PrfId>,
    /// Key exchange methods of the IKE_SA_INIT exchange, never empty.
    pub key_exchange: Vec<KeMethod>,
    /// Additional key exchanges (RFC 9370), by slot.
    pub additional_key_exchanges: Vec<AdditionalKeyExchange>,
}

/// An ESP Child SA proposal (RFC 7296 §3.3, RFC 4303).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EspProposal {
    /// Encryption algorithms, all AEAD or all not.
    pub encryption: Vec<Encryption>,
    /// Integrity algorithms, empty with AEAD ciphers.
    pub integrity: Vec<IntegId>,
    /// Key exchange methods for perfect forward secrecy in CREATE_CHILD_SA; empty for none.
    pub key_exchange: Vec<KeMethod>,
    /// Additional key exchanges (RFC 9370), by slot.
    pub additional_key_exchanges: Vec<AdditionalKeyExchange>,
    /// Extended sequence number choices in order of preference, never empty.
    pub esn: Vec<EsnId>,
}

/// The methods of one additional key exchange slot (RFC 9370 §2.1: transform types 6–12).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AdditionalKeyExchange {
    /// The slot, 1 to 7 (transform type ADDKE1 to ADDKE7).
    pub slot: u8,
    /// The methods offered in it; [`KeMethod::NONE`] makes the slot optional.
    pub methods: Vec<KeMethod>,
}

/// One entry of a `proposals` or `esp_proposals` list: a proposal or `default`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Entry<P> {
    /// The keyword `default`.
    Default,
    /// A proposal.
    Proposal(P),
}

impl IkeProposal {
    /// hitless's default IKE proposals: AEADs first, CBC + HMAC for older peers.
    pub fn defaults() -> Vec<Self> {
        DEFAULT_IKE
            .iter()
            .filter_map(|text| text.parse().ok())
            .collect()
    }

    /// Whether the proposal uses AEAD ciphers.
    pub fn is_aead(&self) -> bool {
        self.encryption.iter().any(|e| is_aead(e.id))
    }
}

impl EspProposal {
    /// hitless's default ESP proposals (no PFS, no ESN, as strongSwan's).
    pub fn defaults() -> Vec<Self> {
        DEFAULT_ESP
            .iter()
            .filter_map(|text| text.parse().ok())
            .collect()
    }

    /// Whether the proposal uses AEAD ciphers.
    pub fn is_aead(&self) -> bool {
        self.encryption.iter().any(|e| is_aead(e.id))
    }
}

impl FromStr for IkeProposal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts = Parts::parse(text)?;
        if !parts.esn.is_empty() {
            return Err(format!(
                "`esn`/`noesn` in IKE proposal `{text}`: extended sequence numbers apply to \
                 ESP proposals only"
            ));
        }
        parts.check_ciphers(text)?;
        let mut prf = parts.prf;
        if prf.is_empty() {
            if parts.integrity.is_empty() {
                return Err(format!(
                    "IKE proposal `{text}` has no PRF; an AEAD cipher cannot lend its integrity \
                     algorithm, expected a PRF token such as prfsha256 or prfsha384 (e.g. \
                     aes256gcm16-prfsha384-x25519)"
                ));
            }
            // As strongSwan: without an explicit PRF, use the one matching each integrity
            // algorithm.
            prf = parts.integrity.iter().filter_map(|i| prf_for(*i)).collect();
        }
        if parts.key_exchange.is_empty() {
            return Err(format!(
                "IKE proposal `{text}` has no key exchange method, expected a token such as \
                 x25519, ecp256 or modp3072"
            ));
        }
        Ok(Self {
            encryption: parts.encryption,
            integrity: parts.integrity,
            prf,
            key_exchange: parts.key_exchange,
            additional_key_exchanges: parts.additional,
        })
    }
}

impl FromStr for EspProposal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts = Parts::parse(text)?;
        if let Some(prf) = parts.prf.first() {
            return Err(format!(
                "ESP proposal `{text}` names a PRF (`{}`), but ESP has none, expected \
                 encryption, integrity, optional key exchange and esn/noesn tokens",
                prf_token(*prf)
            ));
        }
        parts.check_ciphers(text)?;
        if parts.key_exchange.is_empty() && !parts.additional.is_empty() {
            return Err(format!(
                "ESP proposal `{text}` has an additional key exchange (keN_…) but no key \
                 exchange method, expected a method such as x25519 before it"
            ));
        }
        Ok(Self {
            encryption: parts.encryption,
            integrity: parts.integrity,
            key_exchange: parts.key_exchange,
            additional_key_exchanges: parts.additional,
            esn: if parts.esn.is_empty() {
                vec![EsnId::NO_ESN]
            } else {
                parts.esn
            },
        })
    }
}

impl<P: FromStr<Err = String>> FromStr for Entry<P> {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim() == "default" {
            return Ok(Self::Default);
        }
        text.parse().map(Self::Proposal)
    }
}

impl<'de, P: FromStr<Err = String>> Deserialize<'de> for Entry<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::text::deserialize_from_str(
            deserializer,
            "a proposal string such as \"aes256gcm16-prfsha384-x25519\"",
        )
    }
}

impl fmt::Display for IkeProposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tokens: Vec<String> = self.encryption.iter().map(encryption_token).collect();
        tokens.extend(
            self.integrity
                .iter()
                .map(|i| integrity_token(*i).to_owned()),
        );
        tokens.extend(self.prf.iter().map(|p| prf_token(*p).to_owned()));
        tokens.extend(self.key_exchange.iter().map(|k| ke_token(*k).to_owned()));
        tokens.extend(additional_tokens(&self.additional_key_exchanges));
        f.write_str(&tokens.join("-"))
    }
}

impl fmt::Display for EspProposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tokens: Vec<String> = self.encryption.iter().map(encryption_token).collect();
        tokens.extend(
            self.integrity
                .iter()
                .map(|i| integrity_token(*i).to_owned()),
        );
        tokens.extend(self.key_exchange.iter().map(|k| ke_token(*k).to_owned()));
        tokens.extend(additional_tokens(&self.additional_key_exchanges));
        if self.esn != [EsnId::NO_ESN] {
            tokens.extend(
                self.esn
                    .iter()
                    .map(|e| if *e == EsnId::ESN { "esn" } else { "noesn" }.to_owned()),
            );
        }
        f.write_str(&tokens.join("-"))
    }
}

/// The tokens of a proposal, sorted by transform type, before the IKE/ESP rules.
#[derive(Default)]
struct Parts {
    encryption: Vec<Encryption>,
    integrity: Vec<IntegId>,
    prf: Vec<PrfId>,
    key_exchange: Vec<KeMethod>,
    additional: Vec<AdditionalKeyExchange>,
    esn: Vec<EsnId>,
}

/// One recognised token.
enum Token {
    Encryption(Encryption),
    Integrity(IntegId),
    Prf(PrfId),
    KeyExchange(KeMethod),
    Additional(u8, KeMethod),
    Esn(EsnId),
}

impl Parts {
    fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(
                "empty proposal, expected algorithm tokens joined by `-`, such as \
                        aes256gcm16-prfsha384-x25519"
                    .to_owned(),
            );
        }
        let mut parts = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for token in trimmed.split('-') {
            let token = token.trim();
            if token.is_empty() {
                return Err(format!(
                    "empty algorithm between two `-` in proposal `{text}`"
                ));
            }
            let normalized = token.to_ascii_lowercase();
            if token == "default" {
                return Err(format!(
                    "`default` must stand alone in the list, not inside proposal `{text}`"
                ));
            }
            let parsed = parse_token(&normalized).map_err(|reason| match reason {
                TokenError::Unknown => unknown_token_message(token, text),
                TokenError::Refused(why) => {
                    format!("algorithm `{token}` in proposal `{text}` is not supported: {why}")
                }
            })?;
            if seen.contains(&token) {
                return Err(format!(
                    "algorithm `{token}` appears twice in proposal `{text}`"
                ));
            }
            seen.push(token);
            match parsed {
                Token::Encryption(e) => parts.encryption.push(e),
                Token::Integrity(i) => parts.integrity.push(i),
                Token::Prf(p) => parts.prf.push(p),
                Token::KeyExchange(k) => parts.key_exchange.push(k),
                Token::Additional(slot, method) => {
                    match parts.additional.iter_mut().find(|a| a.slot == slot) {
                        Some(existing) => existing.methods.push(method),
                        None => parts.additional.push(AdditionalKeyExchange {
                            slot,
                            methods: vec![method],
                        }),
                    }
                }
                Token::Esn(e) => parts.esn.push(e),
            }
        }
        parts.additional.sort_by_key(|a| a.slot);
        Ok(parts)
    }

    /// The cipher rules shared by IKE and ESP.
    fn check_ciphers(&self, text: &str) -> Result<(), String> {
        let Some(first) = self.encryption.first() else {
            return Err(format!(
                "proposal `{text}` has no encryption algorithm, expected one such as \
                 aes256gcm16, chacha20poly1305 or aes256"
            ));
        };
        let aead = is_aead(first.id);
        if let Some(other) = self.encryption.iter().find(|e| is_aead(e.id) != aead) {
            let (a, b) = if aead { (first, other) } else { (other, first) };
            return Err(format!(
                "proposal `{text}` mixes an AEAD cipher ({}) with a non-AEAD cipher ({}), \
                 expected them in separate proposals",
                encryption_token(a),
                encryption_token(b)
            ));
        }
        match (aead, self.integrity.first()) {
            (true, Some(integrity)) => Err(format!(
                "proposal `{text}` combines the AEAD cipher {} with the integrity algorithm \
                 {}, expected no integrity algorithm with an AEAD (it authenticates itself)",
                encryption_token(first),
                integrity_token(*integrity)
            )),
            (false, None) => Err(format!(
                "proposal `{text}` has the non-AEAD cipher {} but no integrity algorithm, \
                 expected one such as sha256",
                encryption_token(first)
            )),
            _ => Ok(()),
        }
    }
}

enum TokenError {
    Unknown,
    Refused(&'static str),
}

fn parse_token(token: &str) -> Result<Token, TokenError> {
    if let Some(encryption) = parse_encryption(token)? {
        return Ok(Token::Encryption(encryption));
    }
    if let Some(rest) = token.strip_prefix("ke")
        && let Some((slot, method)) = rest.split_once('_')
        && let Ok(slot @ 1..=7) = slot.parse::<u8>()
    {
        let method = if method == "none" {
            KeMethod::NONE
        } else {
            parse_ke(method)?.ok_or(TokenError::Unknown)?
        };
        return Ok(Token::Additional(slot, method));
    }
    if let Some(method) = parse_ke(token)? {
        return Ok(Token::KeyExchange(method));
    }
    let token = match token {
        "sha256" | "sha2_256" => Token::Integrity(IntegId::HMAC_SHA2_256_128),
        "sha384" | "sha2_384" => Token::Integrity(IntegId::HMAC_SHA2_384_192),
        "sha512" | "sha2_512" => Token::Integrity(IntegId::HMAC_SHA2_512_256),
        "prfsha256" | "prfsha2_256" => Token::Prf(PrfId::HMAC_SHA2_256),
        "prfsha384" | "prfsha2_384" => Token::Prf(PrfId::HMAC_SHA2_384),
        "prfsha512" | "prfsha2_512" => Token::Prf(PrfId::HMAC_SHA2_512),
        "esn" => Token::Esn(EsnId::ESN),
        "noesn" => Token::Esn(EsnId::NO_ESN),
        "md5" | "md5_128" | "sha1" | "sha" | "sha1_160" | "sha256_96" | "sha2_256_96" => {
            return Err(TokenError::Refused(
                "MD5, SHA-1 and truncated SHA-256 integrity are deprecated (RFC 8247 §2.3, \
                 RFC 8221 §6), use sha256, sha384 or sha512",
            ));
        }
        "aesxcbc" | "aescmac" | "camellia" => {
            return Err(TokenError::Refused(
                "hitless implements HMAC-SHA2 integrity only, use sha256, sha384 or sha512",
            ));
        }
        "prfmd5" | "prfsha1" => {
            return Err(TokenError::Refused(
                "PRF_HMAC_MD5 and PRF_HMAC_SHA1 are deprecated (RFC 8247 §2.2), use prfsha256, \
                 prfsha384 or prfsha512",
            ));
        }
        "prfaesxcbc" | "prfaescmac" => {
            return Err(TokenError::Refused(
                "hitless implements HMAC-SHA2 PRFs only, use prfsha256, prfsha384 or prfsha512",
            ));
        }
        _ => return Err(TokenError::Unknown),
    };
    Ok(token)
}

fn parse_encryption(token: &str) -> Result<Option<Encryption>, TokenError> {
    let aes = |id, bits| {
        Ok(Some(Encryption {
            id,
            key_bits: Some(bits),
        }))
    };
    match token {
        "chacha20poly1305" => {
            return Ok(Some(Encryption {
                id: EncrId::CHACHA20_POLY1305,
                key_bits: None,
            }));
        }
        "des" | "3des" | "cast128" | "blowfish" | "blowfish128" | "blowfish256" | "idea"
        | "rc5" => {
            return Err(TokenError::Refused(
                "DES, 3DES and the other 64-bit block ciphers are deprecated (RFC 8247 §2.1, \
                 RFC 8221 §5), use aes256gcm16, aes128gcm16 or chacha20poly1305",
            ));
        }
        "null" => {
            return Err(TokenError::Refused(
                "ENCR_NULL gives no confidentiality and hitless does not offer it",
            ));
        }
        _ => {}
    }
    let Some(rest) = token.strip_prefix("aes") else {
        if token.starts_with("camellia")
            || token.starts_with("serpent")
            || token.starts_with("twofish")
        {
            return Err(TokenError::Refused(
                "hitless implements AES and ChaCha20-Poly1305 only, use aes256gcm16, \
                 aes128gcm16, chacha20poly1305 or aes256",
            ));
        }
        return Ok(None);
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (bits, mode) = rest.split_at(digits);
    let bits: u16 = match bits {
        "" => 128,
        "128" => 128,
        "192" => 192,
        "256" => 256,
        _ => return Err(TokenError::Unknown),
    };
    match mode {
        "" => aes(EncrId::AES_CBC, bits),
        "gcm" | "gcm16" | "gcm128" => aes(EncrId::AES_GCM_16, bits),
        "gcm8" | "gcm64" | "gcm12" | "gcm96" => Err(TokenError::Refused(
            "AES-GCM with a truncated 8- or 12-byte ICV is not offered, use the 16-byte ICV \
             (aes128gcm16, aes256gcm16)",
        )),
        "ctr" | "ccm" | "ccm8" | "ccm64" | "ccm12" | "ccm96" | "ccm16" | "ccm128" | "gmac"
        | "xcbc" | "cmac" => Err(TokenError::Refused(
            "hitless implements AES-CBC and AES-GCM (16-byte ICV) only, use aes256gcm16, \
             aes128gcm16 or aes256",
        )),
        _ => Err(TokenError::Unknown),
    }
}

fn parse_ke(token: &str) -> Result<Option<KeMethod>, TokenError> {
    let method = match token {
        "x25519" | "curve25519" => KeMethod::CURVE25519,
        "ecp256" => KeMethod::ECP_256,
        "ecp384" => KeMethod::ECP_384,
        "ecp521" => KeMethod::ECP_521,
        "modp2048" => KeMethod::MODP_2048,
        "modp3072" => KeMethod::MODP_3072,
        "modp4096" => KeMethod::MODP_4096,
        "modp6144" => KeMethod::MODP_6144,
        "modp8192" => KeMethod::MODP_8192,
        "mlkem512" => KeMethod::ML_KEM_512,
        "mlkem768" => KeMethod::ML_KEM_768,
        "mlkem1024" => KeMethod::ML_KEM_1024,
        "modp768" | "modp1024" | "modp1536" | "modp1024s160" | "modp2048s224" | "modp2048s256" => {
            return Err(TokenError::Refused(
                "MODP groups below 2048 bits and the subgroup MODP groups are deprecated \
                 (RFC 8247 §2.4), use x25519, ecp256 or modp3072",
            ));
        }
        "ecp192" | "ecp224" | "ecp224bp" | "ecp256bp" | "ecp384bp" | "ecp512bp" | "x448"
        | "curve448" => {
            return Err(TokenError::Refused(
                "hitless implements x25519, ecp256, ecp384, ecp521, modp2048 to modp8192 and \
                 ML-KEM only",
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some(method))
}

fn is_aead(id: EncrId) -> bool {
    matches!(
        id,
        EncrId::AES_GCM_8
            | EncrId::AES_GCM_12
            | EncrId::AES_GCM_16
            | EncrId::AES_CCM_8
            | EncrId::AES_CCM_12
            | EncrId::AES_CCM_16
            | EncrId::CHACHA20_POLY1305
    )
}

fn prf_for(integrity: IntegId) -> Option<PrfId> {
    match integrity {
        IntegId::HMAC_SHA2_256_128 => Some(PrfId::HMAC_SHA2_256),
        IntegId::HMAC_SHA2_384_192 => Some(PrfId::HMAC_SHA2_384),
        IntegId::HMAC_SHA2_512_256 => Some(PrfId::HMAC_SHA2_512),
        _ => None,
    }
}

fn encryption_token(encryption: &Encryption) -> String {
    let bits = encryption.key_bits.unwrap_or(0);
    match encryption.id {
        EncrId::AES_CBC => format!("aes{bits}"),
        EncrId::AES_GCM_16 => format!("aes{bits}gcm16"),
        EncrId::CHACHA20_POLY1305 => "chacha20poly1305".to_owned(),
        other => format!("{other}"),
    }
}

fn integrity_token(integrity: IntegId) -> &'static str {
    match integrity {
        IntegId::HMAC_SHA2_256_128 => "sha256",
        IntegId::HMAC_SHA2_384_192 => "sha384",
        IntegId::HMAC_SHA2_512_256 => "sha512",
        _ => "unknown-integrity",
    }
}

fn prf_token(prf: PrfId) -> &'static str {
    match prf {
        PrfId::HMAC_SHA2_256 => "prfsha256",
        PrfId::HMAC_SHA2_384 => "prfsha384",
        PrfId::HMAC_SHA2_512 => "prfsha512",
        _ => "unknown-prf",
    }
}

fn ke_token(method: KeMethod) -> &'static str {
    match method {
        KeMethod::NONE => "none",
        KeMethod::CURVE25519 => "x25519",
        KeMethod::ECP_256 => "ecp256",
        KeMethod::ECP_384 => "ecp384",
        KeMethod::ECP_521 => "ecp521",
        KeMethod::MODP_2048 => "modp2048",
        KeMethod::MODP_3072 => "modp3072",
        KeMethod::MODP_4096 => "modp4096",
        KeMethod::MODP_6144 => "modp6144",
        KeMethod::MODP_8192 => "modp8192",
        KeMethod::ML_KEM_512 => "mlkem512",
        KeMethod::ML_KEM_768 => "mlkem768",
        KeMethod::ML_KEM_1024 => "mlkem1024",
        _ => "unknown-ke",
    }
}

fn additional_tokens(additional: &[AdditionalKeyExchange]) -> impl Iterator<Item = String> + '_ {
    additional.iter().flat_map(|slot| {
        slot.methods
            .iter()
            .map(move |m| format!("ke{}_{}", slot.slot, ke_token(*m)))
    })
}

fn unknown_token_message(token: &str, proposal: &str) -> String {
    let lower = token.to_ascii_lowercase();
    let suggestion = KNOWN_TOKENS
        .iter()
        .map(|known| (edit_distance(&lower, known), known))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default();
    format!(
        "unknown algorithm `{token}` in proposal `{proposal}`{suggestion}, expected \
         encryption (aes128gcm16, aes256gcm16, chacha20poly1305, aes128, aes256), integrity \
         (sha256, sha384, sha512), PRF (prfsha256, prfsha384, prfsha512), key exchange \
         (x25519, ecp256, ecp384, ecp521, modp2048 … modp8192, mlkem512, mlkem768, mlkem1024, \
         ke1_mlkem768 …) or esn/noesn"
    )
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

const KNOWN_TOKENS: &[&str] = &[
    "aes128",
    "aes192",
    "aes256",
    "aes128gcm16",
    "aes192gcm16",
    "aes256gcm16",
    "chacha20poly1305",
    "sha256",
    "sha384",
    "sha512",
    "prfsha256",
    "prfsha384",
    "prfsha512",
    "x25519",
    "ecp256",
    "ecp384",
    "ecp521",
    "modp2048",
    "modp3072",
    "modp4096",
    "modp6144",
    "modp8192",
    "mlkem512",
    "mlkem768",
    "mlkem1024",
    "esn",
    "noesn",
];

const DEFAULT_IKE: &[&str] = &[
    "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha384-prfsha256-prfsha512-x25519-ecp256-ecp384-modp3072",
    "aes256-aes128-sha256-sha384-sha512-x25519-ecp256-ecp384-modp3072-modp2048",
];

const DEFAULT_ESP: &[&str] = &[
    "aes256gcm16-aes128gcm16-chacha20poly1305",
    "aes256-aes128-sha256-sha384-sha512",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ike(text: &str) -> Result<IkeProposal, String> {
        text.parse()
    }

    fn esp(text: &str) -> Result<EspProposal, String> {
        text.parse()
    }

    #[test]
    fn aead_ike_proposal() {
        let p = ike("aes256gcm16-prfsha384-x25519").unwrap();
        assert_eq!(
            p.encryption,
            [Encryption {
                id: EncrId::AES_GCM_16,
                key_bits: Some(256)
            }]
        );
        assert!(p.integrity.is_empty());
        assert_eq!(p.prf, [PrfId::HMAC_SHA2_384]);
        assert_eq!(p.key_exchange, [KeMethod::CURVE25519]);
        assert!(p.is_aead());
        assert_eq!(p.to_string(), "aes256gcm16-prfsha384-x25519");
    }

    #[test]
    fn brief_examples_parse() {
        for text in [
            "aes128gcm16-prfsha256-ecp256",
            "chacha20poly1305-prfsha256-x25519",
            "aes256-sha256-modp2048",
        ] {
            assert_eq!(
                ike(text).unwrap().to_string().split('-').next(),
                text.split('-').next()
            );
        }
        // Alternatives for the primary KE, as strongSwan reads them.
        let p = ike("aes128gcm16-prfsha256-x25519-mlkem768").unwrap();
        assert_eq!(p.key_exchange, [KeMethod::CURVE25519, KeMethod::ML_KEM_768]);
        // Hybrid post-quantum (RFC 9370).
        let p = ike("aes256gcm16-prfsha384-x25519-ke1_mlkem768").unwrap();
        assert_eq!(
            p.additional_key_exchanges,
            [AdditionalKeyExchange {
                slot: 1,
                methods: vec![KeMethod::ML_KEM_768]
            }]
        );
        assert_eq!(p.to_string(), "aes256gcm16-prfsha384-x25519-ke1_mlkem768");
    }

    #[test]
    fn prf_derived_from_integrity() {
        let p = ike("aes256-sha256-modp2048").unwrap();
        assert_eq!(p.prf, [PrfId::HMAC_SHA2_256]);
        assert_eq!(p.integrity, [IntegId::HMAC_SHA2_256_128]);
        assert_eq!(p.to_string(), "aes256-sha256-prfsha256-modp2048");
    }

    #[test]
    fn ike_rule_violations() {
        let e = ike("aes128gcm16-x25519").unwrap_err();
        assert!(e.contains("has no PRF"), "{e}");
        let e = ike("aes256-prfsha256-x25519").unwrap_err();
        assert!(e.contains("no integrity algorithm"), "{e}");
        let e = ike("aes256gcm16-sha256-prfsha256-x25519").unwrap_err();
        assert!(e.contains("combines the AEAD cipher aes256gcm16"), "{e}");
        let e = ike("aes256gcm16-aes256-sha256-prfsha256-x25519").unwrap_err();
        assert!(
            e.contains("mixes an AEAD cipher (aes256gcm16) with a non-AEAD"),
            "{e}"
        );
        let e = ike("aes256gcm16-prfsha256").unwrap_err();
        assert!(e.contains("no key exchange method"), "{e}");
        let e = ike("aes256gcm16-prfsha256-x25519-esn").unwrap_err();
        assert!(e.contains("ESP proposals only"), "{e}");
        let e = ike("prfsha256-x25519").unwrap_err();
        assert!(e.contains("no encryption algorithm"), "{e}");
        let e = ike("aes256gcm16-aes256gcm16-prfsha256-x25519").unwrap_err();
        assert!(e.contains("appears twice"), "{e}");
        let e = ike("aes256gcm16--x25519").unwrap_err();
        assert!(e.contains("empty algorithm"), "{e}");
    }

    #[test]
    fn esp_proposals() {
        let p = esp("aes128gcm16").unwrap();
        assert_eq!(p.esn, [EsnId::NO_ESN]);
        assert!(p.key_exchange.is_empty());
        assert_eq!(p.to_string(), "aes128gcm16");
        let p = esp("aes256gcm16-x25519").unwrap();
        assert_eq!(p.key_exchange, [KeMethod::CURVE25519]);
        let p = esp("aes256-sha256-esn").unwrap();
        assert_eq!(p.esn, [EsnId::ESN]);
        assert_eq!(p.to_string(), "aes256-sha256-esn");
        let p = esp("aes256gcm16-esn-noesn").unwrap();
        assert_eq!(p.esn, [EsnId::ESN, EsnId::NO_ESN]);
        let e = esp("aes256gcm16-prfsha256").unwrap_err();
        assert!(e.contains("ESP has none"), "{e}");
        let e = esp("aes256").unwrap_err();
        assert!(e.contains("no integrity algorithm"), "{e}");
        let e = esp("aes256gcm16-ke1_mlkem768").unwrap_err();
        assert!(e.contains("no key exchange method"), "{e}");
    }

    #[test]
    fn deprecated_and_unknown_algorithms() {
        let e = ike("3des-sha256-modp2048").unwrap_err();
        assert!(e.contains("`3des`") && e.contains("RFC 8247"), "{e}");
        let e = ike("aes256-sha1-modp2048").unwrap_err();
        assert!(e.contains("`sha1`") && e.contains("deprecated"), "{e}");
        let e = ike("aes256-sha256-modp1024").unwrap_err();
        assert!(e.contains("`modp1024`"), "{e}");
        let e = ike("aes256gcm17-prfsha384-x25519").unwrap_err();
        assert!(e.contains("unknown algorithm `aes256gcm17`"), "{e}");
        assert!(e.contains("did you mean `aes256gcm16`?"), "{e}");
        let e = ike("frobnicate-prfsha384-x25519").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains(", expected encryption"), "{e}");
    }

    #[test]
    fn aliases_and_case() {
        let p = ike("AES128GCM-PRFSHA256-Curve25519").unwrap();
        assert_eq!(p.to_string(), "aes128gcm16-prfsha256-x25519");
        let p = ike("aes-sha2_256-ecp256").unwrap();
        assert_eq!(p.to_string(), "aes128-sha256-prfsha256-ecp256");
    }

    #[test]
    fn default_keyword_and_defaults() {
        assert_eq!("default".parse::<Entry<IkeProposal>>(), Ok(Entry::Default));
        assert!(
            ike("default-x25519")
                .unwrap_err()
                .contains("must stand alone")
        );
        assert_eq!(IkeProposal::defaults().len(), DEFAULT_IKE.len());
        assert_eq!(EspProposal::defaults().len(), DEFAULT_ESP.len());
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("x25519", "x25519"), 0);
    }
}
