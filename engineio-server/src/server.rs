//! The Engine.IO server: routes HTTP requests to sessions, answers handshakes and upgrades, and
//! runs one task per session.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use bytestring::ByteString;
use engineio_parser::endpoint::{ErrorContext, IdPool, RequestInfo};
use engineio_parser::http::{
    cors_headers, first_headers, polling_response, preflight, serves_path, HttpResponse,
};
use engineio_parser::session::RequestKind;
use engineio_parser::{
    route, Data, ErrorCode, Initial, Method, Packet, ProtocolVersion, Query, RequestError, RequestId,
    Response, Route, Session, SessionConfig, SocketId, Transport,
};
use http::header::{self, HeaderMap, HeaderValue};
use http::Request;
use http_body::Body;
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

use crate::accept::Acceptor;
use crate::body::{read_body, BodyRead};
use crate::clock::now;
use crate::config::{Config, ConfigError};
use crate::connections::Connections;
use crate::driver::{self, Deflate, Responders, SessionTask, WsConn};
use crate::held::{HoldWrites, HoldingStream};
use crate::http_util;
use crate::io::BoxedIo;
use crate::socket::{Closed, Handshake, Input, Socket};
use crate::ws;

/// The application's side of an Engine.IO server. Its methods run inside the session's task,
/// one call at a time per session: they must not block (spawn a task for slow work).
pub trait Handler: Send + Sync + 'static {
    /// Per-session state, created when a session opens and handed back with every event.
    type Connection: Send + 'static;

    /// What other tasks hand to a session with [`Socket::post`] (`()` when nothing is).
    type Command: Send + 'static;

    /// A session opened. The handshake has been queued before anything sent from here.
    fn on_connection(&self, socket: Arc<Socket<Self::Command>>) -> Self::Connection;

    /// A `message` arrived.
    fn on_message(&self, connection: &mut Self::Connection, data: Data);

    /// The session moved to WebSocket.
    fn on_upgrade(&self, connection: &mut Self::Connection) {
        let _ = connection;
    }

    /// The session closed; nothing follows.
    fn on_close(&self, connection: Self::Connection, reason: engineio_parser::CloseReason);

    /// The session closed, with the session's description of what happened (for logs: `"no
    /// heartbeat in time"`, `"websocket closed"`, ...); nothing follows. This is what the
    /// session's task calls: by default it calls [`on_close`](Self::on_close), which a handler
    /// that wants the description implements by calling this with any text.
    fn on_close_with_description(
        &self,
        connection: Self::Connection,
        reason: engineio_parser::CloseReason,
        description: &'static str,
    ) {
        let _ = description;
        self.on_close(connection, reason);
    }

    /// A packet arrived from the client (the reference socket's `packet` event). Called only
    /// while the handler asks for [`Trace::RECEIVED`](engineio_parser::Trace::RECEIVED) through
    /// [`Outbox::set_trace`].
    fn on_packet(&self, connection: &mut Self::Connection, packet: &Packet) {
        let _ = (connection, packet);
    }

    /// The session queued a packet for the client (the reference socket's `packetCreate`
    /// event). Called only while the handler asks for
    /// [`Trace::CREATED`](engineio_parser::Trace::CREATED).
    fn on_packet_create(&self, connection: &mut Self::Connection, packet: &Packet) {
        let _ = (connection, packet);
    }

    /// The session handed everything queued to the transport (the reference socket's `drain`
    /// event). Called only while the handler asks for
    /// [`Trace::DRAINED`](engineio_parser::Trace::DRAINED).
    fn on_drain(&self, connection: &mut Self::Connection) {
        let _ = connection;
    }

    /// The next instant the handler needs [`on_timeout`](Self::on_timeout) for this session, if
    /// any. The session's task asks after every input and sleeps until the earlier of this and
    /// its own deadline.
    fn poll_timeout(&self, connection: &mut Self::Connection) -> Option<std::time::Instant> {
        let _ = connection;
        None
    }

    /// The handler's deadline passed (`now` is the server's clock).
    fn on_timeout(&self, connection: &mut Self::Connection, now: std::time::Instant) {
        let _ = (connection, now);
    }

    /// A command another task handed to this session with [`Socket::post`].
    fn on_command(&self, connection: &mut Self::Connection, command: Self::Command) {
        let _ = (connection, command);
    }

    /// Hands the session what the handler has to send. The session's task calls it after every
    /// other call (and after [`on_connection`](Self::on_connection)): packets given to `outbox`
    /// skip the trip through [`Socket::send`]'s queue, and go out before anything queued there
    /// after the call.
    fn flush(&self, connection: &mut Self::Connection, outbox: &mut Outbox<'_>) {
        let _ = (connection, outbox);
    }
}

/// The session as [`Handler::flush`] sees it: packets go straight into its buffer.
pub struct Outbox<'a>(pub(crate) &'a mut Session, pub(crate) usize);

impl Outbox<'_> {
    /// Queues `packet`. Fails once the session is closed, or when its buffer is full (the
    /// session then closes: the client does not read what it is sent).
    pub fn send(&mut self, packet: Packet) -> Result<(), Closed> {
        driver::send(self.0, packet, true, self.1).map_err(|_| Closed)
    }

    /// Like [`send`](Self::send), for a packet that must not be compressed (see
    /// [`Session::send_uncompressed`](engineio_parser::session::Session::send_uncompressed)).
    pub fn send_uncompressed(&mut self, packet: Packet) -> Result<(), Closed> {
        driver::send(self.0, packet, false, self.1).map_err(|_| Closed)
    }

    /// Closes the session (reason `forced close`) after the queued packets are delivered.
    pub fn close(&mut self) {
        self.0.close(crate::clock::now());
    }

    /// Chooses which packet events the handler gets from now on: [`Handler::on_packet`],
    /// [`Handler::on_packet_create`], [`Handler::on_drain`]. None at first; a session costs
    /// nothing more for them until a handler asks.
    pub fn set_trace(&mut self, trace: engineio_parser::Trace) {
        self.0.set_trace(trace);
    }
}

