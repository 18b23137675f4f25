//! The Traffic Selector payloads TSi and TSr ([RFC 7296 §3.13]) and their selectors
//! ([RFC 7296 §3.13.1]).
//!
//! A TS body is a count, three reserved octets and that many selectors. Each selector starts with
//! its type and its own length; IPv4 and IPv6 address ranges (16 and 40 bytes) are parsed, and a
//! selector of any other type is skipped by its length and recorded in
//! [`TsPayload::unknown_types`] (RFC 4595 Fibre Channel selectors and later types are not ours to
//! interpret). Unknown selectors are never emitted.
//!
//! [RFC 7296 §3.13]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13
//! [RFC 7296 §3.13.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13.1

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use crate::bytes::read_u16;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::TrafficSelector;
use crate::ike::TsPayload;
use crate::ike::payload::check_buffer;
use crate::ike::ts_type_of;
use crate::registry::PayloadType;
use crate::registry::TsType;

view! {
    /// A view over a TSi or TSr payload body ([RFC 7296 §3.13]). Errors name TSi; the chain
    /// parser renames them for TSr.
    ///
    /// [RFC 7296 §3.13]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13
    TsPacket
}

impl<T: AsRef<[u8]>> TsPacket<T> {
    /// Checks that the count and reserved octets are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < TS_FIXED_LEN {
            return Err(error("payload length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The number of selectors the sender claims.
    pub fn num_selectors(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// The selectors, back to back.
    pub fn selectors(&self) -> &[u8] {
        &self.buffer.as_ref()[TS_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TsPacket<T> {
    /// Sets the number of selectors (and clears the reserved octets).
    pub fn set_num_selectors(&mut self, value: u8) {
        self.buffer.as_mut()[..TS_FIXED_LEN].copy_from_slice(&[value, 0, 0, 0]);
    }

    /// The selectors area, mutable.
    pub fn selectors_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[TS_FIXED_LEN..]
    }
}

view! {
    /// A view over one traffic selector ([RFC 7296 §3.13.1]). The buffer may continue past it
    /// (the following selectors).
    ///
    /// [RFC 7296 §3.13.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13.1
    SelectorPacket
}

impl<T: AsRef<[u8]>> SelectorPacket<T> {
    /// Checks that the type and length are present, that the length covers them and fits in
    /// the buffer, and that an address-range selector has its exact length (16 for IPv4, 40 for
    /// IPv6), so the port and address accessors are safe for those types.
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the type and length, `BadLength` for a selector
    /// length that is too short, runs past the buffer, or does not suit the type.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < SELECTOR_HEADER_LEN {
            return Err(error("traffic selector", ParseErrorKind::Truncated));
        }
        let length = usize::from(self.selector_length());
        let expected = match self.ts_type() {
            TsType::IPV4_ADDR_RANGE => Some(SELECTOR_FIXED_LEN + 2 * 4),
            TsType::IPV6_ADDR_RANGE => Some(SELECTOR_FIXED_LEN + 2 * 16),
            _ => None,
        };
        let fits = match expected {
            Some(expected) => length == expected,
            None => length >= SELECTOR_HEADER_LEN,
        };
        if !fits || length > len {
            return Err(error("selector length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The selector type.
    pub fn ts_type(&self) -> TsType {
        TsType(self.buffer.as_ref()[0])
    }

    /// The IP protocol ID, 0 for any.
    pub fn ip_protocol(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The length of this selector, header included.
    pub fn selector_length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The first port of the range. This and the following accessors read past the 4-byte
    /// header, so on a checked view they are only safe for the address-range types.
    pub fn start_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 4)
    }

    /// The last port of the range.
    pub fn end_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 6)
    }

    /// The first address (4 or 16 bytes, by type).
    pub fn start_address(&self) -> &[u8] {
        let width = self.address_len();
        &self.buffer.as_ref()[SELECTOR_FIXED_LEN..SELECTOR_FIXED_LEN + width]
    }

    /// The last address.
    pub fn end_address(&self) -> &[u8] {
        let width = self.address_len();
        &self.buffer.as_ref()[SELECTOR_FIXED_LEN + width..SELECTOR_FIXED_LEN + 2 * width]
    }

    fn address_len(&self) -> usize {
        (usize::from(self.selector_length()).saturating_sub(SELECTOR_FIXED_LEN)) / 2
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SelectorPacket<T> {
    /// Sets the selector type.
    pub fn set_ts_type(&mut self, value: TsType) {
        self.buffer.as_mut()[0] = value.0;
    }

    /// Sets the IP protocol ID.
    pub fn set_ip_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the selector length.
    pub fn set_selector_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// Sets the first port.
    pub fn set_start_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 4, value);
    }

    /// Sets the last port.
    pub fn set_end_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 6, value);
    }

    /// Sets both addresses, which must be as wide as the selector length says.
    pub fn set_addresses(&mut self, start: &[u8], end: &[u8]) {
        let width = self.address_len();
        let buffer = self.buffer.as_mut();
        buffer[SELECTOR_FIXED_LEN..SELECTOR_FIXED_LEN + width].copy_from_slice(start);
        buffer[SELECTOR_FIXED_LEN + width..SELECTOR_FIXED_LEN + 2 * width].copy_from_slice(end);
    }
}

impl TsPayload {
    /// Parses a TSi or TSr payload body (errors name TSi).
    ///
    /// # Errors
    ///
    /// A body under 4 bytes, a malformed selector, a count that does not match the selectors, or
    /// bytes after the last one.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = TsPacket::new_checked(body)?;
        let mut selectors = Vec::new();
        let mut unknown_types = Vec::new();
        let mut rest = packet.selectors();
        for _ in 0..packet.num_selectors() {
            if rest.is_empty() {
                return Err(error("number of TSs", ParseErrorKind::Inconsistent));
            }
            let selector = SelectorPacket::new_checked(rest)?;
            match TrafficSelector::parse(&selector) {
                Some(parsed) => selectors.push(parsed),
                None => unknown_types.push(selector.ts_type()),
            }
            rest = &rest[usize::from(selector.selector_length())..];
        }
        if !rest.is_empty() {
            return Err(error("number of TSs", ParseErrorKind::TrailingData));
        }
        Ok(Self {
            selectors,
            unknown_types,
        })
    }

    /// The length of the emitted body (unknown selector types are not emitted).
    pub fn buffer_len(&self) -> usize {
        TS_FIXED_LEN
            + self
                .selectors
                .iter()
                .map(TrafficSelector::buffer_len)
                .sum::<usize>()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// More than 255 selectors, a selector whose addresses are of different families, or a
    /// buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::TSI, body, self.buffer_len())?;
        let count = u8::try_from(self.selectors.len())
            .map_err(|_| EmitError::new(PayloadType::TSI, "number of TSs"))?;
        let mut packet = TsPacket::new_unchecked(body);
        packet.set_num_selectors(count);
        let area = packet.selectors_mut();
        let mut offset = 0;
        for selector in &self.selectors {
            let len = selector.buffer_len();
            selector.emit(&mut area[offset..offset + len])?;
            offset += len;
        }
        Ok(())
    }
}

impl TrafficSelector {
    /// Parses a checked IPv4 or IPv6 address-range selector; `None` for any other type.
    pub fn parse<T: AsRef<[u8]>>(packet: &SelectorPacket<T>) -> Option<Self> {
        let (start_address, end_address) = match packet.ts_type() {
            TsType::IPV6_ADDR_RANGE => (ipv6(packet.start_address()), ipv6(packet.end_address())),
            TsType::IPV4_ADDR_RANGE => (ipv4(packet.start_address()), ipv4(packet.end_address())),
            _ => return None,
        };
        Some(Self {
            ip_protocol: packet.ip_protocol(),
            start_port: packet.start_port(),
            end_port: packet.end_port(),
            start_address,
            end_address,
        })
    }

