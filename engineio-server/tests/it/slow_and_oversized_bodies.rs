//! Long-polling POST bodies a hostile or broken client sends: a `Content-Length` over
//! `max_payload` is answered `413` before any of the body is read; a body that stops arriving
//! is answered `408` at `body_read_timeout` and its connection closed (the session closes, as
//! for any request whose client went away); a body sent a byte per TCP segment arrives intact.

use crate::support;

use std::time::Duration;

use engineio_parser::CloseReason;
use engineio_server::Config;
use support::{get, polling_handshake, text, Seen, TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

fn post_head(sid: &str, content_length: u64) -> String {
    format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

/// Reads until the server closes the connection (at most [`WAIT`]); returns what came.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return raw,
            Ok(Ok(n)) => raw.extend_from_slice(&chunk[..n]),
            Err(_) => panic!(
                "the server neither answered nor closed within {WAIT:?}; got {:?}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
}

fn status_of(raw: &[u8]) -> u16 {
    let head = String::from_utf8_lossy(raw);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

fn header_of<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_over_max_payload_gets_413_before_the_body_is_sent() {
    let server = TestServer::start(Config::default()).await;
    let sid = polling_handshake(server.addr).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    // The headers only: the answer must not wait for a terabyte.
    stream.write_all(post_head(&sid, 1_000_000_000_000).as_bytes()).await.expect("write");
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(status_of(&raw), 413, "{:?}", String::from_utf8_lossy(&raw));
    assert_eq!(server.engine.clients_count(), 1, "the session lives on, as in the reference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408_and_its_connection_closed() {
    let mut server =
        TestServer::start(Config { body_read_timeout: Duration::from_millis(300), ..Config::default() })
            .await;
    let sid = polling_handshake(server.addr).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(post_head(&sid, 100).as_bytes()).await.expect("write");
    stream.write_all(b"4").await.expect("write");
    let raw = read_until_closed(&mut stream).await;
    let answer = String::from_utf8_lossy(&raw).into_owned();
    assert_eq!(status_of(&raw), 408, "{answer:?}");
    assert_eq!(header_of(&answer, "connection"), Some("close"), "{answer:?}");
    // The session went with its request, as when a client vanishes mid-body.
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportError);
    let after = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(after.status, 400, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_a_byte_per_segment_arrives_intact() {
    let mut server = TestServer::start(Config::default()).await;
    let sid = polling_handshake(server.addr).await;
    let messages: Vec<String> = (0..20).map(|i| format!("4message {i} {}", "x".repeat(i * 10))).collect();
    let body = messages.join("\x1e");
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(post_head(&sid, body.len() as u64).as_bytes()).await.expect("write");
    for byte in body.as_bytes() {
        stream.write_all(std::slice::from_ref(byte)).await.expect("write a byte");
    }
    let mut raw = [0u8; 1024];
    let n = timeout(WAIT, stream.read(&mut raw)).await.expect("answered in time").expect("read");
    let response = String::from_utf8_lossy(&raw[..n]).into_owned();
    assert_eq!(status_of(response.as_bytes()), 200, "{response:?}");
    assert!(response.ends_with("ok"), "{response:?}");
    let last = messages.last().expect("messages")[1..].to_owned();
    server
        .seen
        .wait_for("the last message", |s| matches!(s, Seen::Message { data, .. } if text(data) == last))
        .await;
    let received: Vec<String> =
        server.seen.messages(&sid).iter().map(|(data, _)| text(data).to_owned()).collect();
    let sent: Vec<String> = messages.iter().map(|m| m[1..].to_owned()).collect();
    assert_eq!(received, sent);
}
