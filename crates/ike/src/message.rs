//! Decoded inbound messages and outgoing message contents, with accessors for the payloads an
//! exchange looks for ([RFC 7296 §3]).
//!
//! [RFC 7296 §3]: https://www.rfc-editor.org/rfc/rfc7296#section-3

use hitless_wire::ike::AuthPayload;
use hitless_wire::ike::DeletePayload;
use hitless_wire::ike::Header;
use hitless_wire::ike::IdPayload;
use hitless_wire::ike::KePayload;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::ike::SaPayload;
use hitless_wire::ike::TsPayload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;

use crate::error::Error;
use crate::error::PeerMisbehaved;

/// An inbound message: its header and its payloads (decrypted, for an SK message).
#[derive(Clone, Debug)]
pub(crate) struct Message {
    /// The IKE header.
    pub header: Header,
    /// The payloads, inner payloads of SK included (in place of SK).
    pub payloads: Vec<Payload>,
}

/// The payloads of a message we are about to send.
#[derive(Clone, Debug, Default)]
pub(crate) struct Body {
    /// The payloads, in order.
    pub payloads: Vec<Payload>,
}

/// A request an exchange wants sent: its type and payloads. The window assigns the message ID.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The exchange type.
    pub exchange: ExchangeType,
    /// The payloads.
    pub body: Body,
}

impl Message {
    /// The SA payload.
    pub(crate) fn sa(&self) -> Option<&SaPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::Sa(sa) => Some(sa),
            _ => None,
        })
    }

    /// The KE payload.
    pub(crate) fn ke(&self) -> Option<&KePayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::Ke(ke) => Some(ke),
            _ => None,
        })
    }

    /// The nonce data.
    pub(crate) fn nonce(&self) -> Option<&[u8]> {
        self.payloads.iter().find_map(|p| match p {
            Payload::Nonce(n) => Some(n.data.as_slice()),
            _ => None,
        })
    }

    /// IDi.
    pub(crate) fn id_i(&self) -> Option<&IdPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::IdI(id) => Some(id),
            _ => None,
        })
    }

    /// IDr.
    pub(crate) fn id_r(&self) -> Option<&IdPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::IdR(id) => Some(id),
            _ => None,
        })
    }

    /// AUTH.
    pub(crate) fn auth(&self) -> Option<&AuthPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::Auth(auth) => Some(auth),
            _ => None,
        })
    }

    /// TSi.
    pub(crate) fn ts_i(&self) -> Option<&TsPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::TsI(ts) => Some(ts),
            _ => None,
        })
    }

    /// TSr.
    pub(crate) fn ts_r(&self) -> Option<&TsPayload> {
        self.payloads.iter().find_map(|p| match p {
            Payload::TsR(ts) => Some(ts),
            _ => None,
        })
    }

    /// Every Notify payload.
    pub(crate) fn notifies(&self) -> impl Iterator<Item = &NotifyPayload> {
        self.payloads.iter().filter_map(|p| match p {
            Payload::Notify(n) => Some(n),
            _ => None,
        })
    }

    /// The first Notify of `kind`.
    pub(crate) fn notify(&self, kind: NotifyType) -> Option<&NotifyPayload> {
        self.notifies().find(|n| n.notify_type == kind)
    }

    /// Whether a Notify of `kind` is present.
    pub(crate) fn has_notify(&self, kind: NotifyType) -> bool {
        self.notify(kind).is_some()
    }

    /// The first error Notify (type below 16384), which decides the outcome of a response
    /// ([RFC 7296 §3.10.1]).
    ///
    /// [RFC 7296 §3.10.1]: https://www.rfc-editor.org/rfc/rfc7296#section-3.10.1
    pub(crate) fn error_notify(&self) -> Option<NotifyType> {
        self.notifies()
            .map(|n| n.notify_type)
            .find(|t| t.is_error())
    }

    /// Every Delete payload.
    pub(crate) fn deletes(&self) -> impl Iterator<Item = &DeletePayload> {
        self.payloads.iter().filter_map(|p| match p {
            Payload::Delete(d) => Some(d),
            _ => None,
        })
    }

    /// A required payload, or [`PeerMisbehaved::MissingPayload`].
    pub(crate) fn require<'m, T>(
        &'m self,
        kind: PayloadType,
        get: impl Fn(&'m Self) -> Option<T>,
    ) -> Result<T, Error> {
        get(self).ok_or(Error::PeerMisbehaved(PeerMisbehaved::MissingPayload(kind)))
    }
}

impl Body {
    /// An empty body.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends a payload.
    pub(crate) fn push(&mut self, payload: Payload) -> &mut Self {
        self.payloads.push(payload);
        self
    }

    /// Appends a Notify without SPI.
    pub(crate) fn notify(&mut self, kind: NotifyType, data: Vec<u8>) -> &mut Self {
        self.push(Payload::Notify(notify(kind, data)))
    }

    /// A body holding only an error notification.
    pub(crate) fn error(kind: NotifyType, data: Vec<u8>) -> Self {
        let mut body = Self::new();
        body.notify(kind, data);
        body
    }
}

/// A Notify payload without SPI.
pub(crate) fn notify(kind: NotifyType, data: Vec<u8>) -> NotifyPayload {
    NotifyPayload {
        protocol: ProtocolId::NONE,
        spi: Vec::new(),
        notify_type: kind,
        data,
    }
}
