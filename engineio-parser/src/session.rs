//! One Engine.IO session as a deterministic state machine.
//!
//! The session owns every protocol decision of the reference server's `Socket` and its
//! transports: the handshake packet, the heartbeat, the long-polling request lifecycle (one GET
//! and one POST at a time, batching, close deferral), the upgrade to WebSocket and the close
//! reasons. It never touches a socket or a clock: inputs arrive through `handle_*` with the
//! current time, outputs leave through [`Session::poll_transmit`], [`Session::poll_event`] and
//! [`Session::poll_timeout`]. HTTP requests and WebSockets are named by ids the driver chooses.
//!
//! All transitions of the machine are in this file, in the order a session lives them.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use crate::endpoint::{ErrorCode, ErrorContext, Method, RequestError, Transport, Transports};
use crate::options::{Checker, ConfigError, JS_TIMER_MAX};
use crate::ws::{self, WsError};
use crate::{
    encode_payload, payload_len, Data, Frame, Packet, PacketType, PayloadFormat, ProtocolVersion, Queue,
};

/// An HTTP request, named by the driver. Ids must not be reused while a request is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A WebSocket connection, named by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// A session's settings. The defaults are the reference server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Time between a pong and the next ping (v4), or the client's ping period (v3).
    pub ping_interval: Duration,
    /// How long to wait for a pong (v4), or added to the ping interval before a v3 client that
    /// stopped pinging is dropped.
    pub ping_timeout: Duration,
    /// How long a started upgrade may take before the new WebSocket is closed.
    pub upgrade_timeout: Duration,
    /// How long a server-side close waits for the client's next poll before giving up.
    pub close_timeout: Duration,
    /// How long a server shutdown ([`Session::shutdown`]) waits for the next poll of a
    /// long-polling client that has none pending, to hand it `close` (2 s; a client polls
    /// again as soon as it has an answer). Zero ends such a session at once, without telling
    /// the client, as the reference does.
    pub shutdown_timeout: Duration,
    /// The largest request body, and the `maxPayload` announced in the handshake.
    pub max_payload: usize,
    /// The most bytes of packets waiting for the client, the application's and the heartbeat's
    /// (all but the handshake). Queuing more closes the session (reason `transport error`)
    /// rather than growing the heap.
    pub max_buffered: usize,
    /// Whether a polling session may upgrade to WebSocket.
    pub allow_upgrades: bool,
    /// The enabled transports.
    pub transports: Transports,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            close_timeout: Duration::from_millis(30_000),
            shutdown_timeout: Duration::from_millis(2_000),
            max_payload: 1_000_000,
            max_buffered: 16 * 1024 * 1024,
            allow_upgrades: true,
            transports: Transports::default(),
        }
    }
}

impl SessionConfig {
    /// Checks that every setting can work: see [`SessionConfig::check`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut checker = Checker::new();
        self.check(&mut checker);
        checker.finish()
    }

    /// Records the settings that cannot work: a heartbeat, upgrade or close time under 1 ms
    /// (sent to clients in whole milliseconds, zero would drop them at once), a ping interval
    /// and timeout whose sum a JavaScript client cannot time ([`JS_TIMER_MAX`]), a zero
    /// `max_payload` or `max_buffered`, a `shutdown_timeout` longer than `close_timeout` (the
    /// close waits the shorter), no transport enabled.
    pub fn check(&self, checker: &mut Checker) {
        checker.at_least_1ms("ping_interval", self.ping_interval, "the heartbeat");
        checker.at_least_1ms("ping_timeout", self.ping_timeout, "the heartbeat");
        if self.ping_interval.saturating_add(self.ping_timeout) > JS_TIMER_MAX {
            checker.refuse(
                "ping_timeout",
                format!(
                    "is {:?}, but with ping_interval ({:?}) it is more than a JavaScript client can time ({} ms): \
                     its timer would fire at once and drop the connection",
                    self.ping_timeout,
                    self.ping_interval,
                    JS_TIMER_MAX.as_millis()
                ),
            );
        }
        checker.at_least_1ms("upgrade_timeout", self.upgrade_timeout, "an upgrade");
        checker.at_least_1ms("close_timeout", self.close_timeout, "a server-side close over polling");
        if self.shutdown_timeout > self.close_timeout {
            checker.refuse(
                "shutdown_timeout",
                format!(
                    "is {:?}, longer than close_timeout ({:?}), which bounds it: a shutdown would wait only {:?}",
                    self.shutdown_timeout, self.close_timeout, self.close_timeout
                ),
            );
        }
        checker.nonzero(
            "max_payload",
            self.max_payload,
            "no request body or WebSocket message could be read",
        );
        checker.nonzero("max_buffered", self.max_buffered, "every packet sent would drop its client");
        if !self.transports.polling && !self.transports.websocket {
            checker.refuse("transports", "enables neither polling nor websocket: no client could connect");
        }
    }
}

/// How often a pending poll is released with a `noop` while an upgrade is being probed, as in
/// the reference.
pub const NOOP_INTERVAL: Duration = Duration::from_millis(100);

/// How a session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initial {
    /// A polling handshake: the handshake GET is answered with the `open` packet.
    Polling(RequestId),
    /// A WebSocket handshake: the `open` packet is the first frame.
    WebSocket(SocketId),
}

/// What a polling request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A `GET`: waits for packets.
    Poll,
    /// A `POST` carrying packets; `binary` when its `Content-Type` is
    /// `application/octet-stream`. Its body follows through [`Session::handle_body`].
    Post {
        /// The body is binary (a v3 XHR2 payload).
        binary: bool,
    },
    /// Any other method.
    Other,
}

