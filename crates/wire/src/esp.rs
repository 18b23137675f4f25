//! ESP packets ([RFC 4303 §2]) and UDP encapsulation on port 4500 ([RFC 3948 §2]).
//!
//! [`Packet`] is a view over an ESP packet: the SPI, the sequence number and the rest (IV,
//! ciphertext, ICV), which only the SA's algorithm can split further. [`Trailer`] reads and writes
//! the end of the decrypted plaintext: padding, pad length and next header ([RFC 4303 §2.4–2.6]),
//! checking that the padding is 1, 2, 3, … as the default scheme of §2.4 requires.
//! [`classify_udp4500`] tells IKE (after the non-ESP marker), ESP and NAT-keepalives apart on port
//! 4500 ([RFC 3948 §2.2–2.3]).
//!
//! [RFC 4303 §2]: https://www.rfc-editor.org/rfc/rfc4303#section-2
//! [RFC 4303 §2.4–2.6]: https://www.rfc-editor.org/rfc/rfc4303#section-2.4
//! [RFC 3948 §2]: https://www.rfc-editor.org/rfc/rfc3948#section-2
//! [RFC 3948 §2.2–2.3]: https://www.rfc-editor.org/rfc/rfc3948#section-2.2

use crate::bytes::read_u32;
use crate::bytes::write_u32;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::registry::PayloadType;

/// Length of the ESP header: SPI and sequence number.
pub const ESP_HEADER_LEN: usize = 8;

/// The four zero bytes that start an IKE message on port 4500 (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// The Next Header value of a dummy packet, which the receiver discards (RFC 4303 §2.6).
pub const NEXT_HEADER_NO_NEXT: u8 = 59;

/// What a UDP datagram received on port 4500 carries (RFC 3948 §2.2–2.3).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Udp4500<'a> {
    /// An IKE message (the non-ESP marker removed).
    Ike(&'a [u8]),
    /// An ESP packet (SPI is not zero).
    Esp(&'a [u8]),
    /// A NAT-keepalive (a single 0xFF byte, RFC 3948 §2.3).
    Keepalive,
    /// Too short to be any of these.
    Invalid,
}

/// Classifies a datagram received on UDP port 4500.
pub fn classify_udp4500(payload: &[u8]) -> Udp4500<'_> {
    match payload {
        [0xff] => Udp4500::Keepalive,
        [0, 0, 0, 0, rest @ ..] => Udp4500::Ike(rest),
        _ if payload.len() >= ESP_HEADER_LEN => Udp4500::Esp(payload),
        _ => Udp4500::Invalid,
    }
}

/// A view over an ESP packet ([RFC 4303 §2]): SPI, sequence number, and the protected part.
///
/// [RFC 4303 §2]: https://www.rfc-editor.org/rfc/rfc4303#section-2
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic on a buffer shorter than the ESP header; use [`Self::new_checked`] on
    /// untrusted input.
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

    /// Checks that the SPI and sequence number are present.
    ///
    /// # Errors
    ///
    /// `Truncated` (field `ESP header`) for fewer than 8 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < ESP_HEADER_LEN {
            return Err(error("ESP header", ParseErrorKind::Truncated));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Security Parameters Index.
    pub fn spi(&self) -> u32 {
        read_u32(self.buffer.as_ref(), 0)
    }

    /// The low 32 bits of the sequence number.
    pub fn sequence_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), 4)
    }

    /// Everything after the header: IV, ciphertext (payload, padding, pad length, next header)
    /// and ICV.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[ESP_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the SPI.
    pub fn set_spi(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), 0, value);
    }

    /// Sets the low 32 bits of the sequence number.
    pub fn set_sequence_number(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), 4, value);
    }

    /// Everything after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[ESP_HEADER_LEN..]
    }
}

/// The ESP header as a value ([RFC 4303 §2.1–2.2]).
///
/// [RFC 4303 §2.1–2.2]: https://www.rfc-editor.org/rfc/rfc4303#section-2.1
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Header {
    /// The SPI; never zero on the wire.
    pub spi: u32,
    /// The low 32 bits of the sequence number.
    pub sequence_number: u32,
}

impl Header {
    /// Parses the header of a checked packet.
    ///
    /// # Errors
    ///
    /// RFC 4303 §2.1: SPI zero is reserved and never sent (`InvalidValue`, field `SPI`).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, ParseError> {
        if packet.spi() == 0 {
            return Err(error("SPI", ParseErrorKind::InvalidValue));
        }
        Ok(Self {
            spi: packet.spi(),
            sequence_number: packet.sequence_number(),
        })
    }

    /// The length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        ESP_HEADER_LEN
    }

    /// Writes the header into the first 8 bytes of `packet`'s buffer.
    ///
    /// # Errors
    ///
    /// A buffer shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
    ) -> Result<(), EmitError> {
        if packet.buffer.as_ref().len() < ESP_HEADER_LEN {
            return Err(EmitError::new(PayloadType::NONE, "buffer"));
        }
        packet.set_spi(self.spi);
        packet.set_sequence_number(self.sequence_number);
        Ok(())
    }
}

