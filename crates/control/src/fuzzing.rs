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
    // The first byte chooses where the rest is split, to exercise partial frames.
    let Some((split, stream)) = data.split_first() else {
        return;
    };
    let split = usize::from(*split).min(stream.len());
    for chunk in [&stream[..split], &stream[split..]] {
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

#[cfg(test)]
mod tests {
    //! Replays the committed corpus (`fuzz/corpus/control_frame/`) on every `cargo test`, and
    //! (ignored by default) writes its seeds:
    //!
    //! ```sh
    //! cargo test -p hitless-control --lib fuzzing::tests::write_seed_corpus -- --ignored
    //! ```

    use std::fs;
    use std::path::Path;
    use std::path::PathBuf;

    use super::*;
    use crate::message::ClientMessage;
    use crate::message::HaAction;
    use crate::message::Hello;
    use crate::message::LogLevel;
    use crate::message::Request;
    use crate::message::RequestFrame;
    use crate::message::RequestId;
    use crate::message::SaRef;
    use crate::message::SaTarget;

    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/control_frame")
    }

    #[test]
    fn replay_corpus() {
        let files: Vec<PathBuf> = fs::read_dir(corpus_dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "empty corpus");
        for file in files {
            let data = fs::read(&file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| control_frame(&data)) {
                std::panic::resume_unwind(Box::new(format!("{}: {panic:?}", file.display())));
            }
        }
    }

    #[test]
    fn request_seeds_reach_the_daemon() {
        // Each request seed must decode into a request, or the fuzzer would only see errors.
        for i in 0..10 {
            let data = fs::read(corpus_dir().join(format!("request-{i:02}"))).unwrap();
            let mut decoder = FrameDecoder::new();
            decoder.push(&data[1..]);
            let body = decoder.next_frame().unwrap().unwrap();
            let mut session = ServerSession::new("test");
            let _ = session.handle_frame(br#"{"hello":{"protocol":1,"software":"t"}}"#);
            let incoming = session.handle_frame(&body);
            let subscribed =
                matches!(&incoming, Incoming::Reply(_)) && session.subscription().is_some();
            assert!(
                matches!(incoming, Incoming::Request { .. }) || subscribed,
                "request-{i:02}: {incoming:?}"
            );
        }
    }

    #[test]
    fn garbage() {
        for data in [
            &[][..],
            &[0],
            &[0xff; 8],
            &[0, 0, 0, 2, b'{', b'}'],
            &[0, 0, 0, 0],
        ] {
            control_frame(data);
        }
    }

    #[test]
    #[ignore = "writes fuzz/corpus/control_frame; run by hand when the protocol grows"]
    fn write_seed_corpus() {
        let dir = corpus_dir();
        fs::create_dir_all(&dir).unwrap();
        let requests = [
            Request::Status,
            Request::ListSas {
                connection: Some("site-b".into()),
            },
            Request::Initiate {
                connection: "site-b".into(),
                child: Some("net".into()),
            },
            Request::Terminate {
                target: SaTarget::Ike(SaRef::Id(3)),
            },
            Request::Rekey {
                target: SaTarget::Child(SaRef::Name("net".into())),
            },
            Request::Reload,
            Request::Stats,
            Request::LogLevel {
                level: LogLevel::Trace,
            },
            Request::Subscribe {
                logs: Some(LogLevel::Warn),
            },
            Request::Ha {
                action: HaAction::Fault,
            },
        ];
        let mut all = Vec::new();
        for (i, request) in requests.into_iter().enumerate() {
            let frame = encode_frame(&ClientMessage::Request(RequestFrame {
                id: RequestId(u64::try_from(i).unwrap()),
                body: request,
            }))
            .unwrap();
            // A leading byte chooses the split point; 0 keeps the frame whole.
            let mut seed = vec![0];
            seed.extend(&frame);
            fs::write(dir.join(format!("request-{i:02}")), &seed).unwrap();
            all.extend(frame);
        }
        let mut stream = vec![7];
        stream.extend(&all);
        fs::write(dir.join("stream-all-requests"), stream).unwrap();
        let hello = encode_frame(&ClientMessage::Hello(Hello {
            protocol: 1,
            software: "seed".into(),
        }))
        .unwrap();
        let mut seed = vec![0];
        seed.extend(hello);
        fs::write(dir.join("hello-again"), seed).unwrap();
        fs::write(
            dir.join("bare-json"),
            br#"{"request":{"id":1,"body":{"command":"status"}}}"#,
        )
        .unwrap();
        fs::write(dir.join("too-large"), [0, 0xff, 0xff, 0xff, 0xff, b'{']).unwrap();
    }
}