impl RequestKind {
    /// What a polling request with this method and `Content-Type` header is: a `GET` polls, a
    /// `POST` carries packets (binary ones when its content type is `application/octet-stream`,
    /// the reference's XHR2 payload of v3 clients).
    pub fn new(method: Method, content_type: Option<&[u8]>) -> Self {
        match method {
            Method::Get => RequestKind::Poll,
            Method::Post => RequestKind::Post { binary: content_type.is_some_and(is_octet_stream) },
            Method::Options | Method::Other => RequestKind::Other,
        }
    }
}

/// Whether a `Content-Type` value is `application/octet-stream` (with or without parameters).
fn is_octet_stream(content_type: &[u8]) -> bool {
    const OCTET_STREAM: &[u8] = b"application/octet-stream";
    let value = content_type.trim_ascii_start();
    value.len() >= OCTET_STREAM.len() && value[..OCTET_STREAM.len()].eq_ignore_ascii_case(OCTET_STREAM)
}

/// Why a session closed. [`as_str`](Self::as_str) gives the reference's reason text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the connection (or sent `close` over polling).
    TransportClose,
    /// The client broke a transport rule (overlapping polls, a ping in v4, a request that
    /// vanished, an oversized WebSocket message, a full write buffer...).
    TransportError,
    /// No pong (v4) or ping (v3) in time.
    PingTimeout,
    /// The client sent an undecodable packet.
    ParseError,
    /// The server closed the session.
    ForcedClose,
}

impl CloseReason {
    /// The reference's text for this reason (`"ping timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application learns from a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `message` from the client.
    Message(Data),
    /// The client probed a WebSocket successfully; an upgrade is under way.
    Upgrading,
    /// The session now runs on the WebSocket.
    Upgraded,
    /// An upgrade under way was given up: the candidate WebSocket was closed (or had closed)
    /// and the session goes on over polling.
    UpgradeAborted {
        /// What happened, for logs: `"upgrade timed out"`, `"unexpected packet during
        /// upgrade"`, `"websocket closed during upgrade"`, `"websocket failed during upgrade"`.
        reason: &'static str,
    },
    /// A packet arrived from the client on the session's transport while the session is open,
    /// before the session acts on it: the reference socket's `packet` event. Only with
    /// [`Trace::RECEIVED`] (see [`Session::set_trace`]). Boxed, as the next one: events wait in
    /// the session, which must stay small.
    PacketReceived(Box<Packet>),
    /// The session queued a packet for the client (a `message`, a heartbeat `ping`, a v3
    /// `pong`): the reference socket's `packetCreate` event. Only with [`Trace::CREATED`].
    PacketCreated(Box<Packet>),
    /// Queued packets were handed to the transport and nothing is left to send: the reference
    /// socket's `drain` event. Only with [`Trace::DRAINED`].
    Drained,
    /// The session is over. Nothing follows this event.
    Closed {
        /// Why.
        reason: CloseReason,
        /// The reference's description of what happened, for logs.
        description: &'static str,
    },
}

impl Event {
    /// The type of the client's packet this event hands over, for counting what came in:
    /// `message` for [`Event::Message`], nothing for the others (the observer events report
    /// packets the session handles itself).
    pub fn received_type(&self) -> Option<PacketType> {
        match self {
            Event::Message(_) => Some(PacketType::Message),
            _ => None,
        }
    }
}

/// Which of the observer events ([`Event::PacketReceived`], [`Event::PacketCreated`],
/// [`Event::Drained`]) a session queues, a set of flags combined with `|`. A session starts with
/// [`Trace::NONE`]: an application that does not watch its packets pays nothing for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Trace(u8);

impl Trace {
    /// No observer event.
    pub const NONE: Trace = Trace(0);
    /// [`Event::PacketReceived`].
    pub const RECEIVED: Trace = Trace(1);
    /// [`Event::PacketCreated`].
    pub const CREATED: Trace = Trace(2);
    /// [`Event::Drained`].
    pub const DRAINED: Trace = Trace(4);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Trace) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Trace {
    type Output = Trace;
    fn bitor(self, other: Trace) -> Trace {
        Trace(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Trace {
    fn bitor_assign(&mut self, other: Trace) {
        self.0 |= other.0;
    }
}

/// The kind of an HTTP response, for the driver's compression and logging decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// Packets for a poll.
    Payload,
    /// The `ok` answer to a POST.
    Ok,
    /// An error (with or without a body).
    Error,
    /// The refusal of a WebSocket handshake: the connection is closed after it, as the
    /// reference destroys the socket.
    RefusedUpgrade,
}

/// An HTTP response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// What the response is.
    pub kind: ResponseKind,
    /// The `Content-Type`, if the response has a body.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Bytes,
    /// Whether HTTP compression may apply: for a payload, unless every packet in it was sent
    /// with [`Session::send_uncompressed`] (the reference compresses a poll's answer when any
    /// of its packets allows it; the session's own packets do); never for other answers.
    pub compress: bool,
}

impl Response {
    fn payload(packets: &[Packet], version: ProtocolVersion, base64: bool, compress: bool) -> Self {
        let format = PayloadFormat::for_response(version, !base64, packets);
        let mut body = Vec::with_capacity(payload_len(packets, format));
        encode_payload(packets, format, &mut body);
        Response {
            status: 200,
            kind: ResponseKind::Payload,
            content_type: Some(format.content_type()),
            body: body.into(),
            compress,
        }
    }

    fn ok() -> Self {
        Response {
            status: 200,
            kind: ResponseKind::Ok,
            content_type: Some("text/html"),
            body: Bytes::from_static(b"ok"),
            compress: false,
        }
    }

    /// An error status without a body.
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            kind: ResponseKind::Error,
            content_type: None,
            body: Bytes::new(),
            compress: false,
        }
    }

    /// The JSON error answer to a polling request: `{"code":N,"message":"..."}`.
    pub fn error(error: &RequestError) -> Self {
        Response {
            status: error.status(),
            kind: ResponseKind::Error,
            content_type: Some("application/json"),
            body: Bytes::from(error.json_body()),
            compress: false,
        }
    }

    /// The answer to a refused request: the [JSON error](Self::error) for a polling request, and
    /// for a WebSocket handshake (`websocket_upgrade`) always 400 with the message as text,
    /// after which the connection closes ([`ResponseKind::RefusedUpgrade`]; the reference never
    /// answers an upgrade with 403).
    pub fn refusal(error: &RequestError, websocket_upgrade: bool) -> Self {
        if !websocket_upgrade {
            return Response::error(error);
        }
        Response {
            status: 400,
            kind: ResponseKind::RefusedUpgrade,
            content_type: Some("text/html"),
            body: Bytes::from(error.message().to_owned()),
            compress: false,
        }
    }
}

