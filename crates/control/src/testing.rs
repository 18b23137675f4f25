//! A fake hitlessd for testing clients: it listens on a Unix socket, speaks the real protocol
//! through [`ServerSession`], and answers requests with a closure. Not for production use.

use std::io;
use std::os::unix::net::UnixListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use crate::codec::read_frame;
use crate::codec::write_frame;
use crate::event::Event;
use crate::message::Request;
use crate::response::ControlError;
use crate::response::Response;
use crate::session::Incoming;
use crate::session::ServerSession;
use crate::session::respond;

/// How the fake daemon answers a request.
pub type Handler = dyn Fn(&Request) -> Result<Response, ControlError> + Send + Sync;

/// A fake daemon serving each connection on its own thread until the client disconnects.
#[derive(Debug)]
pub struct FakeDaemon {
    path: PathBuf,
}

impl FakeDaemon {
    /// Listens at `path`; `handler` answers requests, and subscribers receive `events` (with
    /// increasing timestamps) right after subscribing.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound.
    pub fn start(
        path: &Path,
        events: Vec<Event>,
        handler: impl Fn(&Request) -> Result<Response, ControlError> + Send + Sync + 'static,
    ) -> io::Result<Self> {
        let listener = UnixListener::bind(path)?;
        let handler: Arc<Handler> = Arc::new(handler);
        let events = Arc::new(events);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let events = Arc::clone(&events);
                thread::spawn(move || serve(stream, &*handler, &events));
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn serve(mut stream: UnixStream, handler: &Handler, events: &[Event]) {
    let mut session = ServerSession::new("hitlessd fake");
    while let Ok(Some(body)) = read_frame(&mut stream) {
        let (reply, close) = match session.handle_frame(&body) {
            Incoming::Reply(reply) => (reply, false),
            Incoming::ReplyAndClose(reply) => (reply, true),
            Incoming::Request { id, request } => (respond(Some(id), handler(&request)), false),
        };
        if write_frame(&mut stream, &reply).is_err() || close {
            return;
        }
        if session.subscription().is_some() {
            for (i, event) in events.iter().enumerate() {
                let time_ms = 1_700_000_000_000 + u64::try_from(i).unwrap_or(0) * 1000;
                if let Some(message) = session.event(time_ms, event)
                    && write_frame(&mut stream, &message).is_err()
                {
                    return;
                }
            }
            // The stream ends when the daemon "stops".
            return;
        }
    }
}
