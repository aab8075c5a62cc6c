//! Server options, with the reference server's defaults.

use std::time::Duration;

use socketio_parser::DecoderConfig;

/// The wire format of Socket.IO packets; every client of a server must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParserKind {
    /// The default parser (`socket.io-parser`): text packets, binary data as attachments.
    #[default]
    Default,
    /// `socket.io-msgpack-parser`: one binary message per packet (feature `msgpack`).
    #[cfg(feature = "msgpack")]
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
    /// Remove a child namespace of a dynamic namespace when its last socket leaves (false).
    pub cleanup_empty_child_namespaces: bool,
    /// Serve the browser client bundle (`socket.io.js`, `socket.io.min.js`,
    /// `socket.io.esm.min.js`, `socket.io.msgpack.min.js` and their source maps) under the
    /// server's path from this folder: the `dist` folder of the `socket.io-client` npm package
    /// (off by default; the reference's `serveClient`).
    pub serve_client: Option<std::path::PathBuf>,
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
            cleanup_empty_child_namespaces: false,
            serve_client: None,
        }
    }
}

impl Config {
    pub(crate) fn decoder(&self) -> DecoderConfig {
        DecoderConfig { max_attachments: self.max_attachments, max_depth: self.max_depth }
    }
}
