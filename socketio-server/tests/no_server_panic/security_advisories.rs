//! The client-triggerable security advisories of Socket.IO (protocol-facts §8), replayed raw
//! over 127.0.0.1 against the Socket.IO server.
//!
//! Pins, one test (or a few) per advisory:
//! * CVE-2020-36049: a message of a few MB of digits as an ack id or an attachment count is
//!   refused after a bounded number of digits (a decode error, `forced close`), over WebSocket
//!   and long-polling; with the default `max_payload` the message never reaches the parser
//!   (WebSocket close 1009);
//! * CVE-2022-2421: a placeholder whose `num` is not a number (`"splice"`) or out of range (10)
//!   closes the connection before any handler runs; an object whose `_placeholder` is not
//!   exactly `true` is plain data;
//! * CVE-2023-32695: event names that are objects, booleans or null close the connection;
//! * the socket.io-parser 4.2.4 hardening: the six reserved event names (also written with
//!   escapes) and non-object `CONNECT` payloads close the connection;
//! * CVE-2024-38355: an event named `error` on a server without any error listener changes
//!   nothing;
//! * CVE-2026-33151: an attachment count over `config.max_attachments` closes the connection
//!   before any attachment is sent; binary is taken only while a binary packet is being
//!   reconstructed, text never then;
//! * CVE-2020-36048: a POST over `max_payload` gets 413 and a WebSocket message over it is
//!   closed with 1009; only that client is affected;
//! * CVE-2017-16031: over 1 000 connections, Engine.IO session ids and socket ids are 20
//!   characters of base64url and all distinct, and no socket id is a session id (nothing is
//!   assumed of their randomness beyond that);
//! * CVE-2020-28481: no `Access-Control-Allow-Origin` (nor credentials) by default, on the
//!   handshake, a POST and a preflight;
//! * socket.io 4.8.4 `__proto__` namespace query: with `allow_eio3`, a Socket.IO 2 (EIO=3)
//!   client's `0/admin?__proto__=x&constructor=y,` is plain data in the socket's `auth`, and a
//!   later client's `auth` is untouched; a v5 `CONNECT` payload with `__proto__` keys is data too;
//! * CVE-2022-21676 on a Socket.IO connection: a WebSocket frame with reserved bits closes only it.
//!
//! In every case a well-behaved client connected at the same time keeps getting its acks and
//! the server never panics.

use crate::raw;

use std::collections::HashSet;

use raw::{binary, http, text, Incoming, Out, PollClient, RawServer, Setup, WsClient};
use serde_json::json;
use socketio_parser::DecodeError;
use socketio_server::{Bytes, Config, DisconnectReason, Value};
use tokio::task::JoinSet;

/// A server whose Engine.IO `max_payload` is `max_payload`.
fn with_max_payload(max_payload: usize) -> Setup {
    let mut config = Config::default();
    config.engine.max_payload = max_payload;
    Setup::with_config(config)
}

/// Opens a WebSocket client, joins `/`, sends `outs`, and checks that it is closed with a decode
/// error matching `expected` (`forced close`), that no handler ran, and that `healthy` still
/// gets acks.
async fn ws_decode_error_closes(
    server: &mut RawServer,
    healthy: &mut WsClient,
    outs: &[Out],
    expected: fn(&DecodeError) -> bool,
) {
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    server.connected(&bad_id).await;
    bad.send_all(outs).await;
    bad.expect_closed().await;
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::ForcedClose);
    server.assert_decode_error(&bad_id, expected);
    assert!(server.events_of(&bad_id).is_empty(), "a handler ran for {outs:?}");
    healthy.roundtrip(1).await;
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2020-36049: giant numbers

const GIANT: usize = 3_000_000;

#[tokio::test]
async fn cve_2020_36049_giant_ack_id_is_refused_early() {
    let mut server = RawServer::start(with_max_payload(8_000_000)).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let message = format!("42{}[\"x\"]", "2".repeat(GIANT));
    ws_decode_error_closes(&mut server, &mut healthy, &[text(message)], |e| {
        matches!(e, DecodeError::InvalidAckId)
    })
    .await;
}

#[tokio::test]
async fn cve_2020_36049_giant_attachment_count_is_refused_early() {
    let mut server = RawServer::start(with_max_payload(8_000_000)).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let message = format!("45{}-[\"x\",{{\"_placeholder\":true,\"num\":0}}]", "1".repeat(GIANT));
    ws_decode_error_closes(&mut server, &mut healthy, &[text(message)], |e| {
        matches!(e, DecodeError::InvalidAttachments)
    })
    .await;
}

