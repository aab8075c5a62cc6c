//! Security advisories whose triggers are network input to the Engine.IO server: each must close
//! (or refuse) only the offending connection while the server and its other clients carry on.

use std::sync::Arc;
use std::time::Duration;

use engineio_parser::{CloseReason, Data, Packet, PacketType};
use engineio_server::{Config, EngineIo, Handler, Socket};
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

const LIMIT: Duration = Duration::from_secs(10);

const UPGRADE: &str = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

async fn server() -> (EngineIo<Echo>, std::net::SocketAddr) {
    let engine = EngineIo::new(Config::default(), Echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(engine.clone().serve(listener));
    (engine, addr)
}

/// Everything the server sends until it closes the connection (or the limit passes).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(LIMIT, stream.read_to_end(&mut out)).await;
    out
}

/// A masked client text frame.
fn client_text(text: &str) -> Vec<u8> {
    let mask = [9u8, 8, 7, 6];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A healthy client: connects over WebSocket, sends `4ping me`, expects the echo.
async fn healthy_client_echoes(addr: std::net::SocketAddr) {
    let mut ws = TcpStream::connect(addr).await.expect("connects");
    ws.write_all(UPGRADE.as_bytes()).await.expect("writes");
    ws.write_all(&client_text("4ping me")).await.expect("writes");
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.windows(7).any(|w| w == b"4ping m") {
        let n = tokio::time::timeout(LIMIT, ws.read(&mut chunk)).await.expect("in time").expect("reads");
        assert!(n > 0, "the healthy client was closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn reserved_bits_right_after_the_101_close_only_that_connection() {
    // CVE-2022-21676: invalid frame data right after the upgrade crashed the reference.
    let (engine, addr) = server().await;
    let mut bad = TcpStream::connect(addr).await.expect("connects");
    bad.write_all(UPGRADE.as_bytes()).await.expect("writes");
    // RSV2 and RSV3 set, masked, 2-byte payload.
    bad.write_all(&[0xb1, 0x82, 1, 2, 3, 4, 0x35, 0x30]).await.expect("writes");
    let answer = read_until_closed(&mut bad).await;
    assert!(answer.starts_with(b"HTTP/1.1 101"));
    // A close frame with 1002 (protocol error) ends it.
    assert!(answer.windows(4).any(|w| w == [0x88, 0x02, 0x03, 0xea]), "{answer:?}");
    healthy_client_echoes(addr).await;
    assert!(engine.clients_count() <= 1);
}

#[tokio::test]
async fn garbage_in_the_upgrade_requests_trailing_bytes_is_refused() {
    // The same advisory, with the invalid bytes sent in the same write as the upgrade request.
    let (_engine, addr) = server().await;
    let mut bad = TcpStream::connect(addr).await.expect("connects");
    let mut request = UPGRADE.as_bytes().to_vec();
    request.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    bad.write_all(&request).await.expect("writes");
    let answer = read_until_closed(&mut bad).await;
    assert!(answer.starts_with(b"HTTP/1.1 101"));
    assert!(answer.windows(2).any(|w| w == [0x88, 0x02]), "no close frame: {answer:?}");
    healthy_client_echoes(addr).await;
}

#[tokio::test]
async fn an_unhandled_upgrade_then_a_reset_leaves_the_server_alone() {
    // CVE-2022-41940: an upgrade the server does not handle (h2c on another path), then a reset.
    let (_engine, addr) = server().await;
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        s.write_all(b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
            .await
            .expect("writes");
        // Drop with unread data: the kernel resets the connection.
        s.set_zero_linger().expect("linger");
        drop(s);
    }
    healthy_client_echoes(addr).await;
}

#[tokio::test]
async fn a_prototype_named_transport_on_an_upgrade_is_refused() {
    // CVE-2023-31125: `transport=__proto__` on a WebSocket upgrade crashed the reference.
    let (_engine, addr) = server().await;
    for transport in ["__proto__", "constructor", "toString"] {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        let request = UPGRADE.replace("transport=websocket", &format!("transport={transport}"));
        s.write_all(request.as_bytes()).await.expect("writes");
        let answer = String::from_utf8_lossy(&read_until_closed(&mut s).await).into_owned();
        assert!(answer.starts_with("HTTP/1.1 400"), "{transport}: {answer}");
        assert!(answer.ends_with("Transport unknown"), "{transport}: {answer}");
    }
    healthy_client_echoes(addr).await;
}
