//! The Security Association payload ([RFC 7296 §3.3]): proposals ([§3.3.1]), transforms
//! ([§3.3.2]) and transform attributes ([§3.3.5]).
//!
//! The SA body is a list of proposal substructures; each carries an SPI and a list of transform
//! substructures; each transform carries attributes in the short TV form (AF bit set, 2-byte
//! value) or the long TLV form. Proposals and transforms end their lists with a "last
//! substructure" octet (0 for the last, 2 or 3 otherwise), which this parser checks against the
//! lengths. Counts are capped ([`MAX_PROPOSALS`], [`MAX_TRANSFORMS`], [`MAX_ATTRIBUTES`]).
//!
//! [RFC 7296 §3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3
//! [§3.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.1
//! [§3.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.2
//! [§3.3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.5

use crate::bytes::read_u16;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::MAX_ATTRIBUTES;
use crate::ike::MAX_PROPOSALS;
use crate::ike::MAX_TRANSFORMS;
use crate::ike::Proposal;
use crate::ike::SaPayload;
use crate::ike::Transform;
use crate::ike::TransformAttribute;
use crate::ike::attribute::AttributePacket;
use crate::ike::payload::check_buffer;
use crate::registry::PayloadType;
use crate::registry::ProtocolId;
use crate::registry::TransformType;

