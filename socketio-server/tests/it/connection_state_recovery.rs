//! Connection state recovery with the npm `socket.io-client` 4.8.4: a client that loses its
//! transport and comes back gets its socket back (same id, rooms and data, `recovered` on
//! both sides) and the packets sent while it was away, written before the `CONNECT` answer.
//! A session ended by the server's own `disconnect` is not kept.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value as Json};
use socketio_server::{Config, ConnectionStateRecovery, DisconnectReason, Socket};
use support::{inbox, Inbox, Mode, TestServer};

/// What the server saw of one connection of a socket.
#[derive(Debug)]
struct Seen {
    id: String,
    recovered: bool,
    rooms: Vec<String>,
    data: Json,
}

fn recovery_config() -> Config {
    Config { connection_state_recovery: Some(ConnectionStateRecovery::default()), ..Config::default() }
}

/// A first connection joins `news`, stores data and is sent `welcome` (a single-socket emit,
/// which gets an offset); every connection is reported, and every disconnection.
fn serve(server: &TestServer) -> (Inbox<Seen>, Inbox<DisconnectReason>, Arc<AtomicUsize>) {
    let (seen, seen_rx) = inbox();
    let (gone, gone_rx) = inbox();
    let middleware_runs = Arc::new(AtomicUsize::new(0));
    let runs = middleware_runs.clone();
    server.io.sockets().use_middleware(move |_socket: Socket| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    });
    server.io.on_connection(move |socket: Socket| {
        let (seen, gone) = (seen.clone(), gone.clone());
        async move {
            if !socket.recovered() {
                socket.join("news");
                socket.set_data(&json!({"name": "ada"})).expect("data");
                socket.emit("welcome", &1).expect("emit");
            }
            let _ = seen.send(Seen {
                id: socket.id().to_string(),
                recovered: socket.recovered(),
                rooms: socket.rooms().iter().map(|r| r.to_string()).collect(),
                data: socket.data_json(),
            });
            socket.on_disconnect(move |_socket, reason| {
                let _ = gone.send(reason);
                async {}
            });
        }
    });
    (seen_rx, gone_rx, middleware_runs)
}

