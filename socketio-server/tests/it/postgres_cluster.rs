//! A mixed cluster on one real PostgreSQL: two of our nodes (`r1`, `r2`, the PostgreSQL
//! adapter) and a Node.js node (socket.io 4.8.4, `@socket.io/postgres-adapter` 0.5.0, see
//! `tests/postgres_cluster/peer.js`), with an npm `socket.io-client` 4.8.4 on each.
//!
//! `every_operation_crosses_the_cluster_both_ways` pins broadcasts to everyone, to rooms and
//! with `except` (binary data through the attachments table included); `fetch_sockets` and a
//! fetched remote socket's `emit`; `sockets_join` / `sockets_leave`; server-side events with
//! and without acks; broadcasts with acks collecting every node's clients, and timing out with
//! the answers that arrived; the server count; `disconnect_sockets`.
//! `a_server_side_emit_with_ack_times_out_with_the_answers_that_arrived`: when one of the three
//! nodes hears a server-side event and never answers, the asker's timeout gives the answer of
//! the node that did.
//! `the_clients_ride_out_a_database_restart_under_load` restarts PostgreSQL while our nodes
//! broadcast: every client stays connected, this node's clients miss nothing, and the cluster
//! works again afterwards.
//!
//! It follows the Redis mixed-cluster test (`cluster_node.rs` and its harness `cluster/mod.rs`),
//! whose harness speaks Redis and is built with the `redis` feature only; the npm clients and
//! the PostgreSQL server are the shared harnesses. "Not received" is checked deterministically:
//! each node then emits a mark to everyone, and a client's events are compared once it has
//! every mark (our nodes' messages arrive in order; the Node.js node's too, except that one
//! with an attachment may be overtaken, so it is awaited first).

use crate::support;

#[path = "../../../socketio-adapter/tests/pg_support/postgres_server.rs"]
mod postgres_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postgres_server::PostgresServer;
use serde_json::{json, Value as Json};
use socketio_server::adapter::{PostgresAdapterConfig, PostgresClients, PostgresStatus};
use socketio_server::{BroadcastAckError, Bytes, Config, ServerSideAckError, Socket, SocketIo};
use support::node_peer::{
    adopt_auth, answer_server_side, client, connected_id, eventually_within, fetch_socket_ids, set,
    sorted_strings, try_fetch_socket_ids, wait_server_count, without_marks, NodePeer,
};
use support::{bin, ensure_clients, inbox, Inbox, Node, TestServer, WAIT};
use tokio::time::{timeout, Instant};

/// How long the cluster may take to be whole again after a database restart: the Node.js
/// adapter waits one to three seconds before reconnecting, then the heartbeats.
const REJOIN: Duration = Duration::from_secs(30);

/// The adapter options of our nodes: short heartbeats, fast reconnection.
fn pg_config() -> PostgresAdapterConfig {
    PostgresAdapterConfig::default()
        .with_heartbeat(Duration::from_millis(500), Duration::from_secs(3))
        .with_requests_timeout(Duration::from_secs(3))
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(2))
}

// -------------------------------------------------------------------------------------------
// Our nodes

/// One of our nodes.
struct RustNode {
    server: TestServer,
    pg: PostgresClients,
    /// The server-side events it received: (event, args).
    server_side: Inbox<(String, Vec<Json>)>,
}

impl RustNode {
    /// A node on the database of `conninfo`; every socket joins the rooms of its `auth.rooms`
    /// and gets `data = {name: auth.name}`. It listens for the server-side events `hello` (no
    /// answer) and `question` (answered with the node's name).
    async fn start(name: &'static str, conninfo: &str) -> Self {
        let pg = PostgresClients::connect(conninfo, pg_config()).await.expect("connect to PostgreSQL");
        let io = SocketIo::builder(Config::default()).adapter(pg.factory::<Socket>()).build();
        io.on_connection(|socket: Socket| async move { adopt_auth(&socket) });
        let server_side = answer_server_side(&io, name);
        let server = TestServer::serve(io).await;
        RustNode { server, pg, server_side }
    }

    fn io(&self) -> &SocketIo {
        &self.server.io
    }

    /// Starts node with `clients` against this node.
    fn clients(&self, label: &str, clients: Json) -> Node {
        self.server.node(label, clients)
    }

