//! The Engine.IO connection under a socket ([`Conn`], the reference's `socket.conn`) and the
//! client it belongs to across namespaces ([`ClientHandle`], the reference's `socket.client`).
//!
//! A connection keeps nothing for the hooks of [`Conn`] until one is registered: then one boxed
//! [`ConnHooks`] list, kept by the connection's task, and the Engine.IO session reports only the
//! packet events a hook was registered for.

use std::fmt;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytestring::ByteString;
use engineio_parser::{CloseReason, Trace};
use tokio::sync::oneshot;

pub use engineio_parser::{Data as EngineData, Packet as EnginePacket, PacketType as EnginePacketType};

use crate::client::{Command, Engine, PostCommand};
use crate::socket::Socket;

type ConnHook = Box<dyn Fn(&Conn) + Send + Sync>;
type PacketHook = Box<dyn Fn(&Conn, &EnginePacket) + Send + Sync>;
type CloseHook = Box<dyn Fn(&Conn, &str, &str) + Send + Sync>;

/// The Engine.IO connection (session) of a client: the reference's `socket.conn`. Every socket
/// of the client, in every namespace, has the same one. Cheap to clone (a reference count);
/// usable from any task.
///
/// The `on_*` methods register hooks, called on the connection's task, in registration order,
/// for the connection's life. A hook must not block; what it does with other handles
/// (emitting, closing) is queued as usual. A hook registered from a socket's connection
/// handler sees everything after the `CONNECT` answer; one registered later, from another
/// task, what happens once the connection's task has taken it.
#[derive(Clone)]
pub struct Conn {
    engine: Arc<Engine>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", self.id())
            .field("transport", &self.transport())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Conn { engine }
    }

    /// The Engine.IO session id (`sid`). Sensitive: unlike a socket's id, it lets whoever knows
    /// it poll the session.
    pub fn id(&self) -> &ByteString {
        self.engine.id()
    }

    /// The transport the connection runs on now: `"polling"` or `"websocket"`.
    pub fn transport(&self) -> &'static str {
        self.engine.transport().name()
    }

    /// The peer's address (the other end of the TCP connection that opened the session), when
    /// the server knows it. Behind a reverse proxy, the proxy's; the client's IP address as a
    /// trusted proxy forwarded it is [`Handshake::address`](crate::Handshake::address).
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.engine.handshake().remote_addr
    }

    /// The headers of the request that opened the session.
    pub fn request_headers(&self) -> http::HeaderMap {
        self.engine.handshake().headers()
    }

    /// The target of the request that opened the session, as it came: its path and query
    /// (`/socket.io/?EIO=4&transport=polling&t=...`).
    pub fn url(&self) -> &str {
        self.engine.handshake().url()
    }

    /// The Engine.IO protocol revision the client speaks: 4, or 3 for Socket.IO 2 clients.
    pub fn protocol(&self) -> u8 {
        self.engine.protocol() as u8
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.engine.is_closed()
    }

    /// Closes the connection, as the reference's `socket.conn.close()`: what is queued is
    /// delivered first, then the Engine.IO session closes with reason `forced close`, and every
    /// socket of the client disconnects with [`DisconnectReason::ForcedClose`](crate::DisconnectReason::ForcedClose)
    /// (`"forced close"`). No Socket.IO `DISCONNECT` is sent (that is
    /// [`Socket::disconnect(true)`](Socket::disconnect)): the client sees its transport close.
    pub fn close(&self) {
        self.engine.close();
    }

    /// Calls `hook` when the connection moves from long-polling to WebSocket (the reference's
    /// `upgrade` event).
    pub fn on_upgrade(&self, hook: impl Fn(&Conn) + Send + Sync + 'static) {
        self.register(Hook::Upgrade(Box::new(hook)));
    }

    /// Calls `hook` with every Engine.IO packet received from the client on the connection's
    /// transport while it is open (the reference's `packet` event): `message` packets with their
    /// text or binary data, `pong`s (and the pings of Engine.IO 3 clients), and the rare
    /// others. Not reported, as in the reference: the upgrade handshake on the new WebSocket
    /// (`2probe`, `5`), a `close` over long-polling (the session ends with `transport close`),
    /// and undecodable packets (the session ends with `parse error`).
    pub fn on_packet(&self, hook: impl Fn(&Conn, &EnginePacket) + Send + Sync + 'static) {
        self.register(Hook::Packet(Box::new(hook)));
    }

    /// Calls `hook` with every Engine.IO packet the server queues for the client (the
    /// reference's `packetCreate` event): `message` packets (each Socket.IO packet, and each
    /// binary attachment), heartbeat `ping`s (and the `pong`s answering an Engine.IO 3 client).
    /// As in the reference, the `noop` releasing a poll during an upgrade and the `close` that
    /// ends a session are written by the transport, not created as packets, and are not
    /// reported.
    pub fn on_packet_create(&self, hook: impl Fn(&Conn, &EnginePacket) + Send + Sync + 'static) {
        self.register(Hook::PacketCreate(Box::new(hook)));
    }

    /// Calls `hook` each time the queued packets are handed to the transport and nothing is
    /// left to send (the reference's `drain` event): on a WebSocket after each write of
    /// packets, over long-polling when a poll takes what was queued.
    pub fn on_drain(&self, hook: impl Fn(&Conn) + Send + Sync + 'static) {
        self.register(Hook::Drain(Box::new(hook)));
    }

    /// Calls `hook` once, when the connection closes (the reference's `close` event), with the
    /// Engine.IO close reason as the reference words it (`"transport close"`,
    /// `"transport error"`, `"ping timeout"`, `"parse error"`, `"forced close"`) and a
    /// description of what happened, for logs (`"websocket closed"`, `"no heartbeat in
    /// time"`, ...). The sockets of the client have received their `disconnect` by then.
    pub fn on_close(&self, hook: impl Fn(&Conn, &str, &str) + Send + Sync + 'static) {
        self.register(Hook::Close(Box::new(hook)));
    }

    /// Hands `hook` to the connection's task; a closed connection drops it.
    fn register(&self, hook: Hook) {
        let _ = self.engine.command(Command::ConnHook(hook));
    }
}

