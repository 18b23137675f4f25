//! AES-GCM-16 and ChaCha20-Poly1305 with the IPsec nonce layout.
//!
//! KEYMAT holds the key followed by a 4-byte salt; the 12-byte nonce is the salt followed by the
//! 8-byte explicit IV of each packet ([RFC 4106 §4] and [§8.1] for AES-GCM in ESP, [RFC 7634 §2]
//! and [§4] for ChaCha20-Poly1305, [RFC 5282 §7] for IKE SK payloads). AES-GCM is negotiated
//! with a KEY_LENGTH attribute; ChaCha20-Poly1305 must not carry one ([RFC 7634 §2]).
//!
//! [RFC 4106 §4]: https://www.rfc-editor.org/rfc/rfc4106#section-4
//! [§8.1]: https://www.rfc-editor.org/rfc/rfc4106#section-8.1
//! [RFC 7634 §2]: https://www.rfc-editor.org/rfc/rfc7634#section-2
//! [§4]: https://www.rfc-editor.org/rfc/rfc7634#section-4
//! [RFC 5282 §7]: https://www.rfc-editor.org/rfc/rfc5282#section-7

use std::fmt;

use aws_lc_rs::aead::Aad;
use aws_lc_rs::aead::LessSafeKey;
use aws_lc_rs::aead::Nonce;
use aws_lc_rs::aead::UnboundKey;
use hitless_crypto::Aead;
use hitless_crypto::AeadKey;
use hitless_crypto::CryptoError;
use hitless_wire::registry::EncrId;
use zeroize::Zeroize;

/// AES-GCM with a 16-byte ICV and a 128-bit key (ENCR_AES_GCM_16, KEY_LENGTH 128).
pub(crate) static AES_128_GCM_16: IpsecAead = IpsecAead {
    name: "AES-128-GCM-16",
    id: EncrId::AES_GCM_16,
    key_length_attribute: Some(128),
    algorithm: &aws_lc_rs::aead::AES_128_GCM,
};

/// AES-GCM with a 16-byte ICV and a 256-bit key (ENCR_AES_GCM_16, KEY_LENGTH 256).
pub(crate) static AES_256_GCM_16: IpsecAead = IpsecAead {
    name: "AES-256-GCM-16",
    id: EncrId::AES_GCM_16,
    key_length_attribute: Some(256),
    algorithm: &aws_lc_rs::aead::AES_256_GCM,
};

/// ChaCha20-Poly1305 (ENCR_CHACHA20_POLY1305, no KEY_LENGTH attribute).
pub(crate) static CHACHA20_POLY1305: IpsecAead = IpsecAead {
    name: "ChaCha20-Poly1305",
    id: EncrId::CHACHA20_POLY1305,
    key_length_attribute: None,
    algorithm: &aws_lc_rs::aead::CHACHA20_POLY1305,
};

/// An aws-lc-rs AEAD used with a salt from KEYMAT and an explicit 8-byte IV.
pub(crate) struct IpsecAead {
    name: &'static str,
    id: EncrId,
    key_length_attribute: Option<u16>,
    algorithm: &'static aws_lc_rs::aead::Algorithm,
}

impl Aead for IpsecAead {
    fn id(&self) -> EncrId {
        self.id
    }

    fn key_length_attribute(&self) -> Option<u16> {
        self.key_length_attribute
    }

    fn key_len(&self) -> usize {
        self.algorithm.key_len()
    }

    fn salt_len(&self) -> usize {
        SALT_LEN
    }

    fn iv_len(&self) -> usize {
        IV_LEN
    }

    fn tag_len(&self) -> usize {
        self.algorithm.tag_len()
    }

    fn new_key(&self, key_and_salt: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError> {
        if key_and_salt.len() != self.key_len() + SALT_LEN {
            return Err(CryptoError::InvalidKeyLength);
        }
        let (key, salt) = key_and_salt.split_at(self.key_len());
        let key =
            UnboundKey::new(self.algorithm, key).map_err(|_| CryptoError::InvalidKeyLength)?;
        let salt = salt.try_into().map_err(|_| CryptoError::InvalidKeyLength)?;
        Ok(Box::new(IpsecAeadKey {
            key: LessSafeKey::new(key),
            salt,
            tag_len: self.algorithm.tag_len(),
        }))
    }
}

impl fmt::Debug for IpsecAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// An expanded AEAD key and its salt.
struct IpsecAeadKey {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
    tag_len: usize,
}

impl IpsecAeadKey {
    /// `salt | iv` (RFC 4106 §4, RFC 7634 §2).
    fn nonce(&self, iv: &[u8]) -> Result<Nonce, CryptoError> {
        let iv: &[u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::InvalidLength)?;
        let mut nonce = [0; SALT_LEN + IV_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(iv);
        Ok(Nonce::assume_unique_for_key(nonce))
    }
}

impl AeadKey for IpsecAeadKey {
    fn seal_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(iv)?;
        if tag.len() != self.tag_len {
            return Err(CryptoError::InvalidLength);
        }
        let computed = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Library)?;
        tag.copy_from_slice(computed.as_ref());
        Ok(())
    }

    fn open_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(iv)?;
        if tag.len() != self.tag_len {
            return Err(CryptoError::InvalidLength);
        }
        self.key
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, in_out)
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(())
    }
}

impl Drop for IpsecAeadKey {
    fn drop(&mut self) {
        // The key schedule is wiped by AWS-LC (EVP_AEAD_CTX_cleanup); the salt is ours.
        self.salt.zeroize();
    }
}

/// Salt length for every IPsec AEAD hitless offers (RFC 4106 §8.1, RFC 7634 §4).
const SALT_LEN: usize = 4;
/// Explicit IV length carried in each packet (RFC 4106 §3.1, RFC 7634 §2).
const IV_LEN: usize = 8;