/// A WebSocket close code chosen by the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000: a normal close.
    Normal,
    /// 1009: a message was larger than the session accepts.
    TooBig,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::TooBig => 1009,
        }
    }
}

/// Something the driver must write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Transmit {
    /// Answer an HTTP request (and forget its id).
    Respond {
        /// The request.
        request: RequestId,
        /// The answer.
        response: Response,
    },
    /// Send a frame on a WebSocket.
    Send {
        /// The WebSocket.
        socket: SocketId,
        /// The frame.
        frame: Frame,
        /// Whether permessage-deflate may compress it (false for a packet sent with
        /// [`Session::send_uncompressed`]).
        compress: bool,
    },
    /// Close a WebSocket (and forget its id).
    CloseSocket {
        /// The WebSocket.
        socket: SocketId,
        /// The close code.
        code: CloseCode,
    },
}

/// A failure of the WebSocket itself, reported by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// A message exceeded the session's `max_payload`.
    MessageTooBig,
    /// The peer broke the WebSocket protocol (bad frame, bad UTF-8, ...).
    Protocol,
}

impl From<WsError> for SocketError {
    /// [`WsError::MessageTooBig`] is [`SocketError::MessageTooBig`] (the session closes the
    /// socket with 1009 and reports it); every other error breaks the protocol.
    fn from(error: WsError) -> Self {
        match error {
            WsError::MessageTooBig { .. } => SocketError::MessageTooBig,
            _ => SocketError::Protocol,
        }
    }
}