/// A refused request, as reported to the `connection_error` hook.
#[derive(Debug, Clone)]
pub struct ConnectionError {
    /// The request's URI.
    pub uri: http::Uri,
    /// The Engine.IO error code.
    pub code: ErrorCode,
    /// The message sent to the client.
    pub message: String,
    /// The reason for a bad request (code 3).
    pub context: Option<ErrorContext>,
}

/// A boxed future, as the hooks return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

type AllowRequest = dyn Fn(&http::request::Parts) -> BoxFuture<Result<(), Option<String>>> + Send + Sync;
type HeadersHook = dyn Fn(&http::request::Parts, &mut HeaderMap) + Send + Sync;
type GenerateId = dyn Fn(&http::request::Parts) -> String + Send + Sync;
type ErrorHook = dyn Fn(&ConnectionError) + Send + Sync;
type InterceptHook = dyn Fn(&http::request::Parts) -> Option<http::Response<ResponseBody>> + Send + Sync;

/// The application's hooks into request handling.
#[derive(Default)]
pub(crate) struct Hooks {
    allow_request: Option<Box<AllowRequest>>,
    initial_headers: Option<Box<HeadersHook>>,
    headers: Option<Box<HeadersHook>>,
    generate_id: Option<Box<GenerateId>>,
    connection_error: Option<Box<ErrorHook>>,
    intercept: Option<Box<InterceptHook>>,
}

/// The response body of every answer the server writes.
pub type ResponseBody = Full<Bytes>;

/// Builds an [`EngineIo`] with hooks.
pub struct Builder {
    config: Config,
    hooks: Hooks,
}

impl Builder {
    /// A builder with `config`.
    pub fn new(config: Config) -> Self {
        Builder { config, hooks: Hooks::default() }
    }

    /// Decides whether a handshake or upgrade request may open a session (the reference's
    /// `allowRequest`). `Err(reason)` refuses it with code 4 (HTTP 403 over polling, 400 for a
    /// WebSocket handshake).
    pub fn allow_request<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Option<String>>> + Send + 'static,
    {
        self.hooks.allow_request = Some(Box::new(move |parts| Box::pin(hook(parts))));
        self
    }

    /// Adds headers to the first response of a session (the reference's `initial_headers`): the
    /// answer to a polling handshake, or the `101` of a WebSocket handshake without `sid`. It
    /// runs on the answer's fields, after the sticky-session cookie is set and before the
    /// [`headers`](Self::headers) hook.
    pub fn initial_headers(
        mut self,
        hook: impl Fn(&http::request::Parts, &mut HeaderMap) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.initial_headers = Some(Box::new(hook));
        self
    }

    /// Adds headers to every answer that is not a refusal (the reference's `headers`): polling
    /// responses, and the `101` of every WebSocket, both a WebSocket handshake and the upgrade
    /// of a polling session. It runs last, on the answer's fields: on a session's first answer,
    /// what it sets replaces what [`initial_headers`](Self::initial_headers) set under the same
    /// name. Only the CORS fields are added after it. (A hook that replaces a `101`'s own
    /// `Upgrade`, `Connection` or `Sec-WebSocket-*` fields breaks the handshake.)
    pub fn headers(
        mut self,
        hook: impl Fn(&http::request::Parts, &mut HeaderMap) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.headers = Some(Box::new(hook));
        self
    }

    /// Replaces the session id generator (by default 20 characters of base64url from 15 bytes of
    /// the operating system's CSPRNG).
    pub fn generate_id(
        mut self,
        hook: impl Fn(&http::request::Parts) -> String + Send + Sync + 'static,
    ) -> Self {
        self.hooks.generate_id = Some(Box::new(hook));
        self
    }

    /// Called for every refused request (the reference's `connection_error` event).
    pub fn on_connection_error(mut self, hook: impl Fn(&ConnectionError) + Send + Sync + 'static) -> Self {
        self.hooks.connection_error = Some(Box::new(hook));
        self
    }

    /// Answers some requests under the server's path before Engine.IO sees them: a hook that
    /// returns a response takes the request (Socket.IO serves its client bundle this way).
    /// Several hooks are asked in the order they were added, until one answers.
    pub fn intercept(
        mut self,
        hook: impl Fn(&http::request::Parts) -> Option<http::Response<ResponseBody>> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.intercept = Some(match self.hooks.intercept.take() {
            None => Box::new(hook),
            Some(first) => Box::new(move |parts| first(parts).or_else(|| hook(parts))),
        });
        self
    }

    /// The server, with `handler` receiving its sessions.
    ///
    /// # Panics
    ///
    /// When an option cannot work ([`Config::validate`]), with the message of the
    /// [`ConfigError`]; [`try_build`](Self::try_build) returns it instead.
    pub fn build<H: Handler>(self, handler: H) -> EngineIo<H> {
        match self.try_build(handler) {
            Ok(server) => server,
            Err(error) => panic!("{error}"),
        }
    }

    /// The server, with `handler` receiving its sessions, or every option that cannot work
    /// ([`Config::validate`]).
    pub fn try_build<H: Handler>(self, handler: H) -> Result<EngineIo<H>, ConfigError> {
        self.config.validate()?;
        let path = self.config.normalized_path();
        Ok(EngineIo {
            inner: Arc::new(Inner {
                path,
                session_config: Arc::new(self.config.session()),
                config: self.config,
                hooks: self.hooks,
                handler,
                sessions: Mutex::new(Sessions::default()),
                closing: AtomicBool::new(false),
                close_started: Notify::new(),
                closes: AtomicU64::new(0),
                emptied: Notify::new(),
                connections: Arc::new(Connections::default()),
            }),
        })
    }
}

