//! The control protocol between hitlessd and hitlessctl (or any script).
//!
//! hitlessd listens on a Unix socket (`/run/hitless/hitlessd.sock`, mode 0600). Each message is
//! a frame: a 4-byte big-endian length and a JSON body of at most [`MAX_FRAME_LEN`] bytes
//! ([`codec`]). The first exchange is a version handshake ([`Hello`]); then the client sends
//! [`Request`]s with ids of its choice and the daemon answers each with a [`Response`] or a typed
//! [`ControlError`] carrying the same id. A client that sent [`Request::Subscribe`] also receives
//! [`Event`]s, strongSwan vici's shape with WireGuard UAPI's simplicity. See `docs/cli.md` for
//! the commands built on it.
//!
//! - the CLI uses the blocking [`Client`];
//! - the daemon binds its socket with [`ControlSocket::bind`] (one daemon per socket, mode
//!   0600), feeds received bytes to a [`FrameDecoder`] and each frame to a [`ServerSession`],
//!   which answers the handshake and malformed input itself and hands over well-formed
//!   requests; nothing here depends on an async runtime.
//!
//! ```no_run
//! use hitless_control::{Client, Request, Response};
//!
//! let mut client = Client::connect("/run/hitless/hitlessd.sock".as_ref(), "my-script 1.0")?;
//! if let Response::Sas(list) = client.call(Request::ListSas { connection: None })? {
//!     for sa in list.ike_sas {
//!         println!("{} {} {}", sa.id, sa.connection, sa.state);
//!     }
//! }
//! # Ok::<(), hitless_control::ClientError>(())
//! ```

pub mod client;
pub mod codec;
pub mod event;
pub mod message;
pub mod response;
pub mod session;
pub mod socket;

mod serde_hex;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;
#[cfg(any(feature = "test-support", test))]
pub mod testing;

pub use client::Client;
pub use client::ClientError;
pub use codec::FrameDecoder;
pub use codec::FrameError;
pub use codec::MAX_FRAME_LEN;
pub use event::Event;
pub use message::ClientMessage;
pub use message::HaAction;
pub use message::Hello;
pub use message::LogLevel;
pub use message::PROTOCOL_VERSION;
pub use message::Request;
pub use message::RequestId;
pub use message::SaRef;
pub use message::SaTarget;
pub use message::ServerMessage;
pub use response::ControlError;
pub use response::ErrorKind;
pub use response::Response;
pub use session::Incoming;
pub use session::ServerSession;
pub use socket::BindError;
pub use socket::ControlSocket;

/// Where hitlessd listens unless configured otherwise.
pub const DEFAULT_SOCKET_PATH: &str = "/run/hitless/hitlessd.sock";
