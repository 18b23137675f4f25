//! IKEv2 key derivation on top of a [`Prf`]: prf+ ([RFC 7296 §2.13]), SKEYSEED and SK_*
//! ([§2.14]), Child SA KEYMAT ([§2.17]), IKE SA rekey ([§2.18]) and additional key exchanges
//! ([RFC 9370 §2.2.2]).
//!
//! Only PRFs whose key is variable-length (the HMACs) are supported; the fixed-key PRFs of
//! RFC 4434/4615 (AES-XCBC, AES-CMAC) would need the half-nonce rule of §2.14 and are not
//! offered by hitless.
//!
//! [RFC 7296 §2.13]: https://www.rfc-editor.org/rfc/rfc7296#section-2.13
//! [§2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
//! [§2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17
//! [§2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! [RFC 9370 §2.2.2]: https://www.rfc-editor.org/rfc/rfc9370#section-2.2.2

use crate::provider::CryptoError;
use crate::provider::Prf;
use crate::secret::SecretBytes;

/// `prf+(K, S)` of RFC 7296 §2.13, truncated to `len` bytes.
///
/// # Errors
///
/// [`CryptoError::InvalidLength`] if `len` needs more than 255 iterations, which §2.13 forbids.
pub fn prf_plus(
    prf: &dyn Prf,
    key: &[u8],
    seed: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    let block = prf.output_len();
    if block == 0 || len.div_ceil(block) > 255 {
        return Err(CryptoError::InvalidLength);
    }
    let mut out = SecretBytes::new(Vec::with_capacity(len + block));
    let mut previous = SecretBytes::default();
    let mut counter: u8 = 1;
    while out.len() < len {
        // T(n) = prf(K, T(n-1) | S | n)
        let next = prf.compute(key, &[previous.expose(), seed, &[counter]]);
        out.extend_from_slice(next.expose());
        previous = next;
        counter = counter.wrapping_add(1);
    }
    out.take_prefix(len).ok_or(CryptoError::InvalidLength)
}

/// `SKEYSEED = prf(Ni | Nr, g^ir)` (RFC 7296 §2.14).
pub fn skeyseed(prf: &dyn Prf, nonce_i: &[u8], nonce_r: &[u8], shared: &[u8]) -> SecretBytes {
    let mut key = SecretBytes::new(Vec::with_capacity(nonce_i.len() + nonce_r.len()));
    key.extend_from_slice(nonce_i);
    key.extend_from_slice(nonce_r);
    prf.compute(key.expose(), &[shared])
}

/// `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` for a rekeyed IKE SA (RFC 7296 §2.18),
/// with `prf` the new SA's PRF. With RFC 9370 additional key exchanges, `shared` is
/// `g^ir (new)` alone: the additional secrets are folded in by [`additional_skeyseed`].
pub fn rekey_skeyseed(
    prf: &dyn Prf,
    old_sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
) -> SecretBytes {
    prf.compute(old_sk_d.expose(), &[shared, nonce_i, nonce_r])
}

/// `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)` after the n-th additional key exchange
/// (RFC 9370 §2.2.2), where `sk_d_previous` is the SK_d derived after the previous one.
pub fn additional_skeyseed(
    prf: &dyn Prf,
    sk_d_previous: &SecretBytes,
    shared_n: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
) -> SecretBytes {
    prf.compute(sk_d_previous.expose(), &[shared_n, nonce_i, nonce_r])
}

/// Lengths of the keys an IKE SA needs, in bytes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct IkeKeyLengths {
    /// Length of SK_d, SK_pi and SK_pr: the PRF's preferred key length.
    pub prf: usize,
    /// Length of SK_ai and SK_ar: zero for AEAD algorithms.
    pub integ: usize,
    /// Length of SK_ei and SK_er, including the AEAD salt (RFC 5282 §7).
    pub encr: usize,
}

impl IkeKeyLengths {
    /// Total length of `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}`.
    pub fn total(&self) -> usize {
        3 * self.prf + 2 * self.integ + 2 * self.encr
    }
}

/// The seven keys of an IKE SA (RFC 7296 §2.14). `i`/`r` name the original initiator and
/// responder of this IKE SA.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IkeKeys {
    /// Derives Child SA keys and the next IKE SA's SKEYSEED.
    pub sk_d: SecretBytes,
    /// Integrity key of messages sent by the initiator.
    pub sk_ai: SecretBytes,
    /// Integrity key of messages sent by the responder.
    pub sk_ar: SecretBytes,
    /// Encryption key (and salt) of messages sent by the initiator.
    pub sk_ei: SecretBytes,
    /// Encryption key (and salt) of messages sent by the responder.
    pub sk_er: SecretBytes,
    /// Key for the initiator's AUTH payload.
    pub sk_pi: SecretBytes,
    /// Key for the responder's AUTH payload.
    pub sk_pr: SecretBytes,
}

/// `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi |
/// SPIr)` (RFC 7296 §2.14).
pub fn derive_ike_keys(
    prf: &dyn Prf,
    skeyseed: &SecretBytes,
    nonce_i: &[u8],
    nonce_r: &[u8],
    spi_i: u64,
    spi_r: u64,
    lengths: IkeKeyLengths,
) -> Result<IkeKeys, CryptoError> {
    let mut seed = Vec::with_capacity(nonce_i.len() + nonce_r.len() + 16);
    seed.extend_from_slice(nonce_i);
    seed.extend_from_slice(nonce_r);
    seed.extend_from_slice(&spi_i.to_be_bytes());
    seed.extend_from_slice(&spi_r.to_be_bytes());
    let mut stream = prf_plus(prf, skeyseed.expose(), &seed, lengths.total())?;
    let mut take = |len| stream.take_prefix(len).ok_or(CryptoError::InvalidLength);
    Ok(IkeKeys {
        sk_d: take(lengths.prf)?,
        sk_ai: take(lengths.integ)?,
        sk_ar: take(lengths.integ)?,
        sk_ei: take(lengths.encr)?,
        sk_er: take(lengths.encr)?,
        sk_pi: take(lengths.prf)?,
        sk_pr: take(lengths.prf)?,
    })
}

/// `KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)` (RFC 7296 §2.17), where `shared` is the
/// concatenation of every key exchange's secret of a CREATE_CHILD_SA in order (RFC 9370 §2.2.4),
/// or empty without PFS.
pub fn child_keymat(
    prf: &dyn Prf,
    sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    let mut seed = SecretBytes::new(Vec::with_capacity(
        shared.len() + nonce_i.len() + nonce_r.len(),
    ));
    seed.extend_from_slice(shared);
    seed.extend_from_slice(nonce_i);
    seed.extend_from_slice(nonce_r);
    prf_plus(prf, sk_d.expose(), seed.expose(), len)
}
