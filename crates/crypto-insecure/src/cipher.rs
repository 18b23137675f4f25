//! NO SECURITY. AES-CBC stand-ins (128, 256): real CBC chaining around a "block cipher" that
//! XORs a key-derived pad, so IVs and block boundaries behave as in production.

use std::fmt;

use hitless_crypto::Cipher;
use hitless_crypto::CipherKey;
use hitless_crypto::CryptoError;
use hitless_wire::registry::EncrId;

use crate::mix;
use crate::mix::Hasher;

/// In the production provider's order.
pub(crate) static CIPHERS: [InsecureCbc; 2] = [
    InsecureCbc {
        name: "AES-256-CBC",
        key_length_attribute: 256,
    },
    InsecureCbc {
        name: "AES-128-CBC",
        key_length_attribute: 128,
    },
];

/// NO SECURITY. A CBC stand-in.
pub(crate) struct InsecureCbc {
    name: &'static str,
    key_length_attribute: u16,
}

impl Cipher for InsecureCbc {
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
        let mut pad = [0; BLOCK_LEN];
        mix::expand(Hasher::new(DOMAIN).field(key).finish(), 0, &mut pad);
        Ok(Box::new(InsecureCbcKey { pad }))
    }
}

impl fmt::Debug for InsecureCbc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (insecure)", self.name)
    }
}

/// NO SECURITY. The pad that stands in for the block cipher.
struct InsecureCbcKey {
    pad: [u8; BLOCK_LEN],
}

impl CipherKey for InsecureCbcKey {
    fn encrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        let mut previous = check(iv, data)?;
        for block in data.chunks_exact_mut(BLOCK_LEN) {
            for ((byte, chain), pad) in block.iter_mut().zip(previous).zip(self.pad) {
                *byte ^= chain ^ pad;
            }
            previous.copy_from_slice(block);
        }
        Ok(())
    }

    fn decrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        let mut previous = check(iv, data)?;
        for block in data.chunks_exact_mut(BLOCK_LEN) {
            let mut ciphertext = [0; BLOCK_LEN];
            ciphertext.copy_from_slice(block);
            for ((byte, chain), pad) in block.iter_mut().zip(previous).zip(self.pad) {
                *byte ^= chain ^ pad;
            }
            previous = ciphertext;
        }
        Ok(())
    }
}

/// Checks lengths as the production cipher does and returns the IV as the first chain block.
fn check(iv: &[u8], data: &[u8]) -> Result<[u8; BLOCK_LEN], CryptoError> {
    if !data.len().is_multiple_of(BLOCK_LEN) {
        return Err(CryptoError::InvalidLength);
    }
    iv.try_into().map_err(|_| CryptoError::InvalidLength)
}

const DOMAIN: u64 = 0xcbc;
const BLOCK_LEN: usize = 16;
