//! Type-length-value attributes, the building block of every sync record (docs/design/ha.md,
//! "Wire format").
//!
//! An attribute is a 16-bit type, a 16-bit length and that many bytes of value, all big-endian.
//! A value is either a fixed-size number, a byte string, or itself a list of attributes
//! (nesting). A reader looks attributes up by type and never asks for types it does not know,
//! so attributes added by a newer version are skipped by an older one: that is what lets
//! adjacent versions interoperate during a rolling upgrade.
//!
//! Buffers that may hold key material are [`Zeroizing`], so they are wiped when dropped.

use zeroize::Zeroizing;

/// Bytes of an attribute header: type and length.
pub(crate) const ATTRIBUTE_HEADER_LEN: usize = 4;

/// Writes attributes into a zeroizing buffer.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

/// Why an attribute list could not be read or written.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub(crate) enum TlvError {
    /// An attribute header or value runs past the end of its list.
    #[error("attribute {0} truncated")]
    Truncated(u16),
    /// A required attribute is absent.
    #[error("attribute {0} missing")]
    Missing(u16),
    /// An attribute that may appear once appears more often.
    #[error("attribute {0} repeated")]
    Duplicate(u16),
    /// An attribute's value has the wrong length for its type.
    #[error("attribute {0} has a bad length")]
    BadLength(u16),
    /// An attribute's value is out of range or inconsistent.
    #[error("attribute {0} has a bad value")]
    BadValue(u16),
    /// A value does not fit a 16-bit length.
    #[error("attribute {0} too long to encode")]
    TooLong(u16),
}

/// The attributes of one list, in order, borrowed from the buffer.
#[derive(Clone, Debug)]
pub(crate) struct Fields<'a> {
    attributes: Vec<(u16, &'a [u8])>,
}

impl Writer {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub(crate) fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }

    /// A one-byte attribute.
    pub(crate) fn u8(&mut self, kind: u16, value: u8) {
        self.fixed(kind, &[value]);
    }

    /// A boolean, as one byte 0 or 1.
    pub(crate) fn flag(&mut self, kind: u16, value: bool) {
        self.u8(kind, u8::from(value));
    }

    /// A two-byte attribute.
    pub(crate) fn u16(&mut self, kind: u16, value: u16) {
        self.fixed(kind, &value.to_be_bytes());
    }

    /// A four-byte attribute.
    pub(crate) fn u32(&mut self, kind: u16, value: u32) {
        self.fixed(kind, &value.to_be_bytes());
    }

    /// An eight-byte attribute.
    pub(crate) fn u64(&mut self, kind: u16, value: u64) {
        self.fixed(kind, &value.to_be_bytes());
    }

    /// A byte-string attribute.
    ///
    /// # Errors
    ///
    /// [`TlvError::TooLong`] for a value over 65,535 bytes.
    pub(crate) fn bytes(&mut self, kind: u16, value: &[u8]) -> Result<(), TlvError> {
        let len = u16::try_from(value.len()).map_err(|_| TlvError::TooLong(kind))?;
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        Ok(())
    }

    /// An attribute whose value is the attribute list `inner` writes.
    ///
    /// # Errors
    ///
    /// What `inner` returns, or [`TlvError::TooLong`] when the list exceeds 65,535 bytes.
    pub(crate) fn nested(
        &mut self,
        kind: u16,
        inner: impl FnOnce(&mut Self) -> Result<(), TlvError>,
    ) -> Result<(), TlvError> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        inner(self)?;
        let len = self.buf.len() - start - ATTRIBUTE_HEADER_LEN;
        let len = u16::try_from(len).map_err(|_| TlvError::TooLong(kind))?;
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Fixed-size values are short: their length always fits.
    fn fixed(&mut self, kind: u16, value: &[u8]) {
        self.buf.extend_from_slice(&kind.to_be_bytes());
        // Fixed values are at most 16 bytes.
        self.buf
            .extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
        self.buf.extend_from_slice(value);
    }
}

