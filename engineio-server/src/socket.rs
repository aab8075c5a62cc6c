//! The application's handle on one Engine.IO session, and the inbox through which everything
//! reaches the session's task.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use bytestring::ByteString;
use engineio_parser::endpoint::HeaderList;
use engineio_parser::forwarded::TrustProxy;
use engineio_parser::session::RequestKind;
use engineio_parser::{Packet, ProtocolVersion, Queue, RequestError, RequestId, Response, Transport};
use futures_util::task::AtomicWaker;
use tokio::sync::oneshot;

use crate::io::BoxedIo;

/// What the server kept of the request that opened a session.
///
/// The request target and the headers are kept compact (a string, and one buffer:
/// [`HeaderList`]), since every session holds them for its whole life; [`uri`](Self::uri) and
/// [`headers`](Self::headers) build an `http::Uri` and a `HeaderMap` on demand.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request target as it came: the path and query (`/socket.io/?EIO=4&...`), or the
    /// whole URI of a request in absolute form.
    target: Box<str>,
    /// The peer's address (the other end of the connection), when the server knows it: see
    /// [`remote_addr`](crate::remote_addr) for a server mounted in axum or hyper.
    pub remote_addr: Option<SocketAddr>,
    /// The client's IP address: the peer's, or, when the peer is a proxy the
    /// [`trust_proxy`](crate::Config::trust_proxy) option trusts, the address it forwarded.
    /// `None` when the peer is unknown.
    pub address: Option<IpAddr>,
    headers: HeaderList,
}

impl Handshake {
    pub(crate) fn new(
        uri: &http::Uri,
        headers: &http::HeaderMap,
        remote_addr: Option<SocketAddr>,
        trust_proxy: Option<&TrustProxy>,
    ) -> Self {
        let address = remote_addr.map(|peer| match trust_proxy {
            Some(trust) => {
                let values =
                    headers.get_all(trust.header.name()).into_iter().map(http::HeaderValue::as_bytes);
                trust.client_ip(peer.ip(), values)
            }
            None => peer.ip(),
        });
        let len = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum();
        let headers = HeaderList::with_len(len, headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        let target = match (uri.scheme(), uri.authority(), uri.path_and_query()) {
            (None, None, Some(target)) => target.as_str().into(),
            _ => uri.to_string().into(),
        };
        Handshake { target, remote_addr, address, headers }
    }

    /// The request target as it came (the reference's `req.url`): the path and query, such as
    /// `/socket.io/?EIO=4&transport=websocket`.
    pub fn url(&self) -> &str {
        &self.target
    }

    /// The request's URI, parsed from [`url`](Self::url).
    pub fn uri(&self) -> http::Uri {
        // It came from an `http::Uri`: it parses again.
        self.target.parse().unwrap_or_default()
    }

    /// The request's query string (without the `?`), if it has one. (A target holds no
    /// fragment: `http` drops it when it parses one.)
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The request's headers, in order, as (lowercase name, raw value) pairs.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers.pairs()
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// The request's headers as a `HeaderMap`.
    pub fn headers(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.header_pairs() {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_bytes(value))
            {
                map.append(name, value);
            }
        }
        map
    }
}

/// Why a packet could not be handed to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session is closed")]
pub struct Closed;

/// One Engine.IO session, as the application sees it: its id, its transport, the request that
/// opened it, and a way to send packets and to close it. Cheap to share (`Arc`).
///
/// The [`Handler`](crate::Handler) gets it at `on_connection` and keeps what it needs:
///
/// ```
/// use std::sync::Arc;
/// use engineio_server::{CloseReason, Data, Handler, Packet, Socket};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Connection = Arc<Socket>;
///     type Command = ();
///
///     fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
///         println!("{} opened over {:?}", socket.id(), socket.transport());
///         socket
///     }
///     fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
///         // Queued in the session: sent on its WebSocket, or with the next poll.
///         if socket.send(Packet::message_data(data)).is_err() {
///             socket.close();
///         }
///     }
///     fn on_close(&self, socket: Arc<Socket>, reason: CloseReason) {
///         println!("{} closed: {reason}", socket.id());
///     }
/// }
/// ```
pub struct Socket<C = ()> {
    id: ByteString,
    protocol: ProtocolVersion,
    transport: AtomicU8,
    handshake: Handshake,
    closed: AtomicBool,
    writable: AtomicBool,
    next_request: AtomicU64,
    inbox: Mutex<Queue<Input<C>>>,
    /// Inputs pushed since the session task last took the inbox (an upper bound: it may count
    /// an input already taken).
    queued: AtomicUsize,
    /// The session task is about to wait, or waits, for input: a push must wake it. While it
    /// runs, it takes the inbox itself before it waits, and pushes skip the wake-up.
    parked: AtomicBool,
    /// The session task, while it waits.
    waker: AtomicWaker,
    /// The session's `tracing` span (`sid`, `transport`, `remote`), entered around everything
    /// its task and its requests do.
    span: tracing::Span,
}

