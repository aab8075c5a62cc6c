//! A Socket.IO cluster node: start it several times on one Redis, and clients of every node
//! reach each other (see `node.rs` for the events).
//!
//! ```sh
//! redis-server --port 6379 &
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=3000 cargo run -p socketio-server --features redis --example cluster
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=3001 cargo run -p socketio-server --features redis --example cluster
//! ```
//!
//! Environment: `REDIS_URL` (default `redis://127.0.0.1:6379/`), `PORT` (default 3000),
//! `NODE_NAME` (default `node-<PORT>`), `HOST` (default `127.0.0.1`), `TRUST_PROXY` (none by
//! default: the reverse proxies whose `X-Forwarded-For` tells the client's address, as
//! addresses or CIDR ranges separated by commas, `127.0.0.1` or `10.0.0.0/8,::1`), `COOKIE`
//! (none by default: the name of the sticky-session cookie set on each handshake, `io` for
//! HAProxy's `cookie io prefix`), `RUST_LOG`.
//!
//! Behind a load balancer, HTTP long-polling needs sticky sessions (every request of an
//! Engine.IO session on the node that holds it: hash on the client's address, or a cookie that
//! names the node). Clients that use WebSocket only (`transports: ["websocket"]`) need no
//! stickiness. Node.js nodes with `@socket.io/redis-adapter` 8.3 can join the same cluster.
//! `docs/deployment.md` puts these nodes behind nginx, Caddy or HAProxy.

mod node;

use std::process::ExitCode;

use socketio_server::engine::{Cookie, ForwardedHeader, TrustProxy};
use socketio_server::Config;
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
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| format!("PORT is not a port number: {port}"))?,
        Err(_) => 3000,
    };
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let name = std::env::var("NODE_NAME").unwrap_or_else(|_| format!("node-{port}"));
    let mut config = Config::default();
    if let Ok(proxies) = std::env::var("TRUST_PROXY") {
        config.engine.trust_proxy = Some(trust_proxy(&proxies)?);
    }
    if let Ok(name) = std::env::var("COOKIE") {
        config.engine.cookie = Some(Cookie { name, ..Cookie::default() });
    }
    let (io, redis) = node::node(&name, &redis_url, config).await?;
    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    info!(node = %name, redis = %redis_url, "Socket.IO on http://{addr}/socket.io/ (Ctrl-C or SIGTERM stops it)");
    let server = io.clone();
    let serve = tokio::spawn(async move { server.serve(listener).await });
    match socketio_server::shutdown_signal().await {
        Ok(signal) => info!(signal, "shutting down"),
        Err(e) => error!("cannot wait for signals ({e}): shutting down"),
    }
    io.close().await;
    redis.shutdown();
    match serve.await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the server task failed: {e}")),
    }
}

/// `TRUST_PROXY`: addresses or CIDR ranges separated by commas, trusted to write
/// `X-Forwarded-For`.
fn trust_proxy(list: &str) -> Result<TrustProxy, String> {
    let proxies = list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.parse().map_err(|e| format!("TRUST_PROXY: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if proxies.is_empty() {
        return Err("TRUST_PROXY is set but names no address".to_owned());
    }
    Ok(TrustProxy { proxies, header: ForwardedHeader::XForwardedFor })
}
