//! The [`Session`] machine under arbitrary sequences of inputs, with a model of what a driver
//! may see checked after every step.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use crate::session::{ResponseKind, SocketError};
use crate::{
    decode_payload, encode_payload, Data, Event, Frame, Initial, Packet, PacketType, PayloadFormat,
    ProtocolVersion, RequestId, RequestKind, Session, SessionConfig, SocketId, Transmit, Transport,
};

/// The fuzzer's bytes, read front to back; reads past the end give zeros.
pub(super) struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Input(data)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// One of `choices`, picked by the next byte.
    pub(super) fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }

    /// Up to `max` raw bytes, the count given by the next byte.
    pub(super) fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (usize::from(self.byte()) % (max + 1)).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Drives a [`Session`] with the operations `data` encodes: polling requests and their bodies
/// (valid and invalid payloads), requests gone, WebSockets opened, their frames (probe,
/// upgrade, messages, garbage), closes, errors and writability, the application's `send`,
/// `close` and `shutdown`, and time passing. The first bytes choose the protocol revision, the
/// first transport and the configuration (small limits and timeouts).
///
/// After every step the outputs are drained and checked against what a driver may rely on:
/// each request is answered at most once, never after it went away, and at most one poll and
/// one POST are outstanding; no frame goes to a closed socket and no socket is closed twice;
/// nothing is sent or reported after [`Event::Closed`] except answers to requests and sockets
/// handed over since (and the body of a POST that was outstanding); every polling answer and
/// frame decodes; the application's messages reach the client in order and at most once;
/// [`Session::buffered_bytes`] stays within `max_buffered`; and once the timers due are
/// handled, [`Session::poll_timeout`] lies in the future.
pub fn session(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let version = if flags & 1 == 0 { ProtocolVersion::V4 } else { ProtocolVersion::V3 };
    let starts_on_websocket = flags & 2 != 0;
    let base64 = flags & 4 != 0;
    let mut config = SessionConfig {
        ping_interval: MS(input.pick(&[0, 1, 50, 300, 25_000])),
        ping_timeout: MS(input.pick(&[0, 1, 50, 200, 20_000])),
        upgrade_timeout: MS(input.pick(&[0, 1, 100, 10_000])),
        close_timeout: MS(input.pick(&[0, 1, 100, 30_000])),
        shutdown_timeout: MS(input.pick(&[0, 1, 2_000])),
        max_payload: input.pick(&[0, 8, 64, 1_000, 1_000_000]),
        max_buffered: input.pick(&[0, 8, 64, 512, 16 << 20]),
        allow_upgrades: flags & 8 == 0,
        ..SessionConfig::default()
    };
    config.transports.websocket = starts_on_websocket || flags & 16 == 0;
    let start = Instant::now();
    let initial =
        if starts_on_websocket { Initial::WebSocket(SocketId(0)) } else { Initial::Polling(RequestId(0)) };
    let mut session = Session::new("AAAAAAAAAAAAAAAAAAAA", version, base64, config, initial, start);
    let mut model = Model::new(version, config.max_buffered, initial);
    let mut now = start;
    model.check(&mut session, now, true);

    while !input.is_empty() {
        let mut handle_timers = true;
        match input.byte() % 20 {
            // A poll, a POST or another method, on the session's transport and revision or not.
            op @ 0..=2 => {
                let kind = match op {
                    0 => RequestKind::Poll,
                    1 => RequestKind::Post { binary: input.byte() & 1 != 0 },
                    _ => RequestKind::Other,
                };
                let how = input.byte();
                let transport = if how & 1 == 0 { Transport::Polling } else { Transport::WebSocket };
                let request_version = if how & 2 == 0 { version } else { other(version) };
                let request = model.request(kind);
                session.handle_routed_request(request, kind, transport, request_version, now);
            }
            // The body of an outstanding POST, in its format or the other one.
            3 => {
                let pick = input.byte();
                let Some((request, binary)) = model.outstanding_post(pick) else { continue };
                let binary = binary ^ (pick & 0x80 != 0);
                let body = body(&mut input, version, binary);
                session.handle_body(request, body, now);
            }
            4 => {
                let pick = input.byte();
                let Some((request, _)) = model.outstanding_post(pick) else { continue };
                session.handle_body_too_large(request);
            }
            5 => {
                let pick = input.byte();
                let Some(request) = model.gone(pick) else { continue };
                session.handle_request_gone(request);
            }
            // A WebSocket naming the session: the driver checks it before answering `101`,
            // and sometimes hands it over regardless.
            6 => {
                let force = input.byte() & 1 != 0;
                if force || session.check_request(Transport::WebSocket, version, true).is_ok() {
                    let socket = model.socket();
                    session.handle_socket(socket, now);
                }
            }
            7 | 8 => {
                let Some(socket) = model.live_socket(input.byte()) else { continue };
                let frame = frame(&mut input, version);
                session.handle_frame(socket, frame, now);
            }
            9 => {
                let Some(socket) = model.live_socket(input.byte()) else { continue };
                model.sockets[socket.0 as usize] = SocketState::PeerClosed;
                session.handle_socket_closed(socket);
            }
            10 => {
                let pick = input.byte();
                let Some(socket) = model.live_socket(pick) else { continue };
                model.sockets[socket.0 as usize] = SocketState::Failed;
                let error = if pick & 0x80 == 0 { SocketError::Protocol } else { SocketError::MessageTooBig };
                session.handle_socket_error(socket, error);
            }
            11 => {
                let pick = input.byte();
                let Some(socket) = model.live_socket(pick) else { continue };
                session.handle_socket_writable(socket, pick & 0x80 != 0);
            }
            12 | 13 => {
                let packet = model.message(&mut input);
                let _ = session.send(packet);
            }
            14 => session.close(now),
            15 => session.shutdown(now),
            16 => now += MS(u64::from(input.byte())),
            17 => now += MS(u64::from(input.byte()) * 1_000),
            // Time passes and the next input comes before the timers are handled.
            18 => {
                now += MS(u64::from(input.byte()) * 10);
                handle_timers = false;
            }
            _ => {
                let how = input.byte();
                let transport = if how & 1 == 0 { Transport::Polling } else { Transport::WebSocket };
                let _ = session.check_request(transport, version, how & 2 != 0);
            }
        }
        model.check(&mut session, now, handle_timers);
    }
}

