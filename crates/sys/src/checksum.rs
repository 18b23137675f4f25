//! The Internet checksum ([RFC 1071]) used by IPv4, TCP and UDP headers, with incremental
//! accumulation so a pseudo-header and a payload can be summed separately.
//!
//! The one's-complement sum is independent of byte order (RFC 1071 §2(B)): words are added in
//! native order, 64 bits at a time, and the folded result is read back as big-endian at the end.
//!
//! [RFC 1071]: https://www.rfc-editor.org/rfc/rfc1071

/// A running one's-complement sum.
///
/// Every chunk passed to [`Checksum::add_bytes`] except the last must have an even length,
/// because an odd chunk shifts the 16-bit word boundaries of what follows.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Checksum(u64);

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Adds bytes (an even number, unless this is the last chunk).
    #[inline]
    pub fn add_bytes(&mut self, data: &[u8]) -> &mut Self {
        self.0 = add_slice(self.0, data);
        self
    }

    /// Adds one 16-bit word given as a number (the value a big-endian field would hold).
    #[inline]
    pub fn add_u16(&mut self, value: u16) -> &mut Self {
        self.add_native(u64::from(u16::from_ne_bytes(value.to_be_bytes())));
        self
    }

    /// Adds a 32-bit value as two 16-bit words (a big-endian field's value).
    #[inline]
    pub fn add_u32(&mut self, value: u32) -> &mut Self {
        self.add_native(u64::from(u32::from_ne_bytes(value.to_be_bytes())));
        self
    }

    /// The folded sum, not complemented: what goes into a checksum field that the receiver (or
    /// the kernel, for `NEEDS_CSUM`) completes, such as the pseudo-header sum of a partial
    /// checksum.
    #[inline]
    pub fn fold(self) -> u16 {
        let native = fold64(self.0);
        u16::from_be_bytes(native.to_ne_bytes())
    }

    /// The final checksum: the complement of the folded sum, as the value of a big-endian field.
    #[inline]
    pub fn finish(self) -> u16 {
        !self.fold()
    }

    #[inline]
    fn add_native(&mut self, v: u64) {
        let (s, carry) = self.0.overflowing_add(v);
        self.0 = s + u64::from(carry);
    }
}

/// The Internet checksum of `data` alone (already complemented).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.add_bytes(data);
    c.finish()
}

/// Sum of the pseudo-header of TCP or UDP over IPv4 ([RFC 9293 §3.1], [RFC 768]) or IPv6
/// ([RFC 8200 §8.1]): source and destination addresses, protocol and upper-layer length.
///
/// [RFC 9293 §3.1]: https://www.rfc-editor.org/rfc/rfc9293#section-3.1
/// [RFC 768]: https://www.rfc-editor.org/rfc/rfc768
/// [RFC 8200 §8.1]: https://www.rfc-editor.org/rfc/rfc8200#section-8.1
#[inline]
pub fn pseudo_header(src: &[u8], dst: &[u8], protocol: u8, upper_len: u32) -> Checksum {
    let mut c = Checksum::new();
    c.add_bytes(src).add_bytes(dst);
    c.add_u16(u16::from(protocol));
    c.add_u32(upper_len);
    c
}

#[inline]
fn add_slice(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        // Four independent 64-bit adds with carries folded back in.
        for w in c.chunks_exact(8) {
            let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let (s, carry) = sum.overflowing_add(v);
            sum = s + u64::from(carry);
        }
    }
    let mut rest = chunks.remainder();
    while rest.len() >= 8 {
        let v = u64::from_ne_bytes([
            rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6], rest[7],
        ]);
        let (s, carry) = sum.overflowing_add(v);
        sum = s + u64::from(carry);
        rest = &rest[8..];
    }
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    let (s, carry) = sum.overflowing_add(u64::from_ne_bytes(tail));
    s + u64::from(carry)
}

#[inline]
fn fold64(s: u64) -> u16 {
    let s = (s & 0xffff_ffff) + (s >> 32);
    let s = (s & 0xffff_ffff) + (s >> 32);
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    // The three folds above leave at most 16 bits.
    (s & 0xffff) as u16
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // test data is small
mod tests {
    use super::*;

    /// Textbook RFC 1071 over big-endian 16-bit words: the independent reference.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u32::from(*b));
            sum += hi | lo;
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
        }
        !(sum as u16)
    }

    fn pseudo_data(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 8) as u8
            })
            .collect()
    }

    #[test]
    fn matches_reference_for_all_small_lengths() {
        for len in 0..300 {
            let d = pseudo_data(len, len as u32);
            assert_eq!(checksum(&d), reference(&d), "len {len}");
        }
    }

    #[test]
    fn matches_reference_for_large_and_saturated_inputs() {
        for len in [1400, 1401, 65_535] {
            let d = pseudo_data(len, 7);
            assert_eq!(checksum(&d), reference(&d));
            let ff = vec![0xffu8; len];
            assert_eq!(checksum(&ff), reference(&ff));
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        let mut c = Checksum::new();
        c.add_bytes(&d);
        assert_eq!(c.fold(), 0xddf2);
        assert_eq!(c.finish(), !0xddf2);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let d = pseudo_data(1001, 3);
        let mut c = Checksum::new();
        c.add_bytes(&d[..200])
            .add_bytes(&d[200..600])
            .add_bytes(&d[600..]);
        assert_eq!(c.finish(), checksum(&d));
        let mut w = Checksum::new();
        w.add_u16(u16::from_be_bytes([d[0], d[1]]));
        w.add_u32(u32::from_be_bytes([d[2], d[3], d[4], d[5]]));
        w.add_bytes(&d[6..]);
        assert_eq!(w.finish(), checksum(&d));
    }

    #[test]
    fn pseudo_header_matches_the_laid_out_bytes() {
        let src = [10, 0, 0, 1];
        let dst = [10, 0, 0, 2];
        let mut laid = Vec::new();
        laid.extend_from_slice(&src);
        laid.extend_from_slice(&dst);
        laid.extend_from_slice(&[0, 6, 0x05, 0xdc]);
        assert_eq!(
            pseudo_header(&src, &dst, 6, 1500).finish(),
            reference(&laid)
        );
        let s6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut laid6 = Vec::new();
        laid6.extend_from_slice(&s6);
        laid6.extend_from_slice(&d6);
        laid6.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 17]);
        assert_eq!(
            pseudo_header(&s6, &d6, 17, 65_540).finish(),
            reference(&laid6)
        );
    }
}
