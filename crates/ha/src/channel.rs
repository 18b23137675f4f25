//! The sync channel's datagram format and protection: authenticated, encrypted and
//! replay-protected with AES-256-GCM under keys derived from the cluster's secret
//! (docs/design/ha.md, "Wire format" and "The sync channel").
//!
//! ```text
//! 0      4  magic "HLHA"
//! 4      1  version (1)
//! 5      1  flags: 0x01 control (outside the ordered stream), 0x02 reset (the stream restarts
//!           here)
//! 6      2  sender node id
//! 8      2  receiver node id
//! 10    16  sender session id (random, new at every start)
//! 26     8  sequence number
//! 34     …  records, encrypted
//! end-16 16 tag
//! ```
//!
//! The header is the AEAD's additional data. Each (sender, receiver, session) has its own key,
//! `prf+(secret, "hitless-ha 1" | sender | receiver | session)` with HMAC-SHA2-256
//! ([RFC 7296 §2.13]'s prf+), so a nonce is never used twice: the explicit IV is the sequence
//! number, with the top bit set for control datagrams, which count separately. A forged,
//! altered or misaddressed datagram fails authentication; a node id outside the cluster is
//! dropped before any crypto.
//!
//! [RFC 7296 §2.13]: https://www.rfc-editor.org/rfc/rfc7296#section-2.13

use hitless_crypto::Aead;
use hitless_crypto::AeadKey;
use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::PrfId;
use zeroize::Zeroizing;

use crate::config::ConfigError;
use crate::config::NodeId;
use crate::message::SessionId;
use crate::status::DropReason;

/// The datagram header.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Header {
    /// [`FLAG_CONTROL`], [`FLAG_RESET`].
    pub(crate) flags: u8,
    /// Who sent it.
    pub(crate) sender: NodeId,
    /// Who it is for.
    pub(crate) receiver: NodeId,
    /// The sender's session.
    pub(crate) session: SessionId,
    /// Its number in the sender's ordered stream to the receiver, or in its control count.
    pub(crate) sequence: u64,
}

/// The channel's algorithms and secret.
pub(crate) struct Suite {
    aead: &'static dyn Aead,
    prf: &'static dyn Prf,
    secret: SecretBytes,
}

impl Header {
    /// Whether it is a control datagram (challenge, response, NACK), outside the ordered
    /// stream.
    pub(crate) fn is_control(&self) -> bool {
        self.flags & FLAG_CONTROL != 0
    }

    /// Whether the ordered stream restarts at this datagram.
    pub(crate) fn is_reset(&self) -> bool {
        self.flags & FLAG_RESET != 0
    }

    /// Reads the header of a datagram and checks what can be checked without a key.
    ///
    /// # Errors
    ///
    /// [`DropReason::Truncated`], [`DropReason::NotSync`] or [`DropReason::Version`].
    pub(crate) fn parse(datagram: &[u8]) -> Result<Self, DropReason> {
        if datagram.len() < HEADER_LEN + TAG_LEN {
            return Err(DropReason::Truncated);
        }
        let Some((header, _)) = datagram.split_first_chunk::<HEADER_LEN>() else {
            return Err(DropReason::Truncated);
        };
        if header[..4] != MAGIC {
            return Err(DropReason::NotSync);
        }
        if header[4] != VERSION {
            return Err(DropReason::Version);
        }
        let mut session = [0u8; 16];
        session.copy_from_slice(&header[10..26]);
        let mut sequence = [0u8; 8];
        sequence.copy_from_slice(&header[26..34]);
        let sequence = u64::from_be_bytes(sequence);
        if sequence == 0 || sequence > MAX_SEQUENCE {
            return Err(DropReason::Forged);
        }
        Ok(Self {
            flags: header[5],
            sender: NodeId(u16::from_be_bytes([header[6], header[7]])),
            receiver: NodeId(u16::from_be_bytes([header[8], header[9]])),
            session,
            sequence,
        })
    }

    fn emit(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.flags;
        out[6..8].copy_from_slice(&self.sender.0.to_be_bytes());
        out[8..10].copy_from_slice(&self.receiver.0.to_be_bytes());
        out[10..26].copy_from_slice(&self.session);
        out[26..34].copy_from_slice(&self.sequence.to_be_bytes());
        out
    }

    /// The AEAD's explicit IV: the sequence number, top bit for the control count.
    fn iv(&self) -> [u8; 8] {
        let mut iv = self.sequence;
        if self.is_control() {
            iv |= 1 << 63;
        }
        iv.to_be_bytes()
    }
}

impl Suite {
    /// AES-256-GCM and HMAC-SHA2-256 from `crypto`, keyed from `secret`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Algorithm`] when the provider lacks either.
    pub(crate) fn new(crypto: &CryptoProvider, secret: SecretBytes) -> Result<Self, ConfigError> {
        let aead = crypto
            .aead(EncrId::AES_GCM_16, Some(256))
            .filter(|aead| aead.iv_len() == 8 && aead.tag_len() == TAG_LEN)
            .ok_or(ConfigError::Algorithm("AES-256-GCM"))?;
        let prf = crypto
            .prf(PrfId::HMAC_SHA2_256)
            .ok_or(ConfigError::Algorithm("HMAC-SHA2-256"))?;
        Ok(Self { aead, prf, secret })
    }

