//! Namespaces: static ones, and children of dynamic (parent) namespaces.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use bytestring::ByteString;
use serde::Serialize;
use socketio_adapter::{Adapter, AdapterError, BroadcastOptions, Room, RoomEvent, ServerSideAckError, Sid};
use socketio_parser::{AckIds, EncodedPacket, Payload};

use crate::config::ParserKind;
use crate::error::{BroadcastAckError, ConnectError, EmitError};
use crate::link::{Link, ServerAck, ServerSideHandler};
use crate::operators::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::run::HandlerFuture;
use crate::server::ServerInner;
use crate::socket::Socket;
use crate::AckResponse;

pub(crate) type ConnectMiddleware =
    Arc<dyn Fn(Socket) -> crate::BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> HandlerFuture + Send + Sync>;

/// The handlers a namespace runs for a new socket: shared by a dynamic namespace with the
/// children it creates.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub(crate) middlewares: Vec<ConnectMiddleware>,
    pub(crate) connection: Vec<ConnectionHandler>,
}

/// A namespace: its sockets, its rooms (in its adapter), its middlewares and connection
/// handlers. Cloning gives another handle on the same namespace.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NsInner>);

pub(crate) struct NsInner {
    pub(crate) name: ByteString,
    pub(crate) server: Weak<ServerInner>,
    pub(crate) parser: ParserKind,
    recovery: Option<crate::config::ConnectionStateRecovery>,
    pub(crate) adapter: Arc<dyn Adapter<Socket>>,
    handlers: RwLock<Handlers>,
    server_side: RwLock<Vec<(String, ServerSideHandler)>>,
    ack_ids: AckIds,
    /// The rooms joined by sockets whose connection middlewares are running, which are not in
    /// the adapter yet: they join them when admitted.
    pending_rooms: Mutex<Vec<(Sid, Vec<Room>)>>,
    /// The dynamic namespace that created this one.
    pub(crate) parent: Option<Weak<ParentInner>>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("name", &self.0.name).finish_non_exhaustive()
    }
}

impl NsInner {
    pub(crate) fn new(
        name: ByteString,
        server: &Arc<ServerInner>,
        handlers: Handlers,
        parent: Option<Weak<ParentInner>>,
    ) -> Arc<Self> {
        let ns = Arc::new(NsInner {
            adapter: server.new_adapter(&name),
            name,
            server: Arc::downgrade(server),
            parser: server.config.parser,
            recovery: server.config.connection_state_recovery,
            handlers: RwLock::new(handlers),
            server_side: RwLock::new(Vec::new()),
            ack_ids: AckIds::new(),
            pending_rooms: Mutex::new(Vec::new()),
            parent,
        });
        ns.adapter.init(Arc::new(Link { ns: Arc::downgrade(&ns), name: ns.name.to_string() }));
        ns
    }

    /// Whether connection state recovery is on.
    pub(crate) fn recovery(&self) -> Option<crate::config::ConnectionStateRecovery> {
        self.recovery
    }

    /// Sends an event without ack to the sockets `opts` reach through the adapter: with the
    /// next offset appended when the adapter keeps packets for connection state recovery and
    /// the packet is not volatile.
    pub(crate) fn broadcast_event(&self, payload: Payload, opts: &BroadcastOptions) {
        let parser = self.parser.connection_parser();
        if !opts.flags.volatile {
            if let Some(offset) = self.adapter.next_offset() {
                if let Some(encoded) = EncodedPacket::recoverable_event(parser, &self.name, &payload, &offset)
                {
                    self.adapter.broadcast_recoverable(offset, encoded.packet(), &encoded, opts);
                    return;
                }
            }
        }
        let encoded = EncodedPacket::event(parser, &self.name, payload, None);
        self.adapter.broadcast(encoded.packet(), &encoded, opts);
    }

    /// The handlers of server-side event `event`.
    pub(crate) fn server_side_handlers(&self, event: &str) -> Vec<ServerSideHandler> {
        let handlers = self.server_side.read().unwrap_or_else(|e| e.into_inner());
        handlers.iter().filter(|(name, _)| name == event).map(|(_, h)| h.clone()).collect()
    }

