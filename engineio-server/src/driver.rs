//! The task that drives one session: it feeds the session machine its inputs (the socket's inbox,
//! the WebSocket, the timer) and carries out what the machine asks for. It makes no protocol
//! decision of its own.

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use engineio_parser::session::{CloseCode, SocketError};
use engineio_parser::{Event, Frame, Queue, Response, Session, SocketId, Transmit, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use crate::clock::now;
use crate::io::BoxedIo;
use crate::server::{Handler, Inner};
use crate::socket::{Input, Socket};
use crate::ws;

/// A WebSocket connection owned by a session task.
pub(crate) struct WsConn {
    id: SocketId,
    io: BoxedIo,
    decoder: ws::Decoder,
    /// Bytes read but not yet decoded. Released whenever it is empty, so an idle connection
    /// holds no read buffer.
    read_buf: BytesMut,
    /// Frames waiting to be written: headers inline, payloads as shared bytes (never copied).
    /// The first frame is held in place: a connection that writes one message at a time never
    /// allocates for its queue.
    out: Queue<Chunk>,
    /// Bytes in `out`.
    out_bytes: usize,
    /// `out` went over [`WRITE_HIGH_WATER`] and the session was told to hold packets back.
    blocked: bool,
    /// A close frame has been queued: nothing more is read or queued.
    closing: bool,
    /// permessage-deflate settings for outgoing data frames, when negotiated.
    deflate: Option<ws::DeflateConfig>,
}

/// Above this many queued bytes a WebSocket counts as not writable: the session keeps packets
/// in its own buffer, where `max_buffered` bounds them.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// The session is told the socket is writable again once the queue is below this.
const WRITE_LOW_WATER: usize = 16 * 1024;

/// How long a closed WebSocket keeps reading (and discarding) what the peer still sends.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// How many bytes a closed WebSocket discards at most before it lets go of the connection.
const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// What happened on a WebSocket.
enum WsEvent {
    Message(ws::Message),
    Error(ws::WsError),
    /// The connection ended (end of stream, an I/O error, or our close was flushed).
    Ended,
    /// The write queue drained below the low-water mark after being full.
    Writable,
}

/// A piece of the write queue.
enum Chunk {
    /// A frame: its header (`at` bytes of it written already), then its payload, shared with
    /// whoever else sends it.
    Frame { header: ws::FrameHeader, at: u8, payload: Bytes },
    /// Bytes framed already (a compressed frame, a close frame), `Data` as they remain.
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
                *at += in_head as u8;
                n -= in_head;
                let in_payload = n.min(payload.len());
                let _ = payload.split_to(in_payload);
                n -= in_payload;
                (usize::from(*at) == header.as_bytes().len() && payload.is_empty()).then_some(n)
            }
            Chunk::Data(data) => {
                let used = n.min(data.len());
                let _ = data.split_to(used);
                data.is_empty().then_some(n - used)
            }
        }
    }
}

impl WsConn {
    /// A WebSocket on `io`; `read_buf` holds bytes already read from it.
    pub(crate) fn new(id: SocketId, io: BoxedIo, limits: ws::Limits, read_buf: BytesMut) -> Self {
        Self::with_deflate(id, io, limits, read_buf, None)
    }

    /// A WebSocket on which permessage-deflate was negotiated (when `deflate` is set).
    pub(crate) fn with_deflate(
        id: SocketId,
        io: BoxedIo,
        limits: ws::Limits,
        read_buf: BytesMut,
        deflate: Option<Deflate>,
    ) -> Self {
        let decoder = match deflate {
            Some(d) => ws::Decoder::with_deflate(limits, d.params),
            None => ws::Decoder::new(limits),
        };
        WsConn {
            id,
            io,
            decoder,
            read_buf,
            out: Queue::new(),
            out_bytes: 0,
            blocked: false,
            closing: false,
            deflate: deflate.map(|d| d.config),
        }
    }

    /// Writes `bytes` (not WebSocket frames: the held `101`) before any frame, in the same
    /// write as the first ones. Called before anything is queued.
    pub(crate) fn write_first(&mut self, bytes: Bytes) {
        debug_assert!(self.out.is_empty(), "write_first after frames were queued");
        if !bytes.is_empty() {
            self.out_bytes += bytes.len();
            self.out.push_back(Chunk::Data(bytes));
        }
    }

