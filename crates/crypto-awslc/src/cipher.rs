//! AES-CBC without padding ([RFC 3602]): IKE ([RFC 7296 §3.14]) and ESP ([RFC 4303 §2.4]) pad
//! to the block size themselves.
//!
//! [RFC 3602]: https://www.rfc-editor.org/rfc/rfc3602
//! [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
//! [RFC 4303 §2.4]: https://www.rfc-editor.org/rfc/rfc4303#section-2.4

use std::fmt;

use aws_lc_rs::cipher::DecryptingKey;
use aws_lc_rs::cipher::DecryptionContext;
use aws_lc_rs::cipher::EncryptingKey;
use aws_lc_rs::cipher::EncryptionContext;
use aws_lc_rs::cipher::UnboundCipherKey;
use aws_lc_rs::iv::FixedLength;
use hitless_crypto::Cipher;
use hitless_crypto::CipherKey;
use hitless_crypto::CryptoError;
use hitless_wire::registry::EncrId;

/// AES-CBC with a 128-bit key (ENCR_AES_CBC, KEY_LENGTH 128).
pub(crate) static AES_128_CBC: AesCbc = AesCbc {
    name: "AES-128-CBC",
    key_length_attribute: 128,
    algorithm: &aws_lc_rs::cipher::AES_128,
};

/// AES-CBC with a 256-bit key (ENCR_AES_CBC, KEY_LENGTH 256).
pub(crate) static AES_256_CBC: AesCbc = AesCbc {
    name: "AES-256-CBC",
    key_length_attribute: 256,
    algorithm: &aws_lc_rs::cipher::AES_256,
};

/// AES in CBC mode.
pub(crate) struct AesCbc {
    name: &'static str,
    key_length_attribute: u16,
    algorithm: &'static aws_lc_rs::cipher::Algorithm,
}

impl Cipher for AesCbc {
    fn id(&self) -> EncrId {
        EncrId::AES_CBC
    }

    fn key_length_attribute(&self) -> Option<u16> {
        Some(self.key_length_attribute)
    }

    fn key_len(&self) -> usize {
        usize::from(self.key_length_attribute / 8)
    }

    fn block_len(&self) -> usize {
        BLOCK_LEN
    }

    fn iv_len(&self) -> usize {
        BLOCK_LEN
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn CipherKey>, CryptoError> {
        if key.len() != self.key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        let unbound = || {
            UnboundCipherKey::new(self.algorithm, key).map_err(|_| CryptoError::InvalidKeyLength)
        };
        Ok(Box::new(AesCbcKey {
            encrypt: EncryptingKey::cbc(unbound()?).map_err(|_| CryptoError::Library)?,
            decrypt: DecryptingKey::cbc(unbound()?).map_err(|_| CryptoError::Library)?,
        }))
    }
}

impl fmt::Debug for AesCbc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Expanded AES keys for both directions (AWS-LC wipes them on drop).
struct AesCbcKey {
    encrypt: EncryptingKey,
    decrypt: DecryptingKey,
}

impl CipherKey for AesCbcKey {
    fn encrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        let iv = iv_of(iv, data)?;
        self.encrypt
            .less_safe_encrypt(data, EncryptionContext::Iv128(iv))
            .map_err(|_| CryptoError::Library)?;
        Ok(())
    }

    fn decrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        let iv = iv_of(iv, data)?;
        self.decrypt
            .decrypt(data, DecryptionContext::Iv128(iv))
            .map_err(|_| CryptoError::Library)?;
        Ok(())
    }
}

/// Checks the IV and data lengths (whole blocks only) and wraps the IV.
fn iv_of(iv: &[u8], data: &[u8]) -> Result<FixedLength<BLOCK_LEN>, CryptoError> {
    if !data.len().is_multiple_of(BLOCK_LEN) {
        return Err(CryptoError::InvalidLength);
    }
    FixedLength::try_from(iv).map_err(|_| CryptoError::InvalidLength)
}

/// The AES block (and CBC IV) length.
const BLOCK_LEN: usize = 16;
