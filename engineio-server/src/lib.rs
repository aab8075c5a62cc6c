//! An Engine.IO server (protocol revisions 4 and 3) over tokio and hyper: HTTP long-polling,
//! WebSocket, and the upgrade from one to the other.
//!
//! Every protocol decision is made by the sans-IO machines of [`engineio_parser`]: the
//! endpoint's routing, the [`Session`](engineio_parser::Session) machine, and the WebSocket
//! [`Connection`](engineio_parser::ws::Connection) machine. This crate moves bytes and fires
//! timers. Each session runs in one task, a driver that owns the session machine, the requests
//! waiting for an answer, the WebSocket and the [`Handler`]'s state, and repeats the drive loop
//! of [`engineio_parser`'s docs](engineio_parser#drive-loop):
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
//! # Options and hooks
//!
//! [`Config`] holds the reference server's options (heartbeat, limits, transports, [`Cors`]
//! with origins as a list, [`OriginPattern`]s or an [`OriginPredicate`] and exposed headers,
//! the sticky-session [`Cookie`] with its `domain` and `expires`, [`TrustProxy`] for the
//! client's address behind reverse proxies); [`Builder`] adds the hooks (`allow_request`,
//! `initial_headers`, `headers`, `generate_id`, `on_connection_error`).
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
//! # Example: an echo server
//!
//! ```no_run
//! use std::sync::Arc;
//! use engineio_server::{Config, EngineIo, Handler, Socket};
//! use engineio_parser::{CloseReason, Data, Packet};
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
//!         let _ = socket.send(Packet::message_data(data));
//!     }
//!     fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! EngineIo::new(Config::default(), Echo).listen("127.0.0.1:3000").await
//! # }
//! ```

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
    OriginPattern, OriginPredicate, TrustProxy,
};
pub use server::{
    generate_id, BoxFuture, Builder, ConnectionError, EngineIo, Handler, Outbox, ResponseBody, WeakEngineIo,
};
pub use service::{remote_addr, EngineIoLayer, EngineIoService};
pub use signal::shutdown_signal;
pub use socket::{Closed, Handshake, Socket};

/// The WebSocket codec, re-exported from [`engineio_parser::ws`].
pub use engineio_parser::ws;
/// A packet's data, for [`Config::initial_packet`] and the [`Handler`] hooks.
pub use engineio_parser::Data;

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
