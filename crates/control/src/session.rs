//! The daemon's side of one control connection, without I/O.
//!
//! The daemon reads frames (with [`FrameDecoder`](crate::FrameDecoder)), hands each body to
//! [`ServerSession::handle_frame`], and gets back either a reply to send at once (handshake,
//! subscription, errors for malformed input) or a [`Request`] to carry out and answer with
//! [`respond`]. Garbage never reaches the daemon's logic: it becomes an error response with the
//! request's id when one can be found.

use serde_json::Value;

use crate::codec::decode;
use crate::event::Event;
use crate::message::ClientMessage;
use crate::message::EventFrame;
use crate::message::Hello;
use crate::message::LogLevel;
use crate::message::Outcome;
use crate::message::PROTOCOL_VERSION;
use crate::message::Request;
use crate::message::RequestFrame;
use crate::message::RequestId;
use crate::message::ResponseFrame;
use crate::message::ServerMessage;
use crate::response::ControlError;
use crate::response::ErrorKind;
use crate::response::Response;

/// One client connection's protocol state.
#[derive(Debug)]
pub struct ServerSession {
    software: String,
    greeted: bool,
    subscription: Option<Subscription>,
}

/// What a subscribed client receives.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Subscription {
    /// Log lines at this level or more severe, if any.
    pub logs: Option<LogLevel>,
}

/// What to do with one incoming frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// Send this message and keep reading.
    Reply(ServerMessage),
    /// Send this message, then close the connection.
    ReplyAndClose(ServerMessage),
    /// Carry out this request and send [`respond`]`(id, …)`.
    Request {
        /// The request's id.
        id: RequestId,
        /// The request.
        request: Request,
    },
}

impl ServerSession {
    /// A new connection; `software` is the daemon's name and version for the hello.
    pub fn new(software: impl Into<String>) -> Self {
        Self {
            software: software.into(),
            greeted: false,
            subscription: None,
        }
    }

    /// Handles one frame body.
    pub fn handle_frame(&mut self, body: &[u8]) -> Incoming {
        let message = match decode::<ClientMessage>(body) {
            Ok(message) => message,
            Err(error) => {
                return Incoming::Reply(respond(
                    request_id_of(body),
                    Err(ControlError::new(
                        ErrorKind::BadRequest,
                        format!("malformed request: {}", malformed_detail(&error)),
                    )),
                ));
            }
        };
        match message {
            ClientMessage::Hello(hello) => self.hello(hello),
            ClientMessage::Request(RequestFrame { id, .. }) if !self.greeted => {
                Incoming::Reply(respond(
                    Some(id),
                    Err(ControlError::new(
                        ErrorKind::HandshakeRequired,
                        "send a hello before any request",
                    )),
                ))
            }
            ClientMessage::Request(RequestFrame {
                id,
                body: Request::Subscribe { logs },
            }) => {
                self.subscription = Some(Subscription { logs });
                Incoming::Reply(respond(Some(id), Ok(Response::Subscribed)))
            }
            ClientMessage::Request(RequestFrame { id, body }) => {
                Incoming::Request { id, request: body }
            }
        }
    }

    /// The client's subscription, once it has subscribed.
    pub fn subscription(&self) -> Option<Subscription> {
        self.subscription
    }

    /// The message carrying `event`, if this client subscribed to it (log lines only at the
    /// subscribed level or more severe).
    pub fn event(&self, time_ms: u64, event: &Event) -> Option<ServerMessage> {
        let subscription = self.subscription?;
        if let Event::Log { level, .. } = event
            && subscription.logs.is_none_or(|wanted| *level > wanted)
        {
            return None;
        }
        Some(ServerMessage::Event(EventFrame {
            time_ms,
            event: event.clone(),
        }))
    }

    fn hello(&mut self, hello: Hello) -> Incoming {
        if self.greeted {
            return Incoming::Reply(respond(
                None,
                Err(ControlError::new(ErrorKind::BadRequest, "duplicate hello")),
            ));
        }
        if hello.protocol != PROTOCOL_VERSION {
            return Incoming::ReplyAndClose(respond(
                None,
                Err(ControlError::new(
                    ErrorKind::UnsupportedVersion,
                    format!(
                        "{} speaks control protocol {PROTOCOL_VERSION}, {} speaks {}; use the \
                         hitlessctl that came with this hitlessd",
                        self.software, hello.software, hello.protocol
                    ),
                )),
            ));
        }
        self.greeted = true;
        Incoming::Reply(ServerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            software: self.software.clone(),
        }))
    }
}

/// The response message for request `id`.
pub fn respond(id: Option<RequestId>, result: Result<Response, ControlError>) -> ServerMessage {
    ServerMessage::Response(ResponseFrame {
        id,
        result: match result {
            Ok(response) => Outcome::Ok(response),
            Err(error) => Outcome::Error(error),
        },
    })
}

/// The id of a request too malformed to decode, if its JSON has one where it belongs.
fn request_id_of(body: &[u8]) -> Option<RequestId> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("request")?.get("id")?.as_u64().map(RequestId)
}

