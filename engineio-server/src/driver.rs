//! The task that drives one session: a [`Driver`] feeds the session machine its inputs (the
//! socket's inbox, the WebSocket's bytes, the timer) and carries out what the machine asks for.
//! Every decision is the machines': the session's, and the WebSocket connection's
//! ([`ws::Connection`]) for pings, closes and protocol errors. The driver only moves bytes.

use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_parser::session::SendError;
use engineio_parser::{Data, Event, Packet, RequestId, Response, Session, SocketId, Transmit, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::clock::now;
use crate::connections::OwnedLive;
use crate::io::BoxedIo;
use crate::metrics::{self, Direction};
use crate::server::{Handler, Inner, Outbox};
use crate::socket::{Input, Socket};
use crate::ws;

/// How long a closed WebSocket keeps reading (and discarding) what the peer still sends.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// How many bytes a closed WebSocket discards at most before it lets go of the connection.
const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// How long the last writes of a WebSocket may take once its session is over.
const FLUSH_TIME: Duration = Duration::from_secs(1);

/// permessage-deflate as negotiated for one WebSocket, and the server's settings for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deflate {
    pub(crate) params: ws::DeflateParams,
    pub(crate) config: ws::DeflateConfig,
}

/// A WebSocket of a session: the connection machine, and the stream it is driven on.
pub(crate) struct WsConn {
    id: SocketId,
    io: BoxedIo,
    conn: ws::Connection,
}

/// What the stream of a WebSocket gave.
enum Io {
    /// An event of the connection machine, for the session.
    Event(ws::Event),
    /// The stream ended: end of file, an I/O error, or our close went out.
    Ended,
}

impl WsConn {
    /// The WebSocket `id` on `io`, with `read` holding bytes already read from it.
    pub(crate) fn new(id: SocketId, io: BoxedIo, mut conn: ws::Connection, read: &[u8]) -> Self {
        conn.handle_read(read);
        WsConn { id, io, conn }
    }

    pub(crate) fn id(&self) -> SocketId {
        self.id
    }

    /// Queues bytes to go out before any frame (the held `101` of a new session).
    pub(crate) fn send_raw(&mut self, bytes: Bytes) {
        self.conn.send_raw(bytes);
    }

    /// Writes what the connection has queued, as far as the stream takes it: `Ready(Ok)` once
    /// everything is written, `Pending` while the stream is full.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.conn.has_output() {
            let mut slices = [IoSlice::new(&[]); 16];
            let n = self.conn.output(&mut slices);
            match ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n])) {
                Ok(0) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Ok(written) => self.conn.advance_output(written),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Drives the stream: writes what is queued, then gives the connection's next event, reading
    /// more when it has none.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Io> {
        loop {
            let written = self.poll_write(cx);
            if let Poll::Ready(Err(_)) = written {
                return Poll::Ready(Io::Ended);
            }
            if let Some(event) = self.conn.poll_event() {
                return Poll::Ready(Io::Event(event));
            }
            if self.conn.is_closing() {
                if self.conn.has_output() {
                    return Poll::Pending;
                }
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                return Poll::Ready(Io::Ended);
            }
            // A pong was queued after everything else was written: write it first.
            if written.is_ready() && self.conn.has_output() {
                continue;
            }
            // Uninitialised: zeroing 4 KiB before every read costs more than the read's copy.
            let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
            let mut buf = ReadBuf::uninit(&mut chunk);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Io::Ended),
                Ok(()) => self.conn.handle_read(buf.filled()),
                Err(_) => return Poll::Ready(Io::Ended),
            }
        }
    }

    /// Writes what is queued (for at most [`FLUSH_TIME`]), ends the stream and lingers.
    async fn finish(mut self) {
        let _ = tokio::time::timeout(FLUSH_TIME, async {
            if poll_fn(|cx| self.poll_write(cx)).await.is_ok() {
                let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
            }
        })
        .await;
        linger(self.io).await;
    }
}

/// The HTTP requests waiting for an answer from the session.
#[derive(Default)]
pub(crate) struct Responders(Vec<(RequestId, oneshot::Sender<Response>)>);

impl Responders {
    pub(crate) fn insert(&mut self, id: RequestId, responder: oneshot::Sender<Response>) {
        self.0.push((id, responder));
    }

    fn take(&mut self, id: RequestId) -> Option<oneshot::Sender<Response>> {
        let i = self.0.iter().position(|(r, _)| *r == id)?;
        Some(self.0.swap_remove(i).1)
    }

