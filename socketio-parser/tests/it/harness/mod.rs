//! A whole-stack harness on a simulated clock: one Engine.IO [`Session`] and one Socket.IO
//! [`Connection`] wired together as the server crates wire them, in front of a scripted client.
//!
//! The model is quinn-proto's two-sided `Pair`: the test says what the client sends (a polling
//! GET or POST, a WebSocket frame, nothing) at which simulated instant, and asserts exactly what
//! the client receives (HTTP answers, WebSocket frames) and which events the application saw.
//! No sleeps, no threads, no sockets: time is a number the test moves.
//!
//! The wiring copies `engineio-server/src/driver.rs`, `engineio-server/src/server.rs` and
//! `socketio-server/src/client.rs`:
//!
//! 1. requests go through the endpoint's [`route`], then [`Session::check_request`], then the
//!    session's `handle_*` (a closed session is gone from the server's map: `Session ID
//!    unknown`);
//! 2. after every input the session's transmits are delivered to the client, then its events
//!    handled: `Message` → [`Connection::handle_message`], `Upgraded` →
//!    [`Connection::handle_websocket`], `Closed` → [`Connection::handle_transport_closed`] with
//!    the reason mapped as `socketio-server` maps it;
//! 3. what the connection sends goes to [`Session::send`], its `Close` to [`Session::close`],
//!    applied after the session's events, as the driver takes its inbox;
//! 4. after every turn both machines are asked for their next deadline, as the driver re-arms
//!    its timer; [`Stack::advance`] fires every deadline that passed, in order, each at its own
//!    instant: [`Session::handle_timeout`], then [`Connection::handle_timeout`] when its
//!    deadline is due, as the driver's timer branch does.
//!
//! The application is the test: it answers `Connect` events with [`Stack::accept`] and
//! friends, which call the connection's public methods. The glue most likely to change with
//! the connection's API is in one function each: admitting a socket ([`Stack::accept`],
//! [`Stack::accept_with_pid`]) and admitting a recovered session with its missed packets
//! ([`Stack::accept_recovered`]).

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_parser::endpoint::{EndpointConfig, Transport};
use engineio_parser::session::{CloseCode, ResponseKind};
use engineio_parser::{
    decode_payload, encode_payload, route, ByteString, CloseReason, Data, Event as EngineEvent, Frame,
    Initial, Method, Packet as EnginePacket, PayloadFormat, ProtocolVersion as EngineVersion, Query,
    RequestError, RequestId, RequestInfo, RequestKind, Response, Route, Session, SessionConfig, SocketId,
    Transmit as EngineTransmit,
};
use socketio_parser::connection::{
    CloseCause, Connection, ConnectionConfig, DisconnectReason, Event as IoEvent, Message,
    ProtocolVersion as IoVersion, Transmit as IoTransmit,
};
use socketio_parser::{Packet, PacketType, Payload, RawJson};

/// The session id the harness gives every session (the server draws it from a CSPRNG).
pub const SID: &str = "EIOsessionEIOsession";

/// The handshake request of a polling session.
pub const HANDSHAKE: RequestId = RequestId(0);

/// The WebSocket of a session that started on one.
pub const WS0: SocketId = SocketId(0);

/// The smallest step of the clock: "one instant before" a deadline.
pub const TICK: Duration = Duration::from_nanos(1);

/// Milliseconds, for readable instants.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the test configures: the Engine.IO revision and the two machines' settings.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `EIO=4` (Socket.IO protocol v5) or `EIO=3` (Socket.IO protocol v4).
    pub eio: EngineVersion,
    /// The session's settings (the reference's defaults unless changed).
    pub engine: SessionConfig,
    /// How long a client may take to join its first namespace.
    pub connect_timeout: Duration,
}

