//! Lifecycle events for control clients, HA replication and logs.

use std::net::SocketAddr;

use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;

use crate::config::Identity;
use crate::error::Error;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::ids::IkeSpis;

/// Something that happened to an SA. Emitted through [`Output::Event`](crate::Output::Event) in
/// order with the SA commands and transmits that caused it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Event {
    /// An IKE SA completed IKE_AUTH (or an IKE SA rekey installed it).
    IkeSaEstablished {
        /// The IKE SA.
        ike: IkeSaId,
        /// Its connection.
        connection: String,
        /// Its SPIs.
        spis: IkeSpis,
        /// Whether we are its original initiator.
        initiator: bool,
        /// Our address.
        local: SocketAddr,
        /// The peer's address.
        remote: SocketAddr,
        /// Our identity.
        local_id: Identity,
        /// The peer's authenticated identity.
        remote_id: Identity,
    },
    /// An IKE SA was replaced by a rekey ([RFC 7296 §2.18]); its Child SAs moved to `new`.
    ///
    /// Simultaneous rekeys ([§2.8.2]) may move them again: from the new IKE SA we created by
    /// answering the peer's rekey to the one our own rekey created, or, if the peer deleted the
    /// former first, back to the old IKE SA until our rekey completes. Each move is one event,
    /// `old` being the IKE SA that gave them up.
    ///
    /// [RFC 7296 §2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
    /// [§2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    IkeSaRekeyed {
        /// The old IKE SA.
        old: IkeSaId,
        /// The new IKE SA.
        new: IkeSaId,
        /// The new SA's SPIs.
        spis: IkeSpis,
    },
    /// An IKE SA is gone, and with it all of its Child SAs (each reported separately before).
    IkeSaDeleted {
        /// The IKE SA.
        ike: IkeSaId,
        /// Its SPIs.
        spis: IkeSpis,
        /// Why.
        reason: DeleteReason,
    },
    /// An IKE SA could not be established, or was torn down by an error. Its Child SAs (if
    /// any) are reported deleted before this event.
    IkeSaFailed {
        /// The IKE SA.
        ike: IkeSaId,
        /// Its connection.
        connection: String,
        /// Its SPIs.
        spis: IkeSpis,
        /// The peer's address.
        remote: SocketAddr,
        /// Why.
        reason: FailureReason,
    },
    /// Addresses or NAT state of an IKE SA changed ([RFC 7296 §2.23]).
    ///
    /// [RFC 7296 §2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23
    IkeSaAddressesChanged {
        /// The IKE SA.
        ike: IkeSaId,
        /// Its SPIs.
        spis: IkeSpis,
        /// Our address.
        local: SocketAddr,
        /// The peer's address.
        remote: SocketAddr,
    },
    /// An IKE SA's message IDs advanced: an exchange completed in either direction. HA
    /// replication uses it to keep a standby's counters current (ARCHITECTURE.md §2.7).
    MessageIdsChanged {
        /// The IKE SA.
        ike: IkeSaId,
        /// Its SPIs.
        spis: IkeSpis,
        /// The ID our next request will use.
        next_request: u32,
        /// The ID we expect on the peer's next request.
        next_expected: u32,
    },
    /// A Child SA's inbound and outbound SAs are installed and its traffic is routed to it.
    ChildSaInstalled {
        /// The IKE SA it belongs to.
        ike: IkeSaId,
        /// The Child SA.
        child: ChildSaId,
        /// Its config name.
        name: String,
        /// Its policy slot.
        reqid: ReqId,
        /// Our inbound SPI.
        spi_in: Spi,
        /// The peer's SPI (our outbound SA).
        spi_out: Spi,
        /// Tunnel or transport.
        mode: Mode,
        /// Our side's negotiated selectors.
        local_ts: Vec<TrafficSelector>,
        /// The peer's side's negotiated selectors.
        remote_ts: Vec<TrafficSelector>,
    },
    /// A Child SA was replaced by a rekey ([RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    ChildSaRekeyed {
        /// The IKE SA it belongs to.
        ike: IkeSaId,
        /// The replaced Child SA.
        old: ChildSaId,
        /// The new Child SA.
        new: ChildSaId,
        /// The new inbound SPI.
        spi_in: Spi,
        /// The new outbound SPI.
        spi_out: Spi,
    },
    /// A Child SA was deleted and its SAs removed.
    ChildSaDeleted {
        /// The IKE SA it belonged to.
        ike: IkeSaId,
        /// The Child SA.
        child: ChildSaId,
        /// Its config name.
        name: String,
        /// Our inbound SPI.
        spi_in: Spi,
        /// The peer's SPI.
        spi_out: Spi,
        /// Why.
        reason: DeleteReason,
    },
    /// A Child SA could not be created (the IKE SA stays up).
    ChildSaFailed {
        /// The IKE SA.
        ike: IkeSaId,
        /// The Child SA config name.
        name: String,
        /// Why.
        reason: FailureReason,
    },
}

/// Why an SA was deleted.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DeleteReason {
    /// We were asked to ([`Endpoint::terminate_ike`](crate::Endpoint::terminate_ike) and
    /// friends).
    Local,
    /// The peer deleted it.
    Peer,
    /// The peer stopped answering ([RFC 7296 §2.4]).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    PeerDead,
    /// Its hard lifetime passed.
    Expired,
    /// It was replaced by a rekey and its successor carries the traffic.
    Rekeyed,
    /// Its IKE SA was deleted or failed.
    IkeSaGone,
    /// The peer started a new IKE SA with INITIAL_CONTACT ([RFC 7296 §2.4]).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    InitialContact,
}

/// Why an SA failed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum FailureReason {
    /// A request went unanswered through all retransmissions ([RFC 7296 §2.1, §2.4]).
    PeerUnreachable,
    /// A half-open IKE SA timed out.
    HalfOpenTimeout,
    /// The exchange failed with a protocol error: ours (we sent the matching notify) or the
    /// peer's ([`Error::PeerError`]).
    Protocol(Error),
    /// The SA backend could not install the SAs.
    Backend(String),
}