#[tokio::test]
async fn cve_2020_36049_giant_ack_id_over_polling() {
    let mut server = RawServer::start(with_max_payload(8_000_000)).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let bad = PollClient::open(server.addr).await;
    let bad_id = bad.connect("/").await;
    let response = bad.post_raw(format!("42{}[\"x\"]", "9".repeat(GIANT)).as_bytes()).await;
    assert_eq!(response.status, 200);
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::ForcedClose);
    server.assert_decode_error(&bad_id, |e| matches!(e, DecodeError::InvalidAckId));
    bad.expect_closed().await;
    healthy.roundtrip(1).await;
    server.assert_alive();
}

#[tokio::test]
async fn cve_2020_36049_default_max_payload_stops_it_before_the_parser() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    bad.send_text(&format!("42{}[\"x\"]", "2".repeat(GIANT))).await;
    assert_eq!(bad.expect_closed().await, Some(1009));
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::TransportError);
    assert!(server.errors_of(&bad_id).is_empty(), "the parser never saw it");
    healthy.roundtrip(1).await;
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2022-2421: placeholder numbers

#[tokio::test]
async fn cve_2022_2421_placeholder_num_splice() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let outs = [text(r#"451-["hello",{"_placeholder":true,"num":"splice"}]"#), binary(&[1, 2, 3])];
    ws_decode_error_closes(&mut server, &mut healthy, &outs, |e| {
        matches!(e, DecodeError::InvalidPlaceholder)
    })
    .await;
}

#[tokio::test]
async fn cve_2022_2421_placeholder_num_out_of_range() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    for header in [
        r#"451-["hello",{"_placeholder":true,"num":10}]"#,
        r#"451-["hello",{"_placeholder":true,"num":1}]"#,
        r#"451-["hello",{"_placeholder":true,"num":-1}]"#,
        r#"451-["hello",{"_placeholder":true,"num":0.5}]"#,
        r#"451-["hello",{"_placeholder":true}]"#,
    ] {
        let outs = [text(header), binary(&[1, 2, 3])];
        ws_decode_error_closes(&mut server, &mut healthy, &outs, |e| {
            matches!(e, DecodeError::InvalidPlaceholder)
        })
        .await;
    }
}

