//! Server options, with the reference server's defaults.

use std::time::Duration;

use engineio_server::config::{Checker, ConfigError};
use socketio_parser::DecoderConfig;

/// The wire format of Socket.IO packets; every client of a server must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParserKind {
    /// The default parser (`socket.io-parser`): text packets, binary data as attachments.
    #[default]
    Default,
    /// `socket.io-msgpack-parser`: one binary message per packet (feature `msgpack`).
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    MsgPack,
}

impl ParserKind {
    pub(crate) fn connection_parser(self) -> socketio_parser::connection::Parser {
        match self {
            ParserKind::Default => socketio_parser::connection::Parser::Json,
            #[cfg(feature = "msgpack")]
            ParserKind::MsgPack => socketio_parser::connection::Parser::MsgPack,
        }
    }
}

/// Socket.IO server options. `Config::default()` gives the reference server's defaults.
///
/// ```
/// use std::time::Duration;
/// use socketio_server::engine::{Cors, CorsOrigin};
/// use socketio_server::{Config, ConnectionStateRecovery};
///
/// let mut config = Config {
///     connect_timeout: Duration::from_secs(10),
///     connection_state_recovery: Some(ConnectionStateRecovery::default()),
///     ..Config::default()
/// };
/// // The Engine.IO options are under `engine`.
/// config.engine.ping_interval = Duration::from_secs(20);
/// config.engine.max_payload = 5_000_000;
/// config.engine.cors = Some(Cors {
///     origin: CorsOrigin::List(vec!["https://example.com".into()]),
///     ..Cors::default()
/// });
/// assert_eq!(config.engine.path, "/socket.io");
/// config.validate().expect("every option can work");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Engine.IO options (ping interval and timeout, `max_payload`, transports, CORS,
    /// `allow_eio3`, ...). Its `path` is the server's path, `/socket.io` by default.
    pub engine: engineio_server::Config,
    /// How long a client may take to join its first namespace before it is closed (45 s).
    pub connect_timeout: Duration,
    /// The packet format (the default parser).
    pub parser: ParserKind,
    /// The most binary attachments one packet may announce (10, as the reference decoder).
    pub max_attachments: usize,
    /// The deepest nesting of arrays and objects a JSON payload may have (128).
    pub max_depth: usize,
    /// The most bytes one binary packet may hold while its attachments arrive: its text part
    /// and the attachments received so far. `None` (the default) is the engine's
    /// `max_payload`. A client that goes past it (say, announces ten attachments and sends
    /// them at `max_payload` each) is disconnected with `parse error` as soon as it does;
    /// raise it for clients that send several large files in one event.
    pub max_binary_packet_size: Option<usize>,
    /// Remove a child namespace of a dynamic namespace when its last socket leaves (false).
    pub cleanup_empty_child_namespaces: bool,
    /// Whether, and from which folder, the browser client bundle (`socket.io.js`,
    /// `socket.io.min.js`, `socket.io.esm.min.js`, `socket.io.msgpack.min.js` and their source
    /// maps) is served under the server's path: on by default, from the `socket.io-client`
    /// npm package the server finds by itself (the reference's `serveClient`). See
    /// [`ServeClient`].
    pub serve_client: ServeClient,
    /// Connection state recovery (off by default; the reference's `connectionStateRecovery`):
    /// a client that lost its connection and comes back in time gets its socket back, with
    /// the same id, rooms and data, and the packets it missed.
    pub connection_state_recovery: Option<ConnectionStateRecovery>,
}

/// Whether, and from which folder, the server serves the browser client bundle under its path
/// (`/socket.io/socket.io.min.js` and the others), as the reference's `serveClient` does.
///
/// The folder is the `dist` folder of the `socket.io-client` npm package; the files' ETag is
/// the package's version, read from the `package.json` next to it. The crate ships no
/// JavaScript: the bundle is read from disk once, when the server is built, and the server logs
/// (`tracing`, target `socketio_server`) where it found it, or why it could not. While serving
/// is on, a request for one of the bundle names that is not there answers `404`; the other
/// paths under the server's path are Engine.IO's.
///
/// ```
/// use socketio_server::{Config, ServeClient};
///
/// // The default: look for an installed `socket.io-client`.
/// assert_eq!(Config::default().serve_client, ServeClient::Find);
/// // From a folder of your own, or not at all.
/// let config = Config { serve_client: ServeClient::Dir("static/socket.io".into()), ..Config::default() };
/// let config = Config { serve_client: ServeClient::Off, ..config };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServeClient {
    /// Not served: every path under the server's path goes to Engine.IO (the reference's
    /// `serveClient: false`).
    Off,
    /// Served from the folder the environment variable `SOCKETIO_CLIENT_DIST` names when it is
    /// set, or else from the first `node_modules/socket.io-client/dist` found in the working
    /// directory or one of its parents, the folders Node.js would look in for
    /// `require("socket.io-client")`. Finding none is not an error: the server says so in a
    /// `debug` log and answers `404` to the bundle names. A variable naming a folder that holds
    /// none of the files is logged as a `warn`ing (the search does not run then).
    #[default]
    Find,
    /// Served from this folder (a `socket.io-client/dist` folder, or a copy of its files). A
    /// folder that holds none of them is logged as a `warn`ing.
    Dir(std::path::PathBuf),
}

