//! The server: namespaces, the Engine.IO server under them, and shutdown.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bytestring::ByteString;
use engineio_parser::{CloseReason, Data};
use engineio_server::{EngineIo, EngineIoLayer, Handler, Outbox};
use serde::Serialize;
use socketio_adapter::{Adapter, AdapterError, MemoryAdapter};

use crate::client::{Client, ClientCommand, Command, PostCommand};
use crate::client_files;
use crate::config::Config;
use crate::error::{BroadcastAckError, ConnectError, EmitError};
use crate::namespace::{
    Handlers, Matcher, Namespace, NamespaceRequest, NsInner, ParentInner, ParentNamespace,
};
use crate::operators::{BroadcastOperator, IntoRooms, RemoteSocket};
use crate::socket::Socket;
use crate::{AckResponse, BoxFuture};
use engineio_server::ConfigError;

/// Creates the adapter of each namespace (by name).
pub type AdapterFactory = Arc<dyn Fn(&ByteString) -> Arc<dyn Adapter<Socket>> + Send + Sync>;

type NewNamespaceHook = Arc<dyn Fn(&Namespace) + Send + Sync>;
pub(crate) type EngineConnectionHook = Arc<dyn Fn(&crate::Conn) + Send + Sync>;

pub(crate) struct ServerInner {
    pub(crate) config: Config,
    namespaces: RwLock<HashMap<ByteString, Namespace>>,
    parents: RwLock<Vec<Arc<ParentInner>>>,
    adapter: AdapterFactory,
    new_namespace: RwLock<Vec<NewNamespaceHook>>,
    engine_connection: RwLock<Vec<EngineConnectionHook>>,
}

impl ServerInner {
    /// The hooks of [`SocketIo::on_engine_connection`].
    pub(crate) fn engine_connection_hooks(&self) -> Vec<EngineConnectionHook> {
        let hooks = self.engine_connection.read().unwrap_or_else(|e| e.into_inner());
        if hooks.is_empty() {
            return Vec::new();
        }
        hooks.clone()
    }

    fn namespaces(&self) -> RwLockReadGuard<'_, HashMap<ByteString, Namespace>> {
        self.namespaces.read().unwrap_or_else(|e| e.into_inner())
    }

    fn namespaces_mut(&self) -> RwLockWriteGuard<'_, HashMap<ByteString, Namespace>> {
        self.namespaces.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn new_adapter(&self, name: &ByteString) -> Arc<dyn Adapter<Socket>> {
        (self.adapter)(name)
    }

    pub(crate) fn namespace(&self, name: &str) -> Option<Arc<NsInner>> {
        self.namespaces().get(name).map(|ns| ns.0.clone())
    }

    pub(crate) fn has_parents(&self) -> bool {
        !self.parents.read().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// The child namespace `name` of the first dynamic namespace that accepts it, created if
    /// needed.
    pub(crate) async fn resolve_dynamic(
        self: &Arc<Self>,
        name: &ByteString,
        request: &NamespaceRequest,
    ) -> Result<Option<Arc<NsInner>>, ConnectError> {
        let parents: Vec<Arc<ParentInner>> = self.parents.read().unwrap_or_else(|e| e.into_inner()).clone();
        for parent in parents {
            if !parent.accepts(request).await? {
                continue;
            }
            let (ns, created) = {
                let mut namespaces = self.namespaces_mut();
                if let Some(ns) = namespaces.get(name) {
                    (ns.clone(), false)
                } else {
                    let ns = Namespace(NsInner::new(
                        name.clone(),
                        self,
                        parent.handlers(),
                        Some(Arc::downgrade(&parent)),
                    ));
                    namespaces.insert(name.clone(), ns.clone());
                    parent.children().insert(name.clone(), ns.clone());
                    (ns, true)
                }
            };
            if created {
                self.announce(&ns);
            }
            return Ok(Some(ns.0));
        }
        Ok(None)
    }

    /// Removes an empty child namespace (`cleanup_empty_child_namespaces`).
    pub(crate) fn remove_child(&self, parent: &ParentInner, ns: &Arc<NsInner>) {
        let removed = {
            let mut namespaces = self.namespaces_mut();
            match namespaces.get(&ns.name) {
                Some(current) if Arc::ptr_eq(&current.0, ns) && ns.adapter.local_count() == 0 => {
                    namespaces.remove(&ns.name);
                    parent.children().remove(&ns.name);
                    true
                }
                _ => false,
            }
        };
        if removed {
            let adapter = ns.adapter.clone();
            tokio::spawn(async move { adapter.close().await });
        }
    }

    fn announce(&self, ns: &Namespace) {
        let hooks = self.new_namespace.read().unwrap_or_else(|e| e.into_inner()).clone();
        for hook in hooks {
            hook(ns);
        }
    }
}

