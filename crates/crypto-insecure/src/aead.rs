//! NO SECURITY. AEAD stand-ins with the identifiers and lengths of AES-GCM-16 (128, 256) and
//! ChaCha20-Poly1305: key plus 4-byte salt, 8-byte IV, 16-byte tag. Sealing XORs a keystream
//! derived from (key, salt, IV) and appends a checksum of (key, salt, IV, AAD, ciphertext).

use std::fmt;

use hitless_crypto::Aead;
use hitless_crypto::AeadKey;
use hitless_crypto::CryptoError;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::registry::EncrId;

use crate::mix;
use crate::mix::Hasher;

/// The checking AEADs of [`provider`](crate::provider), in the production provider's order.
pub(crate) static CHECKED: [InsecureAead; 3] = [
    InsecureAead::new("AES-256-GCM-16", EncrId::AES_GCM_16, Some(256), 32, false),
    InsecureAead::new("AES-128-GCM-16", EncrId::AES_GCM_16, Some(128), 16, false),
    InsecureAead::new(
        "ChaCha20-Poly1305",
        EncrId::CHACHA20_POLY1305,
        None,
        32,
        false,
    ),
];

/// The accept-everything AEADs of [`fuzzing_provider`](crate::fuzzing_provider).
pub(crate) static FUZZING: [InsecureAead; 3] = [
    InsecureAead::new("AES-256-GCM-16", EncrId::AES_GCM_16, Some(256), 32, true),
    InsecureAead::new("AES-128-GCM-16", EncrId::AES_GCM_16, Some(128), 16, true),
    InsecureAead::new(
        "ChaCha20-Poly1305",
        EncrId::CHACHA20_POLY1305,
        None,
        32,
        true,
    ),
];

/// NO SECURITY. An AEAD stand-in.
pub(crate) struct InsecureAead {
    name: &'static str,
    id: EncrId,
    key_length_attribute: Option<u16>,
    key_len: usize,
    fuzzing: bool,
}

impl InsecureAead {
    const fn new(
        name: &'static str,
        id: EncrId,
        key_length_attribute: Option<u16>,
        key_len: usize,
        fuzzing: bool,
    ) -> Self {
        Self {
            name,
            id,
            key_length_attribute,
            key_len,
            fuzzing,
        }
    }
}

impl Aead for InsecureAead {
    fn id(&self) -> EncrId {
        self.id
    }

    fn key_length_attribute(&self) -> Option<u16> {
        self.key_length_attribute
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn salt_len(&self) -> usize {
        SALT_LEN
    }

    fn iv_len(&self) -> usize {
        IV_LEN
    }

    fn tag_len(&self) -> usize {
        TAG_LEN
    }

    fn new_key(&self, key_and_salt: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError> {
        if key_and_salt.len() != self.key_len + SALT_LEN {
            return Err(CryptoError::InvalidKeyLength);
        }
        let mut keyed = Hasher::new(DOMAIN);
        keyed.update(&self.id.0.to_le_bytes()).field(key_and_salt);
        Ok(Box::new(InsecureAeadKey {
            keyed,
            fuzzing: self.fuzzing,
        }))
    }
}

impl fmt::Debug for InsecureAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.fuzzing { "fuzzing" } else { "insecure" };
        write!(f, "{} ({kind})", self.name)
    }
}

/// NO SECURITY. The hash state after absorbing the key and salt.
struct InsecureAeadKey {
    keyed: Hasher,
    fuzzing: bool,
}

impl InsecureAeadKey {
    fn stream_seed(&self, iv: &[u8]) -> u64 {
        self.keyed.clone().update(b"stream").update(iv).finish()
    }

    fn tag(&self, iv: &[u8], aad: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
        let seed = self
            .keyed
            .clone()
            .update(b"tag")
            .update(iv)
            .field(aad)
            .field(ciphertext)
            .finish();
        let mut tag = [0; TAG_LEN];
        mix::expand(seed, 0, &mut tag);
        tag
    }
}

impl AeadKey for InsecureAeadKey {
    fn seal_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if iv.len() != IV_LEN || tag.len() != TAG_LEN {
            return Err(CryptoError::InvalidLength);
        }
        if self.fuzzing {
            tag.fill(0);
            return Ok(());
        }
        mix::xor_stream(self.stream_seed(iv), in_out);
        tag.copy_from_slice(&self.tag(iv, aad, in_out));
        Ok(())
    }

    fn open_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        if iv.len() != IV_LEN || tag.len() != TAG_LEN {
            return Err(CryptoError::InvalidLength);
        }
        if self.fuzzing {
            return Ok(());
        }
        if !constant_time_eq(&self.tag(iv, aad, in_out), tag) {
            return Err(CryptoError::AuthenticationFailed);
        }
        mix::xor_stream(self.stream_seed(iv), in_out);
        Ok(())
    }
}

const DOMAIN: u64 = 0xaead;
const SALT_LEN: usize = 4;
const IV_LEN: usize = 8;
const TAG_LEN: usize = 16;