/// Why [`Session::send`] refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closing or closed.
    #[error("the session is closed")]
    Closed,
    /// The client did not read fast enough: more than `max_buffered` bytes were waiting. The
    /// session has been closed with [`CloseReason::TransportError`].
    #[error("the client does not read: write buffer full")]
    BufferFull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A server-side close waits for the buffered packets to leave and the transport to be
    /// writable.
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Active {
    Polling,
    WebSocket(SocketId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Upgrade {
    socket: SocketId,
    probed: bool,
}

/// The session's timers, an index into [`Timers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// v4: send the next ping.
    Ping,
    /// v4: the pong is late; v3: the client's ping is late.
    PingTimeout,
    /// The upgrade took too long.
    Upgrade,
    /// Release the pending poll with a `noop` during an upgrade.
    Noop,
    /// A deferred server-side close gives up waiting for a poll.
    Close,
}

const TIMERS: usize = 5;

/// The session's deadlines, each kept as the nanoseconds after the session started plus one
/// (0: not set): 56 bytes where five `Option<Instant>` take 80, in every session.
#[derive(Debug, Clone, Copy)]
struct Timers {
    start: Instant,
    at: [u64; TIMERS],
}

impl Timers {
    fn new(start: Instant) -> Self {
        Timers { start, at: [0; TIMERS] }
    }

    fn get(&self, timer: Timer) -> Option<Instant> {
        self.instant(self.at[timer as usize])
    }

    /// Sets `timer` to `at` (an instant before the session started counts as its start).
    fn set(&mut self, timer: Timer, at: Instant) {
        let nanos = at.saturating_duration_since(self.start).as_nanos();
        self.at[timer as usize] = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
    }

    fn clear(&mut self, timer: Timer) {
        self.at[timer as usize] = 0;
    }

    fn clear_all(&mut self) {
        self.at = [0; TIMERS];
    }

    /// The earliest deadline set.
    fn next(&self) -> Option<Instant> {
        self.instant(self.at.iter().copied().filter(|&n| n != 0).min()?)
    }

    fn instant(&self, at: u64) -> Option<Instant> {
        at.checked_sub(1).map(|nanos| self.start + Duration::from_nanos(nanos))
    }
}

/// One Engine.IO session. See the [module docs](self), and the [drive loop](crate#drive-loop) in
/// the crate docs for how a driver runs it.
///
/// # Example
///
/// A client that opens a WebSocket straight away (the driver named the socket `SocketId(7)`),
/// says hello and is closed by the application; the crate docs show a long-polling session with
/// its heartbeat.
///
/// ```
/// use std::time::Instant;
/// use engineio_parser::{
///     CloseReason, Data, Event, Frame, Initial, Packet, ProtocolVersion, Session, SessionConfig,
///     SocketId, Transmit,
/// };
///
/// let now = Instant::now(); // the session only compares instants
/// let mut session = Session::new(
///     "AAAAAAAAAAAAAAAAAAAA",
///     ProtocolVersion::V4,
///     false,
///     SessionConfig::default(),
///     Initial::WebSocket(SocketId(7)),
///     now,
/// );
/// // The `open` packet goes out on the WebSocket.
/// let Some(Transmit::Send { socket, frame, .. }) = session.poll_transmit() else { unreachable!() };
/// assert_eq!(socket, SocketId(7));
/// assert!(frame.payload().starts_with(b"0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\""));
///
/// // A frame read from the socket is a message for the application.
/// session.handle_frame(SocketId(7), Frame::Text("4hello".into()), now);
/// assert_eq!(session.poll_event(), Some(Event::Message(Data::Text("hello".into()))));
///
/// // The application answers, then closes: the answer, then the WebSocket's close.
/// session.send(Packet::message("bye")).expect("the session is open");
/// session.close(now);
/// let transmits: Vec<Transmit> = std::iter::from_fn(|| session.poll_transmit()).collect();
/// assert!(matches!(&transmits[0], Transmit::Send { frame, .. } if frame.payload() == "4bye"));
/// assert!(matches!(transmits.last(), Some(Transmit::CloseSocket { socket: SocketId(7), .. })));
/// assert!(matches!(
///     session.poll_event(),
///     Some(Event::Closed { reason: CloseReason::ForcedClose, .. })
/// ));
/// ```
#[derive(Debug)]
pub struct Session {
    version: ProtocolVersion,
    /// Shared by the server's sessions (every session holds one).
    config: std::sync::Arc<SessionConfig>,
    base64: bool,
    state: State,
    active: Active,
    /// The pending poll.
    get: Option<RequestId>,
    /// The POST whose body is awaited, and whether it is binary.
    post: Option<(RequestId, bool)>,
    upgrade: Option<Upgrade>,
    timers: Timers,
    /// The one-time refresh of the pong deadline has been used for the current ping.
    ping_refreshed: bool,
    /// The driver reported that the WebSocket's write queue is full: packets wait here, where
    /// `max_buffered` applies.
    socket_blocked: bool,
    /// A server shutdown: over polling, the queued packets and `close` go in one response.
    discard: bool,
    /// The observer events to queue.
    trace: Trace,
    /// Packets waiting for the transport, each with whether it may be compressed.
    buffer: VecDeque<(Packet, bool)>,
    buffered: usize,
    transmits: Queue<Transmit>,
    events: Queue<Event>,
}

impl Session {
    /// Starts a session with id `sid` and queues its handshake (the id goes out in the `open`
    /// packet; the session does not keep it).
    pub fn new(
        sid: &str,
        version: ProtocolVersion,
        base64: bool,
        config: impl Into<std::sync::Arc<SessionConfig>>,
        initial: Initial,
        now: Instant,
    ) -> Self {
        let config = config.into();
        let (active, get) = match initial {
            Initial::Polling(request) => (Active::Polling, Some(request)),
            Initial::WebSocket(socket) => (Active::WebSocket(socket), None),
        };
        let mut session = Session {
            version,
            config,
            base64,
            state: State::Open,
            active,
            get,
            post: None,
            upgrade: None,
            timers: Timers::new(now),
            ping_refreshed: false,
            socket_blocked: false,
            discard: false,
            trace: Trace::NONE,
            buffer: VecDeque::new(),
            buffered: 0,
            transmits: Queue::new(),
            events: Queue::new(),
        };
        // The id goes out in the `open` packet and is not kept: the driver names the session.
        let open = Packet::text(PacketType::Open, session.handshake_json(sid));
        match session.get.take() {
            // The handshake GET is answered with the `open` packet alone, at once, as the
            // reference does: what the application sends from its first call waits for the
            // next poll (a Socket.IO 2 client's implicit `40` among it).
            Some(get) => {
                let response = Response::payload(&[open], session.version, session.base64, true);
                session.respond(get, response);
            }
            None => session.buffer.push_back((open, true)),
        }
        match version {
            ProtocolVersion::V4 => session.set(Timer::Ping, now + session.config.ping_interval),
            ProtocolVersion::V3 => {
                let (interval, timeout) = (session.config.ping_interval, session.config.ping_timeout);
                session.set(Timer::PingTimeout, now + interval + timeout)
            }
        }
        session
    }

    /// The `open` packet's JSON, keys in the reference's order, written into one buffer sized
    /// for it.
    fn handshake_json(&self, sid: &str) -> String {
        let can_upgrade =
            self.active == Active::Polling && self.config.allow_upgrades && self.config.transports.websocket;
        let mut json = String::with_capacity(sid.len() + 112);
        json.push_str("{\"sid\":");
        crate::endpoint::push_json_string(&mut json, sid);
        json.push_str(if can_upgrade { ",\"upgrades\":[\"websocket\"]" } else { ",\"upgrades\":[]" });
        json.push_str(",\"pingInterval\":");
        push_decimal(&mut json, self.config.ping_interval.as_millis());
        json.push_str(",\"pingTimeout\":");
        push_decimal(&mut json, self.config.ping_timeout.as_millis());
        json.push_str(",\"maxPayload\":");
        push_decimal(&mut json, self.config.max_payload as u128);
        json.push('}');
        json
    }

    /// The protocol revision.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> Transport {
        match self.active {
            Active::Polling => Transport::Polling,
            Active::WebSocket(_) => Transport::WebSocket,
        }
    }

    /// Whether the session is over (the `Closed` event has been queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a packet sent now would be written at once: the session is open and a poll is
    /// pending or the session runs on a WebSocket. `volatile` packets are dropped otherwise.
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && match self.active {
                Active::Polling => self.get.is_some(),
                Active::WebSocket(_) => !self.socket_blocked,
            }
    }

    /// Bytes of packets waiting for the client.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Chooses the observer events the session queues from now on (none at first).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// The observer events the session queues.
    pub fn trace(&self) -> Trace {
        self.trace
    }

    // ---------------------------------------------------------------------------------------
    // Requests for this session

    /// Checks a request that names this session before the driver hands it over (and, for a
    /// WebSocket, before it answers the upgrade): the protocol revision must be the session's
    /// and a request on another transport must be an upgrade.
    pub fn check_request(
        &self,
        transport: Transport,
        version: ProtocolVersion,
        websocket_upgrade: bool,
    ) -> Result<(), RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::new(ErrorCode::UnknownSid));
        }
        if version != self.version {
            return Err(RequestError::bad_request(ErrorContext::ProtocolMismatch));
        }
        let upgrade = websocket_upgrade && transport == Transport::WebSocket;
        if !upgrade && transport != self.transport() {
            return Err(RequestError::bad_request(ErrorContext::TransportMismatch));
        }
        Ok(())
    }

    /// A request the endpoint routed to this session ([`Route::Session`](crate::Route::Session))
    /// arrived: it is [checked](Self::check_request), answered with its error through
    /// [`poll_transmit`](Self::poll_transmit) when the check fails, and
    /// [handled](Self::handle_request) otherwise. Not for WebSocket upgrades, which the driver
    /// checks before it answers `101`.
    pub fn handle_routed_request(
        &mut self,
        request: RequestId,
        kind: RequestKind,
        transport: Transport,
        version: ProtocolVersion,
        now: Instant,
    ) {
        match self.check_request(transport, version, false) {
            Ok(()) => self.handle_request(request, kind, now),
            Err(error) => self.respond(request, Response::error(&error)),
        }
    }

    /// A polling request arrived (its headers; a POST's body follows through
    /// [`handle_body`](Self::handle_body)).
    pub fn handle_request(&mut self, request: RequestId, kind: RequestKind, now: Instant) {
        let _ = now;
        if self.state == State::Closed {
            return self.respond(request, Response::error(&RequestError::new(ErrorCode::UnknownSid)));
        }
        match kind {
            RequestKind::Other => self.respond(request, Response::empty(500)),
            RequestKind::Poll => {
                if self.get.is_some() {
                    self.respond(request, Response::empty(400));
                    return self.close_with(CloseReason::TransportError, "overlap from client");
                }
                self.get = Some(request);
            }
            RequestKind::Post { binary } => {
                if self.post.is_some() {
                    self.respond(request, Response::empty(400));
                    return self.close_with(CloseReason::TransportError, "data request overlap from client");
                }
                if binary && self.version == ProtocolVersion::V4 {
                    self.respond(request, Response::empty(400));
                    return self.close_with(CloseReason::TransportError, "invalid content");
                }
                self.post = Some((request, binary));
            }
        }
    }

    /// The whole body of a POST arrived. The driver must have stopped reading at
    /// `max_payload` bytes and called [`handle_body_too_large`](Self::handle_body_too_large)
    /// instead.
    pub fn handle_body(&mut self, request: RequestId, body: Bytes, now: Instant) {
        let Some((_, binary)) = self.post.filter(|(r, _)| *r == request) else {
            return;
        };
        self.post = None;
        let format = PayloadFormat::for_request(self.version, binary);
        let packets = match crate::decode_payload(body, format, self.config.max_payload) {
            Ok(packets) => packets,
            Err(_) => return self.respond(request, Response::empty(413)),
        };
        self.respond(request, Response::ok());
        for packet in packets {
            if self.state == State::Closed {
                break;
            }
            match packet {
                Ok(packet) if packet.kind == PacketType::Close => {
                    self.close_with(CloseReason::TransportClose, "client closed the session")
                }
                Ok(packet) => self.on_packet(packet, now),
                Err(_) => self.close_with(CloseReason::ParseError, "undecodable packet"),
            }
        }
    }

    /// A POST's body exceeded `max_payload`: it is answered with 413 and the session is kept,
    /// as in the reference.
    pub fn handle_body_too_large(&mut self, request: RequestId) {
        if self.post.is_some_and(|(r, _)| r == request) {
            self.post = None;
            self.respond(request, Response::empty(413));
        }
    }

    /// A pending request's connection went away before it was answered. The reference treats
    /// this as a transport error.
    pub fn handle_request_gone(&mut self, request: RequestId) {
        if self.get == Some(request) {
            self.get = None;
            self.close_with(CloseReason::TransportError, "poll connection closed prematurely");
        } else if self.post.is_some_and(|(r, _)| r == request) {
            self.post = None;
            self.close_with(CloseReason::TransportError, "data request connection closed prematurely");
        }
    }

    // ---------------------------------------------------------------------------------------
    // WebSocket

    /// A WebSocket naming this session was accepted (the driver answered `101`). It becomes the
    /// upgrade candidate, or is closed at once when the session cannot upgrade (it already runs
    /// on a WebSocket, an upgrade is under way, upgrades are disabled, or it is closing).
    pub fn handle_socket(&mut self, socket: SocketId, now: Instant) {
        let can_upgrade = self.state == State::Open
            && self.active == Active::Polling
            && self.upgrade.is_none()
            && self.config.allow_upgrades
            && self.config.transports.websocket;
        if !can_upgrade {
            return self.close_socket(socket, CloseCode::Normal);
        }
        self.upgrade = Some(Upgrade { socket, probed: false });
        self.set(Timer::Upgrade, now + self.config.upgrade_timeout);
    }

    /// An event of the WebSocket connection machine ([`ws::Connection::poll_event`]): a frame,
    /// a change of writability, the peer's close, or a protocol error (the connection queued its
    /// close frame already; the session ends with [`CloseReason::TransportError`] if the socket
    /// carried it).
    pub fn handle_socket_event(&mut self, socket: SocketId, event: ws::Event, now: Instant) {
        match event {
            ws::Event::Frame(frame) => self.handle_frame(socket, frame, now),
            ws::Event::Writable(writable) => self.handle_socket_writable(socket, writable),
            ws::Event::Closed => self.handle_socket_closed(socket),
            ws::Event::Failed(error) => self.handle_socket_error(socket, error.into()),
        }
    }

    /// A WebSocket frame arrived.
    pub fn handle_frame(&mut self, socket: SocketId, frame: Frame, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.active == Active::WebSocket(socket) {
            match Packet::decode_frame(frame, self.version) {
                // The reference ignores `close` over WebSocket (after its `packet` event): the
                // session ends when the socket does.
                Ok(packet) if packet.kind == PacketType::Close => self.report_received(&packet),
                Ok(packet) => self.on_packet(packet, now),
                Err(_) => self.close_with(CloseReason::ParseError, "undecodable packet"),
            }
            return;
        }
        let Some(upgrade) = self.upgrade.filter(|u| u.socket == socket) else {
            return;
        };
        match Packet::decode_frame(frame, self.version) {
            Ok(Packet { kind: PacketType::Ping, data: Data::Text(t) }) if &*t == "probe" => {
                self.transmits.push_back(Transmit::Send {
                    socket,
                    frame: Frame::Text(ByteString::from_static("3probe")),
                    compress: true,
                });
                if !upgrade.probed {
                    self.upgrade = Some(Upgrade { probed: true, ..upgrade });
                    self.events.push_back(Event::Upgrading);
                    self.set(Timer::Noop, now + NOOP_INTERVAL);
                }
            }
            Ok(Packet { kind: PacketType::Upgrade, .. }) => self.complete_upgrade(socket),
            // Anything else before `upgrade` aborts the upgrade.
            _ => self.abort_upgrade("unexpected packet during upgrade"),
        }
    }

    fn complete_upgrade(&mut self, socket: SocketId) {
        self.upgrade = None;
        self.clear(Timer::Upgrade);
        self.clear(Timer::Noop);
        self.clear(Timer::Close);
        if let Some(get) = self.get.take() {
            let noop = Response::payload(&[Packet::new(PacketType::Noop)], self.version, self.base64, true);
            self.respond(get, noop);
        }
        self.active = Active::WebSocket(socket);
        self.events.push_back(Event::Upgraded);
        // Buffered packets (and a pending server-side close) now go out on the WebSocket.
    }

    fn abort_upgrade(&mut self, reason: &'static str) {
        if let Some(upgrade) = self.upgrade.take() {
            self.clear(Timer::Upgrade);
            self.clear(Timer::Noop);
            self.close_socket(upgrade.socket, CloseCode::Normal);
            self.events.push_back(Event::UpgradeAborted { reason });
        }
    }

    /// The driver's write queue for the active WebSocket went above (`writable: false`) or back
    /// below (`true`) its limit. While it is full, packets stay in the session's buffer, bounded
    /// by `max_buffered`: a client that stops reading is disconnected instead of growing the
    /// heap, and [`is_writable`](Self::is_writable) is false (volatile packets are dropped).
    pub fn handle_socket_writable(&mut self, socket: SocketId, writable: bool) {
        if self.active == Active::WebSocket(socket) {
            self.socket_blocked = !writable;
        }
    }

    /// A WebSocket closed (the peer closed it or the connection dropped).
    pub fn handle_socket_closed(&mut self, socket: SocketId) {
        if self.active == Active::WebSocket(socket) {
            self.close_with(CloseReason::TransportClose, "websocket closed");
        } else if self.upgrade.is_some_and(|u| u.socket == socket) {
            self.upgrade = None;
            self.clear(Timer::Upgrade);
            self.clear(Timer::Noop);
            self.events.push_back(Event::UpgradeAborted { reason: "websocket closed during upgrade" });
        }
    }

    /// A WebSocket failed: the session closes it (with 1009 for an oversized message) and,
    /// if it carried the session, closes with [`CloseReason::TransportError`].
    pub fn handle_socket_error(&mut self, socket: SocketId, error: SocketError) {
        let code = match error {
            SocketError::MessageTooBig => CloseCode::TooBig,
            SocketError::Protocol => CloseCode::Normal,
        };
        if self.active == Active::WebSocket(socket) {
            if self.state != State::Closed {
                self.close_socket(socket, code);
                let description = match error {
                    SocketError::MessageTooBig => "message too big",
                    SocketError::Protocol => "websocket protocol error",
                };
                self.end(CloseReason::TransportError, description);
            }
        } else if self.upgrade.is_some_and(|u| u.socket == socket) {
            self.upgrade = None;
            self.clear(Timer::Upgrade);
            self.clear(Timer::Noop);
            self.close_socket(socket, code);
            self.events.push_back(Event::UpgradeAborted { reason: "websocket failed during upgrade" });
        }
    }

    // ---------------------------------------------------------------------------------------
    // Packets from the client

    fn on_packet(&mut self, packet: Packet, now: Instant) {
        self.report_received(&packet);
        // engine.io 6.6.11: while a pong is awaited, the first other packet buys the client one
        // more ping timeout (a busy client may be sending a large upload).
        if self.version == ProtocolVersion::V4
            && packet.kind != PacketType::Pong
            && !self.ping_refreshed
            && self.timers.get(Timer::PingTimeout).is_some()
        {
            self.ping_refreshed = true;
            self.set(Timer::PingTimeout, now + self.config.ping_timeout);
        }
        match (packet.kind, self.version) {
            (PacketType::Ping, ProtocolVersion::V4) | (PacketType::Pong, ProtocolVersion::V3) => {
                self.close_with(CloseReason::TransportError, "invalid heartbeat direction")
            }
            (PacketType::Pong, ProtocolVersion::V4) => {
                self.clear(Timer::PingTimeout);
                self.set(Timer::Ping, now + self.config.ping_interval);
            }
            (PacketType::Ping, ProtocolVersion::V3) => {
                self.set(Timer::PingTimeout, now + self.config.ping_interval + self.config.ping_timeout);
                // A full buffer closes the session.
                let _ = self.push(Packet::new(PacketType::Pong));
            }
            (PacketType::Message, _) => self.events.push_back(Event::Message(packet.data)),
            // `open`, `upgrade` and `noop` from the client mean nothing here.
            _ => {}
        }
    }

    /// Queues [`Event::PacketReceived`] if asked for, while the session is open: the reference
    /// reports packets only in its `open` state (a polling `close` never reaches it).
    fn report_received(&mut self, packet: &Packet) {
        if self.trace.contains(Trace::RECEIVED) && self.state == State::Open {
            self.events.push_back(Event::PacketReceived(Box::new(packet.clone())));
        }
    }

    // ---------------------------------------------------------------------------------------
    // Packets to the client

    /// Queues a packet (normally a `message`) for the client. Queued packets leave in one
    /// batch per poll, or one frame each on a WebSocket, when [`poll_transmit`](Self::poll_transmit)
    /// is called.
    pub fn send(&mut self, packet: Packet) -> Result<(), SendError> {
        self.send_with(packet, true)
    }

    /// Like [`send`](Self::send), for a packet that must not be compressed (the reference's
    /// `compress: false`): no permessage-deflate for its frame, and a poll's answer holding
    /// only such packets is not HTTP-compressed.
    pub fn send_uncompressed(&mut self, packet: Packet) -> Result<(), SendError> {
        self.send_with(packet, false)
    }

    fn send_with(&mut self, packet: Packet, compress: bool) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        self.push_with(packet, compress)
    }

    /// Queues one of the session's own packets (a heartbeat), which may be compressed.
    fn push(&mut self, packet: Packet) -> Result<(), SendError> {
        self.push_with(packet, true)
    }

    /// Queues a packet for the client, the application's or the session's own (a heartbeat):
    /// all count against `max_buffered`, so that a client that pings (v3) or is pinged (v4)
    /// but never reads is disconnected too.
    fn push_with(&mut self, packet: Packet, compress: bool) -> Result<(), SendError> {
        let len = packet.text_len(self.version);
        if self.buffered + len > self.config.max_buffered {
            self.close_with(CloseReason::TransportError, "write buffer full");
            return Err(SendError::BufferFull);
        }
        if self.trace.contains(Trace::CREATED) {
            self.events.push_back(Event::PacketCreated(Box::new(packet.clone())));
        }
        // On a WebSocket that takes writes, with nothing waiting before it, the packet is a
        // frame at once: what `flush` would do on the next poll, without holding it meanwhile.
        if let Active::WebSocket(socket) = self.active {
            if !self.socket_blocked && self.buffer.is_empty() {
                let frame = packet.to_frame(self.version, self.base64);
                self.transmits.push_back(Transmit::Send { socket, frame, compress });
                self.report_drained();
                return Ok(());
            }
        }
        self.buffered += len;
        self.buffer.push_back((packet, compress));
        Ok(())
    }

    /// Writes what can be written: the whole buffer to a pending poll, or every packet as a
    /// frame on the WebSocket; then, if a server-side close is pending, finishes it.
    fn flush(&mut self) {
        if self.state == State::Closed {
            return;
        }
        let closing = self.state == State::Closing;
        match self.active {
            Active::Polling => {
                if self.buffer.is_empty() && !closing {
                    return;
                }
                let Some(get) = self.get.take() else { return };
                let compress = self.buffer.iter().any(|(_, compress)| *compress);
                let mut packets: Vec<Packet> = self.buffer.drain(..).map(|(packet, _)| packet).collect();
                self.buffered = 0;
                if !packets.is_empty() {
                    self.report_drained();
                }
                if closing && !packets.is_empty() && !self.discard {
                    // As the reference: what was queued goes first, and `close` answers the
                    // next poll (a client handles a payload's packets in order but may act on
                    // `close` before the others, losing e.g. a DISCONNECT).
                    let response = Response::payload(&packets, self.version, self.base64, compress);
                    self.respond(get, response);
                    return;
                }
                if closing {
                    packets.push(Packet::new(PacketType::Close));
                }
                // `close` is the session's own packet: compressible, as every one of those.
                let response = Response::payload(&packets, self.version, self.base64, compress || closing);
                self.respond(get, response);
            }
            Active::WebSocket(socket) => {
                if self.socket_blocked && !closing {
                    return;
                }
                if !self.buffer.is_empty() {
                    self.report_drained();
                }
                while let Some((packet, compress)) = self.buffer.pop_front() {
                    let frame = packet.to_frame(self.version, self.base64);
                    self.transmits.push_back(Transmit::Send { socket, frame, compress });
                }
                self.buffered = 0;
                if closing {
                    self.close_socket(socket, CloseCode::Normal);
                    self.end(CloseReason::ForcedClose, "server closed the session");
                }
            }
        }
        if closing {
            self.close_with(CloseReason::ForcedClose, "server closed the session");
        }
    }

    /// Queues [`Event::Drained`] if asked for: the write buffer went to the transport, as
    /// the reference's `flush` does when it emits `drain`.
    fn report_drained(&mut self) {
        if self.trace.contains(Trace::DRAINED) {
            self.events.push_back(Event::Drained);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Closing

    /// Closes the session from the server side: the packets already queued are delivered, the
    /// client is told (`close` on polling, a close frame on WebSocket), then the session ends
    /// with [`CloseReason::ForcedClose`]. Over polling, `close` goes to the first poll that
    /// finds nothing else queued (as in the reference, the queued packets are answered first),
    /// waiting at most `close_timeout` for it.
    pub fn close(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        self.state = State::Closing;
        if self.active == Active::Polling {
            // Bounds the wait for the poll that takes `close` (the next one, or the one after
            // if packets are still queued).
            self.set(Timer::Close, now + self.config.close_timeout);
        }
    }

    /// Closes the session for a server shutdown: like [`close`](Self::close), but what is
    /// queued goes out with `close` in one answer, and a polling session without a pending
    /// poll waits for the client's next one only [`SessionConfig::shutdown_timeout`] (or ends
    /// at once when that is zero, as the reference's `discard` close).
    pub fn shutdown(&mut self, now: Instant) {
        if self.discard {
            return;
        }
        self.discard = true;
        self.close(now);
        if self.state == State::Closing && self.active == Active::Polling && self.get.is_none() {
            let wait = self.config.shutdown_timeout.min(self.config.close_timeout);
            if wait.is_zero() {
                self.close_with(CloseReason::ForcedClose, "server shutting down");
            } else {
                self.set(Timer::Close, now + wait);
            }
        }
    }

    /// Ends the session now and closes its WebSocket, unless the client closed it.
    fn close_with(&mut self, reason: CloseReason, description: &'static str) {
        if self.state == State::Closed {
            return;
        }
        if let Active::WebSocket(socket) = self.active {
            if reason != CloseReason::TransportClose {
                self.close_socket(socket, CloseCode::Normal);
            }
        }
        self.end(reason, description);
    }

    /// Ends the session now: pending requests are answered, the upgrade candidate closed, the
    /// buffer dropped. The active WebSocket is the caller's to close.
    fn end(&mut self, reason: CloseReason, description: &'static str) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        if let Some(get) = self.get.take() {
            // The reference releases a pending poll with `noop` when the client closed, and with
            // `close` otherwise.
            let kind =
                if reason == CloseReason::TransportClose { PacketType::Noop } else { PacketType::Close };
            let response = Response::payload(&[Packet::new(kind)], self.version, self.base64, true);
            self.respond(get, response);
        }
        if let Some(upgrade) = self.upgrade.take() {
            self.close_socket(upgrade.socket, CloseCode::Normal);
        }
        self.timers.clear_all();
        self.buffer.clear();
        self.buffered = 0;
        self.events.push_back(Event::Closed { reason, description });
    }

    // ---------------------------------------------------------------------------------------
    // Time

    /// Advances the session's timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in [Timer::Ping, Timer::PingTimeout, Timer::Upgrade, Timer::Noop, Timer::Close] {
            if self.timers.get(timer).is_none_or(|at| at > now) {
                continue;
            }
            self.clear(timer);
            match timer {
                Timer::Ping => {
                    if self.push(Packet::new(PacketType::Ping)).is_ok() {
                        self.ping_refreshed = false;
                        self.set(Timer::PingTimeout, now + self.config.ping_timeout);
                    }
                }
                Timer::PingTimeout => self.close_with(CloseReason::PingTimeout, "no heartbeat in time"),
                Timer::Upgrade => self.abort_upgrade("upgrade timed out"),
                Timer::Noop => {
                    if self.active == Active::Polling {
                        if let Some(get) = self.get.take() {
                            let noop = Packet::new(PacketType::Noop);
                            let response = Response::payload(&[noop], self.version, self.base64, true);
                            self.respond(get, response);
                        }
                    }
                    if self.upgrade.is_some_and(|u| u.probed) {
                        self.set(Timer::Noop, now + NOOP_INTERVAL);
                    }
                }
                Timer::Close => self.close_with(CloseReason::ForcedClose, "server closed the session"),
            }
        }
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) must be called, if any. Ask
    /// again after every input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---------------------------------------------------------------------------------------
    // Outputs

    /// The next thing to write. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            self.flush();
        }
        let transmit = self.transmits.pop_front();
        if transmit.is_none() {
            release(&mut self.buffer);
        }
        transmit
    }

    /// The next event for the application. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn respond(&mut self, request: RequestId, response: Response) {
        self.transmits.push_back(Transmit::Respond { request, response });
    }

    fn close_socket(&mut self, socket: SocketId, code: CloseCode) {
        self.transmits.push_back(Transmit::CloseSocket { socket, code });
    }

    fn set(&mut self, timer: Timer, at: Instant) {
        self.timers.set(timer, at);
    }

    fn clear(&mut self, timer: Timer) {
        self.timers.clear(timer);
    }
}

