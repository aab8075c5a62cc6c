//! The client's address behind axum: with `io.layer()` in a router served by
//! `into_make_service_with_connect_info::<SocketAddr>()`, `handshake().address` is the peer's
//! (read from axum's `ConnectInfo`), over polling, WebSocket and the upgrade.

use crate::support;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use serde_json::json;
use socketio_server::{Config, SocketIo};
use support::{ensure_clients, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_with_connect_info_reports_the_client_address() {
    ensure_clients();
    let io = SocketIo::new(Config::default());
    io.on_connection(|socket| async move {
        let address = socket.handshake().address;
        let _ = socket.emit("address", &address);
    });
    let app = Router::new().route("/", get(|| async { "hello" })).layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let serve = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    });

    let mut node = Node::spawn(
        "client_address",
        &url,
        json!([
            {"name": "polling", "transports": ["polling"]},
            {"name": "websocket", "transports": ["websocket"]},
            {"name": "upgrade"},
        ]),
    );
    for client in ["polling", "websocket", "upgrade"] {
        let event = node.received(client, "address").await;
        assert_eq!(event["args"], json!(["127.0.0.1"]), "{client}: {event}");
    }
    node.exit().await;
    serve.abort();
}
