//! The blocking client against a fake daemon on a real Unix socket.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

use std::os::unix::net::UnixListener;
use std::time::Duration;

use hitless_control::Client;
use hitless_control::ClientError;
use hitless_control::ControlError;
use hitless_control::ErrorKind;
use hitless_control::Event;
use hitless_control::LogLevel;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::SaRef;
use hitless_control::SaTarget;
use hitless_control::codec::read_frame;
use hitless_control::codec::write_frame;
use hitless_control::message::Outcome;
use hitless_control::message::ResponseFrame;
use hitless_control::response::HaRole;
use hitless_control::testing::FakeDaemon;

fn handler(request: &Request) -> Result<Response, ControlError> {
    match request {
        Request::LogLevel { level } => Ok(Response::LogLevel {
            previous: LogLevel::Info,
            current: *level,
        }),
        Request::Terminate { target } => Err(ControlError::new(
            ErrorKind::UnknownSa,
            format!("no SA matches {target:?}"),
        )),
        _ => Err(ControlError::new(ErrorKind::Internal, "not in this test")),
    }
}

#[test]
fn request_response_and_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(&dir.path().join("s.sock"), vec![], handler).unwrap();
    let mut client = Client::connect(daemon.path(), "test").unwrap();
    assert_eq!(client.server().software, "hitlessd fake");
    let response = client
        .call(Request::LogLevel {
            level: LogLevel::Debug,
        })
        .unwrap();
    assert_eq!(
        response,
        Response::LogLevel {
            previous: LogLevel::Info,
            current: LogLevel::Debug
        }
    );
    let error = client
        .call(Request::Terminate {
            target: SaTarget::Ike(SaRef::Id(9)),
        })
        .unwrap_err();
    let ClientError::Daemon(error) = error else {
        panic!("expected a daemon error, got {error:?}");
    };
    assert_eq!(error.kind, ErrorKind::UnknownSa);
}

#[test]
fn not_running_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hitlessd.sock");
    let error = Client::connect(&path, "test").unwrap_err();
    assert!(matches!(error, ClientError::NotRunning { .. }));
    assert_eq!(
        error.to_string(),
        format!("hitlessd is not running (no socket at {})", path.display())
    );
    // A socket left behind by a daemon that died.
    drop(UnixListener::bind(&path).unwrap());
    let error = Client::connect(&path, "test").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "hitlessd is not running (nothing listens on {})",
            path.display()
        )
    );
}

#[test]
fn events_follow_a_subscription_and_end_when_the_daemon_stops() {
    let dir = tempfile::tempdir().unwrap();
    let events = vec![
        Event::HaRoleChanged {
            role: HaRole::Active,
        },
        Event::Log {
            level: LogLevel::Debug,
            target: "hitless_ike".into(),
            message: "too detailed".into(),
        },
        Event::Log {
            level: LogLevel::Warn,
            target: "hitless_ike".into(),
            message: "peer misbehaved".into(),
        },
    ];
    let daemon = FakeDaemon::start(&dir.path().join("s.sock"), events, handler).unwrap();
    let mut client = Client::connect(daemon.path(), "test").unwrap();
    assert_eq!(
        client
            .call(Request::Subscribe {
                logs: Some(LogLevel::Info)
            })
            .unwrap(),
        Response::Subscribed
    );
    client.set_timeout(None).unwrap();
    let first = client.next_event().unwrap().unwrap();
    assert_eq!(
        first.event,
        Event::HaRoleChanged {
            role: HaRole::Active
        }
    );
    let second = client.next_event().unwrap().unwrap();
    assert!(matches!(
        second.event,
        Event::Log {
            level: LogLevel::Warn,
            ..
        }
    ));
    assert!(second.time_ms > first.time_ms);
    assert!(client.next_event().unwrap().is_none());
}

#[test]
fn a_silent_daemon_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Answer the hello, then ignore the request.
        let _ = read_frame(&mut stream).unwrap();
        write_frame(
            &mut stream,
            &hitless_control::ServerMessage::Hello(hitless_control::Hello {
                protocol: 1,
                software: "silent".into(),
            }),
        )
        .unwrap();
        let _ = read_frame(&mut stream);
        std::thread::sleep(Duration::from_millis(500));
    });
    let mut client = Client::connect(&path, "test").unwrap();
    client
        .set_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let error = client.call(Request::Status).unwrap_err();
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    server.join().unwrap();
}

#[test]
fn refused_version_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = read_frame(&mut stream).unwrap();
        let refusal = hitless_control::ServerMessage::Response(ResponseFrame {
            id: None,
            result: Outcome::Error(ControlError::new(
                ErrorKind::UnsupportedVersion,
                "hitlessd 9.0 speaks control protocol 9, test speaks 1",
            )),
        });
        write_frame(&mut stream, &refusal).unwrap();
    });
    let error = Client::connect(&path, "test").unwrap_err();
    assert_eq!(
        error.to_string(),
        "hitlessd 9.0 speaks control protocol 9, test speaks 1"
    );
    server.join().unwrap();
}