impl Setup {
    /// An Engine.IO v4 client speaking Socket.IO protocol v5, with the reference's defaults:
    /// ping every 25 s, 20 s to answer, 10 s to upgrade, 45 s to join a namespace.
    pub fn v4() -> Self {
        Setup {
            eio: EngineVersion::V4,
            engine: SessionConfig::default(),
            connect_timeout: ConnectionConfig::default().connect_timeout,
        }
    }

    /// An Engine.IO v3 client (Socket.IO 2) speaking Socket.IO protocol v4: it pings, and it is
    /// in `/` without asking.
    pub fn v3() -> Self {
        Setup { eio: EngineVersion::V3, ..Setup::v4() }
    }

    /// Both revisions, for rules that hold in each.
    pub fn both() -> [Setup; 2] {
        [Setup::v4(), Setup::v3()]
    }

    /// The Socket.IO protocol revision the server speaks over this Engine.IO revision.
    pub fn protocol(&self) -> IoVersion {
        match self.eio {
            EngineVersion::V4 => IoVersion::V5,
            EngineVersion::V3 => IoVersion::V4,
        }
    }
}

/// An HTTP answer as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200` with a payload, decoded into its packets' text forms (`"2"`, `"40{...}"`).
    Packets(Vec<String>),
    /// `200 ok`, the answer to a POST.
    Ok,
    /// An error status and its body (an Engine.IO error's JSON, or nothing).
    Error(u16, String),
}

/// Something the client received, in the order it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The answer to an HTTP request.
    Http(RequestId, Answer),
    /// A text frame on a WebSocket.
    Text(SocketId, String),
    /// A binary frame on a WebSocket.
    Binary(SocketId, Bytes),
    /// A close frame, with its code (the server closed the WebSocket).
    Close(SocketId, u16),
}

/// A poll answered with packets.
pub fn packets(request: RequestId, packets: &[&str]) -> Received {
    Received::Http(request, Answer::Packets(packets.iter().map(|p| (*p).to_owned()).collect()))
}

/// A text frame.
pub fn text(socket: SocketId, text: &str) -> Received {
    Received::Text(socket, text.to_owned())
}

/// A normal close frame (1000).
pub fn close(socket: SocketId) -> Received {
    Received::Close(socket, CloseCode::Normal.code())
}

/// What the application saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An event of the Socket.IO machine (connect request, event, ack, ack timeout, disconnect).
    Io(IoEvent),
    /// The client probed a WebSocket: an upgrade is under way.
    Upgrading,
    /// The session moved to the WebSocket.
    Upgraded,
    /// The Socket.IO machine asked for the connection to be closed (the server logs why).
    CloseRequested(CloseCause),
    /// The Engine.IO session closed.
    Closed(CloseReason),
}

/// A `Disconnect` event.
pub fn disconnect(nsp: &str, reason: DisconnectReason) -> Seen {
    Seen::Io(IoEvent::Disconnect { nsp: ByteString::from(nsp.to_owned()), reason })
}

/// A JSON payload, as events and acks carry them.
pub fn json(text: &str) -> Payload {
    Payload::json(RawJson::new(text.to_owned()).expect("valid JSON"))
}

/// A namespace name.
pub fn nsp(name: &str) -> ByteString {
    ByteString::from(name.to_owned())
}

/// An input for the session from the connection, held until the session's events are handled
/// (the driver's inbox).
enum Input {
    Send(EnginePacket),
    Close,
}

/// One Engine.IO session and its Socket.IO connection, a scripted client and a clock.
pub struct Stack {
    pub setup: Setup,
    pub session: Session,
    pub conn: Connection,
    start: Instant,
    elapsed: Duration,
    next_request: u64,
    next_socket: u64,
    /// The transport the client sends on: polling, or the WebSocket it upgraded to (or
    /// started on).
    sending_on: Option<SocketId>,
    inbox: Vec<Input>,
    /// What the client received and when (time since the handshake).
    received: Vec<(Duration, Received)>,
    /// What the application saw and when.
    seen: Vec<(Duration, Seen)>,
}

