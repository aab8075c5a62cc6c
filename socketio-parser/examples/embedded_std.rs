//! A Socket.IO server made of the two sans-IO crates and the standard library only: `std::net`
//! sockets, one `std::thread` per TCP connection, a `std::sync::Mutex` around the sessions. No
//! async runtime. It serves the npm `socket.io-client` over HTTP long-polling and WebSocket,
//! upgrades included, and is the model for embedding the core in any other runtime.
//!
//! ```text
//! cargo run -p socketio-parser --example embedded_std -- --port 3000
//! ```
//!
//! Options: `--port N` (default 3000), `--ping-interval MS` and `--ping-timeout MS` (the
//! heartbeat, default 25000 and 20000). It prints `listening on 127.0.0.1:N` when ready and
//! stops when its standard input ends (Ctrl-D in a terminal; `sleep infinity | embedded_std`
//! keeps it running in the background; killing it works too).
//!
//! What the application does, on the namespace `/`: on connection it emits `hello` (an object
//! and three bytes) and waits for the client's ack, which it sends back as `ack-received`; it
//! answers `echo` with the same arguments and `reverse` (bytes) with the bytes reversed; it sends
//! `broadcast` to every connected client. It prints a line per connection, ack and disconnection
//! (with the reason: `ping timeout` for a client that stops answering the heartbeat).
//!
//! # The drive loop
//!
//! Two machines serve one client: the Engine.IO [`Session`] (handshake, heartbeat, polling
//! requests, the upgrade to WebSocket) and, on top of it, the Socket.IO [`Connection`]
//! (namespaces, events, acks). Neither reads a clock nor touches a socket. This file is their
//! driver:
//!
//! 1. Push an input: an HTTP request ([`Session::handle_request`], [`Session::handle_body`]),
//!    a WebSocket ([`Session::handle_socket`]) and its frames ([`Session::handle_frame`]), the
//!    end of a connection, or the time ([`Session::handle_timeout`],
//!    [`Connection::handle_timeout`]). Every input goes through [`Server::input`].
//! 2. Drain the session: [`Session::poll_transmit`] until `None` (answer an HTTP request, or
//!    queue a frame on a WebSocket), then [`Session::poll_event`] until `None` (each `Message` is
//!    handed to [`Connection::handle_message`]).
//! 3. Drain the connection: [`Connection::poll_transmit`] until `None` (each message goes into
//!    the session with [`Session::send`]; `Close` becomes [`Session::close`]), then
//!    [`Connection::poll_event`] until `None` (the application's handlers, which may call
//!    [`Connection::accept`], [`Connection::emit`], [`Connection::ack`]...).
//! 4. Repeat 2 and 3 until a whole round produces nothing (see [`drive`]).
//! 5. Ask both machines for their next deadline (`poll_timeout`) and call their
//!    `handle_timeout(now)` when it passes: one timer thread does it for every session
//!    ([`run_timers`]), woken by a `Condvar` whenever an input may have moved a deadline.
//!
//! `now` always comes from one function, [`now`]. A thread waiting for the answer to a
//! polling `GET` sleeps on another `Condvar` until step 2 has stored it.
//!
//! Frames for a WebSocket go through a channel to that socket's writer thread, so no socket is
//! written while the sessions' lock is held and frames keep the order the session chose.
//!
//! # Limits of this example
//!
//! One thread per TCP connection (two per WebSocket), no TLS, no CORS, no chunked request
//! bodies, no permessage-deflate, only the namespace `/`, Engine.IO v4 clients only (the
//! default [`EndpointConfig`]). A WebSocket client that stops reading is dropped when a write
//! blocks for [`WRITE_TIMEOUT`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use engineio_parser::session::{CloseCode, SocketError};
use engineio_parser::ws::{self, OpCode};
use engineio_parser::{
    route, EndpointConfig, ErrorCode, Event as EngineEvent, Frame, FrameKind, Initial, Method,
    ProtocolVersion as EngineVersion, Query, RequestError, RequestId, RequestInfo, RequestKind, Response,
    Route, Session, SessionConfig, SocketId, Transmit as EngineTransmit, Transport,
};
use socketio_parser::connection::{
    Connection, ConnectionConfig, DisconnectReason, Event, Parser, ProtocolVersion, Transmit,
};
use socketio_parser::{
    event_name, from_args, from_payload, to_payload, AckIds, ByteString, EncodedPacket, Payload, Value,
};