fn other(version: ProtocolVersion) -> ProtocolVersion {
    match version {
        ProtocolVersion::V3 => ProtocolVersion::V4,
        ProtocolVersion::V4 => ProtocolVersion::V3,
    }
}

/// A POST body: a few packets encoded in the request's format, or raw bytes.
fn body(input: &mut Input<'_>, version: ProtocolVersion, binary: bool) -> Bytes {
    let how = input.byte();
    if how & 0x80 != 0 {
        return Bytes::copy_from_slice(input.bytes(32));
    }
    let packets: Vec<Packet> = (0..=how % 4).map(|_| client_packet(input)).collect();
    let mut body = Vec::new();
    encode_payload(&packets, PayloadFormat::for_request(version, binary), &mut body);
    Bytes::from(body)
}

fn client_packet(input: &mut Input<'_>) -> Packet {
    match input.byte() % 10 {
        0 => Packet::new(PacketType::Open),
        1 => Packet::new(PacketType::Close),
        2 => Packet::new(PacketType::Ping),
        3 => Packet::new(PacketType::Pong),
        4 => Packet::text(PacketType::Ping, "probe"),
        5 => Packet::new(PacketType::Upgrade),
        6 => Packet::new(PacketType::Noop),
        7 => Packet::binary(Bytes::copy_from_slice(input.bytes(8))),
        _ => Packet::message(String::from_utf8_lossy(input.bytes(8)).into_owned()),
    }
}

