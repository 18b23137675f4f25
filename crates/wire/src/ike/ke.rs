//! The Key Exchange payload ([RFC 7296 §3.4]) and the Nonce payload ([RFC 7296 §3.9]).
//!
//! A KE body is the key exchange method (2 bytes), two reserved bytes and the public value (or,
//! for a KEM such as ML-KEM, the encapsulation key or ciphertext). Its length is checked against
//! the method by the engine, which knows the methods; here it only has to be non-empty. A nonce is
//! 16 to 256 bytes (RFC 7296 §2.10, §3.9).
//!
//! [RFC 7296 §3.4]: https://www.rfc-editor.org/rfc/rfc7296#section-3.4
//! [RFC 7296 §3.9]: https://www.rfc-editor.org/rfc/rfc7296#section-3.9

use crate::bytes::read_u16;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::KePayload;
use crate::ike::NoncePayload;
use crate::ike::payload::check_buffer;
use crate::ike::payload::copy_into;
use crate::registry::KeMethod;
use crate::registry::PayloadType;

view! {
    /// A view over a Key Exchange payload body ([RFC 7296 §3.4]).
    ///
    /// [RFC 7296 §3.4]: https://www.rfc-editor.org/rfc/rfc7296#section-3.4
    KePacket
}

impl<T: AsRef<[u8]>> KePacket<T> {
    /// Checks that the method and reserved bytes are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < KE_FIXED_LEN {
            return Err(ParseError::new(
                PayloadType::KE,
                "payload length",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(())
    }

    /// The key exchange method.
    pub fn method(&self) -> KeMethod {
        KeMethod(read_u16(self.buffer.as_ref(), 0))
    }

    /// The key exchange data.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[KE_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> KePacket<T> {
    /// Sets the method (and clears the reserved bytes).
    pub fn set_method(&mut self, value: KeMethod) {
        write_u16(self.buffer.as_mut(), 0, value.0);
        write_u16(self.buffer.as_mut(), 2, 0);
    }

    /// The key exchange data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[KE_FIXED_LEN..]
    }
}

impl KePayload {
    /// Parses a KE payload body.
    ///
    /// # Errors
    ///
    /// A body under 4 bytes, or empty key exchange data.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = KePacket::new_checked(body)?;
        if packet.data().is_empty() {
            return Err(ParseError::new(
                PayloadType::KE,
                "key exchange data",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(Self {
            method: packet.method(),
            data: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        KE_FIXED_LEN + self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::KE, body, self.buffer_len())?;
        let mut packet = KePacket::new_unchecked(body);
        packet.set_method(self.method);
        packet.data_mut().copy_from_slice(&self.data);
        Ok(())
    }
}

impl NoncePayload {
    /// Parses a Nonce payload body.
    ///
    /// # Errors
    ///
    /// RFC 7296 §3.9: a nonce shorter than 16 or longer than 256 bytes.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&body.len()) {
            return Err(ParseError::new(
                PayloadType::NONCE,
                "nonce data",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(Self {
            data: body.to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        copy_into(PayloadType::NONCE, body, &self.data)
    }
}

/// The shortest nonce RFC 7296 §3.9 allows (128 bits).
pub const MIN_NONCE_LEN: usize = 16;
/// The longest nonce RFC 7296 §3.9 allows.
pub const MAX_NONCE_LEN: usize = 256;
const KE_FIXED_LEN: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    static KE_BYTES: [u8; 8] = [0x00, 0x1f, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04];

    fn ke_repr() -> KePayload {
        KePayload {
            method: KeMethod::CURVE25519,
            data: vec![1, 2, 3, 4],
        }
    }

    #[test]
    fn deconstruct() {
        let packet = KePacket::new_checked(&KE_BYTES[..]).unwrap();
        assert_eq!(packet.method(), KeMethod::CURVE25519);
        assert_eq!(packet.data(), &[1, 2, 3, 4]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xff; 8];
        let mut packet = KePacket::new_unchecked(&mut bytes[..]);
        packet.set_method(KeMethod::CURVE25519);
        packet.data_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(bytes, KE_BYTES);
    }

    #[test]
    fn check_len() {
        let error = KePacket::new_checked(&KE_BYTES[..3]).unwrap_err();
        assert_eq!(
            error,
            ParseError::new(PayloadType::KE, "payload length", ParseErrorKind::BadLength)
        );
        assert!(KePacket::new_checked(&KE_BYTES[..4]).is_ok());
    }

    #[test]
    fn parse() {
        assert_eq!(KePayload::parse(&KE_BYTES).unwrap(), ke_repr());
        assert_eq!(
            KePayload::parse(&KE_BYTES[..4]).unwrap_err().field,
            "key exchange data"
        );
    }

    #[test]
    fn emit() {
        let mut bytes = [0xff; 8];
        ke_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, KE_BYTES);
        assert!(ke_repr().emit(&mut [0; 9]).is_err());
    }

    #[test]
    fn buffer_len() {
        assert_eq!(ke_repr().buffer_len(), KE_BYTES.len());
    }

    #[test]
    fn nonce_lengths() {
        assert!(NoncePayload::parse(&[0; 15]).is_err());
        assert!(NoncePayload::parse(&[0; 257]).is_err());
        let nonce = NoncePayload::parse(&[7; 32]).unwrap();
        assert_eq!(nonce.data, vec![7; 32]);
        assert_eq!(nonce.buffer_len(), 32);
        let mut bytes = [0; 32];
        nonce.emit(&mut bytes).unwrap();
        assert_eq!(bytes, [7; 32]);
        assert_eq!(
            NoncePayload::parse(&[0; 256]).map(|n| n.data.len()),
            Ok(256)
        );
    }
}