#[tokio::test]
async fn cve_2022_2421_only_placeholder_true_refers_to_an_attachment() {
    let mut server = RawServer::default_setup().await;
    let (mut client, id) = WsClient::connected(server.addr).await;
    client
        .send_text(r#"451-["hello",{"_placeholder":"true","num":"splice"},{"_placeholder":true,"num":0}]"#)
        .await;
    client.send_binary(&[1, 2, 3]).await;
    let (args, _) = server.handled(&id, "hello").await;
    let plain = Value::from_iter([("_placeholder", Value::from("true")), ("num", Value::from("splice"))]);
    assert_eq!(args, vec![plain, Value::Binary(Bytes::from_static(&[1, 2, 3]))]);
    client.roundtrip(1).await;
    assert!(server.errors_of(&id).is_empty());
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2023-32695 and the 4.2.4 hardening: event names and CONNECT payloads

#[tokio::test]
async fn cve_2023_32695_event_names_that_are_not_strings_or_numbers() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    for packet in [
        r#"42[{"toString":"foo"}]"#,
        r#"42[true,"foo"]"#,
        r#"42[null,"bar"]"#,
        r#"42[["nested"]]"#,
        r#"42[false]"#,
    ] {
        ws_decode_error_closes(&mut server, &mut healthy, &[text(packet)], |e| {
            matches!(e, DecodeError::InvalidEventName)
        })
        .await;
    }
}

#[tokio::test]
async fn parser_4_2_4_reserved_event_names() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    for packet in [
        r#"42["connect"]"#,
        r#"42["connect_error"]"#,
        r#"42["disconnect"]"#,
        r#"42["disconnecting"]"#,
        r#"42["newListener","x"]"#,
        r#"42["removeListener","x"]"#,
        // The same names written with escapes are the same names.
        r#"42["dis\u0063onnect"]"#,
        r#"42["\u0063onnect"]"#,
        // An ack id or a binary packet does not make them acceptable.
        r#"4212["disconnecting"]"#,
    ] {
        ws_decode_error_closes(&mut server, &mut healthy, &[text(packet)], |e| {
            matches!(e, DecodeError::ReservedEventName)
        })
        .await;
    }
    let outs = [text(r#"451-["newListener",{"_placeholder":true,"num":0}]"#), binary(&[1])];
    ws_decode_error_closes(&mut server, &mut healthy, &outs, |e| matches!(e, DecodeError::ReservedEventName))
        .await;
}

#[tokio::test]
async fn parser_4_2_4_connect_payload_must_be_an_object() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    // As the first packet of a connection: refused before any namespace is joined.
    for packet in ["40[1]", r#"40"str""#, "40null", "40 1", "40true", r#"40/admin,[{"token":1}]"#] {
        let mut bad = WsClient::open(server.addr).await;
        bad.send_text(packet).await;
        bad.expect_closed().await;
        assert!(
            !bad.skipped.iter().any(|p| p.starts_with("40")),
            "{packet:?} must not join a namespace: {:?}",
            bad.skipped
        );
    }
    healthy.roundtrip(1).await;
    assert!(!server.has_left(&healthy_id));
    // Only `/` sockets ever connected: the healthy one.
    let joined: Vec<String> = server
        .history()
        .iter()
        .filter_map(|s| match s {
            raw::Seen::Connected { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(joined, vec![healthy_id]);
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2024-38355: an event named `error` without listeners

#[tokio::test]
async fn cve_2024_38355_error_event_without_any_error_listener() {
    let setup = Setup { handled: vec!["ping"], on_error: false, ..Setup::default() };
    let mut server = RawServer::start(setup).await;
    let (mut client, id) = WsClient::connected(server.addr).await;
    server.connected(&id).await;
    client.send_text(r#"42["error"]"#).await;
    client.send_text(r#"42["error","x",{"message":"boom"}]"#).await;
    client.send_text(r#"425["error"]"#).await;
    client.send_text(r#"451-["error",{"_placeholder":true,"num":0}]"#).await;
    client.send_binary(&[0xde, 0xad]).await;
    client.roundtrip(1).await;
    assert!(!server.has_left(&id), "an event named error must not disconnect");
    assert_eq!(server.events_of(&id), vec!["error", "error", "error", "error", "ping"]);
    // A second client is unaffected too.
    let (mut other, _) = WsClient::connected(server.addr).await;
    other.roundtrip(2).await;
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2026-33151: attachment counts

#[tokio::test]
async fn cve_2026_33151_attachment_count_over_max_attachments_closes_before_buffering() {
    let config = Config { max_attachments: 3, ..Config::default() };
    let mut server = RawServer::start(Setup::with_config(config)).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;

    // Up to the limit: accepted.
    let (mut good, good_id) = WsClient::connected(server.addr).await;
    good.send_text(
        r#"453-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#,
    )
    .await;
    for b in [[1u8], [2], [3]] {
        good.send_binary(&b).await;
    }
    let (args, _) = server.handled(&good_id, "hello").await;
    assert_eq!(args, [1u8, 2, 3].map(|b| Value::Binary(Bytes::copy_from_slice(&[b]))).to_vec());

    // One over: closed on the header alone, no attachment is ever sent.
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    bad.send_text(r#"454-["hello",{"_placeholder":true,"num":0}]"#).await;
    bad.expect_closed().await;
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::ForcedClose);
    server
        .assert_decode_error(&bad_id, |e| matches!(e, DecodeError::TooManyAttachments { count: 4, max: 3 }));

    // A count far over it, with as many digits as the decoder reads.
    let outs = [text(r#"459999999999-["hello",{"_placeholder":true,"num":0}]"#)];
    ws_decode_error_closes(&mut server, &mut healthy, &outs, |e| {
        matches!(e, DecodeError::TooManyAttachments { .. })
    })
    .await;
    good.roundtrip(2).await;
    healthy.roundtrip(3).await;
    server.assert_alive();
}

#[tokio::test]
async fn cve_2026_33151_binary_only_while_reconstructing() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    // Binary frames with no binary packet announced.
    ws_decode_error_closes(&mut server, &mut healthy, &[binary(&[0; 64]), binary(&[0; 64])], |e| {
        matches!(e, DecodeError::UnexpectedBinary)
    })
    .await;
    // One attachment too many: the packet completes (its handler runs once), the extra frame
    // is refused.
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    bad.send_all(&[text(r#"451-["hello",{"_placeholder":true,"num":0}]"#), binary(&[1]), binary(&[2])]).await;
    bad.expect_closed().await;
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::ForcedClose);
    server.assert_decode_error(&bad_id, |e| matches!(e, DecodeError::UnexpectedBinary));
    // The socket's `error` handlers hear of the invalid packet, as in the reference.
    assert_eq!(server.handled_of(&bad_id), vec!["hello", "error"]);
    let (args, _) = server.handled(&bad_id, "hello").await;
    assert_eq!(args, vec![Value::Binary(Bytes::from_static(&[1]))]);
    let (args, _) = server.handled(&bad_id, "error").await;
    assert_eq!(
        format!("{args:?}"),
        format!(
            "{:?}",
            [Value::Object(vec![(
                "message".into(),
                Value::String("invalid packet: got binary data when not reconstructing a packet".into())
            )])]
        )
    );
    // Text while attachments are awaited.
    let outs = [
        text(r#"452-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        binary(&[1]),
        text("40"),
    ];
    ws_decode_error_closes(&mut server, &mut healthy, &outs, |e| matches!(e, DecodeError::UnexpectedText))
        .await;
}

// -------------------------------------------------------------------------------------------
// CVE-2020-36048: payloads over max_payload

#[tokio::test]
async fn cve_2020_36048_post_over_max_payload_gets_413() {
    let server = RawServer::default_setup().await;
    let max = server.io.config().engine.max_payload;
    assert_eq!(max, 1_000_000, "the reference default since engine.io 4");
    let (mut healthy, _) = WsClient::connected(server.addr).await;
    let healthy_poll = PollClient::open(server.addr).await;
    healthy_poll.connect("/").await;
    let bad = PollClient::open(server.addr).await;
    bad.connect("/").await;

    let body = format!("42[\"x\",\"{}\"]", "a".repeat(max));
    let response = bad.post_raw(body.as_bytes()).await;
    assert_eq!(response.status, 413, "{response:?}");
    healthy.roundtrip(1).await;
    healthy_poll.roundtrip(2).await;
    // As in the reference, the session itself is kept (the client gives up on its own): its
    // next, well-sized POST is taken.
    bad.roundtrip(3).await;
    server.assert_alive();
}

#[tokio::test]
async fn cve_2020_36048_websocket_message_over_max_payload_is_closed_with_1009() {
    let mut server = RawServer::default_setup().await;
    let max = server.io.config().engine.max_payload;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    bad.send_text(&format!("42[\"x\",\"{}\"]", "a".repeat(max))).await;
    assert_eq!(bad.expect_closed().await, Some(1009));
    assert_eq!(server.disconnect_reason(&bad_id).await, DisconnectReason::TransportError);
    assert!(server.handled_of(&bad_id).is_empty());
    healthy.roundtrip(1).await;
    assert!(!server.has_left(&healthy_id));
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2017-16031: ids

fn is_base64url_id(id: &str) -> bool {
    id.len() == 20 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[tokio::test]
async fn cve_2017_16031_ids_are_distinct_base64url() {
    const CONNECTIONS: usize = 1000;
    const AT_ONCE: usize = 50;
    let mut server = RawServer::default_setup().await;
    let addr = server.addr;
    let mut pairs = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS / AT_ONCE {
        let mut batch = JoinSet::new();
        for _ in 0..AT_ONCE {
            batch.spawn(async move {
                let (client, id) = WsClient::connected(addr).await;
                let sid = client.sid.clone();
                client.shutdown().await;
                (sid, id)
            });
        }
        while let Some(pair) = batch.join_next().await {
            pairs.push(pair.expect("a connection task"));
        }
    }
    let mut all = HashSet::new();
    for (sid, id) in &pairs {
        assert!(is_base64url_id(sid), "Engine.IO session id {sid:?}");
        assert!(is_base64url_id(id), "socket id {id:?}");
        assert_ne!(sid, id, "the socket id must not be the (sensitive) session id");
        assert!(all.insert(sid.clone()), "session id {sid} given twice");
        assert!(all.insert(id.clone()), "socket id {id} given twice (or equal to a session id)");
    }
    assert_eq!(all.len(), 2 * CONNECTIONS);
    // The server's sockets carry the ids the clients were told.
    let told: HashSet<&String> = pairs.iter().map(|(_, id)| id).collect();
    let mut seen = 0;
    for entry in server.history() {
        if let raw::Seen::Connected { id, .. } = entry {
            assert!(told.contains(id), "server-side socket {id} was not announced");
            seen += 1;
        }
    }
    assert_eq!(seen, CONNECTIONS);
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// CVE-2020-28481: CORS off by default

#[tokio::test]
async fn cve_2020_28481_no_cors_headers_by_default() {
    let server = RawServer::default_setup().await;
    let origin = ("Origin", "https://evil.example");
    let handshake = http(server.addr, "GET", "/socket.io/?EIO=4&transport=polling", &[origin], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let sid = serde_json::from_str::<serde_json::Value>(handshake.text().trim_start_matches('0'))
        .expect("open packet")["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let post = http(server.addr, "POST", &target, &[origin, ("Content-Type", "text/plain")], b"40").await;
    assert_eq!(post.status, 200, "{post:?}");
    let preflight = http(
        server.addr,
        "OPTIONS",
        &target,
        &[
            origin,
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
    .await;
    for response in [&handshake, &post, &preflight] {
        for header in ["Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"] {
            assert!(response.header(header).is_none(), "{header} sent without CORS configured: {response:?}");
        }
    }
    server.assert_alive();
}

// -------------------------------------------------------------------------------------------
// socket.io 4.8.4: `__proto__` in an EIO3 namespace query

#[tokio::test]
async fn eio3_proto_namespace_query_is_plain_data() {
    let mut config = Config::default();
    config.engine.allow_eio3 = true;
    let mut server =
        RawServer::start(Setup { namespaces: vec!["/admin"], ..Setup::with_config(config) }).await;
    let (mut healthy, _) = WsClient::connected(server.addr).await;

    let mut v2 = WsClient::open_with(server.addr, "EIO=3&transport=websocket&__proto__=polluted").await;
    // Socket.IO v4 connects `/` implicitly: the server says so first.
    assert_eq!(v2.expect("4").await, "40");
    v2.send_text("40/admin?__proto__=x&constructor=y&toString=z&__proto__%5Bpolluted%5D=1,").await;
    assert_eq!(v2.expect("40/admin").await, "40/admin,");
    let admin_id = format!("/admin#{}", v2.sid);
    let auth = server.connected(&admin_id).await;
    assert_eq!(
        auth,
        json!({"__proto__": "x", "constructor": "y", "toString": "z", "__proto__[polluted]": "1"})
    );
    v2.roundtrip_in("/admin,", 1).await;
    v2.roundtrip(2).await;
    // The handshake query of `/` is data as well.
    let main = server.io.sockets().socket(&v2.sid).expect("the v2 client's socket in /");
    assert_eq!(main.handshake().query_param("__proto__"), Some("polluted"));

    // Later clients start from nothing.
    let mut later = WsClient::open_with(server.addr, "EIO=3&transport=websocket").await;
    assert_eq!(later.expect("4").await, "40");
    later.send_text("40/admin,").await;
    assert_eq!(later.expect("40/admin").await, "40/admin,");
    assert_eq!(server.connected(&format!("/admin#{}", later.sid)).await, json!({}));
    let (mut v5, _) = WsClient::connected(server.addr).await;
    v5.send_text(r#"40/admin,{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}"#).await;
    let v5_admin = v5.expect("40/admin,").await;
    let v5_admin_id = serde_json::from_str::<serde_json::Value>(&v5_admin["40/admin,".len()..])
        .expect("CONNECT answer")["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    assert_eq!(
        server.connected(&v5_admin_id).await,
        json!({"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}})
    );
    healthy.roundtrip(3).await;
    server.assert_alive();
}

/// CVE-2022-21676 (an Engine.IO advisory, replayed at that level in `engineio-server`'s tests),
/// here on an established Socket.IO connection: a frame with reserved bits set closes only that
/// connection, and its socket leaves with a transport reason.
#[tokio::test]
async fn cve_2022_21676_invalid_frame_closes_only_that_connection() {
    let mut server = RawServer::default_setup().await;
    let (mut healthy, healthy_id) = WsClient::connected(server.addr).await;
    let (mut bad, bad_id) = WsClient::connected(server.addr).await;
    bad.send_frame(0xb1, b"42[\"x\"]").await;
    assert!(matches!(bad.recv().await, Incoming::Closed(_)));
    let reason = server.disconnect_reason(&bad_id).await;
    assert!(
        matches!(reason, DisconnectReason::TransportError | DisconnectReason::TransportClose),
        "{reason:?}"
    );
    healthy.roundtrip(1).await;
    assert!(!server.has_left(&healthy_id));
    server.assert_alive();
}