/// An Engine.IO server. Cloning it gives another handle on the same server.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use engineio_server::{CloseReason, Config, Data, EngineIo, Handler, Socket};
///
/// /// Every message goes to every session.
/// struct Relay;
///
/// impl Handler for Relay {
///     type Connection = ();
///     type Command = ();
///     fn on_connection(&self, socket: Arc<Socket>) {
///         let _ = socket.send_text("welcome");
///     }
///     fn on_message(&self, _: &mut (), _data: Data) {}
///     fn on_close(&self, _: (), _reason: CloseReason) {}
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let engine = EngineIo::new(Config::default(), Relay);
/// // Another task reaches every session through a clone.
/// let clone = engine.clone();
/// tokio::spawn(async move {
///     loop {
///         tokio::time::sleep(Duration::from_secs(5)).await;
///         for sid in clone.session_ids() {
///             if let Some(socket) = clone.socket(&sid) {
///                 let _ = socket.send_text(format!("{} sessions open", clone.clients_count()));
///             }
///         }
///     }
/// });
/// engine.listen("127.0.0.1:3000").await
/// # }
/// ```
pub struct EngineIo<H: Handler> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for EngineIo<H> {
    fn clone(&self) -> Self {
        EngineIo { inner: self.inner.clone() }
    }
}

/// A handle on an [`EngineIo`] that does not keep it alive: [`upgrade`](Self::upgrade) gives the
/// server back while another handle (or a session) holds it. For tasks that observe a server
/// without owning it.
pub struct WeakEngineIo<H: Handler> {
    inner: std::sync::Weak<Inner<H>>,
}

impl<H: Handler> Clone for WeakEngineIo<H> {
    fn clone(&self) -> Self {
        WeakEngineIo { inner: self.inner.clone() }
    }
}

impl<H: Handler> std::fmt::Debug for WeakEngineIo<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakEngineIo").finish_non_exhaustive()
    }
}

impl<H: Handler> WeakEngineIo<H> {
    /// The server, unless every other handle on it is gone.
    pub fn upgrade(&self) -> Option<EngineIo<H>> {
        self.inner.upgrade().map(|inner| EngineIo { inner })
    }
}

/// How hyper hands over the connection of a WebSocket handshake once its `101` is written, and
/// the switch that holds that `101` back for the session's first frames (see [`crate::held`]).
struct Handover {
    on_upgrade: Option<OnUpgrade>,
    hold: Option<HoldWrites>,
}

/// What a new WebSocket session needs once hyper hands its connection over.
struct Started<H: Handler> {
    engine: EngineIo<H>,
    socket: Arc<Socket<H::Command>>,
    base64: bool,
    deflate: Option<Deflate>,
}

pin_project_lite::pin_project! {
    /// The task of a session opened by a WebSocket handshake: it waits for hyper to hand the
    /// connection over once the `101` is written, then goes on as the session's task, so a
    /// connect spawns one task where it would spawn two.
    #[project = WsHandshakeProj]
    enum WsHandshake<H: Handler> {
        Upgrading { on_upgrade: OnUpgrade, started: Option<Started<H>> },
        Running { #[pin] task: SessionTask<H> },
    }
}

impl<H: Handler> Future for WsHandshake<H> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        loop {
            match self.as_mut().project() {
                WsHandshakeProj::Upgrading { on_upgrade, started } => {
                    let upgraded = std::task::ready!(Pin::new(on_upgrade).poll(cx));
                    // The connection went down before the `101` was written: no session.
                    let (Ok(upgraded), Some(started)) = (upgraded, started.take()) else {
                        return std::task::Poll::Ready(());
                    };
                    let Started { engine, socket, base64, deflate } = started;
                    let (io, read, held) = http_util::into_io(upgraded);
                    let mut ws = WsConn::new(SocketId(0), io, engine.inner.ws_connection(deflate), &read);
                    ws.send_raw(held);
                    let task = engine.session_task(socket, base64, First::WebSocket(ws));
                    self.set(WsHandshake::Running { task });
                }
                WsHandshakeProj::Running { task } => return task.poll(cx),
            }
        }
    }
}

/// The open sessions, found by id. Hashed with foldhash: the ids are the server's own (or its
/// application's `generate_id`), so no client chooses the keys that go in; a client's `sid` is
/// only looked up.
type Sessions<C> = HashSet<ById<C>, foldhash::fast::RandomState>;

/// A session in the table, keyed by its socket's id: the table holds no copy of the id.
struct ById<C>(Arc<Socket<C>>);

impl<C> ById<C> {
    fn id(&self) -> &str {
        self.0.id()
    }
}

impl<C> std::hash::Hash for ById<C> {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.id().hash(state);
    }
}

impl<C> PartialEq for ById<C> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<C> Eq for ById<C> {}

impl<C> std::borrow::Borrow<str> for ById<C> {
    fn borrow(&self) -> &str {
        self.id()
    }
}

pub(crate) struct Inner<H: Handler> {
    path: String,
    config: Config,
    /// The session machines' settings, shared by every session.
    session_config: Arc<SessionConfig>,
    hooks: Hooks,
    pub(crate) handler: H,
    sessions: Mutex<Sessions<H::Command>>,
    /// Set while [`EngineIo::close`] runs: new handshakes are refused.
    closing: AtomicBool,
    /// Notified when a close starts, so that the serving loops return.
    close_started: Notify,
    /// How many closes have started: a serving loop returns once this moves past the count it
    /// started with.
    closes: AtomicU64,
    emptied: Notify,
    /// The HTTP connections served by [`EngineIo::serve_http`].
    pub(crate) connections: Arc<Connections>,
}

impl<H: Handler> Inner<H> {
    /// The most bytes a session buffers for its client (`max_buffered`).
    pub(crate) fn max_buffered(&self) -> usize {
        self.config.max_buffered
    }

    pub(crate) fn ws_limits(&self) -> ws::Limits {
        ws::Limits::DEFAULT
            .with_max_message_size(self.config.max_payload)
            .with_max_fragments(self.config.max_ws_fragments)
    }

