//! One Engine.IO connection, on its session's task: the Socket.IO connection machine, the
//! sockets of the namespaces the client joined, and the acknowledgements it owes us.
//!
//! Everything here runs inside the Engine.IO session's task, one call at a time. Work done
//! elsewhere (async middlewares, emits with acks from other tasks, disconnections) comes back
//! as a [`Command`] through `crate::client::Engine::post`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use engineio_parser::{CloseReason, Data, Transport};
use engineio_server::Outbox;
use socketio_adapter::{RestoredSession, Room, Sid};
use socketio_parser::connection::{
    Connection, ConnectionConfig, DisconnectReason, Event as MachineEvent, Recovery, Transmit,
};
use socketio_parser::{EncodedAck, EncodedPacket, Payload, RawJson};
use tokio::sync::{mpsc, oneshot};

use crate::conn::ConnHooks;
use crate::error::{AckError, ConnectError, SocketError};
use crate::namespace::{NamespaceRequest, NsInner};
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
    /// Send an event (an emit, or one recipient's share of a broadcast); with `ack`, await the
    /// client's answer.
    /// An event for the client; `compress: false` keeps its messages uncompressed.
    Emit { packet: EncodedPacket, ack: Option<AwaitAck>, compress: bool },
    /// Answer the client's ack.
    Ack(EncodedAck),
    /// The handle that could answer the client's ack `id` of `nsp` is gone.
    ForgetReply { nsp: ByteString, id: u64 },
    /// Stop awaiting our ack `id` of `nsp` (its future was dropped).
    ForgetAck { nsp: ByteString, id: u64 },
    /// A namespace's middlewares decided on a `CONNECT` (boxed: once per namespace joined, and
    /// large, while every session keeps room for one command inline).
    Decided { nsp: ByteString, decision: Box<Decision> },
    /// Disconnect the socket of `nsp`; with `close`, the whole connection.
    Disconnect { nsp: ByteString, close: bool },
    /// The server is shutting down.
    Shutdown,
    /// A hook on the connection ([`crate::Conn`]).
    ConnHook(crate::conn::Hook),
    /// The connected sockets, for [`crate::ClientHandle::sockets`].
    Sockets(oneshot::Sender<Vec<Socket>>),
}

/// An answer we await for an event sent with an ack id.
pub(crate) struct AwaitAck {
    pub(crate) deadline: Option<Instant>,
    /// The timeout the deadline came from, for logs.
    pub(crate) timeout: Option<Duration>,
    pub(crate) sink: AckSink,
}

/// An answer we await, as the connection keeps it.
struct Awaited {
    sink: AckSink,
    /// The event's name and timeout, kept for the log line of a timeout (only while `debug`
    /// events are enabled: the name is copied out of the packet, not to keep it alive).
    logged: Option<(ByteString, Option<Duration>)>,
}

/// The answer to a `CONNECT`.
pub(crate) enum Decision {
    /// The socket, with the rooms its middlewares made it join.
    Accept(Socket, Vec<Room>),
    /// A session restored by connection state recovery, with the packets the client missed
    /// and the rooms its middlewares made it join.
    Restore(Socket, RestoredSession, Vec<Room>),
    Refuse(ConnectError),
    InvalidNamespace,
}

pub(crate) struct Client {
    server: Arc<ServerInner>,
    engine: Arc<crate::client::Engine>,
    machine: Connection,
    /// The sockets of the namespaces joined, and of those whose middlewares are running.
    sockets: Vec<Socket>,
    /// Acks awaited from the client, by namespace and id. Boxed once the first is awaited:
    /// every connection holds this, few applications await acks.
    #[allow(clippy::box_collection)] // 8 bytes where an empty map takes 48
    acks: Option<Box<HashMap<(ByteString, u64), Awaited>>>,
    /// The application's hooks on the connection, once it registered one.
    conn_hooks: Option<Box<ConnHooks>>,
}

