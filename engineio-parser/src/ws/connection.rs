//! One server-side WebSocket connection as a machine: bytes read in, Engine.IO frames and
//! connection events out, frames to write queued as slices of shared bytes.
//!
//! It makes the decisions of the WebSocket layer that are not the session's: a ping is answered
//! with a pong (unless the write queue is full), a close frame is answered with a close frame, a
//! broken frame fails the connection with the close code its error names, and a write queue over
//! [`WRITE_HIGH_WATER`] bytes makes the connection not writable until it drains below
//! [`WRITE_LOW_WATER`]. The driver reads and writes the socket and ends the TCP connection once
//! a closing connection has nothing left to write.

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::decode::{Decoder, Limits, Message, WsError};
use super::deflate::{compress_frame, DeflateConfig, DeflateParams};
use super::frame::{close_frame, FrameHeader, OpCode};
use crate::{Frame, FrameKind, Queue};

/// Above this many queued bytes a connection counts as not writable ([`Event::Writable`]
/// `(false)`): the session keeps further packets in its own buffer, where its `max_buffered`
/// bounds them, and pings go unanswered.
pub const WRITE_HIGH_WATER: usize = 64 * 1024;

/// A connection that was not writable is writable again ([`Event::Writable`]`(true)`) once its
/// queue is at most this many bytes.
pub const WRITE_LOW_WATER: usize = 16 * 1024;

/// What a [`Connection`] tells its driver, from [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Event {
    /// A text or binary message: a frame for the session
    /// ([`Session::handle_frame`](crate::Session::handle_frame)).
    Frame(Frame),
    /// The write queue went over [`WRITE_HIGH_WATER`] (`false`) or, after that, back down to
    /// [`WRITE_LOW_WATER`] (`true`).
    Writable(bool),
    /// The peer sent a close frame. The answering close frame is queued; nothing more is read.
    Closed,
    /// The peer broke the protocol. A close frame with the error's
    /// [`close_code`](WsError::close_code) is queued; nothing more is read.
    Failed(WsError),
}

/// One WebSocket connection, server side: a [`Decoder`] for what the client sends, a queue of
/// frames to write, and the rules that tie them (pings, closes, errors, flow control).
///
/// It holds no buffer while idle: the read buffer is released whenever it is empty, the write
/// queue keeps its first frame in place and frees the rest once drained, and frames are queued
/// as a header on the stack and the payload's shared [`Bytes`] (a broadcast's recipients share
/// one payload). See the [module docs](super#drive-loop) for the drive loop.
#[derive(Debug)]
pub struct Connection {
    decoder: Decoder,
    /// Bytes read but not yet decoded.
    read_buf: BytesMut,
    /// What is waiting to be written.
    out: Queue<Chunk>,
    /// Bytes in `out`.
    out_bytes: usize,
    flow: Flow,
    /// A close frame has been queued: nothing more is read or queued.
    closing: bool,
    /// permessage-deflate settings for outgoing data frames, when negotiated.
    deflate: Option<DeflateConfig>,
}

/// Whether the connection takes more frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Writable,
    /// Over the high-water mark; `told` once [`Event::Writable`]`(false)` was given.
    Blocked {
        told: bool,
    },
}

/// A piece of the write queue.
#[derive(Debug)]
enum Chunk {
    /// A frame: its header (`at` bytes of it written already), then its payload, shared with
    /// whoever else sends it.
    Frame { header: FrameHeader, at: u8, payload: Bytes },
    /// Bytes framed already (a compressed frame, a close frame) or not frames at all (a held
    /// `101` response), as they remain.
    Data(Bytes),
}

impl Chunk {
    /// The bytes still to write, as at most two slices.
    fn slices(&self) -> [&[u8]; 2] {
        match self {
            Chunk::Frame { header, at, payload } => [&header.as_bytes()[usize::from(*at)..], payload],
            Chunk::Data(data) => [data, &[]],
        }
    }

    /// Marks `n` bytes as written; returns the `n` left over once the chunk is done, or
    /// `None` while it still has bytes to write.
    fn advance(&mut self, mut n: usize) -> Option<usize> {
        match self {
            Chunk::Frame { header, at, payload } => {
                let head_left = header.as_bytes().len() - usize::from(*at);
                let in_head = n.min(head_left);
                // At most the header's length, which is at most 11.
                *at += in_head as u8;
                n -= in_head;
                let in_payload = n.min(payload.len());
                payload.advance(in_payload);
                n -= in_payload;
                (usize::from(*at) == header.as_bytes().len() && payload.is_empty()).then_some(n)
            }
            Chunk::Data(data) => {
                let used = n.min(data.len());
                data.advance(used);
                data.is_empty().then_some(n - used)
            }
        }
    }
}

