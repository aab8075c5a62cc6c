//! Rooms and broadcasts with four npm `socket.io-client` 4.8.4 clients on their own
//! connections, one long-polling, two WebSocket and one upgraded.
//!
//! Pins: joining and leaving rooms (one or many at once); `io.to(room)`, `to([a, b])` reaching
//! each socket of the union once, `except`, `socket.broadcast()` and `socket.to(room)` leaving
//! the sender out, `local`, `volatile` (at most once), a socket's own id as a room;
//! `io.timeout(d).emit_with_ack` collecting one answer per client, and `BroadcastAckError::Timeout`
//! with the answers that did arrive when one client stays silent; `fetch_sockets` (ids, rooms,
//! `set_data` data, handshake) and the remote handles' `emit`, `emit_with_ack`, `join`, `leave`,
//! `disconnect`; `sockets_join`, `sockets_leave`, `disconnect_sockets`; `server_side_emit`
//! reaching no one on a single node.
//!
//! "Not received" is checked deterministically: after the broadcasts under test the server
//! emits a `mark` to everyone, and each client's events are compared once its `mark` arrived.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::{BroadcastAckError, Config, DisconnectReason, Socket};
use support::{inbox, Mode, Node, TestServer};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Four clients: `a` long-polling, `b` and `d` WebSocket, `c` upgraded; each socket's data is
/// `{"name": its client's name}`.
async fn four_clients(server: &TestServer, label: &str, answers: Json) -> (Node, Vec<Socket>) {
    let modes = [Mode::Polling, Mode::WebSocket, Mode::Upgrade, Mode::WebSocket];
    let clients: Vec<Json> = NAMES
        .iter()
        .zip(modes)
        .map(|(name, mode)| {
            json!({"name": name, "transports": mode.transports(), "answers": answers.get(name).cloned().unwrap_or(json!({}))})
        })
        .collect();
    let mut node = server.node(label, Json::Array(clients));
    let mut sockets = Vec::new();
    for name in NAMES {
        let socket = server.connected(&mut node, name).await;
        socket.set_data(&json!({"name": name})).expect("set data");
        sockets.push(socket);
    }
    Mode::Upgrade.settle(&mut node, "c").await;
    (node, sockets)
}

/// Emits `mark` to everyone and waits until every client got it: then each client has
/// everything sent to it before.
async fn mark(server: &TestServer, node: &mut Node) {
    server.io.emit("mark", &()).expect("mark");
    for name in NAMES {
        node.received(name, "mark").await;
    }
}

