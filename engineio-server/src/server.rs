//! The Engine.IO server: routes HTTP requests to sessions, answers handshakes and upgrades, and
//! runs one task per session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use bytestring::ByteString;
use engineio_parser::endpoint::{ErrorContext, RequestInfo};
use engineio_parser::session::{RequestKind, ResponseKind};
use engineio_parser::{
    route, Data, ErrorCode, Initial, Method, Query, RequestError, RequestId, Route, Session, SessionConfig,
    SocketId, Transport,
};
use http::header::{self, HeaderMap, HeaderValue};
use http::Request;
use http_body::Body;
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

use crate::accept::Acceptor;
use crate::body::{read_body, BodyRead};
use crate::clock::now;
use crate::config::Config;
use crate::connections::Connections;
use crate::driver::{self, Responders, WsConn};
use crate::held::{HoldWrites, HoldingStream};
use crate::http_util;
use crate::socket::{Handshake, Input, Socket};
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

    /// Adds headers to the first response of a session (the reference's `initial_headers`).
    pub fn initial_headers(
        mut self,
        hook: impl Fn(&http::request::Parts, &mut HeaderMap) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.initial_headers = Some(Box::new(hook));
        self
    }

    /// Adds headers to every polling response (the reference's `headers`).
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
    pub fn intercept(
        mut self,
        hook: impl Fn(&http::request::Parts) -> Option<http::Response<ResponseBody>> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.intercept = Some(Box::new(hook));
        self
    }

    /// The server, with `handler` receiving its sessions.
    pub fn build<H: Handler>(self, handler: H) -> EngineIo<H> {
        let path = self.config.normalized_path();
        EngineIo {
            inner: Arc::new(Inner {
                path,
                session_config: Arc::new(self.config.session()),
                config: self.config,
                hooks: self.hooks,
                handler,
                sessions: Mutex::new(HashMap::new()),
                closing: AtomicBool::new(false),
                emptied: Notify::new(),
                connections: Connections::default(),
            }),
        }
    }
}

/// An Engine.IO server. Cloning it gives another handle on the same server.
pub struct EngineIo<H: Handler> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for EngineIo<H> {
    fn clone(&self) -> Self {
        EngineIo { inner: self.inner.clone() }
    }
}

pub(crate) struct Inner<H: Handler> {
    path: String,
    config: Config,
    /// The session machines' settings, shared by every session.
    session_config: Arc<SessionConfig>,
    hooks: Hooks,
    pub(crate) handler: H,
    sessions: Mutex<HashMap<ByteString, Arc<Socket<H::Command>>>>,
    closing: AtomicBool,
    emptied: Notify,
    /// The HTTP connections served by [`EngineIo::serve_http`].
    connections: Connections,
}

