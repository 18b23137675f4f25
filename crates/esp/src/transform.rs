//! The cryptographic transform of one SA: an AEAD ([RFC 4106] AES-GCM, [RFC 7634]
//! ChaCha20-Poly1305) or a CBC cipher with an HMAC ([RFC 3602], [RFC 4868]), applied to an ESP
//! packet laid out in one buffer.
//!
//! The packet is `SPI | sequence | IV | encrypted payload and trailer | ICV` ([RFC 4303 §2]).
//! For an AEAD the 8-byte IV is the 64-bit sequence number (RFC 4106 §3.1 and RFC 7634 §2 only
//! ask for uniqueness per key, which the sequence number guarantees), and the associated data is
//! `SPI | sequence` or, with ESN, `SPI | high 32 bits | low 32 bits` (RFC 4106 §5, RFC 7634
//! §2.1). For CBC the IV is random ([RFC 3602 §2.3]) and the ICV covers the ESP header through
//! the trailer, followed by the high 32 bits with ESN ([RFC 4303 §2.8], §3.3.2.1).
//!
//! [RFC 4303 §2]: https://www.rfc-editor.org/rfc/rfc4303#section-2
//! [RFC 4303 §2.8]: https://www.rfc-editor.org/rfc/rfc4303#section-2.8
//! [RFC 4106]: https://www.rfc-editor.org/rfc/rfc4106
//! [RFC 7634]: https://www.rfc-editor.org/rfc/rfc7634
//! [RFC 3602]: https://www.rfc-editor.org/rfc/rfc3602
//! [RFC 3602 §2.3]: https://www.rfc-editor.org/rfc/rfc3602#section-2.3
//! [RFC 4868]: https://www.rfc-editor.org/rfc/rfc4868

use hitless_crypto::AeadKey;
use hitless_crypto::CipherKey;
use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::IntegKey;
use hitless_crypto::SecureRandom;
use hitless_sadb::EspAlgorithms;
use hitless_wire::esp::ESP_HEADER_LEN;
use hitless_wire::registry::IntegId;

use crate::drop::DropReason;
use crate::error::InstallError;

/// The longest IV of any supported transform (AES-CBC: 16 bytes).
pub(crate) const MAX_IV_LEN: usize = 16;
/// The longest ICV of any supported transform (HMAC-SHA2-512-256: 32 bytes).
pub(crate) const MAX_ICV_LEN: usize = 32;
/// The largest padding alignment (the AES block).
pub(crate) const MAX_ALIGNMENT: usize = 16;
/// The IV length RFC 4106 and RFC 7634 fix for ESP.
const AEAD_IV_LEN: usize = 8;

/// The keyed transform of one SA.
pub(crate) enum Transform {
    /// An AEAD with the IPsec nonce layout.
    Aead {
        /// The expanded key and salt.
        key: Box<dyn AeadKey>,
        /// Tag length.
        tag_len: usize,
    },
    /// Encrypt-then-MAC: CBC without padding, then a truncated HMAC.
    CbcHmac {
        /// The cipher key.
        cipher: Box<dyn CipherKey>,
        /// The cipher's block (and IV) length.
        block_len: usize,
        /// The integrity key.
        integ: Box<dyn IntegKey>,
        /// Truncated ICV length.
        icv_len: usize,
    },
}

impl Transform {
    /// Expands the keys of an SA with `provider`'s algorithms.
    pub(crate) fn new(
        provider: &CryptoProvider,
        algorithms: &EspAlgorithms,
        encr_key: &[u8],
        integ_key: &[u8],
    ) -> Result<Self, InstallError> {
        if let Some(aead) = provider.aead(algorithms.encr, algorithms.encr_key_bits) {
            if algorithms.integ != IntegId::NONE {
                return Err(InstallError::UnsupportedAlgorithms(*algorithms));
            }
            if aead.iv_len() != AEAD_IV_LEN || aead.tag_len() > MAX_ICV_LEN {
                return Err(InstallError::UnsupportedAlgorithms(*algorithms));
            }
            if encr_key.len() != aead.key_len() + aead.salt_len() {
                return Err(InstallError::Key(CryptoError::InvalidKeyLength));
            }
            return Ok(Self::Aead {
                key: aead.new_key(encr_key).map_err(InstallError::Key)?,
                tag_len: aead.tag_len(),
            });
        }
        let cipher = provider
            .cipher(algorithms.encr, algorithms.encr_key_bits)
            .ok_or(InstallError::UnsupportedAlgorithms(*algorithms))?;
        let integ = provider
            .integ(algorithms.integ)
            .filter(|_| algorithms.integ != IntegId::NONE)
            .ok_or(InstallError::UnsupportedAlgorithms(*algorithms))?;
        let block_len = cipher.block_len();
        if cipher.iv_len() != block_len
            || block_len > MAX_ALIGNMENT
            || !block_len.is_power_of_two()
            || integ.icv_len() > MAX_ICV_LEN
        {
            return Err(InstallError::UnsupportedAlgorithms(*algorithms));
        }
        Ok(Self::CbcHmac {
            cipher: cipher.new_key(encr_key).map_err(InstallError::Key)?,
            block_len,
            integ: integ.new_key(integ_key).map_err(InstallError::Key)?,
            icv_len: integ.icv_len(),
        })
    }

    /// Length of the IV carried in each packet.
    pub(crate) fn iv_len(&self) -> usize {
        match self {
            Self::Aead { .. } => AEAD_IV_LEN,
            Self::CbcHmac { block_len, .. } => *block_len,
        }
    }

    /// Length of the ICV at the end of each packet.
    pub(crate) fn icv_len(&self) -> usize {
        match self {
            Self::Aead { tag_len, .. } => *tag_len,
            Self::CbcHmac { icv_len, .. } => *icv_len,
        }
    }