async fn restores_a_session_after_the_transport_is_lost(mode: Mode) {
    let server = TestServer::start(recovery_config()).await;
    let (mut seen, mut gone, middleware_runs) = serve(&server);
    let mut node = server.node("recovery", json!([{"name": "a", "transports": mode.transports()}]));

    let first_connect = node.next("a", "connect").await;
    assert_eq!(first_connect["recovered"], false);
    let first = seen.next("the first connection").await;
    assert!(!first.recovered);
    let welcome = node.received("a", "welcome").await;
    let args = welcome["args"].as_array().expect("arguments").clone();
    assert_eq!(args.len(), 2, "the argument and the offset: {welcome}");
    assert_eq!(args[0], 1);
    assert!(args[1].as_str().is_some_and(|o| !o.is_empty()), "the offset is a string: {welcome}");
    mode.settle(&mut node, "a").await;

    // The client loses its transport; the server keeps the session.
    node.send(json!({"cmd": "close_engine", "client": "a"})).await;
    assert_eq!(gone.next("the disconnection").await, DisconnectReason::TransportClose);

    // Sent while the client is away.
    server.io.to("news").emit("missed", &1).expect("emit");
    server.io.emit("missed", &2).expect("emit");
    server.io.to("sports").emit("not for a", &3).expect("emit");
    server.io.volatile().emit("volatile", &4).expect("emit");

    node.send(json!({"cmd": "connect", "client": "a"})).await;
    let back = node.next("a", "connect").await;
    assert_eq!(back["id"], first.id, "the same socket id");
    assert_eq!(back["recovered"], true, "{back}");
    let again = seen.next("the recovered connection").await;
    assert_eq!(again.id, first.id);
    assert!(again.recovered);
    assert_eq!(again.rooms, first.rooms, "the rooms are back");
    assert!(again.rooms.contains(&"news".to_owned()));
    assert_eq!(again.data, json!({"name": "ada"}), "the data is back");
    assert_eq!(middleware_runs.load(Ordering::SeqCst), 1, "a recovered socket skips the middlewares");

    let one = node.received("a", "missed").await;
    let two = node.received("a", "missed").await;
    assert_eq!((&one["args"][0], &two["args"][0]), (&json!(1), &json!(2)));
    // Everything after the CONNECT answer was read: nothing else arrived.
    let state = node.state("a").await;
    assert_eq!(state["recovered"], true);
    let names: Vec<String> = node.events_of("a").into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["welcome", "missed", "missed"]);

    // On the wire (Engine.IO message payloads: the Socket.IO packets), the missed packets
    // come first, then the CONNECT answer.
    let wire: Vec<String> =
        node.wire("a").await.into_iter().filter_map(|m| m.as_str().map(str::to_owned)).collect();
    let missed_at = wire.iter().position(|m| m.starts_with(r#"2["missed",1,"#)).expect("missed on the wire");
    let connects: Vec<usize> =
        wire.iter().enumerate().filter(|(_, m)| m.starts_with("0{")).map(|(i, _)| i).collect();
    assert_eq!(connects.len(), 2, "{wire:?}");
    assert!(connects[0] < missed_at && missed_at < connects[1], "{wire:?}");
    assert!(wire[connects[1]].contains(r#""pid":""#), "{wire:?}");

    // The socket works as before, in its rooms.
    server.io.to("news").emit("after", &5).expect("emit");
    let after = node.received("a", "after").await;
    assert_eq!(after["args"][0], 5);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_session_over_websocket() {
    restores_a_session_after_the_transport_is_lost(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_session_over_polling() {
    restores_a_session_after_the_transport_is_lost(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_session_after_an_upgrade() {
    restores_a_session_after_the_transport_is_lost(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_side_disconnect_is_not_recovered() {
    let server = TestServer::start(recovery_config()).await;
    let (mut seen, mut gone, middleware_runs) = serve(&server);
    let mut node = server.node("no_recovery", json!([{"name": "a", "transports": ["websocket"]}]));
    node.next("a", "connect").await;
    let first = seen.next("the first connection").await;
    node.received("a", "welcome").await;

    server.io.sockets().socket(&first.id).expect("the socket").disconnect(false);
    assert_eq!(gone.next("the disconnection").await, DisconnectReason::ServerNamespaceDisconnect);
    let reason = node.next("a", "disconnect").await;
    assert_eq!(reason["reason"], "io server disconnect");

    node.send(json!({"cmd": "connect", "client": "a"})).await;
    let back = node.next("a", "connect").await;
    assert_eq!(back["recovered"], false);
    assert_ne!(back["id"], first.id, "a new socket");
    let again = seen.next("the new connection").await;
    assert!(!again.recovered);
    assert_eq!(middleware_runs.load(Ordering::SeqCst), 2, "a new socket goes through the middlewares");

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_run_for_a_recovered_socket_when_asked() {
    let recovery = ConnectionStateRecovery { skip_middlewares: false, ..ConnectionStateRecovery::default() };
    let config = Config { connection_state_recovery: Some(recovery), ..Config::default() };
    let server = TestServer::start(config).await;
    let (mut seen, mut gone, middleware_runs) = serve(&server);
    let mut node = server.node("recovery_middlewares", json!([{"name": "a", "transports": ["websocket"]}]));
    node.next("a", "connect").await;
    let first = seen.next("the first connection").await;
    node.received("a", "welcome").await;

    node.send(json!({"cmd": "close_engine", "client": "a"})).await;
    assert_eq!(gone.next("the disconnection").await, DisconnectReason::TransportClose);
    node.send(json!({"cmd": "connect", "client": "a"})).await;
    let back = node.next("a", "connect").await;
    assert_eq!((&back["id"], &back["recovered"]), (&json!(first.id), &json!(true)));
    seen.next("the recovered connection").await;
    assert_eq!(middleware_runs.load(Ordering::SeqCst), 2);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recovery_there_is_no_pid_and_no_offset() {
    let server = TestServer::start(Config::default()).await;
    let (mut seen, _gone, _) = serve(&server);
    let mut node = server.node("no_pid", json!([{"name": "a", "transports": ["websocket"]}]));
    node.next("a", "connect").await;
    seen.next("the connection").await;
    let welcome = node.received("a", "welcome").await;
    assert_eq!(welcome["args"], json!([1]));
    let wire = node.wire("a").await;
    let connect =
        wire.iter().filter_map(Json::as_str).find(|m| m.starts_with('0')).expect("the CONNECT answer");
    assert!(!connect.contains("pid"), "{connect}");

    node.exit().await;
    server.close().await;
}

/// With `socket.io-msgpack-parser`, the offset is appended to the msgpack array.
#[cfg(feature = "msgpack")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_session_with_the_msgpack_parser() {
    let config = Config { parser: socketio_server::ParserKind::MsgPack, ..recovery_config() };
    let server = TestServer::start(config).await;
    let (mut seen, mut gone, _) = serve(&server);
    let mut node = server
        .node("recovery_msgpack", json!([{"name": "a", "transports": ["websocket"], "parser": "msgpack"}]));
    node.next("a", "connect").await;
    let first = seen.next("the first connection").await;
    let welcome = node.received("a", "welcome").await;
    assert!(welcome["args"][1].is_string(), "{welcome}");

    node.send(json!({"cmd": "close_engine", "client": "a"})).await;
    assert_eq!(gone.next("the disconnection").await, DisconnectReason::TransportClose);
    server.io.to("news").emit("missed", &socketio_server::Bytes::from_static(b"\x01\x02")).expect("emit");
    node.send(json!({"cmd": "connect", "client": "a"})).await;
    let back = node.next("a", "connect").await;
    assert_eq!((&back["id"], &back["recovered"]), (&json!(first.id), &json!(true)));
    let missed = node.received("a", "missed").await;
    assert_eq!(missed["args"][0], json!({"$bin": "0102"}));
    assert!(missed["args"][1].is_string(), "{missed}");

    node.exit().await;
    server.close().await;
}