impl<H: Handler> Inner<H> {
    pub(crate) fn ws_limits(&self) -> ws::Limits {
        ws::Limits::DEFAULT
            .with_max_message_size(self.config.max_payload)
            .with_max_fragments(self.config.max_ws_fragments)
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<ByteString, Arc<Socket<H::Command>>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remove_session(&self, sid: &ByteString) {
        let mut sessions = self.sessions();
        sessions.remove(sid);
        if sessions.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    fn report(&self, uri: &http::Uri, error: &RequestError) {
        tracing::debug!(%uri, %error, "request refused");
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
    pub fn new(config: Config, handler: H) -> Self {
        Builder::new(config).build(handler)
    }

    /// The options.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The application's handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// The number of open sessions.
    pub fn clients_count(&self) -> usize {
        self.inner.sessions().len()
    }

    /// The ids of the open sessions.
    pub fn session_ids(&self) -> Vec<ByteString> {
        self.inner.sessions().keys().cloned().collect()
    }

    /// The open session with id `sid`.
    pub fn socket(&self, sid: &str) -> Option<Arc<Socket<H::Command>>> {
        self.inner.sessions().get(sid).cloned()
    }

    /// Whether `path` (a request's URI path) is served by this server.
    pub fn matches(&self, path: &str) -> bool {
        path.starts_with(&self.inner.path)
            || (self.inner.config.add_trailing_slash && path == self.inner.path.trim_end_matches('/'))
    }

    /// Serves on `addr` until [`close`](Self::close) is called. The listen backlog (how many
    /// connections may wait to be accepted) is `listen_backlog`.
    pub async fn listen(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        let listener = bind(addr, self.inner.config.listen_backlog).await?;
        self.serve(listener).await
    }

    /// Serves connections from `listener` until [`close`](Self::close) is called. Requests
    /// outside the server's path get 404.
    ///
    /// While the process is out of file descriptors, new connections are accepted and closed
    /// at once (with a `warn` log line), so their clients fail fast instead of hanging; serving
    /// resumes by itself once descriptors are free.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let mut acceptor = Acceptor::new(listener);
        loop {
            let (stream, remote) = tokio::select! {
                accepted = acceptor.accept() => accepted,
                () = self.closed() => return Ok(()),
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
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            let engine = engine.clone();
            // Only a WebSocket handshake can use it: other requests skip the extension map.
            if let Some(hold) = hold.as_ref().filter(|_| http_util::is_websocket_upgrade(req.headers())) {
                req.extensions_mut().insert(hold.clone());
            }
            async move {
                if engine.matches(req.uri().path()) {
                    Ok::<_, Infallible>(engine.handle(req, remote).await)
                } else {
                    Ok(http_util::not_found())
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
    pub async fn handle<B>(
        &self,
        mut req: Request<B>,
        remote: Option<SocketAddr>,
    ) -> http::Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let inner = &self.inner;
        let on_upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
        let (parts, body) = req.into_parts();
        if let Some(mut response) = inner.hooks.intercept.as_ref().and_then(|hook| hook(&parts)) {
            if let Some(cors) = &inner.config.cors {
                http_util::add_cors(cors, &parts.headers, response.headers_mut());
            }
            return response;
        }
        let method = Method::from_name(parts.method.as_str());
        if method == Method::Options {
            if let Some(cors) = &inner.config.cors {
                return http_util::preflight(cors, &parts.headers);
            }
        }
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let websocket_upgrade = http_util::is_websocket_upgrade(&parts.headers);
        let info = RequestInfo {
            method,
            query: &query,
            websocket_upgrade,
            origin: parts.headers.get(header::ORIGIN).map(HeaderValue::as_bytes),
        };
        let result = match route(&inner.config.endpoint(), &info) {
            Err(error) => Err(error),
            Ok(Route::Handshake { transport, version, base64 }) => {
                self.handshake(&parts, transport, version, base64, on_upgrade, remote).await
            }
            Ok(Route::Session { sid, transport, version }) => {
                let socket = inner.sessions().get(sid.as_str()).cloned();
                match socket {
                    None => Err(RequestError::new(ErrorCode::UnknownSid)),
                    Some(socket) if transport == Transport::WebSocket && websocket_upgrade => {
                        self.upgrade(&parts, socket, version, on_upgrade).await
                    }
                    Some(socket) => {
                        let kind = match method {
                            Method::Get => RequestKind::Poll,
                            Method::Post => {
                                RequestKind::Post { binary: http_util::is_octet_stream(&parts.headers) }
                            }
                            _ => RequestKind::Other,
                        };
                        self.poll(&parts, &socket, kind, transport, version, body).await
                    }
                }
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                inner.report(&parts.uri, &error);
                if websocket_upgrade {
                    http_util::upgrade_error(&error)
                } else {
                    http_util::json_error(&error)
                }
            }
        };
        if let Some(cors) = &inner.config.cors {
            http_util::add_cors(cors, &parts.headers, response.headers_mut());
        }
        response
    }

    async fn handshake(
        &self,
        parts: &http::request::Parts,
        transport: Transport,
        version: engineio_parser::ProtocolVersion,
        base64: bool,
        on_upgrade: Option<hyper::upgrade::OnUpgrade>,
        remote: Option<SocketAddr>,
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(RequestError::new(ErrorCode::Forbidden));
        }
        if let Some(allow) = &inner.hooks.allow_request {
            allow(parts).await.map_err(RequestError::forbidden)?;
        }
        let accept = if transport == Transport::WebSocket {
            let accept = http_util::websocket_accept(&parts.method, &parts.headers)
                .map_err(|_| RequestError::bad_request(ErrorContext::TransportHandshakeError))?;
            Some(accept)
        } else {
            None
        };
        let sid = match &inner.hooks.generate_id {
            Some(generate) => generate(parts),
            None => generate_id(),
        };
        if sid.is_empty() {
            return Err(RequestError::bad_request(ErrorContext::IdGenerationError));
        }
        let sid = ByteString::from(sid);
        let handshake = Handshake::new(http_util::compact_uri(&parts.uri), &parts.headers, remote);
        let socket = Arc::new(Socket::new(sid.clone(), version, transport, handshake));
        let config = inner.session_config.clone();

        let mut extra = HeaderMap::new();
        if let Some(cookie) = &inner.config.cookie {
            extra.insert(header::SET_COOKIE, http_util::cookie(cookie, &sid));
        }
        if let Some(hook) = &inner.hooks.initial_headers {
            hook(parts, &mut extra);
        }

        if let Some(accept) = accept {
            let on_upgrade =
                on_upgrade.ok_or(RequestError::bad_request(ErrorContext::TransportHandshakeError))?;
            let deflate = self.negotiate_deflate(&parts.headers);
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let Ok(upgraded) = on_upgrade.await else { return };
                let (io, read_buf, held) = http_util::into_io(upgraded);
                let session = Session::new(
                    sid.clone(),
                    version,
                    base64,
                    config,
                    Initial::WebSocket(SocketId(0)),
                    now(),
                );
                let mut ws = WsConn::with_deflate(SocketId(0), io, inner.ws_limits(), read_buf, deflate);
                ws.write_first(held);
                inner.sessions().insert(sid, socket.clone());
                // A task of its own: this one's state (the handshake's leftovers) is freed.
                tokio::spawn(driver::run(inner, socket, session, Responders::default(), Some(ws)));
            });
            let mut response = http_util::switching_protocols(&accept, deflate.as_ref());
            response.headers_mut().extend(extra);
            // The session writes its open packet at once: the `101` goes with it.
            if let Some(hold) = parts.extensions.get::<HoldWrites>() {
                hold.hold();
            }
            return Ok(response);
        }

        let session =
            Session::new(sid.clone(), version, base64, config, Initial::Polling(RequestId(0)), now());
        let (tx, rx) = oneshot::channel();
        let mut responders = Responders::default();
        responders.insert(RequestId(0), tx);
        inner.sessions().insert(sid, socket.clone());
        tokio::spawn(driver::run(self.inner.clone(), socket, session, responders, None));
        let response = rx.await.map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
        let mut response = self.polling_response(parts, response);
        response.headers_mut().extend(extra);
        Ok(response)
    }

    /// permessage-deflate for a WebSocket handshake, when the server enables it and the client
    /// offers something acceptable.
    fn negotiate_deflate(&self, headers: &HeaderMap) -> Option<driver::Deflate> {
        let config = self.inner.config.per_message_deflate?;
        let offers = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS).iter().map(HeaderValue::as_bytes);
        let params = ws::negotiate_deflate(offers)?;
        Some(driver::Deflate { params, config })
    }

    async fn upgrade(
        &self,
        parts: &http::request::Parts,
        socket: Arc<Socket<H::Command>>,
        version: engineio_parser::ProtocolVersion,
        on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    ) -> Result<http::Response<ResponseBody>, RequestError> {
        let accept = http_util::websocket_accept(&parts.method, &parts.headers)
            .map_err(|_| RequestError::bad_request(ErrorContext::TransportHandshakeError))?;
        let (tx, rx) = oneshot::channel();
        socket
            .push(Input::CheckUpgrade { version, responder: tx })
            .map_err(|_| RequestError::new(ErrorCode::UnknownSid))?;
        rx.await.map_err(|_| RequestError::new(ErrorCode::UnknownSid))??;
        let on_upgrade =
            on_upgrade.ok_or(RequestError::bad_request(ErrorContext::TransportHandshakeError))?;
        let deflate = self.negotiate_deflate(&parts.headers);
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            // Nothing is held here: the client only speaks once it has the `101`.
            let (io, read_buf, _) = http_util::into_io(upgraded);
            let _ = socket.push(Input::Socket(io, read_buf, deflate));
        });
        Ok(http_util::switching_protocols(&accept, deflate.as_ref()))
    }

