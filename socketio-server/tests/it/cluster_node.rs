//! A mixed cluster on one real `redis-server`: two of our nodes (`r1`, `r2`) and a Node.js node
//! (socket.io 4.8.4, `@socket.io/redis-adapter` 8.3.0), with an npm `socket.io-client` 4.8.4
//! on each: `c1` on r1 in room `red`, `c2` on r2 in `red` and `blue`, `c3` on Node.js in
//! `blue`.
//!
//! Pins, in both directions: broadcasts to everyone, to rooms and with `except`; binary data;
//! `fetch_sockets` (ids, rooms, data, the handshake in Node's shape) and a fetched remote
//! socket's `emit`; `sockets_join` / `sockets_leave` / `disconnect_sockets`; server-side events
//! with and without acks; broadcasts with acks collecting every node's clients, and timing out
//! with the answers that arrived; `@socket.io/redis-emitter` 5.1.0 driving our nodes; the
//! server count.
//!
//! "Not received" is checked deterministically: each node then emits a mark to everyone, and
//! a client's events are compared once it has every mark (each node's messages arrive in
//! order).

use crate::cluster;
use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use cluster::{Peer, RedisServer, RustNode};
use serde_json::{json, Value as Json};
use socketio_server::{BroadcastAckError, Bytes};
use support::node_peer::{client, connected_id, eventually, names, set, sorted_strings, without_marks};
use support::{bin, ensure_clients, Node};

