//! The IKE header ([RFC 7296 §3.1]): the [`Packet`] view over a whole message and the [`Header`]
//! representation.
//!
//! The header is 28 bytes: both SPIs, the first payload's type, the version nibbles, the exchange
//! type, the flags, the message ID and the length of the whole message.
//!
//! [RFC 7296 §3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.1

use crate::bytes::read_u32;
use crate::bytes::read_u64;
use crate::bytes::write_u32;
use crate::bytes::write_u64;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::Flags;
use crate::ike::HEADER_LEN;
use crate::ike::Header;
use crate::registry::ExchangeType;
use crate::registry::PayloadType;

/// A view over an IKE message: the fixed header and the payload bytes after it
/// ([RFC 7296 §3.1]).
///
/// [RFC 7296 §3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.1
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic if the buffer is shorter than the header (or, for [`Self::payload`],
    /// than the length field says); use [`Self::new_checked`] on untrusted input.
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

    /// Checks that the buffer holds the header and that the length field covers the header and
    /// fits in the buffer, so that every accessor is safe.
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer is shorter than the header or the length field, `BadLength` if
    /// the length field is shorter than the header.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(error("header", ParseErrorKind::Truncated));
        }
        let length = usize::try_from(self.length()).unwrap_or(usize::MAX);
        if length < HEADER_LEN {
            return Err(error("length", ParseErrorKind::BadLength));
        }
        if length > len {
            return Err(error("length", ParseErrorKind::Truncated));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The IKE SA initiator's SPI.
    pub fn spi_i(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::SPI_I)
    }

    /// The IKE SA responder's SPI.
    pub fn spi_r(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::SPI_R)
    }

    /// The type of the first payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[field::NEXT_PAYLOAD])
    }

    /// The major version (high nibble of the version octet).
    pub fn major_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] >> 4
    }

    /// The minor version (low nibble of the version octet).
    pub fn minor_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] & 0x0f
    }

    /// The exchange type.
    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType(self.buffer.as_ref()[field::EXCHANGE_TYPE])
    }

    /// The flags (bits other than I, V and R are reserved and ignored, RFC 7296 §3.1).
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.buffer.as_ref()[field::FLAGS])
    }

    /// The message ID.
    pub fn message_id(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::MESSAGE_ID)
    }

    /// The length of the whole message, header included.
    pub fn length(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::LENGTH)
    }

    /// The payload chain: the bytes after the header, up to the length field.
    pub fn payload(&self) -> &[u8] {
        let end = usize::try_from(self.length()).unwrap_or(usize::MAX);
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the initiator's SPI.
    pub fn set_spi_i(&mut self, value: u64) {
        write_u64(self.buffer.as_mut(), field::SPI_I, value);
    }

    /// Sets the responder's SPI.
    pub fn set_spi_r(&mut self, value: u64) {
        write_u64(self.buffer.as_mut(), field::SPI_R, value);
    }

    /// Sets the type of the first payload.
    pub fn set_next_payload(&mut self, value: PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = value.0;
    }

    /// Sets both version nibbles; values above 15 are masked to four bits.
    pub fn set_version(&mut self, major: u8, minor: u8) {
        self.buffer.as_mut()[field::VERSION] = (major << 4) | (minor & 0x0f);
    }

    /// Sets the exchange type.
    pub fn set_exchange_type(&mut self, value: ExchangeType) {
        self.buffer.as_mut()[field::EXCHANGE_TYPE] = value.0;
    }

    /// Sets the flags octet (reserved bits zero).
    pub fn set_flags(&mut self, value: Flags) {
        self.buffer.as_mut()[field::FLAGS] = value.bits();
    }

    /// Sets the message ID.
    pub fn set_message_id(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::MESSAGE_ID, value);
    }

    /// Sets the length field.
    pub fn set_length(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// The payload chain, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::try_from(self.length()).unwrap_or(usize::MAX);
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl Header {
    /// Parses the header of a checked packet, rejecting a major version other than 2
    /// (RFC 7296 §2.5, answered with INVALID_MAJOR_VERSION).
    ///
    /// # Errors
    ///
    /// `UnsupportedVersion` for a major version other than 2.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, ParseError> {
        let major_version = packet.major_version();
        if major_version != 2 {
            return Err(error(
                "major version",
                ParseErrorKind::UnsupportedVersion(major_version),
            ));
        }
        Ok(Self {
            spi_i: packet.spi_i(),
            spi_r: packet.spi_r(),
            next_payload: packet.next_payload(),
            major_version,
            minor_version: packet.minor_version(),
            exchange: packet.exchange_type(),
            flags: packet.flags(),
            message_id: packet.message_id(),
            length: packet.length(),
        })
    }

    /// The length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every field into the first 28 bytes of `packet`'s buffer, as given (emitters of
    /// whole messages compute `next_payload` and `length` first).
    ///
    /// # Errors
    ///
    /// A version above 15 (it has four bits).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
    ) -> Result<(), EmitError> {
        if self.major_version > 0x0f || self.minor_version > 0x0f {
            return Err(EmitError::new(PayloadType::NONE, "version"));
        }
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(EmitError::new(PayloadType::NONE, "buffer"));
        }
        packet.set_spi_i(self.spi_i);
        packet.set_spi_r(self.spi_r);
        packet.set_next_payload(self.next_payload);
        packet.set_version(self.major_version, self.minor_version);
        packet.set_exchange_type(self.exchange);
        packet.set_flags(self.flags);
        packet.set_message_id(self.message_id);
        packet.set_length(self.length);
        Ok(())
    }
}