    async fn poll<B>(
        &self,
        parts: &http::request::Parts,
        socket: &Arc<Socket<H::Command>>,
        kind: RequestKind,
        transport: Transport,
        version: engineio_parser::ProtocolVersion,
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
                    return Ok(http_util::request_timeout());
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
        Ok(self.polling_response(parts, response))
    }

    fn polling_response(
        &self,
        parts: &http::request::Parts,
        response: engineio_parser::Response,
    ) -> http::Response<ResponseBody> {
        let inner = &self.inner;
        let compression = match response.kind {
            ResponseKind::Payload => inner.config.http_compression,
            _ => None,
        };
        let mut out = http_util::to_http(response, compression, &parts.headers);
        let headers = out.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if http_util::is_old_ie(&parts.headers) {
            headers.insert("x-xss-protection", HeaderValue::from_static("0"));
        }
        if let Some(hook) = &inner.hooks.headers {
            hook(parts, headers);
        }
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
        let io: crate::io::BoxedIo = Box::new(io);
        let result = self.accept_websocket_inner(parts, io, remote).await;
        if let Err((error, io)) = result {
            self.inner.report(&parts.uri, &error);
            // Without the connection (it went down with a session that closed meanwhile) there
            // is no close frame to send.
            if let Some(io) = io {
                tokio::spawn(driver::close_refused(io, self.inner.ws_limits()));
            }
            return Err(error);
        }
        Ok(())
    }

