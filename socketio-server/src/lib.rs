//! A Socket.IO server (protocol v5, and v4 for Socket.IO 2 clients) over tokio: namespaces,
//! rooms, broadcasts, acknowledgements with timeouts, middlewares, and the whole server API of
//! the reference implementation in idiomatic async Rust.
//!
//! Protocol decisions are made by the sans-IO machines of `engineio-parser` (the Engine.IO
//! session) and `socketio-parser` (the Socket.IO connection: namespace joins, the connect
//! timeout, ack deadlines, the invalid-state rules). This crate runs one Engine.IO session task
//! per connection, feeds the Socket.IO machine inside it, and gives the application its
//! handles: [`SocketIo`], [`Namespace`], [`Socket`], [`BroadcastOperator`].
//!
//! Coming from a Node.js `socket.io` server? The [`porting`] guide maps every item of its API
//! to this crate and puts the usual examples side by side.
//!
//! # Getting started
//!
//! A server is a [`SocketIo`] built from a [`Config`]. Handlers are async closures: the
//! connection handler gets each [`Socket`] that joins the main namespace `/`, and registers the
//! socket's event handlers, which get the socket and the [`Event`].
//!
//! ```no_run
//! use socketio_server::{Config, SocketIo};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::new(Config::default());
//!     io.on_connection(|socket| async move {
//!         // `socket.emit("hello", "world")` in JavaScript.
//!         socket.emit("hello", "world").ok();
//!         socket.on("chat", |socket, event| async move {
//!             // Arguments are read with serde: one with `arg`, all of them with `args`.
//!             let text: String = event.arg().unwrap_or_default();
//!             // Everyone else in the namespace gets the message; the sender gets an answer.
//!             socket.broadcast().emit("chat", &(socket.id(), &text)).ok();
//!             event.reply(&"delivered").ok();
//!         });
//!         socket.on_disconnect(|socket, reason| async move {
//!             println!("{} left: {reason}", socket.id());
//!         });
//!     });
//!     // Until SIGINT or SIGTERM, then every client is told and the server drains.
//!     io.listen_until("127.0.0.1:3000", async {
//!         socketio_server::shutdown_signal().await.ok();
//!     })
//!     .await
//! }
//! ```
//!
//! Any `socket.io-client` 4.x (or 2.x, with [`engine.allow_eio3`](engine::Config::allow_eio3))
//! connects to `http://127.0.0.1:3000`. Arguments are any `serde::Serialize` value; a tuple is
//! several arguments. Emitting fails only for a reserved event name, a value serde refuses, or a
//! disconnected socket ([`EmitError`]).
//!
//! # Inside an axum application
//!
//! [`SocketIo::layer`] is a tower `Layer`: requests under the server's path (`/socket.io/`) go to
//! Socket.IO, every other request reaches the router. Handlers of the router emit through a clone
//! of the server, which is a cheap handle.
//!
//! ```no_run
//! use axum::{extract::State, routing::post, Router};
//! use socketio_server::{Config, SocketIo};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::new(Config::default());
//!     let app = Router::new()
//!         .route("/announce", post(|State(io): State<SocketIo>, text: String| async move {
//!             io.emit("announcement", &text).map(|()| "sent").unwrap_or("refused")
//!         }))
//!         .with_state(io.clone())
//!         .layer(io.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     let shutdown = io.close_after(async {
//!         socketio_server::shutdown_signal().await.ok();
//!     });
//!     axum::serve(listener, app).with_graceful_shutdown(shutdown).await
//! }
//! ```
//!
//! With the feature `axum`, the client's address ([`Handshake::address`]) comes from axum's
//! `ConnectInfo<SocketAddr>` (serve with `into_make_service_with_connect_info::<SocketAddr>()`).
//!
//! # Namespaces and middlewares
//!
//! [`SocketIo::of`] gives a [`Namespace`] (created on first use). Connection middlewares
//! ([`Namespace::use_middleware`]) run in order for every socket that asks to join; the first
//! [`ConnectError`] refuses it, and the client gets the message and data in its
//! `connect_error`. [`SocketIo::of_pattern`] and [`SocketIo::of_dynamic`] create child
//! namespaces on demand ([`ParentNamespace`]). Packet middlewares ([`Socket::use_middleware`])
//! see every incoming event and may rewrite or refuse it.
//!
//! ```no_run
//! use socketio_server::{Config, ConnectError, SocketIo};
//!
//! #[derive(serde::Deserialize)]
//! struct Auth {
//!     token: String,
//! }
//!
//! # fn setup(io: &SocketIo) {
//! let admin = io.of("/admin");
//! admin.use_middleware(|socket| async move {
//!     // `io("/admin", { auth: { token } })` on the client.
//!     match socket.auth_as::<Auth>() {
//!         Ok(auth) if auth.token == "letmein" => Ok(()),
//!         _ => Err(ConnectError::new("not authorized").with_data(serde_json::json!({ "retry": false }))),
//!     }
//! });
//! admin.on_connection(|socket| async move {
//!     socket.emit("welcome", "admin").ok();
//! });
//! // `/team-1`, `/team-2`, ...: one namespace each, with the parent's handlers.
//! let teams = io.of_pattern(regex::Regex::new("^/team-\\d+$").expect("a valid pattern"));
//! teams.on_connection(|socket| async move {
//!     socket.emit("team", &socket.nsp().to_string()).ok();
//! });
//! # }
//! ```
//!
//! # Rooms and broadcasting
//!
//! A socket joins and leaves rooms ([`Socket::join`], [`Socket::leave`]); it is always in the room
//! named by its own id. Broadcasts are built with a [`BroadcastOperator`]: `to` (or `within`) picks
//! rooms (the union, each socket once), `except` leaves rooms out, and `local`, `volatile`,
//! `compress` and `timeout` set flags. Without rooms, a broadcast reaches the whole namespace.
//! [`Socket::to`] and [`Socket::broadcast`] leave the sender out. A broadcast encodes the packet
//! once and hands the same bytes to every recipient.
//!
//! ```no_run
//! # use socketio_server::{Config, SocketIo};
//! # fn setup(io: SocketIo) {
//! io.on_connection(|socket| async move {
//!     socket.join(["news", "sports"]);
//!     socket.on("say", |socket, event| async move {
//!         let text: String = event.arg().unwrap_or_default();
//!         // Every socket in `news`, the sender excepted.
//!         socket.to("news").emit("say", &text).ok();
//!     });
//! });
//! // From anywhere: `news` and `sports`, minus those in `muted`.
//! io.to(["news", "sports"]).except("muted").emit("headline", "rain tomorrow").ok();
//! // Every socket of the namespace joins `lobby`; `fetch_sockets` lists them (on every node).
//! io.sockets_join("lobby");
//! # }
//! ```
//!
//! # Acknowledgements and timeouts
//!
//! A client's event may await an answer: [`Event::reply`] sends it, once ([`Event::ack`] is the
//! [`AckSender`] itself). The server's side of the same thing is `emit_with_ack`, a future that
//! resolves to the client's [`AckResponse`], or an [`AckError`] when it disconnects or the
//! `timeout` passes. A broadcast with acks collects one answer per client; when some do not
//! answer in time, [`BroadcastAckError::Timeout`] holds the answers that came.
//!
//! ```no_run
//! use std::time::Duration;
//! use socketio_server::{AckError, BroadcastAckError, Socket, SocketIo};
//!
//! # async fn run(socket: Socket, io: SocketIo) -> Result<(), Box<dyn std::error::Error>> {
//! // `socket.timeout(5000).emitWithAck("question", "6 × 7?")`
//! match socket.timeout(Duration::from_secs(5)).emit_with_ack("question", "6 × 7?")?.await {
//!     Ok(answer) => println!("the client says {}", answer.arg::<u32>()?),
//!     Err(AckError::Timeout) => println!("no answer in 5 s"),
//!     Err(other) => println!("no answer: {other}"),
//! }
//! // Every client of `/` answers, or the error says who did.
//! match io.timeout(Duration::from_secs(2)).emit_with_ack("ready?", "now").await {
//!     Ok(answers) => println!("{} clients are ready", answers.len()),
//!     Err(BroadcastAckError::Timeout { responses, expected }) => {
//!         println!("{} of {expected} answered", responses.len())
//!     }
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Binary data
//!
//! [`Bytes`] is binary on the wire, at any depth of the arguments: the default parser sends it
//! as an attachment, msgpack as a `bin` value. Reading an argument as `Bytes` gives the
//! attachment without a copy; [`Value`] holds any argument, binary included.
//!
//! ```no_run
//! use socketio_server::{Bytes, Socket, Value};
//!
//! # fn setup(socket: Socket) {
//! socket.on("upload", |socket, event| async move {
//!     // `socket.emit("upload", "photo.png", buffer)` on the client.
//!     let Ok((name, data)) = event.args::<(String, Bytes)>() else { return };
//!     println!("{name}: {} bytes", data.len());
//!     // Back to the client: a string and the same bytes, inside an object.
//!     socket.emit("stored", &(name, serde_json::json!({ "size": data.len() }), data)).ok();
//! });
//! socket.on("anything", |_, event| async move {
//!     for value in event.values().unwrap_or_default() {
//!         if let Value::Binary(bytes) = value {
//!             println!("{} binary bytes", bytes.len());
//!         }
//!     }
//! });
//! # }
//! ```
//!
//! # Connection state recovery
//!
//! With [`Config::connection_state_recovery`] set, a client that lost its connection (network,
//! ping timeout) and comes back within `max_disconnection_duration` gets its socket back: the same
//! id, its rooms and data, and the events it missed, replayed before the `CONNECT` answer.
//! [`Socket::recovered`] tells a restored socket from a new one. The default in-memory adapter
//! keeps the sessions; see [`ConnectionStateRecovery`].
//!
//! ```no_run
//! use socketio_server::{Config, ConnectionStateRecovery, SocketIo};
//!
//! let config = Config {
//!     connection_state_recovery: Some(ConnectionStateRecovery::default()),
//!     ..Config::default()
//! };
//! let io = SocketIo::new(config);
//! io.on_connection(|socket| async move {
//!     if !socket.recovered() {
//!         // A new session: set it up. A recovered one is in its rooms already, with its data.
//!         socket.join("news");
//!     }
//! });
//! ```
//!
//! # Many nodes (Redis)
//!
//! With the feature `redis`, the nodes of a cluster share rooms, broadcasts, `fetch_sockets` and
//! server-side events through one Redis, in the wire format of Node.js's
//! `@socket.io/redis-adapter` 8.3, so Rust and Node.js nodes can serve one cluster. One
//! [`RedisClients`](adapter::redis::RedisClients) per process makes every namespace's adapter. Long-polling clients
//! need sticky sessions behind a load balancer (see `docs/deployment.md`).
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn node() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_server::adapter::{RedisAdapterConfig, RedisClients};
//! use socketio_server::{Config, Socket, SocketIo};
//!
//! let redis = RedisClients::connect("redis://127.0.0.1:6379/", RedisAdapterConfig::default()).await?;
//! let io = SocketIo::builder(Config::default()).adapter(redis.factory::<Socket>()).build();
//! // `io.emit`, rooms, `fetch_sockets`, `server_side_emit`: every node now.
//! io.on_server_side_emit("hello", |args, ack| async move {
//!     println!("another node says {args:?}");
//!     if let Some(ack) = ack {
//!         ack.send(&"hi");
//!     }
//! });
//! io.listen("127.0.0.1:3000").await?;
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # Shutting down
//!
//! [`SocketIo::listen_until`] (or [`serve_until`](SocketIo::serve_until)) serves until a future
//! resolves, then shuts down as the reference's `io.close()` does: the listener stops, every
//! socket is disconnected with `server shutting down`, what was queued is written (each wait
//! bounded), the adapters close, and the call returns once every client is gone. Under another
//! HTTP server, [`SocketIo::close_after`] is the future for its graceful shutdown (axum's
//! `with_graceful_shutdown`, above). [`shutdown_signal`] resolves on SIGINT or SIGTERM and names
//! the signal. [`SocketIo::close`] does the same at any time; a closed server may serve again.
//!
//! ```no_run
//! # use socketio_server::{Config, SocketIo};
//! # async fn run(io: SocketIo) -> std::io::Result<()> {
//! io.listen_until("127.0.0.1:3000", async {
//!     match socketio_server::shutdown_signal().await {
//!         Ok(signal) => tracing::info!(signal, "shutting down"),
//!         Err(error) => tracing::warn!(%error, "no signal handler; shutting down"),
//!     }
//! })
//! .await
//! # }
//! ```
//!
//! # Configuration
//!
//! [`Config`] holds the reference server's options with its defaults; its `engine` field holds
//! the Engine.IO options ([`engine::Config`]: heartbeat, `max_payload`, transports, CORS,
//! cookies, proxies, compression). Options that cannot work are refused when the server is built,
//! all of them named in one [`ConfigError`]: [`SocketIo::try_new`] and
//! [`Builder::try_build`] return it, [`SocketIo::new`] and [`Builder::build`] panic with it, and
//! [`Config::validate`] checks a configuration on its own.
//!
//! ```
//! use std::time::Duration;
//! use socketio_server::engine::{Cors, CorsOrigin};
//! use socketio_server::{Config, SocketIo};
//!
//! let mut config = Config::default();
//! config.engine.ping_interval = Duration::from_secs(10);
//! config.engine.cors = Some(Cors {
//!     origin: CorsOrigin::Any,
//!     credentials: true, // any web site could act with your users' cookies: refused
//!     ..Cors::default()
//! });
//! let error = SocketIo::try_new(config).err().expect("credentials with any origin are refused");
//! assert!(error.to_string().contains("engine.cors"));
//! ```
//!
//! # Logs and metrics
//!
//! Logs go through `tracing`. Every Engine.IO session has a span `engineio` (`sid`,
//! `transport`, recorded again on upgrade, `remote`), and every socket a span `socket` (`nsp`,
//! `id`) inside it. At `debug`: handshakes, upgrades (started, done, aborted and why), refused
//! requests (code and message), namespace joins and refusals (with the middleware's message),
//! ack timeouts (event name and timeout), dropped volatile packets, clients dropped because they
//! do not read, parse errors (the reason and the first 32 bytes of the input, escaped) and every
//! disconnection with its reason; at `info`, listening and closing; at `trace`, every packet in
//! and out (type and size). No payload is logged above `trace`.
//!
//! With the feature `metrics`, the server counts connections, sockets, packets, disconnects, ack
//! timeouts and broadcast fan-out through the `metrics` facade, for the recorder the application
//! installs: see [`metrics`] for the names. Without the feature, the counting compiles to nothing.
//!
//! # The Admin UI
//!
//! The server side of the [Socket.IO Admin UI](https://socket.io/docs/v4/admin-ui/) is the crate
//! `socketio-admin` (as `@socket.io/admin-ui` is a package of its own next to `socket.io`): its
//! `instrument(&io, options)` makes the npm dashboard show this server as it shows a Node.js
//! one. It is written on this crate's public API alone.
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `msgpack` | [`ParserKind::MsgPack`]: the `socket.io-msgpack-parser` wire format |
//! | `redis` | the Redis adapter, [`adapter::redis`], wire-compatible with `@socket.io/redis-adapter` 8.3 |
//! | `redis-sharded` | its sharded variant for Redis Cluster, [`adapter::redis_sharded`] (`createShardedAdapter`) |
//! | `redis-streams` | the Redis Streams adapter, [`adapter::redis_streams`], with recovery across nodes |
//! | `postgres` | the PostgreSQL adapter, [`adapter::postgres`] |
//! | `axum` | the client's address from axum's `ConnectInfo<SocketAddr>` behind [`SocketIo::layer`] |
//! | `metrics` | counters, gauges and a histogram through the `metrics` facade ([`metrics`]) |
//!
//! None is on by default. Items that need one carry its name in these docs.
//!
//! # How it runs
//!
//! * A handler that finishes without waiting runs on the connection's task; one that waits is
//!   moved to a task of its own. Event handlers of one connection therefore start in the order
//!   the events arrived.
//! * Emitting serialises the arguments once and queues the Engine.IO messages on the
//!   connection; a broadcast encodes the packet once and queues the same bytes on every
//!   recipient.
//! * Acknowledgement ids come from one counter per namespace, as in the reference; their
//!   deadlines are the Socket.IO machine's, fired by the connection's timer.
//! * `compress(false)` works as in the reference: the packet's frames skip permessage-deflate,
//!   and a poll's answer that holds only such packets is not HTTP-compressed; the flag also
//!   travels to other nodes.
//! * The types in [`internals`] connect this crate to the ones under it; ordinary code does not
//!   name them.
//!
//! # What it does not do
//!
//! TLS (put a proxy or a TLS-terminating listener in front), JSONP polling and WebTransport.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod client_files;
mod clock;
pub mod config;
mod conn;
mod encode;
mod error;
mod handshake;
mod link;
pub mod metrics;
mod namespace;
mod operators;
#[doc = include_str!("../PORTING.md")]
pub mod porting {}
/// The Rust snippets of the deployment guide (`docs/deployment.md`), compiled as doctests.
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../docs/deployment.md")]
mod deployment_guide {}
mod run;
mod server;
mod socket;