impl Connection {
    /// A connection with these limits on what the client sends, without permessage-deflate.
    pub fn new(limits: Limits) -> Connection {
        Connection::with_decoder(Decoder::new(limits), None)
    }

    /// A connection that negotiated permessage-deflate: the client's compressed messages are
    /// inflated, and data frames at least `config.threshold` bytes long are sent compressed.
    pub fn with_deflate(limits: Limits, params: DeflateParams, config: DeflateConfig) -> Connection {
        Connection::with_decoder(Decoder::with_deflate(limits, params), Some(config))
    }

    fn with_decoder(decoder: Decoder, deflate: Option<DeflateConfig>) -> Connection {
        Connection {
            decoder,
            read_buf: BytesMut::new(),
            out: Queue::new(),
            out_bytes: 0,
            flow: Flow::Writable,
            closing: false,
            deflate,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reading

    /// Bytes read from the socket. Ignored once the connection is closing (the driver should
    /// have stopped reading).
    pub fn handle_read(&mut self, bytes: &[u8]) {
        if !self.closing {
            self.read_buf.extend_from_slice(bytes);
        }
    }

    /// The next event: a change of writability first, then the next message decoded from the
    /// bytes read. Pings, pongs, close frames and errors are handled on the way (a ping queues a
    /// pong unless the connection is not writable: a client that does not read cannot grow the
    /// write queue with pings).
    ///
    /// Call until `None` after every [`handle_read`](Self::handle_read), [`send`](Self::send)
    /// and [`advance_output`](Self::advance_output); then write the output if there is any, and
    /// read more unless the connection [`is_closing`](Self::is_closing).
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Flow::Blocked { told } = self.flow {
            if self.out_bytes <= WRITE_LOW_WATER && !self.closing {
                self.flow = Flow::Writable;
                if told {
                    return Some(Event::Writable(true));
                }
            } else if !told {
                self.flow = Flow::Blocked { told: true };
                return Some(Event::Writable(false));
            }
        }
        while !self.closing && !self.read_buf.is_empty() {
            let decoded = self.decoder.decode(&mut self.read_buf);
            self.release_read_buf();
            match decoded {
                Ok(None) => break,
                Ok(Some(Message::Text(text))) => return Some(Event::Frame(Frame::Text(text))),
                Ok(Some(Message::Binary(data))) => return Some(Event::Frame(Frame::Binary(data))),
                Ok(Some(Message::Ping(payload))) => {
                    if self.flow == Flow::Writable {
                        self.push_frame(FrameHeader::new(OpCode::Pong, true, payload.len() as u64), payload);
                    }
                }
                Ok(Some(Message::Pong(_))) => {}
                Ok(Some(Message::Close(_))) => {
                    self.close(super::close_code::NORMAL);
                    return Some(Event::Closed);
                }
                Err(error) => {
                    self.close(error.close_code());
                    return Some(Event::Failed(error));
                }
            }
        }
        None
    }

    /// Frees the read buffer when it is empty: an idle connection holds none.
    fn release_read_buf(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
            self.read_buf = BytesMut::new();
        }
    }

