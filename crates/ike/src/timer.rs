//! The timers of an IKE SA (quinn's shape: a closed enum; the deadlines are derived from the
//! SA's state rather than stored, so they cannot go stale).

/// Something an IKE SA does at a point in time.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) enum Timer {
    /// Retransmit the outstanding request or give up ([RFC 7296 §2.1]).
    ///
    /// [RFC 7296 §2.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1
    Retransmit,
    /// A responder's half-open IKE SA waited too long for IKE_AUTH ([RFC 7296 §2.6]).
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    HalfOpen,
    /// Nothing heard from the peer for the DPD delay: check liveness ([RFC 7296 §2.4]).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    Dpd,
    /// Keep our NAT mapping open ([RFC 3948 §2.3]).
    ///
    /// [RFC 3948 §2.3]: https://www.rfc-editor.org/rfc/rfc3948#section-2.3
    NatKeepalive,
    /// Rekey the IKE SA ([RFC 7296 §2.18]).
    ///
    /// [RFC 7296 §2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
    IkeRekey,
    /// The IKE SA's hard lifetime passed: delete it.
    IkeExpire,
    /// A superseded IKE SA was not deleted by its peer in time: remove it quietly.
    Superseded,
    /// A Child SA timer (rekey, expiry, lingering inbound SA, outbound switch).
    Child,
}
