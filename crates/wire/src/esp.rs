//! ESP packets ([RFC 4303 §2]) and UDP encapsulation on port 4500 ([RFC 3948 §2]).
//!
//! [RFC 4303 §2]: https://www.rfc-editor.org/rfc/rfc4303#section-2
//! [RFC 3948 §2]: https://www.rfc-editor.org/rfc/rfc3948#section-2

/// Length of the ESP header: SPI and sequence number.
pub const ESP_HEADER_LEN: usize = 8;

/// The four zero bytes that start an IKE message on port 4500 (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

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
