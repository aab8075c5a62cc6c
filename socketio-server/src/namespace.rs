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
    /// Shared, not copied, by every connect that runs them: replaced whole when one is added.
    pub(crate) connection: Arc<[ConnectionHandler]>,
}

impl Handlers {
    /// Adds a connection handler, first or last.
    pub(crate) fn add_connection(&mut self, handler: ConnectionHandler, first: bool) {
        let mut all = self.connection.to_vec();
        all.insert(if first { 0 } else { all.len() }, handler);
        self.connection = all.into();
    }
}

/// A namespace: its sockets, its rooms (in its adapter), its middlewares and connection
/// handlers. Cloning gives another handle on the same namespace.
///
/// ```no_run
/// use socketio_server::{Config, ConnectError, SocketIo};
///
/// # fn setup(io: SocketIo) {
/// let chat = io.of("/chat");
/// chat.use_middleware(|socket| async move {
///     if socket.handshake().query_param("nick").is_some() {
///         Ok(())
///     } else {
///         Err(ConnectError::new("a nick is needed"))
///     }
/// });
/// chat.on_connection(|socket| async move {
///     socket.on("say", |socket, event| async move {
///         let text: String = event.arg().unwrap_or_default();
///         // Every socket of `/chat`, this one included.
///         socket.namespace().emit("said", &(socket.id(), text)).ok();
///     });
/// });
/// // From outside a handler: the sockets of this node, and a broadcast.
/// println!("{} in /chat", chat.sockets().len());
/// chat.to("moderators").emit("report", "all quiet").ok();
/// # }
/// ```
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
    /// The namespace's `socketio_sockets` gauge.
    pub(crate) sockets_gauge: crate::metrics::NamespaceGauge,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("name", &self.0.name).finish_non_exhaustive()
    }
}

/// A handle on a namespace that does not keep it alive ([`Namespace::downgrade`]): for code
/// that observes namespaces without owning them, as the Admin UI does.
#[derive(Clone)]
pub struct WeakNamespace(Weak<NsInner>);

impl fmt::Debug for WeakNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakNamespace").finish_non_exhaustive()
    }
}

impl WeakNamespace {
    /// The namespace, unless it is gone (removed, or its server dropped).
    pub fn upgrade(&self) -> Option<Namespace> {
        self.0.upgrade().map(Namespace)
    }

    /// Whether both handles are on the same namespace.
    pub fn ptr_eq(&self, other: &WeakNamespace) -> bool {
        self.0.ptr_eq(&other.0)
    }

    /// Whether the namespace still exists.
    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
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
            sockets_gauge: crate::metrics::NamespaceGauge::new(),
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

    /// A handle on this namespace that does not keep it alive.
    pub fn downgrade(&self) -> WeakNamespace {
        WeakNamespace(Arc::downgrade(&self.0))
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
        self.0.handlers_mut().add_connection(Arc::new(move |s| Box::pin(handler(s))), false);
    }

    /// Like [`on_connection`](Self::on_connection), but `handler` runs before the connection
    /// handlers already added (the reference's `namespace.prependListener("connection", ...)`):
    /// an observer sees every socket before the application's handlers act on it.
    pub fn prepend_on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.handlers_mut().add_connection(Arc::new(move |s| Box::pin(handler(s))), true);
    }

    /// Like [`on_connection`](Self::on_connection), with `state` handed to every call of
    /// `handler` (a clone per connection).
    pub fn on_connection_with<S, F, Fut>(&self, state: S, handler: F)
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_connection(move |socket| handler(state.clone(), socket));
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

    /// The ids of every socket of the namespace, on every node (the reference's
    /// `allSockets()`).
    pub async fn all_sockets(&self) -> Result<Vec<Sid>, AdapterError> {
        self.operator().all_sockets().await
    }

    /// Sends a `message` event with `args` to every socket of the namespace.
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        self.operator().send(args)
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
    Arc<dyn Fn(NamespaceRequest) -> crate::BoxFuture<'static, Result<bool, ConnectError>> + Send + Sync>;

/// A client's request for a namespace that does not exist yet, as a dynamic namespace's
/// predicate sees it ([`SocketIo::of_dynamic`](crate::SocketIo::of_dynamic)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NamespaceRequest {
    /// The namespace's name (`/orders-42`).
    pub name: String,
    /// The query string of the connection's handshake, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `auth` payload of the client's `CONNECT` (an empty object when none was sent).
    pub auth: serde_json::Value,
}

