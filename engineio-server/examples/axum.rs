//! Engine.IO inside an axum application: the layer serves `/engine.io/` and every other path
//! reaches the router.
//!
//! ```sh
//! cargo run -p engineio-server --example engineio_axum -- --port 3000
//! ```
//!
//! SIGINT or SIGTERM closes every session before the process exits.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use engineio_server::{CloseReason, Config, Data, EngineIo, EngineIoLayer, Handler, Packet, Socket};

struct Echo;

impl Handler for Echo {
    type Connection = Arc<Socket>;
    type Command = ();

    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        socket
    }

    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = socket.send(Packet::message_data(data));
    }

    fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineIo::new(Config::default(), Echo);
    let app = Router::new()
        .route("/", get(|| async { "hello from axum" }))
        .layer(EngineIoLayer::new(engine.clone()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port_arg())).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // SIGINT or SIGTERM: every session is closed (clients get a close) before the process exits.
    let shutdown = engine.close_after(async {
        if let Ok(signal) = engineio_server::shutdown_signal().await {
            println!("{signal}: closing");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// `--port N` (3000 by default).
fn port_arg() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|pair| pair[0] == "--port").and_then(|pair| pair[1].parse().ok()).unwrap_or(3000)
}