    /// Waits until the cluster counts `n` servers.
    async fn wait_servers(&self, n: usize) {
        wait_server_count(self.io(), n).await;
    }

    /// The ids of the sockets `rooms` reaches on every node, or `None` when a node did not
    /// answer.
    async fn try_fetch_ids(&self, rooms: &[&str]) -> Option<BTreeSet<String>> {
        try_fetch_socket_ids(self.io(), rooms).await
    }

    async fn fetch_ids(&self, rooms: &[&str]) -> BTreeSet<String> {
        fetch_socket_ids(self.io(), rooms).await
    }
}

// -------------------------------------------------------------------------------------------
// The Node.js node

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("postgres_cluster")
}

/// Starts `peer.js` on the database at 127.0.0.1:`port`; it listens for the server-side
/// events `hello`, `question` and `quiet` (the last two answered with `"node"`).
async fn start_peer(port: u16) -> NodePeer {
    let config = json!({
        "pg": {"host": "127.0.0.1", "port": port, "user": "postgres", "database": "postgres"},
        "timeoutMs": 90_000,
        "heartbeatInterval": 500,
        "heartbeatTimeout": 3000,
        "serverSideAnswers": {"hello": null, "question": "node", "quiet": "node"},
    });
    NodePeer::start(&peer_dir(), &[config.to_string()]).await
}

// -------------------------------------------------------------------------------------------
// Helpers

