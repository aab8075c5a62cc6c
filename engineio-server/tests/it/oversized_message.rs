//! A message over `max_payload` (1 000 bytes here) ends only the client that sent it: a WebSocket
//! is closed with 1009 (session closed with `transport error`), a polling POST gets 413 and the
//! session lives on, as in the reference. Other clients keep echoing.

use crate::support;

use engineio_parser::{CloseReason, ProtocolVersion, Transport};
use engineio_server::Config;
use serde_json::json;
use support::{check_echo, get, polling_handshake, post, text, Seen, TestServer};

fn small_payload() -> Config {
    Config { max_payload: 1000, ..Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_websocket_message_closes_only_that_client_with_1009() {
    let mut server = TestServer::start(small_payload()).await;
    let messages: Vec<_> = (0..5).map(|i| json!({"t": "text", "v": format!("still here {i}")})).collect();
    let mut node = server.node(json!([
        {"name": "bystander", "mode": "echo", "messages": messages, "sendAfter": "big:close"},
        {"name": "big", "mode": "oversize", "transports": ["websocket"],
         "big": {"t": "bigtext", "len": 5000}, "startAfter": "bystander:open"},
    ]));
    let transcript = node.done().await;

    assert_eq!(transcript.get("big", "echo")["data"]["text"], "small");
    let close = transcript.get("big", "close");
    assert_eq!(close["reason"], "transport close", "{close}");
    assert_eq!(close["detail"]["code"], 1009, "the WebSocket is closed with 1009: {close}");
    let big = transcript.get("big", "open")["sid"].as_str().expect("sid").to_owned();
    assert_eq!(server.seen.close_reason(&big).await, CloseReason::TransportError);
    let received = server.seen.messages(&big);
    assert_eq!(received.len(), 1, "only the small message reached the application");
    assert_eq!(text(&received[0].0), "small");

    let bystander =
        check_echo(&mut server, &transcript, "bystander", &messages, Transport::Polling, ProtocolVersion::V4);
    assert_eq!(server.seen.close_reason(&bystander).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_polling_post_gets_413_and_the_session_survives() {
    let mut server = TestServer::start(small_payload()).await;
    let sid = polling_handshake(server.addr).await;
    let other = polling_handshake(server.addr).await;
    let query = |sid: &str| format!("EIO=4&transport=polling&sid={sid}");

    let big = format!("4{}", "x".repeat(5000));
    let response = post(server.addr, &query(&sid), big.as_bytes()).await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.body.is_empty(), "{response:?}");
    assert_eq!(server.engine.clients_count(), 2, "no session was closed");

    // The same session still carries messages both ways.
    let response = post(server.addr, &query(&sid), b"4after").await;
    assert_eq!((response.status, response.body_text().as_str()), (200, "ok"));
    let response = get(server.addr, &query(&sid)).await;
    assert_eq!((response.status, response.body_text().as_str()), (200, "4after"));
    // And so does the other one.
    let response = post(server.addr, &query(&other), b"4other").await;
    assert_eq!((response.status, response.body_text().as_str()), (200, "ok"));
    let response = get(server.addr, &query(&other)).await;
    assert_eq!((response.status, response.body_text().as_str()), (200, "4other"));

    let seen = server.seen.all();
    assert!(!seen.iter().any(|s| matches!(s, Seen::Close { .. })), "no session closed: {seen:?}");
    let received: Vec<String> = server.seen.messages(&sid).iter().map(|(d, _)| text(d).to_owned()).collect();
    assert_eq!(received, ["after"], "the oversized message was not delivered");
    assert_eq!(server.engine.clients_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_over_polling_sees_the_413() {
    let mut server = TestServer::start(small_payload()).await;
    let messages: Vec<_> = (0..3).map(|i| json!({"t": "text", "v": format!("still here {i}")})).collect();
    let mut node = server.node(json!([
        {"name": "bystander", "mode": "echo", "transports": ["polling"], "messages": messages,
         "sendAfter": "big:close"},
        {"name": "big", "mode": "oversize", "transports": ["polling"],
         "big": {"t": "bigtext", "len": 5000}, "startAfter": "bystander:open"},
    ]));
    let transcript = node.done().await;

    assert_eq!(transcript.get("big", "echo")["data"]["text"], "small");
    let error = transcript.get("big", "error");
    assert_eq!(error["message"], "xhr post error", "{error}");
    assert_eq!(error["description"], 413, "{error}");
    assert_eq!(transcript.get("big", "close")["reason"], "transport error");
    let big = transcript.get("big", "open")["sid"].as_str().expect("sid").to_owned();
    let received = server.seen.messages(&big);
    assert_eq!(received.len(), 1, "only the small message reached the application");
    // The server kept the session through the 413; it ends when the client, which gives up on
    // its side, posts its `close` packet.
    assert_eq!(server.seen.close_reason(&big).await, CloseReason::TransportClose);

    let bystander =
        check_echo(&mut server, &transcript, "bystander", &messages, Transport::Polling, ProtocolVersion::V4);
    assert_eq!(server.seen.close_reason(&bystander).await, CloseReason::TransportClose);
    node.finish().await;
}
