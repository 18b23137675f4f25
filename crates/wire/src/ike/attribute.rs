//! Transform attributes ([RFC 7296 §3.3.5]): the short TV form (AF bit set, a 2-byte value in
//! the header) and the long TLV form (a 2-byte length and the value). RFC 7296 defines only
//! KEY_LENGTH (type 14, TV); other types are kept as sent.
//!
//! [RFC 7296 §3.3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.5

use crate::bytes::read_u16;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::TransformAttribute;
use crate::ike::payload::check_buffer;
use crate::registry::PayloadType;

/// A view over one transform attribute ([RFC 7296 §3.3.5]), TV or TLV.
///
/// [RFC 7296 §3.3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.5
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttributePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AttributePacket<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic on a buffer shorter than the attribute.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`Self::check_len`].
    ///
    /// # Errors
    ///
    /// See [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the 4-byte attribute header is present and, for a TLV, that its value fits
    /// in the buffer.
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the header, `BadLength` if a TLV value runs past it.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < ATTRIBUTE_HEADER_LEN {
            return Err(error("attribute", ParseErrorKind::Truncated));
        }
        if self.total_len() > len {
            return Err(error("attribute length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether the AF bit is set (TV form, 2-byte value in the header).
    pub fn is_tv(&self) -> bool {
        read_u16(self.buffer.as_ref(), 0) & ATTRIBUTE_FORMAT != 0
    }

    /// The attribute type without the AF bit.
    pub fn attribute_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 0) & !ATTRIBUTE_FORMAT
    }

    /// The second header word: the value of a TV, the value length of a TLV.
    pub fn length_or_value(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The value of a TLV attribute (empty for a TV).
    pub fn value(&self) -> &[u8] {
        &self.buffer.as_ref()[ATTRIBUTE_HEADER_LEN..self.total_len()]
    }

    /// The length of the whole attribute: 4 for TV, 4 + value length for TLV.
    pub fn total_len(&self) -> usize {
        if self.is_tv() {
            ATTRIBUTE_HEADER_LEN
        } else {
            ATTRIBUTE_HEADER_LEN + usize::from(self.length_or_value())
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AttributePacket<T> {
    /// Sets the AF bit and the attribute type (whose top bit is ignored).
    pub fn set_type(&mut self, is_tv: bool, attribute_type: u16) {
        let format = if is_tv { ATTRIBUTE_FORMAT } else { 0 };
        write_u16(
            self.buffer.as_mut(),
            0,
            format | (attribute_type & !ATTRIBUTE_FORMAT),
        );
    }

    /// Sets the second header word (TV value or TLV length).
    pub fn set_length_or_value(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// The TLV value, mutable.
    pub fn value_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[ATTRIBUTE_HEADER_LEN..end]
    }
}

impl TransformAttribute {
    /// Parses a checked attribute.
    pub fn parse<T: AsRef<[u8]>>(packet: &AttributePacket<T>) -> Self {
        if packet.is_tv() {
            Self::Tv {
                kind: packet.attribute_type(),
                value: packet.length_or_value(),
            }
        } else {
            Self::Tlv {
                kind: packet.attribute_type(),
                value: packet.value().to_vec(),
            }
        }
    }

    /// The length of the emitted attribute.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Tv { .. } => ATTRIBUTE_HEADER_LEN,
            Self::Tlv { value, .. } => ATTRIBUTE_HEADER_LEN + value.len(),
        }
    }

    /// Emits the attribute into `buffer`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// An attribute type with the top (AF) bit set, a TLV value over 65,535 bytes, or a buffer
    /// of the wrong size.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::SA, buffer, self.buffer_len())?;
        let (is_tv, kind, second) = match self {
            Self::Tv { kind, value } => (true, *kind, *value),
            Self::Tlv { kind, value } => (
                false,
                *kind,
                u16::try_from(value.len()).map_err(|_| emit_error("attribute length"))?,
            ),
        };
        if kind & ATTRIBUTE_FORMAT != 0 {
            return Err(emit_error("attribute type"));
        }
        let mut packet = AttributePacket::new_unchecked(buffer);
        packet.set_type(is_tv, kind);
        packet.set_length_or_value(second);
        if let Self::Tlv { value, .. } = self {
            packet.value_mut().copy_from_slice(value);
        }
        Ok(())
    }
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::SA, field, kind)
}

fn emit_error(field: &'static str) -> EmitError {
    EmitError::new(PayloadType::SA, field)
}

const ATTRIBUTE_HEADER_LEN: usize = 4;
const ATTRIBUTE_FORMAT: u16 = 0x8000;