impl Client {
    pub(crate) fn new(server: Arc<ServerInner>, engine: Arc<crate::client::Engine>) -> Self {
        let config = ConnectionConfig {
            protocol: engine.protocol().into(),
            parser: server.config.parser.connection_parser(),
            connect_timeout: server.config.connect_timeout,
            decoder: server.config.decoder(),
        };
        let mut machine = Connection::new(config, crate::clock::now());
        if engine.transport() == Transport::WebSocket {
            machine.handle_websocket();
        }
        let hooks = server.engine_connection_hooks();
        let mut client =
            Client { server, engine, machine, sockets: Vec::new(), acks: None, conn_hooks: None };
        if !hooks.is_empty() {
            // The hooks' registrations are commands, queued before anything the client sends.
            let conn = crate::Conn::new(client.engine.clone());
            for hook in hooks {
                hook(&conn);
            }
        }
        client.drain();
        client
    }

    pub(crate) fn on_message(&mut self, data: Data) {
        // Kept (a reference count) only to show the start of an undecodable message.
        let input = tracing::enabled!(tracing::Level::DEBUG).then(|| data.clone());
        self.machine.handle_message(data.into(), crate::clock::now());
        while let Some(event) = self.machine.poll_event() {
            if let (MachineEvent::Error(error), Some(input)) = (&event, &input) {
                let bytes = match input {
                    Data::Text(text) => text.as_bytes(),
                    Data::Binary(bytes) => bytes,
                };
                tracing::debug!(reason = %error, size = bytes.len(), input = %Prefix(bytes), "parse error");
            }
            self.on_event(event);
        }
    }

    pub(crate) fn on_upgrade(&mut self) {
        self.machine.handle_websocket();
        for socket in self.sockets.clone() {
            socket.span().in_scope(|| socket.upgraded());
        }
        if let Some(hooks) = self.conn_hooks.as_deref() {
            hooks.upgraded();
        }
    }

    pub(crate) fn on_close(mut self, reason: CloseReason, description: &str) {
        self.machine.handle_transport_closed(reason.into());
        self.drain();
        // Sockets still waiting for their middlewares never joined.
        self.sockets.clear();
        self.fail_acks(None);
        if let Some(hooks) = self.conn_hooks.take() {
            hooks.closed(reason, description);
        }
    }

