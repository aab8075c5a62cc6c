//! A socket's Engine.IO connection (`Socket::conn`, the reference's `socket.conn`) and its
//! client across namespaces (`Socket::client`, the reference's `socket.client`), with the npm
//! `socket.io-client` 4.8.4.
//!
//! Pins: the connection's id is the client's Engine.IO id; its transport is `polling` while the
//! connection handler runs and `websocket` once the upgrade hook fires; its peer, request
//! headers, URL and protocol revision are those of the handshake request; `on_packet` sees the
//! client's `message` packets exactly (a Socket.IO packet's text, then each binary attachment)
//! and its `pong`s; `on_packet_create` sees the server's `message`s and `ping`s; `on_drain`
//! fires once an emit left the write buffer; `on_close` gives `transport close` for a client
//! that closes, `ping timeout` for one that stops answering, and `forced close` for
//! `conn().close()`, after the sockets' `disconnect` (reason `forced close`);
//! `client().sockets()` lists the sockets of both namespaces a manager joined, and only those.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use socketio_server::{Bytes, Config, DisconnectReason, EngineData, EnginePacket, Socket};
use support::{hex, inbox, Inbox, Log, Mode, TestServer};

/// A packet as the tests compare it: `"<type> <text>"`, or `"<type> bin <hex>"`.
fn describe(packet: &EnginePacket) -> String {
    let text = match &packet.data {
        EngineData::Text(text) => text.to_string(),
        EngineData::Binary(bytes) => format!("bin {}", hex(bytes)),
    };
    format!("{} {}", packet.kind.name(), text).trim_end().to_owned()
}

/// Reads packets from `seen` until every one of `wanted` was seen (in that order, each once),
/// failing on a packet that is neither one of them nor one of `also` (which may come any number
/// of times, between them: heartbeats).
async fn expect_packets(seen: &mut Inbox<String>, wanted: &[&str], also: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    let mut next = 0;
    while next < wanted.len() {
        let packet = seen.next(&format!("packet {:?} (seen {all:?})", wanted[next])).await;
        if packet == wanted[next] {
            next += 1;
        } else {
            assert!(also.contains(&packet.as_str()), "unexpected packet {packet:?} (seen {all:?})");
        }
        all.push(packet);
    }
    all
}

/// Pings every 200 ms and waits long for the pong: heartbeats show up quickly, and a slow
/// machine does not time out.
fn frequent_pings() -> Config {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(200);
    config.engine.ping_timeout = Duration::from_secs(5);
    config
}

// -------------------------------------------------------------------------------------------
// What the connection is

/// What the connection handler and the upgrade hook saw of the connection.
#[derive(Debug)]
struct Seen {
    socket: Socket,
    transport: &'static str,
}

