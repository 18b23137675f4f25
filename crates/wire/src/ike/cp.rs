//! The Configuration payload ([RFC 7296 §3.15]) and its attributes ([RFC 7296 §3.15.1]).
//!
//! A CP body is the configuration type, three reserved octets and attributes; each attribute is
//! a reserved bit and a 15-bit type, a 2-byte length and the value. Values are kept as bytes:
//! their meaning (an address, a netmask, a subnet) belongs to the engine. At most
//! [`MAX_CFG_ATTRIBUTES`] attributes are accepted.
//!
//! [RFC 7296 §3.15]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15
//! [RFC 7296 §3.15.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15.1

use crate::bytes::read_u16;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::CfgAttribute;
use crate::ike::CpPayload;
use crate::ike::MAX_CFG_ATTRIBUTES;
use crate::ike::payload::check_buffer;
use crate::registry::CfgAttributeType;
use crate::registry::CfgType;
use crate::registry::PayloadType;

view! {
    /// A view over a Configuration payload body ([RFC 7296 §3.15]).
    ///
    /// [RFC 7296 §3.15]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15
    CpPacket
}

impl<T: AsRef<[u8]>> CpPacket<T> {
    /// Checks that the type and reserved octets are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < CP_FIXED_LEN {
            return Err(error("payload length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The configuration type.
    pub fn cfg_type(&self) -> CfgType {
        CfgType(self.buffer.as_ref()[0])
    }

    /// The attributes, back to back.
    pub fn attributes(&self) -> &[u8] {
        &self.buffer.as_ref()[CP_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CpPacket<T> {
    /// Sets the configuration type (and clears the reserved octets).
    pub fn set_cfg_type(&mut self, value: CfgType) {
        self.buffer.as_mut()[..CP_FIXED_LEN].copy_from_slice(&[value.0, 0, 0, 0]);
    }

    /// The attributes area, mutable.
    pub fn attributes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[CP_FIXED_LEN..]
    }
}

view! {
    /// A view over one configuration attribute ([RFC 7296 §3.15.1]). The buffer may continue
    /// past it (the following attributes).
    ///
    /// [RFC 7296 §3.15.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15.1
    CfgAttributePacket
}

impl<T: AsRef<[u8]>> CfgAttributePacket<T> {
    /// Checks that the attribute header is present and its value fits in the buffer.
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the header, `BadLength` if the value runs past it.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < ATTRIBUTE_HEADER_LEN {
            return Err(error("configuration attribute", ParseErrorKind::Truncated));
        }
        if self.total_len() > len {
            return Err(error("length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The attribute type (the reserved top bit is ignored, RFC 7296 §3.15.1).
    pub fn attribute_type(&self) -> CfgAttributeType {
        CfgAttributeType(read_u16(self.buffer.as_ref(), 0) & !RESERVED_BIT)
    }

    /// The length of the value.
    pub fn length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.buffer.as_ref()[ATTRIBUTE_HEADER_LEN..self.total_len()]
    }

    /// The length of the whole attribute, header included.
    pub fn total_len(&self) -> usize {
        ATTRIBUTE_HEADER_LEN + usize::from(self.length())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CfgAttributePacket<T> {
    /// Sets the attribute type (the reserved bit cleared).
    pub fn set_attribute_type(&mut self, value: CfgAttributeType) {
        write_u16(self.buffer.as_mut(), 0, value.0 & !RESERVED_BIT);
    }

    /// Sets the length of the value.
    pub fn set_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// The value, mutable.
    pub fn value_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[ATTRIBUTE_HEADER_LEN..end]
    }
}

impl CpPayload {
    /// Parses a Configuration payload body.
    ///
    /// # Errors
    ///
    /// A body under 4 bytes, a malformed attribute, or more than [`MAX_CFG_ATTRIBUTES`].
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = CpPacket::new_checked(body)?;
        let mut attributes = Vec::new();
        let mut rest = packet.attributes();
        while !rest.is_empty() {
            if attributes.len() == MAX_CFG_ATTRIBUTES {
                return Err(error("configuration attribute", ParseErrorKind::TooMany));
            }
            let attribute = CfgAttributePacket::new_checked(rest)?;
            attributes.push(CfgAttribute {
                attribute_type: attribute.attribute_type(),
                value: attribute.value().to_vec(),
            });
            rest = &rest[attribute.total_len()..];
        }
        Ok(Self {
            cfg_type: packet.cfg_type(),
            attributes,
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        CP_FIXED_LEN
            + self
                .attributes
                .iter()
                .map(|attribute| ATTRIBUTE_HEADER_LEN + attribute.value.len())
                .sum::<usize>()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// An attribute type with the reserved bit set, a value over 65,535 bytes, or a buffer of
    /// the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::CP, body, self.buffer_len())?;
        let mut packet = CpPacket::new_unchecked(body);
        packet.set_cfg_type(self.cfg_type);
        let area = packet.attributes_mut();
        let mut offset = 0;
        for attribute in &self.attributes {
            if attribute.attribute_type.0 & RESERVED_BIT != 0 {
                return Err(EmitError::new(PayloadType::CP, "attribute type"));
            }
            let length = u16::try_from(attribute.value.len())
                .map_err(|_| EmitError::new(PayloadType::CP, "length"))?;
            let total = ATTRIBUTE_HEADER_LEN + attribute.value.len();
            let mut view = CfgAttributePacket::new_unchecked(&mut area[offset..offset + total]);
            view.set_attribute_type(attribute.attribute_type);
            view.set_length(length);
            view.value_mut().copy_from_slice(&attribute.value);
            offset += total;
        }
        Ok(())
    }
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::CP, field, kind)
}

const CP_FIXED_LEN: usize = 4;
const ATTRIBUTE_HEADER_LEN: usize = 4;
const RESERVED_BIT: u16 = 0x8000;

#[cfg(test)]
mod tests {
    use super::*;

    /// A CFG_REQUEST for an IPv4 address (empty) and a DNS server (empty), and a reply value.
    static CP_BYTES: [u8; 16] = [
        0x01, 0x00, 0x00, 0x00, // CFG_REQUEST
        0x00, 0x01, 0x00, 0x00, // INTERNAL_IP4_ADDRESS, empty
        0x00, 0x03, 0x00, 0x04, 10, 0, 0, 53, // INTERNAL_IP4_DNS 10.0.0.53
    ];

    fn cp_repr() -> CpPayload {
        CpPayload {
            cfg_type: CfgType::CFG_REQUEST,
            attributes: vec![
                CfgAttribute {
                    attribute_type: CfgAttributeType::INTERNAL_IP4_ADDRESS,
                    value: vec![],
                },
                CfgAttribute {
                    attribute_type: CfgAttributeType::INTERNAL_IP4_DNS,
                    value: vec![10, 0, 0, 53],
                },
            ],
        }
    }

    #[test]
    fn deconstruct() {
        let packet = CpPacket::new_checked(&CP_BYTES[..]).unwrap();
        assert_eq!(packet.cfg_type(), CfgType::CFG_REQUEST);
        let first = CfgAttributePacket::new_checked(packet.attributes()).unwrap();
        assert_eq!(
            first.attribute_type(),
            CfgAttributeType::INTERNAL_IP4_ADDRESS
        );
        assert_eq!(first.length(), 0);
        assert_eq!(first.total_len(), 4);
        let second = CfgAttributePacket::new_checked(&packet.attributes()[4..]).unwrap();
        assert_eq!(second.attribute_type(), CfgAttributeType::INTERNAL_IP4_DNS);
        assert_eq!(second.value(), &[10, 0, 0, 53]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xff; 16];
        let mut packet = CpPacket::new_unchecked(&mut bytes[..]);
        packet.set_cfg_type(CfgType::CFG_REQUEST);
        let area = packet.attributes_mut();
        let mut first = CfgAttributePacket::new_unchecked(&mut area[..4]);
        first.set_attribute_type(CfgAttributeType::INTERNAL_IP4_ADDRESS);
        first.set_length(0);
        let mut second = CfgAttributePacket::new_unchecked(&mut area[4..]);
        second.set_attribute_type(CfgAttributeType::INTERNAL_IP4_DNS);
        second.set_length(4);
        second.value_mut().copy_from_slice(&[10, 0, 0, 53]);
        assert_eq!(bytes, CP_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            CpPacket::new_checked(&CP_BYTES[..3]).unwrap_err(),
            error("payload length", ParseErrorKind::BadLength)
        );
        assert_eq!(
            CfgAttributePacket::new_checked(&CP_BYTES[8..11]).unwrap_err(),
            error("configuration attribute", ParseErrorKind::Truncated)
        );
        assert_eq!(
            CfgAttributePacket::new_checked(&CP_BYTES[8..15]).unwrap_err(),
            error("length", ParseErrorKind::BadLength)
        );
    }

    #[test]
    fn parse() {
        assert_eq!(CpPayload::parse(&CP_BYTES).unwrap(), cp_repr());
        // The reserved bit of an attribute type is ignored.
        let mut bytes = CP_BYTES;
        bytes[4] |= 0x80;
        assert_eq!(CpPayload::parse(&bytes).unwrap(), cp_repr());
    }

    #[test]
    fn parse_caps_attributes() {
        let mut bytes = vec![0x01, 0, 0, 0];
        for _ in 0..=MAX_CFG_ATTRIBUTES {
            bytes.extend_from_slice(&[0, 1, 0, 0]);
        }
        assert_eq!(
            CpPayload::parse(&bytes).unwrap_err(),
            error("configuration attribute", ParseErrorKind::TooMany)
        );
    }

    #[test]
    fn emit() {
        let mut bytes = [0xff; 16];
        cp_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, CP_BYTES);
        let mut bad = cp_repr();
        bad.attributes[0].attribute_type = CfgAttributeType(0x8001);
        assert_eq!(
            bad.emit(&mut [0; 16]).unwrap_err(),
            EmitError::new(PayloadType::CP, "attribute type")
        );
    }

    #[test]
    fn buffer_len() {
        assert_eq!(cp_repr().buffer_len(), CP_BYTES.len());
    }
}
