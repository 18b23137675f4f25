//! How the simulator reads the IKE messages it carries: a one-line summary for the transcript
//! (`CREATE_CHILD_SA req mid=3 [SA No KE TSi TSr N(REKEY_SA)]`), with the SK payload decrypted
//! when the keys of its IKE SA are known ([RFC 7296 §3.14], [RFC 5282]).
//!
//! The keys come from [`Endpoint::export`](hitless_ike::Endpoint::export) once an IKE SA is
//! established; a message sent before that (the first IKE_AUTH request) is summarized again
//! when they arrive. The same keys feed the Wireshark decryption table.
//!
//! [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
//! [RFC 5282]: https://www.rfc-editor.org/rfc/rfc5282

use std::collections::BTreeMap;

use hitless_crypto::CryptoProvider;
use hitless_crypto::SecretBytes;
use hitless_crypto::derive::IkeKeys;
use hitless_ike::IkeAlgorithms;
use hitless_sadb::IkeSpi;
use hitless_sadb::keylog::IkeSaKeys;
use hitless_wire::ike::Encrypted;
use hitless_wire::ike::EncryptedKind;
use hitless_wire::ike::Header;
use hitless_wire::ike::Payload;
use hitless_wire::registry::IntegId;

/// The IKE SA keys the simulator has learnt, by SPI pair.
#[derive(Debug, Default)]
pub(crate) struct KeyStore {
    by_spis: BTreeMap<(u64, u64), (IkeAlgorithms, IkeKeys)>,
}

/// A message summary, and whether it is final (false while an SK payload could not be
/// decrypted for want of keys).
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Summary {
    pub(crate) text: String,
    pub(crate) complete: bool,
}

impl KeyStore {
    /// Learns the keys of an IKE SA. Returns false when they were known already.
    pub(crate) fn learn(
        &mut self,
        spis: (u64, u64),
        algorithms: IkeAlgorithms,
        keys: IkeKeys,
    ) -> bool {
        if self.by_spis.contains_key(&spis) {
            return false;
        }
        self.by_spis.insert(spis, (algorithms, keys));
        true
    }

    /// Whether the keys of this IKE SA are known.
    pub(crate) fn knows(&self, spis: (u64, u64)) -> bool {
        self.by_spis.contains_key(&spis)
    }

    /// The Wireshark table rows of every known IKE SA.
    pub(crate) fn wireshark(&self) -> Vec<IkeSaKeys> {
        self.by_spis
            .iter()
            .map(|(&(spi_i, spi_r), (algorithms, keys))| {
                IkeSaKeys::new(
                    IkeSpi(spi_i),
                    IkeSpi(spi_r),
                    algorithms.encryption.id,
                    algorithms.encryption.key_bits,
                    algorithms.integrity,
                    keys,
                )
            })
            .collect()
    }

    /// Summarizes an IKE message (without non-ESP marker).
    pub(crate) fn summarize(&self, message: &[u8], crypto: &CryptoProvider) -> Summary {
        let parsed = match hitless_wire::ike::parse_message(message) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Summary {
                    text: format!("malformed IKE message ({error})"),
                    complete: true,
                };
            }
        };
        let Some(encrypted) = parsed.encrypted else {
            let text = hitless_wire::ike::summary(&parsed.header, &parsed.payloads, false);
            return Summary {
                text,
                complete: true,
            };
        };
        let spis = (parsed.header.spi_i, parsed.header.spi_r);
        let Some((algorithms, keys)) = self.by_spis.get(&spis) else {
            // Not decryptable yet: show what is visible; summarized again once keys are known.
            return Summary {
                text: undecrypted(&parsed.header, &parsed.payloads, encrypted.kind),
                complete: false,
            };
        };
        let text = match decrypt(&parsed.header, &encrypted, algorithms, keys, crypto) {
            Ok(mut inner) => {
                // The inner payloads stand where the SK payload stood, as strongSwan logs them.
                let mut payloads = parsed.payloads;
                payloads.append(&mut inner);
                hitless_wire::ike::summary(&parsed.header, &payloads, false)
            }
            Err(why) => {
                let outer = undecrypted(&parsed.header, &parsed.payloads, encrypted.kind);
                format!("{outer} (undecryptable: {why})")
            }
        };
        Summary {
            text,
            complete: true,
        }
    }
}

/// The summary of a message whose SK or SKF payload stays closed.
fn undecrypted(header: &Header, payloads: &[Payload], kind: EncryptedKind) -> String {
    match kind {
        EncryptedKind::Sk => hitless_wire::ike::summary(header, payloads, true),
        EncryptedKind::Skf {
            fragment_number,
            total_fragments,
        } => {
            let mut text = hitless_wire::ike::summary(header, payloads, false);
            text.pop();
            if !payloads.is_empty() {
                text.push(' ');
            }
            text.push_str(&format!("SKF({fragment_number}/{total_fragments})]"));
            text
        }
    }
}

/// Decrypts an SK payload and parses its inner payloads. SKF fragments are not reassembled.
fn decrypt(
    header: &Header,
    encrypted: &Encrypted<'_>,
    algorithms: &IkeAlgorithms,
    keys: &IkeKeys,
    crypto: &CryptoProvider,
) -> Result<Vec<Payload>, &'static str> {
    if encrypted.kind != EncryptedKind::Sk {
        return Err("fragment");
    }
    let (encr_key, integ_key) = if header.flags.initiator {
        (&keys.sk_ei, &keys.sk_ai)
    } else {
        (&keys.sk_er, &keys.sk_ar)
    };
    let encryption = algorithms.encryption;
    let body = encrypted.body;
    let mut plaintext = if let Some(aead) = crypto.aead(encryption.id, encryption.key_bits) {
        let (iv_len, tag_len) = (aead.iv_len(), aead.tag_len());
        if body.len() < iv_len + tag_len {
            return Err("short");
        }
        let (iv, rest) = body.split_at(iv_len);
        let (ciphertext, tag) = rest.split_at(rest.len() - tag_len);
        let key = aead.new_key(encr_key.expose()).map_err(|_| "key")?;
        let mut data = ciphertext.to_vec();
        key.open_in_place(iv, encrypted.authenticated_prefix, &mut data, tag)
            .map_err(|_| "authentication failed")?;
        data
    } else {
        let cipher = crypto
            .cipher(encryption.id, encryption.key_bits)
            .ok_or("cipher")?;
        let integ = crypto.integ(algorithms.integrity).ok_or("integrity")?;
        let (iv_len, icv_len) = (cipher.iv_len(), integ.icv_len());
        if algorithms.integrity == IntegId::NONE || body.len() < iv_len + icv_len {
            return Err("short");
        }
        let (covered, icv) = body.split_at(body.len() - icv_len);
        integ
            .new_key(integ_key.expose())
            .map_err(|_| "key")?
            .verify(&[encrypted.authenticated_prefix, covered], icv)
            .map_err(|_| "integrity check failed")?;
        let (iv, ciphertext) = covered.split_at(iv_len);
        let mut data = ciphertext.to_vec();
        cipher
            .new_key(encr_key.expose())
            .map_err(|_| "key")?
            .decrypt_in_place(iv, &mut data)
            .map_err(|_| "decryption failed")?;
        data
    };
    let pad = usize::from(*plaintext.last().ok_or("empty")?);
    let inner_len = plaintext.len().checked_sub(pad + 1).ok_or("padding")?;
    plaintext.truncate(inner_len);
    let plaintext = SecretBytes::new(plaintext);
    hitless_wire::ike::parse_payload_chain(encrypted.first_inner, plaintext.expose())
        .map_err(|_| "inner payloads malformed")
}