async fn conn_properties(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let (sockets, mut connections) = inbox::<Seen>();
    let (upgrades, mut upgraded) = inbox::<(&'static str, String)>();
    server.io.on_connection(move |socket| {
        let conn = socket.conn();
        let upgrades = upgrades.clone();
        conn.on_upgrade(move |conn| {
            let _ = upgrades.send((conn.transport(), conn.id().to_string()));
        });
        let _ = sockets.send(Seen { transport: conn.transport(), socket });
        async {}
    });
    let mut node = server.node(
        "conn_properties",
        json!([{
            "name": "a", "transports": mode.transports(), "query": {"room": "lobby"},
            "extraHeaders": {"x-test": "yes"},
        }]),
    );
    let seen = connections.next("the connection").await;
    let connect = node.next("a", "connect").await;
    mode.settle(&mut node, "a").await;
    let socket = seen.socket;
    let conn = socket.conn();

    assert_eq!(seen.transport, mode.first_transport(), "while the connection handler ran");
    assert_eq!(connect["engine"].as_str(), Some(&**conn.id()), "the client's Engine.IO id");
    assert_eq!(conn.id(), socket.engine_id());
    assert_ne!(&**conn.id(), &**socket.id());
    assert_eq!(conn.protocol(), 4);
    assert!(!conn.is_closed());

    let peer = conn.remote_address().expect("the server knows the peer");
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    assert_ne!(peer.port(), server.addr.port(), "the client's port, not the server's");
    assert_eq!(conn.request_headers().get("x-test").map(|v| v.as_bytes()), Some(&b"yes"[..]));

    let url = conn.url();
    assert!(url.starts_with("/socket.io/?"), "{url}");
    for part in ["EIO=4", &format!("transport={}", mode.first_transport()), "room=lobby"] {
        assert!(url.split(['?', '&']).any(|p| p == part), "{part} in {url}");
    }
    assert_eq!(url, socket.handshake().url, "the handshake's url");

    // The same connection through the client.
    assert_eq!(socket.client().conn().id(), conn.id());

    // The upgrade hook fired once, on the upgrade, when there was one.
    if mode == Mode::Upgrade {
        let (transport, id) = upgraded.next("the upgrade hook").await;
        assert_eq!(transport, "websocket");
        assert_eq!(id, &**conn.id());
    }
    assert_eq!(conn.transport(), mode.final_transport());
    node.sync("a").await;
    assert!(upgraded.drain().is_empty(), "one upgrade at most");

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_properties_over_polling() {
    conn_properties(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_properties_after_an_upgrade() {
    conn_properties(Mode::Upgrade).await;
}

// -------------------------------------------------------------------------------------------
// Packets

async fn packets_received(mode: Mode) {
    let server = TestServer::start(frequent_pings()).await;
    let (packets, mut seen) = inbox::<String>();
    server.io.on_connection(move |socket| {
        let packets = packets.clone();
        socket.conn().on_packet(move |_, packet| {
            let _ = packets.send(describe(packet));
        });
        async {}
    });
    let mut node = server.node("conn_packet", json!([{"name": "a", "transports": mode.transports()}]));
    node.next("a", "connect").await;

    node.emit("a", "hello", json!(["world"])).await;
    expect_packets(&mut seen, &[r#"message 2["hello","world"]"#], &["pong"]).await;
    node.emit("a", "file", json!([{"$bin": "0102ff"}])).await;
    expect_packets(
        &mut seen,
        &[r#"message 51-["file",{"_placeholder":true,"num":0}]"#, "message bin 0102ff"],
        &["pong"],
    )
    .await;
    // And the client's answers to the server's pings.
    expect_packets(&mut seen, &["pong"], &[]).await;

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_packet_sees_messages_and_pongs_over_websocket() {
    packets_received(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_packet_sees_messages_and_pongs_over_polling() {
    packets_received(Mode::Polling).await;
}

async fn packets_created(mode: Mode) {
    let server = TestServer::start(frequent_pings()).await;
    let (sockets, mut connections) = inbox::<Socket>();
    let (packets, mut seen) = inbox::<String>();
    server.io.on_connection(move |socket| {
        let packets = packets.clone();
        socket.conn().on_packet_create(move |_, packet| {
            let _ = packets.send(describe(packet));
        });
        let _ = sockets.send(socket);
        async {}
    });
    let mut node = server.node("conn_packet_create", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = connections.next("the connection").await;
    node.next("a", "connect").await;

    socket.emit("welcome", &("hi", 1)).expect("emit");
    socket.emit("file", &Bytes::from_static(b"\x01\x02\xff")).expect("emit binary");
    expect_packets(
        &mut seen,
        &[
            r#"message 2["welcome","hi",1]"#,
            r#"message 51-["file",{"_placeholder":true,"num":0}]"#,
            "message bin 0102ff",
        ],
        &["ping"],
    )
    .await;
    assert_eq!(node.received("a", "welcome").await["args"], json!(["hi", 1]));
    // The heartbeat.
    expect_packets(&mut seen, &["ping"], &[]).await;

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_packet_create_sees_messages_and_pings_over_websocket() {
    packets_created(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_packet_create_sees_messages_and_pings_over_polling() {
    packets_created(Mode::Polling).await;
}

async fn drain(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let (sockets, mut connections) = inbox::<Socket>();
    let (drains, mut drained) = inbox::<&'static str>();
    let log = Log::default();
    let hook_log = log.clone();
    server.io.on_connection(move |socket| {
        let drains = drains.clone();
        let log = hook_log.clone();
        socket.conn().on_packet_create(move |_, packet| log.push(describe(packet)));
        let log = hook_log.clone();
        socket.conn().on_drain(move |_| {
            log.push("drain");
            let _ = drains.send("drain");
        });
        let _ = sockets.send(socket);
        async {}
    });
    let mut node = server.node("conn_drain", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = connections.next("the connection").await;
    node.next("a", "connect").await;

    // Over long-polling the `CONNECT` answer may have waited for a poll, which drained it.
    let before = drained.drain().len();
    assert!(before <= 1 && log.entries().len() == before, "{:?}", log.entries());
    socket.emit("news", &"fresh").expect("emit");
    drained.next("the drain after the emit").await;
    assert_eq!(node.received("a", "news").await["args"], json!(["fresh"]));
    // The packet was created, then the buffer drained (the default heartbeat is 25 s away).
    assert_eq!(log.entries()[before..], [r#"message 2["news","fresh"]"#, "drain"]);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_drain_fires_once_an_emit_is_flushed_over_websocket() {
    drain(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_drain_fires_once_an_emit_is_flushed_over_polling() {
    drain(Mode::Polling).await;
}

// -------------------------------------------------------------------------------------------
// Closing

/// A server (with `config`) and client `a` in `mode`; reports `(reason, description)` of the
/// connection's close, and the socket's and the connection's closes in order in the log.
async fn watched_client(
    config: Config,
    label: &str,
    mode: Mode,
) -> (TestServer, support::Node, Socket, Inbox<(String, String)>, Log) {
    let server = TestServer::start(config).await;
    let (sockets, mut connections) = inbox::<Socket>();
    let (closes, closed) = inbox::<(String, String)>();
    let log = Log::default();
    let hook_log = log.clone();
    server.io.on_connection(move |socket| {
        let closes = closes.clone();
        let log = hook_log.clone();
        socket.conn().on_close(move |conn, reason, description| {
            log.push(format!("conn close {reason}, closed: {}", conn.is_closed()));
            let _ = closes.send((reason.to_owned(), description.to_owned()));
        });
        let log = hook_log.clone();
        socket.on_disconnect(move |_, reason: DisconnectReason| {
            log.push(format!("socket disconnect {}", reason.as_str()));
            async {}
        });
        let _ = sockets.send(socket);
        async {}
    });
    let mut node = server.node(label, json!([{"name": "a", "transports": mode.transports()}]));
    let socket = connections.next("the connection").await;
    node.next("a", "connect").await;
    (server, node, socket, closed, log)
}

async fn client_closes(mode: Mode) {
    let (server, mut node, _socket, mut closed, log) =
        watched_client(Config::default(), "conn_client_close", mode).await;
    node.command("close_engine", "a").await;
    let (reason, description) = closed.next("the close").await;
    assert_eq!(reason, "transport close");
    assert!(!description.is_empty());
    assert_eq!(
        log.entries(),
        ["socket disconnect transport close", "conn close transport close, closed: true"]
    );
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_close_when_the_client_closes_over_websocket() {
    client_closes(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_close_when_the_client_closes_over_polling() {
    client_closes(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_close_when_the_client_stops_answering_pings() {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(300);
    let (server, mut node, _socket, mut closed, log) =
        watched_client(config, "conn_ping_timeout", Mode::WebSocket).await;
    node.command("stop_pong", "a").await;
    node.next("a", "pong_stopped").await;
    let (reason, _) = closed.next("the close").await;
    assert_eq!(reason, "ping timeout");
    assert_eq!(log.entries(), ["socket disconnect ping timeout", "conn close ping timeout, closed: true"]);
    node.exit().await;
    server.close().await;
}

async fn server_closes(mode: Mode) {
    let (server, mut node, socket, mut closed, log) =
        watched_client(Config::default(), "conn_forced_close", mode).await;
    let conn = socket.conn();
    // Queued before the close: delivered first.
    socket.emit("last", &"words").expect("emit");
    conn.close();
    let (reason, _) = closed.next("the close").await;
    assert_eq!(reason, "forced close");
    assert_eq!(log.entries(), ["socket disconnect forced close", "conn close forced close, closed: true"]);
    assert!(conn.is_closed());
    assert!(!socket.connected());
    assert_eq!(node.received("a", "last").await["args"], json!(["words"]));
    // The client sees its transport close: no Socket.IO DISCONNECT was sent.
    let client = node.next("a", "disconnect").await;
    assert_eq!(client["reason"], "transport close", "{client}");
    // Hooks registered on a closed connection are dropped; asking for its sockets is harmless.
    conn.on_close(|_, _, _| panic!("no second close"));
    assert!(socket.client().sockets().await.is_empty());
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_close_is_a_forced_close_over_websocket() {
    server_closes(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_close_is_a_forced_close_over_polling() {
    server_closes(Mode::Polling).await;
}

// -------------------------------------------------------------------------------------------
// The client across namespaces

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_lists_the_sockets_of_every_namespace_of_a_manager() {
    let server = TestServer::start(Config::default()).await;
    server.io.of("/admin");
    let mut node = server.node(
        "conn_client_sockets",
        json!([
            {"name": "a", "manager": "m"},
            {"name": "b", "manager": "m", "nsp": "/admin"},
            {"name": "c"},
        ]),
    );
    let a = server.connected(&mut node, "a").await;
    let b = server.connected(&mut node, "b").await;
    let c = server.connected(&mut node, "c").await;
    assert_eq!(a.conn().id(), b.conn().id(), "one manager, one connection");
    assert_ne!(a.conn().id(), c.conn().id());

    let names = |sockets: Vec<Socket>| -> BTreeSet<(String, String)> {
        sockets.iter().map(|s| (s.nsp().to_string(), s.id().to_string())).collect()
    };
    let both: BTreeSet<_> =
        [("/".to_owned(), a.id().to_string()), ("/admin".to_owned(), b.id().to_string())].into();
    assert_eq!(names(a.client().sockets().await), both);
    assert_eq!(names(b.client().sockets().await), both);
    assert_eq!(names(c.client().sockets().await), [("/".to_owned(), c.id().to_string())].into());

    // A socket that leaves is no longer listed.
    b.disconnect(false);
    node.next("b", "disconnect").await;
    assert_eq!(names(a.client().sockets().await), [("/".to_owned(), a.id().to_string())].into());

    node.exit().await;
    server.close().await;
}
