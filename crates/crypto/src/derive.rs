//! IKEv2 key derivation on top of a [`Prf`]: prf+ ([RFC 7296 §2.13]), SKEYSEED and SK_*
//! ([§2.14]), Child SA KEYMAT ([§2.17]), IKE SA rekey ([§2.18]) and additional key exchanges
//! ([RFC 9370 §2.2.2] for IKE_INTERMEDIATE, [§2.2.4] for CREATE_CHILD_SA and IKE_FOLLOWUP_KE).
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
//! [§2.2.4]: https://www.rfc-editor.org/rfc/rfc9370#section-2.2.4

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

/// `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` for a rekeyed IKE SA (RFC 7296 §2.18).
///
/// `prf` is the OLD IKE SA's PRF: "Because the rekeying exchange belongs to the old IKE SA, it is
/// the old IKE SA's PRF that is used to generate SKEYSEED" (§2.18); the new SA's PRF then
/// expands it in [`derive_ike_keys`]. With RFC 9370 additional key exchanges use
/// [`rekey_skeyseed_with_additional`] instead.
pub fn rekey_skeyseed(
    prf: &dyn Prf,
    old_sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
) -> SecretBytes {
    prf.compute(old_sk_d.expose(), &[shared, nonce_i, nonce_r])
}

/// `SKEYSEED = prf(SK_d, SK(0) | Ni | Nr | SK(1) | … | SK(n))` for an IKE SA rekeyed with
/// additional key exchanges in IKE_FOLLOWUP_KE ([RFC 9370 §2.2.4]).
///
/// `shared` is SK(0), the secret of the CREATE_CHILD_SA's own KE payload, `nonce_i`/`nonce_r`
/// are that CREATE_CHILD_SA's nonces, and `additional` holds SK(1)…SK(n) in the order of the
/// additional key exchanges. `prf` is the old IKE SA's PRF (RFC 7296 §2.18). With `additional`
/// empty this is [`rekey_skeyseed`].
///
/// [RFC 9370 §2.2.4]: https://www.rfc-editor.org/rfc/rfc9370#section-2.2.4
pub fn rekey_skeyseed_with_additional(
    prf: &dyn Prf,
    old_sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
    additional: &[&[u8]],
) -> SecretBytes {
    let mut data: Vec<&[u8]> = Vec::with_capacity(3 + additional.len());
    data.extend_from_slice(&[shared, nonce_i, nonce_r]);
    data.extend_from_slice(additional);
    prf.compute(old_sk_d.expose(), &data)
}

/// `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)` after the n-th additional key exchange of an
/// IKE SA being set up, in IKE_INTERMEDIATE ([RFC 9370 §2.2.2]), where `sk_d_previous` is the
/// SK_d derived after the previous one and `nonce_i`/`nonce_r` are the IKE_SA_INIT nonces. The
/// new keys are then `prf+(SKEYSEED(n), Ni | Nr | SPIi | SPIr)` ([`derive_ike_keys`]).
///
/// Not for CREATE_CHILD_SA / IKE_FOLLOWUP_KE: there the additional secrets are appended after
/// the nonces in one computation ([`rekey_skeyseed_with_additional`],
/// [`child_keymat_with_additional`]).
///
/// [RFC 9370 §2.2.2]: https://www.rfc-editor.org/rfc/rfc9370#section-2.2.2
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
///
/// For a rekeyed IKE SA, `prf` is the NEW SA's PRF and the nonces and SPIs are those of the
/// CREATE_CHILD_SA exchange (§2.18).
///
/// # Errors
///
/// [`CryptoError::InvalidLength`] if the keys need more than prf+ may produce (§2.13).
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
/// secret of the CREATE_CHILD_SA's KE payload, or empty without PFS (and for the Child SA of
/// IKE_AUTH, whose nonces are those of IKE_SA_INIT). With RFC 9370 additional key exchanges use
/// [`child_keymat_with_additional`]: their secrets go AFTER the nonces, not next to `shared`.
pub fn child_keymat(
    prf: &dyn Prf,
    sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    child_keymat_with_additional(prf, sk_d, shared, nonce_i, nonce_r, &[], len)
}

