//! Identity and authentication payloads: Identification ([RFC 7296 §3.5]), Certificate
//! ([§3.6]), Certificate Request ([§3.7]) and Authentication ([§3.8]).
//!
//! ID and AUTH bodies are a type octet, three reserved octets and data; CERT and CERTREQ bodies
//! are an encoding octet and data. ID data may be empty (ID_NULL, RFC 7619 §3); certificate and
//! authentication data may not. A CERTREQ's authority list is a hint, kept as sent.
//!
//! [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
//! [§3.6]: https://www.rfc-editor.org/rfc/rfc7296#section-3.6
//! [§3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
//! [§3.8]: https://www.rfc-editor.org/rfc/rfc7296#section-3.8

use crate::bytes::view;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::AuthPayload;
use crate::ike::CertPayload;
use crate::ike::CertReqPayload;
use crate::ike::IdPayload;
use crate::ike::payload::check_buffer;
use crate::registry::AuthMethod;
use crate::registry::CertEncoding;
use crate::registry::IdType;
use crate::registry::PayloadType;

view! {
    /// A view over an IDi or IDr payload body ([RFC 7296 §3.5]). Errors name IDi; the chain
    /// parser renames them for IDr.
    ///
    /// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
    IdPacket
}

impl<T: AsRef<[u8]>> IdPacket<T> {
    /// Checks that the type and reserved octets are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        check_fixed(PayloadType::IDI, self.buffer.as_ref(), TYPED_FIXED_LEN)
    }

    /// The ID type.
    pub fn id_type(&self) -> IdType {
        IdType(self.buffer.as_ref()[0])
    }

    /// The identification data.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[TYPED_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IdPacket<T> {
    /// Sets the ID type (and clears the reserved octets).
    pub fn set_id_type(&mut self, value: IdType) {
        self.buffer.as_mut()[..TYPED_FIXED_LEN].copy_from_slice(&[value.0, 0, 0, 0]);
    }

    /// The identification data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[TYPED_FIXED_LEN..]
    }
}

view! {
    /// A view over an Authentication payload body ([RFC 7296 §3.8]).
    ///
    /// [RFC 7296 §3.8]: https://www.rfc-editor.org/rfc/rfc7296#section-3.8
    AuthPacket
}

impl<T: AsRef<[u8]>> AuthPacket<T> {
    /// Checks that the method and reserved octets are present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for a body under 4 bytes.
    pub fn check_len(&self) -> Result<(), ParseError> {
        check_fixed(PayloadType::AUTH, self.buffer.as_ref(), TYPED_FIXED_LEN)
    }

    /// The authentication method.
    pub fn auth_method(&self) -> AuthMethod {
        AuthMethod(self.buffer.as_ref()[0])
    }

    /// The authentication data.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[TYPED_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AuthPacket<T> {
    /// Sets the method (and clears the reserved octets).
    pub fn set_auth_method(&mut self, value: AuthMethod) {
        self.buffer.as_mut()[..TYPED_FIXED_LEN].copy_from_slice(&[value.0, 0, 0, 0]);
    }

    /// The authentication data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[TYPED_FIXED_LEN..]
    }
}

view! {
    /// A view over a Certificate or Certificate Request payload body ([RFC 7296 §3.6],
    /// [§3.7]): an encoding octet and data. Errors name CERT; the CERTREQ parser renames them.
    ///
    /// [RFC 7296 §3.6]: https://www.rfc-editor.org/rfc/rfc7296#section-3.6
    /// [§3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
    CertPacket
}

impl<T: AsRef<[u8]>> CertPacket<T> {
    /// Checks that the encoding octet is present.
    ///
    /// # Errors
    ///
    /// `BadLength` (field `payload length`) for an empty body.
    pub fn check_len(&self) -> Result<(), ParseError> {
        check_fixed(PayloadType::CERT, self.buffer.as_ref(), CERT_FIXED_LEN)
    }

    /// The certificate encoding.
    pub fn encoding(&self) -> CertEncoding {
        CertEncoding(self.buffer.as_ref()[0])
    }

    /// The certificate data, or a CERTREQ's certification authority list.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[CERT_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CertPacket<T> {
    /// Sets the encoding.
    pub fn set_encoding(&mut self, value: CertEncoding) {
        self.buffer.as_mut()[0] = value.0;
    }