    /// The application's hooks on the connection, if it registered any.
    pub(crate) fn conn_hooks(&self) -> Option<&ConnHooks> {
        self.conn_hooks.as_deref()
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
            // Sending raises no event: nothing to drain.
            Command::Emit { packet, ack, compress } => return self.emit(&packet, ack, compress),
            Command::Ack(ack) => {
                self.machine.send_ack(ack);
                return;
            }
            Command::ConnHook(hook) => {
                let engine = &self.engine;
                self.conn_hooks.get_or_insert_with(|| Box::new(ConnHooks::new(engine.clone()))).add(hook);
                return;
            }
            Command::Sockets(tx) => {
                let _ = tx.send(self.sockets.iter().filter(|s| s.connected()).cloned().collect());
                return;
            }
            Command::ForgetReply { nsp, id } => self.machine.forget_reply(&nsp, id),
            Command::ForgetAck { nsp, id } => {
                self.machine.forget_ack(&nsp, id);
                self.take_ack(nsp, id);
            }
            Command::Decided { nsp, decision } => self.decided(nsp, *decision),
            Command::Disconnect { close: true, .. } => self.machine.disconnect_and_close(),
            Command::Disconnect { nsp, close: false } => self.machine.disconnect(&nsp),
            Command::Shutdown => self.machine.close_all(DisconnectReason::ServerShuttingDown),
        }
        self.drain();
    }

    fn emit(&mut self, packet: &EncodedPacket, ack: Option<AwaitAck>, compress: bool) {
        let deadline = ack.as_ref().and_then(|a| a.deadline);
        let sent = match compress {
            true => self.machine.send_event(packet, deadline),
            false => self.machine.send_event_uncompressed(packet, deadline),
        };
        let (Some(ack), Some(id)) = (ack, packet.packet().id) else { return };
        if sent {
            let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
                let name = packet.packet().data.as_ref().map(socketio_parser::event_name_string);
                (name.map(|n| ByteString::from(&*n)).unwrap_or_default(), ack.timeout)
            });
            let acks = self.acks.get_or_insert_default();
            acks.insert((packet.packet().nsp.clone(), id), Awaited { sink: ack.sink, logged });
        } else {
            ack.sink.complete(Err(AckError::Disconnected));
        }
    }

    fn socket(&self, nsp: &str) -> Option<&Socket> {
        self.sockets.iter().find(|s| &**s.nsp() == nsp)
    }

    /// Handles the machine's events until it has nothing more to say. What it transmits meanwhile
    /// waits in it for [`flush`](Self::flush), which the session's task calls after every call:
    /// everything the handlers send goes through the session's queue, so it comes after.
    fn drain(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            self.on_event(event);
        }
    }

    /// Hands the machine's transmits to the Engine.IO session.
    pub(crate) fn flush(&mut self, outbox: &mut Outbox<'_>) {
        if let Some(hooks) = self.conn_hooks.as_deref() {
            outbox.set_trace(hooks.trace());
        }
        while let Some(transmit) = self.machine.poll_transmit() {
            match transmit {
                Transmit::Packet(kind, message) => {
                    sent_packet(kind, None);
                    let _ = outbox.send(message.into());
                }
                Transmit::Send(message) => {
                    let _ = outbox.send(message.into());
                }
                Transmit::Encoded(packet) => {
                    sent_packet(packet.packet().kind, Some(&packet.packet().nsp));
                    for message in packet.messages() {
                        let _ = outbox.send(message.clone());
                    }
                }
                Transmit::EncodedUncompressed(packet) => {
                    sent_packet(packet.packet().kind, Some(&packet.packet().nsp));
                    for message in packet.messages() {
                        let _ = outbox.send_uncompressed(message.clone());
                    }
                }
                Transmit::Close(cause) => {
                    tracing::debug!(?cause, "closing the connection");
                    outbox.close();
                }
            }
        }
    }

    fn on_event(&mut self, event: MachineEvent) {
        if let Some(kind) = event.received_type() {
            tracing::trace!(r#type = kind.name(), "socket.io packet in");
            crate::metrics::packet(crate::metrics::Direction::In, kind);
        }
        match event {
            MachineEvent::Connect { nsp, auth, recovery } => self.connect(nsp, &auth, recovery),
            MachineEvent::Event { nsp, data, id } => {
                let Some(socket) = self.socket(&nsp).cloned() else { return };
                let name = socketio_parser::event_name_string(&data);
                let ack = id.map(|id| AckSender::new(socket.clone(), id));
                let _span = socket.span().enter();
                socket.dispatch(Event::new(name, data, ack));
            }
            MachineEvent::Ack { nsp, id, data } => {
                if let Some(awaited) = self.take_ack(nsp, id) {
                    awaited.sink.complete(Ok(data));
                }
            }
            MachineEvent::AckTimeout { nsp, id } => {
                crate::metrics::ack_timeout();
                let awaited = self.take_ack(nsp.clone(), id);
                let (event, timeout) = awaited.as_ref().and_then(|a| a.logged.clone()).unzip();
                let timeout_ms = timeout.flatten().map(|t| t.as_millis() as u64);
                tracing::debug!(%nsp, id, event = event.as_deref(), timeout_ms, "ack timed out");
                if let Some(awaited) = awaited {
                    awaited.sink.complete(Err(AckError::Timeout));
                }
            }
            MachineEvent::Disconnect { nsp, reason } => {
                self.fail_acks(Some(&nsp));
                let Some(i) = self.sockets.iter().position(|s| *s.nsp() == nsp) else { return };
                let socket = self.sockets.swap_remove(i);
                let _span = socket.span().clone().entered();
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
        let Some(acks) = self.acks.as_mut() else { return };
        let keys: Vec<(ByteString, u64)> =
            acks.keys().filter(|(n, _)| nsp.is_none_or(|nsp| n == nsp)).cloned().collect();
        for key in keys {
            if let Some(awaited) = acks.remove(&key) {
                awaited.sink.complete(Err(AckError::Disconnected));
            }
        }
    }

    /// The ack awaited for `id` in `nsp`, no longer awaited.
    fn take_ack(&mut self, nsp: ByteString, id: u64) -> Option<Awaited> {
        self.acks.as_mut()?.remove(&(nsp, id))
    }

    // -----------------------------------------------------------------------------------------
    // Joining namespaces

    fn connect(&mut self, nsp: ByteString, auth: &RawJson, recovery: Option<Box<Recovery>>) {
        let auth: serde_json::Value = serde_json::from_str(auth.as_str())
            .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()));
        let server = self.server.clone();
        let joining = |ns: Arc<NsInner>, socket: Socket| Joining { ns, socket, engine: self.engine.clone() };
        match (server.namespace(&nsp), recovery, server.config.connection_state_recovery) {
            (Some(ns), Some(recovery), Some(options)) => {
                let socket = self.new_socket(&ns, auth.clone());
                tokio::spawn(joining(ns, socket).restore(*recovery, options.skip_middlewares, auth));
            }
            (Some(ns), _, _) if ns.handlers().middlewares.is_empty() => {
                let socket = self.new_socket(&ns, auth);
                self.accept(socket, Vec::new());
            }
            (Some(ns), _, _) => {
                let socket = self.new_socket(&ns, auth);
                self.sockets.push(socket.clone());
                tokio::spawn(joining(ns, socket).run_middlewares());
            }
            (None, _, _) if !server.has_parents() => {
                tracing::debug!(%nsp, "namespace connect refused: no such namespace");
                self.machine.reject_invalid_namespace(&nsp);
            }
            (None, _, _) => {
                let engine = self.engine.clone();
                let (id, _) = self.machine.socket_ids(&nsp, engine.id(), false, random_id);
                tokio::spawn(async move {
                    let request = NamespaceRequest::new(&nsp, &engine.handshake().uri(), &auth);
                    let refused = match server.resolve_dynamic(&nsp, &request).await {
                        Ok(Some(ns)) => {
                            let socket = Socket::new(id, None, ns.clone(), engine.clone(), auth);
                            return Joining { ns, socket, engine }.run_middlewares().await;
                        }
                        Ok(None) => Decision::InvalidNamespace,
                        Err(refusal) => Decision::Refuse(refusal),
                    };
                    let _ = engine.command(Command::Decided { nsp, decision: Box::new(refused) });
                });
            }
        }
    }

    fn new_socket(&self, ns: &Arc<NsInner>, auth: serde_json::Value) -> Socket {
        let recovery = ns.recovery().is_some();
        let (id, pid) = self.machine.socket_ids(&ns.name, self.engine.id(), recovery, random_id);
        Socket::new(id, pid, ns.clone(), self.engine.clone(), auth)
    }

    fn decided(&mut self, nsp: ByteString, decision: Decision) {
        self.sockets.retain(|s| *s.nsp() != nsp || s.connected());
        match decision {
            Decision::Accept(socket, rooms) => self.accept(socket, rooms),
            Decision::Restore(socket, restored, rooms) => self.restore(socket, restored, rooms),
            Decision::Refuse(error) => {
                tracing::debug!(%nsp, error = %error.message, "namespace connect refused by a middleware");
                let data = error.data.as_ref().and_then(|d| socketio_parser::RawJson::from_serialize(d).ok());
                self.machine.reject(&nsp, &error.message, data);
                // The machine drops the acks the refused socket awaited.
                self.fail_acks(Some(&nsp));
            }
            Decision::InvalidNamespace => {
                tracing::debug!(%nsp, "namespace connect refused: no such namespace");
                self.machine.reject_invalid_namespace(&nsp);
                self.fail_acks(Some(&nsp));
            }
        }
    }

    /// Admits `socket`: the client is told (`CONNECT`), the socket joins its own room and the
    /// rooms its middlewares joined, then the namespace's connection handlers run.
    fn accept(&mut self, socket: Socket, joined: Vec<Room>) {
        self.machine.accept(socket.nsp(), socket.id(), socket.pid().map(|p| &**p));
        if joined.is_empty() {
            // Its own room alone, the common case: no list to build.
            let own = socket.id().clone();
            return self.admit(socket, std::slice::from_ref(&own));
        }
        let rooms = own_room_first(socket.id(), joined);
        self.admit(socket, &rooms);
    }

    /// Admits the socket of a restored session: the machine writes the packets the client
    /// missed before the `CONNECT` answer, then the socket is admitted in the rooms it was in
    /// and those its middlewares joined.
    fn restore(&mut self, socket: Socket, restored: RestoredSession, joined: Vec<Room>) {
        let pid = socket.pid().map(|p| &**p).unwrap_or_default();
        self.machine.accept_restored(socket.nsp(), socket.id(), pid, restored.missed);
        let mut rooms = restored.session.rooms;
        rooms.extend(joined);
        let rooms = own_room_first(socket.id(), rooms);
        self.admit(socket, &rooms);
    }

    fn admit(&mut self, socket: Socket, rooms: &[Room]) {
        let ns = socket.0.ns.clone();
        if !self.machine.is_connected(&ns.name) {
            return;
        }
        // The `CONNECT` answer waits in the machine, which the session empties before it takes
        // anything the handlers send.
        socket.set_connected();
        let _span = socket.span().enter();
        tracing::debug!(recovered = socket.recovered(), "namespace connect");
        crate::metrics::socket_connected(&ns.sockets_gauge, &ns.name);
        ns.adapter.add_socket(socket.clone(), rooms);
        self.sockets.push(socket.clone());
        let handlers = ns.handlers().connection.clone();
        for handler in handlers.iter() {
            run_now_or_spawn(handler(socket.clone()));
        }
        socket.trim_listeners();
    }
}