/// How long the server waits for the client's answer to `hello`.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a WebSocket may block before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive HTTP connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest request head.
const MAX_HEAD: usize = 16 * 1024;

/// The only clock read of the program: the machines are given `now`, they never ask for it.
fn now() -> Instant {
    Instant::now()
}

// -------------------------------------------------------------------------------------------
// State

/// What every thread shares.
struct Server {
    state: Mutex<State>,
    /// Woken when answers to polling requests were stored.
    answered: Condvar,
    /// Woken when a deadline may have moved (after every input).
    timers: Condvar,
    config: Arc<SessionConfig>,
}

struct State {
    /// The sessions, by Engine.IO session id.
    clients: HashMap<ByteString, Client>,
    /// Answers to polling requests, until the thread that waits for each takes it.
    answers: HashMap<RequestId, Response>,
    /// Request and WebSocket ids are drawn from one counter.
    next_id: u64,
}

/// One client: its two machines and the writer threads of its WebSockets.
struct Client {
    /// The session id (the session machine does not keep it).
    sid: ByteString,
    session: Session,
    conn: Connection,
    /// The WebSockets of the session: the active one and an upgrade candidate.
    sockets: Vec<(SocketId, Sender<Out>)>,
    /// The Socket.IO socket id given to the client when it joined `/`.
    socket_id: String,
    /// Our ack ids, one counter (we only serve `/`).
    ack_ids: AckIds,
}

impl Client {
    fn new(sid: ByteString, session: Session, now: Instant) -> Self {
        let protocol = match session.version() {
            EngineVersion::V3 => ProtocolVersion::V4,
            EngineVersion::V4 => ProtocolVersion::V5,
        };
        let mut conn = Connection::new(ConnectionConfig { protocol, ..ConnectionConfig::default() }, now);
        if session.transport() == Transport::WebSocket {
            conn.handle_websocket();
        }
        Client { sid, session, conn, sockets: Vec::new(), socket_id: String::new(), ack_ids: AckIds::new() }
    }