impl Stack {
    /// A client's polling handshake: `GET ?EIO=<n>&transport=polling` at instant zero. Its
    /// answer (the `open` packet) is waiting in [`received`](Self::received) as
    /// [`HANDSHAKE`]'s.
    pub fn polling(setup: Setup) -> Self {
        Self::handshake(setup, Transport::Polling)
    }

    /// A client's WebSocket handshake: `GET ?EIO=<n>&transport=websocket` with an upgrade, at
    /// instant zero. The `open` packet is waiting as a frame on [`WS0`].
    pub fn websocket(setup: Setup) -> Self {
        Self::handshake(setup, Transport::WebSocket)
    }

    /// A polling session whose handshake answer was read.
    pub fn polling_opened(setup: Setup) -> Self {
        let mut h = Self::polling(setup);
        let received = h.received();
        assert!(matches!(&received[..], [Received::Http(HANDSHAKE, Answer::Packets(_))]), "{received:?}");
        h
    }

    /// A WebSocket session whose `open` frame was read.
    pub fn websocket_opened(setup: Setup) -> Self {
        let mut h = Self::websocket(setup);
        let received = h.received();
        assert!(matches!(&received[..], [Received::Text(WS0, _)]), "{received:?}");
        h
    }

    fn handshake(setup: Setup, transport: Transport) -> Self {
        let start = Instant::now();
        let query = query(setup.eio, transport, None);
        let info = RequestInfo {
            method: Method::Get,
            query: &query,
            websocket_upgrade: transport == Transport::WebSocket,
            origin: None,
        };
        let Ok(Route::Handshake { transport, version, base64 }) = route(&endpoint(), &info) else {
            panic!("the handshake is refused: {:?}", route(&endpoint(), &info));
        };
        assert_eq!(version, setup.eio);
        let initial = match transport {
            Transport::Polling => Initial::Polling(HANDSHAKE),
            Transport::WebSocket => Initial::WebSocket(WS0),
        };
        let session = Session::new(SID, version, base64, setup.engine, initial, start);
        // `socketio-server`'s `Client::new`: the connection starts with the session.
        let config = ConnectionConfig {
            protocol: setup.protocol(),
            connect_timeout: setup.connect_timeout,
            ..ConnectionConfig::default()
        };
        let mut conn = Connection::new(config, start);
        if transport == Transport::WebSocket {
            conn.handle_websocket();
        }
        let mut h = Stack {
            setup,
            session,
            conn,
            start,
            elapsed: Duration::ZERO,
            next_request: 1,
            next_socket: 1,
            sending_on: (transport == Transport::WebSocket).then_some(WS0),
            inbox: Vec::new(),
            received: Vec::new(),
            seen: Vec::new(),
        };
        // The driver's first turn writes the handshake; the connection's first events (v4's
        // implicit `/`) reach the application.
        h.drain_connection();
        h.turn();
        h
    }

    // -----------------------------------------------------------------------------------------
    // The clock

