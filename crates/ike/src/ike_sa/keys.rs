//! The keys of an IKE SA: SKEYSEED and SK_* ([RFC 7296 §2.14]), the rekey derivation from the
//! old SK_d ([§2.18]), and the protection of messages with the SK payload ([§3.14]) by an AEAD
//! ([RFC 5282]) or by CBC encryption plus an integrity algorithm.
//!
//! [RFC 7296 §2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
//! [§2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! [§3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
//! [RFC 5282]: https://www.rfc-editor.org/rfc/rfc5282

use hitless_crypto::Aead;
use hitless_crypto::AeadKey;
use hitless_crypto::Cipher;
use hitless_crypto::CipherKey;
use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::Integ;
use hitless_crypto::IntegKey;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_crypto::derive;
use hitless_crypto::derive::IkeKeyLengths;
use hitless_crypto::derive::IkeKeys;
use hitless_wire::ParseError;
use hitless_wire::ike;
use hitless_wire::ike::EncryptedKind;
use hitless_wire::ike::Header;
use hitless_wire::ike::ParsedMessage;
use hitless_wire::ike::Payload;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::PayloadType;

use crate::proposal::IkeAlgorithms;

/// The negotiated algorithms and derived keys of an established (or authenticating) IKE SA,
/// with the expanded key schedules that protect its messages.
pub(crate) struct IkeSaKeys {
    /// The algorithms.
    pub algorithms: IkeAlgorithms,
    /// The raw keys (for AUTH, Child SA KEYMAT, rekeying and HA export).
    pub keys: IkeKeys,
    /// The PRF.
    pub prf: &'static dyn Prf,
    protection: Protection,
}

/// Why an SK payload could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Not protected at all, or protected with the wrong keys: drop silently (RFC 7296 §2.21).
    Integrity,
    /// Authentic, but the plaintext does not parse: the peer gets INVALID_SYNTAX (or
    /// UNSUPPORTED_CRITICAL_PAYLOAD) if it was a request.
    Malformed(ParseError),
}

enum Protection {
    Aead {
        aead: &'static dyn Aead,
        initiator: Box<dyn AeadKey>,
        responder: Box<dyn AeadKey>,
    },
    Cbc {
        cipher: &'static dyn Cipher,
        integ: &'static dyn Integ,
        encr_initiator: Box<dyn CipherKey>,
        encr_responder: Box<dyn CipherKey>,
        integ_initiator: Box<dyn IntegKey>,
        integ_responder: Box<dyn IntegKey>,
    },
}

