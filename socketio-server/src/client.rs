//! One Engine.IO connection, on its session's task: the Socket.IO connection machine, the
//! sockets of the namespaces the client joined, and the acknowledgements it owes us.
//!
//! Everything here runs inside the Engine.IO session's task, one call at a time. Work done
//! elsewhere (async middlewares, emits with acks from other tasks, disconnections) comes back
//! as a [`Command`] through `crate::client::Engine::post`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use engineio_parser::{
    CloseReason, Data, Packet as EnginePacket, ProtocolVersion as EngineVersion, Transport,
};
use socketio_adapter::{RestoredSession, Room, Sid};
use socketio_parser::connection::{
    Connection, ConnectionConfig, DisconnectReason, Event as MachineEvent, Message, ProtocolVersion, Transmit,
};
use socketio_parser::Payload;
use tokio::sync::{mpsc, oneshot};

use crate::config::ConnectionStateRecovery;
use crate::error::{AckError, ConnectError, SocketError};
use crate::handshake::{parse_query, query_object};
use crate::namespace::NsInner;
use crate::run::run_now_or_spawn;
use crate::server::ServerInner;
use crate::socket::{AckSender, Event, Socket};

/// Where the answer to one of our acknowledged emits goes.
pub(crate) enum AckSink {
    /// `socket.emit_with_ack`: one answer.
    Single(oneshot::Sender<Result<Payload, AckError>>),
    /// A broadcast with acks: one answer per client, into a shared collector.
    Broadcast(mpsc::UnboundedSender<Result<Payload, AckError>>),
}

impl AckSink {
    fn complete(self, result: Result<Payload, AckError>) {
        match self {
            AckSink::Single(tx) => {
                let _ = tx.send(result);
            }
            AckSink::Broadcast(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// The Engine.IO session of a client, carrying this crate's commands.
pub(crate) type Engine = engineio_server::Socket<ClientCommand>;

/// A command for a client's task, from another task (opaque: only this crate makes them).
pub struct ClientCommand(pub(crate) Command);

impl std::fmt::Debug for ClientCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCommand").finish_non_exhaustive()
    }
}

/// Hands commands to a client's task.
pub(crate) trait PostCommand {
    /// Queues `command` for the client's task; fails once the connection is closed.
    fn command(&self, command: Command) -> Result<(), engineio_server::Closed>;
}

impl PostCommand for Engine {
    fn command(&self, command: Command) -> Result<(), engineio_server::Closed> {
        self.post(ClientCommand(command))
    }
}

/// Work finished in another task, for the connection's task.
pub(crate) enum Command {
    /// Await the client's answer to ack `id` of `nsp`.
    ExpectAck { nsp: ByteString, id: u64, deadline: Option<Instant>, sink: AckSink },
    /// Stop awaiting it (its future was dropped).
    ForgetAck { nsp: ByteString, id: u64 },
    /// A namespace's middlewares decided on a `CONNECT`.
    Decided { nsp: ByteString, decision: Decision },
    /// Disconnect the socket of `nsp`; with `close`, the whole connection.
    Disconnect { nsp: ByteString, close: bool },
    /// The server is shutting down.
    Shutdown,
}

/// The answer to a `CONNECT`.
pub(crate) enum Decision {
    Accept(Socket),
    /// A session restored by connection state recovery, with the packets the client missed.
    Restore(Socket, RestoredSession),
    Refuse(ConnectError),
    InvalidNamespace,
}

pub(crate) struct Client {
    server: Arc<ServerInner>,
    engine: Arc<crate::client::Engine>,
    machine: Connection,
    /// The sockets of the namespaces joined, and of those whose middlewares are running.
    sockets: Vec<Socket>,
    acks: HashMap<(ByteString, u64), AckSink>,
}

impl Client {
    pub(crate) fn new(server: Arc<ServerInner>, engine: Arc<crate::client::Engine>) -> Self {
        let protocol = match engine.protocol() {
            EngineVersion::V3 => ProtocolVersion::V4,
            EngineVersion::V4 => ProtocolVersion::V5,
        };
        let config = ConnectionConfig {
            protocol,
            parser: server.config.parser.connection_parser(),
            connect_timeout: server.config.connect_timeout,
            decoder: server.config.decoder(),
        };
        let mut machine = Connection::new(config, crate::clock::now());
        if engine.transport() == Transport::WebSocket {
            machine.handle_websocket();
        }
        let mut client = Client { server, engine, machine, sockets: Vec::new(), acks: HashMap::new() };
        client.drain();
        client
    }

    pub(crate) fn on_message(&mut self, data: Data) {
        let message = match data {
            Data::Text(text) => Message::Text(text),
            Data::Binary(bytes) => Message::Binary(bytes),
        };
        self.machine.handle_message(message, crate::clock::now());
        self.drain();
    }

    pub(crate) fn on_upgrade(&mut self) {
        self.machine.handle_websocket();
        for socket in self.sockets.clone() {
            socket.upgraded();
        }
    }

    pub(crate) fn on_close(mut self, reason: CloseReason) {
        let reason = match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        };
        self.machine.handle_transport_closed(reason);
        self.drain();
        // Sockets still waiting for their middlewares never joined.
        self.sockets.clear();
        self.fail_acks(None);
    }

    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain();
    }