/// A hook on its way to the connection's task.
pub(crate) enum Hook {
    Upgrade(ConnHook),
    Packet(PacketHook),
    PacketCreate(PacketHook),
    Drain(ConnHook),
    Close(CloseHook),
}

/// The hooks of one connection, created with the first one registered.
pub(crate) struct ConnHooks {
    conn: Conn,
    upgrade: Vec<ConnHook>,
    packet: Vec<PacketHook>,
    packet_create: Vec<PacketHook>,
    drain: Vec<ConnHook>,
    close: Vec<CloseHook>,
}

impl ConnHooks {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        ConnHooks {
            conn: Conn::new(engine),
            upgrade: Vec::new(),
            packet: Vec::new(),
            packet_create: Vec::new(),
            drain: Vec::new(),
            close: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, hook: Hook) {
        match hook {
            Hook::Upgrade(hook) => self.upgrade.push(hook),
            Hook::Packet(hook) => self.packet.push(hook),
            Hook::PacketCreate(hook) => self.packet_create.push(hook),
            Hook::Drain(hook) => self.drain.push(hook),
            Hook::Close(hook) => self.close.push(hook),
        }
    }

    /// The packet events the session must report for these hooks.
    pub(crate) fn trace(&self) -> Trace {
        let mut trace = Trace::NONE;
        if !self.packet.is_empty() {
            trace |= Trace::RECEIVED;
        }
        if !self.packet_create.is_empty() {
            trace |= Trace::CREATED;
        }
        if !self.drain.is_empty() {
            trace |= Trace::DRAINED;
        }
        trace
    }

    pub(crate) fn upgraded(&self) {
        for hook in &self.upgrade {
            guarded(|| hook(&self.conn));
        }
    }

    pub(crate) fn packet(&self, packet: &EnginePacket) {
        for hook in &self.packet {
            guarded(|| hook(&self.conn, packet));
        }
    }

    pub(crate) fn packet_create(&self, packet: &EnginePacket) {
        for hook in &self.packet_create {
            guarded(|| hook(&self.conn, packet));
        }
    }

    pub(crate) fn drained(&self) {
        for hook in &self.drain {
            guarded(|| hook(&self.conn));
        }
    }

    pub(crate) fn closed(&self, reason: CloseReason, description: &str) {
        for hook in &self.close {
            guarded(|| hook(&self.conn, reason.as_str(), description));
        }
    }
}

/// Calls a hook; a panicking hook is logged and does not take the connection's task down.
fn guarded(call: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(call)).is_err() {
        tracing::error!("a connection hook panicked");
    }
}

/// The client a socket belongs to: its Engine.IO connection and the sockets it has in every
/// namespace it joined (the reference's `socket.client`, with `client.sockets` and
/// `client.conn`). Cheap to clone; usable from any task.
#[derive(Clone)]
pub struct ClientHandle {
    engine: Arc<Engine>,
}

impl fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandle").field("conn", &self.conn()).finish()
    }
}

impl ClientHandle {
    /// The client's Engine.IO connection (as [`Socket::conn`]).
    pub fn conn(&self) -> Conn {
        Conn::new(self.engine.clone())
    }

    /// The client's connected sockets, one per namespace it joined (sockets whose connection
    /// middlewares still run are not among them), as the connection's task sees them when it
    /// takes the question. Empty once the connection is closed.
    pub async fn sockets(&self) -> Vec<Socket> {
        let (tx, rx) = oneshot::channel();
        if self.engine.command(Command::Sockets(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

impl Socket {
    /// The socket's Engine.IO connection (the reference's `socket.conn`): its session id,
    /// transport, peer and request, its packet-level events, and a way to close it.
    pub fn conn(&self) -> Conn {
        Conn::new(self.0.engine.clone())
    }

    /// The client the socket belongs to (the reference's `socket.client`): its sockets in
    /// every namespace, and its connection.
    pub fn client(&self) -> ClientHandle {
        ClientHandle { engine: self.0.engine.clone() }
    }
}