    fn answer(&mut self, id: RequestId, response: Response) {
        if let Some(responder) = self.take(id) {
            let _ = responder.send(response);
        }
    }
}

/// Runs one session until it closes.
pub(crate) fn run<H: Handler>(
    inner: Arc<Inner<H>>,
    socket: Arc<Socket<H::Command>>,
    session: Session,
    responders: Responders,
    ws: Option<WsConn>,
) -> SessionTask<H> {
    SessionTask {
        socket: socket.clone(),
        driver: Driver::new(inner, socket, session, responders, ws),
        timer: tokio::time::sleep(Duration::from_secs(3600)),
        step: Step::Open,
    }
}

pin_project_lite::pin_project! {
    /// One session's task: its driver and its timer, polled inside the session's span.
    ///
    /// Written out rather than an `async` block: every idle session holds it, and a named type
    /// lets the task that waits for a new WebSocket's upgrade go on as its session's task
    /// (see `WsHandshake` in `server.rs`) instead of spawning one.
    pub(crate) struct SessionTask<H: Handler> {
        // The driver's, for the span: entered while the driver is borrowed.
        socket: Arc<Socket<H::Command>>,
        driver: Driver<H>,
        #[pin]
        timer: Sleep,
        step: Step,
    }
}

/// Where a session's task is.
#[derive(Clone, Copy)]
enum Step {
    /// Not polled yet: the handler has not been told the session opened.
    Open,
    /// Between two waits.
    Run,
    /// Waiting for an input; with the timer when `true`.
    Wait(bool),
    /// The session closed.
    Done,
}

impl<H: Handler> Future for SessionTask<H> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let driver = this.driver;
        let _entered = this.socket.span().enter();
        loop {
            match *this.step {
                Step::Open => {
                    driver.open();
                    *this.step = Step::Run;
                }
                Step::Run => {
                    if driver.drain_outputs() {
                        driver.finish();
                        *this.step = Step::Done;
                        return Poll::Ready(());
                    }
                    let timed = driver.arm(this.timer.as_mut());
                    if !driver.take_pending_inputs() {
                        *this.step = Step::Wait(timed);
                    }
                }
                Step::Wait(timed) => {
                    ready!(driver.poll_wait(cx, this.timer.as_mut(), timed));
                    *this.step = Step::Run;
                }
                Step::Done => return Poll::Ready(()),
            }
        }
    }
}

/// One session's machine, the requests and WebSocket it answers on, and the handler's state.
struct Driver<H: Handler> {
    inner: Arc<Inner<H>>,
    socket: Arc<Socket<H::Command>>,
    session: Session,
    responders: Responders,
    ws: Option<WsConn>,
    /// The handler's state, from [`open`](Self::open) until the session closes.
    conn: Option<H::Connection>,
    next_socket: u64,
    /// Taken when the session closes with a WebSocket, before the session leaves the server's
    /// table: the server's close then waits for that WebSocket's last writes.
    finishing: Option<OwnedLive>,
    /// The session's buffered bytes as last added to the `engineio_buffered_bytes` gauge.
    #[cfg(feature = "metrics")]
    buffered: usize,
}

impl<H: Handler> Driver<H> {
    fn new(
        inner: Arc<Inner<H>>,
        socket: Arc<Socket<H::Command>>,
        session: Session,
        responders: Responders,
        ws: Option<WsConn>,
    ) -> Self {
        let next_socket = ws.as_ref().map_or(0, |w| w.id.0) + 1;
        Driver {
            inner,
            socket,
            session,
            responders,
            ws,
            conn: None,
            next_socket,
            finishing: None,
            #[cfg(feature = "metrics")]
            buffered: 0,
        }
    }

    /// Tells the handler the session opened (in the session's task, before anything else).
    fn open(&mut self) {
        self.conn = Some(self.inner.handler.on_connection(self.socket.clone()));
    }

    /// Carries out what the machines have to say, until they are quiet: the session's transmits
    /// (answers, frames, closes) and events (for the handler), and the WebSocket's events, which
    /// are inputs of the session. One message is decoded at a time, its consequences drained
    /// before the next. Returns `true` once the session is closed.
    fn drain_outputs(&mut self) -> bool {
        loop {
            if let Some(conn) = self.conn.as_mut() {
                self.inner.handler.flush(conn, &mut Outbox(&mut self.session, self.inner.max_buffered()));
            }
            while let Some(transmit) = self.session.poll_transmit() {
                self.transmit(transmit, None);
            }
            // After each event, the handler's answer goes out before the next one is taken.
            if let Some(event) = self.session.poll_event() {
                if self.deliver(event) {
                    return true;
                }
                continue;
            }
            let Some(ws) = self.ws.as_mut() else { return false };
            let Some(event) = ws.conn.poll_event() else { return false };
            self.session.handle_socket_event(ws.id, event, now());
        }
    }