    pub(crate) fn on_command(&mut self, command: Command) {
        match command {
            Command::ExpectAck { nsp, id, deadline, sink } => {
                if !self.machine.is_connected(&nsp) && self.socket(&nsp).is_none() {
                    sink.complete(Err(AckError::Disconnected));
                    return;
                }
                self.machine.expect_ack(&nsp, id, deadline);
                self.acks.insert((nsp, id), sink);
            }
            Command::ForgetAck { nsp, id } => {
                self.machine.forget_ack(&nsp, id);
                self.acks.remove(&(nsp, id));
            }
            Command::Decided { nsp, decision } => self.decided(nsp, decision),
            Command::Disconnect { nsp, close } => {
                if close {
                    let joined: Vec<ByteString> =
                        self.sockets.iter().filter(|s| s.connected()).map(|s| s.nsp().clone()).collect();
                    for nsp in joined {
                        self.machine.disconnect(&nsp);
                    }
                    self.machine.close_all(DisconnectReason::ServerNamespaceDisconnect);
                } else {
                    self.machine.disconnect(&nsp);
                }
            }
            Command::Shutdown => self.machine.close_all(DisconnectReason::ServerShuttingDown),
        }
        self.drain();
    }

    fn socket(&self, nsp: &str) -> Option<&Socket> {
        self.sockets.iter().find(|s| &**s.nsp() == nsp)
    }

    /// Carries out what the machine asks for, until it has nothing more to say.
    fn drain(&mut self) {
        loop {
            self.flush();
            let Some(event) = self.machine.poll_event() else { break };
            self.on_event(event);
        }
        self.flush();
    }

    /// Queues the machine's messages on the Engine.IO session, in one batch.
    fn flush(&mut self) {
        let mut batch = Vec::new();
        let mut close = false;
        while let Some(transmit) = self.machine.poll_transmit() {
            match transmit {
                Transmit::Send(Message::Text(text)) => batch.push(EnginePacket::message(text)),
                Transmit::Send(Message::Binary(bytes)) => batch.push(EnginePacket::binary(bytes)),
                Transmit::Close(cause) => {
                    tracing::debug!(sid = %self.engine.id(), ?cause, "closing the connection");
                    close = true;
                }
            }
        }
        match batch.len() {
            0 => {}
            1 => {
                let _ = self.engine.send(batch.remove(0));
            }
            _ => {
                let _ = self.engine.send_many(batch);
            }
        }
        if close {
            self.engine.close();
        }
    }

    fn on_event(&mut self, event: MachineEvent) {
        match event {
            MachineEvent::Connect { nsp, auth, query } => self.connect(nsp, auth, query),
            MachineEvent::Event { nsp, data, id } => {
                let Some(socket) = self.socket(&nsp).cloned() else { return };
                let name = event_name(&data);
                let ack = id.map(|id| AckSender::new(socket.clone(), id));
                socket.dispatch(Event::new(name, data, ack));
            }
            MachineEvent::Ack { nsp, id, data } => {
                if let Some(sink) = self.acks.remove(&(nsp, id)) {
                    sink.complete(Ok(data));
                }
            }
            MachineEvent::AckTimeout { nsp, id } => {
                if let Some(sink) = self.acks.remove(&(nsp, id)) {
                    sink.complete(Err(AckError::Timeout));
                }
            }
            MachineEvent::Disconnect { nsp, reason } => {
                self.fail_acks(Some(&nsp));
                let Some(i) = self.sockets.iter().position(|s| *s.nsp() == nsp) else { return };
                let socket = self.sockets.swap_remove(i);
                socket.closed(reason);
            }
            MachineEvent::Error(error) => {
                let error = SocketError::Decode(error);
                for socket in self.sockets.clone() {
                    socket.report_error(&error);
                }
            }
        }
    }

