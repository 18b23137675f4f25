//! The generic payload header ([RFC 7296 §3.2]) and the dispatch from a payload type to the
//! parser and emitter of its body.
//!
//! Every payload starts with the type of the payload after it, a critical bit, and the length of
//! the payload including this 4-byte header. RFC 7296 §2.5: an unknown payload with the critical
//! bit clear is skipped; with it set, the whole message is rejected and the engine answers
//! UNSUPPORTED_CRITICAL_PAYLOAD. For payloads we know the bit is ignored on receipt and sent as
//! zero.
//!
//! [RFC 7296 §3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.2

use crate::bytes::read_u16;
use crate::bytes::write_u16;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::AuthPayload;
use crate::ike::CertPayload;
use crate::ike::CertReqPayload;
use crate::ike::CpPayload;
use crate::ike::DeletePayload;
use crate::ike::EapPayload;
use crate::ike::GENERIC_HEADER_LEN;
use crate::ike::IdPayload;
use crate::ike::KePayload;
use crate::ike::NoncePayload;
use crate::ike::NotifyPayload;
use crate::ike::Payload;
use crate::ike::SaPayload;
use crate::ike::TsPayload;
use crate::ike::VendorIdPayload;
use crate::registry::PayloadType;

/// A view over one payload: the generic payload header and the body after it
/// ([RFC 7296 §3.2]).
///
/// Errors from this view name [`PayloadType::NONE`]: the view does not know its own type (the
/// previous payload's Next Payload field says it). The chain parser attributes them.
///
/// [RFC 7296 §3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.2
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PayloadPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PayloadPacket<T> {
    /// Wraps a buffer without checking it.
    ///
    /// # Panics
    ///
    /// Accessors panic if the buffer is shorter than the generic header or the length field;
    /// use [`Self::new_checked`] on untrusted input.
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

    /// Checks that the buffer holds the generic header and that the payload length covers the
    /// header and fits in the buffer. The buffer may continue past the payload (the rest of the
    /// chain).
    ///
    /// # Errors
    ///
    /// `Truncated` if the buffer ends inside the generic header, `BadLength` if the payload length
    /// is below 4 or past the end of the buffer.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < GENERIC_HEADER_LEN {
            return Err(error("generic payload header", ParseErrorKind::Truncated));
        }
        let length = usize::from(self.payload_length());
        if length < GENERIC_HEADER_LEN || length > len {
            return Err(error("payload length", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The type of the next payload.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[field::NEXT_PAYLOAD])
    }

    /// The critical bit.
    pub fn critical(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & CRITICAL != 0
    }

    /// The payload length, generic header included.
    pub fn payload_length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The body: the bytes after the generic header, up to the payload length.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[GENERIC_HEADER_LEN..usize::from(self.payload_length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PayloadPacket<T> {
    /// Sets the type of the next payload.
    pub fn set_next_payload(&mut self, value: PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = value.0;
    }

    /// Sets the critical bit (and clears the reserved bits).
    pub fn set_critical(&mut self, value: bool) {
        self.buffer.as_mut()[field::FLAGS] = if value { CRITICAL } else { 0 };
    }

    /// Sets the payload length.
    pub fn set_payload_length(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// The body, mutable.
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.payload_length());
        &mut self.buffer.as_mut()[GENERIC_HEADER_LEN..end]
    }
}

impl Payload {
    /// Parses the body of a payload of type `payload_type` (anything but SK and SKF, which the
    /// chain parser frames itself).
    ///
    /// # Errors
    ///
    /// The body's own errors; `UnsupportedCritical` for an unknown type with `critical` set.
    pub fn parse(
        payload_type: PayloadType,
        critical: bool,
        body: &[u8],
    ) -> Result<Self, ParseError> {
        let payload = match payload_type {
            PayloadType::SA => Self::Sa(SaPayload::parse(body)?),
            PayloadType::KE => Self::Ke(KePayload::parse(body)?),
            PayloadType::IDI => Self::IdI(IdPayload::parse(body)?),
            PayloadType::IDR => {
                Self::IdR(IdPayload::parse(body).map_err(|e| e.in_payload(PayloadType::IDR))?)
            }
            PayloadType::CERT => Self::Cert(CertPayload::parse(body)?),
            PayloadType::CERTREQ => Self::CertReq(CertReqPayload::parse(body)?),
            PayloadType::AUTH => Self::Auth(AuthPayload::parse(body)?),
            PayloadType::NONCE => Self::Nonce(NoncePayload::parse(body)?),
            PayloadType::NOTIFY => Self::Notify(NotifyPayload::parse(body)?),
            PayloadType::DELETE => Self::Delete(DeletePayload::parse(body)?),
            PayloadType::VENDOR_ID => Self::VendorId(VendorIdPayload::parse(body)?),
            PayloadType::TSI => Self::TsI(TsPayload::parse(body)?),
            PayloadType::TSR => {
                Self::TsR(TsPayload::parse(body).map_err(|e| e.in_payload(PayloadType::TSR))?)
            }
            PayloadType::CP => Self::Cp(CpPayload::parse(body)?),
            PayloadType::EAP => Self::Eap(EapPayload::parse(body)?),
            PayloadType::NONE | PayloadType::SK | PayloadType::SKF => {
                // The chain parser never calls this for these types.
                return Err(ParseError::new(
                    payload_type,
                    "next payload",
                    ParseErrorKind::InvalidValue,
                ));
            }
            // RFC 7296 §2.5: an unknown critical payload rejects the whole message.
            _ if critical => {
                return Err(ParseError::new(
                    payload_type,
                    "critical",
                    ParseErrorKind::UnsupportedCritical(payload_type),
                ));
            }
            // RFC 7296 §2.5: an unknown payload with the critical bit clear is skipped.
            _ => Self::Unknown {
                payload_type,
                body: body.to_vec(),
            },
        };
        Ok(payload)
    }

    /// The length of the emitted body (without the generic header).
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Sa(sa) => sa.buffer_len(),
            Self::Ke(ke) => ke.buffer_len(),
            Self::IdI(id) | Self::IdR(id) => id.buffer_len(),
            Self::Cert(cert) => cert.buffer_len(),
            Self::CertReq(certreq) => certreq.buffer_len(),
            Self::Auth(auth) => auth.buffer_len(),
            Self::Nonce(nonce) => nonce.buffer_len(),
            Self::Notify(notify) => notify.buffer_len(),
            Self::Delete(delete) => delete.buffer_len(),
            Self::VendorId(vendor_id) => vendor_id.buffer_len(),
            Self::TsI(ts) | Self::TsR(ts) => ts.buffer_len(),
            Self::Cp(cp) => cp.buffer_len(),
            Self::Eap(eap) => eap.buffer_len(),
            Self::Unknown { body, .. } => body.len(),
        }
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A value that does not fit its field, or a buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        let payload_type = self.payload_type();
        let result = match self {
            Self::Sa(sa) => sa.emit(body),
            Self::Ke(ke) => ke.emit(body),
            Self::IdI(id) | Self::IdR(id) => id.emit(body),
            Self::Cert(cert) => cert.emit(body),
            Self::CertReq(certreq) => certreq.emit(body),
            Self::Auth(auth) => auth.emit(body),
            Self::Nonce(nonce) => nonce.emit(body),
            Self::Notify(notify) => notify.emit(body),
            Self::Delete(delete) => delete.emit(body),
            Self::VendorId(vendor_id) => vendor_id.emit(body),
            Self::TsI(ts) | Self::TsR(ts) => ts.emit(body),
            Self::Cp(cp) => cp.emit(body),
            Self::Eap(eap) => eap.emit(body),
            Self::Unknown { body: data, .. } => copy_into(payload_type, body, data),
        };
        result.map_err(|e| e.in_payload(payload_type))
    }
}

