//! IKEv2 messages ([RFC 7296 §3]): the header, the generic payload chain and every payload.
//!
//! The representation types in this module are the contract between the wire crate and the
//! engine. A message is parsed in two steps, because an SK (or SKF) payload must be decrypted by
//! the engine before its contents can be parsed:
//!
//! 1. [`parse_message`] checks the header and walks the unencrypted payload chain. If the chain
//!    ends in SK or SKF it returns the encrypted part as an [`Encrypted`] (the authenticated
//!    prefix and the body), without interpreting it.
//! 2. After decryption the engine calls [`parse_payload_chain`] on the plaintext with the inner
//!    first payload type from the SK header.
//!
//! Emitting is the reverse: [`emit_payload_chain`] for the plaintext of an SK payload,
//! [`emit_message`] for a message without encryption, and [`emit_encrypted_message`] to frame an
//! encrypted body.
//!
//! [RFC 7296 §3]: https://www.rfc-editor.org/rfc/rfc7296#section-3

use std::net::IpAddr;

use crate::error::EmitError;
use crate::error::ParseError;
use crate::registry::AuthMethod;
use crate::registry::CertEncoding;
use crate::registry::CfgAttributeType;
use crate::registry::CfgType;
use crate::registry::ExchangeType;
use crate::registry::IdType;
use crate::registry::KeMethod;
use crate::registry::NotifyType;
use crate::registry::PayloadType;
use crate::registry::ProtocolId;
use crate::registry::TransformType;
use crate::registry::TsType;

/// The fixed IKE header ([RFC 7296 §3.1]).
///
/// [RFC 7296 §3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.1
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Header {
    /// The IKE SA initiator's SPI.
    pub spi_i: u64,
    /// The IKE SA responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// The type of the first payload.
    pub next_payload: PayloadType,
    /// Major version, 2 for IKEv2.
    pub major_version: u8,
    /// Minor version, 0 for RFC 7296.
    pub minor_version: u8,
    /// The exchange this message belongs to.
    pub exchange: ExchangeType,
    /// The flags octet.
    pub flags: Flags,
    /// The message ID.
    pub message_id: u32,
    /// Total length of the message including the header.
    pub length: u32,
}

/// The flags of the IKE header ([RFC 7296 §3.1]).
///
/// [RFC 7296 §3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.1
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Flags {
    /// I: set by the original initiator of the IKE SA.
    pub initiator: bool,
    /// V: the sender can speak a higher major version.
    pub version: bool,
    /// R: this message is a response.
    pub response: bool,
}

/// The length of the IKE header.
pub const HEADER_LEN: usize = 28;
/// The length of the generic payload header ([RFC 7296 §3.2]).
///
/// [RFC 7296 §3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.2
pub const GENERIC_HEADER_LEN: usize = 4;

/// One payload of a message, parsed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Payload {
    /// Security Association (§3.3).
    Sa(SaPayload),
    /// Key Exchange (§3.4).
    Ke(KePayload),
    /// Identification of the initiator (§3.5).
    IdI(IdPayload),
    /// Identification of the responder (§3.5).
    IdR(IdPayload),
    /// Certificate (§3.6).
    Cert(CertPayload),
    /// Certificate Request (§3.7).
    CertReq(CertReqPayload),
    /// Authentication (§3.8).
    Auth(AuthPayload),
    /// Nonce (§3.9).
    Nonce(NoncePayload),
    /// Notify (§3.10).
    Notify(NotifyPayload),
    /// Delete (§3.11).
    Delete(DeletePayload),
    /// Vendor ID (§3.12).
    VendorId(VendorIdPayload),
    /// Traffic Selector of the initiator (§3.13).
    TsI(TsPayload),
    /// Traffic Selector of the responder (§3.13).
    TsR(TsPayload),
    /// Configuration (§3.15).
    Cp(CpPayload),
    /// Extensible Authentication (§3.16).
    Eap(EapPayload),
    /// A payload type this implementation does not know, with the critical bit clear. Kept so
    /// that it can be counted and logged; RFC 7296 §2.5 says to skip it.
    Unknown {
        /// Its type.
        payload_type: PayloadType,
        /// Its body, after the generic header.
        body: Vec<u8>,
    },
}