/// The ESP trailer inside the ciphertext ([RFC 4303 §2.4–2.6]): the padding length and the
/// protocol of the payload. The padding itself is 1, 2, 3, … (§2.4 default scheme).
///
/// [RFC 4303 §2.4–2.6]: https://www.rfc-editor.org/rfc/rfc4303#section-2.4
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Trailer {
    /// The number of padding bytes before the pad length octet.
    pub pad_length: u8,
    /// The IP protocol number of the payload (4 IPv4, 41 IPv6, 59 dummy).
    pub next_header: u8,
}

impl Trailer {
    /// The pad length and next header octets.
    pub const LEN: usize = 2;

    /// Builds the trailer that pads `payload_len` bytes of payload so that payload, padding and
    /// the two trailer octets end on a multiple of `block_size` (the cipher's block size, or 1
    /// for a stream or AEAD cipher) and of 4, as RFC 4303 §2.4 requires.
    pub fn for_payload(payload_len: usize, block_size: usize, next_header: u8) -> Self {
        let align = block_size.max(1).max(4);
        let used = (payload_len + Self::LEN) % align;
        let padding = if used == 0 { 0 } else { align - used };
        // `align` is at most 255 for every cipher ESP uses; a larger block size saturates.
        let pad_length = u8::try_from(padding).unwrap_or(u8::MAX);
        Self {
            pad_length,
            next_header,
        }
    }

    /// Splits decrypted plaintext into the payload and the trailer, checking the padding.
    ///
    /// # Errors
    ///
    /// `Truncated` (field `ESP trailer`) for plaintext under 2 bytes, `BadLength` (field
    /// `pad length`) when the padding would run past the start, `InvalidValue` (field `padding`)
    /// when the padding is not 1, 2, 3, … (RFC 4303 §2.4).
    pub fn parse(plaintext: &[u8]) -> Result<(&[u8], Self), ParseError> {
        let Some(end) = plaintext.len().checked_sub(Self::LEN) else {
            return Err(error("ESP trailer", ParseErrorKind::Truncated));
        };
        let trailer = Self {
            pad_length: plaintext[end],
            next_header: plaintext[end + 1],
        };
        let Some(payload_end) = end.checked_sub(usize::from(trailer.pad_length)) else {
            return Err(error("pad length", ParseErrorKind::BadLength));
        };
        // RFC 4303 §2.4: the receiver SHOULD check the default padding pattern.
        if !padding_is_valid(&plaintext[payload_end..end]) {
            return Err(error("padding", ParseErrorKind::InvalidValue));
        }
        Ok((&plaintext[..payload_end], trailer))
    }

    /// The length of the padding and trailer octets.
    pub fn buffer_len(&self) -> usize {
        usize::from(self.pad_length) + Self::LEN
    }

    /// Writes the padding (1, 2, 3, …), the pad length and the next header into `tail`, which
    /// must be [`Self::buffer_len`] bytes long (the end of the plaintext).
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, tail: &mut [u8]) -> Result<(), EmitError> {
        if tail.len() != self.buffer_len() {
            return Err(EmitError::new(PayloadType::NONE, "buffer"));
        }
        let (padding, trailer) = tail.split_at_mut(usize::from(self.pad_length));
        for (byte, value) in padding.iter_mut().zip(1..=u8::MAX) {
            *byte = value;
        }
        trailer.copy_from_slice(&[self.pad_length, self.next_header]);
        Ok(())
    }
}