/// An input for the session's task.
pub(crate) enum Input<C> {
    /// A polling request (or a check before a WebSocket upgrade is answered).
    Request {
        id: RequestId,
        kind: RequestKind,
        transport: Transport,
        version: ProtocolVersion,
        responder: oneshot::Sender<Response>,
    },
    /// Check that a WebSocket may be upgraded to for this session.
    CheckUpgrade { version: ProtocolVersion, responder: oneshot::Sender<Result<(), RequestError>> },
    /// A POST body.
    Body { id: RequestId, body: Bytes },
    /// A POST body over `max_payload`.
    BodyTooLarge(RequestId),
    /// A request whose connection went away before it was answered.
    Gone(RequestId),
    /// An upgraded WebSocket connection for this session, bytes already read from it, and its
    /// permessage-deflate settings if negotiated. Boxed: it comes once or twice in a session's
    /// life, and the inbox keeps a slot the size of the largest input.
    Socket(Box<(BoxedIo, Bytes, Option<crate::driver::Deflate>)>),
    /// A packet from the application.
    Send(Packet),
    /// A packet from the application, never compressed.
    SendUncompressed(Packet),
    /// Several packets from the application, in order.
    SendMany(Vec<Packet>),
    /// A close from the application.
    Close,
    /// The server is shutting down.
    Shutdown,
    /// A command for the handler's `on_command`.
    Command(C),
}

