//! A blocking client over the daemon's Unix socket, for `hitlessctl` and tests.

use std::collections::VecDeque;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use crate::codec::FrameError;
use crate::codec::decode;
use crate::codec::read_frame;
use crate::codec::write_frame;
use crate::message::ClientMessage;
use crate::message::EventFrame;
use crate::message::Hello;
use crate::message::Outcome;
use crate::message::PROTOCOL_VERSION;
use crate::message::Request;
use crate::message::RequestFrame;
use crate::message::RequestId;
use crate::message::ServerMessage;
use crate::response::ControlError;
use crate::response::ErrorKind;
use crate::response::Response;

/// How long [`Client::call`] waits for an answer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to hitlessd's control socket, past the version handshake.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    next_id: u64,
    server: Hello,
    events: VecDeque<EventFrame>,
}

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// There is no socket: the daemon is not running (or uses another path).
    #[error("hitlessd is not running (no socket at {})", path.display())]
    NotRunning {
        /// The socket path tried.
        path: PathBuf,
    },
    /// The socket exists but nobody listens: the daemon stopped without removing it.
    #[error("hitlessd is not running (nothing listens on {})", path.display())]
    Stale {
        /// The socket path tried.
        path: PathBuf,
    },
    /// The socket is there but we may not use it.
    #[error(
        "permission denied on {}: the control socket is for root only (try sudo)",
        path.display()
    )]
    PermissionDenied {
        /// The socket path tried.
        path: PathBuf,
    },
    /// Connecting failed otherwise.
    #[error("cannot connect to hitlessd at {}: {source}", path.display())]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The daemon did not answer in time.
    #[error("hitlessd did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The daemon closed the connection.
    #[error("hitlessd closed the connection")]
    Closed,
    /// The daemon speaks another protocol version (or refused ours).
    #[error("{0}")]
    Incompatible(String),
    /// The daemon's messages could not be read.
    #[error("control protocol error: {0}")]
    Protocol(#[source] FrameError),
    /// The daemon carried out the request and reports that it failed.
    #[error("{0}")]
    Daemon(ControlError),
}

impl Client {
    /// Connects to the socket at `path` and performs the handshake; `software` names the
    /// client in the daemon's logs.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotRunning`] or [`ClientError::Stale`] when no daemon listens, and the
    /// other variants for refused handshakes and broken connections.
    pub fn connect(path: &Path, software: &str) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| {
            let path = path.to_path_buf();
            match source.kind() {
                io::ErrorKind::NotFound => ClientError::NotRunning { path },
                io::ErrorKind::ConnectionRefused => ClientError::Stale { path },
                io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path },
                _ => ClientError::Connect { path, source },
            }
        })?;
        let mut client = Self {
            stream,
            path: path.to_path_buf(),
            next_id: 1,
            server: Hello {
                protocol: 0,
                software: String::new(),
            },
            events: VecDeque::new(),
        };
        client.set_timeout(Some(DEFAULT_TIMEOUT))?;
        client.send(&ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            software: software.to_owned(),
        }))?;
        match client.receive()? {
            ServerMessage::Hello(hello) if hello.protocol == PROTOCOL_VERSION => {
                client.server = hello;
                Ok(client)
            }
            ServerMessage::Hello(hello) => Err(ClientError::Incompatible(format!(
                "{} speaks control protocol {}, this hitlessctl speaks {PROTOCOL_VERSION}",
                hello.software, hello.protocol
            ))),
            ServerMessage::Response(response) => match response.result {
                Outcome::Error(error) => Err(ClientError::Incompatible(error.message)),
                Outcome::Ok(_) => Err(unexpected("a response instead of a hello")),
            },
            ServerMessage::Event(_) => Err(unexpected("an event instead of a hello")),
        }
    }

    /// The daemon's hello (its name and version).
    pub fn server(&self) -> &Hello {
        &self.server
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets how long to wait for each message; `None` waits forever (event streams).
    ///
    /// # Errors
    ///
    /// When the socket refuses the setting.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.stream
            .set_read_timeout(timeout)
            .map_err(|e| ClientError::Protocol(FrameError::Io(e)))
    }

    /// Sends `request` and waits for its response. Events that arrive meanwhile are kept for
    /// [`Client::next_event`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Daemon`] when the daemon reports a failure; the other variants when the
    /// connection fails.
    pub fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.send(&ClientMessage::Request(RequestFrame { id, body: request }))?;
        loop {
            match self.receive()? {
                ServerMessage::Response(response)
                    if response.id == Some(id) || response.id.is_none() =>
                {
                    return match response.result {
                        Outcome::Ok(response) => Ok(response),
                        Outcome::Error(error) => Err(ClientError::Daemon(error)),
                    };
                }
                ServerMessage::Response(_) => {}
                ServerMessage::Event(event) => self.events.push_back(event),
                ServerMessage::Hello(_) => return Err(unexpected("a second hello")),
            }
        }
    }

    /// The next event, after a successful [`Request::Subscribe`]; `Ok(None)` when the daemon
    /// closes the connection (it is stopping).
    ///
    /// # Errors
    ///
    /// When the connection fails or times out.
    pub fn next_event(&mut self) -> Result<Option<EventFrame>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        loop {
            match self.receive() {
                Ok(ServerMessage::Event(event)) => return Ok(Some(event)),
                Ok(_) => {}
                Err(ClientError::Closed) => return Ok(None),
                Err(error) => return Err(error),
            }
        }
    }

    fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        write_frame(&mut self.stream, message).map_err(|error| match error {
            FrameError::Io(io) if is_closed(&io) => ClientError::Closed,
            other => ClientError::Protocol(other),
        })
    }

    fn receive(&mut self) -> Result<ServerMessage, ClientError> {
        let body = match read_frame(&mut self.stream) {
            Ok(Some(body)) => body,
            Ok(None) | Err(FrameError::Truncated) => return Err(ClientError::Closed),
            Err(FrameError::Io(io)) if is_timeout(&io) => {
                let timeout = self.stream.read_timeout().ok().flatten();
                return Err(ClientError::Timeout(timeout.unwrap_or_default()));
            }
            Err(FrameError::Io(io)) if is_closed(&io) => return Err(ClientError::Closed),
            Err(error) => return Err(ClientError::Protocol(error)),
        };
        decode(&body).map_err(ClientError::Protocol)
    }
}

fn unexpected(what: &str) -> ClientError {
    ClientError::Daemon(ControlError::new(
        ErrorKind::Internal,
        format!("hitlessd sent {what}"),
    ))
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}
