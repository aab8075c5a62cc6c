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
//! # Example
//!
//! ```no_run
//! use socketio_server::{Config, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::new(Config::default());
//! io.on_connection(|socket| async move {
//!     socket.emit("hello", "world").ok();
//!     socket.on("chat", |socket, event| async move {
//!         let text: String = event.arg().unwrap_or_default();
//!         // Everyone else in the namespace gets the message; the sender gets an ack.
//!         socket.broadcast().emit("chat", &(socket.id(), &text)).ok();
//!         event.reply(&"received").ok();
//!     });
//! });
//! io.listen("127.0.0.1:3000").await
//! # }
//! ```
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
//! With the feature `metrics`, the server counts through the `metrics` facade: see [`metrics`].
//!
//! # What it does not do
//!
//! TLS (put a proxy or a TLS-terminating listener in front), JSONP polling and WebTransport.

#[cfg(feature = "admin-ui")]
pub mod admin;
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

pub use client::ClientCommand;
pub use config::{Config, ConnectionStateRecovery, ParserKind, ServeClient};
pub use conn::{ClientHandle, Conn, EngineData, EnginePacket, EnginePacketType};
pub use engineio_server::{self as engine, shutdown_signal, Cors, CorsOrigin};
pub use error::{AckError, BroadcastAckError, ConnectError, EmitError, ListenerError, SocketError};
pub use handshake::Handshake;
pub use link::ServerAck;
pub use namespace::{Namespace, NamespaceRequest, ParentBroadcastOperator, ParentNamespace};
pub use operators::{BroadcastOperator, IntoRooms, RemoteSocket};
pub use server::{AdapterFactory, Builder, ClientState, SocketIo, SocketIoHandler, WeakSocketIo};
pub use socket::{AckFuture, AckResponse, AckSender, Emitter, Event, Listener, Socket};
pub use socketio_adapter::{self as adapter, Room, ServerSideAckError};
pub use socketio_parser::connection::DisconnectReason;
pub use socketio_parser::EncodedPacket;
pub use socketio_parser::Spread;
pub use socketio_parser::{Bytes, Payload, PayloadError, Value};

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
