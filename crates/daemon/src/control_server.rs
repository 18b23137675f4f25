//! The control socket: a Unix socket (mode 0600) speaking the hitless-control protocol, one
//! task per client; requests go to the IKE task, events are streamed to subscribers.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use hitless_control::ControlError;
use hitless_control::ErrorKind;
use hitless_control::Event;
use hitless_control::FrameDecoder;
use hitless_control::Incoming;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::ServerMessage;
use hitless_control::ServerSession;
use hitless_control::codec::encode_frame;
use hitless_control::session::respond;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::broadcast;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tracing::debug;
use tracing::warn;

use crate::control::Call;
use crate::ike_task::EventBus;
use crate::requests::software;

/// Binds the control socket at `path`: refuses when another daemon answers on it, replaces a
/// stale socket file, and restricts it to its owner (mode 0600).
///
/// # Errors
///
/// When another daemon owns the socket, or the socket cannot be created.
pub(crate) fn bind(path: &Path) -> Result<UnixListener> {
    if path.exists() {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => bail!(
                "another hitlessd is running on control socket {} (stop it first, or set \
                 daemon.control_socket to another path)",
                path.display()
            ),
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                debug!(path = %path.display(), "removing stale control socket");
                std::fs::remove_file(path)
                    .with_context(|| format!("removing stale control socket {}", path.display()))?;
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "{} exists and is not a usable control socket",
                        path.display()
                    )
                });
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| {
            format!("creating the control socket's directory {}", dir.display())
        })?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting control socket {} to mode 0600", path.display()))?;
    Ok(listener)
}

/// Removes the control socket at exit.
pub(crate) fn remove(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        debug!(path = %path.display(), %error, "cannot remove control socket");
    }
}

/// Accepts clients forever.
pub(crate) async fn serve(listener: UnixListener, calls: mpsc::Sender<Call>, events: EventBus) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(client(stream, calls.clone(), events.clone()));
            }
            Err(error) => {
                warn!(%error, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client: frames in, the session answers the handshake and malformed input, requests go
/// to the IKE task; after a subscription, events go out too.
async fn client(stream: UnixStream, calls: mpsc::Sender<Call>, bus: EventBus) {
    let (mut reader, mut writer) = stream.into_split();
    let mut session = ServerSession::new(software());
    let mut decoder = FrameDecoder::new();
    let mut events: Option<broadcast::Receiver<(u64, Event)>> = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = reader.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                loop {
                    let frame = match decoder.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(error) => {
                            // The frame boundary is lost: answer and close.
                            let refusal = respond(
                                None,
                                Err(ControlError::new(ErrorKind::BadRequest, error.to_string())),
                            );
                            let _ = send(&mut writer, &refusal).await;
                            return;
                        }
                    };
                    let incoming = session.handle_frame(&frame);
                    if events.is_none() && session.subscription().is_some() {
                        events = Some(bus.subscribe());
                    }
                    let (message, close) = match incoming {
                        Incoming::Reply(message) => (message, false),
                        Incoming::ReplyAndClose(message) => (message, true),
                        Incoming::Request { id, request } => {
                            (respond(Some(id), call(&calls, request).await), false)
                        }
                    };
                    if send(&mut writer, &message).await.is_err() || close {
                        return;
                    }
                }
            }
            event = next_event(&mut events) => match event {
                Ok((time_ms, event)) => {
                    if let Some(message) = session.event(time_ms, &event)
                        && send(&mut writer, &message).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    debug!(missed, "control subscriber lagged; events dropped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// The next event of a subscription; never completes without one.
async fn next_event(
    events: &mut Option<broadcast::Receiver<(u64, Event)>>,
) -> Result<(u64, Event), broadcast::error::RecvError> {
    match events {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Hands a request to the IKE task and waits for its answer.
async fn call(calls: &mpsc::Sender<Call>, request: Request) -> Result<Response, ControlError> {
    let (reply, answer) = oneshot::channel();
    let gone = || ControlError::new(ErrorKind::Internal, "hitlessd is shutting down");
    calls
        .send(Call { request, reply })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

async fn send(writer: &mut OwnedWriteHalf, message: &ServerMessage) -> io::Result<()> {
    let frame = encode_frame(message).map_err(io::Error::other)?;
    writer.write_all(&frame).await
}