    /// Time since the handshake.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        self.start + self.elapsed
    }

    /// The instant `t` after the handshake.
    pub fn at(&self, t: Duration) -> Instant {
        self.start + t
    }

    /// Moves the clock forward by `d`, firing every deadline that passes, in order.
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.elapsed + d);
    }

    /// Moves the clock to `t` after the handshake, firing every deadline up to and including
    /// `t`, each at its own instant, as the driver's loop does: ask both machines for their next
    /// deadline, sleep until the earliest, call `handle_timeout`, deliver what follows.
    pub fn advance_to(&mut self, t: Duration) {
        assert!(t >= self.elapsed, "the clock does not go back ({t:?} < {:?})", self.elapsed);
        let target = self.start + t;
        for _ in 0..100_000 {
            let session_at = self.session.poll_timeout();
            let conn_at = self.conn.poll_timeout();
            let next = match (session_at, conn_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(at) = next.filter(|at| *at <= target) else {
                self.elapsed = t;
                return;
            };
            // A deadline already past (none should be) fires now, not in the past.
            let now = at.max(self.now());
            self.elapsed = now - self.start;
            self.session.handle_timeout(now);
            if conn_at.is_some_and(|c| c <= now) {
                self.conn.handle_timeout(now);
                self.drain_connection();
            }
            self.turn();
        }
        panic!("a deadline is never cleared: handle_timeout keeps asking to be called");
    }

    /// The next instant one of the machines wants `handle_timeout`, as the driver sees it.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        let next = match (self.session.poll_timeout(), self.conn.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|at| at - self.start)
    }

    // -----------------------------------------------------------------------------------------
    // The client

    /// Everything the client received since the last call, in order.
    pub fn received(&mut self) -> Vec<Received> {
        self.received_at().into_iter().map(|(_, r)| r).collect()
    }

    /// The same, each with the instant it arrived (time since the handshake).
    pub fn received_at(&mut self) -> Vec<(Duration, Received)> {
        std::mem::take(&mut self.received)
    }

    /// Everything the application saw since the last call, in order.
    pub fn seen(&mut self) -> Vec<Seen> {
        self.seen_at().into_iter().map(|(_, s)| s).collect()
    }

    /// The same, each with the instant it happened (time since the handshake).
    pub fn seen_at(&mut self) -> Vec<(Duration, Seen)> {
        std::mem::take(&mut self.seen)
    }

    fn see(&mut self, seen: Seen) {
        self.seen.push((self.elapsed, seen));
    }

    fn receive(&mut self, received: Received) {
        self.received.push((self.elapsed, received));
    }

    /// Sends a polling GET; its answer arrives in [`received`](Self::received) when the session
    /// writes it.
    pub fn get(&mut self) -> RequestId {
        self.request(Method::Get, RequestKind::Poll, None)
    }

    /// Sends a GET that must be answered at once, and returns the packets it got.
    pub fn poll(&mut self) -> Vec<String> {
        let get = self.get();
        match self.take_answer(get) {
            Some(Answer::Packets(packets)) => packets,
            other => panic!("GET answered {other:?}; received {:?}", self.received),
        }
    }

    /// Sends a POST whose body holds `packets` (text forms, `"40"`, `"3"`), and returns its
    /// answer (which the client does not wait for: it is not in [`received`](Self::received)).
    pub fn post_answer(&mut self, packets: &[&str]) -> Answer {
        let mut body = Vec::new();
        let format = PayloadFormat::for_request(self.setup.eio, false);
        let packets: Vec<EnginePacket> = packets
            .iter()
            .map(|p| EnginePacket::decode_text(ByteString::from((*p).to_owned()), self.setup.eio))
            .collect::<Result<_, _>>()
            .expect("the client's packets are valid");
        encode_payload(&packets, format, &mut body);
        let post = self.request(Method::Post, RequestKind::Post { binary: false }, Some(Bytes::from(body)));
        self.take_answer(post).expect("a POST is answered at once")
    }

    /// Sends a POST with `packets` and checks it is answered `ok`.
    pub fn post(&mut self, packets: &[&str]) {
        let answer = self.post_answer(packets);
        assert_eq!(answer, Answer::Ok, "POST {packets:?}");
    }

    /// Sends `packets` on the transport the client uses: a POST while polling, one frame each on
    /// its WebSocket.
    pub fn send(&mut self, packets: &[&str]) {
        match self.sending_on {
            None => self.post(packets),
            Some(socket) => {
                for packet in packets {
                    self.ws_send(socket, packet);
                }
            }
        }
    }

    /// Opens a WebSocket to upgrade this session (`GET ?EIO=<n>&transport=websocket&sid=...`
    /// with an upgrade): the server answered `101` and handed the socket to the session.
    pub fn ws_open(&mut self) -> SocketId {
        let query = query(self.setup.eio, Transport::WebSocket, Some(SID));
        let info = RequestInfo { method: Method::Get, query: &query, websocket_upgrade: true, origin: None };
        let version = match route(&endpoint(), &info) {
            Ok(Route::Session { transport: Transport::WebSocket, version, .. }) => version,
            other => panic!("the upgrade is not routed to the session: {other:?}"),
        };
        if self.session.is_closed() {
            panic!("upgrade refused: no session {SID}");
        }
        if let Err(e) = self.session.check_request(Transport::WebSocket, version, true) {
            panic!("upgrade refused: {e}");
        }
        let socket = SocketId(self.next_socket);
        self.next_socket += 1;
        self.session.handle_socket(socket, self.now());
        self.turn();
        socket
    }

    /// Sends a text frame on a WebSocket. Sending `5` (upgrade) makes it the client's
    /// transport from then on.
    pub fn ws_send(&mut self, socket: SocketId, text: &str) {
        if text == "5" {
            self.sending_on = Some(socket);
        }
        let frame = Frame::Text(ByteString::from(text.to_owned()));
        self.session.handle_frame(socket, frame, self.now());
        self.turn();
    }

    /// The client closes a WebSocket (or its connection drops).
    pub fn ws_close(&mut self, socket: SocketId) {
        self.session.handle_socket_closed(socket);
        self.turn();
    }

    fn request(&mut self, method: Method, kind: RequestKind, body: Option<Bytes>) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let query = query(self.setup.eio, Transport::Polling, Some(SID));
        let info = RequestInfo { method, query: &query, websocket_upgrade: false, origin: None };
        let (transport, version) = match route(&endpoint(), &info) {
            Ok(Route::Session { transport, version, .. }) => (transport, version),
            Ok(route) => panic!("a request with a sid routed to {route:?}"),
            Err(e) => {
                self.answer(id, Response::error(&e));
                return id;
            }
        };
        // The server forgets a session once it closed.
        if self.session.is_closed() {
            let e = RequestError::new(engineio_parser::ErrorCode::UnknownSid);
            self.answer(id, Response::error(&e));
            return id;
        }
        // The driver's `apply`.
        if let Err(e) = self.session.check_request(transport, version, false) {
            self.answer(id, Response::error(&e));
            return id;
        }
        self.session.handle_request(id, kind, self.now());
        if let Some(body) = body {
            self.session.handle_body(id, body, self.now());
        }
        self.turn();
        id
    }

    /// Removes the answer to `request` from what was received.
    fn take_answer(&mut self, request: RequestId) -> Option<Answer> {
        let i =
            self.received.iter().position(|(_, r)| matches!(r, Received::Http(id, _) if *id == request))?;
        match self.received.remove(i).1 {
            Received::Http(_, answer) => Some(answer),
            _ => unreachable!(),
        }
    }

    fn answer(&mut self, request: RequestId, response: Response) {
        let answer = match response.kind {
            ResponseKind::Payload => {
                assert_eq!(
                    (response.status, response.content_type),
                    (200, Some("text/plain; charset=UTF-8"))
                );
                let format = PayloadFormat::for_request(self.setup.eio, false);
                let packets = decode_payload(response.body, format, usize::MAX)
                    .expect("a payload")
                    .map(|p| p.expect("a packet").encode_text_to_string(self.setup.eio).to_string())
                    .collect();
                Answer::Packets(packets)
            }
            ResponseKind::Ok => {
                assert_eq!(
                    (response.status, response.content_type, &response.body[..]),
                    (200, Some("text/html"), &b"ok"[..])
                );
                Answer::Ok
            }
            ResponseKind::Error | ResponseKind::RefusedUpgrade => Answer::Error(
                response.status,
                String::from_utf8(response.body.to_vec()).expect("a UTF-8 error body"),
            ),
        };
        self.receive(Received::Http(request, answer));
    }

    // -----------------------------------------------------------------------------------------
    // The application

    /// Admits the client to `nsp` as socket `sid` (after a `Connect` event), as
    /// `socketio-server` does for a namespace without middlewares.
    pub fn accept(&mut self, nsp: &str, sid: &str) {
        self.app(|conn, _| conn.accept(&self::nsp(nsp), sid, None));
    }

    /// Admits the client to `nsp` with a private session id, as with connection state recovery
    /// on.
    pub fn accept_with_pid(&mut self, nsp: &str, sid: &str, pid: &str) {
        self.app(|conn, _| conn.accept(&self::nsp(nsp), sid, Some(pid)));
    }

    /// Admits a client whose session was recovered: the packets it missed (event payloads,
    /// `["name", ...args]`) must reach it before the `CONNECT` answer. With the connection's
    /// current API that is one `emit` each, then `accept` (what `socketio-server`'s
    /// `Client::restore` does); this is the one place to change when `accept` takes them.
    pub fn accept_recovered(&mut self, nsp: &str, sid: &str, pid: &str, missed: &[&str]) {
        self.app(|conn, _| {
            let name = self::nsp(nsp);
            let missed = missed
                .iter()
                .map(|data| Packet::with_payload(PacketType::Event, name.clone(), json(data), None));
            conn.accept_restored(&name, sid, pid, missed);
        });
    }

    /// Refuses `nsp` as a namespace that does not exist.
    pub fn reject_invalid_namespace(&mut self, nsp: &str) {
        self.app(|conn, _| conn.reject_invalid_namespace(&self::nsp(nsp)));
    }

    /// Emits an event (`data` is `["name", ...args]`) to a joined namespace.
    pub fn emit(&mut self, nsp: &str, data: &str) {
        self.app(|conn, _| assert!(conn.emit(&self::nsp(nsp), json(data), None), "{nsp} is not joined"));
    }

    /// Emits an event with ack id `id` and awaits the answer for `timeout`, as
    /// `socket.timeout(d).emit_with_ack(...)` does.
    pub fn emit_with_ack(&mut self, nsp: &str, data: &str, id: u64, timeout: Duration) {
        self.app(|conn, now| {
            let name = self::nsp(nsp);
            assert!(conn.emit(&name, json(data), Some(id)), "{nsp} is not joined");
            conn.expect_ack(&name, id, Some(now + timeout));
        });
    }

    /// Answers the client's event that carried ack id `id`.
    pub fn ack(&mut self, nsp: &str, id: u64, data: &str) {
        self.app(|conn, _| {
            assert!(conn.ack(&self::nsp(nsp), id, json(data)), "the client awaits no answer {id}")
        });
    }

    /// Anything else the application does with the connection, at the current instant.
    pub fn app(&mut self, f: impl FnOnce(&mut Connection, Instant)) {
        let now = self.now();
        f(&mut self.conn, now);
        self.drain_connection();
        self.turn();
    }

    /// Joins `nsp` (v5: the client sends `CONNECT`; v4 `/`: implicit) as socket `sid`: the
    /// application accepts, and the client reads the answer (on a poll or its WebSocket).
    pub fn join(&mut self, nsp: &str, sid: &str) {
        let implicit = self.setup.protocol() == IoVersion::V4 && nsp == "/";
        if !implicit {
            self.send(&[&if nsp == "/" { "40".to_owned() } else { format!("40{nsp},") }]);
        }
        let seen = self.seen();
        assert!(matches!(&seen[..], [Seen::Io(IoEvent::Connect { nsp: n, .. })] if &**n == nsp), "{seen:?}");
        self.accept(nsp, sid);
        let answer = match self.sending_on {
            None => self.poll(),
            Some(socket) => self
                .received()
                .into_iter()
                .map(|r| match r {
                    Received::Text(s, t) if s == socket => t,
                    other => panic!("expected the CONNECT answer, got {other:?}"),
                })
                .collect(),
        };
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert!(answer[0].starts_with("40"), "{answer:?}");
    }

    // -----------------------------------------------------------------------------------------
    // The driver

    /// One driver turn after an input: deliver the session's transmits, hand its events to the
    /// connection, take the connection's inputs; again until nothing moves.
    fn turn(&mut self) {
        loop {
            let mut moved = false;
            while let Some(transmit) = self.session.poll_transmit() {
                moved = true;
                self.deliver(transmit);
            }
            while let Some(event) = self.session.poll_event() {
                moved = true;
                self.on_session_event(event);
            }
            for input in std::mem::take(&mut self.inbox) {
                moved = true;
                match input {
                    Input::Send(packet) => {
                        let _ = self.session.send(packet);
                    }
                    Input::Close => self.session.close(self.now()),
                }
            }
            if !moved {
                // The driver re-arms its timer from both machines' deadlines after every turn.
                let _ = self.session.poll_timeout();
                let _ = self.conn.poll_timeout();
                return;
            }
        }
    }

    fn deliver(&mut self, transmit: EngineTransmit) {
        match transmit {
            EngineTransmit::Respond { request, response } => self.answer(request, response),
            EngineTransmit::Send { socket, frame, .. } => match frame.joined() {
                Frame::Text(t) => self.receive(Received::Text(socket, t.to_string())),
                binary => self.receive(Received::Binary(socket, binary.payload())),
            },
            EngineTransmit::CloseSocket { socket, code } => {
                self.receive(Received::Close(socket, code.code()));
                if self.sending_on == Some(socket) {
                    self.sending_on = None;
                }
            }
        }
    }

    /// `socketio-server`'s handler: `on_message`, `on_upgrade`, `on_close`.
    fn on_session_event(&mut self, event: EngineEvent) {
        let now = self.now();
        match event {
            EngineEvent::Message(data) => {
                let message = match data {
                    Data::Text(text) => Message::Text(text),
                    Data::Binary(bytes) => Message::Binary(bytes),
                };
                self.conn.handle_message(message, now);
            }
            EngineEvent::Upgrading => self.see(Seen::Upgrading),
            // The session goes on over polling.
            EngineEvent::UpgradeAborted { .. } => {}
            // Not asked for (no trace).
            EngineEvent::PacketReceived(_) | EngineEvent::PacketCreated(_) | EngineEvent::Drained => {}
            EngineEvent::Upgraded => {
                self.see(Seen::Upgraded);
                self.conn.handle_websocket();
            }
            EngineEvent::Closed { reason, .. } => {
                self.see(Seen::Closed(reason));
                self.conn.handle_transport_closed(reason.into());
            }
        }
        self.drain_connection();
    }

    /// `socketio-server`'s `Client::drain`: the connection's transmits go to the session's
    /// inbox, its events to the application, until it has nothing more to say.
    fn drain_connection(&mut self) {
        loop {
            while let Some(transmit) = self.conn.poll_transmit() {
                match transmit {
                    IoTransmit::Packet(_, message) | IoTransmit::Send(message) => {
                        self.inbox.push(Input::Send(message.into()))
                    }
                    IoTransmit::Encoded(packet) | IoTransmit::EncodedUncompressed(packet) => {
                        self.inbox.extend(packet.messages().iter().cloned().map(Input::Send))
                    }
                    IoTransmit::Close(cause) => {
                        self.see(Seen::CloseRequested(cause));
                        self.inbox.push(Input::Close);
                    }
                }
            }
            let Some(event) = self.conn.poll_event() else { return };
            self.see(Seen::Io(event));
        }
    }
}

fn endpoint() -> EndpointConfig {
    EndpointConfig { allow_eio3: true, ..EndpointConfig::default() }
}

fn query(eio: EngineVersion, transport: Transport, sid: Option<&str>) -> Query {
    let eio = match eio {
        EngineVersion::V4 => "4",
        EngineVersion::V3 => "3",
    };
    let mut raw = format!("EIO={eio}&transport={}", transport.name());
    if let Some(sid) = sid {
        raw.push_str("&sid=");
        raw.push_str(sid);
    }
    Query::parse(&raw)
}