pub use config::{Config, ConnectionStateRecovery, ParserKind, ServeClient};
pub use conn::{ClientHandle, Conn, EngineData, EnginePacket, EnginePacketType};
pub use engineio_server::{self as engine, shutdown_signal, ConfigError, Cors, CorsOrigin};
pub use error::{AckError, BroadcastAckError, ConnectError, EmitError, ListenerError, SocketError};
pub use handshake::Handshake;
pub use link::ServerAck;
pub use namespace::{Namespace, NamespaceRequest, ParentBroadcastOperator, ParentNamespace, WeakNamespace};
pub use operators::{BroadcastOperator, IntoRooms, RemoteSocket};
pub use server::{Builder, SocketIo, WeakSocketIo};
pub use socket::{AckFuture, AckResponse, AckSender, Emitter, Event, Listener, Socket};
pub use socketio_adapter::{self as adapter, Room, ServerSideAckError};
pub use socketio_parser::connection::DisconnectReason;
pub use socketio_parser::Spread;
pub use socketio_parser::{Bytes, Payload, PayloadError, Value};

/// The plumbing between this crate and the crates under it: types that appear in signatures
/// (the Engine.IO handler behind [`SocketIo::engine`] and [`SocketIo::layer`], its per-connection
/// state and commands, the packet an [`adapter`] hands to sockets) but that ordinary code never
/// names.
///
/// Writing an adapter is where they come up: [`Socket`]'s
/// [`LocalSocket::Encoded`](adapter::LocalSocket::Encoded) is an [`EncodedPacket`](internals::EncodedPacket).
///
/// ```
/// use socketio_server::adapter::LocalSocket;
/// use socketio_server::internals::EncodedPacket;
/// use socketio_server::Socket;
///
/// fn encoded_once(_: &<Socket as LocalSocket>::Encoded) {}
/// let accepts: fn(&EncodedPacket) = encoded_once;
/// # let _ = accepts;
/// ```
pub mod internals {
    pub use crate::client::ClientCommand;
    pub use crate::server::{AdapterFactory, ClientState, SocketIoHandler};
    pub use socketio_parser::EncodedPacket;
}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The workspace README's code blocks, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// This crate's own README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