impl<'a> Fields<'a> {
    /// Splits `bytes` into attributes.
    ///
    /// # Errors
    ///
    /// [`TlvError::Truncated`] when an attribute runs past the end.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, TlvError> {
        let mut attributes = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (kind, value, tail) = split_one(rest)?;
            attributes.push((kind, value));
            rest = tail;
        }
        Ok(Self { attributes })
    }

    /// Every attribute, in order (unknown ones included).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> + '_ {
        self.attributes.iter().copied()
    }

    /// The value of the attribute `kind`, which must appear exactly once.
    ///
    /// # Errors
    ///
    /// [`TlvError::Missing`] or [`TlvError::Duplicate`].
    pub(crate) fn one(&self, kind: u16) -> Result<&'a [u8], TlvError> {
        self.optional(kind)?.ok_or(TlvError::Missing(kind))
    }

    /// The value of the attribute `kind`, which may appear at most once.
    ///
    /// # Errors
    ///
    /// [`TlvError::Duplicate`].
    pub(crate) fn optional(&self, kind: u16) -> Result<Option<&'a [u8]>, TlvError> {
        let mut found = None;
        for (k, value) in self.iter() {
            if k == kind {
                if found.is_some() {
                    return Err(TlvError::Duplicate(kind));
                }
                found = Some(value);
            }
        }
        Ok(found)
    }

    /// Every value of the attribute `kind`, in order.
    pub(crate) fn all(&self, kind: u16) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.iter().filter(move |(k, _)| *k == kind).map(|(_, v)| v)
    }

    /// A required one-byte value.
    pub(crate) fn u8(&self, kind: u16) -> Result<u8, TlvError> {
        as_u8(kind, self.one(kind)?)
    }

    /// A required boolean.
    pub(crate) fn flag(&self, kind: u16) -> Result<bool, TlvError> {
        as_flag(kind, self.one(kind)?)
    }

    /// An optional boolean, false when absent.
    pub(crate) fn flag_or_false(&self, kind: u16) -> Result<bool, TlvError> {
        self.optional(kind)?
            .map_or(Ok(false), |value| as_flag(kind, value))
    }

    /// A required two-byte value.
    pub(crate) fn u16(&self, kind: u16) -> Result<u16, TlvError> {
        Ok(u16::from_be_bytes(array(kind, self.one(kind)?)?))
    }

    /// A required four-byte value.
    pub(crate) fn u32(&self, kind: u16) -> Result<u32, TlvError> {
        as_u32(kind, self.one(kind)?)
    }

    /// An optional four-byte value.
    pub(crate) fn opt_u32(&self, kind: u16) -> Result<Option<u32>, TlvError> {
        self.optional(kind)?
            .map(|value| as_u32(kind, value))
            .transpose()
    }

    /// A required eight-byte value.
    pub(crate) fn u64(&self, kind: u16) -> Result<u64, TlvError> {
        as_u64(kind, self.one(kind)?)
    }

    /// An optional eight-byte value.
    pub(crate) fn opt_u64(&self, kind: u16) -> Result<Option<u64>, TlvError> {
        self.optional(kind)?
            .map(|value| as_u64(kind, value))
            .transpose()
    }

    /// A required fixed-size byte array.
    pub(crate) fn array<const N: usize>(&self, kind: u16) -> Result<[u8; N], TlvError> {
        array(kind, self.one(kind)?)
    }

    /// A required UTF-8 string.
    pub(crate) fn string(&self, kind: u16) -> Result<String, TlvError> {
        String::from_utf8(self.one(kind)?.to_vec()).map_err(|_| TlvError::BadValue(kind))
    }

    /// A required nested attribute list.
    pub(crate) fn nested(&self, kind: u16) -> Result<Self, TlvError> {
        Self::parse(self.one(kind)?)
    }

    /// An optional nested attribute list.
    pub(crate) fn opt_nested(&self, kind: u16) -> Result<Option<Self>, TlvError> {
        self.optional(kind)?.map(Self::parse).transpose()
    }
}

