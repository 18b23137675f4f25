//! IKEv2 and ESP wire formats for hitless.
//!
//! Two layers, in the style of smoltcp:
//!
//! - **Views** (`Packet<T: AsRef<[u8]>>`, `ProposalPacket<T>`, `TsPacket<T>`, …) check lengths
//!   once with `new_checked` and then give field accessors (and setters, for `AsMut` buffers)
//!   over the caller's buffer without copying.
//! - **Representations** (the [`ike::Header`] and payload structs in [`ike`], [`esp::Header`],
//!   [`esp::Trailer`]) are owned, validated values that parse from a view and emit into a buffer
//!   through the same views. `parse(emit(x)) == x` for every valid representation
//!   (property-tested), and messages captured from strongSwan re-emit byte for byte.
//!
//! IANA registries ([`registry`]) are open newtypes, so unknown values survive a round trip.
//! Nothing here panics on any input: every length is checked and errors are typed
//! ([`ParseError`]), naming the payload and field; a representation whose values do not fit its
//! wire fields is an [`EmitError`]. Hostile input meets resource limits ([`ike::MAX_PAYLOADS`]
//! and friends). The fuzz entry points live in `fuzzing` (compiled under `cfg(fuzzing)` and in
//! tests, where the committed corpora are replayed).

mod bytes;
pub mod error;
pub mod esp;
#[cfg(any(fuzzing, test))]
pub mod fuzzing;
pub mod ike;
pub mod registry;

pub use error::EmitError;
pub use error::ParseError;
pub use error::ParseErrorKind;
