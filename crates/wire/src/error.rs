//! Parse and emit errors that say which payload and which field failed.
//!
//! Parse errors come from the network and feed the engine's choice of answer (RFC 7296 §2.21:
//! INVALID_SYNTAX, UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_MAJOR_VERSION). Emit errors come from a
//! locally built representation whose values do not fit their wire fields.

use crate::registry::PayloadType;

/// A wire-format error, with the payload and field it was found in.
///
/// The engine uses `payload` and `field` for logs and to choose its answer (INVALID_SYNTAX,
/// UNSUPPORTED_CRITICAL_PAYLOAD); nothing in it is secret.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{payload} payload, field {field}: {kind}")]
pub struct ParseError {
    /// The payload being parsed, [`PayloadType::NONE`] for the IKE header and non-IKE formats.
    pub payload: PayloadType,
    /// The field that failed, as named in the RFC figure (for example `"payload length"`).
    pub field: &'static str,
    /// What was wrong with it.
    pub kind: ParseErrorKind,
}

/// What was wrong with a field.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The buffer ended before the field did.
    #[error("truncated")]
    Truncated,
    /// A length field is smaller than the fixed part it must cover, or larger than what contains
    /// it.
    #[error("bad length")]
    BadLength,
    /// A value that the RFC forbids (reserved bits set where they must be zero are ignored, per
    /// RFC 7296 §2.5, and are not reported).
    #[error("invalid value")]
    InvalidValue,
    /// Fields that contradict each other (e.g. an IPv4 traffic selector with a 16-byte address).
    #[error("inconsistent with another field")]
    Inconsistent,
    /// An unknown payload with the critical bit set (RFC 7296 §2.5): the engine answers
    /// UNSUPPORTED_CRITICAL_PAYLOAD with this type.
    #[error("unsupported critical payload {0}")]
    UnsupportedCritical(PayloadType),
    /// The IKE major version is not 2 (RFC 7296 §2.5: INVALID_MAJOR_VERSION).
    #[error("unsupported major version {0}")]
    UnsupportedVersion(u8),
    /// Data after the last payload of a chain.
    #[error("trailing data")]
    TrailingData,
    /// More items than this implementation accepts in one message (a resource limit).
    #[error("too many items")]
    TooMany,
}

impl ParseError {
    /// Builds an error for `field` of `payload`.
    pub const fn new(payload: PayloadType, field: &'static str, kind: ParseErrorKind) -> Self {
        Self {
            payload,
            field,
            kind,
        }
    }

    /// The same error attributed to `payload` (views shared by IDi/IDr or TSi/TSr, and the
    /// generic header, do not know which payload they are part of).
    pub(crate) const fn in_payload(self, payload: PayloadType) -> Self {
        Self { payload, ..self }
    }
}

/// A representation that cannot be emitted because a value does not fit its wire field (for
/// example a payload body over 65,531 bytes, more than 255 transforms, or a TLV attribute type
/// with the AF bit set).
///
/// Representations produced by the parsers always fit; only locally built ones can fail.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("cannot emit {payload} payload: field {field} out of range")]
pub struct EmitError {
    /// The payload being emitted, [`PayloadType::NONE`] for the IKE header and non-IKE formats.
    pub payload: PayloadType,
    /// The field whose value does not fit.
    pub field: &'static str,
}

impl EmitError {
    /// Builds an error for `field` of `payload`.
    pub const fn new(payload: PayloadType, field: &'static str) -> Self {
        Self { payload, field }
    }

    /// The same error attributed to `payload`.
    pub(crate) const fn in_payload(self, payload: PayloadType) -> Self {
        Self { payload, ..self }
    }
}