/// Every node emits `mark` with its name; waits until every client has the three marks.
async fn marks(
    r1: &RustNode,
    r2: &RustNode,
    peer: &mut NodePeer,
    clients: &mut [(&mut Node, &str)],
    round: u32,
) {
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

/// Waits until every node's `fetch_sockets` finds exactly `want` (so every node listens and
/// knows the others).
async fn everyone_sees(
    r1: &RustNode,
    r2: &RustNode,
    peer: &mut NodePeer,
    want: &BTreeSet<String>,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let seen = [r1.try_fetch_ids(&[]).await, r2.try_fetch_ids(&[]).await, peer.try_fetch_ids(&[]).await];
        if seen.iter().all(|s| s.as_ref() == Some(want)) {
            return;
        }
        assert!(Instant::now() < deadline, "the nodes see {seen:?}, expected {want:?} (within {within:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The three nodes on one database, each counting three servers.
async fn cluster(db: &PostgresServer) -> (RustNode, RustNode, NodePeer) {
    ensure_clients();
    let r1 = RustNode::start("r1", &db.conninfo()).await;
    let r2 = RustNode::start("r2", &db.conninfo()).await;
    let mut peer = start_peer(db.port()).await;
    r1.wait_servers(3).await;
    r2.wait_servers(3).await;
    let deadline = Instant::now() + WAIT;
    while peer.server_count().await != 3 {
        assert!(Instant::now() < deadline, "the Node.js node does not count three servers within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (r1, r2, peer)
}

// -------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_crosses_the_cluster_both_ways() {
    let db = PostgresServer::start();
    let (mut r1, mut r2, mut peer) = cluster(&db).await;

    let mut c1 = r1.clients("pg c1", json!([client("c1", &["red"], false)]));
    let mut c2 = r2.clients("pg c2", json!([client("c2", &["red", "blue"], false)]));
    let mut c3 = Node::spawn("pg c3", &peer.url(), json!([client("c3", &["blue"], true)]));
    let id1 = connected_id(&mut c1, "c1").await;
    let id2 = connected_id(&mut c2, "c2").await;
    let id3 = connected_id(&mut c3, "c3").await;
    let everyone = set(&[&id1, &id2, &id3]);
    // The sockets join their rooms just after they connect.
    eventually_within("every socket is in its rooms", WAIT, || async {
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
    // The Node.js node publishes through a pool, a message with an attachment in two
    // statements: its later mark may overtake it.
    // A message with an attachment may be overtaken by a later one (the Node.js node writes it
    // in two statements through a pool, and reads the attachment back with a query of its
    // own), and so may any message of the Node.js node: wait for each.
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        assert_eq!(node.received(name, "bin-node").await["args"], json!([bin(&[1, 2]), {"n": 5}]));
        assert_eq!(node.received(name, "bin-r1").await["args"], json!([bin(&[3, 4])]));
    }
    assert_eq!(c1.received("c1", "red-not-blue-node").await["args"], json!([4]));
    marks(&r1, &r2, &mut peer, &mut [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")], 1).await;
    assert_eq!(without_marks(&c1, "c1"), set(&["all-r1", "bin-r1", "red-not-blue-node", "bin-node"]));
    assert_eq!(without_marks(&c2, "c2"), set(&["all-r1", "bin-r1", "blue-r2", "bin-node"]));
    assert_eq!(without_marks(&c3, "c3"), set(&["all-r1", "bin-r1", "blue-r2", "not-red-r2", "bin-node"]));

    // ---- fetch_sockets, both ways, and a remote socket's emit.
    assert_eq!(r1.fetch_ids(&[]).await, everyone);
    assert_eq!(peer.try_fetch_ids(&[]).await, Some(everyone.clone()));
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
    let mut rooms = vec![id1.clone(), "red".to_owned()];
    rooms.sort();
    assert_eq!(sorted_strings(&c1_seen["rooms"]), rooms);
    assert_eq!(c1_seen["handshake"]["auth"], json!({"name": "c1", "rooms": ["red"]}));

    // ---- Joins and leaves across nodes.
    r1.io().to("red").sockets_join("green");
    peer.wait_sees(&["green"], set(&[&id1, &id2])).await;
    peer.run(json!({"cmd": "join", "to": ["blue"], "rooms": ["teal"]})).await;
    eventually_within("blue sockets join teal, seen from r1", WAIT, || async {
        r1.fetch_ids(&["teal"]).await == set(&[&id2, &id3])
    })
    .await;
    r2.io().to("green").sockets_leave("green");
    peer.wait_sees(&["green"], BTreeSet::new()).await;
    peer.run(json!({"cmd": "leave", "to": ["teal"], "rooms": ["teal"]})).await;
    eventually_within("teal is empty, seen from r2", WAIT, || async {
        r2.fetch_ids(&["teal"]).await.is_empty()
    })
    .await;

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
    let done = peer
        .run(json!({"cmd": "emit_with_ack", "to": ["red"], "event": "ask-silent", "args": [1], "timeoutMs": 1500}))
        .await;
    // c1 and c2 (ours) answer `ask-silent` like any event: echo.
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(done["responses"], json!([1, 1]));
    let done = peer
        .run(json!({"cmd": "emit_with_ack", "event": "ask-silent", "args": [2], "timeoutMs": 1500}))
        .await;
    assert_eq!(done["err"], "operation has timed out");
    assert_eq!(done["responses"], json!([2, 2]));
    marks(&r1, &r2, &mut peer, &mut [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")], 2).await;

    // ---- The server count, and disconnections last.
    assert_eq!(r2.io().sockets().adapter().server_count().await, Ok(3));
    assert_eq!(peer.server_count().await, 3);
    r1.io().to("blue").disconnect_sockets(false);
    assert_eq!(c2.next("c2", "disconnect").await["reason"], "io server disconnect");
    assert_eq!(c3.next("c3", "disconnect").await["reason"], "io server disconnect");
    peer.run(json!({"cmd": "disconnect", "to": ["red"], "close": true})).await;
    let reason = c1.next("c1", "disconnect").await["reason"].clone();
    assert!(reason == "transport close" || reason == "io server disconnect", "{reason}");

    for node in [c1, c2, c3] {
        node.exit().await;
    }
    peer.exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_side_emit_with_ack_times_out_with_the_answers_that_arrived() {
    let db = PostgresServer::start();
    let (r1, r2, mut peer) = cluster(&db).await;
    // r2 hears `quiet` and never answers (its ack is dropped); the Node.js node answers "node".
    let (heard, mut r2_heard) = inbox();
    r2.io().on_server_side_emit("quiet", move |args, ack| {
        let heard = heard.clone();
        async move {
            let _ = heard.send((args, ack.is_some()));
        }
    });

    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    match r1.io().server_side_emit_with_ack("quiet", &"?", timeout).await {
        Err(ServerSideAckError::Timeout { responses, expected }) => {
            assert_eq!(responses, [json!("node")], "the answer that arrived");
            assert_eq!(expected, 2, "one answer expected from each other node");
        }
        other => panic!("the request times out with the Node.js node's answer, got {other:?}"),
    }
    assert!(started.elapsed() >= timeout, "the request waited for its timeout: {:?}", started.elapsed());
    // Both nodes got the event: r2 was asked for an answer and gave none.
    assert_eq!(r2_heard.next("quiet on r2").await, (vec![json!("?")], true));
    assert_eq!(peer.server_side("quiet").await, json!(["?"]));

    // Once r2 answers too, the same request resolves with both answers.
    r2.io().on_server_side_emit("quiet", |_args, ack| async move {
        if let Some(ack) = ack {
            ack.send(&"r2");
        }
    });
    let answers = r1.io().server_side_emit_with_ack("quiet", &"?", timeout).await.expect("two answers");
    assert_eq!(sorted_strings(&Json::Array(answers)), ["node", "r2"]);

    peer.exit().await;
}

/// Broadcasts `event` with a counter from `io` every 10 ms until `stop`; answers how many.
async fn load(io: SocketIo, event: &'static str, stop: Arc<AtomicBool>) -> u64 {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        io.emit(event, &n).expect("emit");
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    n
}

/// The counters of the `event`s `client` received, in order.
fn counters(node: &Node, client: &str, event: &str) -> Vec<u64> {
    node.events_of(client)
        .into_iter()
        .filter(|(name, _)| name == event)
        .filter_map(|(_, args)| args[0].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_ride_out_a_database_restart_under_load() {
    let mut db = PostgresServer::start();
    let (r1, r2, mut peer) = cluster(&db).await;
    let mut c1 = r1.clients("pg restart c1", json!([client("c1", &["red"], false)]));
    let mut c2 = r2.clients("pg restart c2", json!([client("c2", &["blue"], false)]));
    let mut c3 = Node::spawn("pg restart c3", &peer.url(), json!([client("c3", &["blue"], false)]));
    let id1 = connected_id(&mut c1, "c1").await;
    let id2 = connected_id(&mut c2, "c2").await;
    let id3 = connected_id(&mut c3, "c3").await;
    let everyone = set(&[&id1, &id2, &id3]);
    everyone_sees(&r1, &r2, &mut peer, &everyone, WAIT).await;

    // Both of our nodes broadcast to everyone all along.
    let stop = Arc::new(AtomicBool::new(false));
    let load1 = tokio::spawn(load(r1.io().clone(), "load-r1", stop.clone()));
    let load2 = tokio::spawn(load(r2.io().clone(), "load-r2", stop.clone()));
    c1.received("c1", "load-r1").await;
    c2.received("c2", "load-r2").await;

    db.stop();
    eventually_within("both nodes see the connection lost", WAIT, || async {
        r1.pg.status() != PostgresStatus::Connected && r2.pg.status() != PostgresStatus::Connected
    })
    .await;
    // An outage of about two seconds under load (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(2)).await;
    db.restart();
    timeout(REJOIN, r1.pg.connected()).await.expect("r1 reconnects");
    timeout(REJOIN, r2.pg.connected()).await.expect("r2 reconnects");
    // The same three sockets, seen from every node: nobody reconnected, and the cluster is
    // whole again.
    everyone_sees(&r1, &r2, &mut peer, &everyone, REJOIN).await;

    stop.store(true, Ordering::SeqCst);
    let sent1 = timeout(WAIT, load1).await.expect("the load stops").expect("the load task");
    let sent2 = timeout(WAIT, load2).await.expect("the load stops").expect("the load task");
    // Broadcasts cross the cluster again, both ways.
    r1.io().emit("end-r1", &sent1).expect("emit");
    r2.io().emit("end-r2", &sent2).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "end-node", "args": []})).await;
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        for end in ["end-r1", "end-r2", "end-node"] {
            node.received(name, end).await;
        }
    }
    // Each node's own client got every broadcast of its node, in order, once.
    assert_eq!(counters(&c1, "c1", "load-r1"), (0..sent1).collect::<Vec<_>>());
    assert_eq!(counters(&c2, "c2", "load-r2"), (0..sent2).collect::<Vec<_>>());
    for (node, name) in [(&c1, "c1"), (&c2, "c2"), (&c3, "c3")] {
        assert!(
            node.events_of(name).iter().all(|(event, _)| !event.starts_with("disconnect")),
            "{name} stays connected"
        );
    }

    for node in [c1, c2, c3] {
        node.exit().await;
    }
    peer.exit().await;
}
