//! Sans-IO HA state sync between cluster nodes (ARCHITECTURE.md §2.7, docs/design/ha.md).
//!
//! An [`HaNode`] replicates the active node's IKE SAs and Child SAs, as plain
//! [`IkeSaSnapshot`](hitless_ike::IkeSaSnapshot)s with their derived keys, to the other
//! members, which hold them passive; ESP sequence numbers follow as checkpoints every N packets
//! or T milliseconds. A standby that keepalived makes active imports every SA with its outbound
//! sequence numbers moved past anything the old node can have used and activates them: no new
//! keys, no rekey, no sequence number used twice. Who is active is keepalived's decision, told
//! through [`HaNode::set_role`]; the node's own heartbeats only measure lag and raise alarms.
//!
//! Like the engine it owns no socket, clock, thread or randomness: time comes in as an
//! [`Instant`](std::time::Instant), randomness (the session id, challenge nonces) from the
//! [`CryptoProvider`](hitless_crypto::CryptoProvider) it is given, datagrams through
//! [`HaNode::handle_sync`], and everything it wants done comes out of one ordered queue.
//!
//! # The driving loop
//!
//! The daemon's IKE task owns both the engine and the node:
//!
//! ```ignore
//! let mut ha = HaNode::new(config, Arc::clone(&crypto), now())?;
//! loop {
//!     match wait(min(endpoint.poll_timeout(), ha.poll_timeout())) {
//!         Input::Ike(d) => endpoint.handle_datagram(now(), d),
//!         Input::Sync(bytes) => { let _ = ha.handle_sync(now(), &bytes); } // drops are counted
//!         Input::Backend(event) => {
//!             ha.handle_backend_event(now(), &event); // sequence checkpoints
//!             endpoint.handle_backend_event(now(), event);
//!         }
//!         Input::Notify(role) => ha.set_role(now(), role, &endpoint), // hitlessctl ha …
//!         Input::Timeout => { endpoint.handle_timeout(now()); ha.handle_timeout(now()); }
//!     }
//!     loop {
//!         // Engine first: its events feed the node.
//!         while let Some(output) = endpoint.poll_output() {
//!             match output {
//!                 Output::Transmit(t) => ike_socket.send(t),
//!                 Output::Sa(command) => backend.apply(&command),
//!                 Output::Event(event) => ha.handle_engine_event(now(), &event, &endpoint),
//!             }
//!         }
//!         let Some(output) = ha.poll_output() else { break };
//!         match apply_to_endpoint(output, &mut endpoint, now()) {
//!             Applied::Done => {}
//!             Applied::ImportFailed(spis, _) => ha.import_failed(spis),
//!             Applied::Io(HaOutput::Send(t)) => sync_socket.send_to(&t.payload, addr(t.to)),
//!             Applied::Io(HaOutput::Sa(command)) => backend.apply(&command),
//!             Applied::Io(_) => unreachable!(),
//!         }
//!     }
//! }
//! ```
//!
//! Order matters: a takeover's [`HaOutput::Import`]s carry the sequence numbers the data plane
//! must start from, so they are applied before the [`HaOutput::Activate`] that installs the
//! SAs; a demotion's [`HaOutput::Deactivate`] and the deletes after it stop every SA before the
//! heartbeat that tells the others.
//!
//! # Layout
//!
//! `message` and `sa_codec` are the versioned TLV records (`tlv` the attribute layer);
//! `channel` the datagram header and AEAD; `stream` ordering, NACKs and retransmission;
//! `cache` what the node knows of every SA; `observe` the active side (engine events and
//! checkpoints to records); `dispatch` the receiving side (records to engine operations);
//! `takeover` role changes and the sequence-number bound; `node` the state machine and
//! timers.

mod cache;
mod channel;
mod config;
mod dispatch;
#[cfg(any(fuzzing, test))]
pub mod fuzzing;
mod message;
mod node;
mod observe;
mod output;
mod sa_codec;
mod status;
mod stream;
mod takeover;
#[cfg(any(fuzzing, test))]
mod test_support;
#[cfg(test)]
mod tests;
mod tlv;

pub use config::CheckpointPolicy;
pub use config::ConfigError;
pub use config::HaConfig;
pub use config::MessageIdPolicy;
pub use config::NodeId;
pub use config::StreamSettings;
pub use config::TakeoverPolicy;
pub use node::HaNode;
pub use output::Applied;
pub use output::ChildTakeover;
pub use output::HaOutput;
pub use output::SyncTransmit;
pub use output::Takeover;
pub use output::apply_to_endpoint;
pub use status::DropReason;
pub use status::HaCounters;
pub use status::HaStatus;
pub use status::PeerStatus;
pub use status::Role;
