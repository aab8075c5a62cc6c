//! An Engine.IO server (protocol revisions 4 and 3) over tokio and hyper: HTTP long-polling,
//! WebSocket, and the upgrade from one to the other.
//!
//! Every protocol decision is made by the sans-IO machines of [`engineio_parser`]: the
//! endpoint's routing, the [`Session`](engineio_parser::Session) machine, and the WebSocket
//! [`Connection`](engineio_parser::ws::Connection) machine. This crate moves bytes and fires
//! timers. The protocol types an application meets ([`Packet`], [`Data`], [`CloseReason`], ...)
//! are re-exported here, so it needs no other crate. Socket.IO runs on top of it
//! (`socketio-server`); use this crate directly for a plain Engine.IO server.
//!
//! # Getting started
//!
//! The application implements [`Handler`]: [`on_connection`](Handler::on_connection) makes the
//! per-session state from the session's [`Socket`], [`on_message`](Handler::on_message) and
//! [`on_close`](Handler::on_close) get it back. A handler's methods run on the session's task, one
//! at a time per session, and must not block. An echo server:
//!
//! ```no_run
//! use std::sync::Arc;
//! use engineio_server::{CloseReason, Config, Data, EngineIo, Handler, Packet, Socket};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Connection = Arc<Socket>;
//!     type Command = ();
//!     fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
//!         socket
//!     }
//!     fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
//!         // Text comes back as text, binary as binary.
//!         let _ = socket.send(Packet::message_data(data));
//!     }
//!     fn on_close(&self, socket: Arc<Socket>, reason: CloseReason) {
//!         println!("{} closed: {reason:?}", socket.id());
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     EngineIo::new(Config::default(), Echo)
//!         .listen_until("127.0.0.1:3000", async {
//!             engineio_server::shutdown_signal().await.ok();
//!         })
//!         .await
//! }
//! ```
//!
//! The `engine.io-client` npm package (or a browser) connects to `http://127.0.0.1:3000`, under
//! the path `/engine.io/`. A [`Socket`] is a handle usable from any task: [`Socket::send`] queues a
//! packet, [`Socket::close`] closes the session, and [`Socket::post`] hands the handler a
//! [`Handler::Command`] to run on the session's task.
//!
//! # Inside axum or any tower stack
//!
//! [`EngineIoLayer`] is a tower `Layer`: requests under the server's path go to Engine.IO, every
//! other request to the wrapped service. [`EngineIo`] is itself a `Service` (404 outside its
//! path), and [`EngineIo::serve_connection`] and [`EngineIo::accept_websocket`] take connections
//! the application accepted or upgraded itself.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use engineio_server::{Config, EngineIo, EngineIoLayer, Handler};
//!
//! # async fn run(handler: impl Handler) -> std::io::Result<()> {
//! let engine = EngineIo::new(Config::default(), handler);
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(EngineIoLayer::new(engine.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(engine.close_after(async {
//!         engineio_server::shutdown_signal().await.ok();
//!     }))
//!     .await
//! # }
//! ```
//!
//! # Hooks
//!
//! [`Builder`] adds the reference server's hooks to a [`Config`]: `allow_request` (async; a
//! refusal is error code 4), `initial_headers` (the first answer of a session), `headers` (every
//! answer), `generate_id` (session ids) and `on_connection_error` (every refused request, with
//! its code and message).
//!
//! ```no_run
//! use engineio_server::{Builder, Config, Handler};
//!
//! # fn build(handler: impl Handler) {
//! let engine = Builder::new(Config::default())
//!     .allow_request(|parts| {
//!         let from_us = parts.headers.get("origin").is_some_and(|o| o == "https://example.com");
//!         async move { if from_us { Ok(()) } else { Err(Some("unknown origin".to_owned())) } }
//!     })
//!     .headers(|_, headers| {
//!         headers.insert("x-served-by", http::HeaderValue::from_static("node-1"));
//!     })
//!     .on_connection_error(|error| eprintln!("refused {}: {} ({:?})", error.uri, error.message, error.code))
//!     .build(handler);
//! # let _ = engine;
//! # }
//! ```
//!
//! # Shutting down
//!
//! [`EngineIo::listen_until`] and [`EngineIo::serve_until`] serve until a future resolves, then
//! close gracefully: the listener stops, every client is told (a WebSocket close frame, the
//! `close` packet on a long-polling client's next poll, waited for at most
//! [`Config::shutdown_timeout`]), queued packets are written, and the call returns once every
//! session ended. [`EngineIo::close_after`] is the same future for a server the application runs
//! itself; [`EngineIo::close`] closes at any time. [`shutdown_signal`] resolves on SIGINT or
//! SIGTERM.
//!
//! # Options
//!
//! [`Config`] holds the reference server's options with its defaults: heartbeat
//! (`ping_interval`, `ping_timeout`), limits (`max_payload`, `max_buffered`, `max_ws_fragments`,
//! read timeouts), [`Transports`] and upgrades, [`Cors`] (origins as a list, [`OriginPattern`]s
//! or an [`OriginPredicate`], exposed headers), the sticky-session [`Cookie`], [`TrustProxy`]
//! for the client's address behind reverse proxies, compression of polling answers and
//! permessage-deflate, and Engine.IO v3 clients (`allow_eio3`). An option that cannot work is
//! refused when the server is built ([`EngineIo::try_new`], [`Config::validate`]), every one of
//! them named in one [`ConfigError`].
//!
//! # How a session runs
//!
//! Each session runs in one task, a driver that owns the session machine, the requests waiting
//! for an answer, the WebSocket and the [`Handler`]'s state, and repeats the drive loop of
//! [`engineio_parser`'s docs](engineio_parser#drive-loop):
//!
//! 1. drain the outputs: [`Session::poll_transmit`](engineio_parser::Session::poll_transmit)
//!    (answers to requests, frames, closes),
//!    [`Session::poll_event`](engineio_parser::Session::poll_event) (for the [`Handler`]) and the
//!    WebSocket's events (inputs of the session), until all are quiet;
//! 2. set one timer to [`Session::poll_timeout`](engineio_parser::Session::poll_timeout) (or
//!    the handler's [`poll_timeout`](Handler::poll_timeout), if earlier);
//! 3. wait for an input: HTTP requests routed to the session and packets the application sends
//!    (through the [`Socket`]'s inbox), bytes on the WebSocket, or the timer.
//!
//! WebSocket framing is the sans-IO codec of [`engineio_parser::ws`], re-exported as [`ws`]: an
//! idle connection holds no read or write buffer, and a frame can be built once and sent to many
//! connections.
//!
//! # The client's address
//!
//! [`Handshake::remote_addr`] is the connection's peer and [`Handshake::address`] the client's IP
//! address (the peer's, or the one a trusted proxy forwarded, see [`Config::trust_proxy`]).
//! [`EngineIo::listen`], [`EngineIo::serve`] and [`EngineIo::serve_connection`] know the peer;
//! behind [`EngineIoLayer`] or the [`EngineIo`] `Service`, it comes from the request's extensions
//! ([`remote_addr`]): axum's `ConnectInfo<SocketAddr>` with the `axum` feature, else a
//! `SocketAddr` the application's hyper accept loop inserted.
//!
//! # Logs and metrics
//!
//! Each session runs in a `tracing` span `engineio` (`sid`, `transport`, recorded again on
//! upgrade, `remote`), entered by its task and around the requests routed to it. At `debug`:
//! the handshake, upgrades (started, done, aborted with the session's reason), refused requests
//! (code and message), clients dropped because they do not read (buffered bytes and the limit),
//! and the close with its reason; at `info`, listening and closing; at `trace`, every packet of
//! the application in and out (type and size, never its data). With the feature `metrics`, the
//! server counts through the `metrics` facade: see [`metrics`].
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | the client's address from axum's `ConnectInfo<SocketAddr>` behind [`EngineIoLayer`] |
//! | `metrics` | counters and gauges through the `metrics` facade ([`metrics`]) |

#![cfg_attr(docsrs, feature(doc_cfg))]

mod accept;
mod body;
mod clock;
pub mod config;
mod connections;
mod driver;
mod held;
mod http_util;
pub mod io;
pub mod metrics;
mod server;
mod service;
mod signal;
mod socket;

pub use config::{
    Config, ConfigError, Cookie, Cors, CorsOrigin, ForwardedHeader, HttpCompression, InvalidOption, IpNet,
    OriginPattern, OriginPredicate, Transports, TrustProxy,
};
pub use server::{
    generate_id, BoxFuture, Builder, ConnectionError, EngineIo, Handler, Outbox, ResponseBody, WeakEngineIo,
};
pub use service::{remote_addr, EngineIoLayer, EngineIoService};
pub use signal::shutdown_signal;
pub use socket::{Closed, Handshake, Socket};

/// The WebSocket codec, re-exported from [`engineio_parser::ws`].
pub use engineio_parser::ws;
/// The protocol types a [`Handler`] meets, re-exported from [`engineio_parser`] so that an
/// application needs no other crate: a message's [`Data`] (also [`Config::initial_packet`]),
/// the [`Packet`]s it sends and their [`PacketType`], the session's [`CloseReason`], its
/// [`ProtocolVersion`] and [`Transport`], the packet events a handler asks for ([`Trace`]), and
/// the byte and string types they hold.
pub use engineio_parser::{
    ByteString, Bytes, CloseReason, Data, Packet, PacketType, ProtocolVersion, Trace, Transport,
};

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
