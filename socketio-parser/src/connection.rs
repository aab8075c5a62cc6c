//! The Socket.IO side of one Engine.IO connection, as a deterministic state machine.
//!
//! The machine decodes the connection's messages, keeps the state of each namespace the client
//! joins (waiting for the application's decision, then connected), enforces the "invalid state"
//! rules of the reference server, times out a client that joins no namespace and acks that are
//! not answered, and encodes what the application sends. Like the Engine.IO session it reads no
//! clock and holds no socket: time comes in as `now`, outputs leave through
//! [`Connection::poll_transmit`], [`Connection::poll_event`] and [`Connection::poll_timeout`].
//!
//! All transitions are in this file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use engineio_parser::Queue;

use crate::outgoing::{AckBody, EncodedAck, EncodedPacket};
use crate::packet::MAIN_NAMESPACE;
use crate::{DecodeError, Decoded, Decoder, DecoderConfig, Packet, PacketType, Payload, RawJson};

/// The Socket.IO protocol revision of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// Revision 4, spoken by Socket.IO 2 clients over Engine.IO v3: the client is connected to
    /// `/` implicitly, a `CONNECT` namespace may carry a query string, refusals are `ERROR`
    /// packets.
    V4,
    /// Revision 5, spoken by Socket.IO 3+ clients over Engine.IO v4.
    V5,
}

impl From<engineio_parser::ProtocolVersion> for ProtocolVersion {
    /// The Socket.IO revision spoken over an Engine.IO revision: 5 over Engine.IO v4, 4 (Socket.IO
    /// 2 clients) over Engine.IO v3.
    fn from(engine: engineio_parser::ProtocolVersion) -> Self {
        match engine {
            engineio_parser::ProtocolVersion::V3 => ProtocolVersion::V4,
            engineio_parser::ProtocolVersion::V4 => ProtocolVersion::V5,
        }
    }
}

/// The wire format of packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Parser {
    /// The default parser: text packets with JSON payloads, binary data as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one binary message per packet (feature `msgpack`).
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    MsgPack,
}

impl Parser {
    /// The format `payload` is written in.
    pub fn of(payload: &Payload) -> Parser {
        match payload {
            Payload::Json { .. } => Parser::Json,
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(_) => Parser::MsgPack,
        }
    }
}

/// A connection's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The protocol revision.
    pub protocol: ProtocolVersion,
    /// The wire format.
    pub parser: Parser,
    /// How long a client may take to join its first namespace (45 s, as the reference).
    pub connect_timeout: Duration,
    /// The decoder's limits.
    pub decoder: DecoderConfig,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            protocol: ProtocolVersion::V5,
            parser: Parser::Json,
            connect_timeout: Duration::from_millis(45_000),
            decoder: DecoderConfig::default(),
        }
    }
}

/// An Engine.IO message, as the connection receives and sends them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(ByteString),
    /// A binary message.
    Binary(Bytes),
}

impl From<engineio_parser::Data> for Message {
    /// The data of an Engine.IO `message` packet, as the connection receives it.
    fn from(data: engineio_parser::Data) -> Self {
        match data {
            engineio_parser::Data::Text(text) => Message::Text(text),
            engineio_parser::Data::Binary(bytes) => Message::Binary(bytes),
        }
    }
}

impl From<Message> for engineio_parser::Packet {
    /// The Engine.IO `message` packet that carries `message`.
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => engineio_parser::Packet::message(text),
            Message::Binary(bytes) => engineio_parser::Packet::binary(bytes),
        }
    }
}

/// Why a socket (one namespace of a connection) was disconnected; [`as_str`](Self::as_str)
/// gives the reference's reason text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The client sent `DISCONNECT`.
    ClientNamespaceDisconnect,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client missed its heartbeat.
    PingTimeout,
    /// The connection was closed (network, or the client closed it).
    TransportClose,
    /// The transport failed.
    TransportError,
    /// The client sent an undecodable Engine.IO packet.
    ParseError,
    /// The server closed the connection (an invalid Socket.IO packet or state, among others).
    ForcedClose,
    /// The connection was closed by the server before the transport finished closing.
    ForcedServerClose,
}

impl DisconnectReason {
    /// Every reason, in declaration order (`reason as usize` is its index).
    pub const ALL: [DisconnectReason; 9] = [
        DisconnectReason::ServerNamespaceDisconnect,
        DisconnectReason::ClientNamespaceDisconnect,
        DisconnectReason::ServerShuttingDown,
        DisconnectReason::PingTimeout,
        DisconnectReason::TransportClose,
        DisconnectReason::TransportError,
        DisconnectReason::ParseError,
        DisconnectReason::ForcedClose,
        DisconnectReason::ForcedServerClose,
    ];