    /// Runs the namespace's connection middlewares for `socket`, in order, until one refuses.
    /// On success, the rooms the middlewares made the socket join (and did not leave), in
    /// join order, which it joins when admitted.
    pub(crate) async fn run_middlewares(&self, socket: &Socket) -> Result<Vec<Room>, ConnectError> {
        /// Forgets the socket's pending rooms however the middlewares end.
        struct Pending<'a>(&'a NsInner, &'a Sid);
        impl Drop for Pending<'_> {
            fn drop(&mut self) {
                self.0.pending().retain(|(sid, _)| sid != self.1);
            }
        }
        let middlewares = self.handlers().middlewares.clone();
        self.pending().push((socket.id().clone(), Vec::new()));
        let pending = Pending(self, socket.id());
        for middleware in middlewares {
            middleware(socket.clone()).await?;
        }
        let rooms = self.with_pending(socket.id(), std::mem::take).unwrap_or_default();
        drop(pending);
        Ok(rooms)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(Sid, Vec<Room>)>> {
        self.pending_rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the rooms of `sid` while its middlewares run; `None` when they do not.
    pub(crate) fn with_pending<R>(&self, sid: &Sid, f: impl FnOnce(&mut Vec<Room>) -> R) -> Option<R> {
        let mut pending = self.pending();
        pending.iter_mut().find(|(id, _)| id == sid).map(|(_, rooms)| f(rooms))
    }

    pub(crate) fn handlers(&self) -> RwLockReadGuard<'_, Handlers> {
        self.handlers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn handlers_mut(&self) -> RwLockWriteGuard<'_, Handlers> {
        self.handlers.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The next ack id: one counter per namespace, as in the reference, so that a broadcast
    /// with acks uses one id for every recipient.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids.next_id()
    }

    /// A socket left: it leaves its rooms, and an empty child namespace may be removed.
    pub(crate) fn remove_socket(self: &Arc<Self>, sid: &Sid) {
        self.adapter.del_all(sid);
        if self.adapter.local_count() > 0 {
            return;
        }
        let (Some(server), Some(parent)) =
            (self.server.upgrade(), self.parent.as_ref().and_then(Weak::upgrade))
        else {
            return;
        };
        if server.config.cleanup_empty_child_namespaces {
            server.remove_child(&parent, self);
        }
    }
}

impl Namespace {
    /// The namespace's name (`/`, `/admin`, ...).
    pub fn name(&self) -> &ByteString {
        &self.0.name
    }

    /// Adds a connection middleware (the reference's `namespace.use`): middlewares run in
    /// order for every socket that asks to join; the first `Err` refuses it, and the client
    /// receives the error's message and data in its `connect_error`.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.0.handlers_mut().middlewares.push(Arc::new(move |s| Box::pin(middleware(s))));
    }

    /// Calls `handler` for every socket that joins (the reference's `connection` event),
    /// after the client was told it joined. Handlers for the socket's events registered
    /// before the handler first waits are in place for the client's first packet.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.handlers_mut().connection.push(Arc::new(move |s| Box::pin(handler(s))));
    }

    /// Calls `handler` for every server-side event `event` that another node sends with
    /// [`server_side_emit`](Self::server_side_emit) (or a Node.js node with
    /// `serverSideEmit`): the reference's `namespace.on(event, ...)` for events between
    /// servers. `handler` gets the event's arguments and, when the sender waits for answers,
    /// the [`ServerAck`] to answer with.
    pub fn on_server_side_emit<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Vec<serde_json::Value>, Option<ServerAck>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ServerSideHandler = Arc::new(move |args, ack| Box::pin(handler(args, ack)));
        self.0.server_side.write().unwrap_or_else(|e| e.into_inner()).push((event.to_owned(), handler));
    }

    /// Calls `listener` for every room event (`create-room`, `join-room`, `leave-room`,
    /// `delete-room`) of the namespace's adapter.
    pub fn on_room_event(&self, listener: impl Fn(&RoomEvent<Sid>) + Send + Sync + 'static) {
        self.0.adapter.on_room_event(Arc::new(listener));
    }

    /// The namespace's sockets on this node.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.adapter.local_sockets(&socketio_adapter::BroadcastOptions::all())
    }

    /// The socket `id` of this node.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.0.adapter.local_socket(id)
    }

    /// The rooms of this node.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.adapter.local_rooms()
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<dyn Adapter<Socket>> {
        &self.0.adapter
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.clone())
    }

    /// A broadcast to `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// A broadcast to every socket but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// A broadcast to this node's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// A broadcast that skips clients whose transport cannot take it now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// A broadcast with the `compress` flag set.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.operator().compress(compress)
    }

    /// A broadcast whose acknowledgements are awaited for `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Sends `event` to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.operator().emit(event, args)
    }

    /// Sends `event` to every socket and collects their acknowledgements.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> crate::BoxFuture<'static, Result<Vec<AckResponse>, BroadcastAckError>> {
        self.operator().emit_with_ack(event, args)
    }

    /// Every socket of the namespace, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.operator().fetch_sockets().await
    }

    /// Makes every socket join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.operator().sockets_join(rooms)
    }

    /// Makes every socket leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.operator().sockets_leave(rooms)
    }

    /// Disconnects every socket.
    pub fn disconnect_sockets(&self, close: bool) {
        self.operator().disconnect_sockets(close)
    }

    /// Sends `event` to the server-side handlers of the other nodes. Resolves to the number
    /// of other nodes reached: 0 on a single node, where it reaches no one.
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<usize, AdapterError> {
        let args = server_side_args(event, args)?;
        self.0.adapter.server_side_emit(args).await
    }

    /// Sends `event` to the other nodes and collects one answer per node within `timeout`.
    /// On a single node it reaches no one and resolves to no answer. When `timeout` fires
    /// first, [`ServerSideAckError::Timeout`] holds the answers that did arrive (the reference's
    /// callback form gets them with its error).
    pub async fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, ServerSideAckError> {
        let args = server_side_args(event, args)?;
        self.0.adapter.server_side_emit_with_ack(args, timeout).await
    }
}