/// Splits the first attribute off `bytes`: its type, its value and what follows.
///
/// # Errors
///
/// [`TlvError::Truncated`] when the header or value runs past the end.
pub(crate) fn split_one(bytes: &[u8]) -> Result<(u16, &[u8], &[u8]), TlvError> {
    let Some((header, rest)) = bytes.split_first_chunk::<ATTRIBUTE_HEADER_LEN>() else {
        let kind = match bytes {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
        return Err(TlvError::Truncated(kind));
    };
    let kind = u16::from_be_bytes([header[0], header[1]]);
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if rest.len() < len {
        return Err(TlvError::Truncated(kind));
    }
    let (value, tail) = rest.split_at(len);
    Ok((kind, value, tail))
}

/// A value of exactly `N` bytes.
pub(crate) fn array<const N: usize>(kind: u16, value: &[u8]) -> Result<[u8; N], TlvError> {
    value.try_into().map_err(|_| TlvError::BadLength(kind))
}

/// A one-byte value.
pub(crate) fn as_u8(kind: u16, value: &[u8]) -> Result<u8, TlvError> {
    Ok(array::<1>(kind, value)?[0])
}

/// A boolean: one byte, 0 or 1.
pub(crate) fn as_flag(kind: u16, value: &[u8]) -> Result<bool, TlvError> {
    match as_u8(kind, value)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(TlvError::BadValue(kind)),
    }
}

/// A four-byte value.
pub(crate) fn as_u32(kind: u16, value: &[u8]) -> Result<u32, TlvError> {
    Ok(u32::from_be_bytes(array(kind, value)?))
}

/// An eight-byte value.
pub(crate) fn as_u64(kind: u16, value: &[u8]) -> Result<u64, TlvError> {
    Ok(u64::from_be_bytes(array(kind, value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_nesting() {
        let mut w = Writer::new();
        w.u8(1, 7);
        w.u64(2, u64::MAX - 1);
        w.nested(3, |w| {
            w.u32(1, 42);
            w.bytes(9, b"hello")
        })
        .unwrap();
        w.u16(4, 0xbeef);
        let bytes = w.into_bytes();
        let fields = Fields::parse(&bytes).unwrap();
        assert_eq!(fields.u8(1).unwrap(), 7);
        assert_eq!(fields.u64(2).unwrap(), u64::MAX - 1);
        assert_eq!(fields.u16(4).unwrap(), 0xbeef);
        let inner = fields.nested(3).unwrap();
        assert_eq!(inner.u32(1).unwrap(), 42);
        assert_eq!(inner.one(9).unwrap(), b"hello");
        assert_eq!(fields.one(5), Err(TlvError::Missing(5)));
        assert_eq!(fields.opt_u64(5), Ok(None));
    }

    #[test]
    fn unknown_attributes_are_skipped() {
        let mut w = Writer::new();
        w.bytes(0x7777, &[1, 2, 3]).unwrap();
        w.u32(1, 5);
        w.bytes(0x7778, &[]).unwrap();
        let bytes = w.into_bytes();
        let fields = Fields::parse(&bytes).unwrap();
        assert_eq!(fields.u32(1).unwrap(), 5);
        assert_eq!(fields.iter().count(), 3);
    }

    #[test]
    fn truncation_duplicates_and_bad_lengths_are_errors() {
        let mut w = Writer::new();
        w.u32(1, 5);
        w.u32(1, 6);
        w.u8(2, 2);
        let bytes = w.into_bytes();
        let fields = Fields::parse(&bytes).unwrap();
        assert_eq!(fields.u32(1), Err(TlvError::Duplicate(1)));
        assert_eq!(fields.u64(2), Err(TlvError::BadLength(2)));
        assert_eq!(fields.flag(2), Err(TlvError::BadValue(2)));
        for cut in 1..bytes.len() {
            let prefix = &bytes[..cut];
            // Every prefix that ends inside an attribute is truncated, never misread.
            if cut % 8 != 0 && cut != 16 + 5 {
                assert!(Fields::parse(prefix).is_err(), "prefix {cut}");
            }
        }
        assert_eq!(Fields::parse(&[0]).unwrap_err(), TlvError::Truncated(0));
        assert_eq!(
            Fields::parse(&[0, 9, 0, 5, 1]).unwrap_err(),
            TlvError::Truncated(9)
        );
    }

    #[test]
    fn too_long_values_are_refused() {
        let mut w = Writer::new();
        assert_eq!(w.bytes(3, &vec![0; 70_000]), Err(TlvError::TooLong(3)));
        let result = w.nested(4, |w| w.bytes(1, &vec![0; 65_535]));
        assert_eq!(result, Err(TlvError::TooLong(4)));
    }
}