    /// Carries out one transmit; `extra` is a WebSocket the session is refusing.
    fn transmit(&mut self, transmit: Transmit, extra: Option<&mut WsConn>) {
        let mut sockets = self.ws.as_mut().into_iter().chain(extra);
        match transmit {
            Transmit::Respond { request, response } => self.responders.answer(request, response),
            Transmit::Send { socket, frame, compress } => {
                if let Some(ws) = sockets.find(|w| w.id == socket) {
                    ws.conn.send_with(frame, compress);
                }
            }
            Transmit::CloseSocket { socket, code } => {
                if let Some(ws) = sockets.find(|w| w.id == socket) {
                    ws.conn.close(code.code());
                }
            }
        }
    }

    /// Hands a session event to the handler; `true` when the session closed.
    fn deliver(&mut self, event: Event) -> bool {
        let Some(conn) = self.conn.as_mut() else { return true };
        let received = event.received_type();
        match event {
            Event::Message(data) => {
                let len = data_len(&data);
                tracing::trace!(
                    r#type = "message",
                    binary = matches!(data, Data::Binary(_)),
                    size = len,
                    "packet in"
                );
                if let Some(kind) = received {
                    metrics::packet(Direction::In, kind, len);
                }
                self.inner.handler.on_message(conn, data);
            }
            Event::Upgrading => tracing::debug!("upgrade started"),
            Event::UpgradeAborted { reason } => tracing::debug!(reason, "upgrade aborted"),
            Event::PacketReceived(packet) => self.inner.handler.on_packet(conn, &packet),
            Event::PacketCreated(packet) => self.inner.handler.on_packet_create(conn, &packet),
            Event::Drained => self.inner.handler.on_drain(conn),
            Event::Upgraded => {
                self.socket.set_transport(Transport::WebSocket);
                self.socket.span().record("transport", Transport::WebSocket.name());
                tracing::debug!("upgrade done");
                metrics::session_upgraded();
                self.inner.handler.on_upgrade(conn);
            }
            Event::Closed { reason, description } => {
                self.socket.mark_closed();
                if self.ws.is_some() {
                    self.finishing = Some(self.inner.connections.owned_live());
                }
                self.inner.remove_session(self.socket.id());
                tracing::debug!(%reason, description, "session closed");
                metrics::session_closed(self.socket.transport(), reason);
                self.report_buffered();
                if let Some(conn) = self.conn.take() {
                    self.inner.handler.on_close_with_description(conn, reason, description);
                }
                return true;
            }
        }
        false
    }

    /// The session is over: its WebSocket's last writes and linger go on in a task of their
    /// own, without the session's state. The connection counts as live until they are done,
    /// so that closing the server waits for its close frame to reach the client (bounded by
    /// `shutdown_timeout`) before the process may exit.
    fn finish(&mut self) {
        if let Some(ws) = self.ws.take() {
            let live = self.finishing.take().unwrap_or_else(|| self.inner.connections.owned_live());
            tokio::spawn(async move {
                ws.finish().await;
                drop(live);
            });
        }
    }