impl Payload {
    /// The payload type this payload is emitted as.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Self::Sa(_) => PayloadType::SA,
            Self::Ke(_) => PayloadType::KE,
            Self::IdI(_) => PayloadType::IDI,
            Self::IdR(_) => PayloadType::IDR,
            Self::Cert(_) => PayloadType::CERT,
            Self::CertReq(_) => PayloadType::CERTREQ,
            Self::Auth(_) => PayloadType::AUTH,
            Self::Nonce(_) => PayloadType::NONCE,
            Self::Notify(_) => PayloadType::NOTIFY,
            Self::Delete(_) => PayloadType::DELETE,
            Self::VendorId(_) => PayloadType::VENDOR_ID,
            Self::TsI(_) => PayloadType::TSI,
            Self::TsR(_) => PayloadType::TSR,
            Self::Cp(_) => PayloadType::CP,
            Self::Eap(_) => PayloadType::EAP,
            Self::Unknown { payload_type, .. } => *payload_type,
        }
    }
}

/// Security Association payload ([RFC 7296 §3.3]): proposals in preference order.
///
/// [RFC 7296 §3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SaPayload {
    /// The proposals; numbered from 1 in a request, one echoed in a response.
    pub proposals: Vec<Proposal>,
}

/// One proposal substructure ([RFC 7296 §3.3.1]).
///
/// [RFC 7296 §3.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.1
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Proposal {
    /// The proposal number.
    pub number: u8,
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// The sender's SPI: empty in an initial IKE_SA_INIT, 8 bytes for IKE, 4 for ESP/AH.
    pub spi: Vec<u8>,
    /// The transforms, in the order sent.
    pub transforms: Vec<Transform>,
}

/// One transform substructure ([RFC 7296 §3.3.2]).
///
/// [RFC 7296 §3.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.2
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Transform {
    /// ENCR, PRF, INTEG, KE, ESN or ADDKE1–7.
    pub transform_type: TransformType,
    /// The algorithm, interpreted according to `transform_type` (an `EncrId`, `PrfId`, …).
    pub id: u16,
    /// The attributes; in practice only KEY_LENGTH.
    pub attributes: Vec<TransformAttribute>,
}

impl Transform {
    /// The KEY_LENGTH attribute in bits, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                TransformAttribute::Tv { kind: 14, value } => Some(*value),
                _ => None,
            })
    }
}

/// A transform attribute ([RFC 7296 §3.3.5]), in its short (TV) or long (TLV) form.
///
/// [RFC 7296 §3.3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.5
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TransformAttribute {
    /// AF bit set: a 2-byte value.
    Tv {
        /// The attribute type without the AF bit.
        kind: u16,
        /// The value.
        value: u16,
    },
    /// AF bit clear: a variable-length value.
    Tlv {
        /// The attribute type.
        kind: u16,
        /// The value.
        value: Vec<u8>,
    },
}

/// Key Exchange payload ([RFC 7296 §3.4]).
///
/// [RFC 7296 §3.4]: https://www.rfc-editor.org/rfc/rfc7296#section-3.4
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct KePayload {
    /// The key exchange method the data belongs to.
    pub method: KeMethod,
    /// The public value (or KEM encapsulation key / ciphertext).
    pub data: Vec<u8>,
}

/// Identification payload ([RFC 7296 §3.5]).
///
/// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IdPayload {
    /// The ID type.
    pub id_type: IdType,
    /// The identification data.
    pub data: Vec<u8>,
}

impl IdPayload {
    /// The payload body from the ID type through the data (RESERVED bytes as zero): the input
    /// to `prf(SK_p, …)` in the AUTH computation (RFC 7296 §2.15).
    pub fn body(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.data.len());
        body.push(self.id_type.0);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&self.data);
        body
    }
}

/// Certificate payload ([RFC 7296 §3.6]).
///
/// [RFC 7296 §3.6]: https://www.rfc-editor.org/rfc/rfc7296#section-3.6
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CertPayload {
    /// How `data` is encoded.
    pub encoding: CertEncoding,
    /// The certificate data (DER for X509_CERT_SIGNATURE).
    pub data: Vec<u8>,
}