/// The Engine.IO handler of the Socket.IO server: per connection, the Socket.IO connection
/// machine and the sockets of the namespaces the client joined.
pub struct SocketIoHandler {
    inner: Arc<ServerInner>,
}

impl fmt::Debug for SocketIoHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoHandler").finish_non_exhaustive()
    }
}

/// The per-connection state the Engine.IO server keeps for the Socket.IO server.
pub struct ClientState(Client);

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState").finish_non_exhaustive()
    }
}

impl Handler for SocketIoHandler {
    type Connection = ClientState;
    type Command = ClientCommand;

    fn on_connection(&self, socket: Arc<crate::client::Engine>) -> ClientState {
        ClientState(Client::new(self.inner.clone(), socket))
    }

    fn on_message(&self, client: &mut ClientState, data: Data) {
        client.0.on_message(data);
    }

    fn on_upgrade(&self, client: &mut ClientState) {
        client.0.on_upgrade();
    }

    fn on_close(&self, client: ClientState, reason: CloseReason) {
        client.0.on_close(reason, "");
    }

    fn on_close_with_description(&self, client: ClientState, reason: CloseReason, description: &'static str) {
        client.0.on_close(reason, description);
    }

    fn on_packet(&self, client: &mut ClientState, packet: &engineio_parser::Packet) {
        if let Some(hooks) = client.0.conn_hooks() {
            hooks.packet(packet);
        }
    }

    fn on_packet_create(&self, client: &mut ClientState, packet: &engineio_parser::Packet) {
        if let Some(hooks) = client.0.conn_hooks() {
            hooks.packet_create(packet);
        }
    }

    fn on_drain(&self, client: &mut ClientState) {
        if let Some(hooks) = client.0.conn_hooks() {
            hooks.drained();
        }
    }

    fn poll_timeout(&self, client: &mut ClientState) -> Option<std::time::Instant> {
        client.0.poll_timeout()
    }

    fn on_timeout(&self, client: &mut ClientState, now: std::time::Instant) {
        client.0.on_timeout(now);
    }

    fn on_command(&self, client: &mut ClientState, command: ClientCommand) {
        client.0.on_command(command.0);
    }

    fn flush(&self, client: &mut ClientState, outbox: &mut Outbox<'_>) {
        client.0.flush(outbox);
    }
}

/// Builds a [`SocketIo`] server with a custom adapter or Engine.IO hooks.
#[must_use]
pub struct Builder {
    config: Config,
    adapter: AdapterFactory,
    engine: Box<dyn FnOnce(engineio_server::Builder) -> engineio_server::Builder>,
}

impl Builder {
    /// A builder with `config` and the in-memory adapter.
    pub fn new(config: Config) -> Self {
        let recovery = config.connection_state_recovery.map(|r| r.adapter_options());
        Builder {
            config,
            adapter: Arc::new(move |_: &ByteString| match recovery {
                Some(options) => {
                    Arc::new(MemoryAdapter::<Socket>::with_recovery(options, crate::clock::adapter_clock()))
                        as Arc<dyn Adapter<Socket>>
                }
                None => Arc::new(MemoryAdapter::<Socket>::new()) as Arc<dyn Adapter<Socket>>,
            }),
            engine: Box::new(|b| b),
        }
    }

    /// Uses `factory` to create each namespace's adapter.
    pub fn adapter(
        mut self,
        factory: impl Fn(&ByteString) -> Arc<dyn Adapter<Socket>> + Send + Sync + 'static,
    ) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// Configures the Engine.IO server's hooks (`allow_request`, `headers`, ...).
    pub fn engine(
        mut self,
        configure: impl FnOnce(engineio_server::Builder) -> engineio_server::Builder + 'static,
    ) -> Self {
        self.engine = Box::new(configure);
        self
    }

