//! The error taxonomy (STYLE.md §3.3): protocol errors say who is at fault and which Notify
//! answers them; API misuse is a separate type that never reaches the wire.

use hitless_crypto::CryptoError;
use hitless_sadb::BackendError;
use hitless_wire::ParseError;
use hitless_wire::ParseErrorKind;
use hitless_wire::registry::AuthMethod;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;

use crate::ids::ChildSaId;
use crate::ids::IkeSaId;

/// A protocol error while handling a message or running an exchange.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Error {
    /// The peer's message could not be parsed.
    #[error("peer sent malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// The peer broke a rule of the protocol.
    #[error("peer misbehaved: {0:?}")]
    PeerMisbehaved(PeerMisbehaved),
    /// No proposal of the peer's is acceptable to us (or ours to the peer).
    #[error("no acceptable proposal")]
    NoProposalChosen,
    /// The responder wants a different key exchange method ([RFC 7296 §1.2]); also what we
    /// answer when the initiator's KE payload is not for the group we selected.
    ///
    /// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
    #[error("invalid KE payload, {0} wanted")]
    InvalidKePayload(KeMethod),
    /// The traffic selectors have no acceptable intersection with our policy
    /// ([RFC 7296 §2.9]).
    ///
    /// [RFC 7296 §2.9]: https://www.rfc-editor.org/rfc/rfc7296#section-2.9
    #[error("traffic selectors unacceptable")]
    TsUnacceptable,
    /// The peer's AUTH payload or identity is not acceptable.
    #[error("authentication failed: {0:?}")]
    AuthenticationFailed(AuthFailure),
    /// The peer answered our request with an error notification.
    #[error("peer reported {0}")]
    PeerError(NotifyType),
    /// A local crypto operation failed (for example the random source).
    #[error("local crypto failure: {0}")]
    Crypto(CryptoError),
    /// The SA backend could not install an SA.
    #[error("backend failed: {0}")]
    Backend(BackendError),
    /// We cannot handle this now (for example a Child SA rekey while another exchange on the
    /// same Child SA is in progress, [RFC 7296 §2.25]).
    ///
    /// [RFC 7296 §2.25]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25
    #[error("temporary failure")]
    TemporaryFailure,
    /// The Child SA a request refers to does not exist ([RFC 7296 §2.25]).
    ///
    /// [RFC 7296 §2.25]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25
    #[error("Child SA not found")]
    ChildSaNotFound,
}

/// Ways in which a peer broke the protocol. Each names the clause it enforces.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PeerMisbehaved {
    /// RFC 7296 §1.2, §1.3: a payload the exchange requires is missing.
    MissingPayload(PayloadType),
    /// RFC 7296 §3.3.6: the response's SA payload holds more than one proposal, or a
    /// transform we did not offer.
    ProposalNotOffered,
    /// RFC 7296 §3.4: the KE payload's method differs from the negotiated one.
    KeMethodMismatch,
    /// RFC 7296 §3.4, RFC 6989: the KE data is not a valid value for its method.
    InvalidKeData,
    /// RFC 7296 §2.10: a nonce is shorter than 16 bytes or half the PRF key size.
    NonceTooShort,
    /// RFC 7296 §3.3.1: an SPI has the wrong size for its protocol.
    BadSpiSize,
    /// RFC 7296 §2.9: the responder's traffic selectors are not a subset of ours.
    TsNotSubset,
    /// RFC 7296 §1.3.1: the responder ignored USE_TRANSPORT_MODE, or answered it when not
    /// asked.
    ModeMismatch,
    /// RFC 7296 §2.5: a message in an exchange that is not allowed in the SA's state (for
    /// example CREATE_CHILD_SA before IKE_AUTH completed).
    UnexpectedExchange(ExchangeType),
    /// RFC 7296 §3.14: a message after IKE_SA_INIT was not protected with SK.
    Unprotected,
    /// RFC 7296 §2.6: a COOKIE notification of an invalid size (1 to 64 bytes).
    BadCookie,
    /// RFC 7296 §1.2: INVALID_KE_PAYLOAD asked for a group we did not offer, or the one we sent.
    BadInvalidKeRequest,
    /// RFC 7296 §2.23: a NAT_DETECTION payload of the wrong length.
    BadNatDetection,
    /// RFC 7296 §3.11: a DELETE payload with an SPI size that does not fit its protocol.
    BadDelete,
    /// RFC 7296 §2.15: the responder's IDr is not the identity we required.
    UnexpectedIdentity,
    /// RFC 7296 §3.10.1: a REKEY_SA notification for a protocol other than ESP or AH.
    BadRekeyNotify,
}