/// Certificate Request payload ([RFC 7296 §3.7]).
///
/// [RFC 7296 §3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CertReqPayload {
    /// The requested encoding.
    pub encoding: CertEncoding,
    /// For X.509: concatenated SHA-1 hashes of trusted CAs' public keys (20 bytes each).
    pub authority: Vec<u8>,
}

/// Authentication payload ([RFC 7296 §3.8]).
///
/// [RFC 7296 §3.8]: https://www.rfc-editor.org/rfc/rfc7296#section-3.8
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuthPayload {
    /// The authentication method.
    pub method: AuthMethod,
    /// The authentication data (for DIGITAL_SIGNATURE, the RFC 7427 ASN.1 prefix + signature).
    pub data: Vec<u8>,
}

/// Nonce payload ([RFC 7296 §3.9]): 16 to 256 bytes.
///
/// [RFC 7296 §3.9]: https://www.rfc-editor.org/rfc/rfc7296#section-3.9
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NoncePayload {
    /// The nonce.
    pub data: Vec<u8>,
}

/// Notify payload ([RFC 7296 §3.10]).
///
/// [RFC 7296 §3.10]: https://www.rfc-editor.org/rfc/rfc7296#section-3.10
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NotifyPayload {
    /// The protocol the SPI belongs to, [`ProtocolId::NONE`] when there is no SPI.
    pub protocol: ProtocolId,
    /// The SPI the notification is about; usually empty.
    pub spi: Vec<u8>,
    /// The notify message type.
    pub notify_type: NotifyType,
    /// Type-specific data.
    pub data: Vec<u8>,
}

/// Delete payload ([RFC 7296 §3.11]).
///
/// [RFC 7296 §3.11]: https://www.rfc-editor.org/rfc/rfc7296#section-3.11
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DeletePayload {
    /// IKE (the SA the message is protected by; no SPIs), ESP or AH.
    pub protocol: ProtocolId,
    /// The SPIs to delete; 4-byte SPIs for ESP and AH, none for IKE.
    pub spis: Vec<u32>,
}

/// Vendor ID payload ([RFC 7296 §3.12]).
///
/// [RFC 7296 §3.12]: https://www.rfc-editor.org/rfc/rfc7296#section-3.12
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct VendorIdPayload {
    /// The vendor ID.
    pub data: Vec<u8>,
}

/// Traffic Selector payload ([RFC 7296 §3.13]).
///
/// [RFC 7296 §3.13]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct TsPayload {
    /// The IPv4 and IPv6 range selectors, in order.
    pub selectors: Vec<TrafficSelector>,
    /// Types of selectors this implementation does not understand (RFC 4595 Fibre Channel and
    /// later); they are skipped and never emitted.
    pub unknown_types: Vec<TsType>,
}

/// One IP traffic selector ([RFC 7296 §3.13.1]): a protocol, a port range and an address range
/// of one family.
///
/// [RFC 7296 §3.13.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.13.1
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct TrafficSelector {
    /// IP protocol number, 0 for any.
    pub ip_protocol: u8,
    /// First port of the range (0 for any, or ICMP type/code packed as RFC 4301 §4.4.1.1 says).
    pub start_port: u16,
    /// Last port of the range.
    pub end_port: u16,
    /// First address; its family decides IPV4_ADDR_RANGE or IPV6_ADDR_RANGE.
    pub start_address: IpAddr,
    /// Last address, of the same family.
    pub end_address: IpAddr,
}

/// Configuration payload ([RFC 7296 §3.15]).
///
/// [RFC 7296 §3.15]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CpPayload {
    /// Request, reply, set or ack.
    pub cfg_type: CfgType,
    /// The attributes.
    pub attributes: Vec<CfgAttribute>,
}

/// One configuration attribute ([RFC 7296 §3.15.1]).
///
/// [RFC 7296 §3.15.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.15.1
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CfgAttribute {
    /// The attribute type.
    pub attribute_type: CfgAttributeType,
    /// Its value (may be empty in a request).
    pub value: Vec<u8>,
}