    /// Publishes whether the session is writable and sets the timer to the earlier of the
    /// session's and the handler's deadlines; `false` when there is none.
    fn arm(&mut self, timer: Pin<&mut Sleep>) -> bool {
        self.socket.set_writable(self.session.is_writable());
        self.report_buffered();
        let deadline = match (self.session.poll_timeout(), self.handler_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The timer is re-armed only when the deadline moved: most turns leave it alone. A timer
        // that fired keeps its deadline and fires again at once if that is still the next one.
        if let Some(at) = deadline.map(tokio::time::Instant::from_std).filter(|at| timer.deadline() != *at) {
            timer.reset(at);
        }
        deadline.is_some()
    }

    /// Moves the `engineio_buffered_bytes` gauge by what the session's buffer grew or shrank
    /// since the last report (a closed session's buffer is empty).
    #[cfg(feature = "metrics")]
    fn report_buffered(&mut self) {
        let now = self.session.buffered_bytes();
        if now != self.buffered {
            metrics::buffered(now as i64 - self.buffered as i64);
            self.buffered = now;
        }
    }

    #[cfg(not(feature = "metrics"))]
    #[inline(always)]
    fn report_buffered(&mut self) {}

    /// The next instant the handler wants [`Handler::on_timeout`] for.
    fn handler_deadline(&mut self) -> Option<Instant> {
        self.conn.as_mut().and_then(|c| self.inner.handler.poll_timeout(c))
    }

    /// Takes the inputs pushed while this task ran (a handler's answers, typically) without a
    /// wake-up and a turn of the select; `false` when there are none and the task may wait.
    fn take_pending_inputs(&mut self) -> bool {
        if self.socket.park() {
            return false;
        }
        self.take_inputs();
        true
    }

    /// Waits for one input (something pushed to the inbox, the WebSocket, the timer if `timed`,
    /// asked in that order) and takes it. A poll function rather than a `select!` in an
    /// `async fn`: every idle session's task holds the state of its wait.
    fn poll_wait(&mut self, cx: &mut Context<'_>, timer: Pin<&mut Sleep>, timed: bool) -> Poll<()> {
        // As `select!` does: a task that spent its budget yields before asking anything.
        if !tokio::task::coop::has_budget_remaining() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.socket.poll_pushed(cx).is_ready() {
            self.socket.unpark();
            self.take_inputs();
            return Poll::Ready(());
        }
        if let Some(Poll::Ready(io)) = self.ws.as_mut().map(|w| w.poll_io(cx)) {
            self.socket.unpark();
            self.on_io(io);
            return Poll::Ready(());
        }
        if timed && timer.poll(cx).is_ready() {
            self.socket.unpark();
            self.on_timeout();
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Carries out what the inbox holds.
    fn take_inputs(&mut self) {
        for input in self.socket.drain_inbox() {
            self.take(input);
        }
    }

    fn take(&mut self, input: Input<H::Command>) {
        match input {
            Input::Request { id, kind, transport, version, responder } => {
                self.responders.insert(id, responder);
                self.session.handle_routed_request(id, kind, transport, version, now());
            }
            Input::CheckUpgrade { version, responder } => {
                let _ = responder.send(self.session.check_request(Transport::WebSocket, version, true));
            }
            Input::Body { id, body } => self.session.handle_body(id, body, now()),
            Input::BodyTooLarge(id) => self.session.handle_body_too_large(id),
            Input::Gone(id) => {
                drop(self.responders.take(id));
                self.session.handle_request_gone(id);
            }
            Input::Socket(upgraded) => {
                let (io, read, deflate) = *upgraded;
                self.accept_socket(io, &read, deflate);
            }
            Input::Send(packet) => {
                let _ = send(&mut self.session, packet, true, self.inner.max_buffered());
            }
            Input::SendUncompressed(packet) => {
                let _ = send(&mut self.session, packet, false, self.inner.max_buffered());
            }
            Input::SendMany(packets) => {
                for packet in packets {
                    if send(&mut self.session, packet, true, self.inner.max_buffered()).is_err() {
                        break;
                    }
                }
            }
            Input::Close => {
                // What the handler still holds was sent before the close: it goes first.
                if let Some(conn) = self.conn.as_mut() {
                    self.inner.handler.flush(conn, &mut Outbox(&mut self.session, self.inner.max_buffered()));
                }
                self.session.close(now());
            }
            Input::Shutdown => self.session.shutdown(now()),
            Input::Command(command) => {
                if let Some(conn) = self.conn.as_mut() {
                    self.inner.handler.on_command(conn, command);
                }
            }
        }
    }

    /// A WebSocket upgraded for this session: handed to the session, which takes it as its
    /// upgrade candidate or refuses it.
    fn accept_socket(&mut self, io: BoxedIo, read: &[u8], deflate: Option<Deflate>) {
        let id = SocketId(self.next_socket);
        self.next_socket += 1;
        let new = WsConn::new(id, io, self.inner.ws_connection(deflate), read);
        // A WebSocket the session closed already (an aborted upgrade) finishes on its own.
        if let Some(closed) = self.ws.take_if(|w| w.conn.is_closing()) {
            tokio::spawn(closed.finish());
        }
        self.session.handle_socket(id, now());
        if self.ws.is_none() {
            self.ws = Some(new);
            return;
        }
        // The session has a live WebSocket, so it refuses this one: carry out its answer now.
        let mut extra = new;
        while let Some(transmit) = self.session.poll_transmit() {
            self.transmit(transmit, Some(&mut extra));
        }
        tokio::spawn(extra.finish());
    }

    /// The WebSocket's stream gave something.
    fn on_io(&mut self, io: Io) {
        let Some(ws) = self.ws.as_mut() else { return };
        let id = ws.id;
        match io {
            Io::Event(event) => self.session.handle_socket_event(id, event, now()),
            Io::Ended => {
                if let Some(ws) = self.ws.take().filter(|w| w.conn.is_closing()) {
                    tokio::spawn(linger(ws.io));
                }
                self.session.handle_socket_closed(id);
            }
        }
    }

    /// The deadline passed.
    fn on_timeout(&mut self) {
        let now = now();
        // Asked before the session's timers run: as the handler saw the session when the timer
        // was set (nothing else happened since).
        let handler_due = self.handler_deadline().is_some_and(|at| at <= now);
        self.session.handle_timeout(now);
        if let Some(conn) = self.conn.as_mut().filter(|_| handler_due) {
            self.inner.handler.on_timeout(conn, now);
        }
        // Timers fire seldom (a heartbeat's every few seconds): the time to let go of the read
        // buffer a busy WebSocket keeps for its next read.
        if let Some(ws) = self.ws.as_mut() {
            ws.conn.release_idle();
        }
    }
}

/// The length of a packet's data, in bytes.
fn data_len(data: &Data) -> usize {
    match data {
        Data::Text(text) => text.len(),
        Data::Binary(bytes) => bytes.len(),
    }
}

/// Queues a packet of the application on `session` (compressible or not), counts it, and tells
/// the operator when the session closes because its client does not read (`max_buffered` is
/// the session's limit).
pub(crate) fn send(
    session: &mut Session,
    packet: Packet,
    compress: bool,
    max_buffered: usize,
) -> Result<(), SendError> {
    let (kind, len) = (packet.kind, data_len(&packet.data));
    let buffered = session.buffered_bytes();
    let sent = if compress { session.send(packet) } else { session.send_uncompressed(packet) };
    match sent {
        Ok(()) => {
            tracing::trace!(r#type = kind.name(), size = len, "packet out");
            metrics::packet(Direction::Out, kind, len);
        }
        Err(SendError::BufferFull) => {
            tracing::debug!(
                buffered,
                packet = len,
                limit = max_buffered,
                "client dropped: it does not read fast enough (write buffer full)"
            );
        }
        Err(_) => {}
    }
    sent
}

/// Closes a WebSocket with `code` (a refused request), without a session.
pub(crate) async fn close_with(io: BoxedIo, limits: ws::Limits, code: u16) {
    let mut ws = WsConn::new(SocketId(0), io, ws::Connection::new(limits), &[]);
    ws.conn.close(code);
    ws.finish().await;
}

/// After the close frame and the FIN went out, reads and discards what the peer still sends
/// until it closes too (bounded by [`LINGER_TIME`] and [`LINGER_BYTES`]). Dropping a socket
/// with unread bytes makes the kernel answer with a reset, which can destroy the close frame
/// before the peer reads it: a client in the middle of an oversized message would see a broken
/// pipe instead of close code 1009.
async fn linger(mut io: BoxedIo) {
    let mut discarded = 0;
    // A poll function, its buffer on the stack of each poll: held across the wait, 4 KiB would
    // be copied into every finishing WebSocket's task and allocated with it. Uninitialised, as in
    // `WsConn::poll_io`: what is read is thrown away unlooked at.
    let drain = poll_fn(|cx| {
        let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        while discarded < LINGER_BYTES {
            let mut buf = ReadBuf::uninit(&mut chunk);
            match ready!(Pin::new(&mut io).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => discarded += buf.filled().len(),
                Ok(()) | Err(_) => break,
            }
        }
        Poll::Ready(())
    });
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finishing_websocket_holds_no_read_buffer() {
        // Its task is allocated and its future copied once per closed WebSocket: a 4 KiB read
        // buffer held across the linger's wait made it 4 760 bytes, 616 without.
        let (io, _peer) = tokio::io::duplex(64);
        let ws = WsConn::new(SocketId(1), Box::new(io), ws::Connection::new(ws::Limits::DEFAULT), &[]);
        let size = std::mem::size_of_val(&ws.finish());
        assert!(size <= 640, "{size} bytes");
    }
}