    /// The data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[CERT_FIXED_LEN..]
    }
}

impl IdPayload {
    /// Parses an IDi or IDr payload body (errors name IDi).
    ///
    /// # Errors
    ///
    /// A body under 4 bytes.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = IdPacket::new_checked(body)?;
        Ok(Self {
            id_type: packet.id_type(),
            data: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        TYPED_FIXED_LEN + self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::IDI, body, self.buffer_len())?;
        let mut packet = IdPacket::new_unchecked(body);
        packet.set_id_type(self.id_type);
        packet.data_mut().copy_from_slice(&self.data);
        Ok(())
    }
}

impl AuthPayload {
    /// Parses an Authentication payload body.
    ///
    /// # Errors
    ///
    /// A body under 4 bytes, or empty authentication data.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = AuthPacket::new_checked(body)?;
        if packet.data().is_empty() {
            return Err(ParseError::new(
                PayloadType::AUTH,
                "authentication data",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(Self {
            method: packet.auth_method(),
            data: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        TYPED_FIXED_LEN + self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::AUTH, body, self.buffer_len())?;
        let mut packet = AuthPacket::new_unchecked(body);
        packet.set_auth_method(self.method);
        packet.data_mut().copy_from_slice(&self.data);
        Ok(())
    }
}

impl CertPayload {
    /// Parses a Certificate payload body.
    ///
    /// # Errors
    ///
    /// An empty body or empty certificate data.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = CertPacket::new_checked(body)?;
        if packet.data().is_empty() {
            return Err(ParseError::new(
                PayloadType::CERT,
                "certificate data",
                ParseErrorKind::BadLength,
            ));
        }
        Ok(Self {
            encoding: packet.encoding(),
            data: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        CERT_FIXED_LEN + self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::CERT, body, self.buffer_len())?;
        let mut packet = CertPacket::new_unchecked(body);
        packet.set_encoding(self.encoding);
        packet.data_mut().copy_from_slice(&self.data);
        Ok(())
    }
}

impl CertReqPayload {
    /// Parses a Certificate Request payload body.
    ///
    /// # Errors
    ///
    /// An empty body (the encoding octet is missing).
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet =
            CertPacket::new_checked(body).map_err(|e| e.in_payload(PayloadType::CERTREQ))?;
        Ok(Self {
            encoding: packet.encoding(),
            authority: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        CERT_FIXED_LEN + self.authority.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::CERTREQ, body, self.buffer_len())?;
        let mut packet = CertPacket::new_unchecked(body);
        packet.set_encoding(self.encoding);
        packet.data_mut().copy_from_slice(&self.authority);
        Ok(())
    }
}

fn check_fixed(payload: PayloadType, body: &[u8], fixed: usize) -> Result<(), ParseError> {
    if body.len() < fixed {
        return Err(ParseError::new(
            payload,
            "payload length",
            ParseErrorKind::BadLength,
        ));
    }
    Ok(())
}

const TYPED_FIXED_LEN: usize = 4;
const CERT_FIXED_LEN: usize = 1;

#[cfg(test)]
mod tests {
    use super::*;

    static ID_BYTES: [u8; 11] = [
        0x02, 0x00, 0x00, 0x00, b'g', b'w', b'.', b't', b'e', b's', b't',
    ];
    static AUTH_BYTES: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xaa, 0xbb];
    static CERT_BYTES: [u8; 4] = [0x04, 0x30, 0x82, 0x01];

    fn id_repr() -> IdPayload {
        IdPayload {
            id_type: IdType::FQDN,
            data: b"gw.test".to_vec(),
        }
    }

    fn auth_repr() -> AuthPayload {
        AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![0xaa, 0xbb],
        }
    }

    fn cert_repr() -> CertPayload {
        CertPayload {
            encoding: CertEncoding::X509_CERT_SIGNATURE,
            data: vec![0x30, 0x82, 0x01],
        }
    }

    #[test]
    fn deconstruct() {
        let id = IdPacket::new_checked(&ID_BYTES[..]).unwrap();
        assert_eq!(id.id_type(), IdType::FQDN);
        assert_eq!(id.data(), b"gw.test");
        let auth = AuthPacket::new_checked(&AUTH_BYTES[..]).unwrap();
        assert_eq!(auth.auth_method(), AuthMethod::SHARED_KEY_MIC);
        assert_eq!(auth.data(), &[0xaa, 0xbb]);
        let cert = CertPacket::new_checked(&CERT_BYTES[..]).unwrap();
        assert_eq!(cert.encoding(), CertEncoding::X509_CERT_SIGNATURE);
        assert_eq!(cert.data(), &[0x30, 0x82, 0x01]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xff; 11];
        let mut id = IdPacket::new_unchecked(&mut bytes[..]);
        id.set_id_type(IdType::FQDN);
        id.data_mut().copy_from_slice(b"gw.test");
        assert_eq!(bytes, ID_BYTES);
        let mut bytes = [0xff; 6];
        let mut auth = AuthPacket::new_unchecked(&mut bytes[..]);
        auth.set_auth_method(AuthMethod::SHARED_KEY_MIC);
        auth.data_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(bytes, AUTH_BYTES);
        let mut bytes = [0xff; 4];
        let mut cert = CertPacket::new_unchecked(&mut bytes[..]);
        cert.set_encoding(CertEncoding::X509_CERT_SIGNATURE);
        cert.data_mut().copy_from_slice(&[0x30, 0x82, 0x01]);
        assert_eq!(bytes, CERT_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            IdPacket::new_checked(&ID_BYTES[..3]).unwrap_err(),
            ParseError::new(
                PayloadType::IDI,
                "payload length",
                ParseErrorKind::BadLength
            )
        );
        assert!(IdPacket::new_checked(&ID_BYTES[..4]).is_ok());
        assert!(AuthPacket::new_checked(&AUTH_BYTES[..3]).is_err());
        assert!(CertPacket::new_checked(&CERT_BYTES[..0]).is_err());
        assert!(CertPacket::new_checked(&CERT_BYTES[..1]).is_ok());
    }

    #[test]
    fn parse() {
        assert_eq!(IdPayload::parse(&ID_BYTES).unwrap(), id_repr());
        assert_eq!(AuthPayload::parse(&AUTH_BYTES).unwrap(), auth_repr());
        assert_eq!(CertPayload::parse(&CERT_BYTES).unwrap(), cert_repr());
        assert_eq!(
            CertReqPayload::parse(&[0x04]).unwrap(),
            CertReqPayload {
                encoding: CertEncoding::X509_CERT_SIGNATURE,
                authority: vec![]
            }
        );
        // ID_NULL (RFC 7619) has empty data.
        assert_eq!(
            IdPayload::parse(&[13, 0, 0, 0]).unwrap().data,
            Vec::<u8>::new()
        );
    }

    #[test]
    fn parse_rejects_empty_data() {
        assert_eq!(
            AuthPayload::parse(&AUTH_BYTES[..4]).unwrap_err().field,
            "authentication data"
        );
        assert_eq!(
            CertPayload::parse(&CERT_BYTES[..1]).unwrap_err().field,
            "certificate data"
        );
        assert_eq!(
            CertReqPayload::parse(&[]).unwrap_err(),
            ParseError::new(
                PayloadType::CERTREQ,
                "payload length",
                ParseErrorKind::BadLength
            )
        );
    }

    #[test]
    fn emit() {
        let mut bytes = [0xff; 11];
        id_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, ID_BYTES);
        let mut bytes = [0xff; 6];
        auth_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, AUTH_BYTES);
        let mut bytes = [0xff; 4];
        cert_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, CERT_BYTES);
        assert!(id_repr().emit(&mut [0; 3]).is_err());
    }

    #[test]
    fn buffer_len() {
        assert_eq!(id_repr().buffer_len(), ID_BYTES.len());
        assert_eq!(auth_repr().buffer_len(), AUTH_BYTES.len());
        assert_eq!(cert_repr().buffer_len(), CERT_BYTES.len());
    }

    #[test]
    fn id_body_matches_emitted_body() {
        let mut bytes = vec![0; id_repr().buffer_len()];
        id_repr().emit(&mut bytes).unwrap();
        assert_eq!(id_repr().body(), bytes);
    }
}