    async fn accept_websocket_inner(
        &self,
        parts: &http::request::Parts,
        io: crate::io::BoxedIo,
        remote: Option<SocketAddr>,
    ) -> Result<(), (RequestError, Option<crate::io::BoxedIo>)> {
        let inner = &self.inner;
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let info = RequestInfo {
            method: Method::from_name(parts.method.as_str()),
            query: &query,
            websocket_upgrade: true,
            origin: parts.headers.get(header::ORIGIN).map(HeaderValue::as_bytes),
        };
        let route = match route(&inner.config.endpoint(), &info) {
            Ok(route) => route,
            Err(e) => return Err((e, Some(io))),
        };
        match route {
            Route::Handshake { transport: Transport::WebSocket, version, base64 } => {
                if inner.closing.load(Ordering::Acquire) {
                    return Err((RequestError::new(ErrorCode::Forbidden), Some(io)));
                }
                if let Some(allow) = &inner.hooks.allow_request {
                    if let Err(reason) = allow(parts).await {
                        return Err((RequestError::forbidden(reason), Some(io)));
                    }
                }
                let sid = match &inner.hooks.generate_id {
                    Some(generate) => generate(parts),
                    None => generate_id(),
                };
                if sid.is_empty() {
                    return Err((RequestError::bad_request(ErrorContext::IdGenerationError), Some(io)));
                }
                let sid = ByteString::from(sid);
                let handshake = Handshake::new(http_util::compact_uri(&parts.uri), &parts.headers, remote);
                let socket = Arc::new(Socket::new(sid.clone(), version, Transport::WebSocket, handshake));
                let session = Session::new(
                    sid.clone(),
                    version,
                    base64,
                    inner.session_config.clone(),
                    Initial::WebSocket(SocketId(0)),
                    now(),
                );
                let ws = WsConn::new(SocketId(0), io, inner.ws_limits(), bytes::BytesMut::new());
                inner.sessions().insert(sid, socket.clone());
                tokio::spawn(driver::run(
                    self.inner.clone(),
                    socket,
                    session,
                    Responders::default(),
                    Some(ws),
                ));
                Ok(())
            }
            Route::Session { sid, transport: Transport::WebSocket, version } => {
                let Some(socket) = inner.sessions().get(sid.as_str()).cloned() else {
                    return Err((RequestError::new(ErrorCode::UnknownSid), Some(io)));
                };
                let (tx, rx) = oneshot::channel();
                if socket.push(Input::CheckUpgrade { version, responder: tx }).is_err() {
                    return Err((RequestError::new(ErrorCode::UnknownSid), Some(io)));
                }
                match rx.await {
                    Ok(Ok(())) => match socket.push(Input::Socket(io, bytes::BytesMut::new(), None)) {
                        Ok(()) => Ok(()),
                        // The session closed meanwhile; the connection went down with the input.
                        Err(_) => Err((RequestError::new(ErrorCode::UnknownSid), None)),
                    },
                    Ok(Err(e)) => Err((e, Some(io))),
                    Err(_) => Err((RequestError::new(ErrorCode::UnknownSid), Some(io))),
                }
            }
            _ => Err((RequestError::new(ErrorCode::UnknownTransport), Some(io))),
        }
    }