    /// The reference's text for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ForcedServerClose => "forced server close",
        }
    }

    /// Whether connection state recovery keeps the session of a socket disconnected for this
    /// reason (the reference persists sessions only for these).
    pub fn is_recoverable(self) -> bool {
        !matches!(
            self,
            DisconnectReason::ServerNamespaceDisconnect
                | DisconnectReason::ClientNamespaceDisconnect
                | DisconnectReason::ParseError
        )
    }
}

impl From<engineio_parser::CloseReason> for DisconnectReason {
    /// The reason a socket sees when its Engine.IO connection closed for `reason`.
    fn from(reason: engineio_parser::CloseReason) -> Self {
        use engineio_parser::CloseReason;
        match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the machine asks for the Engine.IO connection to be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseCause {
    /// No namespace was joined within `connect_timeout`.
    ConnectTimeout,
    /// A packet could not be decoded.
    Decode(DecodeError),
    /// A valid packet arrived in a state where it is not allowed (a second `CONNECT` to a
    /// namespace, a `CONNECT_ERROR` from the client, a packet for a namespace not joined).
    InvalidState(&'static str),
    /// The application closed the connection.
    Application,
}

/// What the driver must do for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Transmit {
    /// Send an Engine.IO message that starts a packet the machine built itself, of this type
    /// (`CONNECT`, `CONNECT_ERROR`, `DISCONNECT`, an ack); its binary attachments, if any,
    /// follow as [`Send`](Self::Send).
    Packet(PacketType, Message),
    /// Send an Engine.IO message: a binary attachment of the packet before it.
    Send(Message),
    /// Send the Engine.IO messages of a packet encoded once for many connections (in order).
    Encoded(EncodedPacket),
    /// Like [`Encoded`](Self::Encoded), for a packet sent with `compress(false)`: the
    /// Engine.IO session must not compress its messages.
    EncodedUncompressed(EncodedPacket),
    /// Close the Engine.IO connection. Nothing follows.
    Close(CloseCause),
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client wants to join `nsp`. Answer with [`Connection::accept`],
    /// [`Connection::accept_restored`], [`Connection::reject`] or
    /// [`Connection::reject_invalid_namespace`] (after running the namespace's middlewares).
    Connect {
        /// The namespace, without a query string.
        nsp: ByteString,
        /// The client's `auth`, always a JSON object: the `CONNECT` payload (v5), the
        /// namespace's query string as an object of strings (v4: `0/admin?token=abc,` gives
        /// `{"token":"abc"}`), or `{}`.
        auth: RawJson,
        /// The session the client asks to recover, when its `auth` presents one. Boxed: few
        /// clients present one, and every queued event is the size of the largest.
        recovery: Option<Box<Recovery>>,
    },
    /// An event for a joined namespace: `data` is `[name, ...args]`. When `id` is set the client
    /// awaits an answer through [`Connection::ack`].
    Event {
        /// The namespace.
        nsp: ByteString,
        /// The event name and its arguments.
        data: Payload,
        /// The ack id the client awaits an answer for.
        id: Option<u64>,
    },
    /// The client answered an ack registered with [`Connection::expect_ack`].
    Ack {
        /// The namespace.
        nsp: ByteString,
        /// The ack id.
        id: u64,
        /// The answer's arguments.
        data: Payload,
    },
    /// An ack registered with a deadline was not answered in time.
    AckTimeout {
        /// The namespace.
        nsp: ByteString,
        /// The ack id.
        id: u64,
    },
    /// A joined namespace was left.
    Disconnect {
        /// The namespace.
        nsp: ByteString,
        /// Why.
        reason: DisconnectReason,
    },
    /// A decode error, reported to every joined namespace before the connection closes (the
    /// reference's socket `error` event).
    Error(DecodeError),
}

impl Event {
    /// The type of the packet the client sent that this event reports: `CONNECT`, `EVENT` or
    /// `BINARY_EVENT`, `ACK` or `BINARY_ACK`, or `DISCONNECT` for a namespace the client left;
    /// `None` for what the machine itself decided (an ack timeout, a disconnect for another
    /// reason, a decode error).
    pub fn received_type(&self) -> Option<PacketType> {
        Some(match self {
            Event::Connect { .. } => PacketType::Connect,
            Event::Event { data, .. } => PacketType::Event.carrying(data),
            Event::Ack { data, .. } => PacketType::Ack.carrying(data),
            Event::Disconnect { reason: DisconnectReason::ClientNamespaceDisconnect, .. } => {
                PacketType::Disconnect
            }
            _ => return None,
        })
    }
}

/// What a reconnecting client presents in its `CONNECT` payload to recover its session
/// (connection state recovery): `pid` and `offset`, both strings, as the reference requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The private session id the server gave the client.
    pub pid: String,
    /// The offset of the last packet the client received.
    pub offset: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NspState {
    /// `CONNECT` received; the application has not decided yet.
    AwaitingDecision,
    Connected,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct AckDeadline {
    at: Instant,
    id: u64,
    nsp: ByteString,
}

/// The Socket.IO side of one Engine.IO connection. See the [module docs](self).
///
/// # Example
///
/// A client asks for `/admin`, which the application refuses, then joins `/`, then leaves it.
/// Each step is an input followed by draining the outputs; the crate docs show events, acks and
/// their deadlines.
///
/// ```
/// use std::time::Instant;
/// use socketio_parser::connection::{
///     Connection, ConnectionConfig, DisconnectReason, Event, Message, Transmit,
/// };
/// use socketio_parser::ByteString;
///
/// /// The text messages the machine wants sent, in order.
/// fn sent(conn: &mut Connection) -> Vec<String> {
///     std::iter::from_fn(|| conn.poll_transmit())
///         .map(|transmit| match transmit {
///             Transmit::Packet(_, Message::Text(text)) => text.to_string(),
///             other => format!("{other:?}"),
///         })
///         .collect()
/// }
/// let text = |s: &'static str| Message::Text(ByteString::from_static(s));
/// let now = Instant::now();
/// let mut conn = Connection::new(ConnectionConfig::default(), now);
///
/// // `io("/admin")`: the application decides, here no.
/// conn.handle_message(text("0/admin,"), now);
/// let Some(Event::Connect { nsp, .. }) = conn.poll_event() else { unreachable!() };
/// conn.reject(&nsp, "not allowed", None);
/// assert_eq!(sent(&mut conn), [r#"4/admin,{"message":"not allowed"}"#]);
///
/// // `io("/")`: yes, with the socket id the application chose.
/// conn.handle_message(text("0"), now);
/// let Some(Event::Connect { nsp, .. }) = conn.poll_event() else { unreachable!() };
/// conn.accept(&nsp, "sock-1", None);
/// assert_eq!(sent(&mut conn), [r#"0{"sid":"sock-1"}"#]);
/// assert!(conn.is_connected("/"));
///
/// // `socket.disconnect()` on the client.
/// conn.handle_message(text("1"), now);
/// assert!(matches!(
///     conn.poll_event(),
///     Some(Event::Disconnect { reason: DisconnectReason::ClientNamespaceDisconnect, .. })
/// ));
/// assert!(!conn.is_connected("/"));
/// ```
#[derive(Debug)]
pub struct Connection {
    /// The settings, but for the decoder's: those are the decoder's.
    protocol: ProtocolVersion,
    parser: Parser,
    connect_timeout: Duration,
    decoder: Decoder,
    namespaces: Vec<(ByteString, NspState)>,
    /// Boxed once the first ack is awaited or answered: every connection holds this, few use
    /// acks, and a connection that does keeps the box.
    acks: Option<Box<Acks>>,
    connect_deadline: Option<Instant>,
    /// Whether the Engine.IO connection runs on WebSocket, which changes the reason the
    /// reference reports when it closes a client itself.
    websocket: bool,
    closed: bool,
    transmits: Queue<Transmit>,
    events: Queue<Event>,
}

/// The acks of a connection, both ways.
#[derive(Debug, Default)]
struct Acks {
    /// Acks awaited from the client, by namespace and id, with their deadline: a deadline in
    /// the heap fires only for the wait it was set for, not for a later wait on the same id.
    awaited: Vec<(ByteString, u64, Option<Instant>)>,
    /// Acks the client awaits from the application, by namespace and id: each is answered
    /// once.
    replies: Vec<(ByteString, u64)>,
    deadlines: BinaryHeap<Reverse<AckDeadline>>,
}

const MAIN: ByteString = ByteString::from_static(MAIN_NAMESPACE);

impl Connection {
    /// A connection that just opened at `now`. A v4 client is connected to `/` implicitly: an
    /// [`Event::Connect`] for `/` is queued at once.
    pub fn new(config: ConnectionConfig, now: Instant) -> Self {
        let mut c = Connection {
            protocol: config.protocol,
            parser: config.parser,
            connect_timeout: config.connect_timeout,
            decoder: Decoder::new(config.decoder),
            namespaces: Vec::new(),
            acks: None,
            connect_deadline: Some(now + config.connect_timeout),
            websocket: false,
            closed: false,
            transmits: Queue::new(),
            events: Queue::new(),
        };
        if config.protocol == ProtocolVersion::V4 {
            c.namespaces.push((MAIN, NspState::AwaitingDecision));
            c.events.push_back(Event::Connect { nsp: MAIN, auth: empty_object(), recovery: None });
        }
        c
    }

    /// The Engine.IO connection runs on WebSocket (it opened on one, or upgraded to one).
    ///
    /// The reference closes a client that breaks a state rule (or joins no namespace in time)
    /// before its Engine.IO connection has finished closing: over WebSocket the engine closes
    /// first and the sockets see `forced close`; over polling the close waits for the client's
    /// next request and the sockets see `forced server close`.
    pub fn handle_websocket(&mut self) {
        self.websocket = true;
    }

    /// The connection's settings.
    pub fn config(&self) -> ConnectionConfig {
        ConnectionConfig {
            protocol: self.protocol,
            parser: self.parser,
            connect_timeout: self.connect_timeout,
            decoder: *self.decoder.config(),
        }
    }

    /// The acks, boxed at their first use.
    fn acks_mut(&mut self) -> &mut Acks {
        self.acks.get_or_insert_default()
    }

    /// Whether the client has joined `nsp`.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.state(nsp) == Some(NspState::Connected)
    }

    /// Whether the machine has asked for the connection to be closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn state(&self, nsp: &str) -> Option<NspState> {
        self.namespaces.iter().find(|(n, _)| &**n == nsp).map(|(_, s)| *s)
    }

    fn set_state(&mut self, nsp: &ByteString, state: Option<NspState>) {
        let i = self.namespaces.iter().position(|(n, _)| n == nsp);
        match (i, state) {
            (Some(i), Some(s)) => self.namespaces[i].1 = s,
            (Some(i), None) => {
                self.namespaces.swap_remove(i);
            }
            (None, Some(s)) => {
                // Most clients join one namespace: no room for four.
                self.namespaces.reserve_exact(1);
                self.namespaces.push((nsp.clone(), s));
            }
            (None, None) => {}
        }
    }

    // ---------------------------------------------------------------------------------------
    // Messages from the client

    /// An Engine.IO message arrived.
    pub fn handle_message(&mut self, message: Message, now: Instant) {
        let _ = now;
        if self.closed {
            return;
        }
        let decoded = match (self.parser, message) {
            (Parser::Json, Message::Text(text)) => self.decoder.decode_text(text),
            (Parser::Json, Message::Binary(data)) => self.decoder.decode_binary(data),
            #[cfg(feature = "msgpack")]
            (Parser::MsgPack, Message::Binary(data)) => {
                crate::msgpack::decode(data, self.decoder.config()).map(Decoded::Complete)
            }
            #[cfg(feature = "msgpack")]
            (Parser::MsgPack, Message::Text(_)) => Err(DecodeError::MsgPack("a text message")),
        };
        match decoded {
            Ok(Decoded::Complete(packet)) => self.on_packet(packet),
            Ok(Decoded::NeedsAttachments { .. }) => {}
            Err(error) => {
                self.events.push_back(Event::Error(error.clone()));
                self.close(CloseCause::Decode(error), DisconnectReason::ForcedClose);
            }
        }
    }

    fn on_packet(&mut self, packet: Packet) {
        let Packet { kind, nsp, id, data } = packet;
        match kind {
            PacketType::Connect => {
                let (name, query) = match (self.protocol, nsp.split_once('?')) {
                    (ProtocolVersion::V4, Some((name, query))) => {
                        (nsp.slice_ref(name), Some(nsp.slice_ref(query)))
                    }
                    _ => (nsp, None),
                };
                if self.state(&name).is_some() {
                    return self.invalid("CONNECT for a namespace already joined");
                }
                self.set_state(&name, Some(NspState::AwaitingDecision));
                let auth = auth_object(data, query);
                let recovery = recovery_request(&auth);
                self.events.push_back(Event::Connect { nsp: name, auth, recovery });
            }
            PacketType::ConnectError => self.invalid("CONNECT_ERROR from the client"),
            _ if !self.is_connected(&nsp) => self.invalid("packet for a namespace not joined"),
            PacketType::Disconnect => {
                self.set_state(&nsp, None);
                self.drop_acks(&nsp);
                self.events.push_back(Event::Disconnect {
                    nsp,
                    reason: DisconnectReason::ClientNamespaceDisconnect,
                });
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if let Some(data) = data {
                    if let Some(id) = id {
                        self.acks_mut().replies.push((nsp.clone(), id));
                    }
                    self.events.push_back(Event::Event { nsp, data, id });
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                // An ack nobody awaits (or that timed out) is ignored, as in the reference.
                let Some(id) = id else { return };
                let Some(acks) = self.acks.as_mut() else { return };
                let Some(i) = acks.awaited.iter().position(|(n, a, _)| *a == id && *n == nsp) else { return };
                acks.awaited.swap_remove(i);
                let data =
                    data.unwrap_or_else(|| Payload::json(RawJson::trusted(ByteString::from_static("[]"))));
                self.events.push_back(Event::Ack { nsp, id, data });
            }
        }
    }

    fn invalid(&mut self, why: &'static str) {
        self.close(CloseCause::InvalidState(why), self.server_close_reason());
    }

    /// The reason sockets see when the server closes the client (see
    /// [`handle_websocket`](Self::handle_websocket)).
    fn server_close_reason(&self) -> DisconnectReason {
        if self.websocket {
            DisconnectReason::ForcedClose
        } else {
            DisconnectReason::ForcedServerClose
        }
    }

    // ---------------------------------------------------------------------------------------
    // The application's decisions and packets

    /// The ids of the socket a client joining `nsp` gets: its id and, with connection state
    /// recovery on (`recovery`), its private session id. Socket.IO 3+ clients get fresh random
    /// ids (`random` gives one); a Socket.IO 2 client (v4) gets its Engine.IO id `engine_sid`
    /// in `/` and `nsp#engine_sid` elsewhere, as the reference derives them, and no private id
    /// (it cannot present one).
    pub fn socket_ids(
        &self,
        nsp: &str,
        engine_sid: &str,
        recovery: bool,
        mut random: impl FnMut() -> ByteString,
    ) -> (ByteString, Option<ByteString>) {
        match self.protocol {
            ProtocolVersion::V4 if nsp == MAIN_NAMESPACE => (ByteString::from(engine_sid), None),
            ProtocolVersion::V4 => (ByteString::from(format!("{nsp}#{engine_sid}")), None),
            ProtocolVersion::V5 => {
                let id = random();
                (id, recovery.then(random))
            }
        }
    }

    /// Admits the client to `nsp` as the socket of a session restored by connection state
    /// recovery: the packets it missed (events, as the adapter kept them) are written first,
    /// then the `CONNECT` answer with its id `sid` and private id `pid`. The client buffers
    /// the events until it is connected, as with the reference.
    pub fn accept_restored(
        &mut self,
        nsp: &ByteString,
        sid: &str,
        pid: &str,
        missed: impl IntoIterator<Item = Packet>,
    ) {
        if self.closed || self.state(nsp) != Some(NspState::AwaitingDecision) {
            return;
        }
        for packet in missed {
            if let Some(data) = packet.data {
                self.send_packet(&Packet::with_payload(PacketType::Event, nsp.clone(), data, None));
            }
        }
        self.accept(nsp, sid, Some(pid));
    }

    /// Admits the client to `nsp` (after a [`Event::Connect`]) as socket `sid`; `pid` is the
    /// private session id when connection state recovery is on. v5 answers
    /// `CONNECT {"sid":...}`; v4 answers an empty `CONNECT`.
    ///
    /// Packets for the namespace that must reach the client before the `CONNECT` answer (the
    /// missed packets of a recovered session) are sent with [`emit`](Self::emit) before calling
    /// this.
    pub fn accept(&mut self, nsp: &ByteString, sid: &str, pid: Option<&str>) {
        if self.closed || self.state(nsp) != Some(NspState::AwaitingDecision) {
            return;
        }
        self.set_state(nsp, Some(NspState::Connected));
        self.connect_deadline = None;
        let data = match self.protocol {
            ProtocolVersion::V4 => None,
            ProtocolVersion::V5 => {
                let mut json = String::with_capacity(48);
                json.push_str("{\"sid\":");
                push_json_string(&mut json, sid);
                if let Some(pid) = pid {
                    json.push_str(",\"pid\":");
                    push_json_string(&mut json, pid);
                }
                json.push('}');
                Some(RawJson::trusted(ByteString::from(json)))
            }
        };
        // v4 writes `40/admin,` for a namespace and `40` for `/`; v5 writes the payload.
        self.send_packet(&Packet::connect(nsp.clone(), data));
    }

    /// Refuses the client's request to join `nsp` with `message` and optional `data`: v5 sends
    /// `CONNECT_ERROR {"message":...,"data":...}`; v4 sends an `ERROR` packet holding `data` if
    /// given, else the message as a string.
    pub fn reject(&mut self, nsp: &ByteString, message: &str, data: Option<RawJson>) {
        if self.closed || self.state(nsp) != Some(NspState::AwaitingDecision) {
            return;
        }
        let payload = match (self.protocol, data) {
            (ProtocolVersion::V4, Some(data)) => data,
            (ProtocolVersion::V4, None) => {
                let mut json = String::new();
                push_json_string(&mut json, message);
                RawJson::trusted(ByteString::from(json))
            }
            (ProtocolVersion::V5, data) => error_object(message, data),
        };
        self.refuse(nsp, payload);
    }

    /// Refuses a namespace that does not exist: `{"message":"Invalid namespace"}` in both
    /// revisions, as the reference sends it.
    pub fn reject_invalid_namespace(&mut self, nsp: &ByteString) {
        if self.closed || self.state(nsp) != Some(NspState::AwaitingDecision) {
            return;
        }
        self.refuse(nsp, error_object("Invalid namespace", None));
    }

    /// Sends the refusal of `nsp`. The acks awaited from the socket that was refused (emitted
    /// to while its middlewares ran) end with it, as in the reference, where they belong to
    /// that socket: a client joining again cannot answer them.
    fn refuse(&mut self, nsp: &ByteString, payload: RawJson) {
        self.set_state(nsp, None);
        self.drop_acks(nsp);
        self.send_packet(&Packet::connect_error(nsp.clone(), payload));
    }

    /// Sends an event (`data` is `[name, ...args]`) to a joined namespace, with ack id `id` if
    /// an answer is wanted (see [`expect_ack`](Self::expect_ack)). Returns false if the
    /// namespace is not joined.
    pub fn emit(&mut self, nsp: &ByteString, data: Payload, id: Option<u64>) -> bool {
        if self.closed || self.state(nsp).is_none() {
            return false;
        }
        self.send_packet(&Packet::with_payload(PacketType::Event, nsp.clone(), data, id));
        true
    }

    /// Sends an event encoded once (an emit, or one recipient of a broadcast) to its
    /// namespace. When it carries an ack id the machine awaits the client's answer, until
    /// `ack_deadline` if given ([`Event::Ack`] or [`Event::AckTimeout`]). Returns false, and
    /// sends nothing, when the namespace is not joined.
    pub fn send_event(&mut self, packet: &EncodedPacket, ack_deadline: Option<Instant>) -> bool {
        self.send_event_with(packet, ack_deadline, true)
    }

    /// Like [`send_event`](Self::send_event), for an event sent with `compress(false)`: it
    /// leaves as [`Transmit::EncodedUncompressed`].
    pub fn send_event_uncompressed(&mut self, packet: &EncodedPacket, ack_deadline: Option<Instant>) -> bool {
        self.send_event_with(packet, ack_deadline, false)
    }

    fn send_event_with(
        &mut self,
        packet: &EncodedPacket,
        ack_deadline: Option<Instant>,
        compress: bool,
    ) -> bool {
        let nsp = &packet.packet().nsp;
        if self.closed || self.state(nsp).is_none() {
            return false;
        }
        if let Some(id) = packet.packet().id {
            self.expect_ack(nsp, id, ack_deadline);
        }
        let packet = packet.clone();
        self.transmits.push_back(if compress {
            Transmit::Encoded(packet)
        } else {
            Transmit::EncodedUncompressed(packet)
        });
        true
    }

    /// Waits for the client's answer to ack `id` in `nsp`, until `deadline` if given. Ids must be
    /// unique within the namespace while awaited (the reference draws them from one counter per
    /// namespace). The answer arrives as [`Event::Ack`], or [`Event::AckTimeout`] at the
    /// deadline.
    pub fn expect_ack(&mut self, nsp: &ByteString, id: u64, deadline: Option<Instant>) {
        if self.closed {
            return;
        }
        let acks = self.acks_mut();
        acks.awaited.push((nsp.clone(), id, deadline));
        if let Some(at) = deadline {
            acks.deadlines.push(Reverse(AckDeadline { at, id, nsp: nsp.clone() }));
        }
    }

    /// Stops waiting for ack `id` (its future was dropped).
    pub fn forget_ack(&mut self, nsp: &str, id: u64) {
        if let Some(acks) = self.acks.as_mut() {
            acks.awaited.retain(|(n, a, _)| !(*a == id && &**n == nsp));
        }
    }

    /// Answers the client's event that carried ack id `id` with `data` (the array of
    /// answers); see [`send_ack`](Self::send_ack).
    pub fn ack(&mut self, nsp: &ByteString, id: u64, data: Payload) -> bool {
        self.send_ack(EncodedAck::new(nsp, id, data))
    }

    /// Answers the client's event that carried the ack's id, once: an answer to an id the
    /// client did not send, or sent already, or in a namespace left since, is dropped and
    /// false returned.
    pub fn send_ack(&mut self, ack: EncodedAck) -> bool {
        let EncodedAck { nsp, id, body } = ack;
        if self.closed || !self.is_connected(&nsp) {
            return false;
        }
        let Some(replies) = self.acks.as_mut().map(|a| &mut a.replies) else { return false };
        let Some(i) = replies.iter().position(|(n, r)| *r == id && *n == nsp) else { return false };
        replies.swap_remove(i);
        match body {
            AckBody::Text(text) => {
                self.transmits.push_back(Transmit::Packet(PacketType::Ack, Message::Text(text)))
            }
            AckBody::Payload(data) => {
                self.send_packet(&Packet::with_payload(PacketType::Ack, nsp, data, Some(id)))
            }
        }
        true
    }

    /// The application will not answer the client's ack `id` of `nsp` (the handle that could
    /// was dropped): the machine forgets it.
    pub fn forget_reply(&mut self, nsp: &str, id: u64) {
        let Some(replies) = self.acks.as_mut().map(|a| &mut a.replies) else { return };
        if let Some(i) = replies.iter().position(|(n, r)| *r == id && &**n == nsp) {
            replies.swap_remove(i);
        }
    }

    /// Whether the client awaits the application's answer to ack `id` of `nsp`.
    pub fn awaits_reply(&self, nsp: &str, id: u64) -> bool {
        self.acks.as_ref().is_some_and(|a| a.replies.iter().any(|(n, r)| *r == id && &**n == nsp))
    }

    /// Disconnects the socket of `nsp`: sends `DISCONNECT` and reports
    /// [`DisconnectReason::ServerNamespaceDisconnect`]. Does nothing unless the client joined
    /// `nsp`: as in the reference, a socket still in its middlewares is not connected, and
    /// only the decision on its `CONNECT` ([`reject`](Self::reject)) ends it.
    pub fn disconnect(&mut self, nsp: &ByteString) {
        if self.closed || !self.is_connected(nsp) {
            return;
        }
        self.set_state(nsp, None);
        self.drop_acks(nsp);
        self.send_packet(&Packet::disconnect(nsp.clone()));
        self.events.push_back(Event::Disconnect {
            nsp: nsp.clone(),
            reason: DisconnectReason::ServerNamespaceDisconnect,
        });
    }

    /// Disconnects every joined namespace as [`disconnect`](Self::disconnect) does (each gets
    /// its `DISCONNECT`), then closes the connection: the reference's
    /// `socket.disconnect(true)`.
    pub fn disconnect_and_close(&mut self) {
        let joined: Vec<ByteString> = self
            .namespaces
            .iter()
            .filter(|(_, s)| *s == NspState::Connected)
            .map(|(n, _)| n.clone())
            .collect();
        for nsp in &joined {
            self.disconnect(nsp);
        }
        self.close(CloseCause::Application, DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Closes the whole connection: every joined namespace is disconnected with `reason` (for a
    /// server shutdown, [`DisconnectReason::ServerShuttingDown`]) and the Engine.IO connection is
    /// to be closed.
    pub fn close_all(&mut self, reason: DisconnectReason) {
        self.close(CloseCause::Application, reason);
    }

    /// The Engine.IO connection closed for `reason`: every joined namespace is disconnected.
    pub fn handle_transport_closed(&mut self, reason: DisconnectReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.disconnect_all(reason);
    }

    fn close(&mut self, cause: CloseCause, reason: DisconnectReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.disconnect_all(reason);
        self.transmits.push_back(Transmit::Close(cause));
    }

    fn disconnect_all(&mut self, reason: DisconnectReason) {
        for (nsp, state) in std::mem::take(&mut self.namespaces) {
            if state == NspState::Connected {
                self.events.push_back(Event::Disconnect { nsp, reason });
            }
        }
        self.acks = None;
        self.connect_deadline = None;
        self.decoder.reset();
    }

    fn drop_acks(&mut self, nsp: &ByteString) {
        if let Some(acks) = self.acks.as_mut() {
            acks.awaited.retain(|(n, _, _)| n != nsp);
            acks.replies.retain(|(n, _)| n != nsp);
        }
    }

    fn send_packet(&mut self, packet: &Packet) {
        match self.parser {
            Parser::Json => {
                let text = Message::Text(packet.encode_to_string());
                self.transmits.push_back(Transmit::Packet(packet.kind, text));
                for attachment in packet.attachments() {
                    self.transmits.push_back(Transmit::Send(Message::Binary(attachment.clone())));
                }
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => {
                let bytes = Message::Binary(crate::msgpack::encode_to_bytes(packet));
                self.transmits.push_back(Transmit::Packet(packet.kind, bytes));
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Time

    /// Advances the timers to `now`: the connect timeout, then ack deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.connect_deadline.is_some_and(|at| at <= now) {
            // The reference closes a client that joined nothing, even one still in a
            // namespace's middlewares.
            if !self.namespaces.iter().any(|(_, s)| *s == NspState::Connected) {
                let reason = self.server_close_reason();
                return self.close(CloseCause::ConnectTimeout, reason);
            }
            self.connect_deadline = None;
        }
        let Some(acks) = self.acks.as_mut() else { return };
        while let Some(Reverse(next)) = acks.deadlines.peek() {
            if next.at > now {
                break;
            }
            let Some(Reverse(AckDeadline { id, nsp, at })) = acks.deadlines.pop() else { break };
            if let Some(i) = acks.awaited.iter().position(|(n, a, d)| *a == id && *n == nsp && *d == Some(at))
            {
                acks.awaited.swap_remove(i);
                self.events.push_back(Event::AckTimeout { nsp, id });
            }
        }
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) must be called, if any. Ask
    /// again after every input.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        // Deadlines of acks already answered are dropped lazily.
        let ack = self.acks.as_mut().and_then(|acks| {
            while let Some(Reverse(next)) = acks.deadlines.peek() {
                if acks.awaited.iter().any(|(n, a, d)| *a == next.id && *n == next.nsp && *d == Some(next.at))
                {
                    break;
                }
                acks.deadlines.pop();
            }
            acks.deadlines.peek().map(|Reverse(d)| d.at)
        });
        match (self.connect_deadline, ack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to send or do. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

fn empty_object() -> RawJson {
    RawJson::trusted(ByteString::from_static("{}"))
}

/// The client's `auth` as a JSON object: the `CONNECT` payload (v5; the decoder lets only an
/// object through), or a Socket.IO 2 client's namespace query string as an object of strings
/// (the last value of a repeated name wins), or `{}`.
fn auth_object(data: Option<Payload>, query: Option<ByteString>) -> RawJson {
    if let Some(query) = query {
        let mut map = serde_json::Map::new();
        for (k, v) in engineio_parser::endpoint::parse_query(&query) {
            map.insert(k, serde_json::Value::String(v));
        }
        return RawJson::from_serialize(&map).unwrap_or_else(|_| empty_object());
    }
    match data {
        Some(Payload::Json { json, .. }) => json,
        #[cfg(feature = "msgpack")]
        Some(payload @ Payload::MsgPack(_)) => crate::from_payload::<serde_json::Value>(&payload)
            .ok()
            .filter(serde_json::Value::is_object)
            .and_then(|value| RawJson::from_serialize(&value).ok())
            .unwrap_or_else(empty_object),
        None => empty_object(),
    }
}

/// The `pid` and `offset` a reconnecting client presents in its `auth`, both strings.
fn recovery_request(auth: &RawJson) -> Option<Box<Recovery>> {
    // `{"pid":"","offset":""}` is the shortest object that can present one (escapes only
    // lengthen it): most clients send `{}`, which needs no parsing.
    if auth.as_str().len() < 22 {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Presented {
        pid: Option<serde_json::Value>,
        offset: Option<serde_json::Value>,
    }
    let presented: Presented = serde_json::from_str(auth.as_str()).ok()?;
    match (presented.pid?, presented.offset?) {
        (serde_json::Value::String(pid), serde_json::Value::String(offset)) => {
            Some(Box::new(Recovery { pid, offset }))
        }
        _ => None,
    }
}

/// `{"message":...}` with `"data":...` when given, as the reference writes connection errors.
fn error_object(message: &str, data: Option<RawJson>) -> RawJson {
    let mut json = String::from("{\"message\":");
    push_json_string(&mut json, message);
    if let Some(data) = data {
        json.push_str(",\"data\":");
        json.push_str(data.as_str());
    }
    json.push('}');
    RawJson::trusted(ByteString::from(json))
}

/// Appends `s` as a JSON string (as `JSON.stringify` escapes it).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