/// Why the peer's authentication was rejected ([RFC 7296 §2.15]).
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AuthFailure {
    /// The AUTH value does not verify.
    Mismatch,
    /// The peer used an authentication method this connection does not allow.
    MethodNotAllowed(AuthMethod),
    /// The peer's identity is not the one configured, or is of an unsupported type.
    IdentityMismatch,
    /// No connection accepts the peer's identity.
    NoMatchingConnection,
}

/// Misuse of the [`Endpoint`](crate::Endpoint) API. Never sent to a peer.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No connection has this name.
    #[error("unknown connection {0:?}")]
    UnknownConnection(String),
    /// The connection has no Child SA config of this name.
    #[error("unknown child config {0:?}")]
    UnknownChild(String),
    /// The connection cannot be initiated: it has no remote address.
    #[error("connection {0:?} has no remote address to initiate to")]
    NoRemoteAddress(String),
    /// No IKE SA has this id.
    #[error("unknown IKE SA {0}")]
    UnknownIkeSa(IkeSaId),
    /// No Child SA has this id.
    #[error("unknown Child SA {0}")]
    UnknownChildSa(ChildSaId),
    /// The SA is not in a state that allows this operation.
    #[error("IKE SA {0} is not in a state that allows this")]
    WrongState(IkeSaId),
    /// An imported snapshot is inconsistent or uses algorithms the provider lacks.
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(&'static str),
    /// The random source failed.
    #[error("crypto failure: {0}")]
    Crypto(CryptoError),
    /// None of the connection's proposals uses algorithms the crypto provider has.
    #[error("connection {0:?} has no proposal the crypto provider supports")]
    NoUsableProposal(String),
    /// The operation is not implemented yet.
    #[error("not supported yet: {0}")]
    NotSupported(&'static str),
}

impl Error {
    /// The error notification to send for this error in a response, or `None` when nothing
    /// should be sent ([RFC 7296 §2.21]).
    ///
    /// [RFC 7296 §2.21]: https://www.rfc-editor.org/rfc/rfc7296#section-2.21
    pub fn notify(&self) -> Option<NotifyType> {
        match self {
            Self::Malformed(parse) => match parse.kind {
                ParseErrorKind::UnsupportedCritical(_) => {
                    Some(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD)
                }
                ParseErrorKind::UnsupportedVersion(_) => Some(NotifyType::INVALID_MAJOR_VERSION),
                _ => Some(NotifyType::INVALID_SYNTAX),
            },
            Self::PeerMisbehaved(PeerMisbehaved::KeMethodMismatch) => {
                Some(NotifyType::INVALID_KE_PAYLOAD)
            }
            Self::PeerMisbehaved(PeerMisbehaved::TsNotSubset) => Some(NotifyType::TS_UNACCEPTABLE),
            Self::PeerMisbehaved(_) => Some(NotifyType::INVALID_SYNTAX),
            Self::NoProposalChosen => Some(NotifyType::NO_PROPOSAL_CHOSEN),
            Self::InvalidKePayload(_) => Some(NotifyType::INVALID_KE_PAYLOAD),
            Self::TsUnacceptable => Some(NotifyType::TS_UNACCEPTABLE),
            Self::AuthenticationFailed(_) => Some(NotifyType::AUTHENTICATION_FAILED),
            Self::TemporaryFailure => Some(NotifyType::TEMPORARY_FAILURE),
            Self::ChildSaNotFound => Some(NotifyType::CHILD_SA_NOT_FOUND),
            // A local failure: RFC 7296 §2.21.1 leaves us NO_PROPOSAL_CHOSEN-like choices; a
            // temporary failure lets the peer retry.
            Self::Crypto(_) | Self::Backend(_) => Some(NotifyType::TEMPORARY_FAILURE),
            Self::PeerError(_) => None,
        }
    }

    /// The counter this error is counted under.
    pub fn counter(&self) -> ErrorCounter {
        match self {
            Self::Malformed(_) => ErrorCounter::Malformed,
            Self::PeerMisbehaved(_) => ErrorCounter::PeerMisbehaved,
            Self::NoProposalChosen => ErrorCounter::NoProposalChosen,
            Self::InvalidKePayload(_) => ErrorCounter::InvalidKePayload,
            Self::TsUnacceptable => ErrorCounter::TsUnacceptable,
            Self::AuthenticationFailed(_) => ErrorCounter::AuthenticationFailed,
            Self::PeerError(_) => ErrorCounter::PeerError,
            Self::Crypto(_) => ErrorCounter::LocalCrypto,
            Self::Backend(_) => ErrorCounter::Backend,
            Self::TemporaryFailure => ErrorCounter::TemporaryFailure,
            Self::ChildSaNotFound => ErrorCounter::ChildSaNotFound,
        }
    }
}

impl From<PeerMisbehaved> for Error {
    fn from(value: PeerMisbehaved) -> Self {
        Self::PeerMisbehaved(value)
    }
}

impl From<CryptoError> for Error {
    fn from(value: CryptoError) -> Self {
        Self::Crypto(value)
    }
}

/// What inbound messages and exchanges are counted by, for metrics
/// ([`Endpoint::counters`](crate::Endpoint::counters)).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum ErrorCounter {
    /// A message that did not parse.
    Malformed,
    /// A message for an IKE SA we do not have ([RFC 7296 §2.21.4]).
    ///
    /// [RFC 7296 §2.21.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.21.4
    UnknownSpi,
    /// An SK payload whose integrity check or decryption failed.
    IntegrityCheckFailed,
    /// A request whose message ID is neither the next expected nor the last answered one
    /// ([RFC 7296 §2.3]).
    ///
    /// [RFC 7296 §2.3]: https://www.rfc-editor.org/rfc/rfc7296#section-2.3
    OutOfWindow,
    /// A response that matches no outstanding request ([RFC 7296 §2.1]).
    ///
    /// [RFC 7296 §2.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1
    UnmatchedResponse,
    /// A retransmitted request, answered from the response cache.
    RetransmittedRequest,
    /// A message that the SA's state does not allow.
    UnexpectedMessage,
    /// [`Error::PeerMisbehaved`].
    PeerMisbehaved,
    /// [`Error::NoProposalChosen`].
    NoProposalChosen,
    /// [`Error::InvalidKePayload`].
    InvalidKePayload,
    /// [`Error::TsUnacceptable`].
    TsUnacceptable,
    /// [`Error::AuthenticationFailed`].
    AuthenticationFailed,
    /// [`Error::PeerError`].
    PeerError,
    /// [`Error::Crypto`].
    LocalCrypto,
    /// [`Error::Backend`].
    Backend,
    /// [`Error::TemporaryFailure`].
    TemporaryFailure,
    /// [`Error::ChildSaNotFound`].
    ChildSaNotFound,
    /// A request retransmitted until the retry limit without an answer.
    RetransmitLimit,
    /// An unprotected INVALID_IKE_SPI left out because of the rate limit.
    InvalidSpiRateLimited,
    /// An IKE_SA_INIT request without a cookie while cookies are demanded, answered with a
    /// COOKIE ([RFC 7296 §2.6]).
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    CookieRequired,
    /// An IKE_SA_INIT request whose cookie is not ours for its nonce, address and SPI (forged,
    /// or replayed from another address) ([RFC 7296 §2.6]).
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    CookieInvalid,
    /// An IKE_SA_INIT request whose cookie was made with a secret that is no longer valid
    /// ([RFC 7296 §2.6]).
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    CookieExpired,
    /// An IKE_SA_INIT request dropped because its address has too many half-open IKE SAs
    /// ([RFC 8019 §4.1]).
    ///
    /// [RFC 8019 §4.1]: https://www.rfc-editor.org/rfc/rfc8019#section-4.1
    HalfOpenPerSource,
    /// An IKE_SA_INIT request dropped because too many IKE SAs are half-open
    /// ([RFC 8019 §4.1]).
    ///
    /// [RFC 8019 §4.1]: https://www.rfc-editor.org/rfc/rfc8019#section-4.1
    HalfOpenLimit,
    /// An RFC 6311 sync notification on an IKE SA where that extension was not negotiated
    /// ([RFC 6311 §3]): ignored.
    ///
    /// [RFC 6311 §3]: https://www.rfc-editor.org/rfc/rfc6311#section-3
    SyncNotNegotiated,
    /// A malformed RFC 6311 sync message: notify data of the wrong length, a duplicate or
    /// missing IKEV2_MESSAGE_ID_SYNC, or any other payload beside the sync notifications
    /// ([RFC 6311 §5]): dropped.
    ///
    /// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
    SyncMalformed,
    /// An RFC 6311 sync notification outside an INFORMATIONAL exchange at message ID 0:
    /// ignored.
    SyncMisplaced,
    /// An IKEV2_MESSAGE_ID_SYNC request whose sending counter is not above the highest the
    /// peer has sent (a replayed or delayed sync, [RFC 6311 §5.1]): dropped silently.
    ///
    /// [RFC 6311 §5.1]: https://www.rfc-editor.org/rfc/rfc6311#section-5.1
    SyncStale,
    /// Message-ID counters or a replay-counter delta beyond the sanity bounds: the message is
    /// dropped (counters) or the Child SAs rekeyed instead of advanced (delta).
    SyncOutOfBounds,
    /// An IKEV2_MESSAGE_ID_SYNC response whose nonce is not the one we sent ([RFC 6311 §5]).
    ///
    /// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
    SyncNonceMismatch,
}

