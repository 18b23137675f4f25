//! Framing of the Encrypted and Authenticated payload SK ([RFC 7296 §3.14]) and of its fragment
//! form SKF ([RFC 7383 §2.5]).
//!
//! Neither is decrypted here. An SK body is IV, ciphertext and ICV; an SKF body starts with the
//! fragment number and the total number of fragments (both from 1, number ≤ total,
//! [RFC 7383 §2.5]) and continues the same way. Either must be the last payload of a message,
//! since its Next Payload field names the first payload inside it. What the AEAD authenticates
//! (RFC 5282 §5.1) is everything from the IKE header through the SK or SKF header, fragment
//! fields included: [`Encrypted::authenticated_prefix`].
//!
//! [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
//! [RFC 7383 §2.5]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5

use crate::bytes::read_u16;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::Encrypted;
use crate::ike::EncryptedKind;
use crate::ike::GENERIC_HEADER_LEN;
use crate::ike::payload::PayloadPacket;
use crate::registry::PayloadType;

view! {
    /// A view over an SKF payload body ([RFC 7383 §2.5]): the fragment fields and the encrypted
    /// data after them.
    ///
    /// [RFC 7383 §2.5]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5
    FragmentPacket
}

impl<T: AsRef<[u8]>> FragmentPacket<T> {
    /// Checks that the fragment fields are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < FRAGMENT_FIXED_LEN {
            return Err(ParseError::new(
                PayloadType::SKF,
                "payload length",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(())
    }

    /// This fragment's number, from 1.
    pub fn fragment_number(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 0)
    }