    /// The server, with the main namespace `/` created.
    ///
    /// # Panics
    ///
    /// When an option cannot work ([`Config::validate`]), with the message of the
    /// [`ConfigError`]; [`try_build`](Self::try_build) returns it instead.
    pub fn build(self) -> SocketIo {
        match self.try_build() {
            Ok(io) => io,
            Err(error) => panic!("{error}"),
        }
    }

    /// The server, with the main namespace `/` created, or every option that cannot work
    /// ([`Config::validate`]).
    pub fn try_build(self) -> Result<SocketIo, ConfigError> {
        self.config.validate()?;
        let inner = Arc::new(ServerInner {
            config: self.config,
            namespaces: RwLock::new(HashMap::new()),
            parents: RwLock::new(Vec::new()),
            adapter: self.adapter,
            new_namespace: RwLock::new(Vec::new()),
            engine_connection: RwLock::new(Vec::new()),
        });
        let engine_config = inner.config.engine.clone();
        if engine_config.initial_packet.is_some() {
            tracing::warn!(
                "engine.initial_packet is set: Socket.IO clients read that message as a Socket.IO packet and fail"
            );
        }
        let mut engine = (self.engine)(engineio_server::Builder::new(engine_config.clone()));
        if let Some(files) = client_files::setup(&inner.config.serve_client, &engine_config.normalized_path())
        {
            engine = engine.intercept(move |parts| files.answer(parts));
        }
        let engine = engine.try_build(SocketIoHandler { inner: inner.clone() })?;
        let io = SocketIo { inner, engine };
        io.of("/");
        Ok(io)
    }
}

/// A Socket.IO server. Cloning gives another handle on the same server.
///
/// Methods that broadcast (`emit`, `to`, `fetch_sockets`, ...) act on the main namespace `/`,
/// as the reference's `io.emit` does.
///
/// ```no_run
/// use socketio_server::{Config, SocketIo};
///
/// # async fn run() -> std::io::Result<()> {
/// let io = SocketIo::new(Config::default());
/// io.on_connection(|socket| async move {
///     socket.join("lobby");
/// });
/// // Clones are handles on the same server: hand one to another task.
/// let ticker = io.clone();
/// tokio::spawn(async move {
///     let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
///     loop {
///         every.tick().await;
///         ticker.to("lobby").emit("tick", &()).ok();
///     }
/// });
/// // `/` is the main namespace; `io.of(..)` reaches the others.
/// io.of("/admin").on_connection(|socket| async move {
///     socket.emit("hello", "admin").ok();
/// });
/// io.listen("127.0.0.1:3000").await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<ServerInner>,
    engine: EngineIo<SocketIoHandler>,
}

/// A handle on a [`SocketIo`] that does not keep the server alive (see
/// [`SocketIo::downgrade`]).
#[derive(Clone)]
pub struct WeakSocketIo {
    inner: std::sync::Weak<ServerInner>,
    engine: engineio_server::WeakEngineIo<SocketIoHandler>,
}

impl fmt::Debug for WeakSocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSocketIo").finish_non_exhaustive()
    }
}

impl WeakSocketIo {
    /// The server, unless every [`SocketIo`] handle on it (and every session) is gone.
    pub fn upgrade(&self) -> Option<SocketIo> {
        Some(SocketIo { inner: self.inner.upgrade()?, engine: self.engine.upgrade()? })
    }
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo").field("path", &self.inner.config.engine.path).finish_non_exhaustive()
    }
}

impl SocketIo {
    /// A server with `config` and the in-memory adapter.
    ///
    /// # Panics
    ///
    /// When an option cannot work ([`Config::validate`]); [`try_new`](Self::try_new) returns
    /// the [`ConfigError`] instead.
    pub fn new(config: Config) -> Self {
        Builder::new(config).build()
    }

    /// A server with `config` and the in-memory adapter, or every option that cannot work.
    pub fn try_new(config: Config) -> Result<Self, ConfigError> {
        Builder::new(config).try_build()
    }

    /// A builder, for a custom adapter or Engine.IO hooks.
    pub fn builder(config: Config) -> Builder {
        Builder::new(config)
    }

    /// A handle that does not keep the server alive: for a task that observes the server
    /// without owning it (and would otherwise keep it forever), or a handler stored in the
    /// server itself.
    pub fn downgrade(&self) -> WeakSocketIo {
        WeakSocketIo { inner: Arc::downgrade(&self.inner), engine: self.engine.downgrade() }
    }

