//! Informational payloads: Notify ([RFC 7296 §3.10]), Delete ([§3.11]) and Vendor ID
//! ([§3.12]).
//!
//! A Notify body is a protocol ID, an SPI size, the notify type, the SPI and type-specific data.
//! When the SPI is empty the protocol ID "MUST be ignored on receipt" (§3.10), so the parser
//! reports [`ProtocolId::NONE`] then. A Delete body is a protocol ID, an SPI size, a count and
//! the SPIs: none for IKE (the SA the message travels on), 4-byte SPIs for ESP and AH; other
//! sizes and protocols are errors.
//!
//! [RFC 7296 §3.10]: https://www.rfc-editor.org/rfc/rfc7296#section-3.10
//! [§3.11]: https://www.rfc-editor.org/rfc/rfc7296#section-3.11
//! [§3.12]: https://www.rfc-editor.org/rfc/rfc7296#section-3.12

use crate::bytes::read_u16;
use crate::bytes::read_u32;
use crate::bytes::view;
use crate::bytes::write_u16;
use crate::bytes::write_u32;
use crate::error::EmitError;
use crate::error::ParseError;
use crate::error::ParseErrorKind;
use crate::ike::DeletePayload;
use crate::ike::NotifyPayload;
use crate::ike::VendorIdPayload;
use crate::ike::payload::check_buffer;
use crate::ike::payload::copy_into;
use crate::registry::NotifyType;
use crate::registry::PayloadType;
use crate::registry::ProtocolId;

view! {
    /// A view over a Notify payload body ([RFC 7296 §3.10]).
    ///
    /// [RFC 7296 §3.10]: https://www.rfc-editor.org/rfc/rfc7296#section-3.10
    NotifyPacket
}

