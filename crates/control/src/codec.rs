//! Framing: a 4-byte big-endian length, then that many bytes of JSON.
//!
//! Two ways to read frames, for the two sides: [`read_frame`] blocks on any [`Read`] (the CLI's
//! Unix stream), and [`FrameDecoder`] takes bytes as they arrive and yields whole frames (an
//! async daemon feeds it whatever its socket returned). A length above [`MAX_FRAME_LEN`] is a
//! fatal error: the stream cannot be resynchronised, so the connection must be closed. A frame
//! whose JSON is malformed is not fatal; the next frame starts at a known place.

use std::io;
use std::io::Read;
use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest frame body accepted or sent, in bytes (a `list-sas` of tens of thousands of SAs
/// fits).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Why a frame could not be read, written or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The length prefix exceeds [`MAX_FRAME_LEN`]; the connection must be closed.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The body is not the JSON of the expected message.
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Incremental decoder: push bytes in, take whole frames out.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    max_len: usize,
}

impl FrameError {
    /// Whether the connection must be closed (the frame boundary is lost or the stream is
    /// gone), as opposed to one bad message.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Malformed(_))
    }
}

impl FrameDecoder {
    /// A decoder accepting frames up to [`MAX_FRAME_LEN`].
    pub fn new() -> Self {
        Self::with_max_len(MAX_FRAME_LEN)
    }

    /// A decoder accepting frames up to `max_len` bytes.
    pub fn with_max_len(max_len: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max_len,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame body, if one has arrived.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] when the next length prefix is above the maximum; the decoder
    /// is then unusable and the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(prefix) = self.buffer.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = frame_len(*prefix, self.max_len)?;
        let Some(body) = self.buffer.get(4..4 + len) else {
            return Ok(None);
        };
        let body = body.to_vec();
        self.buffer.drain(..4 + len);
        Ok(Some(body))
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Serializes `message` into a frame: length prefix and JSON body.
///
/// # Errors
///
/// When the message cannot be serialized or its JSON exceeds [`MAX_FRAME_LEN`].
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(message)?;
    if body.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        max: MAX_FRAME_LEN,
    })?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Writes `message` as one frame and flushes.
///
/// # Errors
///
/// As [`encode_frame`], or when the write fails.
pub fn write_frame<W: Write, T: Serialize>(writer: &mut W, message: &T) -> Result<(), FrameError> {
    writer.write_all(&encode_frame(message)?)?;
    writer.flush()?;
    Ok(())
}

/// Reads one frame body; `Ok(None)` when the stream ends cleanly between frames.
///
/// # Errors
///
/// When the stream fails, ends inside a frame, or announces a frame above [`MAX_FRAME_LEN`].
pub fn read_frame<R: Read>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match reader.read(&mut prefix[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    let len = frame_len(prefix, MAX_FRAME_LEN)?;
    let mut body = vec![0u8; len];
    reader
        .read_exact(&mut body)
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(error),
        })?;
    Ok(Some(body))
}

/// Parses a frame body as `T`.
///
/// # Errors
///
/// [`FrameError::Malformed`] when the body is not `T`'s JSON.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    Ok(serde_json::from_slice(body)?)
}

fn frame_len(prefix: [u8; 4], max_len: usize) -> Result<usize, FrameError> {
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ClientMessage;
    use crate::message::Hello;

    fn hello() -> ClientMessage {
        ClientMessage::Hello(Hello {
            protocol: 1,
            software: "test".into(),
        })
    }

    #[test]
    fn encode_then_read_round_trips() {
        let frame = encode_frame(&hello()).unwrap();
        assert_eq!(
            &frame[..4],
            &u32::try_from(frame.len() - 4).unwrap().to_be_bytes()
        );
        let mut reader = io::Cursor::new(frame);
        let body = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(decode::<ClientMessage>(&body).unwrap(), hello());
        assert!(read_frame(&mut reader).unwrap().is_none());
    }

    #[test]
    fn decoder_handles_byte_by_byte_and_batched_input() {
        let mut stream = encode_frame(&hello()).unwrap();
        stream.extend(encode_frame(&hello()).unwrap());
        let mut decoder = FrameDecoder::new();
        let mut frames = Vec::new();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(decoder.buffered(), 0);
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream);
        assert!(decoder.next_frame().unwrap().is_some());
        assert!(decoder.next_frame().unwrap().is_some());
        assert!(decoder.next_frame().unwrap().is_none());
    }

    #[test]
    fn oversized_length_is_fatal() {
        let mut decoder = FrameDecoder::with_max_len(10);
        decoder.push(&[0, 0, 0, 11, b'{']);
        let error = decoder.next_frame().unwrap_err();
        assert!(error.is_fatal());
        assert_eq!(
            error.to_string(),
            "frame of 11 bytes exceeds the maximum of 10 bytes"
        );
        let mut reader = io::Cursor::new([0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            read_frame(&mut reader),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_streams() {
        let mut reader = io::Cursor::new([0, 0]);
        assert!(matches!(
            read_frame(&mut reader),
            Err(FrameError::Truncated)
        ));
        let mut reader = io::Cursor::new([0, 0, 0, 5, b'{']);
        assert!(matches!(
            read_frame(&mut reader),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn malformed_body_is_not_fatal() {
        let error = decode::<ClientMessage>(b"{not json").unwrap_err();
        assert!(!error.is_fatal());
        assert!(error.to_string().starts_with("malformed message: "));
    }
}