    /// The earlier deadline of the two machines.
    fn deadline(&mut self) -> Option<Instant> {
        match (self.session.poll_timeout(), self.conn.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn socket(&self, id: SocketId) -> Option<&Sender<Out>> {
        self.sockets.iter().find(|(s, _)| *s == id).map(|(_, out)| out)
    }
}

impl Server {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_id(&self) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        state.next_id
    }

    /// Step 1 of the drive loop: pushes one input into the client of `sid`, then drains it
    /// (steps 2–4) and wakes whoever waits. `None` if there is no such session.
    fn input<R>(&self, sid: &ByteString, input: impl FnOnce(&mut Client, Instant) -> R) -> Option<R> {
        let mut state = self.lock();
        let now = now();
        let client = state.clients.get_mut(sid)?;
        let result = input(client, now);
        drive(&mut state, sid, now);
        drop(state);
        self.answered.notify_all();
        self.timers.notify_one();
        Some(result)
    }

    /// Whether the session of `sid` takes a request on `transport`. A question, not an input:
    /// there is nothing to drive.
    fn check_request(
        &self,
        sid: &ByteString,
        transport: Transport,
        version: EngineVersion,
        upgrade: bool,
    ) -> Result<(), RequestError> {
        let state = self.lock();
        let client = state.clients.get(sid).ok_or(RequestError::new(ErrorCode::UnknownSid))?;
        client.session.check_request(transport, version, upgrade)
    }

    /// Starts a new client and drains it (its handshake).
    fn open(&self, client: Client) {
        let sid = client.sid.clone();
        self.lock().clients.insert(sid.clone(), client);
        self.input(&sid, |_, _| ());
    }

    /// Waits for the session's answer to polling request `id`. A client that goes away
    /// meanwhile is reported to the session, as the protocol wants.
    fn wait_answer(&self, sid: &ByteString, id: RequestId, stream: &TcpStream) -> Response {
        let config = &self.config;
        let give_up = now() + (config.ping_interval + config.ping_timeout) * 2 + Duration::from_secs(5);
        let mut state = self.lock();
        loop {
            if let Some(response) = state.answers.remove(&id) {
                return response;
            }
            if now() >= give_up || peer_closed(stream) {
                drop(state);
                self.input(sid, |c, _| c.session.handle_request_gone(id));
                return self.lock().answers.remove(&id).unwrap_or(Response::empty(500));
            }
            state = self
                .answered
                .wait_timeout(state, Duration::from_millis(500))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

// -------------------------------------------------------------------------------------------
// The drive loop

/// Steps 2–4 for client `sid`, then for the clients its application handlers broadcast to.
fn drive(state: &mut State, sid: &ByteString, now: Instant) {
    let mut pending = vec![sid.clone()];
    let mut broadcasts = Vec::new();
    while let Some(sid) = pending.pop() {
        drive_one(state, &sid, now, &mut broadcasts);
        for data in broadcasts.drain(..) {
            // Encoded once; every recipient queues the same messages.
            let packet = EncodedPacket::event(Parser::Json, &MAIN, data, None);
            for (other, client) in &mut state.clients {
                if client.conn.send_event(&packet, None) {
                    pending.push(other.clone());
                }
            }
        }
    }
}

/// Steps 2–4 for one client, until neither machine has anything more to say.
fn drive_one(state: &mut State, sid: &ByteString, now: Instant, broadcasts: &mut Vec<Payload>) {
    let State { clients, answers, .. } = state;
    let Some(client) = clients.get_mut(sid) else { return };
    loop {
        let mut busy = false;
        // 2. The Engine.IO session: bytes to write, then what it reports.
        while let Some(transmit) = client.session.poll_transmit() {
            busy = true;
            on_engine_transmit(client, answers, transmit);
        }
        while let Some(event) = client.session.poll_event() {
            busy = true;
            on_engine_event(client, event, now);
        }
        // 3. The Socket.IO connection: messages into the session, then events for the app.
        while let Some(transmit) = client.conn.poll_transmit() {
            busy = true;
            match transmit {
                Transmit::Packet(_, message) | Transmit::Send(message) => {
                    let _ = client.session.send(message.into());
                }
                Transmit::Encoded(packet) => {
                    for message in packet.messages() {
                        let _ = client.session.send(message.clone());
                    }
                }
                Transmit::EncodedUncompressed(packet) => {
                    for message in packet.messages() {
                        let _ = client.session.send_uncompressed(message.clone());
                    }
                }
                Transmit::Close(cause) => {
                    println!("closing {sid}: {cause:?}");
                    client.session.close(now);
                }
            }
        }
        while let Some(event) = client.conn.poll_event() {
            busy = true;
            on_event(client, event, now, broadcasts);
        }
        // 4. Until a round produces nothing.
        if !busy {
            break;
        }
    }
    if client.session.is_closed() {
        clients.remove(sid);
    }
}

fn on_engine_transmit(
    client: &mut Client,
    answers: &mut HashMap<RequestId, Response>,
    transmit: EngineTransmit,
) {
    match transmit {
        EngineTransmit::Respond { request, response } => {
            answers.insert(request, response);
        }
        EngineTransmit::Send { socket, frame, .. } => {
            if let Some(out) = client.socket(socket) {
                let _ = out.send(Out::Frame(ws_frame(&frame)));
            }
        }
        EngineTransmit::CloseSocket { socket, code } => {
            if let Some(out) = client.socket(socket) {
                let _ = out.send(Out::Close(close_code(code)));
            }
            client.sockets.retain(|(id, _)| *id != socket);
        }
    }
}

fn on_engine_event(client: &mut Client, event: EngineEvent, now: Instant) {
    match event {
        EngineEvent::Message(data) => client.conn.handle_message(data.into(), now),
        // The observer events are not asked for.
        EngineEvent::Upgrading
        | EngineEvent::UpgradeAborted { .. }
        | EngineEvent::PacketReceived(_)
        | EngineEvent::PacketCreated(_)
        | EngineEvent::Drained => {}
        EngineEvent::Upgraded => {
            client.conn.handle_websocket();
            println!("upgraded {} to websocket", client.sid);
        }
        EngineEvent::Closed { reason, .. } => client.conn.handle_transport_closed(reason.into()),
    }
}

fn close_code(code: CloseCode) -> u16 {
    code.code()
}

// -------------------------------------------------------------------------------------------
// The application

const MAIN: ByteString = ByteString::from_static("/");

/// The application's handlers, called with the Socket.IO connection's events.
fn on_event(client: &mut Client, event: Event, now: Instant, broadcasts: &mut Vec<Payload>) {
    match event {
        Event::Connect { nsp, .. } if nsp == MAIN => {
            client.socket_id = new_id();
            client.conn.accept(&nsp, &client.socket_id, None);
            println!("connect {} (session {})", client.socket_id, client.sid);
            // A server event with binary data, and an ack we wait for.
            let hello = payload(&(
                "hello",
                serde_json::json!({ "id": client.socket_id }),
                Bytes::from_static(&[1, 2, 3]),
            ));
            let id = client.ack_ids.next_id();
            let packet = EncodedPacket::event(Parser::Json, &nsp, hello, Some(id));
            client.conn.send_event(&packet, Some(now + ACK_TIMEOUT));
        }
        Event::Connect { nsp, .. } => client.conn.reject_invalid_namespace(&nsp),
        Event::Event { nsp, data, id } => {
            let name = event_name(&data).and_then(|n| n.as_str().map(str::to_owned)).unwrap_or_default();
            match (name.as_str(), id) {
                // The same arguments back, binary ones included, without parsing them.
                ("echo", Some(id)) => {
                    if let Some(args) = data.without_name() {
                        client.conn.ack(&nsp, id, args);
                    }
                }
                ("reverse", Some(id)) => {
                    if let Ok((bytes,)) = from_args::<(Bytes,)>(&data) {
                        let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
                        client.conn.ack(&nsp, id, payload(&(Bytes::from(reversed),)));
                    }
                }
                ("broadcast", _) => broadcasts.push(data),
                _ => println!("event {name:?} from {} ignored", client.socket_id),
            }
        }
        Event::Ack { nsp, id, data } => {
            // The ack's arguments, sent back as the arguments of `ack-received`.
            let args: Vec<Value> = from_payload(&data).unwrap_or_default();
            println!("ack {id} from {}: {} argument(s)", client.socket_id, args.len());
            let mut event = vec![Value::from("ack-received")];
            event.extend(args);
            client.conn.emit(&nsp, payload(&event), None);
        }
        Event::AckTimeout { id, .. } => println!("ack {id} from {} timed out", client.socket_id),
        Event::Disconnect { reason, .. } => println!("disconnect {}: {reason}", client.socket_id),
        Event::Error(error) => println!("error from {}: {error}", client.socket_id),
    }
}

/// A value as a Socket.IO payload: JSON, its binary parts as attachments.
fn payload<T: serde::Serialize + ?Sized>(value: &T) -> Payload {
    let (json, attachments) = to_payload(value).expect("values without maps keyed by non-strings serialise");
    Payload::Json { json, attachments }
}

/// A 20-character base64url id from 15 bytes of the operating system's CSPRNG, like the
/// reference's ids.
fn new_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 15];
    if getrandom::fill(&mut bytes).is_err() {
        panic!("no CSPRNG: refusing to hand out guessable ids");
    }
    let mut id = String::with_capacity(20);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            id.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
        }
    }
    id
}