    /// Fails the acks awaited in `nsp` (every namespace with `None`).
    fn fail_acks(&mut self, nsp: Option<&ByteString>) {
        let keys: Vec<(ByteString, u64)> =
            self.acks.keys().filter(|(n, _)| nsp.is_none_or(|nsp| n == nsp)).cloned().collect();
        for key in keys {
            if let Some(sink) = self.acks.remove(&key) {
                sink.complete(Err(AckError::Disconnected));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Joining namespaces

    fn connect(&mut self, nsp: ByteString, auth: Option<Payload>, query: Option<ByteString>) {
        let auth = match (auth, query) {
            // Socket.IO 2 clients pass their auth as the namespace's query string.
            (_, Some(query)) => query_object(&parse_query(&query)),
            // The decoder only lets an object through; anything unreadable counts as none.
            (Some(payload), None) => socketio_parser::from_payload::<serde_json::Value>(&payload)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
            (None, None) => serde_json::Value::Object(serde_json::Map::new()),
        };
        let server = self.server.clone();
        if let Some(recovery) = server.config.connection_state_recovery {
            if let (Some(ns), Some((pid, offset))) = (server.namespace(&nsp), recovery_request(&auth)) {
                let socket = self.new_socket(&ns, auth.clone());
                tokio::spawn(restore(ns, socket, nsp, self.engine.clone(), recovery, pid, offset, auth));
                return;
            }
        }
        match server.namespace(&nsp) {
            Some(ns) if ns.handlers().middlewares.is_empty() => {
                let socket = self.new_socket(&ns, auth);
                self.accept(socket);
            }
            Some(ns) => {
                let socket = self.new_socket(&ns, auth);
                self.sockets.push(socket.clone());
                tokio::spawn(run_middlewares(ns, socket, nsp, self.engine.clone()));
            }
            None if !server.has_parents() => self.machine.reject_invalid_namespace(&nsp),
            None => {
                let engine = self.engine.clone();
                let v2 = self.machine.config().protocol == ProtocolVersion::V4;
                tokio::spawn(async move {
                    let Some(ns) = server.resolve_dynamic(&nsp, &auth).await else {
                        let _ =
                            engine.command(Command::Decided { nsp, decision: Decision::InvalidNamespace });
                        return;
                    };
                    let socket =
                        Socket::new(socket_id(&ns, &engine, v2), None, ns.clone(), engine.clone(), auth);
                    run_middlewares(ns, socket, nsp, engine).await;
                });
            }
        }
    }

    fn new_socket(&self, ns: &Arc<NsInner>, auth: serde_json::Value) -> Socket {
        let v2 = self.machine.config().protocol == ProtocolVersion::V4;
        Socket::new(
            socket_id(ns, &self.engine, v2),
            private_id(ns, v2),
            ns.clone(),
            self.engine.clone(),
            auth,
        )
    }

    fn decided(&mut self, nsp: ByteString, decision: Decision) {
        self.sockets.retain(|s| *s.nsp() != nsp || s.connected());
        match decision {
            Decision::Accept(socket) => self.accept(socket),
            Decision::Restore(socket, restored) => self.restore(socket, restored),
            Decision::Refuse(error) => {
                let data = error.data.as_ref().and_then(|d| socketio_parser::RawJson::from_serialize(d).ok());
                self.machine.reject(&nsp, &error.message, data);
            }
            Decision::InvalidNamespace => self.machine.reject_invalid_namespace(&nsp),
        }
    }

    /// Admits `socket`: the client is told (`CONNECT`), the socket joins its own room, then the
    /// namespace's connection handlers run.
    fn accept(&mut self, socket: Socket) {
        let own = [socket.id().clone()];
        self.admit(socket, &own);
    }

    /// Admits the socket of a restored session: the packets the client missed go first (the
    /// reference writes them before the `CONNECT` answer, and the client buffers them until it
    /// is connected), then the socket is admitted in the rooms it was in.
    fn restore(&mut self, socket: Socket, restored: RestoredSession) {
        for packet in restored.missed {
            if let Some(data) = packet.data {
                self.machine.emit(socket.nsp(), data, None);
            }
        }
        let mut rooms = restored.session.rooms;
        rooms.retain(|room| room != socket.id());
        rooms.insert(0, socket.id().clone());
        self.admit(socket, &rooms);
    }

    fn admit(&mut self, socket: Socket, rooms: &[Room]) {
        let ns = socket.0.ns.clone();
        self.machine.accept(&ns.name, socket.id(), socket.pid().map(|p| &**p));
        if !self.machine.is_connected(&ns.name) {
            return;
        }
        // The `CONNECT` answer goes out before anything the handlers send.
        self.flush();
        socket.set_connected();
        ns.adapter.add_socket(socket.clone(), rooms);
        self.sockets.push(socket.clone());
        let handlers = ns.handlers().connection.clone();
        for handler in handlers {
            run_now_or_spawn(handler(socket.clone()));
        }
    }
}

/// The id of a new socket: fresh random for Socket.IO 3+ clients; derived from the Engine.IO
/// id for Socket.IO 2 clients, as the reference derives it.
fn socket_id(ns: &NsInner, engine: &crate::client::Engine, v2: bool) -> ByteString {
    if v2 {
        if &*ns.name == "/" {
            return engine.id().clone();
        }
        return ByteString::from(format!("{}#{}", ns.name, engine.id()));
    }
    ByteString::from(engineio_server::generate_id())
}

/// The private session id of a new socket, with connection state recovery on (Socket.IO 3+
/// clients only: Socket.IO 2 clients cannot present it).
fn private_id(ns: &NsInner, v2: bool) -> Option<Sid> {
    if v2 || ns.recovery().is_none() {
        return None;
    }
    Some(ByteString::from(engineio_server::generate_id()))
}

/// The `pid` and `offset` a reconnecting client presents in its `CONNECT` payload, both
/// strings, as the reference requires.
fn recovery_request(auth: &serde_json::Value) -> Option<(String, String)> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = auth.get("offset")?.as_str()?;
    Some((pid.to_owned(), offset.to_owned()))
}

/// Connection state recovery: asks the adapter for the session `pid` and the packets after
/// `offset`. A restored session skips the middlewares when the options say so; otherwise the
/// middlewares run for the restored socket. Without a session, `fresh` joins as any new
/// socket.
#[allow(clippy::too_many_arguments)]
async fn restore(
    ns: Arc<NsInner>,
    fresh: Socket,
    nsp: ByteString,
    engine: Arc<crate::client::Engine>,
    recovery: ConnectionStateRecovery,
    pid: String,
    offset: String,
    auth: serde_json::Value,
) {
    let Some(restored) = ns.adapter.restore_session(&pid, &offset).await else {
        run_middlewares(ns, fresh, nsp, engine).await;
        return;
    };
    let socket = Socket::recovered_from(&restored.session, ns.clone(), engine.clone(), auth);
    if !recovery.skip_middlewares {
        let middlewares = ns.handlers().middlewares.clone();
        for middleware in middlewares {
            if let Err(error) = middleware(socket.clone()).await {
                let _ = engine.command(Command::Decided { nsp, decision: Decision::Refuse(error) });
                return;
            }
        }
    }
    let _ = engine.command(Command::Decided { nsp, decision: Decision::Restore(socket, restored) });
}

/// Runs `ns`'s middlewares for `socket`, then reports the decision to the connection's task.
async fn run_middlewares(
    ns: Arc<NsInner>,
    socket: Socket,
    nsp: ByteString,
    engine: Arc<crate::client::Engine>,
) {
    let middlewares = ns.handlers().middlewares.clone();
    let mut decision = Decision::Accept(socket.clone());
    for middleware in middlewares {
        if let Err(error) = middleware(socket.clone()).await {
            decision = Decision::Refuse(error);
            break;
        }
    }
    let _ = engine.command(Command::Decided { nsp, decision });
}

/// An event's name: a slice of the JSON payload when the name is written there as it is (the
/// common case: no escapes, not a number), else a string of its own.
fn event_name(payload: &socketio_parser::Payload) -> ByteString {
    let Some(name) = socketio_parser::event_name(payload) else { return ByteString::new() };
    let text = name.to_js_string();
    if let (std::borrow::Cow::Borrowed(s), socketio_parser::Payload::Json { json, .. }) = (&text, payload) {
        let whole = json.as_str();
        let (start, base) = (s.as_ptr() as usize, whole.as_ptr() as usize);
        if start >= base && start + s.len() <= base + whole.len() {
            return json.as_byte_string().slice_ref(s);
        }
    }
    ByteString::from(text.into_owned())
}
