//! Splitting what arrives on UDP port 4500 between the IKE and ESP paths ([RFC 3948 §2.2]).
//!
//! Datagrams are classified one by one, after UDP GRO has been undone: GRO may coalesce an
//! IKE message of the same size as the ESP packets around it, so the check is per segment.
//! Working on ranges keeps the ESP path zero-copy (it decapsulates in place in the receive
//! buffer).
//!
//! [RFC 3948 §2.2]: https://www.rfc-editor.org/rfc/rfc3948#section-2.2

use std::ops::Range;

use hitless_wire::esp::{Udp4500, classify_udp4500};

/// What one datagram on port 4500 is, as a range of the receive buffer.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Port4500 {
    /// An ESP packet (from the SPI on): the data path.
    Esp(Range<usize>),
    /// An IKE message, the non-ESP marker already stepped over: the IKE path.
    Ike(Range<usize>),
    /// A NAT-keepalive (RFC 3948 §2.3): note the peer is alive, nothing more.
    Keepalive,
    /// Too short to be any of these: drop and count.
    Invalid,
}

/// Classifies the datagram `buf[datagram]`.
pub fn classify(buf: &[u8], datagram: Range<usize>) -> Port4500 {
    let Some(bytes) = buf.get(datagram.clone()) else {
        return Port4500::Invalid;
    };
    match classify_udp4500(bytes) {
        Udp4500::Esp(_) => Port4500::Esp(datagram),
        Udp4500::Ike(rest) => Port4500::Ike(datagram.end - rest.len()..datagram.end),
        Udp4500::Keepalive => Port4500::Keepalive,
        Udp4500::Invalid => Port4500::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ike_esp_and_keepalives() {
        let buf = [9u8, 0, 0, 0, 0, 1, 2, 3, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 7];
        assert_eq!(classify(&buf, 1..8), Port4500::Ike(5..8));
        assert_eq!(classify(&buf, 8..9), Port4500::Keepalive);
        assert_eq!(classify(&buf, 9..18), Port4500::Esp(9..18));
        assert_eq!(classify(&buf, 9..12), Port4500::Invalid);
        assert_eq!(classify(&buf, 17..40), Port4500::Invalid);
    }
}
