//! The Redis Streams adapter against `@socket.io/redis-streams-adapter` 0.2.3 on one real
//! `redis-server`:
//!
//! * the stream entries our node writes for each operation are the ones the Node.js node
//!   writes for the same operation;
//! * two of our nodes and one Node.js node serve one cluster, every operation both ways, with
//!   an npm `socket.io-client` on each node;
//! * a client of one of our nodes that loses its transport and comes back through the other
//!   gets its socket back: same id, rooms and data, the packets it missed in stream order,
//!   `recovered` true;
//! * the 20 broadcasts a node makes while Redis is down for about three seconds reach the
//!   other node's client once Redis is back, in order and once each;
//! * Redis killed and restarted while a node broadcasts every 25 ms: its own client gets every
//!   broadcast in order and once, the other node's client gets them in order, all of them from
//!   the outage on.

use crate::streams;
use crate::support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::{json, Value as Json};
use socketio_server::{BroadcastAckError, Bytes, SocketIo};
use streams::{start_peer, Proxy, RedisServer, RustNode};
use support::node_peer::{client, connected_id, eventually, names, set};
use support::{bin, ensure_clients, Node, WAIT};
use tokio::time::Instant;

/// The stream's entries: (id, fields).
async fn entries(redis: &RedisServer) -> Vec<(String, Vec<(String, String)>)> {
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis-server");
    let raw: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg("socket.io").arg("-").arg("+").query_async(&mut conn).await.expect("XRANGE");
    raw
}

/// What an entry says, without who wrote it and with request ids blanked: `type` and `data`
/// (JSON parsed, so that the comparison does not hang on text that may differ only in form).
fn normalised(fields: &[(String, String)]) -> (String, String, Json) {
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let data = get("data");
    let mut parsed = if data.starts_with('{') {
        serde_json::from_str::<Json>(&data).expect("JSON data")
    } else {
        json!({"$msgpack": data})
    };
    if parsed.get("requestId").is_some() {
        parsed["requestId"] = json!("?");
    }
    (get("nsp"), get("type"), parsed)
}