    /// What the payload and the two trailer bytes are padded to: the cipher's block, and at
    /// least 4 bytes so the ICV is aligned (RFC 4303 §2.4).
    pub(crate) fn alignment(&self) -> usize {
        match self {
            Self::Aead { .. } => 4,
            Self::CbcHmac { block_len, .. } => (*block_len).max(4),
        }
    }

    /// Bytes before the payload: ESP header and IV.
    pub(crate) fn header_len(&self) -> usize {
        ESP_HEADER_LEN + self.iv_len()
    }

    /// The shortest ESP packet this transform can produce: header, IV, one aligned unit of
    /// payload and trailer, ICV.
    pub(crate) fn min_packet_len(&self) -> usize {
        self.header_len() + self.alignment() + self.icv_len()
    }

    /// Encrypts and authenticates `esp` in place. `esp[..8]` holds SPI and the low 32 bits of
    /// `seq`; `esp[8 + iv_len .. len - icv_len]` holds the padded plaintext; the IV and the ICV
    /// are written here.
    pub(crate) fn seal(
        &self,
        esp: &mut [u8],
        seq: u64,
        esn: bool,
        random: &dyn SecureRandom,
    ) -> Result<(), DropReason> {
        let icv_len = self.icv_len();
        let header_len = self.header_len();
        if esp.len() < header_len + icv_len {
            return Err(DropReason::BufferTooSmall);
        }
        match self {
            Self::Aead { key, .. } => {
                let aad = Aad::new(esp, seq, esn);
                let (head, rest) = esp.split_at_mut(header_len);
                head[ESP_HEADER_LEN..].copy_from_slice(&seq.to_be_bytes());
                let (plaintext, tag) = rest.split_at_mut(rest.len() - icv_len);
                key.seal_in_place(&head[ESP_HEADER_LEN..], aad.as_bytes(), plaintext, tag)
                    .map_err(|_| DropReason::CryptoFailed)
            }
            Self::CbcHmac { cipher, integ, .. } => {
                let (head, rest) = esp.split_at_mut(header_len);
                let iv = &mut head[ESP_HEADER_LEN..];
                random.fill(iv).map_err(|_| DropReason::CryptoFailed)?;
                let body_len = rest.len() - icv_len;
                cipher
                    .encrypt_in_place(iv, &mut rest[..body_len])
                    .map_err(|_| DropReason::CryptoFailed)?;
                let signed_len = header_len + body_len;
                let (signed, icv) = esp.split_at_mut(signed_len);
                let high = high_bits(seq);
                let extra: &[u8] = if esn { &high } else { &[] };
                integ
                    .sign(&[signed, extra], icv)
                    .map_err(|_| DropReason::CryptoFailed)
            }
        }
    }

    /// Verifies and decrypts `esp` in place, `seq` being the full (inferred) sequence number.
    /// On success the plaintext lies at `esp[8 + iv_len .. len - icv_len]`.
    ///
    /// # Errors
    ///
    /// [`DropReason::IcvMismatch`] when authentication fails, [`DropReason::Malformed`] when
    /// the ciphertext is not a whole number of blocks, [`DropReason::Truncated`] when `esp`
    /// cannot hold header, IV and ICV.
    pub(crate) fn open(&self, esp: &mut [u8], seq: u64, esn: bool) -> Result<(), DropReason> {
        let icv_len = self.icv_len();
        let header_len = self.header_len();
        if esp.len() < header_len + icv_len {
            return Err(DropReason::Truncated);
        }
        match self {
            Self::Aead { key, .. } => {
                let aad = Aad::new(esp, seq, esn);
                let (head, rest) = esp.split_at_mut(header_len);
                let (ciphertext, tag) = rest.split_at_mut(rest.len() - icv_len);
                key.open_in_place(&head[ESP_HEADER_LEN..], aad.as_bytes(), ciphertext, tag)
                    .map_err(open_error)
            }
            Self::CbcHmac {
                cipher,
                block_len,
                integ,
                ..
            } => {
                let body_len = esp.len() - header_len - icv_len;
                if body_len == 0 || !body_len.is_multiple_of(*block_len) {
                    return Err(DropReason::Malformed);
                }
                // RFC 4303 §3.4.4: verify the ICV before decrypting.
                let (signed, icv) = esp.split_at_mut(header_len + body_len);
                let high = high_bits(seq);
                let extra: &[u8] = if esn { &high } else { &[] };
                integ.verify(&[signed, extra], icv).map_err(open_error)?;
                let (head, ciphertext) = signed.split_at_mut(header_len);
                cipher
                    .decrypt_in_place(&head[ESP_HEADER_LEN..], ciphertext)
                    .map_err(|_| DropReason::Malformed)
            }
        }
    }
}

/// The AEAD associated data (RFC 4106 §5, RFC 7634 §2.1): SPI and the 32-bit sequence number,
/// or SPI, high 32 bits and low 32 bits with ESN.
struct Aad {
    bytes: [u8; 12],
    len: usize,
}

impl Aad {
    fn new(esp: &[u8], seq: u64, esn: bool) -> Self {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&esp[..4]);
        if esn {
            bytes[4..8].copy_from_slice(&high_bits(seq));
            bytes[8..12].copy_from_slice(&esp[4..8]);
            Self { bytes, len: 12 }
        } else {
            bytes[4..8].copy_from_slice(&esp[4..8]);
            Self { bytes, len: 8 }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn high_bits(seq: u64) -> [u8; 4] {
    let bytes = seq.to_be_bytes();
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

fn open_error(error: CryptoError) -> DropReason {
    match error {
        CryptoError::InvalidLength => DropReason::Malformed,
        _ => DropReason::IcvMismatch,
    }
}
