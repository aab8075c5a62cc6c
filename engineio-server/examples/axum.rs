//! Engine.IO inside an axum application: the layer serves `/engine.io/` and every other path
//! reaches the router.
//!
//! ```sh
//! cargo run -p engineio-server --example axum
//! ```

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use engineio_parser::{CloseReason, Data, Packet, PacketType};
use engineio_server::{Config, EngineIo, EngineIoLayer, Handler, Socket};

struct Echo;

impl Handler for Echo {
    type Connection = Arc<Socket>;

    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        socket
    }

    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = socket.send(Packet { kind: PacketType::Message, data });
    }

    fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineIo::new(Config::default(), Echo);
    let app = Router::new().route("/", get(|| async { "hello from axum" })).layer(EngineIoLayer::new(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
