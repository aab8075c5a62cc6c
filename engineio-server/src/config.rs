//! Server options, with the reference server's defaults.

use std::time::Duration;

pub use engineio_parser::endpoint::Transports;
pub use engineio_parser::forwarded::{ForwardedHeader, IpNet, TrustProxy};
use engineio_parser::http::normalize_path;
pub use engineio_parser::http::{Cookie, Cors, CorsOrigin, HttpCompression, OriginPattern, OriginPredicate};
use engineio_parser::options::check_path;
pub use engineio_parser::options::{Checker, ConfigError, InvalidOption};
use engineio_parser::{EndpointConfig, SessionConfig};

/// Engine.IO server options. `Config::default()` gives the reference server's defaults.
///
/// ```
/// use std::time::Duration;
/// use engineio_server::{Config, Cookie, Cors, CorsOrigin, Transports};
///
/// let config = Config {
///     path: "/realtime".into(),
///     ping_interval: Duration::from_secs(10),
///     ping_timeout: Duration::from_secs(5),
///     max_payload: 100_000,
///     // WebSocket only: no long-polling, so no sticky sessions needed behind a load balancer.
///     transports: Transports { polling: false, websocket: true },
///     cors: Some(Cors { origin: CorsOrigin::List(vec!["https://example.com".into()]), ..Cors::default() }),
///     cookie: Some(Cookie::default()),
///     allow_eio3: true,
///     ..Config::default()
/// };
/// config.validate().expect("every option can work");
///
/// // One error names every option that cannot work.
/// let broken = Config { ping_timeout: Duration::ZERO, max_payload: 0, ..Config::default() };
/// let error = broken.validate().expect_err("two options cannot work");
/// assert!(error.to_string().contains("ping_timeout") && error.to_string().contains("max_payload"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The path requests are served under, matched as a prefix (`/engine.io/`; Socket.IO uses
    /// `/socket.io/`).
    pub path: String,
    /// Normalise `path` to end with `/`, as the reference does by default.
    pub add_trailing_slash: bool,
    /// Time between a pong and the next ping (25 s).
    pub ping_interval: Duration,
    /// How long to wait for a pong (20 s).
    pub ping_timeout: Duration,
    /// How long an upgrade may take (10 s).
    pub upgrade_timeout: Duration,
    /// How long a server-side close of a polling session waits for the client's next poll (30 s).
    pub close_timeout: Duration,
    /// How long [`EngineIo::close`](crate::EngineIo::close) waits for the next poll of a
    /// long-polling client that has none pending, to hand it the `close` packet (2 s; clients
    /// poll again as soon as they have an answer). Zero ends such sessions at once, without
    /// telling their clients, as the reference does.
    pub shutdown_timeout: Duration,
    /// The largest POST body or WebSocket message, in bytes, and the `maxPayload` announced to
    /// clients (1 000 000). Larger bodies get 413; larger WebSocket messages close the
    /// connection with 1009.
    pub max_payload: usize,
    /// The most bytes of packets that may wait for one client (16 MiB). A client that does not
    /// read is disconnected (`transport error`) instead of growing the heap.
    pub max_buffered: usize,
    /// How long a long-polling POST body may take to arrive, from the end of its headers (30 s,
    /// as the reference's HTTP server measured). A slower body is answered with `408` and its
    /// connection closed, and the session closes as for a request whose client went away.
    /// Raise it for large uploads over slow links.
    pub body_read_timeout: Duration,
    /// How long a client may take to send a request's headers on a connection the server
    /// accepted itself ([`EngineIo::listen`](crate::EngineIo::listen), `serve`,
    /// `serve_connection`; 30 s). A slower client's connection is closed. Behind
    /// [`EngineIoLayer`](crate::EngineIoLayer) the application's HTTP server decides.
    pub header_read_timeout: Duration,
    /// How many connections may wait to be accepted on a listener that
    /// [`EngineIo::listen`](crate::EngineIo::listen) opens (1 024; the kernel caps it, at
    /// `net.core.somaxconn` on Linux). A burst of connects larger than the backlog sees some
    /// of them retried by the clients' TCP stacks, a second later.
    pub listen_backlog: u32,
    /// The most frames one WebSocket message may be split into (1 024).
    pub max_ws_fragments: usize,
    /// The enabled transports (polling and WebSocket).
    pub transports: Transports,
    /// Whether polling sessions may upgrade to WebSocket (true).
    pub allow_upgrades: bool,
    /// Whether Engine.IO v3 clients (Socket.IO 2) are accepted (false).
    pub allow_eio3: bool,
    /// Cross-origin resource sharing; off unless configured.
    pub cors: Option<Cors>,
    /// The sticky-session cookie set on the handshake response; off unless configured.
    pub cookie: Option<Cookie>,
    /// Reverse proxies trusted to report the client's address (off: the client's address is
    /// the connection's peer). When the peer is one of `proxies`, the client's address
    /// ([`Handshake::address`](crate::Handshake::address)) is the right-most address of the
    /// configured header (`X-Forwarded-For` or `Forwarded`) that is not a trusted proxy; see
    /// [`TrustProxy::client_ip`].
    pub trust_proxy: Option<TrustProxy>,
    /// gzip/deflate compression of polling responses; on with a 1 024-byte threshold.
    pub http_compression: Option<HttpCompression>,
    /// permessage-deflate on WebSockets; off, as in the reference. When on, each message of at
    /// least `threshold` bytes is compressed on its own (no context takeover either way), so an
    /// idle connection still holds no compression state.
    pub per_message_deflate: Option<crate::ws::DeflateConfig>,
    /// A `message` every session sends first, right after `open` (the reference's
    /// `initialPacket`); none by default. For Engine.IO applications only: a Socket.IO client
    /// would read it as a Socket.IO packet.
    pub initial_packet: Option<crate::Data>,
}