/// A view over one proposal substructure ([RFC 7296 §3.3.1]).
///
/// [RFC 7296 §3.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.1
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ProposalPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ProposalPacket<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic on a buffer shorter than the fixed part, the SPI or the length field.
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

    /// Checks that the fixed part is present and that the proposal length covers it and the SPI
    /// and fits in the buffer (which may hold further proposals).
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the fixed part, `BadLength` for a proposal length
    /// shorter than the fixed part and SPI or longer than the buffer.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < PROPOSAL_FIXED_LEN {
            return Err(error("proposal", ParseErrorKind::Truncated));
        }
        let length = usize::from(self.proposal_length());
        if length < PROPOSAL_FIXED_LEN + usize::from(self.spi_size()) || length > len {
            return Err(error("proposal length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// 0 if this is the last proposal, 2 if more follow.
    pub fn last_substructure(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The length of this proposal, transforms included.
    pub fn proposal_length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The proposal number.
    pub fn proposal_number(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// The protocol ID.
    pub fn protocol_id(&self) -> ProtocolId {
        ProtocolId(self.buffer.as_ref()[5])
    }

    /// The SPI size in bytes.
    pub fn spi_size(&self) -> u8 {
        self.buffer.as_ref()[6]
    }

    /// The number of transforms the sender claims.
    pub fn num_transforms(&self) -> u8 {
        self.buffer.as_ref()[7]
    }

    /// The SPI.
    pub fn spi(&self) -> &[u8] {
        &self.buffer.as_ref()[PROPOSAL_FIXED_LEN..self.transforms_start()]
    }

    /// The transform substructures, back to back.
    pub fn transforms(&self) -> &[u8] {
        &self.buffer.as_ref()[self.transforms_start()..usize::from(self.proposal_length())]
    }

    fn transforms_start(&self) -> usize {
        PROPOSAL_FIXED_LEN + usize::from(self.spi_size())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ProposalPacket<T> {
    /// Sets the last-substructure octet (and clears the reserved octet after it).
    pub fn set_last_substructure(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
        self.buffer.as_mut()[1] = 0;
    }

    /// Sets the proposal length.
    pub fn set_proposal_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// Sets the proposal number.
    pub fn set_proposal_number(&mut self, value: u8) {
        self.buffer.as_mut()[4] = value;
    }

    /// Sets the protocol ID.
    pub fn set_protocol_id(&mut self, value: ProtocolId) {
        self.buffer.as_mut()[5] = value.0;
    }

    /// Sets the SPI size.
    pub fn set_spi_size(&mut self, value: u8) {
        self.buffer.as_mut()[6] = value;
    }

    /// Sets the number of transforms.
    pub fn set_num_transforms(&mut self, value: u8) {
        self.buffer.as_mut()[7] = value;
    }

    /// The SPI, mutable (its size is the SPI size field).
    pub fn spi_mut(&mut self) -> &mut [u8] {
        let end = self.transforms_start();
        &mut self.buffer.as_mut()[PROPOSAL_FIXED_LEN..end]
    }

    /// The transforms area, mutable.
    pub fn transforms_mut(&mut self) -> &mut [u8] {
        let start = self.transforms_start();
        let end = usize::from(self.proposal_length());
        &mut self.buffer.as_mut()[start..end]
    }
}

/// A view over one transform substructure ([RFC 7296 §3.3.2]).
///
/// [RFC 7296 §3.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.2
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TransformPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TransformPacket<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic on a buffer shorter than the fixed part or the length field.
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

    /// Checks that the fixed part is present and the transform length covers it and fits.
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the fixed part, `BadLength` for a transform length
    /// shorter than 8 or longer than the buffer.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < TRANSFORM_FIXED_LEN {
            return Err(error("transform", ParseErrorKind::Truncated));
        }
        let length = usize::from(self.transform_length());
        if length < TRANSFORM_FIXED_LEN || length > len {
            return Err(error("transform length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// 0 if this is the last transform of its proposal, 3 if more follow.
    pub fn last_substructure(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The length of this transform, attributes included.
    pub fn transform_length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The transform type.
    pub fn transform_type(&self) -> TransformType {
        TransformType(self.buffer.as_ref()[4])
    }

    /// The transform ID.
    pub fn transform_id(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 6)
    }

    /// The attributes, back to back.
    pub fn attributes(&self) -> &[u8] {
        &self.buffer.as_ref()[TRANSFORM_FIXED_LEN..usize::from(self.transform_length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TransformPacket<T> {
    /// Sets the last-substructure octet (and clears the reserved octets).
    pub fn set_last_substructure(&mut self, value: u8) {
        let buffer = self.buffer.as_mut();
        buffer[0] = value;
        buffer[1] = 0;
        buffer[5] = 0;
    }

    /// Sets the transform length.
    pub fn set_transform_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// Sets the transform type.
    pub fn set_transform_type(&mut self, value: TransformType) {
        self.buffer.as_mut()[4] = value.0;
    }

    /// Sets the transform ID.
    pub fn set_transform_id(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 6, value);
    }

    /// The attributes area, mutable.
    pub fn attributes_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.transform_length());
        &mut self.buffer.as_mut()[TRANSFORM_FIXED_LEN..end]
    }
}

impl SaPayload {
    /// Parses an SA payload body.
    ///
    /// # Errors
    ///
    /// Any malformed proposal, transform or attribute; a last-substructure octet that
    /// contradicts the lengths; more than [`MAX_PROPOSALS`] proposals.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut proposals = Vec::new();
        let mut rest = body;
        loop {
            if proposals.len() == MAX_PROPOSALS {
                return Err(error("proposal", ParseErrorKind::TooMany));
            }
            let packet = ProposalPacket::new_checked(rest)?;
            proposals.push(Proposal::parse(&packet)?);
            rest = &rest[usize::from(packet.proposal_length())..];
            match (packet.last_substructure(), rest.is_empty()) {
                (LAST, true) => break,
                (MORE_PROPOSALS, false) => {}
                (LAST, false) => return Err(error("last substruc", ParseErrorKind::TrailingData)),
                (MORE_PROPOSALS, true) => {
                    return Err(error("last substruc", ParseErrorKind::Truncated));
                }
                _ => return Err(error("last substruc", ParseErrorKind::InvalidValue)),
            }
        }
        Ok(Self { proposals })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        self.proposals.iter().map(Proposal::buffer_len).sum()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A value that does not fit its field (more than 255 transforms, an SPI over 255 bytes, a
    /// proposal over 65,535 bytes, an attribute type with the AF bit set), or a buffer of the
    /// wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::SA, body, self.buffer_len())?;
        let mut offset = 0;
        for (index, proposal) in self.proposals.iter().enumerate() {
            let len = proposal.buffer_len();
            let last = if index + 1 == self.proposals.len() {
                LAST
            } else {
                MORE_PROPOSALS
            };
            proposal.emit(last, &mut body[offset..offset + len])?;
            offset += len;
        }
        Ok(())
    }
}

impl Proposal {
    /// Parses a checked proposal substructure.
    ///
    /// # Errors
    ///
    /// An SPI size that does not suit the protocol (0 or 8 for IKE, 4 for ESP and AH), a
    /// transform count that does not match the transforms, more than [`MAX_TRANSFORMS`], or a
    /// malformed transform.
    pub fn parse<T: AsRef<[u8]>>(packet: &ProposalPacket<T>) -> Result<Self, ParseError> {
        let protocol = packet.protocol_id();
        let spi_ok = match protocol {
            ProtocolId::IKE => matches!(packet.spi_size(), 0 | 8),
            ProtocolId::ESP | ProtocolId::AH => packet.spi_size() == 4,
            _ => true,
        };
        if !spi_ok {
            return Err(error("SPI size", ParseErrorKind::InvalidValue));
        }
        let num_transforms = usize::from(packet.num_transforms());
        if num_transforms == 0 {
            return Err(error("number of transforms", ParseErrorKind::InvalidValue));
        }
        if num_transforms > MAX_TRANSFORMS {
            return Err(error("number of transforms", ParseErrorKind::TooMany));
        }
        let mut transforms = Vec::with_capacity(num_transforms);
        let mut rest = packet.transforms();
        loop {
            if transforms.len() == num_transforms {
                return Err(error("number of transforms", ParseErrorKind::Inconsistent));
            }
            let transform = TransformPacket::new_checked(rest)?;
            transforms.push(Transform::parse(&transform)?);
            rest = &rest[usize::from(transform.transform_length())..];
            match (transform.last_substructure(), rest.is_empty()) {
                (LAST, true) => break,
                (MORE_TRANSFORMS, false) => {}
                (LAST, false) => return Err(error("last substruc", ParseErrorKind::TrailingData)),
                (MORE_TRANSFORMS, true) => {
                    return Err(error("last substruc", ParseErrorKind::Truncated));
                }
                _ => return Err(error("last substruc", ParseErrorKind::InvalidValue)),
            }
        }
        if transforms.len() != num_transforms {
            return Err(error("number of transforms", ParseErrorKind::Inconsistent));
        }
        Ok(Self {
            number: packet.proposal_number(),
            protocol,
            spi: packet.spi().to_vec(),
            transforms,
        })
    }

    /// The length of the emitted substructure.
    pub fn buffer_len(&self) -> usize {
        PROPOSAL_FIXED_LEN
            + self.spi.len()
            + self
                .transforms
                .iter()
                .map(Transform::buffer_len)
                .sum::<usize>()
    }

    /// Emits the substructure with the given last-substructure octet (0 or 2) into `buffer`,
    /// which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// See [`SaPayload::emit`].
    pub fn emit(&self, last_substructure: u8, buffer: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::SA, buffer, self.buffer_len())?;
        let length = u16::try_from(buffer.len()).map_err(|_| emit_error("proposal length"))?;
        let spi_size = u8::try_from(self.spi.len()).map_err(|_| emit_error("SPI size"))?;
        let num_transforms =
            u8::try_from(self.transforms.len()).map_err(|_| emit_error("number of transforms"))?;
        let mut packet = ProposalPacket::new_unchecked(buffer);
        packet.set_last_substructure(last_substructure);
        packet.set_proposal_length(length);
        packet.set_proposal_number(self.number);
        packet.set_protocol_id(self.protocol);
        packet.set_spi_size(spi_size);
        packet.set_num_transforms(num_transforms);
        packet.spi_mut().copy_from_slice(&self.spi);
        let area = packet.transforms_mut();
        let mut offset = 0;
        for (index, transform) in self.transforms.iter().enumerate() {
            let len = transform.buffer_len();
            let last = if index + 1 == self.transforms.len() {
                LAST
            } else {
                MORE_TRANSFORMS
            };
            transform.emit(last, &mut area[offset..offset + len])?;
            offset += len;
        }
        Ok(())
    }
}

impl Transform {
    /// Parses a checked transform substructure.
    ///
    /// # Errors
    ///
    /// A malformed attribute or more than [`MAX_ATTRIBUTES`].
    pub fn parse<T: AsRef<[u8]>>(packet: &TransformPacket<T>) -> Result<Self, ParseError> {
        let mut attributes = Vec::new();
        let mut rest = packet.attributes();
        while !rest.is_empty() {
            if attributes.len() == MAX_ATTRIBUTES {
                return Err(error("attribute", ParseErrorKind::TooMany));
            }
            let attribute = AttributePacket::new_checked(rest)?;
            attributes.push(TransformAttribute::parse(&attribute));
            rest = &rest[attribute.total_len()..];
        }
        Ok(Self {
            transform_type: packet.transform_type(),
            id: packet.transform_id(),
            attributes,
        })
    }

    /// The length of the emitted substructure.
    pub fn buffer_len(&self) -> usize {
        TRANSFORM_FIXED_LEN
            + self
                .attributes
                .iter()
                .map(TransformAttribute::buffer_len)
                .sum::<usize>()
    }

    /// Emits the substructure with the given last-substructure octet (0 or 3) into `buffer`,
    /// which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// See [`SaPayload::emit`].
    pub fn emit(&self, last_substructure: u8, buffer: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::SA, buffer, self.buffer_len())?;
        let length = u16::try_from(buffer.len()).map_err(|_| emit_error("transform length"))?;
        let mut packet = TransformPacket::new_unchecked(buffer);
        packet.set_last_substructure(last_substructure);
        packet.set_transform_length(length);
        packet.set_transform_type(self.transform_type);
        packet.set_transform_id(self.id);
        let area = packet.attributes_mut();
        let mut offset = 0;
        for attribute in &self.attributes {
            let len = attribute.buffer_len();
            attribute.emit(&mut area[offset..offset + len])?;
            offset += len;
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

/// Last-substructure value of the final proposal or transform.
const LAST: u8 = 0;
/// Last-substructure value of a proposal with more after it.
const MORE_PROPOSALS: u8 = 2;
/// Last-substructure value of a transform with more after it.
const MORE_TRANSFORMS: u8 = 3;
const PROPOSAL_FIXED_LEN: usize = 8;
const TRANSFORM_FIXED_LEN: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EncrId;
    use crate::registry::IntegId;
    use crate::registry::KeMethod;
    use crate::registry::PrfId;

    /// One IKE proposal (AES-GCM-16/128, PRF-HMAC-SHA2-256, X25519) and one ESP proposal with
    /// a 4-byte SPI (AES-CBC-256, HMAC-SHA2-256-128, no ESN with a TLV attribute of type 99).
    static SA_BYTES: [u8; 82] = [
        // proposal 1: more follow, length 36, #1, IKE, SPI size 0, 3 transforms
        0x02, 0x00, 0x00, 0x24, 0x01, 0x01, 0x00, 0x03, //
        0x03, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x14, 0x80, 0x0e, 0x00,
        0x80, // ENCR 20, 128
        0x03, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x05, // PRF 5
        0x00, 0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x1f, // KE 31
        // proposal 2: last, length 46, #2, ESP, SPI size 4, 3 transforms
        0x00, 0x00, 0x00, 0x2e, 0x02, 0x03, 0x04, 0x03, //
        0xc0, 0x01, 0x02, 0x03, // SPI
        0x03, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x0c, 0x80, 0x0e, 0x01,
        0x00, // ENCR 12, 256
        0x03, 0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x0c, // INTEG 12
        0x00, 0x00, 0x00, 0x0e, 0x05, 0x00, 0x00, 0x00, // ESN 0
        0x00, 0x63, 0x00, 0x02, 0xab, 0xcd, // TLV 99 = abcd
    ];

    fn sa_bytes() -> Vec<u8> {
        SA_BYTES.to_vec()
    }

    fn sa_repr() -> SaPayload {
        SaPayload {
            proposals: vec![
                Proposal {
                    number: 1,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        Transform {
                            transform_type: TransformType::ENCR,
                            id: EncrId::AES_GCM_16.0,
                            attributes: vec![TransformAttribute::Tv {
                                kind: 14,
                                value: 128,
                            }],
                        },
                        Transform {
                            transform_type: TransformType::PRF,
                            id: PrfId::HMAC_SHA2_256.0,
                            attributes: vec![],
                        },
                        Transform {
                            transform_type: TransformType::KE,
                            id: KeMethod::CURVE25519.0,
                            attributes: vec![],
                        },
                    ],
                },
                Proposal {
                    number: 2,
                    protocol: ProtocolId::ESP,
                    spi: vec![0xc0, 0x01, 0x02, 0x03],
                    transforms: vec![
                        Transform {
                            transform_type: TransformType::ENCR,
                            id: EncrId::AES_CBC.0,
                            attributes: vec![TransformAttribute::Tv {
                                kind: 14,
                                value: 256,
                            }],
                        },
                        Transform {
                            transform_type: TransformType::INTEG,
                            id: IntegId::HMAC_SHA2_256_128.0,
                            attributes: vec![],
                        },
                        Transform {
                            transform_type: TransformType::ESN,
                            id: 0,
                            attributes: vec![TransformAttribute::Tlv {
                                kind: 99,
                                value: vec![0xab, 0xcd],
                            }],
                        },
                    ],
                },
            ],
        }
    }

    #[test]
    fn deconstruct() {
        let bytes = sa_bytes();
        let proposal = ProposalPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(proposal.last_substructure(), 2);
        assert_eq!(proposal.proposal_length(), 36);
        assert_eq!(proposal.proposal_number(), 1);
        assert_eq!(proposal.protocol_id(), ProtocolId::IKE);
        assert_eq!(proposal.spi_size(), 0);
        assert_eq!(proposal.num_transforms(), 3);
        assert!(proposal.spi().is_empty());
        let transform = TransformPacket::new_checked(proposal.transforms()).unwrap();
        assert_eq!(transform.last_substructure(), 3);
        assert_eq!(transform.transform_length(), 12);
        assert_eq!(transform.transform_type(), TransformType::ENCR);
        assert_eq!(transform.transform_id(), 20);
        let attribute = AttributePacket::new_checked(transform.attributes()).unwrap();
        assert!(attribute.is_tv());
        assert_eq!(attribute.attribute_type(), 14);
        assert_eq!(attribute.length_or_value(), 128);
        assert_eq!(attribute.total_len(), 4);

        let second = ProposalPacket::new_checked(&bytes[36..]).unwrap();
        assert_eq!(second.spi(), &[0xc0, 0x01, 0x02, 0x03]);
        let tlv = AttributePacket::new_checked(&second.transforms()[28..]).unwrap();
        assert!(!tlv.is_tv());
        assert_eq!(tlv.attribute_type(), 99);
        assert_eq!(tlv.value(), &[0xab, 0xcd]);
    }

    #[test]
    fn construct() {
        let expected = sa_bytes();
        let mut bytes = vec![0xff; expected.len()];
        {
            let mut proposal = ProposalPacket::new_unchecked(&mut bytes[..36]);
            proposal.set_last_substructure(2);
            proposal.set_proposal_length(36);
            proposal.set_proposal_number(1);
            proposal.set_protocol_id(ProtocolId::IKE);
            proposal.set_spi_size(0);
            proposal.set_num_transforms(3);
            let area = proposal.transforms_mut();
            let mut transform = TransformPacket::new_unchecked(&mut area[..12]);
            transform.set_last_substructure(3);
            transform.set_transform_length(12);
            transform.set_transform_type(TransformType::ENCR);
            transform.set_transform_id(20);
            let mut attribute = AttributePacket::new_unchecked(transform.attributes_mut());
            attribute.set_type(true, 14);
            attribute.set_length_or_value(128);
            let mut transform = TransformPacket::new_unchecked(&mut area[12..20]);
            transform.set_last_substructure(3);
            transform.set_transform_length(8);
            transform.set_transform_type(TransformType::PRF);
            transform.set_transform_id(5);
            let mut transform = TransformPacket::new_unchecked(&mut area[20..28]);
            transform.set_last_substructure(0);
            transform.set_transform_length(8);
            transform.set_transform_type(TransformType::KE);
            transform.set_transform_id(31);
        }
        bytes[36..].copy_from_slice(&expected[36..]);
        bytes[44..48].fill(0);
        bytes[76..].fill(0);
        let mut proposal = ProposalPacket::new_unchecked(&mut bytes[36..]);
        proposal
            .spi_mut()
            .copy_from_slice(&[0xc0, 0x01, 0x02, 0x03]);
        let mut tlv = AttributePacket::new_unchecked(&mut proposal.transforms_mut()[28..]);
        tlv.set_type(false, 99);
        tlv.set_length_or_value(2);
        tlv.value_mut().copy_from_slice(&[0xab, 0xcd]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn check_len() {
        let bytes = sa_bytes();
        assert_eq!(
            ProposalPacket::new_checked(&bytes[..7]).unwrap_err().kind,
            ParseErrorKind::Truncated
        );
        let error = ProposalPacket::new_checked(&bytes[..35]).unwrap_err();
        assert_eq!(
            (error.field, error.kind),
            ("proposal length", ParseErrorKind::BadLength)
        );
        // A proposal length shorter than the fixed part and SPI.
        let mut short = bytes[36..].to_vec();
        short[3] = 11;
        assert_eq!(
            ProposalPacket::new_checked(&short[..]).unwrap_err().field,
            "proposal length"
        );
        assert_eq!(
            TransformPacket::new_checked(&bytes[8..15])
                .unwrap_err()
                .kind,
            ParseErrorKind::Truncated
        );
        assert_eq!(
            TransformPacket::new_checked(&bytes[8..19])
                .unwrap_err()
                .field,
            "transform length"
        );
        assert_eq!(
            AttributePacket::new_checked(&[0x80, 0x0e, 0x00][..])
                .unwrap_err()
                .kind,
            ParseErrorKind::Truncated
        );
        assert_eq!(
            AttributePacket::new_checked(&[0x00, 0x63, 0x00, 0x02, 0xab][..])
                .unwrap_err()
                .field,
            "attribute length"
        );
    }

    #[test]
    fn parse() {
        assert_eq!(SaPayload::parse(&sa_bytes()).unwrap(), sa_repr());
    }

    #[test]
    fn emit() {
        let repr = sa_repr();
        let mut bytes = vec![0xff; repr.buffer_len()];
        repr.emit(&mut bytes).unwrap();
        assert_eq!(bytes, sa_bytes());
    }

    #[test]
    fn buffer_len() {
        assert_eq!(sa_repr().buffer_len(), sa_bytes().len());
    }

    fn parse_error(bytes: &[u8]) -> (&'static str, ParseErrorKind) {
        let error = SaPayload::parse(bytes).unwrap_err();
        assert_eq!(error.payload, PayloadType::SA);
        (error.field, error.kind)
    }

    #[test]
    fn parse_rejects_empty_body() {
        assert_eq!(parse_error(&[]), ("proposal", ParseErrorKind::Truncated));
    }

    #[test]
    fn parse_checks_last_substructure() {
        let mut bytes = sa_bytes();
        bytes[0] = 0;
        assert_eq!(
            parse_error(&bytes),
            ("last substruc", ParseErrorKind::TrailingData)
        );
        bytes[0] = 7;
        assert_eq!(
            parse_error(&bytes),
            ("last substruc", ParseErrorKind::InvalidValue)
        );
        let mut bytes = sa_bytes();
        bytes[36] = 2;
        assert_eq!(
            parse_error(&bytes),
            ("last substruc", ParseErrorKind::Truncated)
        );
        let mut bytes = sa_bytes();
        bytes[8] = 0; // first transform claims to be last
        assert_eq!(
            parse_error(&bytes),
            ("last substruc", ParseErrorKind::TrailingData)
        );
    }

    #[test]
    fn parse_checks_transform_count() {
        let mut bytes = sa_bytes();
        bytes[7] = 2;
        assert_eq!(
            parse_error(&bytes),
            ("number of transforms", ParseErrorKind::Inconsistent)
        );
        bytes[7] = 4;
        assert_eq!(
            parse_error(&bytes),
            ("number of transforms", ParseErrorKind::Inconsistent)
        );
        bytes[7] = 0;
        assert_eq!(
            parse_error(&bytes),
            ("number of transforms", ParseErrorKind::InvalidValue)
        );
        bytes[7] = 65;
        assert_eq!(
            parse_error(&bytes),
            ("number of transforms", ParseErrorKind::TooMany)
        );
    }

    #[test]
    fn parse_checks_spi_size_against_protocol() {
        let mut bytes = sa_bytes();
        bytes[36 + 6] = 8; // ESP with an 8-byte SPI
        assert_eq!(
            parse_error(&bytes),
            ("SPI size", ParseErrorKind::InvalidValue)
        );
    }

    #[test]
    fn parse_caps_proposals_and_attributes() {
        let proposal = &sa_bytes()[..36];
        let mut many = Vec::new();
        for _ in 0..=MAX_PROPOSALS {
            many.extend_from_slice(proposal);
        }
        let last = many.len() - 36;
        many[last] = 0;
        assert_eq!(parse_error(&many), ("proposal", ParseErrorKind::TooMany));

        let mut transform = vec![0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x14];
        for _ in 0..=MAX_ATTRIBUTES {
            transform.extend_from_slice(&[0x80, 0x0e, 0x00, 0x80]);
        }
        let length = u16::try_from(transform.len()).unwrap();
        transform[2..4].copy_from_slice(&length.to_be_bytes());
        let mut proposal = vec![0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x01];
        proposal.extend_from_slice(&transform);
        let length = u16::try_from(proposal.len()).unwrap();
        proposal[2..4].copy_from_slice(&length.to_be_bytes());
        assert_eq!(
            parse_error(&proposal),
            ("attribute", ParseErrorKind::TooMany)
        );
    }

    #[test]
    fn emit_rejects_values_that_do_not_fit() {
        let mut repr = sa_repr();
        repr.proposals[0].transforms[0].attributes[0] = TransformAttribute::Tv {
            kind: 0x800e,
            value: 1,
        };
        let mut bytes = vec![0; repr.buffer_len()];
        assert_eq!(
            repr.emit(&mut bytes).unwrap_err(),
            EmitError::new(PayloadType::SA, "attribute type")
        );
        let mut repr = sa_repr();
        repr.proposals[0].spi = vec![0; 256];
        let mut bytes = vec![0; repr.buffer_len()];
        assert_eq!(
            repr.emit(&mut bytes).unwrap_err(),
            EmitError::new(PayloadType::SA, "SPI size")
        );
        assert!(sa_repr().emit(&mut [0; 3]).is_err());
    }
}