    /// The connection machine of a new WebSocket: the server's limits, and permessage-deflate
    /// when negotiated.
    pub(crate) fn ws_connection(&self, deflate: Option<Deflate>) -> ws::Connection {
        match deflate {
            Some(Deflate { params, config }) => {
                ws::Connection::with_deflate(self.ws_limits(), params, config)
            }
            None => ws::Connection::new(self.ws_limits()),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions<H::Command>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remove_session(&self, sid: &ByteString) {
        let mut sessions = self.sessions();
        sessions.remove(&**sid);
        if sessions.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    fn report(&self, uri: &http::Uri, error: &RequestError) {
        tracing::debug!(%uri, code = error.code as u8, %error, "request refused");
        crate::metrics::request_refused(error.code);
        if let Some(hook) = &self.hooks.connection_error {
            hook(&ConnectionError {
                uri: uri.clone(),
                code: error.code,
                message: error.message().to_owned(),
                context: error.context,
            });
        }
    }
}

impl<H: Handler> EngineIo<H> {
    /// A server with `config` and no hooks.
    ///
    /// # Panics
    ///
    /// When an option cannot work ([`Config::validate`]); [`try_new`](Self::try_new) returns
    /// the [`ConfigError`] instead.
    pub fn new(config: Config, handler: H) -> Self {
        Builder::new(config).build(handler)
    }

    /// A server with `config` and no hooks, or every option that cannot work.
    pub fn try_new(config: Config, handler: H) -> Result<Self, ConfigError> {
        Builder::new(config).try_build(handler)
    }

    /// The options.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The application's handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// A handle that does not keep the server alive.
    pub fn downgrade(&self) -> WeakEngineIo<H> {
        WeakEngineIo { inner: Arc::downgrade(&self.inner) }
    }

    /// The number of open sessions.
    pub fn clients_count(&self) -> usize {
        self.inner.sessions().len()
    }

    /// The ids of the open sessions.
    pub fn session_ids(&self) -> Vec<ByteString> {
        self.inner.sessions().iter().map(|s| s.0.id().clone()).collect()
    }

    /// The open session with id `sid`.
    pub fn socket(&self, sid: &str) -> Option<Arc<Socket<H::Command>>> {
        self.inner.sessions().get(sid).map(|s| s.0.clone())
    }

    /// Whether `path` (a request's URI path) is served by this server.
    pub fn matches(&self, path: &str) -> bool {
        serves_path(&self.inner.path, self.inner.config.add_trailing_slash, path)
    }

    /// Serves on `addr` until [`close`](Self::close) is called. The listen backlog (how many
    /// connections may wait to be accepted) is `listen_backlog`.
    pub async fn listen(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        let listener = bind(addr, self.inner.config.listen_backlog).await?;
        self.serve(listener).await
    }

    /// A listener on the first of `addr`'s addresses that can be bound, with the configured
    /// `listen_backlog`, as [`listen`](Self::listen) opens it. The error names the address:
    /// `cannot listen on 127.0.0.1:3000: Address already in use (os error 98)`.
    pub async fn bind(&self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<TcpListener> {
        bind(addr, self.inner.config.listen_backlog).await
    }

    /// Waits for `signal`, then closes gracefully ([`close`](Self::close)): the future to give
    /// a server that runs the connections itself, such as axum's `with_graceful_shutdown`.
    pub fn close_after(&self, signal: impl Future<Output = ()>) -> impl Future<Output = ()> {
        let server = self.clone();
        async move {
            signal.await;
            server.close().await;
        }
    }

    /// Serves on `addr` until `shutdown` resolves, then closes gracefully
    /// ([`close`](Self::close)): the listener stops accepting, every client is told, queued
    /// packets are written (for a bounded time), and this returns once every session ended.
    ///
    /// ```no_run
    /// # async fn run(server: engineio_server::EngineIo<impl engineio_server::Handler>) -> std::io::Result<()> {
    /// // Until SIGINT or SIGTERM.
    /// server.listen_until("127.0.0.1:3000", async { let _ = engineio_server::shutdown_signal().await; }).await
    /// # }
    /// ```
    pub async fn listen_until(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let listener = bind(addr, self.inner.config.listen_backlog).await?;
        self.serve_until(listener, shutdown).await
    }

    /// Serves connections from `listener` until `shutdown` resolves, then closes gracefully,
    /// as [`listen_until`](Self::listen_until).
    pub async fn serve_until(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let serving = self.clone().serve(listener);
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            () = shutdown => {}
        }
        self.close().await;
        serving.await
    }

    /// Serves connections from `listener` until [`close`](Self::close) is called. Requests
    /// outside the server's path get 404.
    ///
    /// While the process is out of file descriptors, new connections are accepted and closed
    /// at once (with a `warn` log line), so their clients fail fast instead of hanging; serving
    /// resumes by itself once descriptors are free.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        match listener.local_addr() {
            Ok(address) => tracing::info!(%address, path = %self.inner.path, "listening"),
            Err(error) => tracing::info!(%error, path = %self.inner.path, "listening (address unknown)"),
        }
        let mut acceptor = Acceptor::new(listener);
        let closes = self.inner.closes.load(Ordering::Acquire);
        loop {
            let (stream, remote) = tokio::select! {
                accepted = acceptor.accept() => accepted,
                () = self.closed(closes) => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let stream = HoldingStream::new(stream);
            let hold = stream.switch();
            tokio::spawn(self.clone().serve_http(stream, Some(remote), Some(hold)));
        }
    }

    /// Serves HTTP/1.1 on one accepted connection (the `handleUpgrade` case: a connection
    /// accepted elsewhere).
    pub async fn serve_connection<I: crate::io::Io>(self, io: I, remote: Option<SocketAddr>) {
        self.serve_http(io, remote, None).await;
    }

    /// Serves HTTP/1.1 on `io`; with `hold`, the `101` of a new WebSocket session is written
    /// with the session's first frames (see [`crate::held`]).
    async fn serve_http<I: crate::io::Io>(self, io: I, remote: Option<SocketAddr>, hold: Option<HoldWrites>) {
        let engine = self.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let engine = engine.clone();
            let hold = hold.clone();
            async move {
                if engine.matches(req.uri().path()) {
                    Ok::<_, Infallible>(engine.handle_holding(req, remote, hold).await)
                } else {
                    Ok(http_util::to_http(HttpResponse::not_found()))
                }
            }
        });
        let _live = self.inner.connections.live();
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.inner.config.header_read_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(io), service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        let ended = tokio::select! {
            ended = conn.as_mut() => ended,
            // The server is closing: the response being written goes out, then the
            // connection closes.
            () = self.inner.connections.draining() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = ended {
            tracing::trace!(error = %e, "connection ended with an error");
        }
    }

    /// Answers one request under the server's path.
    pub async fn handle<B>(&self, req: Request<B>, remote: Option<SocketAddr>) -> http::Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.handle_holding(req, remote, None).await
    }

