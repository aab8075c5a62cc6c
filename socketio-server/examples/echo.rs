//! A Socket.IO echo server: the event contract the load generator and the interop smoke tests
//! drive.
//!
//! * `echo`: acknowledged with the same arguments (JSON or binary), read as values and written
//!   back, as an application's handler reads its arguments;
//! * `echo-raw`: the same, passed back unparsed (the fast path for relaying arguments as they
//!   came);
//! * `bcast`: its arguments are sent to every socket of `/` as `bcast`;
//! * `count`: acknowledged with the number of sockets connected to `/` on this node;
//! * `stats`: acknowledged with `{"clients": <open Engine.IO sessions>, "sockets": <sockets of
//!   "/">}`, what the churn soak (`bench`'s `churn`) checks is reclaimed.
//!
//! SIGINT or SIGTERM closes it gracefully: every client is told (`server shutting down`).
//!
//! ```text
//! cargo run -p socketio-server --example echo -- --port 3000
//! ```
//!
//! The browser client is served at `/socket.io/socket.io.min.js` when an installed
//! `socket.io-client` is found (`SOCKETIO_CLIENT_DIST`, or `node_modules` here or above);
//! `--serve-client DIR` serves it from `DIR`, `--no-serve-client` not at all.

use socketio_server::{shutdown_signal, Config, ServeClient, SocketIo, Spread};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let mut port = 3000u16;
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            "--allow-eio3" => config.engine.allow_eio3 = true,
            "--serve-client" => {
                if let Some(dir) = args.next() {
                    config.serve_client = ServeClient::Dir(dir.into());
                }
            }
            "--no-serve-client" => config.serve_client = ServeClient::Off,
            // How long a shutdown waits for a long-polling client's next poll, in milliseconds.
            "--shutdown-timeout" => {
                if let Some(ms) = args.next().and_then(|ms| ms.parse().ok()) {
                    config.engine.shutdown_timeout = std::time::Duration::from_millis(ms);
                }
            }
            #[cfg(feature = "msgpack")]
            "--msgpack" => config.parser = socketio_server::ParserKind::MsgPack,
            other => eprintln!("unknown argument {other}"),
        }
    }
    let io = server(config);
    println!("listening on http://127.0.0.1:{port}");
    // Until SIGINT or SIGTERM, then every client is told before the process exits.
    io.listen_until(("127.0.0.1", port), async {
        match shutdown_signal().await {
            Ok(signal) => println!("{signal}: closing"),
            Err(e) => eprintln!("cannot wait for a signal ({e}): closing"),
        }
    })
    .await
}

/// A server built from `config` with the contract's handlers (the bench's tests serve it
/// in-process).
pub fn server(config: Config) -> SocketIo {
    let io = SocketIo::new(config);
    let broadcaster = io.clone();
    io.on_connection(move |socket| {
        let io = broadcaster.clone();
        let server = broadcaster.clone();
        async move {
            // The arguments are read as values and written back, as a handler that uses them does.
            socket.on("echo", |_, event| async move {
                if let Ok(args) = event.values() {
                    let _ = event.reply(&Spread(args));
                }
            });
            // The arguments go back as they came, never parsed.
            socket.on("echo-raw", |_, event| async move {
                if let Some(args) = event.raw_args() {
                    let _ = event.reply_raw(args);
                }
            });
            socket.on("bcast", move |_, event| {
                let io = io.clone();
                async move {
                    if let Ok(args) = event.values() {
                        let _ = io.emit("bcast", &Spread(args));
                    }
                }
            });
            socket.on("count", |socket, event| async move {
                let _ = event.reply(&socket.namespace().sockets().len());
            });
            socket.on("stats", move |socket, event| {
                let clients = server.engine().clients_count();
                async move {
                    let sockets = socket.namespace().sockets().len();
                    let _ = event.reply(&serde_json::json!({ "clients": clients, "sockets": sockets }));
                }
            });
        }
    });
    io
}