    fn queue_frame(&mut self, frame: Frame) {
        if self.closing {
            return;
        }
        let kind = match frame.kind() {
            engineio_parser::FrameKind::Text => ws::OpCode::Text,
            engineio_parser::FrameKind::Binary => ws::OpCode::Binary,
        };
        match frame.prefix() {
            // The prefix travels in the header chunk, the data as the shared bytes it is.
            Some(prefix) if self.deflate.is_none() => {
                let body = frame.body();
                let header =
                    ws::FrameHeader::new(kind, true, 1 + body.len() as u64).with_first_payload_byte(prefix);
                self.push_frame(header, body);
            }
            _ => self.queue_data(kind, frame.payload()),
        }
    }

    fn queue_data(&mut self, kind: ws::OpCode, payload: Bytes) {
        if let Some(config) = self.deflate.filter(|_| !kind.is_control()) {
            let frame = ws::compress_frame(kind, &payload, &config);
            self.out_bytes += frame.len();
            self.out.push_back(Chunk::Data(frame));
            return;
        }
        let header = ws::FrameHeader::new(kind, true, payload.len() as u64);
        self.push_frame(header, payload);
    }

    fn push_frame(&mut self, header: ws::FrameHeader, payload: Bytes) {
        self.out_bytes += header.as_bytes().len() + payload.len();
        self.out.push_back(Chunk::Frame { header, at: 0, payload });
    }

    fn queue_close(&mut self, code: u16) {
        if !self.closing {
            let frame = ws::close_frame(code, "");
            self.out_bytes += frame.len();
            self.out.push_back(Chunk::Data(frame));
            self.closing = true;
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<WsEvent> {
        // Write what is queued, as far as the socket takes it.
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let mut n = 0;
            for slice in self.out.iter().take(slices.len() / 2).flat_map(Chunk::slices) {
                if !slice.is_empty() {
                    slices[n] = IoSlice::new(slice);
                    n += 1;
                }
            }
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(WsEvent::Ended),
                Poll::Ready(Ok(mut written)) => {
                    self.out_bytes = self.out_bytes.saturating_sub(written);
                    while written > 0 {
                        let Some(front) = self.out.front_mut() else { break };
                        match front.advance(written) {
                            Some(left) => {
                                written = left;
                                self.out.pop_front();
                            }
                            None => written = 0,
                        }
                    }
                }
                Poll::Pending => break,
            }
        }
        if self.blocked && self.out_bytes <= WRITE_LOW_WATER && !self.closing {
            self.blocked = false;
            return Poll::Ready(WsEvent::Writable);
        }
        if self.closing {
            if !self.out.is_empty() {
                return Poll::Pending;
            }
            let _ = std::task::ready!(Pin::new(&mut self.io).poll_shutdown(cx));
            return Poll::Ready(WsEvent::Ended);
        }
        // Decode what is buffered, then read more.
        loop {
            if !self.read_buf.is_empty() {
                match self.decoder.decode(&mut self.read_buf) {
                    Ok(Some(message)) => {
                        self.release_read_buf();
                        return Poll::Ready(WsEvent::Message(message));
                    }
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(WsEvent::Error(e)),
                }
            }
            // Uninitialised: zeroing 4 KiB before every read costs more than the read's copy.
            let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
            let mut buf = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(WsEvent::Ended),
                Poll::Ready(Ok(())) => self.read_buf.extend_from_slice(buf.filled()),
                Poll::Ready(Err(_)) => return Poll::Ready(WsEvent::Ended),
                Poll::Pending => {
                    self.release_read_buf();
                    return Poll::Pending;
                }
            }
        }
    }

    fn release_read_buf(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
            self.read_buf = BytesMut::new();
        }
    }

    /// Writes what is queued, for at most `limit`.
    async fn flush(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(
            limit,
            poll_fn(|cx| {
                self.closing = true;
                match self.poll_event(cx) {
                    Poll::Ready(_) => Poll::Ready(()),
                    Poll::Pending => Poll::Pending,
                }
            }),
        )
        .await;
    }
}

/// permessage-deflate as negotiated for one WebSocket, and the server's settings for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deflate {
    pub(crate) params: ws::DeflateParams,
    pub(crate) config: ws::DeflateConfig,
}

/// The HTTP requests waiting for an answer from the session.
#[derive(Default)]
pub(crate) struct Responders(Vec<(engineio_parser::RequestId, oneshot::Sender<Response>)>);

impl Responders {
    pub(crate) fn insert(&mut self, id: engineio_parser::RequestId, responder: oneshot::Sender<Response>) {
        self.0.push((id, responder));
    }