    /// The length of the emitted selector: 16 for IPv4, 40 for IPv6.
    pub fn buffer_len(&self) -> usize {
        match self.start_address {
            IpAddr::V4(_) => SELECTOR_FIXED_LEN + 2 * 4,
            IpAddr::V6(_) => SELECTOR_FIXED_LEN + 2 * 16,
        }
    }

    /// Emits the selector into `buffer`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// Start and end addresses of different families, or a buffer of the wrong size.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::TSI, buffer, self.buffer_len())?;
        let length = u16::try_from(buffer.len())
            .map_err(|_| EmitError::new(PayloadType::TSI, "selector length"))?;
        let mut packet = SelectorPacket::new_unchecked(buffer);
        packet.set_ts_type(ts_type_of(self));
        packet.set_ip_protocol(self.ip_protocol);
        packet.set_selector_length(length);
        packet.set_start_port(self.start_port);
        packet.set_end_port(self.end_port);
        match (self.start_address, self.end_address) {
            (IpAddr::V4(start), IpAddr::V4(end)) => {
                packet.set_addresses(&start.octets(), &end.octets());
            }
            (IpAddr::V6(start), IpAddr::V6(end)) => {
                packet.set_addresses(&start.octets(), &end.octets());
            }
            _ => return Err(EmitError::new(PayloadType::TSI, "ending address")),
        }
        Ok(())
    }
}