impl IkeSaKeys {
    /// Derives the keys of a new IKE SA from IKE_SA_INIT ([RFC 7296 §2.14]).
    ///
    /// [RFC 7296 §2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
    pub(crate) fn derive(
        crypto: &CryptoProvider,
        algorithms: IkeAlgorithms,
        shared: &SecretBytes,
        nonce_i: &[u8],
        nonce_r: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<Self, CryptoError> {
        let prf = crypto.prf(algorithms.prf).ok_or(CryptoError::Library)?;
        let skeyseed = derive::skeyseed(prf, nonce_i, nonce_r, shared.expose());
        let lengths = key_lengths(crypto, &algorithms)?;
        let keys =
            derive::derive_ike_keys(prf, &skeyseed, nonce_i, nonce_r, spi_i, spi_r, lengths)?;
        Self::from_keys(crypto, algorithms, keys)
    }

    /// Derives the keys of the IKE SA that replaces `self` in a rekey ([RFC 7296 §2.18]): the
    /// old PRF computes SKEYSEED from the old SK_d, the new PRF expands it.
    ///
    /// [RFC 7296 §2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
    pub(crate) fn derive_rekey(
        &self,
        crypto: &CryptoProvider,
        algorithms: IkeAlgorithms,
        shared: &SecretBytes,
        nonce_i: &[u8],
        nonce_r: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<Self, CryptoError> {
        let skeyseed =
            derive::rekey_skeyseed(self.prf, &self.keys.sk_d, shared.expose(), nonce_i, nonce_r);
        let prf = crypto.prf(algorithms.prf).ok_or(CryptoError::Library)?;
        let lengths = key_lengths(crypto, &algorithms)?;
        let keys =
            derive::derive_ike_keys(prf, &skeyseed, nonce_i, nonce_r, spi_i, spi_r, lengths)?;
        Self::from_keys(crypto, algorithms, keys)
    }

    /// Expands already-derived keys (an HA import).
    pub(crate) fn from_keys(
        crypto: &CryptoProvider,
        algorithms: IkeAlgorithms,
        keys: IkeKeys,
    ) -> Result<Self, CryptoError> {
        let prf = crypto.prf(algorithms.prf).ok_or(CryptoError::Library)?;
        let key_bits = algorithms.encryption.key_bits;
        let protection = if let Some(aead) = crypto.aead(algorithms.encryption.id, key_bits) {
            Protection::Aead {
                aead,
                initiator: aead.new_key(keys.sk_ei.expose())?,
                responder: aead.new_key(keys.sk_er.expose())?,
            }
        } else {
            let cipher = crypto
                .cipher(algorithms.encryption.id, key_bits)
                .ok_or(CryptoError::Library)?;
            let integ = crypto
                .integ(algorithms.integrity)
                .ok_or(CryptoError::Library)?;
            Protection::Cbc {
                cipher,
                integ,
                encr_initiator: cipher.new_key(keys.sk_ei.expose())?,
                encr_responder: cipher.new_key(keys.sk_er.expose())?,
                integ_initiator: integ.new_key(keys.sk_ai.expose())?,
                integ_responder: integ.new_key(keys.sk_ar.expose())?,
            }
        };
        Ok(Self {
            algorithms,
            keys,
            prf,
            protection,
        })
    }

    /// Encodes a message whose payloads all go into an SK payload ([RFC 7296 §3.14]).
    /// `header.flags.initiator` decides which keys protect it.
    ///
    /// [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
    pub(crate) fn seal(
        &self,
        crypto: &CryptoProvider,
        header: &Header,
        payloads: &[Payload],
    ) -> Result<Vec<u8>, CryptoError> {
        let first_inner = payloads
            .first()
            .map_or(PayloadType::NONE, Payload::payload_type);
        // A value too large for its field cannot come from a parsed message; report it rather
        // than panic.
        let mut plaintext = ike::try_emit_payload_chain(payloads, PayloadType::NONE)
            .map_err(|_| CryptoError::InvalidLength)?;
        let from_initiator = header.flags.initiator;
        match &self.protection {
            Protection::Aead {
                aead,
                initiator,
                responder,
            } => {
                // RFC 5282 §3: no padding needed, but the Pad Length octet is always there.
                plaintext.push(0);
                let iv_len = aead.iv_len();
                let tag_len = aead.tag_len();
                let body_len = iv_len + plaintext.len() + tag_len;
                let (mut message, offset) = ike::try_emit_encrypted_message(
                    header,
                    EncryptedKind::Sk,
                    first_inner,
                    body_len,
                )
                .map_err(|_| CryptoError::InvalidLength)?;
                let (aad, body) = message.split_at_mut(offset);
                let (iv, rest) = body.split_at_mut(iv_len);
                // RFC 5282 §3.1: the IV must not repeat under one key; 64 random bits per
                // message stay unique for far more messages than an IKE SA carries, and need no
                // counter to keep in step across an HA failover.
                crypto.fill_random(iv)?;
                let (data, tag) = rest.split_at_mut(plaintext.len());
                data.copy_from_slice(&plaintext);
                let key = if from_initiator { initiator } else { responder };
                key.seal_in_place(iv, aad, data, tag)?;
                Ok(message)
            }
            Protection::Cbc {
                cipher,
                integ,
                encr_initiator,
                encr_responder,
                integ_initiator,
                integ_responder,
            } => {
                // RFC 7296 §3.14: pad to the block size; the last octet is the pad length.
                let block = cipher.block_len().max(1);
                let padded = (plaintext.len() + 1).div_ceil(block) * block;
                let pad_len = padded - plaintext.len() - 1;
                plaintext.resize(padded - 1, 0);
                plaintext.push(u8::try_from(pad_len).map_err(|_| CryptoError::InvalidLength)?);
                let iv_len = cipher.iv_len();
                let icv_len = integ.icv_len();
                let body_len = iv_len + padded + icv_len;
                let (mut message, offset) = ike::try_emit_encrypted_message(
                    header,
                    EncryptedKind::Sk,
                    first_inner,
                    body_len,
                )
                .map_err(|_| CryptoError::InvalidLength)?;
                let total = message.len();
                {
                    let body = &mut message[offset..];
                    let (iv, rest) = body.split_at_mut(iv_len);
                    crypto.fill_random(iv)?;
                    let data = &mut rest[..padded];
                    data.copy_from_slice(&plaintext);
                    let key = if from_initiator {
                        encr_initiator
                    } else {
                        encr_responder
                    };
                    key.encrypt_in_place(iv, data)?;
                }
                let (covered, icv) = message.split_at_mut(total - icv_len);
                let key = if from_initiator {
                    integ_initiator
                } else {
                    integ_responder
                };
                key.sign(&[covered], icv)?;
                Ok(message)
            }
        }
    }

    /// Checks and decrypts the SK payload of `parsed` and parses its contents
    /// ([RFC 7296 §3.14], [RFC 5282 §5]).
    ///
    /// [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
    /// [RFC 5282 §5]: https://www.rfc-editor.org/rfc/rfc5282#section-5
    pub(crate) fn open(&self, parsed: &ParsedMessage<'_>) -> Result<Vec<Payload>, OpenError> {
        let Some(encrypted) = parsed.encrypted else {
            return Err(OpenError::Integrity);
        };
        if encrypted.kind != EncryptedKind::Sk {
            // RFC 7383 fragments are not reassembled yet.
            return Err(OpenError::Integrity);
        }
        let from_initiator = parsed.header.flags.initiator;
        let body = encrypted.body;
        let mut plaintext = match &self.protection {
            Protection::Aead {
                aead,
                initiator,
                responder,
            } => {
                let (iv_len, tag_len) = (aead.iv_len(), aead.tag_len());
                if body.len() < iv_len + tag_len + 1 {
                    return Err(OpenError::Integrity);
                }
                let (iv, rest) = body.split_at(iv_len);
                let (ciphertext, tag) = rest.split_at(rest.len() - tag_len);
                let mut data = ciphertext.to_vec();
                let key = if from_initiator { initiator } else { responder };
                key.open_in_place(iv, encrypted.authenticated_prefix, &mut data, tag)
                    .map_err(|_| OpenError::Integrity)?;
                data
            }
            Protection::Cbc {
                cipher,
                integ,
                encr_initiator,
                encr_responder,
                integ_initiator,
                integ_responder,
            } => {
                let (iv_len, icv_len, block) =
                    (cipher.iv_len(), integ.icv_len(), cipher.block_len().max(1));
                if body.len() < iv_len + icv_len + block {
                    return Err(OpenError::Integrity);
                }
                let (covered, icv) = body.split_at(body.len() - icv_len);
                let key = if from_initiator {
                    integ_initiator
                } else {
                    integ_responder
                };
                key.verify(&[encrypted.authenticated_prefix, covered], icv)
                    .map_err(|_| OpenError::Integrity)?;
                let (iv, ciphertext) = covered.split_at(iv_len);
                if ciphertext.len() % block != 0 {
                    return Err(OpenError::Malformed(sk_error("encrypted data")));
                }
                let mut data = ciphertext.to_vec();
                let key = if from_initiator {
                    encr_initiator
                } else {
                    encr_responder
                };
                key.decrypt_in_place(iv, &mut data)
                    .map_err(|_| OpenError::Integrity)?;
                data
            }
        };
        let pad_len = usize::from(
            plaintext
                .pop()
                .ok_or_else(|| OpenError::Malformed(sk_error("pad length")))?,
        );
        if pad_len > plaintext.len() {
            return Err(OpenError::Malformed(sk_error("pad length")));
        }
        plaintext.truncate(plaintext.len() - pad_len);
        ike::parse_payload_chain(encrypted.first_inner, &plaintext).map_err(OpenError::Malformed)
    }
}

fn key_lengths(
    crypto: &CryptoProvider,
    algorithms: &IkeAlgorithms,
) -> Result<IkeKeyLengths, CryptoError> {
    let prf = crypto.prf(algorithms.prf).ok_or(CryptoError::Library)?;
    let key_bits = algorithms.encryption.key_bits;
    let (encr, integ) = if let Some(aead) = crypto.aead(algorithms.encryption.id, key_bits) {
        (aead.key_len() + aead.salt_len(), 0)
    } else {
        let cipher = crypto
            .cipher(algorithms.encryption.id, key_bits)
            .ok_or(CryptoError::Library)?;
        if algorithms.integrity == IntegId::NONE {
            return Err(CryptoError::Library);
        }
        let integ = crypto
            .integ(algorithms.integrity)
            .ok_or(CryptoError::Library)?;
        (cipher.key_len(), integ.key_len())
    };
    Ok(IkeKeyLengths {
        prf: prf.key_len(),
        integ,
        encr,
    })
}

fn sk_error(field: &'static str) -> ParseError {
    ParseError::new(
        PayloadType::SK,
        field,
        hitless_wire::ParseErrorKind::InvalidValue,
    )
}