impl ErrorCounter {
    /// A stable snake_case name for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownSpi => "unknown_spi",
            Self::IntegrityCheckFailed => "integrity_check_failed",
            Self::OutOfWindow => "out_of_window",
            Self::UnmatchedResponse => "unmatched_response",
            Self::RetransmittedRequest => "retransmitted_request",
            Self::UnexpectedMessage => "unexpected_message",
            Self::PeerMisbehaved => "peer_misbehaved",
            Self::NoProposalChosen => "no_proposal_chosen",
            Self::InvalidKePayload => "invalid_ke_payload",
            Self::TsUnacceptable => "ts_unacceptable",
            Self::AuthenticationFailed => "authentication_failed",
            Self::PeerError => "peer_error",
            Self::LocalCrypto => "local_crypto",
            Self::Backend => "backend",
            Self::TemporaryFailure => "temporary_failure",
            Self::ChildSaNotFound => "child_sa_not_found",
            Self::RetransmitLimit => "retransmit_limit",
            Self::InvalidSpiRateLimited => "invalid_spi_rate_limited",
            Self::CookieRequired => "cookie_required",
            Self::CookieInvalid => "cookie_invalid",
            Self::CookieExpired => "cookie_expired",
            Self::HalfOpenPerSource => "half_open_per_source",
            Self::HalfOpenLimit => "half_open_limit",
            Self::SyncNotNegotiated => "sync_not_negotiated",
            Self::SyncMalformed => "sync_malformed",
            Self::SyncMisplaced => "sync_misplaced",
            Self::SyncStale => "sync_stale",
            Self::SyncOutOfBounds => "sync_out_of_bounds",
            Self::SyncNonceMismatch => "sync_nonce_mismatch",
        }
    }
}
