//! A chat server with its web page: nicknames, channels, typing indicators, join and leave
//! notices, acknowledged messages and a connection indicator, over Socket.IO in an axum app.
//!
//! ```sh
//! cargo run -p socketio-server --example chat            # then open http://127.0.0.1:3000
//! cargo run -p socketio-server --example chat -- --port 8080
//! RUST_LOG=debug cargo run -p socketio-server --example chat
//! ```
//!
//! The page (`static/`) is compiled in; the browser client is the npm `socket.io-client` that
//! `package.json` pins, installed with `npm ci` on the first run (Node.js and npm are needed
//! once) and served by the Socket.IO server itself at `/socket.io/socket.io.min.js`.
//! Open `/?transport=polling` to keep a page on HTTP long-polling.

mod server;

use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port = port()?;
    info!(folder = %server::npm_dir().display(), "checking the browser client (npm ci on the first run)");
    let dist = tokio::task::spawn_blocking(server::install_client)
        .await
        .map_err(|e| format!("the npm install did not finish: {e}"))??;
    let (io, app) = server::app(dist);
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    info!("chat on http://{addr}/ (Ctrl-C or SIGTERM stops it)");
    let shutdown = async move {
        match socketio_server::shutdown_signal().await {
            Ok(signal) => info!(signal, "shutting down"),
            Err(e) => error!("cannot wait for signals ({e}): shutting down"),
        }
        io.close().await;
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| e.to_string())
}

/// `--port N` (3000 by default).
fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 3000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args.next().and_then(|p| p.parse().ok()).ok_or("--port needs a port number")?;
            }
            other => return Err(format!("unknown argument {other} (usage: chat [--port N])")),
        }
    }
    Ok(port)
}