/// EAP payload ([RFC 7296 §3.16]): an EAP message whose own header has been length-checked.
///
/// [RFC 7296 §3.16]: https://www.rfc-editor.org/rfc/rfc7296#section-3.16
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EapPayload {
    /// The EAP message (code, identifier, length, type and data).
    pub message: Vec<u8>,
}

/// The encrypted payload that ends a message: SK ([RFC 7296 §3.14]) or SKF ([RFC 7383 §2.5]).
///
/// [RFC 7296 §3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14
/// [RFC 7383 §2.5]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Encrypted<'a> {
    /// SK, or SKF with its fragment numbers.
    pub kind: EncryptedKind,
    /// The Next Payload field of the SK/SKF header: the type of the first inner payload (in an
    /// SKF, only meaningful in fragment 1).
    pub first_inner: PayloadType,
    /// Everything from the start of the IKE header through the end of the SK/SKF header (and for
    /// SKF the fragment number fields): what an AEAD authenticates as associated data (RFC 5282
    /// §5.1) and the prefix of what an integrity algorithm covers.
    pub authenticated_prefix: &'a [u8],
    /// IV, ciphertext and ICV.
    pub body: &'a [u8],
}

/// Whether the encrypted part is a whole SK payload or one fragment.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EncryptedKind {
    /// An SK payload.
    Sk,
    /// An SKF payload (RFC 7383 §2.5).
    Skf {
        /// This fragment's number, from 1.
        fragment_number: u16,
        /// How many fragments the message has.
        total_fragments: u16,
    },
}

/// A message whose header and unencrypted payloads have been parsed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ParsedMessage<'a> {
    /// The IKE header.
    pub header: Header,
    /// The payloads before the encrypted one (all of them when there is none).
    pub payloads: Vec<Payload>,
    /// The SK or SKF payload that ends the chain, if any.
    pub encrypted: Option<Encrypted<'a>>,
}

/// Parses an IKE header at the start of `bytes`, with its length checks (version, length field
/// against the buffer).
///
/// # Errors
///
/// `Truncated` for fewer than 28 bytes; `UnsupportedVersion` for a major version other than 2
/// (checked before the lengths, RFC 7296 §2.5); `BadLength`, `Truncated` or `TrailingData` when
/// the length field is not the length of `bytes`.
pub fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    header::parse(bytes)
}

/// Parses a whole IKE message: header, then the payload chain up to the end or to an SK/SKF
/// payload.
///
/// # Errors
///
/// Any truncation, length inconsistency, malformed payload, unknown critical payload, SK/SKF that
/// is not last, or trailing bytes.
pub fn parse_message(bytes: &[u8]) -> Result<ParsedMessage<'_>, ParseError> {
    chain::parse_message(bytes)
}

