//! Binary data with the npm `socket.io-client` 4.8.4 and the default parser, over long-polling
//! and WebSocket.
//!
//! Pins: Node `Buffer`s reach the server as `Bytes` (`Value::Binary`), alone, nested in objects
//! and arrays, several in one packet, empty or large, read untyped and typed; `Bytes` in the
//! server's arguments reach the client as `Buffer`s at the same places; a packet with `n`
//! binary values travels as a `BINARY_EVENT` announcing `n` attachments followed by `n` binary
//! messages; acknowledgements carry binary both ways (`BINARY_ACK`).

use crate::support;

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use socketio_server::{Bytes, Config, Value};
use support::{big_binary, big_summary, bin, describe_all, inbox, Mode, TestServer};

#[derive(Debug, Deserialize, PartialEq)]
struct Deep {
    deep: (Bytes, String),
}

#[derive(Debug, Deserialize, PartialEq)]
struct Nested {
    nested: Deep,
}

async fn binary_both_ways(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("binary", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let (seen, mut received) = inbox::<(Vec<Value>, (Bytes, Nested, Bytes, Bytes))>();
    socket.on("upload", move |_, event| {
        let seen = seen.clone();
        async move {
            let values = event.values().expect("untyped");
            let typed = event.args::<(Bytes, Nested, Bytes, Bytes)>().expect("typed");
            let answer = Value::Object(vec![
                ("first".into(), Value::Binary(Bytes::from_static(&[0, 1, 2]))),
                (
                    "list".into(),
                    Value::Array(vec![Value::Binary(Bytes::from_static(b"\xfe")), Value::from("text")]),
                ),
            ]);
            event.reply(&(Bytes::from_static(b"ok"), answer)).expect("binary reply");
            let _ = seen.send((values, typed));
        }
    });

    // Client to server: four attachments, one nested, one empty, one large.
    let args = json!([
        bin(&[1, 2, 3]),
        {"nested": {"deep": [bin(&[0xff]), "x"]}},
        bin(&[]),
        {"$big": "bin", "len": 5000},
    ]);
    let ack = node.call("a", "upload", args).await;
    let (values, typed) = received.next("the upload").await;
    assert_eq!(
        describe_all(&values),
        json!([bin(&[1, 2, 3]), {"nested": {"deep": [bin(&[0xff]), "x"]}}, bin(&[]), big_summary("bin", &big_binary(5000))])
    );
    assert_eq!(values[0].as_bytes().map(|b| &b[..]), Some(&[1u8, 2, 3][..]));
    assert_eq!(
        typed,
        (
            Bytes::from_static(&[1, 2, 3]),
            Nested { nested: Deep { deep: (Bytes::from_static(&[0xff]), "x".to_owned()) } },
            Bytes::new(),
            big_binary(5000),
        )
    );
    // The binary acknowledgement.
    assert_eq!(ack, json!([bin(b"ok"), {"first": bin(&[0, 1, 2]), "list": [bin(&[0xfe]), "text"]}]));

    // Server to client: several attachments at several depths.
    let nested = Value::Object(vec![(
        "a".into(),
        Value::Array(vec![
            Value::Binary(Bytes::from_static(b"\x10")),
            Value::Binary(Bytes::from_static(b"\x20\x21")),
        ]),
    )]);
    socket.emit("download", &(Bytes::from_static(b"\x00\xff"), &nested, "plain")).expect("emit");
    let event = node.received("a", "download").await;
    assert_eq!(event["args"], json!([bin(&[0, 0xff]), {"a": [bin(&[0x10]), bin(&[0x20, 0x21])]}, "plain"]));

    // A server emit with ack that the client answers with the binary it got.
    let response = socket
        .timeout(Duration::from_secs(10))
        .emit_with_ack("roundtrip", &(Bytes::from_static(b"\x05\x06"), 7))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(response.args::<(Bytes, u32)>().expect("typed"), (Bytes::from_static(b"\x05\x06"), 7));

    // The wire: a BINARY_EVENT announcing 3 attachments, then 3 binary messages.
    let wire = node.wire("a").await;
    let at = wire
        .iter()
        .position(|m| m.as_str().is_some_and(|m| m.starts_with(r#"53-["download""#)))
        .unwrap_or_else(|| panic!("no BINARY_EVENT with 3 attachments in {wire:?}"));
    assert_eq!(wire[at + 1..at + 4], [json!({"$binlen": 2}), json!({"$binlen": 1}), json!({"$binlen": 2})]);
    assert!(
        wire.iter().any(|m| m.as_str().is_some_and(|m| m.starts_with("63-0["))),
        "a BINARY_ACK: {wire:?}"
    );

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_both_ways_over_polling() {
    binary_both_ways(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_both_ways_over_websocket() {
    binary_both_ways(Mode::WebSocket).await;
}

/// Ten attachments, the reference decoder's limit, are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_attachments_in_one_packet() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("ten_attachments", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    socket.on("many", |_, event| async move {
        let values = event.values().expect("values");
        event.reply(&values.len()).expect("reply");
    });
    let args: Vec<serde_json::Value> = (0..10u8).map(|i| bin(&[i])).collect();
    assert_eq!(node.call("a", "many", json!(args)).await, json!([10]));
    node.exit().await;
    server.close().await;
}

/// `Event::raw_args` + `reply_raw`: arguments answered as they came, never parsed, with their
/// attachments (a `BINARY_ACK` announcing as many as the event carried), plain text as a
/// plain `ACK`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_arguments_are_answered_as_they_came() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("raw_args", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    socket.on("relay", |_, event| async move {
        let args = event.raw_args().expect("a string name");
        event.reply_raw(args.clone()).expect("reply");
        // Later answers are ignored, as with `reply`.
        event.reply_raw(args).expect("ignored");
    });

    let text = json!(["é ☃ \"quoted\" ]", 1.5, {"a": [null, true]}, []]);
    assert_eq!(node.call("a", "relay", text.clone()).await, text);
    assert_eq!(node.call("a", "relay", json!([])).await, json!([]));
    let binary = json!([bin(&[1, 2]), {"n": [bin(&[])]}, "x", {"$big": "bin", "len": 5000}]);
    assert_eq!(
        node.call("a", "relay", binary).await,
        json!([bin(&[1, 2]), {"n": [bin(&[])]}, "x", big_summary("bin", &big_binary(5000))])
    );

    let wire = node.wire("a").await;
    let acks: Vec<&str> =
        wire.iter().filter_map(|m| m.as_str()).filter(|m| m.starts_with(['3', '6'])).collect();
    assert_eq!(acks.len(), 3, "one answer each: {acks:?}");
    assert!(acks[0].starts_with("30["), "{acks:?}");
    assert_eq!(acks[1], "31[]");
    assert!(acks[2].starts_with("63-2["), "a BINARY_ACK with 3 attachments: {acks:?}");

    node.exit().await;
    server.close().await;
}