/// `[event, ...args]` as JSON, refusing the names the reference reserves for server-side
/// events.
fn server_side_args<T: Serialize + ?Sized>(event: &str, args: &T) -> Result<serde_json::Value, AdapterError> {
    if matches!(event, "connect" | "connection" | "new_namespace")
        || socketio_parser::RESERVED_EVENTS.contains(&event)
    {
        return Err(AdapterError::Unsupported("reserved event name"));
    }
    socketio_parser::args::event_json(event, args).map_err(|e| AdapterError::Transport(e.0))
}

pub(crate) type Predicate =
    Arc<dyn Fn(&str, &serde_json::Value) -> crate::BoxFuture<'static, bool> + Send + Sync>;

/// Decides whether a dynamic namespace accepts a name.
pub(crate) enum Matcher {
    Pattern(regex::Regex),
    Predicate(Predicate),
}

/// A dynamic namespace: it creates child namespaces on demand for the names it accepts.
/// Middlewares and connection handlers added to it apply to the children it creates from then
/// on, as in the reference.
#[derive(Clone)]
pub struct ParentNamespace(pub(crate) Arc<ParentInner>);

pub(crate) struct ParentInner {
    pub(crate) matcher: Matcher,
    pub(crate) handlers: RwLock<Handlers>,
    pub(crate) children: RwLock<HashMap<ByteString, Namespace>>,
}

impl fmt::Debug for ParentNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0.matcher {
            Matcher::Pattern(re) => re.as_str().to_owned(),
            Matcher::Predicate(_) => "<predicate>".to_owned(),
        };
        f.debug_struct("ParentNamespace").field("matcher", &kind).finish_non_exhaustive()
    }
}

impl ParentInner {
    pub(crate) fn new(matcher: Matcher) -> Self {
        ParentInner { matcher, handlers: RwLock::default(), children: RwLock::default() }
    }

    pub(crate) async fn accepts(&self, name: &str, auth: &serde_json::Value) -> bool {
        match &self.matcher {
            Matcher::Pattern(re) => re.is_match(name),
            Matcher::Predicate(f) => f(name, auth).await,
        }
    }

    pub(crate) fn handlers(&self) -> Handlers {
        self.handlers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn children(&self) -> RwLockWriteGuard<'_, HashMap<ByteString, Namespace>> {
        self.children.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl ParentNamespace {
    /// Adds a connection middleware for the children created from now on.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let mw: ConnectMiddleware = Arc::new(move |s| Box::pin(middleware(s)));
        self.0.handlers.write().unwrap_or_else(|e| e.into_inner()).middlewares.push(mw);
    }

    /// Adds a connection handler for the children created from now on.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: ConnectionHandler = Arc::new(move |s| Box::pin(handler(s)));
        self.0.handlers.write().unwrap_or_else(|e| e.into_inner()).connection.push(h);
    }

    /// The child namespaces that exist now.
    pub fn children(&self) -> Vec<Namespace> {
        self.0.children.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Sends `event` to every socket of every child namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        for child in self.children() {
            child.emit(event, args)?;
        }
        Ok(())
    }
}