impl Default for Config {
    fn default() -> Self {
        let session = SessionConfig::default();
        Config {
            path: "/engine.io".to_owned(),
            add_trailing_slash: true,
            ping_interval: session.ping_interval,
            ping_timeout: session.ping_timeout,
            upgrade_timeout: session.upgrade_timeout,
            close_timeout: session.close_timeout,
            shutdown_timeout: session.shutdown_timeout,
            max_payload: session.max_payload,
            max_buffered: session.max_buffered,
            body_read_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            listen_backlog: 1024,
            max_ws_fragments: 1024,
            transports: Transports::default(),
            allow_upgrades: true,
            allow_eio3: false,
            cors: None,
            cookie: None,
            trust_proxy: None,
            http_compression: Some(HttpCompression::default()),
            per_message_deflate: None,
            initial_packet: None,
        }
    }
}

impl Config {
    /// The path as requests are matched against it (with the trailing slash if configured).
    pub fn normalized_path(&self) -> String {
        normalize_path(&self.path, self.add_trailing_slash)
    }

    /// The settings of each session.
    pub fn session(&self) -> SessionConfig {
        SessionConfig {
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            upgrade_timeout: self.upgrade_timeout,
            close_timeout: self.close_timeout,
            shutdown_timeout: self.shutdown_timeout,
            max_payload: self.max_payload,
            max_buffered: self.max_buffered,
            allow_upgrades: self.allow_upgrades,
            transports: self.transports,
        }
    }

    /// Checks that every option can work, listing each one that cannot: the session's
    /// ([`SessionConfig::check`]: zero or out-of-range heartbeat values, a zero payload or
    /// buffer limit, ...), a `path` that does not start with `/`, zero read timeouts, backlog
    /// or fragment count, CORS credentials for any origin, a cookie a browser would refuse, a
    /// proxy trust list that trusts nothing. [`EngineIo::new`](crate::EngineIo::new) and the
    /// builder run it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut checker = Checker::new();
        self.check(&mut checker);
        checker.finish()
    }

    /// Records the options that cannot work (see [`validate`](Self::validate)); a server
    /// that holds this configuration checks it under its own name.
    pub fn check(&self, checker: &mut Checker) {
        check_path(checker, "path", &self.path);
        self.session().check(checker);
        checker.at_least_1ms("body_read_timeout", self.body_read_timeout, "reading a POST body");
        checker.at_least_1ms("header_read_timeout", self.header_read_timeout, "reading a request's headers");
        checker.nonzero(
            "listen_backlog",
            self.listen_backlog as usize,
            "no connection could wait to be accepted",
        );
        checker.nonzero("max_ws_fragments", self.max_ws_fragments, "no WebSocket message could be read");
        if let Some(cors) = &self.cors {
            checker.nested("cors", |checker| cors.check(checker));
        }
        if let Some(cookie) = &self.cookie {
            checker.nested("cookie", |checker| cookie.check(checker));
        }
        if let Some(trust_proxy) = &self.trust_proxy {
            checker.nested("trust_proxy", |checker| trust_proxy.check(checker));
        }
    }

    /// The settings of request validation.
    pub fn endpoint(&self) -> EndpointConfig {
        EndpointConfig { transports: self.transports, allow_eio3: self.allow_eio3 }
    }
}