/// A WebSocket frame from the client: the upgrade's probe and `upgrade`, packets, or garbage.
fn frame(input: &mut Input<'_>, version: ProtocolVersion) -> Frame {
    match input.byte() % 8 {
        0 | 1 => Frame::Text(ByteString::from_static("2probe")),
        2 => Frame::Text(ByteString::from_static("5")),
        3 | 4 => client_packet(input).to_frame(version, false),
        5 => Frame::Text(String::from_utf8_lossy(input.bytes(8)).into_owned().into()),
        _ => Frame::Binary(Bytes::copy_from_slice(input.bytes(8))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestState {
    Outstanding,
    Answered,
    Gone,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    kind: RequestKind,
    state: RequestState,
    /// Made after the session reported `Closed`.
    late: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocketState {
    Live,
    /// The driver reported its end.
    PeerClosed,
    /// The driver reported its failure: the session closes it.
    Failed,
    /// The session closed it.
    Closed,
}

/// What the harness knows, to judge the session's outputs.
struct Model {
    version: ProtocolVersion,
    max_buffered: usize,
    requests: BTreeMap<u64, Request>,
    sockets: Vec<SocketState>,
    /// Sockets handed over after `Closed`.
    late_sockets: usize,
    closed: bool,
    upgraded: bool,
    /// The next message number the application sends, and the last the client received.
    next_message: u32,
    last_received: Option<u32>,
}

impl Model {
    fn new(version: ProtocolVersion, max_buffered: usize, initial: Initial) -> Self {
        let mut model = Model {
            version,
            max_buffered,
            requests: BTreeMap::new(),
            sockets: Vec::new(),
            late_sockets: usize::MAX,
            closed: false,
            upgraded: false,
            next_message: 0,
            last_received: None,
        };
        match initial {
            Initial::Polling(_) => {
                model.request(RequestKind::Poll);
            }
            Initial::WebSocket(_) => {
                model.socket();
            }
        }
        model
    }

    fn request(&mut self, kind: RequestKind) -> RequestId {
        let id = self.requests.len() as u64;
        self.requests.insert(id, Request { kind, state: RequestState::Outstanding, late: self.closed });
        RequestId(id)
    }

    fn socket(&mut self) -> SocketId {
        if self.closed {
            self.late_sockets = self.late_sockets.min(self.sockets.len());
        }
        self.sockets.push(SocketState::Live);
        SocketId(self.sockets.len() as u64 - 1)
    }

    fn outstanding(&self, is: impl Fn(RequestKind) -> bool) -> impl Iterator<Item = (u64, &Request)> {
        self.requests
            .iter()
            .filter(move |(_, r)| r.state == RequestState::Outstanding && is(r.kind))
            .map(|(id, r)| (*id, r))
    }

    fn outstanding_post(&self, pick: u8) -> Option<(RequestId, bool)> {
        let posts: Vec<(u64, bool)> = self
            .outstanding(|k| matches!(k, RequestKind::Post { .. }))
            .map(|(id, r)| (id, matches!(r.kind, RequestKind::Post { binary: true })))
            .collect();
        let (id, binary) = *posts.get(usize::from(pick) % posts.len().max(1))?;
        Some((RequestId(id), binary))
    }

    /// An outstanding request whose client goes away.
    fn gone(&mut self, pick: u8) -> Option<RequestId> {
        let ids: Vec<u64> = self.outstanding(|_| true).map(|(id, _)| id).collect();
        let id = *ids.get(usize::from(pick) % ids.len().max(1))?;
        self.requests.get_mut(&id).expect("a known request").state = RequestState::Gone;
        Some(RequestId(id))
    }

    fn live_socket(&self, pick: u8) -> Option<SocketId> {
        let live: Vec<usize> =
            (0..self.sockets.len()).filter(|&s| self.sockets[s] == SocketState::Live).collect();
        live.get(usize::from(pick) % live.len().max(1)).map(|&s| SocketId(s as u64))
    }

    /// A numbered message from the application, text or binary, with some padding.
    fn message(&mut self, input: &mut Input<'_>) -> Packet {
        let n = self.next_message;
        self.next_message += 1;
        let how = input.byte();
        let pad = usize::from(how & 0x3f);
        if how & 0x80 == 0 {
            Packet::message(format!("m{n}:{}", "x".repeat(pad)))
        } else {
            let mut data = n.to_le_bytes().to_vec();
            data.resize(4 + pad, 0xa5);
            Packet::binary(data)
        }
    }

    /// Drains the session's outputs after a step, handles the timers due (unless the step's
    /// input arrives before them) and checks the invariants.
    fn check(&mut self, session: &mut Session, now: Instant, handle_timers: bool) {
        self.drain(session);
        if handle_timers {
            if session.poll_timeout().is_some_and(|at| at <= now) {
                session.handle_timeout(now);
                self.drain(session);
            }
            if let Some(at) = session.poll_timeout() {
                assert!(at > now, "a timer due at or before now is still armed after handle_timeout");
            }
        }
        assert!(
            session.buffered_bytes() <= self.max_buffered,
            "{} bytes buffered, above max_buffered {}",
            session.buffered_bytes(),
            self.max_buffered
        );
        let polls = self.outstanding(|k| k == RequestKind::Poll).count();
        assert!(polls <= 1, "{polls} polls outstanding at once");
        let posts = self.outstanding(|k| matches!(k, RequestKind::Post { .. })).count();
        assert!(posts <= 1, "{posts} POSTs outstanding at once");
        assert!(self.outstanding(|k| k == RequestKind::Other).next().is_none(), "an unanswered request");
        assert_eq!(session.is_closed(), self.closed, "is_closed disagrees with the Closed event");
        if self.closed {
            assert_eq!(polls, 0, "a poll left hanging by a closed session");
            assert!(session.poll_timeout().is_none(), "a timer armed on a closed session");
            assert_eq!(session.buffered_bytes(), 0, "bytes buffered on a closed session");
        }
    }

    fn drain(&mut self, session: &mut Session) {
        while let Some(transmit) = session.poll_transmit() {
            self.transmitted(transmit);
        }
        while let Some(event) = session.poll_event() {
            assert!(!self.closed, "an event after Closed: {event:?}");
            match event {
                Event::Closed { .. } => self.closed = true,
                Event::Upgraded => {
                    assert!(!self.upgraded, "upgraded twice");
                    self.upgraded = true;
                }
                Event::Message(_)
                | Event::Upgrading
                | Event::UpgradeAborted { .. }
                | Event::PacketReceived(_)
                | Event::PacketCreated(_)
                | Event::Drained => {}
            }
        }
    }

    fn transmitted(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Respond { request, response } => {
                let r = self.requests.get_mut(&request.0).expect("an answer to a request never made");
                assert_ne!(r.state, RequestState::Answered, "request {} answered twice", request.0);
                assert_ne!(r.state, RequestState::Gone, "request {} answered after it went away", request.0);
                let after_close = r.late || matches!(r.kind, RequestKind::Post { .. });
                assert!(!self.closed || after_close, "an answer to request {} after Closed", request.0);
                r.state = RequestState::Answered;
                if response.kind == ResponseKind::Payload {
                    assert_eq!(r.kind, RequestKind::Poll, "packets in the answer to a request not a poll");
                    let binary = response.content_type == Some(PayloadFormat::V3Binary.content_type())
                        && self.version == ProtocolVersion::V3;
                    let format = PayloadFormat::for_request(self.version, binary);
                    let packets = decode_payload(response.body, format, usize::MAX).expect("no limit");
                    for packet in packets {
                        self.received(packet.expect("a polling answer decodes"));
                    }
                }
            }
            Transmit::Send { socket, frame, .. } => {
                assert!(!self.closed, "a frame after Closed");
                let state = self.sockets.get(socket.0 as usize).expect("a frame on a socket never opened");
                assert_eq!(*state, SocketState::Live, "a frame on socket {} that is not open", socket.0);
                self.received(Packet::decode_frame(frame, self.version).expect("a frame decodes"));
            }
            Transmit::CloseSocket { socket, .. } => {
                let s = socket.0 as usize;
                let state = self.sockets.get_mut(s).expect("a close of a socket never opened");
                assert!(
                    matches!(*state, SocketState::Live | SocketState::Failed),
                    "socket {} closed when {state:?}",
                    socket.0
                );
                assert!(!self.closed || s >= self.late_sockets, "socket {s} closed after Closed");
                *state = SocketState::Closed;
            }
        }
    }

    /// A packet reached the client: the application's messages arrive in order, each once.
    fn received(&mut self, packet: Packet) {
        if packet.kind != PacketType::Message {
            return;
        }
        let n = match &packet.data {
            Data::Text(text) => {
                text.strip_prefix('m').and_then(|t| t.split(':').next()).and_then(|n| n.parse().ok())
            }
            Data::Binary(data) => data.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        };
        let n = n.expect("a message the application sent");
        assert!(n < self.next_message, "message {n} was never sent");
        assert!(self.last_received.is_none_or(|last| n > last), "message {n} after {:?}", self.last_received);
        self.last_received = Some(n);
    }
}
