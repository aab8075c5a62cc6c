//! The tower layer inside an axum application: other routes pass through, Engine.IO polling and
//! the WebSocket upgrade work through axum's server.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use engineio_parser::{CloseReason, Data, Packet, PacketType};
use engineio_server::{Config, EngineIo, EngineIoLayer, Handler, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Echo;

impl Handler for Echo {
    type Connection = Arc<Socket>;
    type Command = ();
    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        socket
    }
    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = socket.send(Packet { kind: PacketType::Message, data });
    }
    fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
}

/// Sends a raw HTTP/1.1 request and returns the whole response (the server closes it).
async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or("")
}

#[tokio::test]
async fn axum_routes_and_engine_io_share_one_server() {
    let engine = EngineIo::new(Config::default(), Echo);
    let app = Router::new()
        .route("/", get(|| async { "hello from axum" }))
        .layer(EngineIoLayer::new(engine.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Another route passes through the layer.
    let response = http(addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(body(&response), "hello from axum");

    // A polling handshake, a message and its echo.
    let response = http(
        addr,
        "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let open = body(&response);
    assert!(open.starts_with("0{\"sid\":\""), "{response}");
    let sid = &open[9..29];
    let post = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 6\r\n\r\n4hello"
    );
    let posted = http(addr, &post).await;
    assert_eq!(body(&posted), "ok", "{posted}");
    let poll = format!(
        "GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(body(&http(addr, &poll).await), "4hello");
    assert_eq!(engine.clients_count(), 1);

    // A WebSocket handshake through axum's server gets the 101 and the open packet.
    let mut ws = TcpStream::connect(addr).await.expect("connects");
    ws.write_all(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("writes");
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    while !received.windows(6).any(|w| w == b"0{\"sid") {
        let n = tokio::time::timeout(Duration::from_secs(10), ws.read(&mut chunk))
            .await
            .expect("in time")
            .expect("reads");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&chunk[..n]);
    }
    assert!(received.starts_with(b"HTTP/1.1 101"));
    assert_eq!(engine.clients_count(), 2);
}