impl<T: AsRef<[u8]>> NotifyPacket<T> {
    /// Checks that the fixed part and the SPI are present.
    ///
    /// # Errors
    ///
    /// `BadLength` for a body shorter than 4 bytes plus the SPI size.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < NOTIFY_FIXED_LEN {
            return Err(notify_error("payload length", ParseErrorKind::BadLength));
        }
        if len < NOTIFY_FIXED_LEN + usize::from(self.spi_size()) {
            return Err(notify_error("SPI size", ParseErrorKind::BadLength));
        }
        Ok(())
    }

    /// The protocol the SPI belongs to.
    pub fn protocol_id(&self) -> ProtocolId {
        ProtocolId(self.buffer.as_ref()[0])
    }

    /// The SPI size in bytes.
    pub fn spi_size(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The notify message type.
    pub fn notify_type(&self) -> NotifyType {
        NotifyType(read_u16(self.buffer.as_ref(), 2))
    }

    /// The SPI.
    pub fn spi(&self) -> &[u8] {
        &self.buffer.as_ref()[NOTIFY_FIXED_LEN..self.data_start()]
    }

    /// The notification data.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[self.data_start()..]
    }

    fn data_start(&self) -> usize {
        NOTIFY_FIXED_LEN + usize::from(self.spi_size())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NotifyPacket<T> {
    /// Sets the protocol ID.
    pub fn set_protocol_id(&mut self, value: ProtocolId) {
        self.buffer.as_mut()[0] = value.0;
    }

    /// Sets the SPI size.
    pub fn set_spi_size(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the notify message type.
    pub fn set_notify_type(&mut self, value: NotifyType) {
        write_u16(self.buffer.as_mut(), 2, value.0);
    }

    /// The SPI, mutable (its size is the SPI size field).
    pub fn spi_mut(&mut self) -> &mut [u8] {
        let end = self.data_start();
        &mut self.buffer.as_mut()[NOTIFY_FIXED_LEN..end]
    }

    /// The notification data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let start = self.data_start();
        &mut self.buffer.as_mut()[start..]
    }
}

view! {
    /// A view over a Delete payload body ([RFC 7296 §3.11]).
    ///
    /// [RFC 7296 §3.11]: https://www.rfc-editor.org/rfc/rfc7296#section-3.11
    DeletePacket
}

impl<T: AsRef<[u8]>> DeletePacket<T> {
    /// Checks that the fixed part is present and that the SPIs fill the rest exactly.
    ///
    /// # Errors
    ///
    /// `BadLength` for a body under 4 bytes, `Inconsistent` (field `number of SPIs`) when the
    /// count times the SPI size is not the length of the rest.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < DELETE_FIXED_LEN {
            return Err(delete_error("payload length", ParseErrorKind::BadLength));
        }
        let spis_len = usize::from(self.spi_size()) * usize::from(self.num_spis());
        if DELETE_FIXED_LEN + spis_len != len {
            return Err(delete_error("number of SPIs", ParseErrorKind::Inconsistent));
        }
        Ok(())
    }

    /// The protocol of the SAs to delete.
    pub fn protocol_id(&self) -> ProtocolId {
        ProtocolId(self.buffer.as_ref()[0])
    }

    /// The SPI size in bytes.
    pub fn spi_size(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The number of SPIs.
    pub fn num_spis(&self) -> u16 {
        read_u16(self.buffer.as_ref(), 2)
    }

    /// The SPIs, back to back.
    pub fn spis(&self) -> &[u8] {
        &self.buffer.as_ref()[DELETE_FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DeletePacket<T> {
    /// Sets the protocol ID.
    pub fn set_protocol_id(&mut self, value: ProtocolId) {
        self.buffer.as_mut()[0] = value.0;
    }

    /// Sets the SPI size.
    pub fn set_spi_size(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    /// Sets the number of SPIs.
    pub fn set_num_spis(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), 2, value);
    }

    /// The SPIs, mutable.
    pub fn spis_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[DELETE_FIXED_LEN..]
    }
}

impl NotifyPayload {
    /// Parses a Notify payload body.
    ///
    /// # Errors
    ///
    /// A body shorter than its fixed part and SPI.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = NotifyPacket::new_checked(body)?;
        // RFC 7296 §3.10: with no SPI, the protocol ID MUST be ignored on receipt.
        let protocol = if packet.spi().is_empty() {
            ProtocolId::NONE
        } else {
            packet.protocol_id()
        };
        Ok(Self {
            protocol,
            spi: packet.spi().to_vec(),
            notify_type: packet.notify_type(),
            data: packet.data().to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        NOTIFY_FIXED_LEN + self.spi.len() + self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long. The protocol
    /// ID is written as given (RFC 7296 §3.10 wants zero when there is no SPI).
    ///
    /// # Errors
    ///
    /// An SPI over 255 bytes, or a buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::NOTIFY, body, self.buffer_len())?;
        let spi_size = u8::try_from(self.spi.len())
            .map_err(|_| EmitError::new(PayloadType::NOTIFY, "SPI size"))?;
        let mut packet = NotifyPacket::new_unchecked(body);
        packet.set_protocol_id(self.protocol);
        packet.set_spi_size(spi_size);
        packet.set_notify_type(self.notify_type);
        packet.spi_mut().copy_from_slice(&self.spi);
        packet.data_mut().copy_from_slice(&self.data);
        Ok(())
    }
}

impl DeletePayload {
    /// Parses a Delete payload body.
    ///
    /// # Errors
    ///
    /// A protocol other than IKE, ESP and AH; an SPI size other than 0 for IKE or 4 for ESP and
    /// AH; SPIs in an IKE delete; a count that does not match the length.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let packet = DeletePacket::new_checked(body)?;
        let protocol = packet.protocol_id();
        let spi_size = match protocol {
            ProtocolId::IKE => 0,
            ProtocolId::ESP | ProtocolId::AH => CHILD_SPI_LEN,
            _ => return Err(delete_error("protocol ID", ParseErrorKind::InvalidValue)),
        };
        if usize::from(packet.spi_size()) != spi_size {
            return Err(delete_error("SPI size", ParseErrorKind::InvalidValue));
        }
        // RFC 7296 §3.11: deleting the IKE SA names no SPI.
        if protocol == ProtocolId::IKE && packet.num_spis() != 0 {
            return Err(delete_error("number of SPIs", ParseErrorKind::Inconsistent));
        }
        let spis = packet
            .spis()
            .chunks_exact(CHILD_SPI_LEN)
            .map(|spi| read_u32(spi, 0))
            .collect();
        Ok(Self { protocol, spis })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        DELETE_FIXED_LEN + CHILD_SPI_LEN * self.spis.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// SPIs in an IKE delete, more than 65,535 SPIs, or a buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        check_buffer(PayloadType::DELETE, body, self.buffer_len())?;
        if self.protocol == ProtocolId::IKE && !self.spis.is_empty() {
            return Err(EmitError::new(PayloadType::DELETE, "number of SPIs"));
        }
        let num_spis = u16::try_from(self.spis.len())
            .map_err(|_| EmitError::new(PayloadType::DELETE, "number of SPIs"))?;
        let spi_size = if self.protocol == ProtocolId::IKE {
            0
        } else {
            4
        };
        let mut packet = DeletePacket::new_unchecked(body);
        packet.set_protocol_id(self.protocol);
        packet.set_spi_size(spi_size);
        packet.set_num_spis(num_spis);
        for (chunk, spi) in packet
            .spis_mut()
            .chunks_exact_mut(CHILD_SPI_LEN)
            .zip(&self.spis)
        {
            write_u32(chunk, 0, *spi);
        }
        Ok(())
    }
}

impl VendorIdPayload {
    /// Parses a Vendor ID payload body (any bytes).
    ///
    /// # Errors
    ///
    /// None; the signature matches the other payloads.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        Ok(Self {
            data: body.to_vec(),
        })
    }

    /// The length of the emitted body.
    pub fn buffer_len(&self) -> usize {
        self.data.len()
    }

    /// Emits the body into `body`, which must be [`Self::buffer_len`] bytes long.
    ///
    /// # Errors
    ///
    /// A buffer of the wrong size.
    pub fn emit(&self, body: &mut [u8]) -> Result<(), EmitError> {
        copy_into(PayloadType::VENDOR_ID, body, &self.data)
    }
}