/// Every node emits `mark` with its name; waits until every client has the three marks.
async fn marks(r1: &RustNode, r2: &RustNode, peer: &mut Peer, clients: &mut [(&mut Node, &str)], round: u32) {
    let mark = format!("mark{round}");
    r1.io().emit(&mark, &"r1").expect("emit");
    r2.io().emit(&mark, &"r2").expect("emit");
    peer.run(json!({"cmd": "emit", "event": mark, "args": ["node"]})).await;
    for (node, name) in clients.iter_mut() {
        for _ in 0..3 {
            node.received(name, &mark).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_nodes_and_a_node_js_node_share_one_cluster() {
    ensure_clients();
    let redis = RedisServer::start();
    let mut r1 = RustNode::start("r1", &redis.url()).await;
    let mut r2 = RustNode::start("r2", &redis.url()).await;
    let mut peer = Peer::start(&redis.url()).await;
    r1.wait_servers(3).await;

    let mut c1 = r1.clients("cluster c1", json!([client("c1", &["red"], false)]));
    let mut c2 = r2.clients("cluster c2", json!([client("c2", &["red", "blue"], false)]));
    let mut c3 = Node::spawn("cluster c3", &peer.url(), json!([client("c3", &["blue"], true)]));
    let id1 = connected_id(&mut c1, "c1").await;
    let id2 = connected_id(&mut c2, "c2").await;
    let id3 = connected_id(&mut c3, "c3").await;
    let everyone = set(&[&id1, &id2, &id3]);
    // The sockets join their rooms just after they connect.
    eventually("every socket is in its rooms", || async {
        r1.fetch_ids(&["red"]).await.len() == 2 && r1.fetch_ids(&["blue"]).await.len() == 2
    })
    .await;

    // ---- Broadcasts, both ways, with rooms, `except` and binary data.
    r1.io().emit("all-r1", &1).expect("emit");
    r2.io().to("blue").emit("blue-r2", &2).expect("emit");
    r2.io().except("red").emit("not-red-r2", &3).expect("emit");
    r1.io().emit("bin-r1", &Bytes::from_static(&[3, 4])).expect("emit");
    peer.run(
        json!({"cmd": "emit", "to": ["red"], "except": ["blue"], "event": "red-not-blue-node", "args": [4]}),
    )
    .await;
    peer.run(json!({"cmd": "emit", "event": "bin-node", "args": [bin(&[1, 2]), {"n": 5}]})).await;
    marks(&r1, &r2, &mut peer, &mut [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")], 1).await;
    assert_eq!(without_marks(&c1, "c1"), set(&["all-r1", "bin-r1", "red-not-blue-node", "bin-node"]));
    assert_eq!(without_marks(&c2, "c2"), set(&["all-r1", "bin-r1", "blue-r2", "bin-node"]));
    assert_eq!(without_marks(&c3, "c3"), set(&["all-r1", "bin-r1", "blue-r2", "not-red-r2", "bin-node"]));
    assert_eq!(c3.received("c3", "bin-r1").await["args"], json!([bin(&[3, 4])]));
    assert_eq!(c1.received("c1", "bin-node").await["args"], json!([bin(&[1, 2]), {"n": 5}]));

    // ---- fetch_sockets, both ways.
    assert_eq!(r1.fetch_ids(&[]).await, everyone);
    assert_eq!(peer.fetch_ids(&[]).await, everyone);
    let fetched = r2.io().to("blue").fetch_sockets().await.expect("fetch_sockets");
    let c3_socket = fetched.iter().find(|s| **s.id() == *id3).expect("c3 is fetched from the Node.js node");
    assert_eq!(c3_socket.data::<Json>(), Some(json!({"name": "c3"})));
    assert!(c3_socket.rooms().iter().any(|r| &**r == "blue"));
    assert_eq!(c3_socket.handshake()["auth"], json!({"name": "c3", "rooms": ["blue"]}));
    c3_socket.emit("direct", &"to c3").expect("emit to a remote socket");
    assert_eq!(c3.received("c3", "direct").await["args"], json!(["to c3"]));
    let from_node = peer.run(json!({"cmd": "fetch", "to": ["red"]})).await;
    let c1_seen = from_node["sockets"].as_array().into_iter().flatten().find(|s| s["id"] == id1).cloned();
    let c1_seen = c1_seen.expect("the Node.js node fetches c1 from our node");
    assert_eq!(c1_seen["data"], json!({"name": "c1"}));
    assert_eq!(sorted_strings(&c1_seen["rooms"]), {
        let mut rooms = vec![id1.clone(), "red".to_owned()];
        rooms.sort();
        rooms
    });
    for key in ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"] {
        assert!(
            c1_seen["handshake"].get(key).is_some(),
            "our handshake has `{key}`: {}",
            c1_seen["handshake"]
        );
    }

    // ---- Joins, leaves, disconnections across nodes.
    r1.io().to("red").sockets_join("green");
    peer.wait_sees(&["green"], set(&[&id1, &id2])).await;
    peer.run(json!({"cmd": "join", "to": ["blue"], "rooms": ["teal"]})).await;
    eventually("blue sockets join teal, seen from r1", || async {
        r1.fetch_ids(&["teal"]).await == set(&[&id2, &id3])
    })
    .await;
    r2.io().to("green").sockets_leave("green");
    peer.wait_sees(&["green"], BTreeSet::new()).await;
    peer.run(json!({"cmd": "leave", "to": ["teal"], "rooms": ["teal"]})).await;
    eventually("teal is empty, seen from r2", || async { r2.fetch_ids(&["teal"]).await.is_empty() }).await;

    // ---- Server-side events, both ways, with and without acks.
    assert_eq!(r1.io().server_side_emit("hello", &"from r1").await, Ok(2));
    assert_eq!(r2.server_side.next("hello from r1").await, ("hello".to_owned(), vec![json!("from r1")]));
    assert_eq!(peer.server_side("hello").await, json!(["from r1"]));
    peer.run(json!({"cmd": "server_side_emit", "event": "hello", "args": ["from node", 1]})).await;
    for node in [&mut r1, &mut r2] {
        assert_eq!(node.server_side.next("hello from node").await.1, vec![json!("from node"), json!(1)]);
    }
    let answers = r1
        .io()
        .server_side_emit_with_ack("question", &"?", Duration::from_secs(5))
        .await
        .expect("two answers");
    assert_eq!(sorted_strings(&Json::Array(answers)), ["node", "r2"]);
    assert_eq!(peer.server_side("question").await, json!(["?"]));
    r2.server_side.next("question from r1").await;
    let done =
        peer.run(json!({"cmd": "server_side_emit_with_ack", "event": "question", "args": ["?"]})).await;
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(sorted_strings(&done["responses"]), ["r1", "r2"]);
    r1.server_side.next("question from node").await;
    r2.server_side.next("question from node").await;

    // ---- Broadcasts with acks collect every node's clients, both ways.
    let answers =
        r1.io().timeout(Duration::from_secs(5)).emit_with_ack("ask", &"?").await.expect("three answers");
    let mut answered: Vec<String> = answers.iter().map(|a| a.arg::<String>().expect("a name")).collect();
    answered.sort();
    assert_eq!(answered, ["c1", "c2", "c3"]);
    let done =
        peer.run(json!({"cmd": "emit_with_ack", "event": "ask", "args": ["?"], "timeoutMs": 5000})).await;
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(sorted_strings(&done["responses"]), ["c1", "c2", "c3"]);
    // c3 (on Node.js) never answers `ask-silent`: the others' answers arrive, then the timeout.
    match r2.io().timeout(Duration::from_millis(1500)).emit_with_ack("ask-silent", &"?").await {
        Err(BroadcastAckError::Timeout { responses, expected }) => {
            assert_eq!((responses.len(), expected), (2, 3));
        }
        other => panic!("the broadcast times out, got {other:?}"),
    }
    let done =
        peer.run(json!({"cmd": "emit_with_ack", "to": ["red"], "event": "ask-silent", "args": [1], "timeoutMs": 1500})).await;
    // c1 and c2 (ours) answer `ask-silent` like any event: echo.
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(done["responses"], json!([1, 1]));
    let done = peer
        .run(json!({"cmd": "emit_with_ack", "event": "ask-silent", "args": [2], "timeoutMs": 1500}))
        .await;
    assert_eq!(done["err"], "operation has timed out");
    assert_eq!(done["responses"], json!([2, 2]));

    // ---- The emitter drives our nodes.
    peer.run(json!({"cmd": "emitter_emit", "to": ["blue"], "event": "from-emitter", "args": [7, bin(&[9])]}))
        .await;
    assert_eq!(c2.received("c2", "from-emitter").await["args"], json!([7, bin(&[9])]));
    assert_eq!(c3.received("c3", "from-emitter").await["args"], json!([7, bin(&[9])]));
    peer.run(json!({"cmd": "emitter_join", "to": ["red"], "rooms": ["emitted"]})).await;
    eventually("red sockets join `emitted`", || async {
        r1.fetch_ids(&["emitted"]).await == set(&[&id1, &id2])
    })
    .await;
    peer.run(json!({"cmd": "emitter_leave", "to": ["emitted"], "rooms": ["emitted"]})).await;
    eventually("`emitted` is empty", || async { r2.fetch_ids(&["emitted"]).await.is_empty() }).await;
    peer.run(json!({"cmd": "emitter_server_side_emit", "event": "hello", "args": ["from the emitter"]}))
        .await;
    assert_eq!(r1.server_side.next("hello from the emitter").await.1, vec![json!("from the emitter")]);
    assert_eq!(r2.server_side.next("hello from the emitter").await.1, vec![json!("from the emitter")]);
    marks(&r1, &r2, &mut peer, &mut [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")], 2).await;
    assert!(!names(&c1, "c1").contains("from-emitter"));

    // ---- The server count, and disconnections last.
    assert_eq!(r2.io().sockets().adapter().server_count().await, Ok(3));
    assert_eq!(peer.server_count().await, 3);
    let rooms = peer.run(json!({"cmd": "all_rooms"})).await;
    let rooms: BTreeSet<String> = sorted_strings(&rooms["rooms"]).into_iter().collect();
    assert!(rooms.is_superset(&set(&["red", "blue", &id1, &id2, &id3])), "{rooms:?}");
    r1.io().to("blue").disconnect_sockets(false);
    assert_eq!(c2.next("c2", "disconnect").await["reason"], "io server disconnect");
    assert_eq!(c3.next("c3", "disconnect").await["reason"], "io server disconnect");
    peer.run(json!({"cmd": "emitter_disconnect", "to": ["red"], "close": true})).await;
    let reason = c1.next("c1", "disconnect").await["reason"].clone();
    assert!(reason == "transport close" || reason == "io server disconnect", "{reason}");

    for node in [c1, c2, c3] {
        node.exit().await;
    }
    peer.exit().await;
}