    /// Closes every session (`forced close`: WebSockets get a close frame after their queued
    /// frames, pending polls are answered with `close`, and a polling client without one gets
    /// it on its next poll if that comes within `shutdown_timeout`), waits until all are gone,
    /// and makes [`listen`](Self::listen) and [`serve`](Self::serve) return. New handshakes are
    /// refused meanwhile. Then the HTTP connections the server serves itself finish the
    /// responses they are writing (for at most `shutdown_timeout` more) and close, so that a
    /// program may exit as soon as this returns.
    pub async fn close(&self) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.emptied.notify_waiters();
        loop {
            let emptied = self.inner.emptied.notified();
            let sockets: Vec<Arc<Socket<H::Command>>> = self.inner.sessions().values().cloned().collect();
            if sockets.is_empty() {
                self.inner.connections.drain(self.inner.config.shutdown_timeout).await;
                return;
            }
            for socket in sockets {
                let _ = socket.push(Input::Shutdown);
            }
            emptied.await;
        }
    }

    /// Resolves once [`close`](Self::close) has been called.
    async fn closed(&self) {
        loop {
            let notified = self.inner.emptied.notified();
            if self.inner.closing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// A listener on the first of `addr`'s addresses that can be bound, with `backlog`.
async fn bind(addr: impl tokio::net::ToSocketAddrs, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket =
            if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the address resolved to nothing")
    }))
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
    use base64::Engine as _;
    let mut bytes = [0u8; ID_BYTES];
    if !random_id_bytes(&mut bytes) {
        // No CSPRNG: refuse the handshake rather than hand out a guessable id.
        return String::new();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes of randomness in one id.
const ID_BYTES: usize = 15;

/// Ids one refill of the per-thread pool serves.
const ID_POOL: usize = 16;

struct IdPool {
    bytes: [u8; ID_BYTES * ID_POOL],
    /// Bytes of `bytes` handed out already.
    used: usize,
}

thread_local! {
    static IDS: std::cell::RefCell<IdPool> =
        const { std::cell::RefCell::new(IdPool { bytes: [0; ID_BYTES * ID_POOL], used: ID_BYTES * ID_POOL }) };
}

/// Fills `out` with fresh CSPRNG bytes from this thread's pool; `false` when the CSPRNG fails.
fn random_id_bytes(out: &mut [u8; ID_BYTES]) -> bool {
    IDS.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.used + ID_BYTES > pool.bytes.len() {
            if getrandom::fill(&mut pool.bytes).is_err() {
                return false;
            }
            pool.used = 0;
        }
        let at = pool.used;
        out.copy_from_slice(&pool.bytes[at..at + ID_BYTES]);
        // Handed out: wipe it from the pool.
        pool.bytes[at..at + ID_BYTES].fill(0);
        pool.used += ID_BYTES;
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_base64url_across_pool_refills() {
        let ids: Vec<String> = (0..ID_POOL * 5 + 3).map(|_| generate_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        }
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