impl NamespaceRequest {
    pub(crate) fn new(name: &str, uri: &http::Uri, auth: &serde_json::Value) -> Self {
        NamespaceRequest {
            name: name.to_owned(),
            query: engineio_parser::endpoint::parse_query(uri.query().unwrap_or("")),
            auth: auth.clone(),
        }
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

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

    /// Whether this parent takes the namespace `request` asks for; a predicate's error refuses
    /// the connection to it.
    pub(crate) async fn accepts(&self, request: &NamespaceRequest) -> Result<bool, ConnectError> {
        match &self.matcher {
            Matcher::Pattern(re) => Ok(re.is_match(&request.name)),
            Matcher::Predicate(f) => f(request.clone()).await,
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
        self.0.handlers.write().unwrap_or_else(|e| e.into_inner()).add_connection(h, false);
    }

    /// The child namespaces that exist now.
    pub fn children(&self) -> Vec<Namespace> {
        self.0.children.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Sends `event` to every socket of every child namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, args)
    }

    /// A broadcast to the sockets of every child namespace (those that exist when it runs).
    pub fn broadcast(&self) -> ParentBroadcastOperator {
        ParentBroadcastOperator { parent: self.clone(), modifiers: Vec::new() }
    }

    /// A broadcast to `rooms` of every child namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> ParentBroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> ParentBroadcastOperator {
        self.to(rooms)
    }

    /// A broadcast to every socket of every child namespace but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> ParentBroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// A broadcast to the sockets of this node only.
    pub fn local(&self) -> ParentBroadcastOperator {
        self.broadcast().local()
    }

    /// The sockets of every child namespace, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.broadcast().fetch_sockets().await
    }

    /// Makes the sockets of every child namespace join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.broadcast().sockets_join(rooms);
    }

    /// Makes the sockets of every child namespace leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.broadcast().sockets_leave(rooms);
    }

    /// Disconnects the sockets of every child namespace (with `close`, their connections).
    pub fn disconnect_sockets(&self, close: bool) {
        self.broadcast().disconnect_sockets(close);
    }
}

/// A broadcast across the children of a dynamic namespace: the reference's operators on
/// `io.of(/regex/)`. Each modifier applies to every child; the children are those that exist
/// when the operation runs.
#[derive(Clone)]
#[must_use]
pub struct ParentBroadcastOperator {
    parent: ParentNamespace,
    modifiers: Vec<Modifier>,
}

#[derive(Clone)]
enum Modifier {
    To(Vec<Room>),
    Except(Vec<Room>),
    Local,
    Volatile,
    Compress(bool),
}

impl fmt::Debug for ParentBroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParentBroadcastOperator").field("parent", &self.parent).finish_non_exhaustive()
    }
}

impl ParentBroadcastOperator {
    fn with(mut self, modifier: Modifier) -> Self {
        self.modifiers.push(modifier);
        self
    }

    /// Only the sockets in `rooms` (added to the rooms already named).
    pub fn to(self, rooms: impl IntoRooms) -> Self {
        self.with(Modifier::To(rooms.into_rooms()))
    }

    /// Same as [`to`](Self::to).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Not the sockets in `rooms`.
    pub fn except(self, rooms: impl IntoRooms) -> Self {
        self.with(Modifier::Except(rooms.into_rooms()))
    }

    /// The sockets of this node only.
    pub fn local(self) -> Self {
        self.with(Modifier::Local)
    }

    /// Dropped for a client whose transport cannot take it right now.
    pub fn volatile(self) -> Self {
        self.with(Modifier::Volatile)
    }

    /// Sets the `compress` flag.
    pub fn compress(self, compress: bool) -> Self {
        self.with(Modifier::Compress(compress))
    }

    /// The operator of each child namespace, with the modifiers applied.
    fn per_child(&self) -> impl Iterator<Item = BroadcastOperator> + '_ {
        self.parent.children().into_iter().map(|child| {
            self.modifiers.iter().fold(BroadcastOperator::new(child.0), |op, modifier| match modifier {
                Modifier::To(rooms) => op.to(rooms.clone()),
                Modifier::Except(rooms) => op.except(rooms.clone()),
                Modifier::Local => op.local(),
                Modifier::Volatile => op.volatile(),
                Modifier::Compress(compress) => op.compress(*compress),
            })
        })
    }

    /// Sends `event` with `args` to the sockets reached in every child namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.per_child().try_for_each(|op| op.emit(event, args))
    }

    /// The sockets reached, in every child namespace, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let mut sockets = Vec::new();
        for op in self.per_child().collect::<Vec<_>>() {
            sockets.extend(op.fetch_sockets().await?);
        }
        Ok(sockets)
    }

    /// Makes the sockets reached join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        self.per_child().for_each(|op| op.sockets_join(rooms.clone()));
    }

    /// Makes the sockets reached leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        self.per_child().for_each(|op| op.sockets_leave(rooms.clone()));
    }

    /// Disconnects the sockets reached (with `close`, their connections).
    pub fn disconnect_sockets(&self, close: bool) {
        self.per_child().for_each(|op| op.disconnect_sockets(close));
    }
}