    fn take(&mut self, id: engineio_parser::RequestId) -> Option<oneshot::Sender<Response>> {
        let i = self.0.iter().position(|(r, _)| *r == id)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// Runs one session until it closes.
///
/// A plain function returning an `async move` block, not an `async fn`: the future then holds
/// its arguments once (an `async fn` keeps a copy of each argument besides the local it moves
/// into), and every idle session holds this future.
#[allow(clippy::manual_async_fn)]
pub(crate) fn run<H: Handler>(
    inner: Arc<Inner<H>>,
    socket: Arc<Socket<H::Command>>,
    mut session: Session,
    mut responders: Responders,
    mut ws: Option<WsConn>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let mut conn = Some(inner.handler.on_connection(socket.clone()));
        let mut next_socket = 1u64;
        let limits = inner.ws_limits();
        let mut sleep = pin!(tokio::time::sleep(Duration::from_secs(3600)));
        let mut armed: Option<std::time::Instant> = None;
        loop {
            while let Some(transmit) = session.poll_transmit() {
                match transmit {
                    Transmit::Respond { request, response } => {
                        if let Some(responder) = responders.take(request) {
                            let _ = responder.send(response);
                        }
                    }
                    Transmit::Send { socket: id, frame } => {
                        if let Some(ws) = ws.as_mut().filter(|w| w.id == id) {
                            ws.queue_frame(frame);
                            if !ws.blocked && ws.out_bytes > WRITE_HIGH_WATER {
                                ws.blocked = true;
                                session.handle_socket_writable(id, false);
                            }
                        }
                    }
                    Transmit::CloseSocket { socket: id, code } => {
                        if let Some(ws) = ws.as_mut().filter(|w| w.id == id) {
                            ws.queue_close(close_code(code));
                        }
                    }
                }
            }
            let mut closed = false;
            while let Some(event) = session.poll_event() {
                let Some(c) = conn.as_mut() else { break };
                match event {
                    Event::Message(data) => inner.handler.on_message(c, data),
                    Event::Upgrading => {}
                    Event::Upgraded => {
                        socket.set_transport(Transport::WebSocket);
                        inner.handler.on_upgrade(c);
                    }
                    Event::Closed { reason, description } => {
                        closed = true;
                        socket.mark_closed();
                        inner.remove_session(socket.id());
                        tracing::debug!(sid = %socket.id(), %reason, description, "session closed");
                        if let Some(c) = conn.take() {
                            inner.handler.on_close(c, reason);
                        }
                    }
                }
            }
            if closed {
                // The last writes and the linger go on without the session's state.
                if let Some(mut ws) = ws.take() {
                    tokio::spawn(async move {
                        ws.flush(Duration::from_secs(1)).await;
                        linger(ws.io).await;
                    });
                }
                return;
            }

            socket.set_writable(session.is_writable());
            let handler_deadline = conn.as_mut().and_then(|c| inner.handler.poll_timeout(c));
            let deadline = match (session.poll_timeout(), handler_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // The timer is re-armed only when the deadline moved: most turns leave it alone.
            if let Some(at) = deadline.filter(|at| armed != Some(*at)) {
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
                armed = Some(at);
            }
            // Inputs pushed while this task ran (a handler's answers, typically) are taken now,
            // without a wake-up and another turn of the select.
            if !socket.park() {
                take_inputs(
                    &inner,
                    &socket,
                    &mut conn,
                    &mut session,
                    &mut responders,
                    &mut ws,
                    &mut next_socket,
                    limits,
                );
                continue;
            }
            tokio::select! {
                biased;
                () = socket.notified() => {
                    socket.unpark();
                    take_inputs(&inner, &socket, &mut conn, &mut session, &mut responders, &mut ws, &mut next_socket, limits);
                }
                event = poll_fn(|cx| match ws.as_mut() {
                    Some(w) => w.poll_event(cx),
                    None => Poll::Pending,
                }) => {
                    socket.unpark();
                    let Some(w) = ws.as_mut() else { continue };
                    let id = w.id;
                    match event {
                        WsEvent::Message(ws::Message::Text(text)) => session.handle_frame(id, Frame::Text(text), now()),
                        WsEvent::Message(ws::Message::Binary(data)) => session.handle_frame(id, Frame::Binary(data), now()),
                        // A client that does not read gets no pongs: a ping flood cannot grow the
                        // write queue.
                        WsEvent::Message(ws::Message::Ping(payload)) if !w.blocked => {
                            w.queue_data(ws::OpCode::Pong, payload)
                        }
                        WsEvent::Message(ws::Message::Ping(_)) => {}
                        WsEvent::Message(ws::Message::Pong(_)) => {}
                        WsEvent::Message(ws::Message::Close(_)) => {
                            w.queue_close(1000);
                            session.handle_socket_closed(id);
                        }
                        WsEvent::Error(e) => {
                            w.queue_close(e.close_code());
                            let error = if matches!(e, ws::WsError::MessageTooBig { .. }) {
                                SocketError::MessageTooBig
                            } else {
                                SocketError::Protocol
                            };
                            session.handle_socket_error(id, error);
                        }
                        WsEvent::Writable => session.handle_socket_writable(id, true),
                        WsEvent::Ended => {
                            if let Some(w) = ws.take().filter(|w| w.closing) {
                                tokio::spawn(linger(w.io));
                            }
                            session.handle_socket_closed(id);
                        }
                    }
                }
                () = &mut sleep, if deadline.is_some() => {
                    socket.unpark();
                    armed = None;
                    let now = now();
                    session.handle_timeout(now);
                    if let Some(c) = conn.as_mut().filter(|_| handler_deadline.is_some_and(|at| at <= now)) {
                        inner.handler.on_timeout(c, now);
                    }
                }
            }
        }
    }
}

/// Carries out what the inbox holds.
#[allow(clippy::too_many_arguments)]
fn take_inputs<H: Handler>(
    inner: &Inner<H>,
    socket: &Socket<H::Command>,
    conn: &mut Option<H::Connection>,
    session: &mut Session,
    responders: &mut Responders,
    ws: &mut Option<WsConn>,
    next_socket: &mut u64,
    limits: ws::Limits,
) {
    for input in socket.drain_inbox() {
        match input {
            Input::Command(command) => {
                if let Some(c) = conn.as_mut() {
                    inner.handler.on_command(c, command);
                }
            }
            input => apply(session, responders, ws, next_socket, limits, input),
        }
    }
}

fn apply<C>(
    session: &mut Session,
    responders: &mut Responders,
    ws: &mut Option<WsConn>,
    next_socket: &mut u64,
    limits: ws::Limits,
    input: Input<C>,
) {
    match input {
        Input::Request { id, kind, transport, version, responder } => {
            match session.check_request(transport, version, false) {
                Ok(()) => {
                    responders.insert(id, responder);
                    session.handle_request(id, kind, now());
                }
                Err(e) => {
                    let _ = responder.send(Response::error(&e));
                }
            }
        }
        Input::CheckUpgrade { version, responder } => {
            let _ = responder.send(session.check_request(Transport::WebSocket, version, true));
        }
        Input::Body { id, body } => session.handle_body(id, body, now()),
        Input::BodyTooLarge(id) => session.handle_body_too_large(id),
        Input::Gone(id) => {
            drop(responders.take(id));
            session.handle_request_gone(id);
        }
        Input::Socket(io, read_buf, deflate) => {
            let id = SocketId(*next_socket);
            *next_socket += 1;
            if ws.is_some() {
                // The session has a WebSocket already: it will refuse this one. Close it
                // without waiting for anything.
                session.handle_socket(id, now());
                drop(read_buf);
                tokio::spawn(close_extra(io, limits));
            } else {
                *ws = Some(WsConn::with_deflate(id, io, limits, read_buf, deflate));
                session.handle_socket(id, now());
            }
        }
        Input::Send(packet) => {
            let _ = session.send(packet);
        }
        Input::SendMany(packets) => {
            for packet in packets {
                if session.send(packet).is_err() {
                    break;
                }
            }
        }
        Input::Close => session.close(now()),
        Input::Shutdown => session.shutdown(now()),
        // Handled by the loop, which owns the handler's state.
        Input::Command(_) => {}
    }
}

/// Closes a WebSocket the session refused.
async fn close_extra(io: BoxedIo, limits: ws::Limits) {
    close_with(io, limits, ws::close_code::NORMAL).await;
}

/// Closes a WebSocket whose Engine.IO request was refused (policy violation).
pub(crate) async fn close_refused(io: BoxedIo, limits: ws::Limits) {
    close_with(io, limits, ws::close_code::POLICY_VIOLATION).await;
}

async fn close_with(io: BoxedIo, limits: ws::Limits, code: u16) {
    let mut conn = WsConn::new(SocketId(0), io, limits, BytesMut::new());
    conn.queue_close(code);
    conn.flush(Duration::from_secs(1)).await;
    linger(conn.io).await;
}

/// After the close frame and the FIN went out, reads and discards what the peer still sends
/// until it closes too (bounded by [`LINGER_TIME`] and [`LINGER_BYTES`]). Dropping a socket
/// with unread bytes makes the kernel answer with a reset, which can destroy the close frame
/// before the peer reads it: a client in the middle of an oversized message would see a broken
/// pipe instead of close code 1009.
async fn linger(mut io: BoxedIo) {
    use tokio::io::AsyncReadExt as _;
    let drain = async {
        let mut chunk = [0u8; 4096];
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

fn close_code(code: CloseCode) -> u16 {
    code.code()
}
