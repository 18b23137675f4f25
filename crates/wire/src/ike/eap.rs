//! The EAP payload ([RFC 7296 §3.16]): one EAP message ([RFC 3748 §4]).
//!
//! The payload body is the EAP message itself, whose own header carries a length: it must equal
//! the body's length, and Request and Response messages must carry a type octet. The message is
//! otherwise passed to the engine unread.
//!
//! [RFC 7296 §3.16]: https://www.rfc-editor.org/rfc/rfc7296#section-3.16
//! [RFC 3748 §4]: https://www.rfc-editor.org/rfc/rfc3748#section-4

use crate::bytes::read_u16;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::EapPayload;
use crate::ike::payload::copy_into;
use crate::registry::PayloadType;

view! {
    /// A view over an EAP message ([RFC 3748 §4]) in an EAP payload body.
    ///
    /// [RFC 3748 §4]: https://www.rfc-editor.org/rfc/rfc3748#section-4
    EapPacket
}

impl<T: AsRef<[u8]>> EapPacket<T> {
    /// Checks that the EAP header is present, that its length equals the buffer's, and that a
    /// Request or Response has its type octet.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes; `BadLength` (field
    /// `EAP length`) for an EAP length that is not the body's length or leaves no type octet.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < EAP_HEADER_LEN {
            return Err(error("payload length", ParseErrorKind::BadLength));
        }
        let length = usize::from(self.length());
        let needs_type = matches!(self.code(), CODE_REQUEST | CODE_RESPONSE);
        if length != len || (needs_type && length < EAP_HEADER_LEN + 1) {
            return Err(error("EAP length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The EAP code (1 Request, 2 Response, 3 Success, 4 Failure).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The identifier that matches responses to requests.
    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The length of the EAP message.
    pub fn length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The EAP method type of a Request or Response.
    pub fn eap_type(&self) -> Option<u8> {
        self.buffer.as_ref().get(EAP_HEADER_LEN).copied()
    }

    /// The type data after the type octet (empty when there is none).
    pub fn type_data(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(EAP_HEADER_LEN + 1..)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EapPacket<T> {
    /// Sets the code.
    pub fn set_code(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    /// Sets the identifier.
    pub fn set_identifier(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the length.
    pub fn set_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }
}

impl EapPayload {
    /// Parses an EAP payload body.
    ///
    /// # Errors
    ///
    /// See [`EapPacket::check_len`].
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = EapPacket::new_checked(body)?;
        Ok(Self {
            message: packet.into_inner().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        self.message.len()
    }

    /// Emits the body (the EAP message as given) into `body`, which must be
    /// [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        copy_into(PayloadType::EAP, body, &self.message)
    }
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::EAP, field, kind)
}

const EAP_HEADER_LEN: usize = 4;
const CODE_REQUEST: u8 = 1;
const CODE_RESPONSE: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    /// An EAP-Response/Identity "ab" with identifier 7.
    static EAP_BYTES: [u8; 7] = [0x02, 0x07, 0x00, 0x07, 0x01, b'a', b'b'];

    #[test]
    fn deconstruct() {
        let packet = EapPacket::new_checked(&EAP_BYTES[..]).unwrap();
        assert_eq!(packet.code(), 2);
        assert_eq!(packet.identifier(), 7);
        assert_eq!(packet.length(), 7);
        assert_eq!(packet.eap_type(), Some(1));
        assert_eq!(packet.type_data(), b"ab");
    }

    #[test]
    fn construct() {
        let mut bytes = EAP_BYTES;
        bytes[..4].fill(0);
        let mut packet = EapPacket::new_unchecked(&mut bytes[..]);
        packet.set_code(2);
        packet.set_identifier(7);
        packet.set_length(7);
        assert_eq!(bytes, EAP_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            EapPacket::new_checked(&EAP_BYTES[..3]).unwrap_err(),
            error("payload length", ParseErrorKind::BadLength)
        );
        assert_eq!(
            EapPacket::new_checked(&EAP_BYTES[..6]).unwrap_err(),
            error("EAP length", ParseErrorKind::BadLength)
        );
        // A Response without a type octet.
        assert!(EapPacket::new_checked(&[0x02, 0x07, 0x00, 0x04][..]).is_err());
        // A Success has none.
        assert!(EapPacket::new_checked(&[0x03, 0x07, 0x00, 0x04][..]).is_ok());
    }

    #[test]
    fn parse() {
        assert_eq!(
            EapPayload::parse(&EAP_BYTES).unwrap(),
            EapPayload {
                message: EAP_BYTES.to_vec()
            }
        );
    }

    #[test]
    fn emit() {
        let repr = EapPayload {
            message: EAP_BYTES.to_vec(),
        };
        let mut bytes = [0; 7];
        repr.emit(&mut bytes).unwrap();
        assert_eq!(bytes, EAP_BYTES);
    }

    #[test]
    fn buffer_len() {
        let repr = EapPayload {
            message: EAP_BYTES.to_vec(),
        };
        assert_eq!(repr.buffer_len(), 7);
    }
}