    /// The key of the stream from `sender` to `receiver` in `session`.
    ///
    /// # Errors
    ///
    /// What the provider reports.
    pub(crate) fn key(
        &self,
        sender: NodeId,
        receiver: NodeId,
        session: &SessionId,
    ) -> Result<Box<dyn AeadKey>, CryptoError> {
        let mut seed = Vec::with_capacity(KEY_LABEL.len() + 20);
        seed.extend_from_slice(KEY_LABEL);
        seed.extend_from_slice(&sender.0.to_be_bytes());
        seed.extend_from_slice(&receiver.0.to_be_bytes());
        seed.extend_from_slice(session);
        let material = hitless_crypto::prf_plus(
            self.prf,
            self.secret.expose(),
            &seed,
            self.aead.key_len() + self.aead.salt_len(),
        )?;
        self.aead.new_key(material.expose())
    }
}

/// Encrypts `plaintext` under `key` into a datagram with `header`.
///
/// # Errors
///
/// What the provider reports.
pub(crate) fn seal(
    key: &dyn AeadKey,
    header: &Header,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let head = header.emit();
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&head);
    out.extend_from_slice(plaintext);
    out.resize(HEADER_LEN + plaintext.len() + TAG_LEN, 0);
    let (body, tag) = out[HEADER_LEN..].split_at_mut(plaintext.len());
    key.seal_in_place(&header.iv(), &head, body, tag)?;
    Ok(out)
}

/// Authenticates and decrypts a datagram whose header is `header`.
///
/// # Errors
///
/// [`DropReason::Forged`] when authentication fails.
pub(crate) fn open(
    key: &dyn AeadKey,
    header: &Header,
    datagram: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DropReason> {
    let Some(body_len) = datagram.len().checked_sub(HEADER_LEN + TAG_LEN) else {
        return Err(DropReason::Truncated);
    };
    let (aad, rest) = datagram.split_at(HEADER_LEN);
    let (ciphertext, tag) = rest.split_at(body_len);
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    key.open_in_place(&header.iv(), aad, &mut plaintext, tag)
        .map_err(|_| DropReason::Forged)?;
    Ok(plaintext)
}

/// Bytes of the header.
pub(crate) const HEADER_LEN: usize = 34;
/// Bytes of the AEAD tag.
pub(crate) const TAG_LEN: usize = 16;
/// The flag of a control datagram.
pub(crate) const FLAG_CONTROL: u8 = 0x01;
/// The flag of a datagram that restarts the ordered stream.
pub(crate) const FLAG_RESET: u8 = 0x02;
/// The protocol version this implementation speaks.
pub(crate) const VERSION: u8 = 1;
/// Sequence numbers stay below 2^63 (the top IV bit tells the two counts apart).
pub(crate) const MAX_SEQUENCE: u64 = (1 << 63) - 1;

const MAGIC: [u8; 4] = *b"HLHA";
const KEY_LABEL: &[u8] = b"hitless-ha 1";

#[cfg(test)]
mod tests {
    use super::*;

    fn suite() -> Suite {
        Suite::new(
            &hitless_crypto_awslc::provider(),
            SecretBytes::new(vec![9; 32]),
        )
        .unwrap()
    }

    fn header(sequence: u64) -> Header {
        Header {
            flags: 0,
            sender: NodeId(1),
            receiver: NodeId(2),
            session: [5; 16],
            sequence,
        }
    }

    #[test]
    fn seal_and_open_with_real_crypto() {
        let suite = suite();
        let key = suite.key(NodeId(1), NodeId(2), &[5; 16]).unwrap();
        let h = header(7);
        let datagram = seal(&*key, &h, b"records").unwrap();
        assert_eq!(datagram.len(), HEADER_LEN + 7 + TAG_LEN);
        let parsed = Header::parse(&datagram).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(&open(&*key, &parsed, &datagram).unwrap()[..], b"records");
        assert!(!datagram.windows(7).any(|w| w == b"records"), "encrypted");
    }

    #[test]
    fn any_change_fails_authentication() {
        let suite = suite();
        let key = suite.key(NodeId(1), NodeId(2), &[5; 16]).unwrap();
        let datagram = seal(&*key, &header(7), b"records").unwrap();
        for i in 0..datagram.len() {
            let mut bad = datagram.clone();
            bad[i] ^= 0x40;
            let verdict = Header::parse(&bad).and_then(|h| open(&*key, &h, &bad).map(|_| ()));
            assert!(verdict.is_err(), "byte {i}");
        }
        // Another receiver's, session's or secret's key does not open it.
        let h = header(7);
        for other in [
            suite.key(NodeId(1), NodeId(3), &[5; 16]).unwrap(),
            suite.key(NodeId(1), NodeId(2), &[6; 16]).unwrap(),
            Suite::new(
                &hitless_crypto_awslc::provider(),
                SecretBytes::new(vec![8; 32]),
            )
            .unwrap()
            .key(NodeId(1), NodeId(2), &[5; 16])
            .unwrap(),
        ] {
            assert_eq!(
                open(&*other, &h, &datagram).unwrap_err(),
                DropReason::Forged
            );
        }
    }

    #[test]
    fn header_checks() {
        let suite = suite();
        let key = suite.key(NodeId(1), NodeId(2), &[5; 16]).unwrap();
        let datagram = seal(&*key, &header(7), b"").unwrap();
        assert_eq!(
            Header::parse(&datagram[..HEADER_LEN + TAG_LEN - 1]),
            Err(DropReason::Truncated)
        );
        let mut wrong = datagram;
        wrong[4] = 2;
        assert_eq!(Header::parse(&wrong), Err(DropReason::Version));
        wrong[0] = b'X';
        assert_eq!(Header::parse(&wrong), Err(DropReason::NotSync));
    }

    #[test]
    fn control_and_ordered_counts_use_distinct_nonces() {
        let ordered = header(5);
        let control = Header {
            flags: FLAG_CONTROL,
            ..header(5)
        };
        assert_ne!(ordered.iv(), control.iv());
    }
}