/// Whether `padding` is the default pattern of RFC 4303 §2.4: 1, 2, 3, ….
pub fn padding_is_valid(padding: &[u8]) -> bool {
    padding
        .iter()
        .zip(1..=u8::MAX)
        .all(|(byte, expected)| *byte == expected)
        && padding.len() <= usize::from(u8::MAX)
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::NONE, field, kind)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    static PACKET_BYTES: [u8; 12] = [
        0xc0, 0x01, 0x02, 0x03, // SPI
        0x00, 0x00, 0x00, 0x2a, // sequence number 42
        0xaa, 0xbb, 0xcc, 0xdd, // IV, ciphertext, ICV
    ];

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.spi(), 0xc001_0203);
        assert_eq!(packet.sequence_number(), 42);
        assert_eq!(packet.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0; 12];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_spi(0xc001_0203);
        packet.set_sequence_number(42);
        packet
            .payload_mut()
            .copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            Packet::new_checked(&PACKET_BYTES[..7]).unwrap_err(),
            error("ESP header", ParseErrorKind::Truncated)
        );
        assert!(Packet::new_checked(&PACKET_BYTES[..8]).is_ok());
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(
            Header::parse(&packet).unwrap(),
            Header {
                spi: 0xc001_0203,
                sequence_number: 42
            }
        );
        let zero = Packet::new_checked(&[0, 0, 0, 0, 0, 0, 0, 1][..]).unwrap();
        assert_eq!(
            Header::parse(&zero).unwrap_err(),
            error("SPI", ParseErrorKind::InvalidValue)
        );
    }

    #[test]
    fn emit() {
        let mut bytes = PACKET_BYTES;
        bytes[..8].fill(0);
        let header = Header {
            spi: 0xc001_0203,
            sequence_number: 42,
        };
        header
            .emit(&mut Packet::new_unchecked(&mut bytes[..]))
            .unwrap();
        assert_eq!(bytes, PACKET_BYTES);
        assert!(
            header
                .emit(&mut Packet::new_unchecked(&mut [0; 7][..]))
                .is_err()
        );
    }

    #[test]
    fn buffer_len() {
        let header = Header {
            spi: 1,
            sequence_number: 1,
        };
        assert_eq!(header.buffer_len(), ESP_HEADER_LEN);
        let trailer = Trailer {
            pad_length: 3,
            next_header: 4,
        };
        assert_eq!(trailer.buffer_len(), 5);
    }

    #[test]
    fn trailer_round_trip() {
        let payload = [0x45, 0x00, 0x00, 0x14, 0x99];
        for block_size in [1, 4, 16] {
            let trailer = Trailer::for_payload(payload.len(), block_size, 4);
            let mut plaintext = payload.to_vec();
            plaintext.resize(payload.len() + trailer.buffer_len(), 0);
            trailer.emit(&mut plaintext[payload.len()..]).unwrap();
            assert_eq!(plaintext.len() % block_size.max(4), 0);
            let (inner, parsed) = Trailer::parse(&plaintext).unwrap();
            assert_eq!(inner, payload);
            assert_eq!(parsed, trailer);
        }
        // 5 + 2 bytes padded to 16: 9 bytes of padding.
        let trailer = Trailer::for_payload(5, 16, 4);
        assert_eq!(trailer.pad_length, 9);
        assert_eq!(Trailer::for_payload(2, 4, 4).pad_length, 0);
    }

    #[test]
    fn trailer_errors() {
        assert_eq!(
            Trailer::parse(&[4]).unwrap_err(),
            error("ESP trailer", ParseErrorKind::Truncated)
        );
        assert_eq!(
            Trailer::parse(&[1, 2, 3, 4]).unwrap_err(),
            error("pad length", ParseErrorKind::BadLength)
        );
        assert_eq!(
            Trailer::parse(&[0x45, 1, 3, 2, 4]).unwrap_err(),
            error("padding", ParseErrorKind::InvalidValue)
        );
        assert_eq!(
            Trailer::parse(&[0x45, 1, 2, 2, 4]).unwrap(),
            (
                &[0x45][..],
                Trailer {
                    pad_length: 2,
                    next_header: 4
                }
            )
        );
    }

    #[test]
    fn padding_pattern() {
        assert!(padding_is_valid(&[]));
        assert!(padding_is_valid(&[1, 2, 3]));
        assert!(!padding_is_valid(&[0]));
        assert!(!padding_is_valid(&[1, 3]));
    }

    #[test]
    fn udp4500() {
        assert_eq!(classify_udp4500(&[0xff]), Udp4500::Keepalive);
        assert_eq!(classify_udp4500(&[0, 0, 0, 0, 1, 2]), Udp4500::Ike(&[1, 2]));
        assert_eq!(
            classify_udp4500(&PACKET_BYTES),
            Udp4500::Esp(&PACKET_BYTES[..])
        );
        assert_eq!(classify_udp4500(&[1, 2, 3]), Udp4500::Invalid);
    }

    proptest! {
        #[test]
        fn header_round_trips(spi in 1..=u32::MAX, sequence_number in any::<u32>()) {
            let header = Header { spi, sequence_number };
            let mut bytes = [0; ESP_HEADER_LEN];
            header.emit(&mut Packet::new_unchecked(&mut bytes[..])).unwrap();
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Header::parse(&packet).unwrap(), header);
        }

        #[test]
        fn trailer_round_trips(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            block_size in prop_oneof![Just(1_usize), Just(4), Just(8), Just(16)],
            next_header in any::<u8>(),
        ) {
            let trailer = Trailer::for_payload(payload.len(), block_size, next_header);
            let mut plaintext = payload.clone();
            plaintext.resize(payload.len() + trailer.buffer_len(), 0);
            trailer.emit(&mut plaintext[payload.len()..]).unwrap();
            prop_assert_eq!(plaintext.len() % block_size.max(4), 0);
            let (inner, parsed) = Trailer::parse(&plaintext).unwrap();
            prop_assert_eq!(inner, &payload[..]);
            prop_assert_eq!(parsed, trailer);
        }
    }
}
