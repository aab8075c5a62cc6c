//! Handing over a connection whose WebSocket handshake the application answered itself.

use std::sync::Arc;
use std::time::Duration;

use engineio_parser::{CloseReason, Data, Packet, PacketType};
use engineio_server::{ws, Config, EngineIo, Handler, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Reads an HTTP request head from `stream`, answers `101` and returns the request.
async fn answer_handshake(stream: &mut TcpStream) -> http::request::Parts {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("reads the head");
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).expect("request line").to_owned();
    let mut builder = http::Request::builder().method("GET").uri(target);
    let mut key = String::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(": ").expect("header");
        if name.eq_ignore_ascii_case("sec-websocket-key") {
            key = value.to_owned();
        }
        builder = builder.header(name, value);
    }
    let accept = ws::accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await.expect("writes 101");
    builder.body(()).expect("valid request").into_parts().0
}

/// A masked client text frame.
fn client_text(text: &str) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one unmasked server text frame (payload under 126 bytes).
async fn server_text(stream: &mut TcpStream) -> String {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.expect("frame header");
    assert_eq!(header[0], 0x81, "a final text frame");
    let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.expect("payload");
    String::from_utf8(payload).expect("UTF-8")
}

#[tokio::test]
async fn a_websocket_answered_elsewhere_becomes_a_session() {
    let engine = EngineIo::new(Config::default(), Echo);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    let server = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let (mut stream, remote) = listener.accept().await.expect("accepts");
            let parts = answer_handshake(&mut stream).await;
            engine.accept_websocket(&parts, stream, Some(remote)).await
        })
    };
    let mut client = TcpStream::connect(addr).await.expect("connects");
    client
        .write_all(
            b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("writes");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).await.expect("reads");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let result =
        tokio::time::timeout(Duration::from_secs(10), server).await.expect("in time").expect("joins");
    assert_eq!(result, Ok(()));
    let open =
        tokio::time::timeout(Duration::from_secs(10), server_text(&mut client)).await.expect("in time");
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    assert_eq!(engine.clients_count(), 1);
    client.write_all(&client_text("4echo me")).await.expect("writes");
    let echo =
        tokio::time::timeout(Duration::from_secs(10), server_text(&mut client)).await.expect("in time");
    assert_eq!(echo, "4echo me");
}

#[tokio::test]
async fn a_refused_hand_over_gets_a_close_frame() {
    let engine = EngineIo::new(Config::default(), Echo);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    let server = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accepts");
            let parts = answer_handshake(&mut stream).await;
            engine.accept_websocket(&parts, stream, None).await
        })
    };
    let mut client = TcpStream::connect(addr).await.expect("connects");
    // An unknown session id.
    client
        .write_all(
            b"GET /engine.io/?EIO=4&transport=websocket&sid=nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("writes");
    let result =
        tokio::time::timeout(Duration::from_secs(10), server).await.expect("in time").expect("joins");
    assert_eq!(result.map_err(|e| e.code), Err(engineio_parser::ErrorCode::UnknownSid));
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut rest)).await;
    // The 101, then a close frame with 1008.
    let close = rest.windows(4).position(|w| w == [0x88, 0x02, 0x03, 0xf0]);
    assert!(close.is_some(), "{rest:?}");
}