    /// The number of fragments of the message.
    pub fn total_fragments(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// IV, ciphertext and ICV.
    pub fn encrypted(&self) -> &[u8] {
        &self.buffer.as_ref()[FRAGMENT_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FragmentPacket<T> {
    /// Sets the fragment number.
    pub fn set_fragment_number(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 0, value);
    }

    /// Sets the total number of fragments.
    pub fn set_total_fragments(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// IV, ciphertext and ICV, mutable.
    pub fn encrypted_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[FRAGMENT_FIXED_LEN..]
    }
}

impl EncryptedKind {
    /// The payload type this kind is sent as.
    pub fn payload_type(self) -> PayloadType {
        match self {
            Self::Sk => PayloadType::SK,
            Self::Skf { .. } => PayloadType::SKF,
        }
    }

    /// The length of the SK or SKF header: the generic header, plus the fragment fields for SKF.
    pub fn header_len(self) -> usize {
        match self {
            Self::Sk => GENERIC_HEADER_LEN,
            Self::Skf { .. } => GENERIC_HEADER_LEN + FRAGMENT_FIXED_LEN,
        }
    }
}

/// Frames the SK or SKF payload (`payload_type`) that starts at `offset` of `message` and that
/// the chain parser found to end exactly at the end of the message.
pub(crate) fn frame(
    message: &[u8],
    offset: usize,
    payload_type: PayloadType,
) -> Result<Encrypted<'_>, ParseError> {
    let error = |field, kind| ParseError::new(payload_type, field, kind);
    let packet =
        PayloadPacket::new_checked(&message[offset..]).map_err(|e| e.in_payload(payload_type))?;
    let kind = if payload_type == PayloadType::SKF {
        let fragment = FragmentPacket::new_checked(packet.body())?;
        let fragment_number = fragment.fragment_number();
        let total_fragments = fragment.total_fragments();
        // RFC 7383 §2.5: fragments are numbered from 1 up to the total.
        if fragment_number == 0 || fragment_number > total_fragments {
            return Err(error("fragment number", ParseErrorKind::InvalidValue));
        }
        EncryptedKind::Skf {
            fragment_number,
            total_fragments,
        }
    } else {
        EncryptedKind::Sk
    };
    let body_start = offset + kind.header_len();
    let body = &message[body_start..];
    if body.is_empty() {
        return Err(error("payload length", ParseErrorKind::BadLength));
    }
    Ok(Encrypted {
        kind,
        first_inner: packet.next_payload(),
        authenticated_prefix: &message[..body_start],
        body,
    })
}

/// The fragment number and total.
const FRAGMENT_FIXED_LEN: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    static SKF_BODY: [u8; 7] = [0x00, 0x02, 0x00, 0x03, 0xaa, 0xbb, 0xcc];

    #[test]
    fn deconstruct() {
        let packet = FragmentPacket::new_checked(&SKF_BODY[..]).unwrap();
        assert_eq!(packet.fragment_number(), 2);
        assert_eq!(packet.total_fragments(), 3);
        assert_eq!(packet.encrypted(), &[0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0; 7];
        let mut packet = FragmentPacket::new_unchecked(&mut bytes[..]);
        packet.set_fragment_number(2);
        packet.set_total_fragments(3);
        packet.encrypted_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        assert_eq!(bytes, SKF_BODY);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            FragmentPacket::new_checked(&SKF_BODY[..3]).unwrap_err(),
            ParseError::new(
                PayloadType::SKF,
                "payload length",
                ParseErrorKind::BadLength
            )
        );
    }

    #[test]
    fn parse() {
        // A generic header (next IDi, length 11) and the SKF body, after 2 bytes of "header".
        let mut message = vec![0x11, 0x22, 0x23, 0x00, 0x00, 0x0b];
        message.extend_from_slice(&SKF_BODY);
        let encrypted = frame(&message, 2, PayloadType::SKF).unwrap();
        assert_eq!(
            encrypted.kind,
            EncryptedKind::Skf {
                fragment_number: 2,
                total_fragments: 3
            }
        );
        assert_eq!(encrypted.first_inner, PayloadType::IDI);
        assert_eq!(encrypted.authenticated_prefix, &message[..10]);
        assert_eq!(encrypted.body, &[0xaa, 0xbb, 0xcc]);

        let sk = frame(&message, 2, PayloadType::SK).unwrap();
        assert_eq!(sk.kind, EncryptedKind::Sk);
        assert_eq!(sk.authenticated_prefix, &message[..6]);
        assert_eq!(sk.body, &SKF_BODY);
    }

    #[test]
    fn parse_checks_fragment_numbers() {
        for (number, total) in [(0, 3), (4, 3), (1, 0)] {
            let mut message = vec![0x23, 0x00, 0x00, 0x09];
            message.extend_from_slice(&[0, number, 0, total, 0xaa]);
            assert_eq!(
                frame(&message, 0, PayloadType::SKF).unwrap_err(),
                ParseError::new(
                    PayloadType::SKF,
                    "fragment number",
                    ParseErrorKind::InvalidValue
                )
            );
        }
    }

    #[test]
    fn parse_rejects_empty_body() {
        let message = [0x23, 0x00, 0x00, 0x04];
        assert_eq!(
            frame(&message, 0, PayloadType::SK).unwrap_err(),
            ParseError::new(PayloadType::SK, "payload length", ParseErrorKind::BadLength)
        );
    }

    #[test]
    fn emit() {
        let header = crate::ike::Header {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange: crate::registry::ExchangeType::IKE_AUTH,
            flags: crate::ike::Flags::default(),
            message_id: 1,
            length: 0,
        };
        let kind = EncryptedKind::Skf {
            fragment_number: 2,
            total_fragments: 3,
        };
        let (bytes, start) = crate::ike::emit_encrypted_message(&header, kind, PayloadType::IDI, 3);
        // The generic header (next IDi, length 11) and the fragment fields, then the body.
        assert_eq!(
            &bytes[28..start],
            &[0x23, 0x00, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x03]
        );
        assert_eq!(bytes.len(), start + 3);
        assert_eq!(bytes[16], PayloadType::SKF.0);
    }

    #[test]
    fn buffer_len() {
        assert_eq!(EncryptedKind::Sk.header_len(), 4);
        assert_eq!(
            EncryptedKind::Skf {
                fragment_number: 1,
                total_fragments: 1
            }
            .header_len(),
            8
        );
    }
}