/// The messages `uid` wrote, heartbeats left out, in a stable order.
fn written_by(all: &[(String, Vec<(String, String)>)], uid: &str) -> Vec<String> {
    let mut out: Vec<String> = all
        .iter()
        .filter(|(_, f)| f.iter().any(|(k, v)| k == "uid" && v == uid))
        .map(|(_, f)| normalised(f))
        .filter(|(_, kind, _)| kind != "1" && kind != "2")
        .map(|(nsp, kind, data)| format!("{nsp} {kind} {data}"))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_entries_are_the_reference_entries() {
    let redis = RedisServer::start();
    let ours = RustNode::start("r1", &redis.url()).await;
    let mut peer = start_peer(&redis.url()).await;
    ours.wait_servers(2).await;
    let deadline = Instant::now() + WAIT;
    while peer.server_count().await != 2 {
        assert!(Instant::now() < deadline, "the Node.js node does not count two servers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The same operations, from our node then from the Node.js node.
    ours.io().to("r").except("x").emit("hello", &1).expect("emit");
    ours.io().emit("bin", &Bytes::from_static(&[1, 2, 3])).expect("emit");
    ours.io().to("r").sockets_join("j");
    ours.io().to("j").sockets_leave("j");
    ours.io().to("r").disconnect_sockets(true);
    assert_eq!(ours.io().server_side_emit("hello", &"x").await, Ok(1));
    assert!(ours.fetch_ids(&["r"]).await.is_empty());
    peer.run(json!({"cmd": "emit", "to": ["r"], "except": ["x"], "event": "hello", "args": [1]})).await;
    peer.run(json!({"cmd": "emit", "event": "bin", "args": [bin(&[1, 2, 3])]})).await;
    peer.run(json!({"cmd": "join", "to": ["r"], "rooms": ["j"]})).await;
    peer.run(json!({"cmd": "leave", "to": ["j"], "rooms": ["j"]})).await;
    peer.run(json!({"cmd": "disconnect", "to": ["r"], "close": true})).await;
    peer.run(json!({"cmd": "server_side_emit", "event": "hello", "args": ["x"]})).await;
    assert!(peer.fetch_ids(&["r"]).await.is_empty());

    let all = entries(&redis).await;
    let our_uid = all
        .iter()
        .flat_map(|(_, f)| f.iter())
        .find(|(k, v)| k == "uid" && *v != peer.uid)
        .map(|(_, v)| v.clone())
        .expect("our node wrote entries");
    let theirs = written_by(&all, &peer.uid);
    let mine = written_by(&all, &our_uid);
    assert_eq!(mine.len(), 8, "{mine:#?}");
    assert_eq!(mine, theirs, "our entries, then the Node.js node's");
    // Every entry carries the reference's fields, in the reference's order.
    for (_, fields) in &all {
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names == ["uid", "nsp", "type", "data"] || names == ["uid", "nsp", "type"], "{names:?}");
    }

    peer.exit().await;
    ours.server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_our_nodes_and_a_node_js_node_share_one_cluster() {
    ensure_clients();
    let redis = RedisServer::start();
    let mut r1 = RustNode::start("r1", &redis.url()).await;
    let mut r2 = RustNode::start("r2", &redis.url()).await;
    let mut peer = start_peer(&redis.url()).await;
    r1.wait_servers(3).await;
    r2.wait_servers(3).await;

    let mut c1 = r1.clients("streams c1", json!([client("c1", &["red"], false)]));
    let mut c2 = r2.clients("streams c2", json!([client("c2", &["red", "blue"], false)]));
    let mut c3 = Node::spawn("streams c3", &peer.url(), json!([client("c3", &["blue"], true)]));
    let id1 = connected_id(&mut c1, "c1").await;
    let id2 = connected_id(&mut c2, "c2").await;
    let id3 = connected_id(&mut c3, "c3").await;
    let everyone = set(&[&id1, &id2, &id3]);
    eventually("every socket is in its rooms", || async {
        r1.fetch_ids(&["red"]).await.len() == 2 && r1.fetch_ids(&["blue"]).await.len() == 2
    })
    .await;

    // Broadcasts: rooms, exceptions, binary, from every node.
    r1.io().emit("all-r1", &1).expect("emit");
    r2.io().to("blue").emit("blue-r2", &2).expect("emit");
    r2.io().except("red").emit("not-red-r2", &3).expect("emit");
    r1.io().emit("bin-r1", &Bytes::from_static(&[3, 4])).expect("emit");
    peer.run(
        json!({"cmd": "emit", "to": ["red"], "except": ["blue"], "event": "red-not-blue-node", "args": [4]}),
    )
    .await;
    peer.run(json!({"cmd": "emit", "event": "bin-node", "args": [bin(&[1, 2]), {"n": 5}]})).await;
    r1.io().emit("last", &0).expect("emit");
    r2.io().emit("last", &0).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "last", "args": [0]})).await;
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        for _ in 0..3 {
            node.received(name, "last").await;
        }
    }
    let seen = |node: &Node, name: &str| -> BTreeSet<String> {
        names(node, name).into_iter().filter(|n| n != "last").collect()
    };
    assert_eq!(seen(&c1, "c1"), set(&["all-r1", "bin-r1", "red-not-blue-node", "bin-node"]));
    assert_eq!(seen(&c2, "c2"), set(&["all-r1", "bin-r1", "blue-r2", "bin-node"]));
    assert_eq!(seen(&c3, "c3"), set(&["all-r1", "bin-r1", "blue-r2", "not-red-r2", "bin-node"]));
    // Recoverable packets carry their entry id as last argument, on every node.
    let from_r1 = c3.received("c3", "bin-r1").await["args"].clone();
    assert_eq!(from_r1[0], bin(&[3, 4]));
    let from_node = c1.received("c1", "bin-node").await["args"].clone();
    assert_eq!((&from_node[0], &from_node[1]), (&bin(&[1, 2]), &json!({"n": 5})));
    let offset_r1 = c1.received("c1", "all-r1").await["args"][1].clone();
    assert_eq!(c3.received("c3", "all-r1").await["args"][1], offset_r1, "one offset on every node");
    assert!(offset_r1.as_str().is_some_and(|o| o.contains('-')), "an entry id: {offset_r1}");

    // fetch_sockets both ways.
    assert_eq!(r1.fetch_ids(&[]).await, everyone);
    assert_eq!(peer.fetch_ids(&[]).await, everyone);
    let fetched = r2.io().to("blue").fetch_sockets().await.expect("fetch_sockets");
    let c3_socket = fetched.iter().find(|s| **s.id() == *id3).expect("c3 is fetched from the Node.js node");
    assert_eq!(c3_socket.data::<Json>(), Some(json!({"name": "c3"})));
    let from_peer = peer.run(json!({"cmd": "fetch", "to": ["red"]})).await;
    let c1_seen = from_peer["sockets"].as_array().into_iter().flatten().find(|s| s["id"] == id1).cloned();
    assert_eq!(c1_seen.expect("the Node.js node fetches c1")["data"], json!({"name": "c1"}));

    // Joins and leaves both ways.
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
    eventually("teal is empty", || async { r2.fetch_ids(&["teal"]).await.is_empty() }).await;

    // Server-side events, with and without acks, both ways.
    assert_eq!(r1.io().server_side_emit("hello", &"from r1").await, Ok(2));
    assert_eq!(r2.server_side.next("hello from r1").await.1, vec![json!("from r1")]);
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
    let mut answers: Vec<String> = answers.iter().map(|a| a.as_str().unwrap_or("?").to_owned()).collect();
    answers.sort();
    assert_eq!(answers, ["node", "r2"]);
    let done =
        peer.run(json!({"cmd": "server_side_emit_with_ack", "event": "question", "args": ["?"]})).await;
    assert_eq!(done["err"], Json::Null, "{done}");
    let mut responses: Vec<String> = done["responses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or("?").to_owned())
        .collect();
    responses.sort();
    assert_eq!(responses, ["r1", "r2"]);

    // Broadcasts with acks both ways.
    let answers =
        r1.io().timeout(Duration::from_secs(5)).emit_with_ack("ask", &"?").await.expect("three answers");
    let mut answered: Vec<String> = answers.iter().map(|a| a.arg::<String>().expect("a name")).collect();
    answered.sort();
    assert_eq!(answered, ["c1", "c2", "c3"]);
    let done =
        peer.run(json!({"cmd": "emit_with_ack", "event": "ask", "args": ["?"], "timeoutMs": 5000})).await;
    assert_eq!(done["err"], Json::Null, "{done}");
    let mut responses: Vec<String> = done["responses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or("?").to_owned())
        .collect();
    responses.sort();
    assert_eq!(responses, ["c1", "c2", "c3"]);
    match r2.io().timeout(Duration::from_millis(1500)).emit_with_ack("ask-silent", &"?").await {
        Err(BroadcastAckError::Timeout { responses, expected }) => {
            assert_eq!((responses.len(), expected), (2, 3));
        }
        other => panic!("the broadcast times out, got {other:?}"),
    }

    // Server count, then disconnections both ways.
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
    r1.server.close().await;
    r2.server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recovers_its_session_through_another_node() {
    ensure_clients();
    let redis = RedisServer::start();
    let mut a = RustNode::start("a", &redis.url()).await;
    let mut b = RustNode::start("b", &redis.url()).await;
    a.wait_servers(2).await;
    b.wait_servers(2).await;
    let proxy = Proxy::start(a.server.addr).await;
    let spec = json!([{
        "name": "c",
        "transports": ["websocket"],
        "auth": {"name": "ada", "rooms": ["news"]},
    }]);
    let mut node = Node::spawn("streams recovery", &proxy.url(), spec);

    let first = node.next("c", "connect").await;
    assert_eq!(first["recovered"], false);
    let (id, recovered, rooms, data) = a.connections.next("the first connection").await;
    assert!(!recovered);
    assert_eq!(first["id"], id);
    b.io().to("news").emit("before", &0).expect("emit");
    let before = node.received("c", "before").await;
    assert!(before["args"][1].as_str().is_some_and(|o| o.contains('-')), "an entry id: {before}");

    // The client loses its transport; the next connection goes to node b.
    proxy.point_at(b.server.addr);
    node.send(json!({"cmd": "close_engine", "client": "c"})).await;
    assert_eq!(a.disconnections.next("the disconnection on a").await, id);
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis-server");
    let deadline = Instant::now() + WAIT;
    loop {
        let keys: Vec<String> = conn.keys("sio:session:*").await.expect("KEYS");
        if keys.len() == 1 {
            let ttl: i64 = conn.pttl(&keys[0]).await.expect("PTTL");
            assert!(ttl > 0, "the session expires");
            break;
        }
        assert!(Instant::now() < deadline, "no session stored within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Missed while away, sent from both nodes.
    a.io().to("news").emit("missed", &1).expect("emit");
    b.io().emit("missed", &2).expect("emit");
    b.io().to("sports").emit("not for c", &3).expect("emit");
    a.io().to(id.as_str()).emit("missed", &4).expect("emit");
    a.io().volatile().emit("volatile", &5).expect("emit");
    let deadline = Instant::now() + WAIT;
    let stream_order = loop {
        let order: Vec<(Json, String)> = entries(&redis)
            .await
            .iter()
            .filter_map(|(entry_id, f)| {
                let (_, kind, data) = normalised(f);
                (kind == "3" && data["packet"]["data"][0] == "missed")
                    .then(|| (data["packet"]["data"][1].clone(), entry_id.clone()))
            })
            .collect();
        if order.len() == 3 {
            break order;
        }
        assert!(Instant::now() < deadline, "the broadcasts are not in the stream: {order:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    node.send(json!({"cmd": "connect", "client": "c"})).await;
    let back = node.next("c", "connect").await;
    assert_eq!(back["id"], id, "the same socket id: {back}");
    assert_eq!(back["recovered"], true, "{back}");
    let (again, recovered, rooms_back, data_back) = b.connections.next("the connection on b").await;
    assert_eq!(again, id);
    assert!(recovered);
    assert_eq!(rooms_back, rooms, "the rooms are back");
    assert!(rooms_back.contains(&"news".to_owned()));
    assert_eq!(data_back, data);
    assert_eq!(data_back, json!({"name": "ada"}));

    let mut got = Vec::new();
    for _ in 0..3 {
        let missed = node.received("c", "missed").await;
        got.push((missed["args"][0].clone(), missed["args"][1].as_str().unwrap_or_default().to_owned()));
    }
    assert_eq!(got, stream_order, "the missed packets, in stream order, each with its entry id");
    let state = node.state("c").await;
    assert_eq!(state["recovered"], true);
    let seen: Vec<String> = node.events_of("c").into_iter().map(|(name, _)| name).collect();
    assert_eq!(seen, ["before", "missed", "missed", "missed"]);

    // The socket works as before on node b, in its rooms, reached from node a too.
    a.io().to("news").emit("after", &6).expect("emit");
    assert_eq!(node.received("c", "after").await["args"][0], 6);
    let keys: Vec<String> = conn.keys("sio:session:*").await.expect("KEYS");
    assert!(keys.is_empty(), "a restored session is deleted: {keys:?}");

    node.exit().await;
    a.server.close().await;
    b.server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_made_during_a_redis_outage_reach_the_other_nodes_client_in_order_once() {
    ensure_clients();
    let mut redis = RedisServer::start();
    let a = RustNode::start("a", &redis.url()).await;
    let b = RustNode::start("b", &redis.url()).await;
    a.wait_servers(2).await;
    b.wait_servers(2).await;
    let mut ca = a.clients("outage ca", json!([client("ca", &["red"], false)]));
    let mut cb = b.clients("outage cb", json!([client("cb", &["red"], false)]));
    connected_id(&mut ca, "ca").await;
    connected_id(&mut cb, "cb").await;
    a.io().to("red").emit("before", &0).expect("emit");
    cb.received("cb", "before").await;

    redis.stop();
    for i in 0..20 {
        a.io().to("red").emit("during", &i).expect("emit");
    }
    // This node's own client does not wait for Redis; without an entry id it gets no offset.
    for i in 0..20 {
        assert_eq!(ca.received("ca", "during").await["args"], json!([i]));
    }
    eventually("a queues the 20 broadcasts", || async { a.redis.queued_publishes() == 20 }).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;

    // A stream keeps its entries: b reads from the last one it read whenever it is back, so
    // which node reconnects first does not matter.
    redis.restart();
    for i in 0..20 {
        let during = cb.received("cb", "during").await;
        assert_eq!(during["args"][0], i);
        assert!(during["args"][1].as_str().is_some_and(|o| o.contains('-')), "an entry id: {during}");
    }
    eventually("a's queue is added", || async { a.redis.queued_publishes() == 0 }).await;
    // Added after the queue, so read after it: once it is here, any duplicate of the queued
    // broadcasts would be here too.
    a.io().emit("after", &1).expect("emit");
    cb.received("cb", "after").await;
    ca.received("ca", "after").await;
    let mut expected = vec![("before".to_owned(), json!(0))];
    expected.extend((0..20).map(|i| ("during".to_owned(), json!(i))));
    expected.push(("after".to_owned(), json!(1)));
    let first_args = |node: &Node, name: &str| -> Vec<(String, Json)> {
        node.events_of(name).into_iter().map(|(event, args)| (event, args[0].clone())).collect()
    };
    assert_eq!(first_args(&cb, "cb"), expected);
    assert_eq!(first_args(&ca, "ca"), expected);
    assert_eq!(a.redis.dropped_publishes(), 0);

    ca.exit().await;
    cb.exit().await;
    a.server.close().await;
    b.server.close().await;
}

/// Broadcasts `n` with a counter from `io` every 25 ms until `stop`; `made` counts the
/// broadcasts made so far. Answers how many.
async fn load(io: SocketIo, stop: Arc<AtomicBool>, made: Arc<AtomicU64>) -> u64 {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        io.emit("n", &n).expect("emit");
        n += 1;
        made.store(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    n
}

/// The counters of the `n` events `client` received so far, in order.
fn counters(node: &Node, client: &str) -> Vec<u64> {
    node.events_of(client)
        .into_iter()
        .filter(|(name, _)| name == "n")
        .filter_map(|(_, args)| args[0].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_load_loses_nothing_locally() {
    ensure_clients();
    let redis = RedisServer::start();
    let mut r1 = RustNode::start("r1", &redis.url()).await;
    let mut r2 = RustNode::start("r2", &redis.url()).await;
    r1.wait_servers(2).await;
    r2.wait_servers(2).await;
    let mut c1 = r1.clients("streams restart c1", json!([client("c1", &[], false)]));
    let mut c2 = r2.clients("streams restart c2", json!([client("c2", &[], false)]));
    let id1 = connected_id(&mut c1, "c1").await;
    let id2 = connected_id(&mut c2, "c2").await;

    // r1 broadcasts all along; the load crosses the cluster before Redis goes away.
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let load = tokio::spawn(load(r1.io().clone(), stop.clone(), made.clone()));
    for _ in 0..20 {
        c1.received("c1", "n").await;
        c2.received("c2", "n").await;
    }

    let mut redis = tokio::task::spawn_blocking(move || {
        let mut redis = redis;
        redis.stop();
        redis
    })
    .await
    .expect("redis-server stops");
    // Made once redis-server is gone: none of these reached it before.
    let down_from = made.load(Ordering::SeqCst);
    eventually("r1 queues what it broadcasts", || async { r1.redis.queued_publishes() > 0 }).await;
    // About two seconds down under load (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let redis = tokio::task::spawn_blocking(move || {
        redis.restart();
        redis
    })
    .await
    .expect("redis-server starts again");
    eventually("r1's queue is added", || async { r1.redis.queued_publishes() == 0 }).await;
    // The load goes on with Redis back, then stops.
    let resumed = made.load(Ordering::SeqCst);
    eventually("r1 broadcasts with Redis back", || async { made.load(Ordering::SeqCst) >= resumed + 20 })
        .await;
    stop.store(true, Ordering::SeqCst);
    let sent = tokio::time::timeout(WAIT, load).await.expect("the load stops").expect("the load task");
    assert!(down_from < sent);
    r1.io().emit("end", &sent).expect("emit");
    c1.received("c1", "end").await;
    c2.received("c2", "end").await;

    // r1's own client got every broadcast, in order, once, whatever Redis was doing.
    assert_eq!(counters(&c1, "c1"), (0..sent).collect::<Vec<_>>());
    // r2's client got them in order. What reached the old Redis but not r2 is gone with it (the
    // tests' redis-server keeps nothing on disk), and an entry on its way when Redis died may
    // be added again from the queue; every broadcast made from the outage on arrives, once.
    let got = counters(&c2, "c2");
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "in order: {got:?}");
    let since: Vec<u64> = got.iter().copied().filter(|n| *n >= down_from).collect();
    assert_eq!(since, (down_from..sent).collect::<Vec<_>>(), "from broadcast {down_from} on: {got:?}");
    assert_eq!(r1.redis.dropped_publishes(), 0);
    // Nobody was disconnected, and the cluster is whole again.
    assert!(r1.disconnections.drain().is_empty() && r2.disconnections.drain().is_empty());
    assert_eq!(r1.fetch_ids(&[]).await, set(&[&id1, &id2]));

    c1.exit().await;
    c2.exit().await;
    r1.server.close().await;
    r2.server.close().await;
    drop(redis);
}

/// Waits until Redis holds exactly `n` session keys.
async fn wait_session_keys(conn: &mut redis::aio::MultiplexedConnection, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let keys: Vec<String> = conn.keys("sio:session:*").await.expect("KEYS");
        if keys.len() == n {
            return;
        }
        assert!(Instant::now() < deadline, "{} session keys, expected {n}", keys.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next `missed` events of `client`: (argument, offset).
async fn missed(node: &mut Node, client: &str, n: usize) -> Vec<(Json, String)> {
    let mut got = Vec::new();
    for _ in 0..n {
        let event = node.received(client, "missed").await;
        got.push((event["args"][0].clone(), event["args"][1].as_str().unwrap_or_default().to_owned()));
    }
    got
}

/// The `missed` broadcasts of the stream: (argument, entry id), once there are `n`.
async fn missed_in_stream(redis: &RedisServer, n: usize) -> Vec<(Json, String)> {
    let deadline = Instant::now() + WAIT;
    loop {
        let order: Vec<(Json, String)> = entries(redis)
            .await
            .iter()
            .filter_map(|(entry_id, f)| {
                let (_, kind, data) = normalised(f);
                (kind == "3" && data["packet"]["data"][0] == "missed")
                    .then(|| (data["packet"]["data"][1].clone(), entry_id.clone()))
            })
            .collect();
        if order.len() == n {
            return order;
        }
        assert!(Instant::now() < deadline, "not {n} missed broadcasts in the stream: {order:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_move_between_our_node_and_the_node_js_node() {
    ensure_clients();
    let redis = RedisServer::start();
    let mut ours = RustNode::start("ours", &redis.url()).await;
    let mut peer = start_peer(&redis.url()).await;
    ours.wait_servers(2).await;
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis-server");
    let node_addr: std::net::SocketAddr = format!("127.0.0.1:{}", peer.port).parse().expect("an address");
    let proxy = Proxy::start(node_addr).await;
    let spec = json!([{
        "name": "c",
        "transports": ["websocket"],
        "auth": {"name": "ada", "rooms": ["news"]},
    }]);
    let mut node = Node::spawn("streams sessions", &proxy.url(), spec);

    // On the Node.js node first.
    let first = node.next("c", "connect").await;
    let id = first["id"].as_str().expect("an id").to_owned();
    let on_node = peer.next_where("the first connection", |v| v["event"] == "connection").await;
    assert_eq!((&on_node["id"], &on_node["recovered"]), (&json!(id), &json!(false)));
    ours.io().to("news").emit("before", &0).expect("emit");
    node.received("c", "before").await;

    // The Node.js node keeps the session; our node restores it.
    proxy.point_at(ours.server.addr);
    node.send(json!({"cmd": "close_engine", "client": "c"})).await;
    wait_session_keys(&mut conn, 1).await;
    peer.run(json!({"cmd": "emit", "to": ["news"], "event": "missed", "args": [1]})).await;
    ours.io().emit("missed", &2).expect("emit");
    let expected = missed_in_stream(&redis, 2).await;
    node.send(json!({"cmd": "connect", "client": "c"})).await;
    let back = node.next("c", "connect").await;
    assert_eq!((&back["id"], &back["recovered"]), (&json!(id), &json!(true)), "{back}");
    let (again, recovered, rooms, data) = ours.connections.next("the connection on our node").await;
    assert_eq!((again.as_str(), recovered), (id.as_str(), true));
    assert_eq!(rooms.iter().cloned().collect::<BTreeSet<_>>(), set(&[&id, "news"]));
    assert_eq!(data, json!({"name": "ada"}));
    assert_eq!(missed(&mut node, "c", 2).await, expected);
    wait_session_keys(&mut conn, 0).await;

    // Our node keeps the session; the Node.js node restores it.
    proxy.point_at(node_addr);
    node.send(json!({"cmd": "close_engine", "client": "c"})).await;
    assert_eq!(ours.disconnections.next("the disconnection on our node").await, id);
    wait_session_keys(&mut conn, 1).await;
    ours.io().to("news").emit("missed", &3).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "missed", "args": [4]})).await;
    let expected = missed_in_stream(&redis, 4).await;
    node.send(json!({"cmd": "connect", "client": "c"})).await;
    let back = node.next("c", "connect").await;
    assert_eq!((&back["id"], &back["recovered"]), (&json!(id), &json!(true)), "{back}");
    let on_node = peer.next_where("the connection on the Node.js node", |v| v["event"] == "connection").await;
    assert_eq!((&on_node["id"], &on_node["recovered"]), (&json!(id), &json!(true)), "{on_node}");
    let rooms: BTreeSet<String> = on_node["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    assert_eq!(rooms, set(&[&id, "news"]));
    assert_eq!(on_node["data"], json!({"name": "ada"}));
    assert_eq!(missed(&mut node, "c", 2).await, expected[2..].to_vec());

    node.exit().await;
    peer.exit().await;
    ours.server.close().await;
}
