//! IKEv2 and ESP wire formats for hitless.
//!
//! Two layers, in the style of smoltcp:
//!
//! - **Views** (`Packet<T: AsRef<[u8]>>`) check lengths once with `new_checked` and then give
//!   field accessors over the caller's buffer without copying.
//! - **Representations** (`…Repr`, and the payload structs in [`ike`]) are owned, validated
//!   values that parse from a view and emit into a buffer. `parse(emit(x)) == x` for every valid
//!   representation (property-tested).
//!
//! IANA registries ([`registry`]) are open newtypes, so unknown values survive a round trip.
//! Nothing here panics on any input: every length is checked and errors are typed
//! ([`ParseError`]), naming the payload and field.

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
