//! Socket.IO inside an axum application: the layer serves `/socket.io/` and every other path
//! reaches the router, whose handlers can broadcast through the server.
//!
//! ```sh
//! cargo run -p socketio-server --example axum -- --port 3000
//! ```
//!
//! SIGINT or SIGTERM disconnects every client (`server shutting down`) before the process exits.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use socketio_server::{shutdown_signal, Config, SocketIo};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(Config::default());
    io.on_connection(|socket| async move {
        socket.on("ping", |_, event| async move {
            let _ = event.reply(&"pong");
        });
    });
    let app = Router::new()
        .route("/", get(|| async { "hello from axum" }))
        // `POST /announce` with a text body sends it to every client.
        .route(
            "/announce",
            post(|State(io): State<SocketIo>, body: String| async move {
                match io.emit("announcement", &body) {
                    Ok(()) => "sent",
                    Err(_) => "refused",
                }
            }),
        )
        .with_state(io.clone())
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port_arg())).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // SIGINT or SIGTERM: every client is told (`server shutting down`), queued packets are
    // written and the adapters closed before the process exits.
    let shutdown = io.close_after(async {
        if let Ok(signal) = shutdown_signal().await {
            println!("{signal}: closing");
        }
    });
    // With connect info (and the `axum` feature of socketio-server), every socket's
    // `handshake().address` is its client's address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// `--port N` (3000 by default).
fn port_arg() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|pair| pair[0] == "--port").and_then(|pair| pair[1].parse().ok()).unwrap_or(3000)
}
