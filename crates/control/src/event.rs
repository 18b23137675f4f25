//! Events streamed to subscribed clients (`hitlessctl events`): SA lifecycle, failures with
//! their reasons, HA role changes, reloads and, on request, log lines.

use std::net::SocketAddr;

use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use serde::Deserialize;
use serde::Serialize;

use crate::message::LogLevel;
use crate::response::ChildSaId;
use crate::response::HaRole;
use crate::response::IkeSaId;

/// Something that happened.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// An IKE SA completed IKE_AUTH.
    IkeSaEstablished {
        /// The IKE SA.
        ike_sa: IkeSaId,
        /// Its connection.
        connection: String,
        /// The peer's address.
        remote: SocketAddr,
        /// The peer's authenticated identity.
        remote_id: String,
    },
    /// An IKE SA was replaced by a rekey (RFC 7296 §2.18).
    IkeSaRekeyed {
        /// The old IKE SA.
        old: IkeSaId,
        /// The new IKE SA.
        new: IkeSaId,
        /// Its connection.
        connection: String,
    },
    /// An IKE SA is gone.
    IkeSaDeleted {
        /// The IKE SA.
        ike_sa: IkeSaId,
        /// Its connection.
        connection: String,
        /// Why (`terminated`, `peer-deleted`, `dpd-timeout`, `expired`, …).
        reason: String,
    },
    /// An IKE SA could not be established or was torn down by an error.
    IkeSaFailed {
        /// The IKE SA, if one was created.
        ike_sa: Option<IkeSaId>,
        /// Its connection, if known.
        connection: Option<String>,
        /// The peer's address.
        remote: Option<SocketAddr>,
        /// What went wrong, for people.
        error: String,
    },
    /// A Child SA is carrying traffic.
    ChildSaInstalled {
        /// Its IKE SA.
        ike_sa: IkeSaId,
        /// The Child SA.
        child_sa: ChildSaId,
        /// Its configured name.
        name: String,
        /// Our inbound SPI.
        #[serde(with = "crate::serde_hex::spi")]
        spi_in: Spi,
        /// Our outbound SPI.
        #[serde(with = "crate::serde_hex::spi")]
        spi_out: Spi,
        /// The RFC 9611 resource, if any.
        #[serde(with = "crate::serde_hex::resource")]
        resource: Option<ResourceId>,
    },
    /// A Child SA could not be created (no proposal chosen, traffic selectors unacceptable, …).
    ChildSaFailed {
        /// Its IKE SA.
        ike_sa: IkeSaId,
        /// Its configured name.
        name: String,
        /// What went wrong, for people.
        error: String,
    },
    /// A Child SA was replaced by a rekey (RFC 7296 §2.8).
    ChildSaRekeyed {
        /// Its IKE SA.
        ike_sa: IkeSaId,
        /// The old Child SA.
        old: ChildSaId,
        /// The new Child SA.
        new: ChildSaId,
        /// Its configured name.
        name: String,
        /// The new inbound SPI.
        #[serde(with = "crate::serde_hex::spi")]
        spi_in: Spi,
        /// The new outbound SPI.
        #[serde(with = "crate::serde_hex::spi")]
        spi_out: Spi,
    },
    /// A Child SA is gone.
    ChildSaDeleted {
        /// Its IKE SA.
        ike_sa: IkeSaId,
        /// The Child SA.
        child_sa: ChildSaId,
        /// Its configured name.
        name: String,
        /// Why.
        reason: String,
    },
    /// This node's HA role changed.
    HaRoleChanged {
        /// The new role.
        role: HaRole,
    },
    /// The configuration was reloaded.
    ConfigReloaded {
        /// Connections added.
        added: Vec<String>,
        /// Connections removed.
        removed: Vec<String>,
        /// Connections changed.
        changed: Vec<String>,
    },
    /// A log line (only with `subscribe { logs }`).
    Log {
        /// Its level.
        level: LogLevel,
        /// The module that wrote it.
        target: String,
        /// The line, with its structured fields.
        message: String,
    },
}
