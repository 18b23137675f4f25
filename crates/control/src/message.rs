//! The messages of the control protocol: the envelope, the handshake and the requests.
//!
//! Every frame carries one JSON object. A client first sends [`ClientMessage::Hello`]; the
//! daemon answers [`ServerMessage::Hello`] or, if it does not speak the client's protocol
//! version, an error and closes. Then the client sends requests, each with an id of its choice,
//! and the daemon answers each with a response carrying the same id. After
//! [`Request::Subscribe`] the daemon also sends [`ServerMessage::Event`]s on that connection.
//!
//! ```json
//! {"hello":{"protocol":1,"software":"hitlessctl 0.1.0"}}
//! {"request":{"id":1,"body":{"command":"initiate","connection":"site-b","child":null}}}
//! {"response":{"id":1,"result":{"ok":{"type":"initiated","ike_sa":7}}}}
//! {"event":{"time_ms":1718000000000,"event":{"type":"ike-sa-established",...}}}
//! ```

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

use crate::event::Event;
use crate::response::ControlError;
use crate::response::Response;

/// The protocol version this crate speaks. A daemon refuses a client of another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// A frame from a client to the daemon.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message on every connection.
    Hello(Hello),
    /// A request.
    Request(RequestFrame),
}

/// A frame from the daemon to a client.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to the client's hello.
    Hello(Hello),
    /// The answer to one request.
    Response(ResponseFrame),
    /// Something happened (only after [`Request::Subscribe`]).
    Event(EventFrame),
}

/// The version handshake, in both directions.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Hello {
    /// The sender's protocol version.
    pub protocol: u32,
    /// The sender's name and version, for logs (`hitlessctl 0.1.0`).
    pub software: String,
}

/// A client-chosen number that pairs a response with its request.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A request with its id.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RequestFrame {
    /// Chosen by the client; echoed in the response.
    pub id: RequestId,
    /// The request.
    pub body: Request,
}

/// A response with the id of its request; `None` when the request was too malformed to have
/// one.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct ResponseFrame {
    /// The request's id.
    pub id: Option<RequestId>,
    /// The outcome.
    pub result: Outcome,
}

/// Success with a response, or a typed error.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request succeeded.
    Ok(Response),
    /// The request failed.
    Error(ControlError),
}

/// An event with the daemon's wall-clock time.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct EventFrame {
    /// Milliseconds since the Unix epoch when the daemon emitted it.
    pub time_ms: u64,
    /// What happened.
    pub event: Event,
}

/// What a client asks the daemon to do.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    /// Daemon status: version, uptime, SA counts, HA role.
    Status,
    /// Every IKE SA with its Child SAs, optionally of one connection.
    ListSas {
        /// Only this connection's SAs.
        #[serde(default)]
        connection: Option<String>,
    },
    /// Start a connection (all its Child SAs, or one).
    Initiate {
        /// The connection's name.
        connection: String,
        /// One Child SA of it, or all with `start_action = "start"` (the first if none).
        #[serde(default)]
        child: Option<String>,
    },
    /// Delete SAs politely (a DELETE is sent to the peer).
    Terminate {
        /// Which SAs.
        target: SaTarget,
    },
    /// Rekey SAs now (without loss, RFC 7296 §2.8).
    Rekey {
        /// Which SAs.
        target: SaTarget,
    },
    /// Read the configuration file again; SAs of unchanged connections stay up.
    Reload,
    /// Counters: handshakes, failures by reason, rekeys, data-plane drops by reason.
    Stats,
    /// Change the log level.
    LogLevel {
        /// The new level.
        level: LogLevel,
    },
    /// Receive events on this connection from now on, and log lines at `logs` or more severe.
    Subscribe {
        /// Also stream log lines at this level or more severe.
        #[serde(default)]
        logs: Option<LogLevel>,
    },
    /// High availability: set this node's role (from keepalived's notify hooks) or query it.
    Ha {
        /// What to do.
        action: HaAction,
    },
}

/// Which SAs a terminate or rekey applies to.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaTarget {
    /// IKE SAs: one by id, or all of a connection by name.
    Ike(SaRef),
    /// Child SAs: one by id, or all with this name.
    Child(SaRef),
}

/// An SA by its numeric id or by its configured name.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaRef {
    /// The id shown by `list-sas`.
    Id(u64),
    /// The connection (IKE) or child (Child SA) name from the configuration.
    Name(String),
}

/// An HA role change or query.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HaAction {
    /// This node now owns the virtual IP: take over every SA.
    Active,
    /// This node is a standby: stop sending on every SA (fencing), keep receiving sync.
    Standby,
    /// This node is faulty: like standby, and report it.
    Fault,
    /// Report the role and sync state.
    Status,
}

/// Log verbosity, from quietest to loudest.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// The daemon cannot continue, or a local bug.
    Error,
    /// An SA failed or a peer misbehaved.
    Warn,
    /// One line per SA lifecycle change.
    Info,
    /// One line per IKE message.
    Debug,
    /// Field detail and per-packet data plane.
    Trace,
}

impl LogLevel {
    /// Every level, quietest first.
    pub const ALL: [Self; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "#{id}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}