fn notify_error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::NOTIFY, field, kind)
}

fn delete_error(field: &'static str, kind: ParseErrorKind) -> ParseError {
    ParseError::new(PayloadType::DELETE, field, kind)
}

const NOTIFY_FIXED_LEN: usize = 4;
const DELETE_FIXED_LEN: usize = 4;
const CHILD_SPI_LEN: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    /// REKEY_SA for ESP SPI 0xc0010203 with two bytes of data.
    static NOTIFY_BYTES: [u8; 10] = [0x03, 0x04, 0x40, 0x09, 0xc0, 0x01, 0x02, 0x03, 0xaa, 0xbb];
    /// Delete two ESP SAs.
    static DELETE_BYTES: [u8; 12] = [
        0x03, 0x04, 0x00, 0x02, 0xc0, 0x01, 0x02, 0x03, 0xc0, 0x01, 0x02, 0x04,
    ];

    fn notify_repr() -> NotifyPayload {
        NotifyPayload {
            protocol: ProtocolId::ESP,
            spi: vec![0xc0, 0x01, 0x02, 0x03],
            notify_type: NotifyType::REKEY_SA,
            data: vec![0xaa, 0xbb],
        }
    }

    fn delete_repr() -> DeletePayload {
        DeletePayload {
            protocol: ProtocolId::ESP,
            spis: vec![0xc001_0203, 0xc001_0204],
        }
    }

    #[test]
    fn deconstruct() {
        let notify = NotifyPacket::new_checked(&NOTIFY_BYTES[..]).unwrap();
        assert_eq!(notify.protocol_id(), ProtocolId::ESP);
        assert_eq!(notify.spi_size(), 4);
        assert_eq!(notify.notify_type(), NotifyType::REKEY_SA);
        assert_eq!(notify.spi(), &[0xc0, 0x01, 0x02, 0x03]);
        assert_eq!(notify.data(), &[0xaa, 0xbb]);
        let delete = DeletePacket::new_checked(&DELETE_BYTES[..]).unwrap();
        assert_eq!(delete.protocol_id(), ProtocolId::ESP);
        assert_eq!(delete.spi_size(), 4);
        assert_eq!(delete.num_spis(), 2);
        assert_eq!(delete.spis(), &DELETE_BYTES[4..]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xff; 10];
        let mut notify = NotifyPacket::new_unchecked(&mut bytes[..]);
        notify.set_protocol_id(ProtocolId::ESP);
        notify.set_spi_size(4);
        notify.set_notify_type(NotifyType::REKEY_SA);
        notify.spi_mut().copy_from_slice(&[0xc0, 0x01, 0x02, 0x03]);
        notify.data_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(bytes, NOTIFY_BYTES);
        let mut bytes = [0xff; 12];
        let mut delete = DeletePacket::new_unchecked(&mut bytes[..]);
        delete.set_protocol_id(ProtocolId::ESP);
        delete.set_spi_size(4);
        delete.set_num_spis(2);
        delete.spis_mut().copy_from_slice(&DELETE_BYTES[4..]);
        assert_eq!(bytes, DELETE_BYTES);
    }

    #[test]
    fn check_len() {
        assert_eq!(
            NotifyPacket::new_checked(&NOTIFY_BYTES[..3]).unwrap_err(),
            notify_error("payload length", ParseErrorKind::BadLength)
        );
        assert_eq!(
            NotifyPacket::new_checked(&NOTIFY_BYTES[..7]).unwrap_err(),
            notify_error("SPI size", ParseErrorKind::BadLength)
        );
        assert!(NotifyPacket::new_checked(&NOTIFY_BYTES[..8]).is_ok());
        assert_eq!(
            DeletePacket::new_checked(&DELETE_BYTES[..3]).unwrap_err(),
            delete_error("payload length", ParseErrorKind::BadLength)
        );
        assert_eq!(
            DeletePacket::new_checked(&DELETE_BYTES[..11]).unwrap_err(),
            delete_error("number of SPIs", ParseErrorKind::Inconsistent)
        );
    }

    #[test]
    fn parse() {
        assert_eq!(NotifyPayload::parse(&NOTIFY_BYTES).unwrap(), notify_repr());
        assert_eq!(DeletePayload::parse(&DELETE_BYTES).unwrap(), delete_repr());
        assert_eq!(
            DeletePayload::parse(&[0x01, 0x00, 0x00, 0x00]).unwrap(),
            DeletePayload {
                protocol: ProtocolId::IKE,
                spis: vec![]
            }
        );
    }

    #[test]
    fn parse_ignores_protocol_without_spi() {
        let notify = NotifyPayload::parse(&[0x01, 0x00, 0x40, 0x00]).unwrap();
        assert_eq!(notify.protocol, ProtocolId::NONE);
        assert_eq!(notify.notify_type, NotifyType::INITIAL_CONTACT);
    }

    #[test]
    fn parse_rejects_bad_deletes() {
        // IKE with an SPI size.
        assert_eq!(
            DeletePayload::parse(&[0x01, 0x08, 0x00, 0x00]).unwrap_err(),
            delete_error("SPI size", ParseErrorKind::InvalidValue)
        );
        // IKE with a count.
        assert_eq!(
            DeletePayload::parse(&[0x01, 0x00, 0x00, 0x01]).unwrap_err(),
            delete_error("number of SPIs", ParseErrorKind::Inconsistent)
        );
        // ESP with 8-byte SPIs.
        assert_eq!(
            DeletePayload::parse(&[0x03, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
            delete_error("SPI size", ParseErrorKind::InvalidValue)
        );
        // Unknown protocol.
        assert_eq!(
            DeletePayload::parse(&[0x09, 0x04, 0x00, 0x00]).unwrap_err(),
            delete_error("protocol ID", ParseErrorKind::InvalidValue)
        );
    }

    #[test]
    fn emit() {
        let mut bytes = [0xff; 10];
        notify_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, NOTIFY_BYTES);
        let mut bytes = [0xff; 12];
        delete_repr().emit(&mut bytes).unwrap();
        assert_eq!(bytes, DELETE_BYTES);
        let ike = DeletePayload {
            protocol: ProtocolId::IKE,
            spis: vec![1],
        };
        assert!(ike.emit(&mut vec![0; ike.buffer_len()]).is_err());
    }

    #[test]
    fn buffer_len() {
        assert_eq!(notify_repr().buffer_len(), NOTIFY_BYTES.len());
        assert_eq!(delete_repr().buffer_len(), DELETE_BYTES.len());
        let vendor = VendorIdPayload { data: vec![1, 2] };
        assert_eq!(vendor.buffer_len(), 2);
        assert_eq!(VendorIdPayload::parse(&[1, 2]).unwrap(), vendor);
    }
}