    /// The options.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The Engine.IO server underneath.
    pub fn engine(&self) -> &EngineIo<SocketIoHandler> {
        &self.engine
    }

    /// The namespace `name` (`/` prefixed if missing), created if it does not exist.
    pub fn of(&self, name: &str) -> Namespace {
        let name: ByteString =
            if name.starts_with('/') { ByteString::from(name) } else { ByteString::from(format!("/{name}")) };
        let (ns, created) = {
            let mut namespaces = self.inner.namespaces_mut();
            match namespaces.get(&name) {
                Some(ns) => (ns.clone(), false),
                None => {
                    let ns = Namespace(NsInner::new(name.clone(), &self.inner, Handlers::default(), None));
                    namespaces.insert(name, ns.clone());
                    (ns, true)
                }
            }
        };
        if created {
            self.inner.announce(&ns);
        }
        ns
    }

    /// A dynamic namespace: a child namespace is created for every name `pattern` matches
    /// (the reference's `io.of(/regex/)`).
    pub fn of_pattern(&self, pattern: regex::Regex) -> ParentNamespace {
        self.add_parent(Matcher::Pattern(pattern))
    }

    /// A dynamic namespace: a child namespace is created for every name `accept` agrees to
    /// (the reference's `io.of((name, auth, next) => ...)`). `accept` sees the name, the
    /// handshake's query and the client's `auth`. `Ok(false)` leaves the name to the next
    /// dynamic namespace (the client gets `Invalid namespace` when none takes it); an error
    /// refuses the client's connection to it with that message and data, as a middleware's
    /// refusal does.
    ///
    /// ```no_run
    /// # fn f(io: socketio_server::SocketIo) {
    /// use socketio_server::ConnectError;
    ///
    /// let orders = io.of_dynamic(|request| async move {
    ///     if !request.name.starts_with("/orders-") {
    ///         return Ok(false);
    ///     }
    ///     match request.auth["token"].as_str() {
    ///         Some(_) => Ok(true),
    ///         None => Err(ConnectError::new("a token is needed")),
    ///     }
    /// });
    /// orders.on_connection(|socket| async move {
    ///     socket.emit("welcome", &socket.nsp().to_string()).ok();
    /// });
    /// # }
    /// ```
    pub fn of_dynamic<F, Fut>(&self, accept: F) -> ParentNamespace
    where
        F: Fn(NamespaceRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, ConnectError>> + Send + 'static,
    {
        self.add_parent(Matcher::Predicate(Arc::new(move |request| Box::pin(accept(request)))))
    }

    fn add_parent(&self, matcher: Matcher) -> ParentNamespace {
        let parent = Arc::new(ParentInner::new(matcher));
        self.inner.parents.write().unwrap_or_else(|e| e.into_inner()).push(parent.clone());
        ParentNamespace(parent)
    }

    /// Calls `hook` for every namespace created from now on (the reference's `new_namespace`).
    pub fn on_new_namespace(&self, hook: impl Fn(&Namespace) + Send + Sync + 'static) {
        self.inner.new_namespace.write().unwrap_or_else(|e| e.into_inner()).push(Arc::new(hook));
    }

    /// Calls `hook` with every Engine.IO connection opened from now on, before any of its
    /// Socket.IO packets is handled, including connections that never join a namespace (the
    /// reference's `io.engine.on("connection", ...)`). The hook typically registers
    /// [`Conn`](crate::Conn) hooks (`on_packet`, `on_packet_create`, `on_upgrade`,
    /// `on_close`): they are in place before the connection's first packet from the client.
    /// It runs on the connection's task and must not block.
    ///
    /// ```no_run
    /// # fn f(io: socketio_server::SocketIo) {
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let packets_in = Arc::new(AtomicU64::new(0));
    /// io.on_engine_connection(move |conn| {
    ///     let packets_in = packets_in.clone();
    ///     conn.on_packet(move |_conn, _packet| {
    ///         packets_in.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// });
    /// # }
    /// ```
    pub fn on_engine_connection(&self, hook: impl Fn(&crate::Conn) + Send + Sync + 'static) {
        self.inner.engine_connection.write().unwrap_or_else(|e| e.into_inner()).push(Arc::new(hook));
    }

    /// Every namespace that exists now, static ones and the children of dynamic ones, sorted by
    /// name (so `/` comes first): the reference's `io._nsps`.
    pub fn namespaces(&self) -> Vec<Namespace> {
        let mut all: Vec<Namespace> = self.inner.namespaces().values().cloned().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The main namespace `/`.
    pub fn sockets(&self) -> Namespace {
        self.of("/")
    }

    /// Adds a connection middleware to `/`.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.sockets().use_middleware(middleware);
    }

    /// Calls `handler` for every socket that joins `/`.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.sockets().on_connection(handler);
    }