fn malformed_detail(error: &crate::codec::FrameError) -> String {
    match error {
        crate::codec::FrameError::Malformed(json) => json.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_frame;
    use crate::message::HaAction;

    fn greeted() -> ServerSession {
        let mut session = ServerSession::new("hitlessd test");
        let hello = br#"{"hello":{"protocol":1,"software":"t"}}"#;
        assert!(matches!(
            session.handle_frame(hello),
            Incoming::Reply(ServerMessage::Hello(_))
        ));
        session
    }

    fn error_of(incoming: Incoming) -> (Option<RequestId>, ControlError) {
        match incoming {
            Incoming::Reply(ServerMessage::Response(ResponseFrame {
                id,
                result: Outcome::Error(error),
            }))
            | Incoming::ReplyAndClose(ServerMessage::Response(ResponseFrame {
                id,
                result: Outcome::Error(error),
            })) => (id, error),
            other => panic!("expected an error response, got {other:?}"),
        }
    }

    #[test]
    fn request_after_hello_reaches_the_daemon() {
        let mut session = greeted();
        let body = br#"{"request":{"id":5,"body":{"command":"ha","action":"active"}}}"#;
        assert_eq!(
            session.handle_frame(body),
            Incoming::Request {
                id: RequestId(5),
                request: Request::Ha {
                    action: HaAction::Active
                }
            }
        );
    }

    #[test]
    fn request_before_hello_is_refused() {
        let mut session = ServerSession::new("hitlessd test");
        let (id, error) =
            error_of(session.handle_frame(br#"{"request":{"id":1,"body":{"command":"status"}}}"#));
        assert_eq!(id, Some(RequestId(1)));
        assert_eq!(error.kind, ErrorKind::HandshakeRequired);
    }

    #[test]
    fn wrong_version_is_refused_and_closed() {
        let mut session = ServerSession::new("hitlessd 0.1.0");
        let incoming = session.handle_frame(br#"{"hello":{"protocol":2,"software":"ctl 9"}}"#);
        assert!(matches!(incoming, Incoming::ReplyAndClose(_)));
        let (_, error) = error_of(incoming);
        assert_eq!(error.kind, ErrorKind::UnsupportedVersion);
        assert_eq!(
            error.message,
            "hitlessd 0.1.0 speaks control protocol 1, ctl 9 speaks 2; use the hitlessctl that \
             came with this hitlessd"
        );
    }

    #[test]
    fn garbage_gets_error_responses_and_the_session_survives() {
        let mut session = greeted();
        let garbage: [&[u8]; 8] = [
            b"",
            b"\xff\xfe\x00",
            b"{not json",
            b"[]",
            b"{\"request\":{\"id\":9,\"body\":{\"command\":\"frobnicate\"}}}",
            b"{\"request\":{\"id\":10,\"body\":{\"command\":\"initiate\"}}}",
            b"{\"request\":{\"id\":\"x\"}}",
            b"{\"request\":{\"id\":11,\"body\":{\"command\":\"log-level\",\"level\":\"loud\"}}}",
        ];
        let mut ids = Vec::new();
        for body in garbage {
            let (id, error) = error_of(session.handle_frame(body));
            assert_eq!(error.kind, ErrorKind::BadRequest);
            assert!(
                error.message.starts_with("malformed request: "),
                "{}",
                error.message
            );
            ids.push(id);
        }
        assert_eq!(ids[4], Some(RequestId(9)));
        assert_eq!(ids[5], Some(RequestId(10)));
        assert_eq!(ids[0], None);
        let (_, unknown) = error_of(session.handle_frame(garbage[4]));
        assert!(
            unknown.message.contains("unknown variant `frobnicate`"),
            "{}",
            unknown.message
        );
        let (_, missing) = error_of(session.handle_frame(garbage[5]));
        assert!(
            missing.message.contains("missing field `connection`"),
            "{}",
            missing.message
        );
        // Still working afterwards.
        let body = br#"{"request":{"id":12,"body":{"command":"status"}}}"#;
        assert!(matches!(
            session.handle_frame(body),
            Incoming::Request { .. }
        ));
    }

    #[test]
    fn subscription_filters_log_lines() {
        let mut session = greeted();
        let log = |level| Event::Log {
            level,
            target: "t".into(),
            message: "m".into(),
        };
        let reload = Event::ConfigReloaded {
            added: vec![],
            removed: vec![],
            changed: vec![],
        };
        assert!(session.event(1, &reload).is_none());
        let body = br#"{"request":{"id":1,"body":{"command":"subscribe","logs":"info"}}}"#;
        assert_eq!(
            session.handle_frame(body),
            Incoming::Reply(respond(Some(RequestId(1)), Ok(Response::Subscribed)))
        );
        assert!(session.event(1, &reload).is_some());
        assert!(session.event(1, &log(LogLevel::Warn)).is_some());
        assert!(session.event(1, &log(LogLevel::Info)).is_some());
        assert!(session.event(1, &log(LogLevel::Debug)).is_none());
        let frame = encode_frame(&session.event(1, &reload).unwrap()).unwrap();
        assert!(frame.len() > 4);
    }
}
