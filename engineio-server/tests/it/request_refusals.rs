//! Requests the server refuses, answered like the reference: the error table (codes 0–5) over raw
//! HTTP, WebSocket upgrades refused with 400 and no `101`, and `allow_request` rejections seen by
//! raw requests and by engine.io-client.

use crate::support;

use engineio_server::{Builder, Config};
use serde_json::json;
use support::{get, http, polling_handshake, ws_connect, HttpResponse, TestServer};

fn assert_json_error(response: &HttpResponse, status: u16, body: &str) {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"), "{response:?}");
    assert_eq!(response.body_text(), body, "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_table_over_raw_http() {
    let mut server = TestServer::start(Config::default()).await;
    let addr = server.addr;

    let unknown_transport = get(addr, "EIO=4&transport=carrier-pigeon").await;
    assert_json_error(&unknown_transport, 400, r#"{"code":0,"message":"Transport unknown"}"#);
    let missing_transport = get(addr, "EIO=4").await;
    assert_json_error(&missing_transport, 400, r#"{"code":0,"message":"Transport unknown"}"#);

    let unknown_sid = get(addr, "EIO=4&transport=polling&sid=nope").await;
    assert_json_error(&unknown_sid, 400, r#"{"code":1,"message":"Session ID unknown"}"#);
    let proto_sid = get(addr, "EIO=4&transport=polling&sid=__proto__").await;
    assert_json_error(&proto_sid, 400, r#"{"code":1,"message":"Session ID unknown"}"#);

    let post_handshake = http(addr, "POST", "/engine.io/?EIO=4&transport=polling", &[], b"4hi").await;
    assert_json_error(&post_handshake, 400, r#"{"code":2,"message":"Bad handshake method"}"#);

    let websocket_without_upgrade = get(addr, "EIO=4&transport=websocket").await;
    assert_json_error(&websocket_without_upgrade, 400, r#"{"code":3,"message":"Bad request"}"#);

    let eio3 = get(addr, "EIO=3&transport=polling").await;
    assert_json_error(&eio3, 400, r#"{"code":5,"message":"Unsupported protocol version"}"#);

    // A WebSocket upgrade naming an unknown session: 400, never 101.
    let refused = ws_connect(addr, "/engine.io/?EIO=4&transport=websocket&sid=nope")
        .await
        .err()
        .expect("the upgrade is refused");
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(refused.body_text(), "Session ID unknown", "{refused:?}");
    assert_eq!(refused.header("content-type"), Some("text/html"), "{refused:?}");
    assert_eq!(refused.header("connection"), Some("close"), "{refused:?}");
    let refused = ws_connect(addr, "/engine.io/?EIO=4&transport=__proto__").await.err().expect("refused");
    assert_eq!(refused.status, 400, "{refused:?}");

    // A session's transport must match unless the request is an upgrade.
    let sid = polling_handshake(addr).await;
    let mismatch = get(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    assert_json_error(&mismatch, 400, r#"{"code":3,"message":"Bad request"}"#);

    assert_eq!(server.engine.clients_count(), 1, "only the valid handshake opened a session");
    assert_eq!(server.seen.opened().len(), 1);
}

fn refusing_server() -> Builder {
    Builder::new(Config::default()).allow_request(|_parts| async { Err(Some("nope".to_owned())) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_request_refusal_is_403_over_polling_and_400_on_upgrade() {
    let mut server = TestServer::start_with(refusing_server()).await;
    let polling = get(server.addr, "EIO=4&transport=polling").await;
    assert_json_error(&polling, 403, r#"{"code":4,"message":"nope"}"#);
    let upgrade = ws_connect(server.addr, "/engine.io/?EIO=4&transport=websocket")
        .await
        .err()
        .expect("the WebSocket handshake is refused");
    assert_eq!(upgrade.status, 400, "no 101 and no 403 on an upgrade: {upgrade:?}");
    assert_eq!(upgrade.body_text(), "nope", "{upgrade:?}");
    assert_eq!(server.engine.clients_count(), 0);
    assert!(server.seen.opened().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_request_refusal_fails_engine_io_client() {
    let mut server = TestServer::start_with(refusing_server()).await;
    let mut node = server.node(json!([
        {"name": "polling", "mode": "fail", "transports": ["polling"]},
        {"name": "ws", "mode": "fail", "transports": ["websocket"]},
    ]));
    let transcript = node.done().await;

    let error = transcript.get("polling", "error");
    assert_eq!(error["message"], "xhr poll error", "{error}");
    assert_eq!(error["description"], 403, "{error}");
    assert_eq!(transcript.get("polling", "close")["reason"], "transport error");
    let error = transcript.get("ws", "error");
    assert_eq!(error["message"], "websocket error", "{error}");
    assert_eq!(transcript.get("ws", "close")["reason"], "transport error");
    assert!(transcript.all("polling", "open").is_empty() && transcript.all("ws", "open").is_empty());
    assert_eq!(server.engine.clients_count(), 0);
    assert!(server.seen.opened().is_empty());
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_answers_carry_the_reference_headers() {
    let server = TestServer::start(Config::default()).await;
    let target = "/engine.io/?EIO=4&transport=polling";
    let handshake = http(server.addr, "GET", target, &[], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    assert_eq!(handshake.header("cache-control"), Some("no-store"), "{handshake:?}");
    assert!(!handshake.has_header("x-xss-protection"), "{handshake:?}");
    let ie = [("User-Agent", "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko")];
    let handshake = http(server.addr, "GET", target, &ie, b"").await;
    assert_eq!(handshake.header("x-xss-protection"), Some("0"), "{handshake:?}");
}