impl Flags {
    /// Reads the I, V and R bits of a flags octet; the other bits are reserved and ignored.
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            initiator: bits & FLAG_INITIATOR != 0,
            version: bits & FLAG_VERSION != 0,
            response: bits & FLAG_RESPONSE != 0,
        }
    }

    /// The flags octet, reserved bits zero.
    pub const fn bits(self) -> u8 {
        let mut bits = 0;
        if self.initiator {
            bits |= FLAG_INITIATOR;
        }
        if self.version {
            bits |= FLAG_VERSION;
        }
        if self.response {
            bits |= FLAG_RESPONSE;
        }
        bits
    }
}

/// Parses and checks the header of a whole message in `bytes`: at least 28 bytes, major version
/// 2, and a length field equal to the buffer's length.
pub(crate) fn parse(bytes: &[u8]) -> Result<Header, ParseError> {
    let packet = Packet::new_unchecked(bytes);
    if bytes.len() < HEADER_LEN {
        return Err(error("header", ParseErrorKind::Truncated));
    }
    // RFC 7296 §2.5: a message of another major version is answered with INVALID_MAJOR_VERSION,
    // whatever the rest of it says, so the version is checked before the lengths.
    let header = Header::parse(&packet)?;
    packet.check_len()?;
    if usize::try_from(header.length).ok() != Some(bytes.len()) {
        return Err(error("length", ParseErrorKind::TrailingData));
    }
    Ok(header)
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::NONE, field, kind)
}

const FLAG_INITIATOR: u8 = 0x08;
const FLAG_VERSION: u8 = 0x10;
const FLAG_RESPONSE: u8 = 0x20;

mod field {
    use std::ops::Range;

