//! Socket.IO inside an axum application: the layer serves `/socket.io/` and every other path
//! reaches the router, whose handlers can broadcast through the server.
//!
//! ```sh
//! cargo run -p socketio-server --example axum
//! ```

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use socketio_server::{Config, SocketIo};

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