    /// [`handle`](Self::handle); with `hold`, the `101` of a new WebSocket session waits for the
    /// session's first frames (see [`crate::held`]).
    async fn handle_holding<B>(
        &self,
        mut req: Request<B>,
        remote: Option<SocketAddr>,
        hold: Option<HoldWrites>,
    ) -> http::Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let inner = &self.inner;
        let on_upgrade = req.extensions_mut().remove::<OnUpgrade>();
        let (parts, body) = req.into_parts();
        let cors = inner.config.cors.as_ref();
        let origin = parts.headers.get(header::ORIGIN);
        if let Some(mut response) = inner.hooks.intercept.as_ref().and_then(|hook| hook(&parts)) {
            http_util::add_fields(response.headers_mut(), cors_headers(cors, origin));
            return response;
        }
        let method = Method::from_name(parts.method.as_str());
        let requested_headers = parts.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        if let Some(answer) = preflight(cors, method, origin, requested_headers) {
            return http_util::to_http(answer);
        }
        let websocket_upgrade = http_util::is_websocket_upgrade(&parts.headers);
        let result = match self.route(&parts, websocket_upgrade) {
            Err(error) => Err(error),
            Ok(Route::Handshake { transport, version, base64 }) => {
                let handover = Handover { on_upgrade, hold: hold.filter(|_| websocket_upgrade) };
                self.http_handshake(&parts, transport, version, base64, handover, remote).await
            }
            Ok(Route::Session { sid, transport, version }) => match self.session(&sid) {
                Err(error) => Err(error),
                Ok(socket) if transport == Transport::WebSocket && websocket_upgrade => {
                    let span = socket.span().clone();
                    let upgrade = self.upgrade(&parts, socket, version, on_upgrade);
                    tracing::Instrument::instrument(upgrade, span).await
                }
                Ok(socket) => {
                    let content_type = parts.headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
                    let kind = RequestKind::new(method, content_type);
                    let poll = self.poll(&parts, &socket, kind, transport, version, body);
                    tracing::Instrument::instrument(poll, socket.span().clone()).await
                }
            },
        };
        let mut response = result.unwrap_or_else(|error| {
            inner.report(&parts.uri, &error);
            http_util::to_http(HttpResponse::refusal(&error, websocket_upgrade))
        });
        http_util::add_fields(response.headers_mut(), cors_headers(cors, origin));
        response
    }

    /// Where the endpoint sends a request (or why it refuses it).
    fn route(&self, parts: &http::request::Parts, websocket_upgrade: bool) -> Result<Route, RequestError> {
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let info = RequestInfo {
            method: Method::from_name(parts.method.as_str()),
            query: &query,
            websocket_upgrade,
            origin: parts.headers.get(header::ORIGIN).map(HeaderValue::as_bytes),
        };
        route(&self.inner.config.endpoint(), &info)
    }

    /// The open session `sid`.
    fn session(&self, sid: &str) -> Result<Arc<Socket<H::Command>>, RequestError> {
        self.inner.sessions().get(sid).map(|s| s.0.clone()).ok_or(RequestError::new(ErrorCode::UnknownSid))
    }

    /// The handshake of a new session, whichever transport it opens on and however its request
    /// came (through hyper, or handed over by [`accept_websocket`](Self::accept_websocket)):
    /// refused while the server closes, then by the application's `allow_request`; then the
    /// session id and the socket the application holds. [`start`](Self::start) runs the session.
    async fn handshake(
        &self,
        parts: &http::request::Parts,
        transport: Transport,
        version: ProtocolVersion,
        remote: Option<SocketAddr>,
    ) -> Result<Arc<Socket<H::Command>>, RequestError> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(RequestError::new(ErrorCode::Forbidden));
        }
        if let Some(allow) = &inner.hooks.allow_request {
            allow(parts).await.map_err(RequestError::forbidden)?;
        }
        let sid = match &inner.hooks.generate_id {
            Some(generate) => generate(parts),
            None => generate_id(),
        };
        if sid.is_empty() {
            return Err(RequestError::bad_request(ErrorContext::IdGenerationError));
        }
        let trust_proxy = inner.config.trust_proxy.as_ref();
        let handshake = Handshake::new(&parts.uri, &parts.headers, remote, trust_proxy);
        Ok(Arc::new(Socket::new(ByteString::from(sid), version, transport, handshake)))
    }

    /// Starts the session of a socket that passed its [`handshake`](Self::handshake) on its
    /// first transport: its machine (which queues the `open` packet), its entry among the
    /// sessions, and its task.
    fn start(&self, socket: Arc<Socket<H::Command>>, base64: bool, first: First) {
        tokio::spawn(self.session_task(socket, base64, first));
    }

    /// [`start`](Self::start)'s work but the spawn: the session's task, to be run.
    fn session_task(&self, socket: Arc<Socket<H::Command>>, base64: bool, first: First) -> SessionTask<H> {
        let mut responders = Responders::default();
        let (initial, ws) = match first {
            First::Poll(responder) => {
                responders.insert(RequestId(0), responder);
                (Initial::Polling(RequestId(0)), None)
            }
            First::WebSocket(ws) => (Initial::WebSocket(ws.id()), Some(ws)),
        };
        let config = self.inner.session_config.clone();
        let mut session = Session::new(socket.id(), socket.protocol(), base64, config, initial, now());
        if let Some(data) = &self.inner.config.initial_packet {
            // Queued after `open`: a poll gets it next, a WebSocket right after `open`.
            let _ = session.send(Packet::message_data(data.clone()));
        }
        // An id the application's `generate_id` gave twice takes the place of the first.
        self.inner.sessions().replace(ById(socket.clone()));
        socket.span().in_scope(|| {
            let transport = socket.transport().name();
            tracing::debug!(transport, protocol = socket.protocol() as u8, "handshake");
        });
        crate::metrics::session_opened(socket.transport());
        driver::run(self.inner.clone(), socket, session, responders, ws)
    }

    /// A handshake through hyper: a polling one is answered with the session's `open` packet, a
    /// WebSocket one with `101` (its session starts once hyper hands the connection over). Both
    /// answers carry the session's first headers.
    async fn http_handshake(
        &self,
        parts: &http::request::Parts,
        transport: Transport,
        version: ProtocolVersion,
        base64: bool,
        handover: Handover,
        remote: Option<SocketAddr>,
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        let Handover { on_upgrade, hold } = handover;
        let accept = match transport {
            Transport::WebSocket => Some(http_util::websocket_accept(parts)?),
            Transport::Polling => None,
        };
        let socket = self.handshake(parts, transport, version, remote).await?;
        let sid = socket.id().clone();
        match accept {
            None => {
                let (tx, rx) = oneshot::channel();
                self.start(socket, base64, First::Poll(tx));
                let response = rx.await.map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
                Ok(self.polling_response(parts, response, Some(&sid)))
            }
            Some(accept) => {
                let (mut response, on_upgrade, deflate) = self.switch(parts, &accept, on_upgrade)?;
                let started = Started { engine: self.clone(), socket, base64, deflate };
                tokio::spawn(WsHandshake::Upgrading { on_upgrade, started: Some(started) });
                self.add_hook_headers(parts, response.headers_mut(), Some(&sid));
                // The session writes its open packet at once: the `101` goes with it.
                if let Some(hold) = hold {
                    hold.hold();
                }
                Ok(response)
            }
        }
    }

    /// The header fields the options and the application's hooks add to an answer that is not a
    /// refusal (a polling answer, or the `101` of a WebSocket), in the reference's order, each
    /// on the fields set before: for the first answer of session `first_of` (a handshake), the
    /// sticky-session cookie and then the `initial_headers` hook; then, on every answer, the
    /// `headers` hook, which therefore has the last word.
    fn add_hook_headers(
        &self,
        parts: &http::request::Parts,
        headers: &mut HeaderMap,
        first_of: Option<&str>,
    ) {
        let hooks = &self.inner.hooks;
        if let Some(sid) = first_of {
            http_util::add_fields(headers, first_headers(self.inner.config.cookie.as_ref(), sid));
            if let Some(hook) = &hooks.initial_headers {
                hook(parts, headers);
            }
        }
        if let Some(hook) = &hooks.headers {
            hook(parts, headers);
        }
    }

    /// The `101` answer to a WebSocket handshake (with permessage-deflate when negotiated), the
    /// connection hyper hands over once it is written, and the deflate settings.
    fn switch(
        &self,
        parts: &http::request::Parts,
        accept: &str,
        on_upgrade: Option<OnUpgrade>,
    ) -> Result<(http::Response<ResponseBody>, OnUpgrade, Option<Deflate>), RequestError> {
        let on_upgrade =
            on_upgrade.ok_or(RequestError::bad_request(ErrorContext::TransportHandshakeError))?;
        let deflate = self.negotiate_deflate(&parts.headers);
        Ok((http_util::switching_protocols(accept, deflate.as_ref()), on_upgrade, deflate))
    }

    /// permessage-deflate for a WebSocket handshake, when the server enables it and the client
    /// offers something acceptable.
    fn negotiate_deflate(&self, headers: &HeaderMap) -> Option<Deflate> {
        let config = self.inner.config.per_message_deflate?;
        let offers = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS).iter().map(HeaderValue::as_bytes);
        let params = ws::negotiate_deflate(offers)?;
        Some(Deflate { params, config })
    }

    /// A WebSocket upgrade of an existing session: checked by the session, answered `101`, and
    /// the connection handed to the session's task.
    async fn upgrade(
        &self,
        parts: &http::request::Parts,
        socket: Arc<Socket<H::Command>>,
        version: ProtocolVersion,
        on_upgrade: Option<OnUpgrade>,
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        let accept = http_util::websocket_accept(parts)?;
        self.check_upgrade(&socket, version).await?;
        let (mut response, on_upgrade, deflate) = self.switch(parts, &accept, on_upgrade)?;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            // Nothing was held: the client only speaks once it has the `101`.
            let (io, read, _held) = http_util::into_io(upgraded);
            let _ = socket.push(Input::Socket(Box::new((io, read, deflate))));
        });
        self.add_hook_headers(parts, response.headers_mut(), None);
        Ok(response)
    }

    /// Asks the session whether a WebSocket may upgrade it.
    async fn check_upgrade(
        &self,
        socket: &Socket<H::Command>,
        version: ProtocolVersion,
    ) -> Result<(), RequestError> {
        let (tx, rx) = oneshot::channel();
        socket
            .push(Input::CheckUpgrade { version, responder: tx })
            .map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
        rx.await.map_err(|_| RequestError::new(ErrorCode::UnknownSid))?
    }

    async fn poll<B>(
        &self,
        parts: &http::request::Parts,
        socket: &Arc<Socket<H::Command>>,
        kind: RequestKind,
        transport: Transport,
        version: ProtocolVersion,
        body: B,
    ) -> Result<http::Response<ResponseBody>, RequestError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let id = socket.next_request_id();
        let (tx, rx) = oneshot::channel();
        let request = Input::Request { id, kind, transport, version, responder: tx };
        let pushed = if matches!(kind, RequestKind::Post { .. }) {
            // The body is read here first, so that the request and its body reach the session
            // together: one wake-up of its task instead of two.
            let config = &self.inner.config;
            match read_body(body, config.max_payload, config.body_read_timeout).await {
                BodyRead::Complete(body) => socket.push_pair(request, Input::Body { id, body }),
                BodyRead::TooLarge => {
                    tracing::debug!(sid = %socket.id(), max_payload = config.max_payload, "POST body over max_payload: 413");
                    socket.push_pair(request, Input::BodyTooLarge(id))
                }
                // The client went away mid-body, or was too slow: the session closes as it
                // would for any vanished request.
                BodyRead::Gone => {
                    let _ = socket.push_pair(request, Input::Gone(id));
                    return Err(RequestError::new(ErrorCode::BadRequest));
                }
                BodyRead::TimedOut => {
                    tracing::debug!(sid = %socket.id(), timeout = ?config.body_read_timeout, "POST body not received in time: 408");
                    let _ = socket.push_pair(request, Input::Gone(id));
                    return Ok(http_util::to_http(HttpResponse::request_timeout()));
                }
            }
        } else {
            socket.push(request)
        };
        pushed.map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
        // If this future is dropped (the client went away), the session hears of it.
        let mut guard = GoneGuard { socket, id, armed: true };
        let response = rx.await;
        guard.armed = false;
        let response = response.map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
        Ok(self.polling_response(parts, response, None))
    }

    /// A polling answer, with the [hooks' headers](Self::add_hook_headers) (and for the first
    /// answer of session `first_of`, its first headers).
    fn polling_response(
        &self,
        parts: &http::request::Parts,
        response: Response,
        first_of: Option<&str>,
    ) -> http::Response<ResponseBody> {
        let accept_encoding = parts.headers.get(header::ACCEPT_ENCODING).map(HeaderValue::as_bytes);
        let user_agent = parts.headers.get(header::USER_AGENT).map(HeaderValue::as_bytes);
        let compression = self.inner.config.http_compression;
        let answer = polling_response(response, compression, accept_encoding, user_agent);
        let mut out = http_util::to_http(answer);
        self.add_hook_headers(parts, out.headers_mut(), first_of);
        out
    }

    /// Takes over a connection on which the application already completed a WebSocket
    /// handshake (it answered `101` itself), for the Engine.IO request described by `parts`
    /// (its URI carries `EIO`, `transport=websocket` and, for an upgrade, `sid`). A new session is
    /// started in its own task, or the connection is handed to the session it upgrades.
    ///
    /// A refused request is returned as an error after the connection got a close frame
    /// (1008, policy violation): HTTP can no longer be answered on it.
    pub async fn accept_websocket<I: crate::io::Io>(
        &self,
        parts: &http::request::Parts,
        io: I,
        remote: Option<SocketAddr>,
    ) -> Result<(), RequestError> {
        let io: BoxedIo = Box::new(io);
        let refused = match self.admit_websocket(parts, remote).await {
            Ok(Admitted::New { socket, base64 }) => {
                let ws = WsConn::new(SocketId(0), io, self.inner.ws_connection(None), &[]);
                self.start(socket, base64, First::WebSocket(ws));
                return Ok(());
            }
            Ok(Admitted::Upgrade(socket)) => {
                match socket.push(Input::Socket(Box::new((io, Bytes::new(), None)))) {
                    Ok(()) => return Ok(()),
                    Err(_) => {
                        // The session closed meanwhile: the connection went down with the input,
                        // there is no close frame to send.
                        let error = RequestError::new(ErrorCode::UnknownSid);
                        self.inner.report(&parts.uri, &error);
                        return Err(error);
                    }
                }
            }
            Err(error) => error,
        };
        self.inner.report(&parts.uri, &refused);
        tokio::spawn(driver::close_with(io, self.inner.ws_limits(), refused.close_code()));
        Err(refused)
    }

    /// Checks a handed-over WebSocket's request: a handshake, or an upgrade its session allows.
    async fn admit_websocket(
        &self,
        parts: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Result<Admitted<H::Command>, RequestError> {
        match self.route(parts, true)? {
            Route::Handshake { transport: Transport::WebSocket, version, base64 } => {
                let socket = self.handshake(parts, Transport::WebSocket, version, remote).await?;
                Ok(Admitted::New { socket, base64 })
            }
            Route::Session { sid, transport: Transport::WebSocket, version } => {
                let socket = self.session(&sid)?;
                self.check_upgrade(&socket, version).await?;
                Ok(Admitted::Upgrade(socket))
            }
            _ => Err(RequestError::new(ErrorCode::UnknownTransport)),
        }
    }

    /// Closes every session (`forced close`: WebSockets get a close frame after their queued
    /// frames, pending polls are answered with `close`, and a polling client without one gets
    /// it on its next poll if that comes within `shutdown_timeout`), waits until all are gone,
    /// and makes [`listen`](Self::listen) and [`serve`](Self::serve) return. New handshakes are
    /// refused meanwhile. Then the HTTP connections the server serves itself finish the
    /// responses they are writing (for at most `shutdown_timeout` more) and close, so that a
    /// program may exit as soon as this returns.
    ///
    /// Closing is not final, as in the reference: once this returns, the server may serve
    /// again (a new [`listen`](Self::listen) or [`serve`](Self::serve)) and takes handshakes.
    pub async fn close(&self) {
        tracing::info!(sessions = self.inner.sessions().len(), "closing the server");
        self.inner.closing.store(true, Ordering::Release);
        self.inner.closes.fetch_add(1, Ordering::AcqRel);
        self.inner.close_started.notify_waiters();
        loop {
            let emptied = self.inner.emptied.notified();
            let sockets: Vec<Arc<Socket<H::Command>>> =
                self.inner.sessions().iter().map(|s| s.0.clone()).collect();
            if sockets.is_empty() {
                self.inner.connections.drain(self.inner.config.shutdown_timeout).await;
                self.inner.closing.store(false, Ordering::Release);
                tracing::info!("server closed");
                return;
            }
            for socket in sockets {
                let _ = socket.push(Input::Shutdown);
            }
            emptied.await;
        }
    }

    /// Resolves once a [`close`](Self::close) has started since `closes` closes had, or at
    /// once while a close runs.
    async fn closed(&self, closes: u64) {
        loop {
            let started = self.inner.close_started.notified();
            if self.inner.closing.load(Ordering::Acquire)
                || self.inner.closes.load(Ordering::Acquire) != closes
            {
                return;
            }
            started.await;
        }
    }
}