    /// Like [`on_connection`](Self::on_connection), with `state` handed to every call of
    /// `handler` (a clone per connection): the handler's future owns what it needs.
    ///
    /// ```no_run
    /// # fn f(io: socketio_server::SocketIo) {
    /// use std::sync::Arc;
    ///
    /// struct Db;
    /// impl Db {
    ///     async fn name_of(&self, _id: &str) -> String {
    ///         "ada".into()
    ///     }
    /// }
    ///
    /// io.on_connection_with(Arc::new(Db), |db, socket| async move {
    ///     socket.on_with("whoami", db, |db, socket, event| async move {
    ///         event.reply(&db.name_of(socket.id()).await).ok();
    ///     });
    /// });
    /// # }
    /// ```
    pub fn on_connection_with<S, F, Fut>(&self, state: S, handler: F)
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.sockets().on_connection_with(state, handler);
    }

    /// A broadcast to `rooms` of `/`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// A broadcast to every socket of `/` but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().except(rooms)
    }

    /// A broadcast to this node's sockets of `/`.
    pub fn local(&self) -> BroadcastOperator {
        self.sockets().local()
    }

    /// A volatile broadcast to `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.sockets().volatile()
    }

    /// A broadcast to `/` with the `compress` flag.
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.sockets().compress(compress)
    }

    /// A broadcast to `/` whose acknowledgements are awaited for `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.sockets().timeout(timeout)
    }

    /// Sends `event` to every socket of `/`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.sockets().emit(event, args)
    }

    /// Sends a `message` event with `args` to every socket of `/`.
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        self.sockets().send(args)
    }

    /// The ids of every socket of `/`, on every node (the reference's `allSockets()`).
    pub async fn all_sockets(&self) -> Result<Vec<socketio_adapter::Sid>, socketio_adapter::AdapterError> {
        self.sockets().all_sockets().await
    }

    /// Sends `event` to every socket of `/` and collects their acknowledgements.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> BoxFuture<'static, Result<Vec<AckResponse>, BroadcastAckError>> {
        self.sockets().emit_with_ack(event, args)
    }

    /// Every socket of `/`, on every node.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.sockets().fetch_sockets().await
    }

    /// Makes every socket of `/` join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_join(rooms)
    }

    /// Makes every socket of `/` leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_leave(rooms)
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self, close: bool) {
        self.sockets().disconnect_sockets(close)
    }

    /// Sends `event` to the server-side handlers of the other nodes (see
    /// [`Namespace::server_side_emit`]).
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<usize, AdapterError> {
        self.sockets().server_side_emit(event, args).await
    }

    /// Sends `event` to the other nodes of `/` and collects one answer per node within
    /// `timeout` (see [`Namespace::server_side_emit_with_ack`]).
    pub async fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, socketio_adapter::ServerSideAckError> {
        self.sockets().server_side_emit_with_ack(event, args, timeout).await
    }

    /// Handles server-side event `event` of `/` sent by the other nodes (see
    /// [`Namespace::on_server_side_emit`]).
    pub fn on_server_side_emit<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Vec<serde_json::Value>, Option<crate::ServerAck>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.sockets().on_server_side_emit(event, handler)
    }

    /// Serves on `addr` until [`close`](Self::close).
    ///
    /// After `close`, this serves again, but a cluster adapter stays closed: see "Serving again
    /// with a cluster adapter" under [`close`](Self::close).
    pub async fn listen(&self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        self.engine.clone().listen(addr).await
    }

    /// Serves connections from `listener` until [`close`](Self::close).
    ///
    /// After `close`, this serves again, but a cluster adapter stays closed: see "Serving again
    /// with a cluster adapter" under [`close`](Self::close).
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.engine.clone().serve(listener).await
    }

    /// Serves on `addr` until `shutdown` resolves, then shuts down gracefully with
    /// [`close`](Self::close) (the listener stops accepting, every socket is disconnected with
    /// `server shutting down`, queued packets are written for a bounded time, the adapters
    /// close) and returns once every client is gone.
    ///
    /// ```no_run
    /// # async fn run(io: socketio_server::SocketIo) -> std::io::Result<()> {
    /// // Until SIGINT or SIGTERM.
    /// io.listen_until("127.0.0.1:3000", async {
    ///     if let Ok(signal) = socketio_server::shutdown_signal().await {
    ///         tracing::info!(signal, "shutting down");
    ///     }
    /// })
    /// .await
    /// # }
    /// ```
    pub async fn listen_until(
        &self,
        addr: impl tokio::net::ToSocketAddrs,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_until(self.engine.clone().bind(addr).await?, shutdown).await
    }

    /// Serves connections from `listener` until `shutdown` resolves, then shuts down
    /// gracefully, as [`listen_until`](Self::listen_until).
    pub async fn serve_until(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let serving = self.serve(listener);
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            () = shutdown => {}
        }
        self.close().await;
        serving.await
    }

    /// Waits for `signal`, then shuts down gracefully ([`close`](Self::close)): the future
    /// to give a server that runs the connections itself, such as axum's
    /// `with_graceful_shutdown`.
    ///
    /// ```no_run
    /// # async fn run(io: socketio_server::SocketIo, app: axum::Router) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// let shutdown = io.close_after(async {
    ///     let _ = socketio_server::shutdown_signal().await;
    /// });
    /// axum::serve(listener, app.layer(io.layer())).with_graceful_shutdown(shutdown).await
    /// # }
    /// ```
    pub fn close_after(&self, signal: impl Future<Output = ()>) -> impl Future<Output = ()> {
        let io = self.clone();
        async move {
            signal.await;
            io.close().await;
        }
    }

    /// A tower `Layer` serving Socket.IO under the server's path in front of another service
    /// (an axum router, say).
    ///
    /// The client's address ([`Handshake::address`](crate::Handshake::address)) comes from
    /// the request's extensions: axum's `ConnectInfo<SocketAddr>` (feature `axum`, with
    /// `into_make_service_with_connect_info::<SocketAddr>()`), else a `SocketAddr` a hyper
    /// accept loop inserted; see [`engineio_server::remote_addr`].
    pub fn layer(&self) -> EngineIoLayer<SocketIoHandler> {
        EngineIoLayer::new(self.engine.clone())
    }

    /// Shuts down: every socket is disconnected with `server shutting down`, every connection
    /// closed after its queued packets, adapters closed; `listen` and `serve` return.
    ///
    /// As in the reference, a closed server is not dead: it may `listen` or `serve` again,
    /// with its namespaces and handlers. Its adapters stay closed, and they are not reopened
    /// when it serves again.
    ///
    /// # Serving again with a cluster adapter
    ///
    /// With the in-memory adapter this is harmless: it holds nothing to close. With a cluster
    /// adapter (Redis, Redis Streams, sharded Redis, PostgreSQL) it is a trap that fails silently:
    /// served again, the server's namespaces no longer hear the other nodes (their broadcasts never
    /// reach its clients, nor their server-side emits its handlers), and the other nodes have
    /// dropped it from their counts; yet its own broadcasts still reach their clients, and its
    /// cluster-wide requests (`fetch_sockets`, `server_side_emit_with_ack`, broadcasts with acks)
    /// wait for answers it can no longer hear. A namespace created after `close` gets a new adapter
    /// from the factory, so the same server can be half in its cluster. The reference behaves the
    /// same way. To put a node back into its cluster, build a new server with [`Builder::adapter`]
    /// instead of serving the closed one again.
    pub async fn close(&self) {
        for sid in self.engine.session_ids() {
            if let Some(socket) = self.engine.socket(&sid) {
                let _ = socket.command(Command::Shutdown);
            }
        }
        self.engine.close().await;
        let namespaces: Vec<Namespace> = self.inner.namespaces().values().cloned().collect();
        for ns in namespaces {
            ns.0.adapter.close().await;
        }
    }
}
