//! The server the Socket.IO protocol test suite expects (and `cargo run -p conformance --
//! socket.io` drives): heartbeat 300/200 ms, a 1 s connect timeout, CORS open, and
//!
//! * `/`: on connection emits `auth` with the handshake's auth; `message` is sent back as
//!   `message-back` with the same arguments; `message-with-ack` is acknowledged with them;
//! * `/custom`: on connection emits `auth`.
//!
//! ```text
//! cargo run -p socketio-server --example protocol_suite -- --port 3000 [--allow-eio3] [--msgpack]
//! ```
//!
//! `tests/it/conformance_suite.rs` runs the conformance runner against [`server`].

use std::time::Duration;

use socketio_server::{Config, Cors, Socket, SocketIo, Spread};

/// The contract's settings; `allow_eio3` also accepts Engine.IO v3 (Socket.IO 2) clients.
pub fn config(allow_eio3: bool) -> Config {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(200);
    config.engine.max_payload = 1_000_000;
    config.engine.cors = Some(Cors::default());
    config.engine.allow_eio3 = allow_eio3;
    config.connect_timeout = Duration::from_millis(1000);
    config
}

/// The contract's handlers on a server built from `config`.
pub fn server(config: Config) -> SocketIo {
    let io = SocketIo::new(config);
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("auth", socket.auth());
        socket.on("message", |socket, event| async move {
            if let Ok(args) = event.values() {
                let _ = socket.emit("message-back", &Spread(args));
            }
        });
        socket.on("message-with-ack", |_, event| async move {
            if let Ok(args) = event.values() {
                let _ = event.reply(&Spread(args));
            }
        });
    });
    io.of("/custom").on_connection(|socket: Socket| async move {
        let _ = socket.emit("auth", socket.auth());
    });
    io
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let mut port = 3000u16;
    let mut allow_eio3 = false;
    let mut msgpack = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            "--allow-eio3" => allow_eio3 = true,
            "--msgpack" => msgpack = true,
            other => eprintln!("unknown argument {other}"),
        }
    }
    #[allow(unused_mut)]
    let mut config = config(allow_eio3);
    if msgpack {
        #[cfg(feature = "msgpack")]
        {
            config.parser = socketio_server::ParserKind::MsgPack;
        }
        #[cfg(not(feature = "msgpack"))]
        {
            eprintln!(
                "--msgpack needs the `msgpack` feature: cargo run -p socketio-server --features msgpack ..."
            );
            std::process::exit(2);
        }
    }
    println!("listening on http://127.0.0.1:{port}");
    let io = server(config);
    io.listen_until(("127.0.0.1", port), async {
        match socketio_server::shutdown_signal().await {
            Ok(signal) => println!("{signal}: closing"),
            Err(e) => eprintln!("cannot wait for a signal ({e}): closing"),
        }
    })
    .await
}
