//! A Socket.IO server whose metrics (the `metrics` feature) are served in the Prometheus text
//! format on `GET /metrics`, by a route of the same axum application: no second listener.
//!
//! ```sh
//! cargo run -p socketio-server --features metrics --example metrics -- --port 3000
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! SIGINT or SIGTERM disconnects every client (`server shutting down`) before the process exits.

mod app;

use socketio_server::shutdown_signal;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let metrics = app::install_recorder().map_err(std::io::Error::other)?;
    let io = app::socketio();
    let router = app::router(&io, metrics);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port_arg())).await?;
    println!("listening on http://{}, metrics on /metrics", listener.local_addr()?);
    let shutdown = async move {
        if let Ok(signal) = shutdown_signal().await {
            println!("{signal}: closing");
        }
        io.close().await;
    };
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// `--port N` (3000 by default).
fn port_arg() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|pair| pair[0] == "--port").and_then(|pair| pair[1].parse().ok()).unwrap_or(3000)
}