impl From<std::path::PathBuf> for ServeClient {
    /// [`ServeClient::Dir`].
    fn from(dir: std::path::PathBuf) -> Self {
        ServeClient::Dir(dir)
    }
}

impl From<&std::path::Path> for ServeClient {
    /// [`ServeClient::Dir`].
    fn from(dir: &std::path::Path) -> Self {
        ServeClient::Dir(dir.to_owned())
    }
}

impl From<bool> for ServeClient {
    /// `true` is [`ServeClient::Find`], `false` is [`ServeClient::Off`], as the reference's
    /// `serveClient(bool)`.
    fn from(on: bool) -> Self {
        if on {
            ServeClient::Find
        } else {
            ServeClient::Off
        }
    }
}

/// The options of connection state recovery.
///
/// With recovery on, every socket gets a private session id (`pid`, sent in the `CONNECT`
/// answer), and every packet that can be replayed (an event without ack, not volatile, to a
/// room, to everyone, or to one socket) gets an offset appended as its last argument. When a
/// socket disconnects for a reason that allows recovery (`transport close`, `transport
/// error`, `ping timeout`, `forced close`, `forced server close`, `server shutting down`), the
/// adapter keeps its session. A client that reconnects with its `pid` and the last offset it
/// saw gets the same socket back ([`Socket::recovered`](crate::Socket::recovered) is true),
/// and the packets it missed, before the `CONNECT` answer.
///
/// The default adapter keeps sessions and packets in memory
/// ([`MemoryAdapter::with_recovery`](socketio_adapter::MemoryAdapter::with_recovery)); a
/// custom adapter must keep them itself or no session is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStateRecovery {
    /// How long a session (and a packet) is kept after the socket disconnected (2 minutes).
    pub max_disconnection_duration: Duration,
    /// A restored socket skips the namespace's connection middlewares (true).
    pub skip_middlewares: bool,
    /// The most packets the default adapter keeps per namespace (100 000); the oldest go first.
    pub max_packets: usize,
    /// The most sessions the default adapter keeps per namespace (100 000); the oldest go first.
    pub max_sessions: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        let kept = socketio_adapter::RecoveryOptions::default();
        ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: kept.max_packets,
            max_sessions: kept.max_sessions,
        }
    }
}

impl ConnectionStateRecovery {
    pub(crate) fn adapter_options(&self) -> socketio_adapter::RecoveryOptions {
        socketio_adapter::RecoveryOptions {
            max_disconnection_duration: self.max_disconnection_duration,
            max_packets: self.max_packets,
            max_sessions: self.max_sessions,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let decoder = DecoderConfig::default();
        Config {
            engine: engineio_server::Config { path: "/socket.io".to_owned(), ..Default::default() },
            connect_timeout: Duration::from_millis(45_000),
            parser: ParserKind::Default,
            max_attachments: decoder.max_attachments,
            max_depth: decoder.max_depth,
            max_binary_packet_size: None,
            cleanup_empty_child_namespaces: false,
            serve_client: ServeClient::Find,
            connection_state_recovery: None,
        }
    }
}

impl Config {
    /// Checks that every option can work, listing each one that cannot: the engine's
    /// ([`engineio_server::Config::validate`], named `engine.…`), a zero `connect_timeout`,
    /// a zero `max_depth` or `max_binary_packet_size`, recovery that keeps nothing or for no
    /// time. [`SocketIo::new`](crate::SocketIo::new) and the builder run it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use socketio_server::Config;
    ///
    /// let mut config = Config::default();
    /// config.engine.ping_interval = Duration::ZERO;
    /// config.engine.path = "socket.io".into();
    /// let error = config.validate().expect_err("two options cannot work");
    /// assert_eq!(
    ///     error.to_string(),
    ///     "invalid configuration: `engine.path` is \"socket.io\", but a request path starts with `/` \
    ///      (as in \"/socket.io\"); `engine.ping_interval` is 0ns, but the heartbeat needs at least 1 ms"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut checker = Checker::new();
        checker.nested("engine", |checker| self.engine.check(checker));
        checker.at_least_1ms("connect_timeout", self.connect_timeout, "joining a first namespace");
        // Unset, the binary packet limit is `engine.max_payload`, checked above.
        let limit = self.max_binary_packet_size.unwrap_or(usize::MAX);
        DecoderConfig { max_binary_packet_size: limit, ..self.decoder() }.check(&mut checker);
        if let Some(recovery) = &self.connection_state_recovery {
            checker.nested("connection_state_recovery", |checker| {
                checker.at_least_1ms(
                    "max_disconnection_duration",
                    recovery.max_disconnection_duration,
                    "keeping a session",
                );
                checker.nonzero("max_packets", recovery.max_packets, "no missed packet could be kept");
                checker.nonzero("max_sessions", recovery.max_sessions, "no session could be kept");
            });
        }
        checker.finish()
    }

    pub(crate) fn decoder(&self) -> DecoderConfig {
        DecoderConfig {
            max_attachments: self.max_attachments,
            max_depth: self.max_depth,
            max_binary_packet_size: self.max_binary_packet_size.unwrap_or(self.engine.max_payload),
        }
    }
}
