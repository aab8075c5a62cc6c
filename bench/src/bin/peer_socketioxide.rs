//! The benchmark's Rust peer: socketioxide 0.18.9 in an axum application, with the load
//! generator's event contract on `/`:
//!
//! * `echo`: acknowledged with its single argument (JSON or binary);
//! * `bcast`: its argument is sent to every socket of `/` as `bcast`;
//! * `count`: acknowledged with the number of sockets of `/`.
//!
//! ```text
//! cargo run --release -p bench --bin peer_socketioxide -- --port 3000
//! ```

use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = bench::port_arg()?;
    // The same limits as the other peers: 1 MB messages.
    let (layer, io) = SocketIo::builder().max_payload(1_000_000).max_buffer_size(10_000).build_layer();
    let handle = io.clone();
    io.ns("/", async move |socket: SocketRef| {
        socket.on("echo", async |ack: AckSender, Data::<rmpv::Value>(value)| {
            let _ = ack.send(&value);
        });
        let io = handle.clone();
        socket.on("bcast", async move |Data::<rmpv::Value>(value)| {
            let _ = io.emit("bcast", &value).await;
        });
        let io = handle.clone();
        socket.on("count", async move |ack: AckSender| {
            let _ = ack.send(&io.sockets().len());
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("socketioxide listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await
}