/// Copies `data` into `body`, which must have the same length.
pub(crate) fn copy_into(
    payload_type: PayloadType,
    body: &mut [u8],
    data: &[u8],
) -> Result<(), EmitError> {
    if body.len() != data.len() {
        return Err(EmitError::new(payload_type, "buffer"));
    }
    body.copy_from_slice(data);
    Ok(())
}

/// Checks that an emit buffer has exactly the expected length.
pub(crate) fn check_buffer(
    payload_type: PayloadType,
    body: &[u8],
    expected: usize,
) -> Result<(), EmitError> {
    if body.len() == expected {
        Ok(())
    } else {
        Err(EmitError::new(payload_type, "buffer"))
    }
}

fn error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::NONE, field, kind)
}

const CRITICAL: u8 = 0x80;

mod field {
    pub(super) const NEXT_PAYLOAD: usize = 0;
    pub(super) const FLAGS: usize = 1;
    pub(super) const LENGTH: usize = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    static PAYLOAD_BYTES: [u8; 8] = [
        0x29, 0x80, 0x00, 0x06, // next N, critical, length 6
        0x01, 0x02, // body
        0xee, 0xee, // the next payload
    ];

    #[test]
    fn deconstruct() {
        let packet = PayloadPacket::new_checked(&PAYLOAD_BYTES[..]).unwrap();
        assert_eq!(packet.next_payload(), PayloadType::NOTIFY);
        assert!(packet.critical());
        assert_eq!(packet.payload_length(), 6);
        assert_eq!(packet.body(), &[0x01, 0x02]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xee; 8];
        let mut packet = PayloadPacket::new_unchecked(&mut bytes[..]);
        packet.set_next_payload(PayloadType::NOTIFY);
        packet.set_critical(true);
        packet.set_payload_length(6);
        packet.body_mut().copy_from_slice(&[0x01, 0x02]);
        assert_eq!(bytes, PAYLOAD_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            PayloadPacket::new_checked(&PAYLOAD_BYTES[..3])
                .unwrap_err()
                .kind,
            ParseErrorKind::Truncated
        );
        assert_eq!(
            PayloadPacket::new_checked(&PAYLOAD_BYTES[..5])
                .unwrap_err()
                .kind,
            ParseErrorKind::BadLength
        );
        let mut bytes = PAYLOAD_BYTES;
        bytes[3] = 3;
        let error = PayloadPacket::new_checked(&bytes[..]).unwrap_err();
        assert_eq!(
            (error.field, error.kind),
            ("payload length", ParseErrorKind::BadLength)
        );
    }

    #[test]
    fn parse() {
        let packet = PayloadPacket::new_checked(&PAYLOAD_BYTES[..]).unwrap();
        // Type 200 is unknown: critical is an error, non-critical is kept.
        assert_eq!(
            Payload::parse(PayloadType(200), packet.critical(), packet.body()).unwrap_err(),
            ParseError::new(
                PayloadType(200),
                "critical",
                ParseErrorKind::UnsupportedCritical(PayloadType(200))
            )
        );
        assert_eq!(
            Payload::parse(PayloadType(200), false, packet.body()).unwrap(),
            Payload::Unknown {
                payload_type: PayloadType(200),
                body: vec![1, 2]
            }
        );
    }

    #[test]
    fn emit() {
        let payload = Payload::Unknown {
            payload_type: PayloadType(200),
            body: vec![1, 2],
        };
        let mut body = [0; 2];
        payload.emit(&mut body).unwrap();
        assert_eq!(body, [1, 2]);
        assert!(payload.emit(&mut [0; 3]).is_err());
    }

    #[test]
    fn buffer_len() {
        let payload = Payload::Unknown {
            payload_type: PayloadType(200),
            body: vec![1, 2],
        };
        assert_eq!(payload.buffer_len(), 2);
    }
}