/// A listener on the first of `addr`'s addresses that can be bound, with `backlog`. An error
/// names the address: `cannot listen on 127.0.0.1:3000: Address already in use (os error 98)`
/// (with every address tried when there were several), keeping the error's kind.
async fn bind(addr: impl tokio::net::ToSocketAddrs, backlog: u32) -> std::io::Result<TcpListener> {
    let mut failures: Vec<(SocketAddr, std::io::Error)> = Vec::new();
    let addrs = tokio::net::lookup_host(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen: resolving the address failed: {e}"))
    })?;
    for addr in addrs {
        match bind_one(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => failures.push((addr, e)),
        }
    }
    let kind = failures.last().map_or(std::io::ErrorKind::InvalidInput, |(_, e)| e.kind());
    let tried: Vec<String> = failures.iter().map(|(addr, e)| format!("{addr}: {e}")).collect();
    let message = if tried.is_empty() {
        "cannot listen: the address resolved to nothing".to_owned()
    } else {
        format!("cannot listen on {}", tried.join("; "))
    };
    Err(std::io::Error::new(kind, message))
}

/// A listener on `addr` with `backlog`.
fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The transport a new session opens on. Moved once, into the session's task: boxing the large
/// variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum First {
    /// The handshake GET, answered with the `open` packet.
    Poll(oneshot::Sender<Response>),
    /// A WebSocket, whose first frame is the `open` packet.
    WebSocket(WsConn),
}