// -------------------------------------------------------------------------------------------
// Time (step 5)

/// The timer thread: sleeps until the earliest deadline of all sessions, then hands the time
/// to the machines whose deadline passed.
fn run_timers(server: &Server) {
    let mut state = server.lock();
    loop {
        let now = now();
        let mut next: Option<Instant> = None;
        let mut fired = false;
        let sids: Vec<ByteString> = state.clients.keys().cloned().collect();
        for sid in sids {
            let Some(client) = state.clients.get_mut(&sid) else { continue };
            match client.deadline() {
                Some(at) if at <= now => {
                    client.session.handle_timeout(now);
                    client.conn.handle_timeout(now);
                    drive(&mut state, &sid, now);
                    fired = true;
                }
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        if fired {
            // Answers may be waiting, and the fired sessions have new deadlines: look again.
            server.answered.notify_all();
            continue;
        }
        state = match next {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                server.timers.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0
            }
            None => server.timers.wait(state).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

// -------------------------------------------------------------------------------------------
// HTTP

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Bytes>,
    body_too_large: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    fn header_has(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| String::from_utf8_lossy(v).split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// Reads one request from a keep-alive connection; `Ok(None)` when the client closed it.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, max_body: usize) -> io::Result<Option<Request>> {
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        let status = parsed.parse(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if let httparse::Status::Complete(head_len) = status {
            let target = parsed.path.unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let mut request = Request {
                method: parsed.method.unwrap_or("").to_owned(),
                path: path.to_owned(),
                query: query.to_owned(),
                headers: parsed.headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect(),
                body: None,
                body_too_large: false,
            };
            buf.drain(..head_len);
            let length = request
                .header("content-length")
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok());
            match length {
                Some(len) if len > max_body => request.body_too_large = true,
                Some(len) => {
                    while buf.len() < len {
                        let n = stream.read(&mut chunk)?;
                        if n == 0 {
                            return Ok(None);
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    request.body = Some(Bytes::from(buf.drain(..len).collect::<Vec<u8>>()));
                }
                None if request.method == "POST" => request.body = Some(Bytes::new()),
                None => {}
            }
            return Ok(Some(request));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn write_response(stream: &mut TcpStream, response: &Response, close: bool) -> io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        response.status,
        response.body.len()
    );
    if let Some(content_type) = response.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)
}

/// Whether the peer closed a connection on which we wait to answer.
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let closed = matches!(stream.peek(&mut [0u8; 1]), Ok(0));
    let _ = stream.set_nonblocking(false);
    closed
}

/// One TCP connection: HTTP/1.1 requests until it closes, or a WebSocket after a `101`.
fn serve_connection(server: &Server, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let mut buf = Vec::new();
    while let Ok(Some(request)) = read_request(&mut stream, &mut buf, server.config.max_payload) {
        if !serve_request(server, &request, &mut stream, &buf) {
            break;
        }
    }
}

/// Answers one request; false when the connection cannot go on as HTTP (the client asked to
/// close it, a write failed, or it became a WebSocket that is over now). `rest` holds the bytes
/// read past the request.
fn serve_request(server: &Server, request: &Request, stream: &mut TcpStream, rest: &[u8]) -> bool {
    // A body over the limit was not read: the connection cannot go on.
    let keep_alive = !request.header_has("connection", "close") && !request.body_too_large;
    if request.path.trim_end_matches('/') != "/socket.io" {
        return respond(stream, &text_response(404, "Not Found"), keep_alive);
    }
    let query = Query::parse(&request.query);
    let websocket_upgrade = request.header_has("upgrade", "websocket");
    let info = RequestInfo {
        method: Method::from_name(&request.method),
        query: &query,
        websocket_upgrade,
        origin: request.header("origin"),
    };
    let answer = match route(&EndpointConfig::default(), &info) {
        Ok(Route::Handshake { transport: Transport::WebSocket, version, base64 }) => {
            return open_websocket(server, request, stream, rest, None, version, base64);
        }
        Ok(Route::Session { sid, transport: Transport::WebSocket, version }) if websocket_upgrade => {
            let sid = ByteString::from(sid);
            match server.check_request(&sid, Transport::WebSocket, version, true) {
                Ok(()) => return open_websocket(server, request, stream, rest, Some(sid), version, false),
                Err(error) => Err(error),
            }
        }
        Ok(Route::Handshake { version, base64, .. }) => {
            Ok(polling_handshake(server, version, base64, stream))
        }
        Ok(Route::Session { sid, transport, version }) => {
            polling_request(server, request, ByteString::from(sid), transport, version, stream)
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) => respond(stream, &response, keep_alive),
        // A refused WebSocket handshake gets the message as text, and the connection closes.
        Err(error) if websocket_upgrade => respond(stream, &text_response(400, error.message()), false),
        Err(error) => respond(stream, &Response::error(&error), keep_alive),
    }
}

/// Writes `response`; whether the connection goes on.
fn respond(stream: &mut TcpStream, response: &Response, keep_alive: bool) -> bool {
    write_response(stream, response, !keep_alive).is_ok() && keep_alive
}

fn text_response(status: u16, text: &str) -> Response {
    Response {
        body: Bytes::from(text.to_owned()),
        content_type: Some("text/html"),
        ..Response::empty(status)
    }
}

/// A new polling session: the handshake `GET` is its first poll.
fn polling_handshake(server: &Server, version: EngineVersion, base64: bool, stream: &TcpStream) -> Response {
    let id = RequestId(server.next_id());
    let sid = ByteString::from(new_id());
    let initial = Initial::Polling(id);
    let session = Session::new(&sid, version, base64, server.config.clone(), initial, now());
    server.open(Client::new(sid.clone(), session, now()));
    server.wait_answer(&sid, id, stream)
}

/// A `GET` (poll) or `POST` (packets) for an existing polling session.
fn polling_request(
    server: &Server,
    request: &Request,
    sid: ByteString,
    transport: Transport,
    version: EngineVersion,
    stream: &TcpStream,
) -> Result<Response, RequestError> {
    server.check_request(&sid, transport, version, false)?;
    let id = RequestId(server.next_id());
    let kind = match request.method.as_str() {
        "GET" => RequestKind::Poll,
        "POST" => {
            let content_type = request.header("content-type").unwrap_or_default();
            RequestKind::Post { binary: content_type.starts_with(b"application/octet-stream") }
        }
        _ => RequestKind::Other,
    };
    server
        .input(&sid, |c, now| {
            c.session.handle_request(id, kind, now);
            if let Some(body) = request.body.clone() {
                c.session.handle_body(id, body, now);
            } else if request.body_too_large {
                c.session.handle_body_too_large(id);
            }
        })
        .ok_or(RequestError::new(ErrorCode::UnknownSid))?;
    Ok(server.wait_answer(&sid, id, stream))
}

// -------------------------------------------------------------------------------------------
// WebSocket

/// What a WebSocket's writer thread writes.
enum Out {
    /// A whole frame.
    Frame(Bytes),
    /// A close frame with this code; then the connection ends.
    Close(u16),
}

/// A session's frame as WebSocket bytes.
fn ws_frame(frame: &Frame) -> Bytes {
    let opcode = match frame.kind() {
        FrameKind::Text => OpCode::Text,
        FrameKind::Binary => OpCode::Binary,
    };
    ws::frame(opcode, &frame.payload())
}

/// Answers the WebSocket handshake with `101`, then hands the socket to a new session
/// (`sid: None`) or to the session it upgrades, and reads it until it ends. Returns false: the
/// connection is over.
fn open_websocket(
    server: &Server,
    request: &Request,
    stream: &mut TcpStream,
    rest: &[u8],
    sid: Option<ByteString>,
    version: EngineVersion,
    base64: bool,
) -> bool {
    let headers = request.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()));
    let accept = match ws::validate_upgrade(&request.method, headers) {
        Ok(accept) => accept,
        Err(error) => return respond(stream, &text_response(error.status(), &error.to_string()), false),
    };
    let mut head = Vec::new();
    ws::encode_switching_protocols(&accept, &mut head);
    let writer = stream.try_clone();
    let (Ok(()), Ok(writer)) = (stream.write_all(&head), writer) else { return false };
    let _ = stream.set_read_timeout(None);
    let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
    let (out, frames) = mpsc::channel();
    thread::spawn(move || write_frames(writer, frames));

    let socket = SocketId(server.next_id());
    let sid = match sid {
        None => {
            let sid = ByteString::from(new_id());
            let initial = Initial::WebSocket(socket);
            let session = Session::new(&sid, version, base64, server.config.clone(), initial, now());
            let mut client = Client::new(sid.clone(), session, now());
            client.sockets.push((socket, out.clone()));
            server.open(client);
            sid
        }
        Some(sid) => {
            let added = server.input(&sid, |c, now| {
                c.sockets.push((socket, out.clone()));
                c.session.handle_socket(socket, now);
            });
            if added.is_none() {
                let _ = out.send(Out::Close(ws::close_code::NORMAL));
                return false;
            }
            sid
        }
    };
    read_frames(server, &sid, socket, stream, BytesMut::from(rest), &out);
    false
}

/// The reading half of a WebSocket: decodes frames and pushes them into the session.
fn read_frames(
    server: &Server,
    sid: &ByteString,
    socket: SocketId,
    stream: &mut TcpStream,
    mut read_buf: BytesMut,
    out: &Sender<Out>,
) {
    let limits = ws::Limits::default().with_max_message_size(server.config.max_payload);
    let mut decoder = ws::Decoder::new(limits);
    let mut chunk = [0u8; 4096];
    let forget = |c: &mut Client| c.sockets.retain(|(id, _)| *id != socket);
    loop {
        loop {
            let frame = match decoder.decode(&mut read_buf) {
                Ok(Some(ws::Message::Text(text))) => Frame::Text(text),
                Ok(Some(ws::Message::Binary(data))) => Frame::Binary(data),
                Ok(Some(ws::Message::Ping(data))) => {
                    let _ = out.send(Out::Frame(ws::frame(OpCode::Pong, &data)));
                    continue;
                }
                Ok(Some(ws::Message::Pong(_))) => continue,
                Ok(Some(ws::Message::Close(_))) => {
                    let _ = out.send(Out::Close(ws::close_code::NORMAL));
                    server.input(sid, |c, _| {
                        c.session.handle_socket_closed(socket);
                        forget(c);
                    });
                    return;
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = out.send(Out::Close(error.close_code()));
                    let kind = match error {
                        ws::WsError::MessageTooBig { .. } | ws::WsError::TooManyFragments { .. } => {
                            SocketError::MessageTooBig
                        }
                        _ => SocketError::Protocol,
                    };
                    server.input(sid, |c, _| {
                        c.session.handle_socket_error(socket, kind);
                        forget(c);
                    });
                    return;
                }
            };
            if server.input(sid, |c, now| c.session.handle_frame(socket, frame, now)).is_none() {
                let _ = out.send(Out::Close(ws::close_code::NORMAL));
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 => read_buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => {
                server.input(sid, |c, _| {
                    c.session.handle_socket_closed(socket);
                    forget(c);
                });
                return;
            }
        }
    }
}

/// The writing half of a WebSocket: writes frames in the order the session queued them. Ends
/// the connection after a close frame, when the session forgets the socket, or when a write
/// fails (which also stops the reading half).
fn write_frames(mut stream: TcpStream, frames: Receiver<Out>) {
    for out in frames {
        let (bytes, last) = match out {
            Out::Frame(bytes) => (bytes, false),
            Out::Close(code) => (ws::close_frame(code, ""), true),
        };
        if stream.write_all(&bytes).is_err() || last {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

// -------------------------------------------------------------------------------------------
// Main

fn main() -> io::Result<()> {
    let mut port = 3000u16;
    let mut config = SessionConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--port", Some(v)) => port = u16::try_from(v).map_err(|_| usage())?,
            ("--ping-interval", Some(ms)) => config.ping_interval = Duration::from_millis(ms),
            ("--ping-timeout", Some(ms)) => config.ping_timeout = Duration::from_millis(ms),
            _ => return Err(usage()),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let server = Arc::new(Server {
        state: Mutex::new(State { clients: HashMap::new(), answers: HashMap::new(), next_id: 0 }),
        answered: Condvar::new(),
        timers: Condvar::new(),
        config: Arc::new(config),
    });
    let timers = server.clone();
    thread::spawn(move || run_timers(&timers));
    let stopping = server.clone();
    thread::spawn(move || {
        // Stop when standard input ends.
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        shutdown(&stopping);
        std::process::exit(0);
    });
    println!("listening on 127.0.0.1:{port}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let server = server.clone();
        thread::spawn(move || serve_connection(&server, stream));
    }
    Ok(())
}

fn usage() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "usage: embedded_std [--port N] [--ping-interval MS] [--ping-timeout MS]",
    )
}

/// Tells every client the server is going away, and gives the writers a moment.
fn shutdown(server: &Server) {
    let sids: Vec<ByteString> = server.lock().clients.keys().cloned().collect();
    for sid in sids {
        server.input(&sid, |c, now| {
            c.session.shutdown(now);
            c.conn.close_all(DisconnectReason::ServerShuttingDown);
        });
    }
    thread::sleep(Duration::from_millis(200));
    println!("stopped");
}