/// The first bytes of an input, escaped, for a log line: at most [`Prefix::MAX`] bytes.
struct Prefix<'a>(&'a [u8]);

impl Prefix<'_> {
    const MAX: usize = 32;
}

impl std::fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = &self.0[..self.0.len().min(Self::MAX)];
        write!(f, "\"{}\"", shown.escape_ascii())?;
        if shown.len() < self.0.len() {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// `rooms` after the socket's own room, each once, in order.
fn own_room_first(id: &Sid, rooms: Vec<Room>) -> Vec<Room> {
    let mut all = Vec::with_capacity(rooms.len() + 1);
    all.push(id.clone());
    for room in rooms {
        if !all.contains(&room) {
            all.push(room);
        }
    }
    all
}

/// A fresh socket or private id: 20 characters from the CSPRNG.
fn random_id() -> Sid {
    ByteString::from(engineio_server::generate_id())
}

/// A socket on its way into a namespace, while async work decides (the adapter's session
/// store, the namespace's middlewares); the decision goes back to the connection's task.
struct Joining {
    ns: Arc<NsInner>,
    socket: Socket,
    engine: Arc<crate::client::Engine>,
}

impl Joining {
    /// Connection state recovery: asks the adapter for the session and the packets after the
    /// client's offset. A restored session skips the middlewares when `skip_middlewares`;
    /// otherwise they run for the restored socket. Without a session, the fresh socket joins
    /// as any new socket.
    async fn restore(self, recovery: Recovery, skip_middlewares: bool, auth: serde_json::Value) {
        let Some(restored) = self.ns.adapter.restore_session(&recovery.pid, &recovery.offset).await else {
            return self.run_middlewares().await;
        };
        let socket = Socket::recovered_from(&restored.session, self.ns.clone(), self.engine.clone(), auth);
        let decision = match skip_middlewares {
            true => Decision::Restore(socket, restored, Vec::new()),
            false => match self.ns.run_middlewares(&socket).await {
                Ok(rooms) => Decision::Restore(socket, restored, rooms),
                Err(error) => Decision::Refuse(error),
            },
        };
        let _ =
            self.engine.command(Command::Decided { nsp: self.ns.name.clone(), decision: Box::new(decision) });
    }

    /// Runs the namespace's middlewares for the socket, then reports the decision.
    async fn run_middlewares(self) {
        let decision = match self.ns.run_middlewares(&self.socket).await {
            Ok(rooms) => Decision::Accept(self.socket, rooms),
            Err(error) => Decision::Refuse(error),
        };
        let _ =
            self.engine.command(Command::Decided { nsp: self.ns.name.clone(), decision: Box::new(decision) });
    }
}

/// Logs and counts a Socket.IO packet handed to the Engine.IO session.
fn sent_packet(kind: socketio_parser::PacketType, nsp: Option<&ByteString>) {
    tracing::trace!(r#type = kind.name(), nsp = nsp.map(|n| &**n), "socket.io packet out");
    crate::metrics::packet(crate::metrics::Direction::Out, kind);
}
