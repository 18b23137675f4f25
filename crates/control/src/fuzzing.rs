//! Entry point for the `control_frame` fuzz target (and its corpus replay test).

use crate::codec::FrameDecoder;
use crate::codec::encode_frame;
use crate::session::Incoming;
use crate::session::ServerSession;

/// Feeds arbitrary bytes to a daemon-side session as a stream of frames, as a hostile client
/// would. Must never panic; every frame gets a reply or a request, and every reply encodes.
pub fn control_frame(data: &[u8]) {
    let mut session = ServerSession::new("hitlessd fuzz");
    // Greet first so that request decoding is reached, unless the input is its own hello.
    let _ = session.handle_frame(br#"{"hello":{"protocol":1,"software":"fuzz"}}"#);
    let mut decoder = FrameDecoder::with_max_len(64 * 1024);
    // Split the input at a data-dependent point to exercise partial frames.
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for chunk in [&data[..split], &data[split..]] {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(body)) => match session.handle_frame(&body) {
                    Incoming::Reply(reply) | Incoming::ReplyAndClose(reply) => {
                        assert!(encode_frame(&reply).is_ok(), "reply must encode");
                    }
                    Incoming::Request { .. } => {}
                },
                Ok(None) => break,
                Err(error) => {
                    assert!(error.is_fatal());
                    return;
                }
            }
        }
    }
    // The same bytes as one frame body.
    let _ = session.handle_frame(data);
}