/// Parses a chain of payloads that starts with `first` and ends with NONE (the plaintext of an
/// SK payload).
///
/// # Errors
///
/// As for [`parse_message`]; an SK or SKF payload inside the chain is an `InvalidValue`.
pub fn parse_payload_chain(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, ParseError> {
    chain::parse_chain(first, bytes)
}

/// Emits a chain of payloads with their generic headers; the last one's Next Payload is
/// `next_after_last` (NONE, or SK when unencrypted payloads precede an SK payload).
///
/// # Panics
///
/// If a value does not fit its wire field (see [`EmitError`]); parsed payloads always fit. Use
/// [`try_emit_payload_chain`] for payloads built from unchecked input.
pub fn emit_payload_chain(payloads: &[Payload], next_after_last: PayloadType) -> Vec<u8> {
    try_emit_payload_chain(payloads, next_after_last).unwrap_or_else(|error| panic!("{error}"))
}

/// [`emit_payload_chain`] that reports a value that does not fit instead of panicking.
///
/// # Errors
///
/// A value that does not fit its wire field.
pub fn try_emit_payload_chain(
    payloads: &[Payload],
    next_after_last: PayloadType,
) -> Result<Vec<u8>, EmitError> {
    chain::emit_chain(payloads, next_after_last)
}

/// Emits an unencrypted message. The header's `next_payload` and `length` are computed.
///
/// # Panics
///
/// If a value does not fit its wire field (see [`EmitError`]); use [`try_emit_message`] for
/// payloads built from unchecked input.
pub fn emit_message(header: &Header, payloads: &[Payload]) -> Vec<u8> {
    try_emit_message(header, payloads).unwrap_or_else(|error| panic!("{error}"))
}

/// [`emit_message`] that reports a value that does not fit instead of panicking.
///
/// # Errors
///
/// A value that does not fit its wire field.
pub fn try_emit_message(header: &Header, payloads: &[Payload]) -> Result<Vec<u8>, EmitError> {
    chain::emit_message(header, payloads)
}

/// Emits a message whose payload chain is an SK (or SKF) payload with `body_len` bytes of IV,
/// ciphertext and ICV, and returns it with the offset where the body starts. The caller fills
/// the body in place; the bytes before the offset are the AEAD associated data.
///
/// # Panics
///
/// If the SK payload would exceed 65,535 bytes; use [`try_emit_encrypted_message`] to get an
/// error instead.
pub fn emit_encrypted_message(
    header: &Header,
    kind: EncryptedKind,
    first_inner: PayloadType,
    body_len: usize,
) -> (Vec<u8>, usize) {
    try_emit_encrypted_message(header, kind, first_inner, body_len)
        .unwrap_or_else(|error| panic!("{error}"))
}

/// [`emit_encrypted_message`] that reports a body too long for the payload length field instead
/// of panicking.
///
/// # Errors
///
/// A body that makes the SK or SKF payload longer than 65,535 bytes.
pub fn try_emit_encrypted_message(
    header: &Header,
    kind: EncryptedKind,
    first_inner: PayloadType,
    body_len: usize,
) -> Result<(Vec<u8>, usize), EmitError> {
    chain::emit_with_encrypted(header, &[], Some((kind, first_inner, body_len)))
}

/// One line describing a message, for logs and transcripts:
/// `IKE_AUTH request mid=1 [IDi AUTH SA TSi TSr N(INITIAL_CONTACT)]`.
///
/// `payloads` are the payloads known so far; `encrypted` says the message also carries an SK
/// payload that has not been decrypted, shown as `SK` after them (`[SK]` for a typical
/// encrypted message before decryption).
pub fn summary(header: &Header, payloads: &[Payload], encrypted: bool) -> String {
    summary::summarize(header, payloads, encrypted)
}

/// The most payloads accepted in one chain (outer or inner); a resource limit against hostile
/// input, far above the dozen or so a real message carries.
pub const MAX_PAYLOADS: usize = 256;
/// The most proposals accepted in one SA payload.
pub const MAX_PROPOSALS: usize = 64;
/// The most transforms accepted in one proposal.
pub const MAX_TRANSFORMS: usize = 64;
/// The most attributes accepted in one transform (RFC 7296 defines only KEY_LENGTH).
pub const MAX_ATTRIBUTES: usize = 16;
/// The most attributes accepted in one Configuration payload.
pub const MAX_CFG_ATTRIBUTES: usize = 256;

mod attribute;
mod chain;
mod cp;
mod eap;
mod encrypted;
mod header;
mod id;
mod ke;
mod notify;
mod payload;
#[cfg(test)]
mod proptests;
mod sa;
mod summary;
mod ts;

pub use attribute::AttributePacket;
pub use cp::CfgAttributePacket;
pub use cp::CpPacket;
pub use eap::EapPacket;
pub use encrypted::FragmentPacket;
pub use header::Packet;
pub use id::AuthPacket;
pub use id::CertPacket;
pub use id::IdPacket;
pub use ke::KePacket;
pub use ke::MAX_NONCE_LEN;
pub use ke::MIN_NONCE_LEN;
pub use notify::DeletePacket;
pub use notify::NotifyPacket;
pub use payload::PayloadPacket;
pub use sa::ProposalPacket;
pub use sa::TransformPacket;
pub use ts::SelectorPacket;
pub use ts::TsPacket;

/// Used by `TsPayload` and traffic selector emitters.
pub(crate) fn ts_type_of(selector: &TrafficSelector) -> TsType {
    match selector.start_address {
        IpAddr::V4(_) => TsType::IPV4_ADDR_RANGE,
        IpAddr::V6(_) => TsType::IPV6_ADDR_RANGE,
    }
}
