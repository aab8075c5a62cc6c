//! The cluster example's nodes (`examples/cluster/node.rs`), two of them on one real
//! `redis-server`, with an npm `socket.io-client` on each: what the example promises its
//! clients holds across the nodes.

use crate::cluster;
use crate::support;

use crate::node;

use serde_json::{json, Value as Json};
use socketio_server::Config;
use std::collections::BTreeSet;

use cluster::RedisServer;
use support::node_peer::{connected_id, eventually};
use support::{ensure_clients, TestServer};

fn client(name: &str, room: Option<&str>) -> Json {
    let auth = match room {
        Some(room) => json!({ "room": room }),
        None => json!({}),
    };
    json!({ "name": name, "transports": ["websocket"], "auth": auth })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_example_nodes_share_events_rooms_and_sockets() {
    ensure_clients();
    let redis = RedisServer::start();
    let (io_a, redis_a) = node::node("a", &redis.url(), Config::default()).await.expect("node a");
    let (io_b, redis_b) = node::node("b", &redis.url(), Config::default()).await.expect("node b");
    let a = TestServer::serve(io_a).await;
    let b = TestServer::serve(io_b).await;
    eventually("both nodes count two servers", || async {
        a.io.sockets().adapter().server_count().await == Ok(2)
            && b.io.sockets().adapter().server_count().await == Ok(2)
    })
    .await;

    let mut on_a = a.node("example a", json!([client("alice", Some("ops"))]));
    let mut on_b = b.node("example b", json!([client("bob", None), client("carol", Some("ops"))]));
    let alice = connected_id(&mut on_a, "alice").await;
    let bob = connected_id(&mut on_b, "bob").await;
    let carol = connected_id(&mut on_b, "carol").await;
    assert_eq!(on_a.received("alice", "welcome").await["args"], json!([{ "node": "a", "id": alice }]));
    assert_eq!(on_b.received("bob", "welcome").await["args"], json!([{ "node": "b", "id": bob }]));

    // `who` lists every socket of the cluster with its node.
    let mut expected = vec![json!({"id": alice, "node": "a"}), json!({"id": bob, "node": "b"})];
    expected.push(json!({"id": carol, "node": "b"}));
    let expected: BTreeSet<String> = expected.iter().map(Json::to_string).collect();
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let who = on_a.call("alice", "who", json!([])).await;
        let seen: BTreeSet<String> = who[0].as_array().into_iter().flatten().map(Json::to_string).collect();
        if seen == expected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "`who` sees {seen:?}, expected {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // `nodes` collects every node's name with a server-side event.
    assert_eq!(on_b.call("bob", "nodes", json!([])).await, json!([["b", "a"]]));

    // `chat` reaches everyone; `say` only the room, on both nodes.
    on_b.emit("bob", "chat", json!(["hi all"])).await;
    let from_bob = json!([{ "node": "b", "from": bob, "text": "hi all" }]);
    assert_eq!(on_a.received("alice", "chat").await["args"], from_bob);
    assert_eq!(on_b.received("bob", "chat").await["args"], from_bob);
    assert_eq!(on_b.received("carol", "chat").await["args"], from_bob);
    on_a.emit("alice", "say", json!([{ "room": "ops", "text": "ops only" }])).await;
    let from_alice = json!([{ "node": "a", "from": alice, "text": "ops only" }]);
    assert_eq!(on_a.received("alice", "chat").await["args"], from_alice);
    assert_eq!(on_b.received("carol", "chat").await["args"], from_alice);
    // bob is not in `ops`: he joins it, then the next `say` reaches him, and it is his first
    // `chat` since the broadcast (the messages of one node arrive in order).
    assert_eq!(on_b.call("bob", "join", json!(["ops"])).await, json!([true]));
    on_a.emit("alice", "say", json!([{ "room": "ops", "text": "welcome bob" }])).await;
    let welcome_bob = json!([{ "node": "a", "from": alice, "text": "welcome bob" }]);
    assert_eq!(on_b.received("bob", "chat").await["args"], welcome_bob);

    on_a.exit().await;
    on_b.exit().await;
    redis_a.shutdown();
    redis_b.shutdown();
}