/// The names of the events `client` received, volatile ones and marks left out.
fn received(node: &Node, client: &str) -> Vec<String> {
    node.events_of(client)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|n| n != "volatile" && n != "mark")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_rooms_unions_and_exclusions() {
    let server = TestServer::start(Config::default()).await;
    let (mut node, sockets) = four_clients(&server, "broadcast_targets", json!({})).await;
    let [a, b, c, _d] = [&sockets[0], &sockets[1], &sockets[2], &sockets[3]];
    a.join("r1");
    b.join(["r1", "r2"]);
    c.join(vec!["r2".to_owned()]);
    assert_eq!(b.rooms(), [b.id().clone(), "r1".into(), "r2".into()], "its own room first, then join order");

    let io = &server.io;
    io.to("r1").emit("to-r1", &1).expect("emit");
    io.to(["r1", "r2"]).emit("to-r1-or-r2", &2).expect("emit");
    io.except("r2").emit("except-r2", &3).expect("emit");
    io.to("r1").except("r2").emit("r1-except-r2", &4).expect("emit");
    b.broadcast().emit("from-b-to-all", &5).expect("emit");
    b.to("r2").emit("from-b-to-r2", &6).expect("emit");
    io.local().emit("local", &7).expect("emit");
    io.volatile().emit("volatile", &8).expect("emit");
    io.within(a.id().clone()).emit("to-a-by-id", &9).expect("emit");
    b.leave(["r1", "r2"]);
    c.leave("r2");
    io.to("r1").emit("to-r1-after-leaving", &10).expect("emit");
    io.to("r2").emit("to-empty-r2", &11).expect("emit");
    mark(&server, &mut node).await;

    assert_eq!(
        received(&node, "a"),
        [
            "to-r1",
            "to-r1-or-r2",
            "except-r2",
            "r1-except-r2",
            "from-b-to-all",
            "local",
            "to-a-by-id",
            "to-r1-after-leaving"
        ]
    );
    assert_eq!(received(&node, "b"), ["to-r1", "to-r1-or-r2", "local"]);
    assert_eq!(received(&node, "c"), ["to-r1-or-r2", "from-b-to-all", "from-b-to-r2", "local"]);
    assert_eq!(received(&node, "d"), ["except-r2", "from-b-to-all", "local"]);
    for name in NAMES {
        let volatile = node.events_of(name).iter().filter(|(n, _)| n == "volatile").count();
        assert!(volatile <= 1, "{name} got the volatile broadcast {volatile} times");
    }
    assert_eq!(node.events_of("a")[1].1, json!([2]));

    let rooms: BTreeSet<String> = io.sockets().rooms().iter().map(|r| r.to_string()).collect();
    assert!(rooms.contains("r1") && !rooms.contains("r2"), "an emptied room is gone: {rooms:?}");
    assert_eq!(a.rooms(), [a.id().clone(), "r1".into()]);
    assert_eq!(b.rooms(), [b.id().clone()]);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_acks_collect_one_answer_per_client() {
    let server = TestServer::start(Config::default()).await;
    let answers = json!({
        "a": {"ask": "name", "ask-again": "name"},
        "b": {"ask": "name", "ask-again": "name"},
        "c": {"ask": "name", "ask-again": "name"},
        "d": {"ask": "name", "ask-again": "silent"},
    });
    let (mut node, sockets) = four_clients(&server, "broadcast_acks", answers).await;
    let names = |responses: &[socketio_server::AckResponse]| -> Vec<String> {
        let mut names: Vec<String> = responses.iter().map(|r| r.arg::<String>().expect("a name")).collect();
        names.sort();
        names
    };

    let responses = server
        .io
        .timeout(Duration::from_secs(10))
        .emit_with_ack("ask", &"question")
        .await
        .expect("every answer");
    assert_eq!(names(&responses), NAMES);
    for name in NAMES {
        assert_eq!(node.received(name, "ask").await["args"], json!(["question"]));
    }

    sockets[0].join("pair");
    sockets[3].join("pair");
    let responses = server
        .io
        .to("pair")
        .timeout(Duration::from_secs(10))
        .emit_with_ack("ask", &())
        .await
        .expect("answers");
    assert_eq!(names(&responses), ["a", "d"]);

    // `d` stays silent: the others' answers are kept.
    // (The deadline is generous so that the three answers arrive in time on a busy machine.)
    match server.io.timeout(Duration::from_millis(1500)).emit_with_ack("ask-again", &()).await {
        Err(BroadcastAckError::Timeout { responses, expected }) => {
            assert_eq!(expected, 4);
            assert_eq!(names(&responses), ["a", "b", "c"]);
        }
        other => panic!("expected a timeout with partial answers, got {other:?}"),
    }
    assert!(node.received("d", "ask-again").await["ack"].as_bool().expect("ack flag"));

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_and_remote_handles() {
    let server = TestServer::start(Config::default()).await;
    let (mut node, sockets) = four_clients(&server, "fetch_sockets", json!({})).await;
    let b = &sockets[1];
    b.join("r2");
    sockets[2].join("r2");
    let (reasons, mut disconnected) = inbox::<DisconnectReason>();
    b.on_disconnect(move |_, reason| {
        let _ = reasons.send(reason);
        async {}
    });

    let all = server.io.fetch_sockets().await.expect("fetch");
    let ids: BTreeSet<String> = all.iter().map(|s| s.id().to_string()).collect();
    let expected: BTreeSet<String> = sockets.iter().map(|s| s.id().to_string()).collect();
    assert_eq!(ids, expected);
    for remote in &all {
        let local = sockets.iter().find(|s| s.id() == remote.id()).expect("a known socket");
        let name = local.data::<Json>().expect("data")["name"].clone();
        assert_eq!(remote.data::<Json>(), Some(json!({"name": name})));
        assert!(remote.rooms().contains(remote.id()), "{:?}", remote.rooms());
        assert_eq!(remote.handshake()["address"], "127.0.0.1");
        assert_eq!(remote.handshake()["auth"], json!({}));
    }

    let in_r2 = server.io.to("r2").fetch_sockets().await.expect("fetch");
    let ids: BTreeSet<String> = in_r2.iter().map(|s| s.id().to_string()).collect();
    assert_eq!(ids, [b.id().to_string(), sockets[2].id().to_string()].into());
    let remote_b = in_r2.iter().find(|s| s.id() == b.id()).expect("b is in r2");
    assert!(remote_b.rooms().iter().any(|r| &**r == "r2"), "{:?}", remote_b.rooms());
    assert_eq!(remote_b.data::<Json>(), Some(json!({"name": "b"})));

    remote_b.emit("remote-hello", &("x", 1)).expect("emit");
    assert_eq!(node.received("b", "remote-hello").await["args"], json!(["x", 1]));
    let answer = remote_b.emit_with_ack("remote-ask", &"q", Duration::from_secs(10)).await.expect("answer");
    assert_eq!(answer.arg::<String>().expect("the echo"), "q");
    remote_b.join("r9");
    assert!(b.rooms().iter().any(|r| &**r == "r9"));
    remote_b.leave("r9");
    assert!(!b.rooms().iter().any(|r| &**r == "r9"));

    remote_b.disconnect(false);
    let gone = node.next("b", "disconnect").await;
    assert_eq!(gone["reason"], "io server disconnect", "{gone}");
    assert_eq!(disconnected.next("b's disconnection").await, DisconnectReason::ServerNamespaceDisconnect);
    assert_eq!(server.io.fetch_sockets().await.expect("fetch").len(), 3);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_joins_leaves_and_disconnections() {
    let server = TestServer::start(Config::default()).await;
    let (mut node, sockets) = four_clients(&server, "bulk_operations", json!({})).await;
    let d = &sockets[3];
    let io = &server.io;

    io.sockets_join("all");
    assert!(sockets.iter().all(|s| s.rooms().iter().any(|r| &**r == "all")));
    io.to("all").except(d.id().clone()).sockets_join(["club", "guild"]);
    io.except("club").sockets_leave("all");
    io.to("guild").emit("guild", &1).expect("emit");
    io.to("all").emit("all", &2).expect("emit");
    mark(&server, &mut node).await;
    for name in ["a", "b", "c"] {
        assert_eq!(received(&node, name), ["guild", "all"], "{name}");
    }
    assert_eq!(received(&node, "d"), Vec::<String>::new());

    // A single node: server-side emits reach no other node.
    assert_eq!(io.server_side_emit("sync", &("x", 1)).await.expect("server-side emit"), 0);
    let answers = io
        .sockets()
        .server_side_emit_with_ack("sync", &(), Duration::from_millis(100))
        .await
        .expect("server-side emit with ack");
    assert_eq!(answers, Vec::<Json>::new());

    io.to("club").disconnect_sockets(false);
    for name in ["a", "b", "c"] {
        assert_eq!(node.next(name, "disconnect").await["reason"], "io server disconnect");
    }
    d.on("still?", |_, event| async move {
        event.reply(&"yes").expect("reply");
    });
    assert_eq!(node.call("d", "still?", json!([])).await, json!(["yes"]));
    assert_eq!(io.sockets().sockets().len(), 1);

    io.disconnect_sockets(true);
    assert_eq!(node.next("d", "disconnect").await["reason"], "io server disconnect");
    server.wait_sessions(0).await;

    node.exit().await;
    server.close().await;
}