    /// Lets go of the empty read buffer even when it has no spare capacity. A message split off
    /// a buffer it filled exactly leaves it so, still sharing that allocation, which the next
    /// read then reuses without allocating: kept while the connection is busy, it is the only
    /// memory an idle connection holds. Call now and then (on a timer), not after every read.
    pub fn release_idle(&mut self) {
        if self.read_buf.is_empty() {
            self.read_buf = BytesMut::new();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Writing

    /// Queues an Engine.IO frame as one WebSocket message. A prefixed frame's prefix goes with
    /// the header and its data stays the shared bytes it is; with permessage-deflate, a frame
    /// over the threshold is compressed. Ignored once the connection is closing.
    pub fn send(&mut self, frame: Frame) {
        self.send_with(frame, true);
    }

    /// Like [`send`](Self::send); without `compress`, the frame is not compressed whatever its
    /// size (the reference's `compress: false`).
    pub fn send_with(&mut self, frame: Frame, compress: bool) {
        if self.closing {
            return;
        }
        let opcode = match frame.kind() {
            FrameKind::Text => OpCode::Text,
            FrameKind::Binary => OpCode::Binary,
        };
        match (frame.prefix(), self.deflate.filter(|_| compress)) {
            (_, Some(config)) => self.push_data(compress_frame(opcode, &frame.payload(), &config)),
            (Some(prefix), None) => {
                let body = frame.body();
                let header =
                    FrameHeader::new(opcode, true, 1 + body.len() as u64).with_first_payload_byte(prefix);
                self.push_frame(header, body);
            }
            (None, None) => {
                let payload = frame.payload();
                self.push_frame(FrameHeader::new(opcode, true, payload.len() as u64), payload);
            }
        }
        if self.flow == Flow::Writable && self.out_bytes > WRITE_HIGH_WATER {
            self.flow = Flow::Blocked { told: false };
        }
    }

    /// Queues bytes to write as they are, after what is queued already: for a driver whose HTTP
    /// layer held the `101 Switching Protocols` back, so that it leaves with the first frames.
    pub fn send_raw(&mut self, bytes: Bytes) {
        self.push_data(bytes);
    }

    /// Queues a close frame with `code` (see [`close_code`](super::close_code)), unless one is
    /// queued already. Nothing is read or queued after it; once the output is written, the
    /// driver ends the TCP connection.
    pub fn close(&mut self, code: u16) {
        if !self.closing {
            self.push_data(close_frame(code, ""));
            self.closing = true;
        }
    }

    fn push_frame(&mut self, header: FrameHeader, payload: Bytes) {
        self.out_bytes += header.as_bytes().len() + payload.len();
        self.out.push_back(Chunk::Frame { header, at: 0, payload });
    }

    fn push_data(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.out_bytes += data.len();
            self.out.push_back(Chunk::Data(data));
        }
    }

    /// Whether bytes are waiting to be written.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// How many bytes are waiting to be written.
    pub fn output_len(&self) -> usize {
        self.out_bytes
    }

    /// Fills `slices` with the bytes to write next, for one vectored write, and returns how
    /// many it filled (0 when there is nothing to write). Each queued frame takes at most two
    /// slices; no byte is copied.
    pub fn output<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for slice in self.out.iter().take(slices.len() / 2).flat_map(Chunk::slices) {
            if !slice.is_empty() {
                slices[n] = IoSlice::new(slice);
                n += 1;
            }
        }
        n
    }

    /// `n` bytes of the [`output`](Self::output) were written.
    pub fn advance_output(&mut self, mut n: usize) {
        self.out_bytes = self.out_bytes.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.out.front_mut() else { break };
            match front.advance(n) {
                Some(left) => {
                    n = left;
                    self.out.pop_front();
                }
                None => n = 0,
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // State

    /// Whether a close frame is queued (sent by [`close`](Self::close), or in answer to the
    /// peer's close or error): nothing more is read or queued, and once
    /// [`has_output`](Self::has_output) is false the driver ends the TCP connection.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether the connection holds no buffer: nothing read and undecoded, no partial message,
    /// nothing to write.
    pub fn is_idle(&self) -> bool {
        self.read_buf.capacity() == 0 && !self.decoder.has_partial_message() && self.out.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_connection_is_small() {
        // Every WebSocket session holds one for its whole life.
        let size = std::mem::size_of::<Connection>();
        assert!(size <= 168, "{size}");
        assert!(Connection::new(Limits::DEFAULT).is_idle());
    }

    #[test]
    fn an_idle_connection_lets_go_of_the_buffer_its_last_message_filled() {
        let mut conn = Connection::new(Limits::DEFAULT);
        // A masked text frame "40" (key 0), read in exactly one piece.
        conn.handle_read(&[0x81, 0x82, 0, 0, 0, 0, b'4', b'0']);
        let Some(Event::Frame(Frame::Text(text))) = conn.poll_event() else { panic!("a text frame") };
        assert_eq!(&*text, "40");
        // The connection keeps the buffer the message was read into, for the next read...
        let text = text.into_bytes();
        assert!(!text.is_unique());
        // ...until it is told it is idle.
        conn.release_idle();
        assert!(text.is_unique());
        assert!(conn.is_idle());
    }
}