/// A handed-over WebSocket the server takes.
enum Admitted<C> {
    /// It opens a new session.
    New { socket: Arc<Socket<C>>, base64: bool },
    /// It upgrades this session.
    Upgrade(Arc<Socket<C>>),
}

/// Tells the session that a request's connection went away, unless disarmed.
struct GoneGuard<'a, C> {
    socket: &'a Arc<Socket<C>>,
    id: RequestId,
    armed: bool,
}

impl<C> Drop for GoneGuard<'_, C> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.socket.push(Input::Gone(self.id));
        }
    }
}

/// A session id: 15 bytes from the operating system's CSPRNG as 20 characters of base64url.
///
/// The bytes are cut from a per-thread pool filled by the CSPRNG 16 ids at a time, so
/// a handshake rarely costs a system call; every byte is handed out once, then wiped from the
/// pool. (Like the tokio runtime it runs on, the pool does not survive a `fork`: a child
/// process would inherit the forking thread's unused bytes.)
pub fn generate_id() -> String {
    thread_local! {
        static IDS: std::cell::RefCell<IdPool> = const { std::cell::RefCell::new(IdPool::new()) };
    }
    // No CSPRNG: refuse the handshake rather than hand out a guessable id.
    IDS.with(|pool| pool.borrow_mut().next_id(|bytes| getrandom::fill(bytes).is_ok())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_base64url_across_pool_refills() {
        let ids: Vec<String> =
            (0..engineio_parser::endpoint::ID_POOL * 5 + 3).map(|_| generate_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        }
    }

    struct Silent;

    impl Handler for Silent {
        type Connection = Arc<Socket>;
        type Command = ();
        fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
            socket
        }
        fn on_message(&self, _: &mut Arc<Socket>, _: Data) {}
        fn on_close(&self, _: Arc<Socket>, _: engineio_parser::CloseReason) {}
    }

    #[tokio::test]
    async fn the_future_of_a_session_task_stays_small() {
        // Every idle session holds this future (with its session machine and WebSocket
        // inline): 976 bytes in a debug build before the driver became a struct, 792 (with
        // every feature) once the wait became a poll function and the session stopped keeping
        // a copy of its id, 760 written out as a future of its own, 688 once the machines'
        // queues kept their spill behind a box.
        let engine = EngineIo::new(Config::default(), Silent);
        let (version, transport) = (ProtocolVersion::V4, Transport::Polling);
        let handshake = Handshake::new(&http::Uri::from_static("/"), &HeaderMap::new(), None, None);
        let socket = Arc::new(Socket::new(ByteString::from_static("x"), version, transport, handshake));
        let config = engine.inner.session_config.clone();
        let initial = Initial::Polling(RequestId(0));
        let session = Session::new(socket.id(), version, false, config, initial, now());
        let task = driver::run(engine.inner.clone(), socket, session, Responders::default(), None);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 688, "{size} bytes");
        // The task of a WebSocket handshake becomes the session's: no larger.
        let handshake = std::mem::size_of::<WsHandshake<Silent>>();
        assert!(handshake <= size, "{handshake} bytes");
    }

    #[test]
    fn threads_draw_from_their_own_pools() {
        let handles: Vec<_> = (0..4).map(|_| std::thread::spawn(generate_id)).collect();
        let mut ids: Vec<String> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        ids.push(generate_id());
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