fn ipv4(bytes: &[u8]) -> IpAddr {
    let mut octets = [0; 4];
    octets.copy_from_slice(bytes);
    IpAddr::V4(Ipv4Addr::from(octets))
}

fn ipv6(bytes: &[u8]) -> IpAddr {
    let mut octets = [0; 16];
    octets.copy_from_slice(bytes);
    IpAddr::V6(Ipv6Addr::from(octets))
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::TSI, field, kind)
}

const TS_FIXED_LEN: usize = 4;
/// Type, protocol and length.
const SELECTOR_HEADER_LEN: usize = 4;
/// Type, protocol, length and both ports.
const SELECTOR_FIXED_LEN: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// Three selectors: IPv4 10.211.1.0-10.211.1.255 any protocol, an unknown type 9 of 8 bytes,
    /// IPv6 TCP port 443 2001:db8::-2001:db8::ffff.
    static TS_BYTES: [u8; 68] = [
        0x03, 0x00, 0x00, 0x00, // 3 selectors
        0x07, 0x00, 0x00, 0x10, 0x00, 0x00, 0xff, 0xff, // IPv4, any, 16, 0-65535
        10, 211, 1, 0, 10, 211, 1, 255, //
        0x09, 0x00, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04, // unknown type 9, 8 bytes
        0x08, 0x06, 0x00, 0x28, 0x01, 0xbb, 0x01, 0xbb, // IPv6, TCP, 40, 443-443
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
    ];

    fn ts_repr() -> TsPayload {
        TsPayload {
            selectors: vec![
                TrafficSelector {
                    ip_protocol: 0,
                    start_port: 0,
                    end_port: 65535,
                    start_address: "10.211.1.0".parse().unwrap(),
                    end_address: "10.211.1.255".parse().unwrap(),
                },
                TrafficSelector {
                    ip_protocol: 6,
                    start_port: 443,
                    end_port: 443,
                    start_address: "2001:db8::".parse().unwrap(),
                    end_address: "2001:db8::ffff".parse().unwrap(),
                },
            ],
            unknown_types: vec![TsType(9)],
        }
    }

    /// The bytes without the unknown selector, as emitted.
    fn emitted_bytes() -> Vec<u8> {
        let mut bytes = TS_BYTES[..20].to_vec();
        bytes[0] = 2;
        bytes.extend_from_slice(&TS_BYTES[28..]);
        bytes
    }

    #[test]
    fn deconstruct() {
        let packet = TsPacket::new_checked(&TS_BYTES[..]).unwrap();
        assert_eq!(packet.num_selectors(), 3);
        let selector = SelectorPacket::new_checked(packet.selectors()).unwrap();
        assert_eq!(selector.ts_type(), TsType::IPV4_ADDR_RANGE);
        assert_eq!(selector.ip_protocol(), 0);
        assert_eq!(selector.selector_length(), 16);
        assert_eq!(selector.start_port(), 0);
        assert_eq!(selector.end_port(), 65535);
        assert_eq!(selector.start_address(), &[10, 211, 1, 0]);
        assert_eq!(selector.end_address(), &[10, 211, 1, 255]);
        let unknown = SelectorPacket::new_checked(&packet.selectors()[16..]).unwrap();
        assert_eq!(unknown.ts_type(), TsType(9));
        assert_eq!(unknown.selector_length(), 8);
        let v6 = SelectorPacket::new_checked(&packet.selectors()[24..]).unwrap();
        assert_eq!(v6.ts_type(), TsType::IPV6_ADDR_RANGE);
        assert_eq!(v6.start_address().len(), 16);
        assert_eq!(v6.end_address()[15], 0xff);
    }

    #[test]
    fn construct() {
        let expected = emitted_bytes();
        let mut bytes = vec![0xff; expected.len()];
        let mut packet = TsPacket::new_unchecked(&mut bytes[..]);
        packet.set_num_selectors(2);
        let area = packet.selectors_mut();
        let mut v4 = SelectorPacket::new_unchecked(&mut area[..16]);
        v4.set_ts_type(TsType::IPV4_ADDR_RANGE);
        v4.set_ip_protocol(0);
        v4.set_selector_length(16);
        v4.set_start_port(0);
        v4.set_end_port(65535);
        v4.set_addresses(&[10, 211, 1, 0], &[10, 211, 1, 255]);
        let mut v6 = SelectorPacket::new_unchecked(&mut area[16..]);
        v6.set_ts_type(TsType::IPV6_ADDR_RANGE);
        v6.set_ip_protocol(6);
        v6.set_selector_length(40);
        v6.set_start_port(443);
        v6.set_end_port(443);
        v6.set_addresses(&TS_BYTES[36..52], &TS_BYTES[52..68]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            TsPacket::new_checked(&TS_BYTES[..3]).unwrap_err(),
            error("payload length", ParseErrorKind::BadLength)
        );
        let selectors = &TS_BYTES[4..];
        assert_eq!(
            SelectorPacket::new_checked(&selectors[..3]).unwrap_err(),
            error("traffic selector", ParseErrorKind::Truncated)
        );
        assert_eq!(
            SelectorPacket::new_checked(&selectors[..15]).unwrap_err(),
            error("selector length", ParseErrorKind::BadLength)
        );
        // An IPv4 selector with the length of an IPv6 one.
        let mut bytes = selectors.to_vec();
        bytes[3] = 40;
        assert_eq!(
            SelectorPacket::new_checked(&bytes[..]).unwrap_err(),
            error("selector length", ParseErrorKind::BadLength)
        );
        // An unknown selector shorter than its own header.
        assert!(SelectorPacket::new_checked(&[9, 0, 0, 3][..]).is_err());
        assert!(SelectorPacket::new_checked(&[9, 0, 0, 4][..]).is_ok());
    }

    #[test]
    fn parse() {
        assert_eq!(TsPayload::parse(&TS_BYTES).unwrap(), ts_repr());
        assert_eq!(
            TsPayload::parse(&[0, 0, 0, 0]).unwrap(),
            TsPayload::default()
        );
    }

    #[test]
    fn parse_checks_the_count() {
        let mut bytes = TS_BYTES;
        bytes[0] = 4;
        assert_eq!(
            TsPayload::parse(&bytes).unwrap_err(),
            error("number of TSs", ParseErrorKind::Inconsistent)
        );
        bytes[0] = 2;
        assert_eq!(
            TsPayload::parse(&bytes).unwrap_err(),
            error("number of TSs", ParseErrorKind::TrailingData)
        );
    }

    #[test]
    fn emit() {
        let repr = ts_repr();
        let mut bytes = vec![0xff; repr.buffer_len()];
        repr.emit(&mut bytes).unwrap();
        assert_eq!(bytes, emitted_bytes());
        let mixed = TsPayload {
            selectors: vec![TrafficSelector {
                end_address: "::1".parse().unwrap(),
                ..repr.selectors[0]
            }],
            unknown_types: vec![],
        };
        assert_eq!(
            mixed.emit(&mut vec![0; mixed.buffer_len()]).unwrap_err(),
            EmitError::new(PayloadType::TSI, "ending address")
        );
    }

    #[test]
    fn buffer_len() {
        assert_eq!(ts_repr().buffer_len(), emitted_bytes().len());
    }
}