/// Frees an empty queue's memory: a session spends most of its life idle, and an idle session
/// holds no buffers.
fn release<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

/// Appends `n` in decimal, formatted as a `u64` when it fits (durations' milliseconds are
/// `u128`s, whose formatting divides in 128 bits).
fn push_decimal(out: &mut String, n: u128) {
    use std::fmt::Write as _;
    // Writing into a `String` cannot fail.
    let _ = match u64::try_from(n) {
        Ok(small) => write!(out, "{small}"),
        Err(_) => write!(out, "{n}"),
    };
}

#[cfg(test)]
mod handshake_tests {
    use super::*;

    #[test]
    fn decimals_are_written_whole() {
        for n in [0u128, 7, 10, 25_000, 1_000_000, u128::from(u64::MAX), u128::from(u64::MAX) + 1, u128::MAX]
        {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn a_session_id_is_escaped_only_where_json_needs_it() {
        let cases = [("AbC-_09", r#""AbC-_09""#), ("", r#""""#), ("a\"b\\c\u{1}é", r#""a\"b\\c\u0001é""#)];
        for (sid, json) in cases {
            let mut out = String::new();
            crate::endpoint::push_json_string(&mut out, sid);
            assert_eq!(out, json);
        }
    }

    #[test]
    fn each_character_that_needs_an_escape_is_escaped_on_its_own() {
        // One kind of escape per id: each must leave the copy-whole path by itself.
        let cases = [
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("\u{1}", r#""\u0001""#),
            ("\u{0}", r#""\u0000""#),
            ("a\u{1f}b", r#""a\u001fb""#),
            ("a\nb", r#""a\u000ab""#),
            ("x\"y", r#""x\"y""#),
            ("x\\y", r#""x\\y""#),
            // A space and the bytes around the escaped ranges are copied as they are.
            (" !#[]~\u{7f}", "\" !#[]~\u{7f}\""),
        ];
        for (sid, json) in cases {
            let mut out = String::new();
            crate::endpoint::push_json_string(&mut out, sid);
            assert_eq!(out, json, "{sid:?}");
        }
    }
}