/// `KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | … | SK(n))` for a Child SA created or rekeyed
/// with additional key exchanges in IKE_FOLLOWUP_KE ([RFC 9370 §2.2.4]).
///
/// `shared` is SK(0), the secret of the CREATE_CHILD_SA's own KE payload, and `additional`
/// holds SK(1)…SK(n) in the order of the additional key exchanges. With `additional` empty this
/// is [`child_keymat`].
///
/// # Errors
///
/// [`CryptoError::InvalidLength`] if `len` exceeds what prf+ may produce (§2.13).
///
/// [RFC 9370 §2.2.4]: https://www.rfc-editor.org/rfc/rfc9370#section-2.2.4
pub fn child_keymat_with_additional(
    prf: &dyn Prf,
    sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
    additional: &[&[u8]],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    let extra: usize = additional.iter().map(|secret| secret.len()).sum();
    let mut seed = SecretBytes::new(Vec::with_capacity(
        shared.len() + nonce_i.len() + nonce_r.len() + extra,
    ));
    seed.extend_from_slice(shared);
    seed.extend_from_slice(nonce_i);
    seed.extend_from_slice(nonce_r);
    for secret in additional {
        seed.extend_from_slice(secret);
    }
    prf_plus(prf, sk_d.expose(), seed.expose(), len)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use hitless_wire::registry::PrfId;

    use super::*;

    /// A PRF that records its inputs and answers a 4-byte checksum of them, so the tests can
    /// check exactly which bytes each formula feeds it.
    #[derive(Debug, Default)]
    struct RecordingPrf {
        calls: Mutex<Vec<Call>>,
    }

    /// One recorded `(key, data)` pair.
    type Call = (Vec<u8>, Vec<u8>);

    impl RecordingPrf {
        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }

        fn output(key: &[u8], data: &[u8]) -> [u8; 4] {
            let mut state: u32 = 0x811c_9dc5;
            for byte in key.iter().chain([0xffu8].iter()).chain(data) {
                state = (state ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
            }
            state.to_be_bytes()
        }
    }

    impl Prf for RecordingPrf {
        fn id(&self) -> PrfId {
            PrfId::HMAC_SHA2_256
        }
        fn key_len(&self) -> usize {
            4
        }
        fn output_len(&self) -> usize {
            4
        }
        fn compute(&self, key: &[u8], data: &[&[u8]]) -> SecretBytes {
            let data = data.concat();
            let out = Self::output(key, &data);
            self.calls.lock().unwrap().push((key.to_vec(), data));
            SecretBytes::from_slice(&out)
        }
    }

    #[test]
    fn prf_plus_chains_blocks_with_counter() {
        let prf = RecordingPrf::default();
        let out = prf_plus(&prf, b"K", b"seed", 10).unwrap();
        let t1 = RecordingPrf::output(b"K", b"seed\x01");
        let t2 = RecordingPrf::output(b"K", &[&t1[..], b"seed\x02"].concat());
        let t3 = RecordingPrf::output(b"K", &[&t2[..], b"seed\x03"].concat());
        assert_eq!(out.expose(), [&t1[..], &t2[..], &t3[..2]].concat());
        let calls = prf.calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0], (b"K".to_vec(), b"seed\x01".to_vec()));
        assert_eq!(calls[1].1, [&t1[..], b"seed\x02"].concat());
        assert_eq!(calls[2].1, [&t2[..], b"seed\x03"].concat());
    }

    #[test]
    fn prf_plus_stops_at_255_iterations() {
        let prf = RecordingPrf::default();
        // RFC 7296 §2.13: the counter is one octet, so at most 255 blocks.
        let out = prf_plus(&prf, b"K", b"S", 255 * 4).unwrap();
        assert_eq!(out.len(), 255 * 4);
        assert_eq!(prf.calls().last().unwrap().1.last(), Some(&255));
        assert_eq!(
            prf_plus(&prf, b"K", b"S", 255 * 4 + 1),
            Err(CryptoError::InvalidLength)
        );
        assert_eq!(prf_plus(&prf, b"K", b"S", 0).unwrap().len(), 0);
    }

    #[test]
    fn skeyseed_keys_prf_with_nonces() {
        let prf = RecordingPrf::default();
        let seed = skeyseed(&prf, b"ni", b"nr", b"gir");
        assert_eq!(seed.expose(), RecordingPrf::output(b"ninr", b"gir"));
        assert_eq!(prf.calls(), vec![(b"ninr".to_vec(), b"gir".to_vec())]);
    }

    #[test]
    fn ike_keys_are_taken_in_order_from_prf_plus() {
        let prf = RecordingPrf::default();
        let skeyseed = SecretBytes::from_slice(b"SEED");
        let lengths = IkeKeyLengths {
            prf: 4,
            integ: 3,
            encr: 5,
        };
        let keys = derive_ike_keys(
            &prf,
            &skeyseed,
            b"ni",
            b"nr",
            0x0102_0304_0506_0708,
            0x1112_1314_1516_1718,
            lengths,
        )
        .unwrap();
        let seed = [
            &b"ninr"[..],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        ]
        .concat();
        let stream = prf_plus(&RecordingPrf::default(), b"SEED", &seed, 28).unwrap();
        let stream = stream.expose();
        assert_eq!(lengths.total(), 28);
        assert_eq!(keys.sk_d.expose(), &stream[0..4]);
        assert_eq!(keys.sk_ai.expose(), &stream[4..7]);
        assert_eq!(keys.sk_ar.expose(), &stream[7..10]);
        assert_eq!(keys.sk_ei.expose(), &stream[10..15]);
        assert_eq!(keys.sk_er.expose(), &stream[15..20]);
        assert_eq!(keys.sk_pi.expose(), &stream[20..24]);
        assert_eq!(keys.sk_pr.expose(), &stream[24..28]);
        assert_eq!(prf.calls()[0].1, [&seed[..], &[1]].concat());
    }

    #[test]
    fn rekey_skeyseed_keys_prf_with_old_sk_d() {
        let prf = RecordingPrf::default();
        let old = SecretBytes::from_slice(b"old-d");
        rekey_skeyseed(&prf, &old, b"gir", b"ni", b"nr");
        rekey_skeyseed_with_additional(&prf, &old, b"sk0", b"ni", b"nr", &[b"sk1", b"sk2"]);
        rekey_skeyseed_with_additional(&prf, &old, b"gir", b"ni", b"nr", &[]);
        let calls = prf.calls();
        assert_eq!(calls[0], (b"old-d".to_vec(), b"girninr".to_vec()));
        // RFC 9370 §2.2.4: SK(0) | Ni | Nr | SK(1) | ... | SK(n).
        assert_eq!(calls[1], (b"old-d".to_vec(), b"sk0ninrsk1sk2".to_vec()));
        assert_eq!(calls[2], calls[0]);
    }

    #[test]
    fn additional_skeyseed_chains_previous_sk_d() {
        let prf = RecordingPrf::default();
        let previous = SecretBytes::from_slice(b"d(n-1)");
        additional_skeyseed(&prf, &previous, b"sk(n)", b"ni", b"nr");
        // RFC 9370 §2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr).
        assert_eq!(
            prf.calls(),
            vec![(b"d(n-1)".to_vec(), b"sk(n)ninr".to_vec())]
        );
    }

    #[test]
    fn child_keymat_seeds() {
        let sk_d = SecretBytes::from_slice(b"SK_d");
        // (SK(0), [SK(1), ...], the seed prf+ must see)
        type Case<'a> = (&'a [u8], &'a [&'a [u8]], &'a [u8]);
        let cases: [Case<'_>; 3] = [
            (b"", &[], b"ninr"),
            (b"gir", &[], b"girninr"),
            (b"sk0", &[b"sk1", b"sk2"], b"sk0ninrsk1sk2"),
        ];
        for (shared, additional, expected_seed) in cases {
            let prf = RecordingPrf::default();
            let keymat =
                child_keymat_with_additional(&prf, &sk_d, shared, b"ni", b"nr", additional, 6)
                    .unwrap();
            assert_eq!(
                keymat,
                prf_plus(&RecordingPrf::default(), b"SK_d", expected_seed, 6).unwrap()
            );
            assert_eq!(prf.calls()[0].0, b"SK_d");
            assert_eq!(prf.calls()[0].1, [expected_seed, &[1]].concat());
            if additional.is_empty() {
                let plain = child_keymat(&prf, &sk_d, shared, b"ni", b"nr", 6).unwrap();
                assert_eq!(plain, keymat);
            }
        }
    }
}
