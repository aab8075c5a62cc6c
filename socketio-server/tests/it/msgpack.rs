//! The `socket.io-msgpack-parser` wire format (`config.parser = ParserKind::MsgPack`) with the
//! npm `socket.io-client` 4.8.4 given `parser: require("socket.io-msgpack-parser")` 3.0.2,
//! over long-polling and WebSocket.
//!
//! Pins: the client connects (its `socket.id` is the server socket's) to `/` and to another
//! namespace of the same connection; events travel both ways with strings, numbers, nested
//! objects and buffers (msgpack `bin`, no attachments), read typed and untyped; acknowledgements
//! both ways, binary ones included; a middleware's refusal reaches the client with its message
//! and data; every Socket.IO packet is one binary Engine.IO message.

use crate::support;

use std::time::Duration;

use serde_json::json;
use socketio_server::{Bytes, Config, ConnectError, ParserKind, Value};
use support::{bin, describe_all, inbox, Mode, TestServer};

fn msgpack() -> Config {
    Config { parser: ParserKind::MsgPack, ..Config::default() }
}

async fn msgpack_both_ways(mode: Mode) {
    let server = TestServer::start(msgpack()).await;
    server.io.of("/admin");
    let mut node = server.node(
        "msgpack",
        json!([
            {"name": "a", "manager": "m", "transports": mode.transports(), "parser": "msgpack", "auth": {"k": 1}},
            {"name": "admin", "nsp": "/admin", "manager": "m", "transports": mode.transports(), "parser": "msgpack"},
        ]),
    );
    let socket = server.connected(&mut node, "a").await;
    let admin = server.connected(&mut node, "admin").await;
    assert_eq!(socket.auth(), &json!({"k": 1}));
    assert_eq!(admin.engine_id(), socket.engine_id());

    let (seen, mut received) = inbox::<(Vec<Value>, (String, u32, Bytes))>();
    socket.on("upload", move |_, event| {
        let seen = seen.clone();
        async move {
            let values = event.values().expect("untyped");
            let typed = event.args::<(String, u32, Bytes)>().expect("typed");
            event.reply(&(Bytes::from_static(b"\x01\x02"), "done")).expect("binary reply");
            let _ = seen.send((values, typed));
        }
    });
    let ack = node
        .call("a", "upload", json!(["file", 3, bin(&[9, 8, 7]), {"meta": [bin(&[1]), null, true]}]))
        .await;
    let (values, typed) = received.next("the upload").await;
    assert_eq!(describe_all(&values), json!(["file", 3, bin(&[9, 8, 7]), {"meta": [bin(&[1]), null, true]}]));
    assert_eq!(typed, ("file".to_owned(), 3, Bytes::from_static(&[9, 8, 7])));
    assert_eq!(ack, json!([bin(&[1, 2]), "done"]));

    // Arguments answered as they came, not parsed (`raw_args` + `reply_raw`).
    socket.on("relay", |_, event| async move {
        event.reply_raw(event.raw_args().expect("a string name")).expect("reply");
    });
    let args = json!(["é", 3, -7, 1.5, bin(&[9, 8]), {"meta": [bin(&[]), null, true]}]);
    assert_eq!(node.call("a", "relay", args.clone()).await, args);
    assert_eq!(node.call("a", "relay", json!([])).await, json!([]));

    let nested = Value::Object(vec![
        ("n".into(), Value::from(1.5)),
        ("list".into(), Value::Array(vec![Value::Binary(Bytes::from_static(b"\xaa")), Value::from("é")])),
    ]);
    socket.emit("download", &(Bytes::from_static(b"\x00\xff"), &nested, 42)).expect("emit");
    assert_eq!(
        node.received("a", "download").await["args"],
        json!([bin(&[0, 0xff]), {"n": 1.5, "list": [bin(&[0xaa]), "é"]}, 42])
    );
    admin.emit("admin-only", &"x").expect("emit");
    assert_eq!(node.received("admin", "admin-only").await["args"], json!(["x"]));

    let response = socket
        .timeout(Duration::from_secs(10))
        .emit_with_ack("roundtrip", &(Bytes::from_static(b"\x05"), "s", 7))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(
        response.args::<(Bytes, String, u32)>().expect("typed"),
        (Bytes::from_static(b"\x05"), "s".into(), 7)
    );

    let wire = node.wire("m").await;
    assert!(!wire.is_empty());
    assert!(wire.iter().all(|m| m.get("$binlen").is_some()), "only binary messages: {wire:?}");

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_both_ways_over_polling() {
    msgpack_both_ways(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_both_ways_over_websocket() {
    msgpack_both_ways(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_connect_errors_and_client_timeouts() {
    let server = TestServer::start(msgpack()).await;
    server.io.of("/guarded").use_middleware(|_| async {
        Err(ConnectError::new("not authorized").with_data(json!({"reason": "x"})))
    });
    server.io.on_connection(|socket| async move {
        socket.on("silent", |_, _| async {});
    });
    let mut node = server.node(
        "msgpack_errors",
        json!([
            {"name": "a", "manager": "m", "parser": "msgpack"},
            {"name": "guarded", "nsp": "/guarded", "manager": "m", "parser": "msgpack"},
            {"name": "ghost", "nsp": "/ghost", "manager": "m", "parser": "msgpack"},
        ]),
    );
    server.connected(&mut node, "a").await;
    let refused = node.next("guarded", "connect_error").await;
    assert_eq!(
        (refused["message"].clone(), refused["data"].clone()),
        (json!("not authorized"), json!({"reason": "x"}))
    );
    assert_eq!(node.next("ghost", "connect_error").await["message"], "Invalid namespace");
    let ack = node.call_with("a", "silent", json!([]), Some(200)).await;
    assert_eq!(ack["err"], "operation has timed out");

    node.exit().await;
    server.close().await;
}
