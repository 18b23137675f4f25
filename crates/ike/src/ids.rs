//! Identifiers of IKE SAs, Child SAs and messages.

use std::fmt;

use hitless_sadb::IkeSpi;

/// A local handle for one IKE SA in an [`Endpoint`](crate::Endpoint).
///
/// Handles are never reused within one endpoint. They are local: another node (an HA peer) names
/// the same IKE SA by its [`IkeSpis`].
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct IkeSaId(pub u64);

/// A local handle for one Child SA in an [`Endpoint`](crate::Endpoint), unique across all IKE SAs.
///
/// A rekeyed Child SA is a new SA with a new handle; it keeps the old one's
/// [`ReqId`](hitless_sadb::ReqId).
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ChildSaId(pub u64);

/// The SPI pair that names an IKE SA on the wire and across nodes ([RFC 7296 §2.6]).
///
/// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct IkeSpis {
    /// The original initiator's SPI.
    pub initiator: IkeSpi,
    /// The original responder's SPI; zero until the IKE_SA_INIT response.
    pub responder: IkeSpi,
}

/// An IKE message ID ([RFC 7296 §2.2]).
///
/// [RFC 7296 §2.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct MessageId(pub u32);

impl fmt::Display for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Debug for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IkeSaId({})", self.0)
    }
}

impl fmt::Display for ChildSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Debug for ChildSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChildSaId({})", self.0)
    }
}

impl fmt::Display for IkeSpis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_i {}_r", self.initiator, self.responder)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