impl<C> std::fmt::Debug for Socket<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("protocol", &self.protocol)
            .field("transport", &self.transport())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<C> Socket<C> {
    pub(crate) fn new(
        id: ByteString,
        protocol: ProtocolVersion,
        transport: Transport,
        handshake: Handshake,
    ) -> Self {
        let span = tracing::debug_span!(
            "engineio",
            sid = %id,
            transport = transport.name(),
            remote = tracing::field::Empty,
        );
        if let Some(remote) = handshake.remote_addr {
            span.record("remote", tracing::field::display(remote));
        }
        Socket {
            id,
            protocol,
            transport: AtomicU8::new(transport as u8),
            handshake,
            closed: AtomicBool::new(false),
            writable: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            inbox: Mutex::new(Queue::new()),
            queued: AtomicUsize::new(0),
            parked: AtomicBool::new(true),
            waker: AtomicWaker::new(),
            span,
        }
    }

    /// The session's `tracing` span: `sid`, `transport` (recorded again on upgrade) and
    /// `remote` (the peer's address, when known).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The session id (`sid`).
    pub fn id(&self) -> &ByteString {
        &self.id
    }

    /// The Engine.IO protocol revision the client speaks.
    pub fn protocol(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> Transport {
        if self.transport.load(Ordering::Relaxed) == Transport::WebSocket as u8 {
            Transport::WebSocket
        } else {
            Transport::Polling
        }
    }

    /// The request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// Whether the session has closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether a packet sent now would be written at once (a poll is waiting, or the WebSocket
    /// is not backed up), as of the session task's last turn. `volatile` packets are dropped
    /// when it is false.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }

    pub(crate) fn set_writable(&self, writable: bool) {
        self.writable.store(writable, Ordering::Relaxed);
    }

    /// Queues a packet for the client.
    pub fn send(&self, packet: Packet) -> Result<(), Closed> {
        self.push(Input::Send(packet))
    }

    /// Queues `packet`, never compressed: no permessage-deflate for its frame, and a poll's
    /// answer that holds only such packets is not HTTP-compressed (the reference's
    /// `compress: false`).
    pub fn send_uncompressed(&self, packet: Packet) -> Result<(), Closed> {
        self.push(Input::SendUncompressed(packet))
    }

    /// Queues a text `message`.
    pub fn send_text(&self, text: impl Into<ByteString>) -> Result<(), Closed> {
        self.send(Packet::message(text))
    }

    /// Queues a binary `message`.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Closed> {
        self.send(Packet::binary(data))
    }

    /// Queues several packets, which a poll receives in the same response when it can.
    pub fn send_many(&self, packets: Vec<Packet>) -> Result<(), Closed> {
        self.push(Input::SendMany(packets))
    }

    /// Hands `command` to the handler's [`on_command`](crate::Handler::on_command), inside the
    /// session's task, in order with the packets queued by [`send`](Self::send) (for work that
    /// finished elsewhere, such as an async middleware). Fails once the session is closed.
    pub fn post(&self, command: C) -> Result<(), Closed> {
        self.push(Input::Command(command))
    }

    /// Closes the session (reason `forced close`) after the queued packets are delivered.
    pub fn close(&self) {
        let _ = self.push(Input::Close);
    }

    pub(crate) fn set_transport(&self, transport: Transport) {
        self.transport.store(transport as u8, Ordering::Relaxed);
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        // Drop whatever was queued: nobody will read it.
        drop(std::mem::take(&mut *self.lock_inbox()));
    }

    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId(self.next_request.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn push(&self, input: Input<C>) -> Result<(), Closed> {
        self.push_all([input])
    }

    /// Pushes two inputs at once: the session task sees both on one wake-up.
    pub(crate) fn push_pair(&self, first: Input<C>, second: Input<C>) -> Result<(), Closed> {
        self.push_all([first, second])
    }

    fn push_all<const N: usize>(&self, inputs: [Input<C>; N]) -> Result<(), Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        let mut inbox = self.lock_inbox();
        inputs.into_iter().for_each(|input| inbox.push_back(input));
        drop(inbox);
        // Paired with `park`: of the two SeqCst pairs (count, then read `parked`; set `parked`,
        // then read the count), one sees the other's write, so an input is never left waiting
        // for a task that sleeps.
        self.queued.fetch_add(N, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            self.waker.wake();
        }
        Ok(())
    }

    /// Takes everything queued, releasing the queue's memory.
    pub(crate) fn drain_inbox(&self) -> Queue<Input<C>> {
        let mut inbox = self.lock_inbox();
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut *inbox)
    }

    /// Called by the session task before it waits: `false` when inputs arrived meanwhile (take
    /// them instead of waiting), `true` when pushes from now on wake [`poll_pushed`](Self::poll_pushed).
    pub(crate) fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.queued.load(Ordering::SeqCst) > 0 {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// The session task runs again: pushes need not wake it.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Ready once something was pushed since the inbox was last taken. The waker is registered
    /// before the count is read: a push that lands in between sees it and wakes the task.
    pub(crate) fn poll_pushed(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.waker.register(cx.waker());
        if self.queued.load(Ordering::SeqCst) > 0 {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    fn lock_inbox(&self) -> MutexGuard<'_, Queue<Input<C>>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handshake_keeps_the_request_target_as_it_came() {
        let uri = http::Uri::from_static("/socket.io/?EIO=4&transport=websocket");
        let handshake = Handshake::new(&uri, &http::HeaderMap::new(), None, None);
        assert_eq!(handshake.url(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(handshake.uri(), uri);
        assert_eq!(handshake.query(), Some("EIO=4&transport=websocket"));

        let absolute = http::Uri::from_static("http://example.com:3000/socket.io/?EIO=4");
        let handshake = Handshake::new(&absolute, &http::HeaderMap::new(), None, None);
        assert_eq!(handshake.url(), "http://example.com:3000/socket.io/?EIO=4");
        assert_eq!(handshake.uri(), absolute);
        assert_eq!(handshake.query(), Some("EIO=4"));

        let bare =
            Handshake::new(&http::Uri::from_static("/socket.io/"), &http::HeaderMap::new(), None, None);
        assert_eq!(bare.query(), None);

        let uri: http::Uri = "/socket.io/?EIO=4#fragment".parse().expect("a request target");
        let fragment = Handshake::new(&uri, &http::HeaderMap::new(), None, None);
        assert_eq!(fragment.query(), Some("EIO=4"));
    }

    #[test]
    fn a_handshake_is_small() {
        // Every session holds one: the target as a string, not an `http::Uri` (88 bytes).
        let size = std::mem::size_of::<Handshake>();
        assert!(size <= 104, "{size} bytes");
    }
}
