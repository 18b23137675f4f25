//! Sans-IO userspace ESP engine ([RFC 4303]): SAD, SPD, encapsulation, decapsulation and
//! anti-replay, shared by the data-plane worker threads by `&self`.
//!
//! The crate owns no thread, socket, clock or randomness: the daemon's workers bring packets in
//! buffers, the control side brings [`SaCommand`](hitless_sadb::SaCommand)s and the time, and the
//! crypto provider brings algorithms and the random source for CBC IVs.
//!
//! - [`DataPlane`] is the read side: [`DataPlane::encapsulate`] and
//!   [`DataPlane::decapsulate`] work in place on caller buffers and allocate nothing. The SAD
//!   and SPD are an immutable snapshot that the control side replaces atomically (RCU), so the
//!   read path takes no lock except an SA's own replay-window lock for a moment before and
//!   after the ICV check. Per-SA state (sequence counter, replay window, counters) lives in an
//!   `Arc` that outlives snapshot republication: a sequence number is never handed out twice
//!   for a key. With one SA per worker (RFC 9611 resources) workers write no shared cache line.
//! - [`DataPlaneControl`] is the write side and implements
//!   [`SaBackend`](hitless_sadb::SaBackend).
//! - [`DropReason`] says why a packet was dropped; [`DataPlane::drops`] counts them.
//!
//! Algorithms: AES-GCM ([RFC 4106]) and ChaCha20-Poly1305 ([RFC 7634]) with the sequence number
//! as the 8-byte IV, AES-CBC ([RFC 3602]) with HMAC-SHA2 ([RFC 4868]); 32-bit and extended
//! sequence numbers ([RFC 4303 §2.2.1], [§3.3.3], [Appendix A]); anti-replay ([§3.4.3]) with a
//! window of up to [`MAX_REPLAY_WINDOW`] packets; tunnel and transport mode; byte, packet and
//! sequence-space lifetimes.
//!
//! # Driving it
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! use hitless_esp::{Config, DataPlane, DropReason, HEADROOM, TAILROOM};
//! use hitless_sadb::{BackendEvent, SaBackend, SaCommand};
//!
//! fn drive(
//!     crypto: Arc<hitless_crypto::CryptoProvider>,
//!     commands: Vec<SaCommand>,
//!     packet_from_tun: &[u8],
//!     datagram_from_udp: &[u8],
//! ) -> Vec<BackendEvent> {
//!     let config = Config { checkpoint_packets: Some(1 << 16), ..Config::default() };
//!     let (plane, mut control) = DataPlane::new(config, crypto);
//!
//!     // Control side (the daemon's IKE task): apply the engine's commands in order.
//!     for command in &commands {
//!         if let Err(error) = control.apply(command) {
//!             // The daemon reports BackendEvent::InstallFailed to the engine.
//!             let _ = error;
//!         }
//!     }
//!
//!     // Each worker thread owns its buffers and shares `plane` (an `Arc<DataPlane>`).
//!     let mut buf = vec![0u8; HEADROOM + 2048 + TAILROOM];
//!     // Outbound: a packet read from the TUN queue at offset HEADROOM.
//!     let len = packet_from_tun.len();
//!     buf[HEADROOM..HEADROOM + len].copy_from_slice(packet_from_tun);
//!     match plane.encapsulate(None, &mut buf, HEADROOM, len) {
//!         Ok(sealed) => {
//!             // send sealed.bytes to sealed.remote: in UDP when sealed.udp_encap, else as
//!             // IP protocol 50
//!             let _ = (sealed.bytes, sealed.remote, sealed.udp_encap);
//!         }
//!         Err(DropReason::NoPolicy) => { /* not ours to protect */ }
//!         Err(_) => { /* counted in plane.drops() */ }
//!     }
//!     // Inbound: an ESP packet (UDP header already removed), decapsulated in place.
//!     let len = datagram_from_udp.len();
//!     buf[HEADROOM..HEADROOM + len].copy_from_slice(datagram_from_udp);
//!     if let Ok(opened) = plane.decapsulate(&mut buf, HEADROOM, len) {
//!         // write opened.inner to the TUN queue
//!         let _ = opened.inner;
//!     }
//!
//!     // Control side again: on its timer, take time-based checkpoints, then drain events
//!     // (expiries, first use of an inbound SA, acquires, checkpoints) into the engine.
//!     plane.poll_checkpoints(Instant::now());
//!     std::iter::from_fn(|| plane.poll_event()).collect()
//! }
//! ```
//!
//! To seal a batch of one flow (the segments of a TSO packet for one UDP GSO send), look the
//! policy up once with [`DataPlane::outbound_flow`] and call [`OutboundFlow::encapsulate`] on
//! each segment, laid out in one buffer at a stride of [`OutboundFlow::sealed_len`] plus
//! headroom.
//!
//! Sequence numbers follow wireguard-go's pipeline shape: one atomic increment per packet
//! assigns numbers serially per SA, the crypto then runs in parallel on the workers, and the
//! receiver's window absorbs the reordering that parallelism causes.
//!
//! [RFC 4303]: https://www.rfc-editor.org/rfc/rfc4303
//! [RFC 4303 §2.2.1]: https://www.rfc-editor.org/rfc/rfc4303#section-2.2.1
//! [§3.3.3]: https://www.rfc-editor.org/rfc/rfc4303#section-3.3.3
//! [§3.4.3]: https://www.rfc-editor.org/rfc/rfc4303#section-3.4.3
//! [Appendix A]: https://www.rfc-editor.org/rfc/rfc4303#appendix-A
//! [RFC 4106]: https://www.rfc-editor.org/rfc/rfc4106
//! [RFC 7634]: https://www.rfc-editor.org/rfc/rfc7634
//! [RFC 3602]: https://www.rfc-editor.org/rfc/rfc3602
//! [RFC 4868]: https://www.rfc-editor.org/rfc/rfc4868

mod control;
mod decap;
mod drop;
mod encap;
mod error;
mod events;
#[cfg(any(fuzzing, test))]
pub mod fuzzing;
mod ip;
mod plane;
pub mod replay;
mod sa;
mod snapshot;
mod transform;

pub use control::DataPlaneControl;
pub use drop::DropCounters;
pub use drop::DropReason;
pub use encap::OutboundFlow;
pub use error::InstallError;
pub use plane::Config;
pub use plane::DataPlane;
pub use plane::HEADROOM;
pub use plane::Opened;
pub use plane::Sealed;
pub use plane::TAILROOM;
pub use replay::DEFAULT_REPLAY_WINDOW;
pub use replay::MAX_REPLAY_WINDOW;
pub use sa::SaStats;
