//! Sans-IO IKEv2 engine ([RFC 7296]).
//!
//! One [`Endpoint`] owns every IKE SA of a daemon. It has no sockets, clocks, threads or locks:
//! time comes in as an [`Instant`](std::time::Instant) argument, randomness from the
//! [`CryptoProvider`](hitless_crypto::CryptoProvider)'s random source, bytes through
//! [`Endpoint::handle_datagram`]. Everything it wants done comes out of **one ordered queue**
//! ([`Endpoint::poll_output`]): IKE messages to send, SA commands for the data plane, and
//! lifecycle events. The order is part of the contract: for example, a responder's inbound Child
//! SA is installed before the response that announces it is transmitted ([RFC 7296 §2.8]).
//!
//! # The driving loop
//!
//! ```ignore
//! let mut endpoint = Endpoint::new(config, crypto);
//! endpoint.start(now); // start actions of the config
//! loop {
//!     // Wait for the first of: a datagram, the timeout, a backend event, a control request.
//!     match wait(endpoint.poll_timeout()) {
//!         Input::Datagram(d) => endpoint.handle_datagram(now(), d),
//!         Input::Timeout => endpoint.handle_timeout(now()),
//!         Input::Backend(event) => endpoint.handle_backend_event(now(), event),
//!         Input::Control(request) => { let _ = endpoint.initiate(now(), &request.name); }
//!     }
//!     // After every input: drain the queue completely, in order ...
//!     while let Some(output) = endpoint.poll_output() {
//!         match output {
//!             Output::Transmit(t) => socket_for(t.local).send_to(&frame(&t), t.remote),
//!             Output::Sa(command) => backend.apply(&command),   // errors → InstallFailed
//!             Output::Event(event) => { ha.observe(&event); control.publish(&event); }
//!         }
//!     }
//!     // ... then re-read poll_timeout() for the next wake-up.
//! }
//! ```
//!
//! - A datagram received on UDP port 4500 is passed *without* its non-ESP marker (RFC 3948 §2.2);
//!   [`Transmit::non_esp_marker`] says when the driver must prepend one.
//!   [`Transmit::keepalive`] marks a NAT keepalive (RFC 3948 §2.3), sent as is.
//! - `handle_timeout` may be called early or spuriously; it only acts on what is due.
//! - Backend failures to apply an [`Output::Sa`] go back in as
//!   [`BackendEvent::InstallFailed`](hitless_sadb::BackendEvent::InstallFailed).
//!
//! # Determinism
//!
//! Given the same config, the same provider random stream and the same inputs at the same
//! `Instant`s, an endpoint produces the same outputs. Internal tables are ordered maps; nothing
//! depends on hash order or on the OS. This is what the simulator (`hitless-sim`) relies on.
//!
//! # Layout
//!
//! [`endpoint`](Endpoint) demultiplexes by SPI ([RFC 7296 §2.6]); `ike_sa` holds one IKE SA with
//! its state enum, keys and message window; `exchange::*` has one module per exchange task
//! (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL); `proposal`, `ts`, `auth` and `nat`
//! hold the negotiation pieces. `docs/compliance.md` maps RFC sections to modules and tests.
//!
//! [RFC 7296]: https://www.rfc-editor.org/rfc/rfc7296
//! [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
//! [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8

mod admission;
mod auth;
mod child_sa;
pub mod config;
mod cookie;
mod endpoint;
mod error;
mod event;
mod exchange;
mod ha;
mod half_open;
mod ids;
mod ike_sa;
mod info;
mod message;
mod nat;
mod output;
mod proposal;
mod snapshot;
mod tables;
mod takeover;
mod timer;
mod ts;

pub use config::Config;
pub use endpoint::Counters;
pub use endpoint::Datagram;
pub use endpoint::Endpoint;
pub use endpoint::Output;
pub use endpoint::Transmit;
pub use error::ApiError;
pub use error::AuthFailure;
pub use error::Error;
pub use error::ErrorCounter;
pub use error::PeerMisbehaved;
pub use event::DeleteReason;
pub use event::Event;
pub use event::FailureReason;
pub use ids::ChildSaId;
pub use ids::IkeSaId;
pub use ids::IkeSpis;
pub use ids::MessageId;
pub use info::ChildSaInfo;
pub use info::ChildSaState;
pub use info::IkeSaCounters;
pub use info::IkeSaInfo;
pub use info::IkeSaState;
pub use info::NatState;
pub use info::Rfc6311Support;
pub use proposal::ChildAlgorithms;
pub use proposal::IkeAlgorithms;
pub use snapshot::CachedMessage;
pub use snapshot::ChildKeys;
pub use snapshot::ChildSaSnapshot;
pub use snapshot::IkeSaSnapshot;
pub use snapshot::InFlight;
pub use snapshot::OutstandingRequest;
pub use snapshot::WindowSnapshot;
pub use takeover::ReplayFallback;
pub use takeover::TakeoverPlan;