    pub(super) const SPI_I: Range<usize> = 0..8;
    pub(super) const SPI_R: Range<usize> = 8..16;
    pub(super) const NEXT_PAYLOAD: usize = 16;
    pub(super) const VERSION: usize = 17;
    pub(super) const EXCHANGE_TYPE: usize = 18;
    pub(super) const FLAGS: usize = 19;
    pub(super) const MESSAGE_ID: usize = 20;
    pub(super) const LENGTH: usize = 24;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKE_SA_INIT request header with an empty payload chain except for 4 bytes.
    static PACKET_BYTES: [u8; 32] = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // SPIi
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // SPIr
        0x21, 0x20, 0x22, 0x08, // next SA, version 2.0, IKE_SA_INIT, I
        0x00, 0x00, 0x00, 0x00, // message ID
        0x00, 0x00, 0x00, 0x20, // length 32
        0xaa, 0xbb, 0xcc, 0xdd, // payload bytes
    ];

    fn header_repr() -> Header {
        Header {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0,
            next_payload: PayloadType::SA,
            major_version: 2,
            minor_version: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags {
                initiator: true,
                version: false,
                response: false,
            },
            message_id: 0,
            length: 32,
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.spi_i(), 0x0102_0304_0506_0708);
        assert_eq!(packet.spi_r(), 0);
        assert_eq!(packet.next_payload(), PayloadType::SA);
        assert_eq!(packet.major_version(), 2);
        assert_eq!(packet.minor_version(), 0);
        assert_eq!(packet.exchange_type(), ExchangeType::IKE_SA_INIT);
        assert!(packet.flags().initiator);
        assert!(!packet.flags().response);
        assert_eq!(packet.message_id(), 0);
        assert_eq!(packet.length(), 32);
        assert_eq!(packet.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xff; 32];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_spi_i(0x0102_0304_0506_0708);
        packet.set_spi_r(0);
        packet.set_next_payload(PayloadType::SA);
        packet.set_version(2, 0);
        packet.set_exchange_type(ExchangeType::IKE_SA_INIT);
        packet.set_flags(Flags {
            initiator: true,
            ..Flags::default()
        });
        packet.set_message_id(0);
        packet.set_length(32);
        packet
            .payload_mut()
            .copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn check_len() {
        // Shorter than the header.
        assert_eq!(
            Packet::new_checked(&PACKET_BYTES[..27]).unwrap_err().kind,
            ParseErrorKind::Truncated
        );
        // Shorter than the length field.
        let error = Packet::new_checked(&PACKET_BYTES[..31]).unwrap_err();
        assert_eq!(
            (error.field, error.kind),
            ("length", ParseErrorKind::Truncated)
        );
        // A length field smaller than the header.
        let mut bytes = PACKET_BYTES;
        bytes[27] = 27;
        let error = Packet::new_checked(&bytes[..]).unwrap_err();
        assert_eq!(
            (error.field, error.kind),
            ("length", ParseErrorKind::BadLength)
        );
        // A longer buffer is fine for the view (the parser insists on equality).
        let mut longer = PACKET_BYTES.to_vec();
        longer.push(0);
        assert!(Packet::new_checked(&longer[..]).is_ok());
        assert_eq!(
            parse(&longer).unwrap_err(),
            ParseError::new(PayloadType::NONE, "length", ParseErrorKind::TrailingData)
        );
    }

    #[test]
    fn parse_header() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Header::parse(&packet).unwrap(), header_repr());
        assert_eq!(parse(&PACKET_BYTES).unwrap(), header_repr());
    }

    #[test]
    fn parse_rejects_other_major_versions_before_lengths() {
        let mut bytes = PACKET_BYTES;
        bytes[17] = 0x30;
        bytes[27] = 0; // a bad length too: the version is reported
        assert_eq!(
            parse(&bytes).unwrap_err(),
            ParseError::new(
                PayloadType::NONE,
                "major version",
                ParseErrorKind::UnsupportedVersion(3)
            )
        );
    }

    #[test]
    fn parse_ignores_reserved_flag_bits() {
        let mut bytes = PACKET_BYTES;
        bytes[19] = 0xc7 | 0x08;
        assert_eq!(parse(&bytes).unwrap().flags, header_repr().flags);
    }

    #[test]
    fn emit() {
        let mut bytes = [0xff; 32];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        header_repr().emit(&mut packet).unwrap();
        packet
            .payload_mut()
            .copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn emit_rejects_wide_versions() {
        let mut bytes = [0; 28];
        let header = Header {
            major_version: 16,
            ..header_repr()
        };
        assert!(
            header
                .emit(&mut Packet::new_unchecked(&mut bytes[..]))
                .is_err()
        );
    }

    #[test]
    fn buffer_len() {
        assert_eq!(header_repr().buffer_len(), HEADER_LEN);
    }

    #[test]
    fn flags_round_trip() {
        for bits in [0, 0x08, 0x10, 0x20, 0x28, 0x38] {
            assert_eq!(Flags::from_bits(bits).bits(), bits);
        }
    }
}
