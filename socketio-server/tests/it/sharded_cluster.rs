//! The sharded Redis adapter against `createShardedAdapter` of `@socket.io/redis-adapter`
//! 8.3.0 on a real Redis Cluster (three masters, one replica each):
//!
//! * two of our nodes and one Node.js node serve one cluster, every operation both ways, with
//!   an npm `socket.io-client` on each node;
//! * the `static` and `dynamic-private` subscription modes, every node in the same mode;
//! * the master of the namespace's channel fails over while one of our nodes broadcasts: its
//!   own client gets every broadcast in order, our nodes subscribe again on the promoted
//!   replica, and broadcasts from both sides reach the other nodes again (through a new Node.js
//!   node: node-redis 4 does not move sharded subscriptions off a master that died);
//! * every node of the cluster stopped for about three seconds and started again: the 20
//!   broadcasts one of our nodes made meanwhile reach its own client at once and the other
//!   node's client after the restart, in order and once each.

use crate::sharded;
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value as Json};
use sharded::{all_shard_channels, start_peer, RedisCluster, RustNode};
use socketio_server::adapter::redis_sharded::SubscriptionMode;
use socketio_server::{BroadcastAckError, Bytes};
use support::node_peer::{client, connected_id, eventually, names, set, sorted_strings, NodePeer};
use support::{bin, ensure_clients, Node, WAIT};

/// Waits for each of `expected` (once) and for three `last` markers (one from each node), then
/// checks that `client` received nothing else; answers each event's arguments.
async fn received_all(node: &mut Node, client: &str, expected: &[&str]) -> BTreeMap<String, Json> {
    let mut got = BTreeMap::new();
    for name in expected {
        got.insert(name.to_string(), node.received(client, name).await["args"].clone());
    }
    for _ in 0..3 {
        node.received(client, "last").await;
    }
    let mut want = set(expected);
    want.insert("last".to_owned());
    assert_eq!(names(node, client), want, "what {client} received");
    assert_eq!(node.events_of(client).len(), expected.len() + 3, "{client}: each once");
    got
}

/// Waits until `channel` is subscribed on the master that serves it.
async fn wait_channel(cluster: &RedisCluster, channel: &str) {
    eventually(&format!("{channel} subscribed on its master"), || async {
        cluster.shard_channels(cluster.master_of(cluster.keyslot(channel))).iter().any(|c| c == channel)
    })
    .await;
}

/// Waits until `n` nodes subscribed to `channel` on the master that serves it
/// (`PUBSUB SHARDNUMSUB`).
async fn wait_subscribers(cluster: &RedisCluster, channel: &str, n: usize) {
    eventually(&format!("{n} subscribers of {channel}"), || async {
        let master = cluster.master_of(cluster.keyslot(channel));
        let answer = cluster.cli(master, &["pubsub", "shardnumsub", channel]);
        answer.lines().nth(1).and_then(|count| count.trim().parse::<usize>().ok()) == Some(n)
    })
    .await;
}

/// Two of our nodes and a Node.js node in `mode`, each with one client (c1 in `red`, c2 in
/// `red` and `blue`, c3 in `blue`), every node counting three servers.
struct Three {
    r1: RustNode,
    r2: RustNode,
    peer: NodePeer,
    c1: Node,
    c2: Node,
    c3: Node,
    ids: [String; 3],
}

impl Three {
    async fn start(cluster: &RedisCluster, mode: SubscriptionMode, label: &str) -> Three {
        ensure_clients();
        let r1 = RustNode::start("r1", cluster, mode).await;
        let r2 = RustNode::start("r2", cluster, mode).await;
        let mut peer = start_peer(cluster, mode).await;
        r1.wait_servers(3).await;
        r2.wait_servers(3).await;
        peer.wait_servers(3).await;
        let mut c1 = r1.clients(&format!("{label} c1"), json!([client("c1", &["red"], false)]));
        let mut c2 = r2.clients(&format!("{label} c2"), json!([client("c2", &["red", "blue"], false)]));
        let mut c3 = Node::spawn(&format!("{label} c3"), &peer.url(), json!([client("c3", &["blue"], true)]));
        let ids = [
            connected_id(&mut c1, "c1").await,
            connected_id(&mut c2, "c2").await,
            connected_id(&mut c3, "c3").await,
        ];
        eventually("every socket is in its rooms", || async {
            r1.fetch_ids(&["red"]).await.len() == 2 && r1.fetch_ids(&["blue"]).await.len() == 2
        })
        .await;
        Three { r1, r2, peer, c1, c2, c3, ids }
    }

    async fn stop(self) {
        for node in [self.c1, self.c2, self.c3] {
            node.exit().await;
        }
        self.peer.exit().await;
        self.r1.server.close().await;
        self.r2.server.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_our_nodes_and_a_node_js_node_share_one_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let Three { mut r1, mut r2, mut peer, mut c1, mut c2, mut c3, ids } =
        Three::start(&cluster, SubscriptionMode::Dynamic, "sharded").await;
    let [id1, id2, id3] = ids.clone();
    let everyone = set(&[&id1, &id2, &id3]);
    // The rooms' own channels (dynamic mode), on the masters that serve them.
    wait_subscribers(&cluster, "socket.io#/#red#", 2).await;
    wait_subscribers(&cluster, "socket.io#/#blue#", 2).await;
    wait_channel(&cluster, &format!("socket.io#/#{}#", peer.uid)).await;

    // Broadcasts: to all, to one room (its own channel), with exceptions, binary, from every
    // node.
    r1.io().emit("all-r1", &1).expect("emit");
    r2.io().to("blue").emit("blue-r2", &2).expect("emit");
    r1.io().to("red").emit("red-r1", &2).expect("emit");
    r2.io().except("red").emit("not-red-r2", &3).expect("emit");
    r1.io().emit("bin-r1", &Bytes::from_static(&[3, 4])).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "all-node", "args": [1]})).await;
    peer.run(json!({"cmd": "emit", "to": ["red"], "event": "red-node", "args": [2]})).await;
    peer.run(json!({"cmd": "emit", "to": ["blue"], "event": "blue-node", "args": [2]})).await;
    peer.run(
        json!({"cmd": "emit", "to": ["red"], "except": ["blue"], "event": "red-not-blue-node", "args": [4]}),
    )
    .await;
    peer.run(json!({"cmd": "emit", "event": "bin-node", "args": [bin(&[1, 2]), {"n": 5}]})).await;
    r1.io().emit("last", &0).expect("emit");
    r2.io().emit("last", &0).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "last", "args": [0]})).await;
    // Each room's channel is its own, so a room broadcast may arrive after a later broadcast
    // to all: every expected event is waited for, then the `last` markers.
    let c1_got = received_all(
        &mut c1,
        "c1",
        &["all-r1", "red-r1", "bin-r1", "all-node", "red-node", "red-not-blue-node", "bin-node"],
    )
    .await;
    let c2_got = received_all(
        &mut c2,
        "c2",
        &["all-r1", "blue-r2", "red-r1", "bin-r1", "all-node", "red-node", "blue-node", "bin-node"],
    )
    .await;
    let c3_got = received_all(
        &mut c3,
        "c3",
        &["all-r1", "blue-r2", "not-red-r2", "bin-r1", "all-node", "blue-node", "bin-node"],
    )
    .await;
    assert_eq!(c3_got["bin-r1"], json!([bin(&[3, 4])]));
    assert_eq!(c3_got["blue-r2"], json!([2]));
    assert_eq!(c1_got["bin-node"], json!([bin(&[1, 2]), {"n": 5}]));
    assert_eq!(c1_got["red-not-blue-node"], json!([4]));
    assert_eq!(c2_got["red-node"], json!([2]));

    // fetch_sockets both ways.
    assert_eq!(r1.fetch_ids(&[]).await, everyone);
    assert_eq!(peer.fetch_ids(&[]).await, everyone);
    let fetched = r2.io().to("blue").fetch_sockets().await.expect("fetch_sockets");
    let c3_socket = fetched.iter().find(|s| **s.id() == *id3).expect("c3 is fetched from the Node.js node");
    assert_eq!(c3_socket.data::<Json>(), Some(json!({"name": "c3"})));
    let from_peer = peer.run(json!({"cmd": "fetch", "to": ["red"]})).await;
    let c1_seen = from_peer["sockets"].as_array().into_iter().flatten().find(|s| s["id"] == id1).cloned();
    assert_eq!(c1_seen.expect("the Node.js node fetches c1")["data"], json!({"name": "c1"}));
    assert_eq!(peer.fetch_ids(&["blue"]).await, set(&[&id2, &id3]));

    // Joins and leaves both ways; a room joined this way gets its channel and its broadcasts.
    r1.io().to("red").sockets_join("green");
    peer.wait_sees(&["green"], set(&[&id1, &id2])).await;
    peer.run(json!({"cmd": "join", "to": ["blue"], "rooms": ["teal"]})).await;
    eventually("blue sockets join teal, seen from r1", || async {
        r1.fetch_ids(&["teal"]).await == set(&[&id2, &id3])
    })
    .await;
    wait_subscribers(&cluster, "socket.io#/#teal#", 2).await;
    wait_subscribers(&cluster, "socket.io#/#green#", 2).await;
    r1.io().to("teal").emit("teal-r1", &7).expect("emit");
    peer.run(json!({"cmd": "emit", "to": ["green"], "event": "green-node", "args": [8]})).await;
    assert_eq!(c2.received("c2", "teal-r1").await["args"], json!([7]));
    assert_eq!(c3.received("c3", "teal-r1").await["args"], json!([7]));
    assert_eq!(c1.received("c1", "green-node").await["args"], json!([8]));
    assert_eq!(c2.received("c2", "green-node").await["args"], json!([8]));
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
    assert_eq!(sorted_strings(&done["responses"]), ["r1", "r2"]);

    // Broadcasts with acks both ways: every client's answer, or a timeout with what came.
    let answers =
        r1.io().timeout(Duration::from_secs(5)).emit_with_ack("ask", &"?").await.expect("three answers");
    let mut answered: Vec<String> = answers.iter().map(|a| a.arg::<String>().expect("a name")).collect();
    answered.sort();
    assert_eq!(answered, ["c1", "c2", "c3"]);
    let answers = r2
        .io()
        .to("blue")
        .timeout(Duration::from_secs(5))
        .emit_with_ack("ask", &"?")
        .await
        .expect("two answers");
    let mut answered: Vec<String> = answers.iter().map(|a| a.arg::<String>().expect("a name")).collect();
    answered.sort();
    assert_eq!(answered, ["c2", "c3"]);
    let done =
        peer.run(json!({"cmd": "emit_with_ack", "event": "ask", "args": ["?"], "timeoutMs": 5000})).await;
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(sorted_strings(&done["responses"]), ["c1", "c2", "c3"]);
    let done = peer
        .run(json!({"cmd": "emit_with_ack", "to": ["red"], "event": "ask", "args": ["?"], "timeoutMs": 5000}))
        .await;
    assert_eq!(done["err"], Json::Null, "{done}");
    assert_eq!(sorted_strings(&done["responses"]), ["c1", "c2"]);
    match r2.io().timeout(Duration::from_millis(1500)).emit_with_ack("ask-silent", &"?").await {
        Err(BroadcastAckError::Timeout { responses, expected }) => {
            assert_eq!((responses.len(), expected), (2, 3));
        }
        other => panic!("the broadcast times out, got {other:?}"),
    }
    let done = peer
        .run(json!({"cmd": "emit_with_ack", "event": "ask-silent", "args": ["?"], "timeoutMs": 1500}))
        .await;
    assert!(done["err"].is_string(), "the broadcast times out: {done}");

    // Server count, then disconnections both ways.
    assert_eq!(r2.io().sockets().adapter().server_count().await, Ok(3));
    assert_eq!(peer.server_count().await, 3);
    r1.io().to("blue").disconnect_sockets(false);
    assert_eq!(c2.next("c2", "disconnect").await["reason"], "io server disconnect");
    assert_eq!(c3.next("c3", "disconnect").await["reason"], "io server disconnect");
    peer.run(json!({"cmd": "disconnect", "to": ["red"], "close": true})).await;
    let reason = c1.next("c1", "disconnect").await["reason"].clone();
    assert!(reason == "transport close" || reason == "io server disconnect", "{reason}");
    eventually("no socket left", || async { r1.fetch_ids(&[]).await.is_empty() }).await;

    Three { r1, r2, peer, c1, c2, c3, ids }.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_subscription_mode_with_a_node_js_node() {
    let cluster = RedisCluster::start(3);
    let Three { r1, r2, mut peer, mut c1, mut c2, mut c3, ids } =
        Three::start(&cluster, SubscriptionMode::Static, "static").await;
    // The namespace's channel and each node's answers channel, no room's own.
    wait_channel(&cluster, &format!("socket.io#/#{}#", peer.uid)).await;
    let channels = all_shard_channels(&cluster);
    assert_eq!(channels.len(), 4, "{channels:?}");
    assert!(channels.contains(&"socket.io#/#".to_owned()), "{channels:?}");

    r1.io().to("blue").emit("blue-r1", &1).expect("emit");
    peer.run(json!({"cmd": "emit", "to": ["red"], "event": "red-node", "args": [2]})).await;
    assert_eq!(c2.received("c2", "blue-r1").await["args"], json!([1]));
    assert_eq!(c3.received("c3", "blue-r1").await["args"], json!([1]));
    assert_eq!(c1.received("c1", "red-node").await["args"], json!([2]));
    assert_eq!(c2.received("c2", "red-node").await["args"], json!([2]));
    r1.io().emit("last", &0).expect("emit");
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        node.received(name, "last").await;
    }
    assert_eq!(names(&c1, "c1"), set(&["red-node", "last"]));
    assert_eq!(names(&c3, "c3"), set(&["blue-r1", "last"]));
    assert!(all_shard_channels(&cluster).iter().all(|c| !c.ends_with("#red#") && !c.ends_with("#blue#")));

    Three { r1, r2, peer, c1, c2, c3, ids }.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_private_subscription_mode_with_a_node_js_node() {
    let cluster = RedisCluster::start(3);
    let Three { r1, r2, mut peer, mut c1, mut c2, mut c3, ids } =
        Three::start(&cluster, SubscriptionMode::DynamicPrivate, "private").await;
    let [id1, id2, id3] = ids.clone();
    // Every socket id is a room with its own channel, on every node.
    for id in [&id1, &id2, &id3] {
        wait_channel(&cluster, &format!("socket.io#/#{id}#")).await;
    }

    r1.io().to(id3.as_str()).emit("to-c3", &1).expect("emit");
    r2.io().to(id1.as_str()).emit("to-c1", &2).expect("emit");
    peer.run(json!({"cmd": "emit", "to": [id2], "event": "to-c2", "args": [3]})).await;
    peer.run(json!({"cmd": "emit", "to": [id1], "event": "to-c1", "args": [4]})).await;
    assert_eq!(c3.received("c3", "to-c3").await["args"], json!([1]));
    assert_eq!(c2.received("c2", "to-c2").await["args"], json!([3]));
    // From r2 and from the Node.js node, in either order.
    let mut to_c1 = vec![c1.received("c1", "to-c1").await["args"][0].clone()];
    to_c1.push(c1.received("c1", "to-c1").await["args"][0].clone());
    to_c1.sort_by_key(|v| v.as_i64());
    assert_eq!(to_c1, [json!(2), json!(4)]);
    r1.io().emit("last", &0).expect("emit");
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        node.received(name, "last").await;
    }
    assert_eq!(names(&c1, "c1"), set(&["to-c1", "last"]));
    assert_eq!(names(&c2, "c2"), set(&["to-c2", "last"]));
    assert_eq!(names(&c3, "c3"), set(&["to-c3", "last"]));

    Three { r1, r2, peer, c1, c2, c3, ids }.stop().await;
}

/// The arguments of the `n` events `client` received so far, in order.
fn numbers(node: &Node, client: &str) -> Vec<i64> {
    node.events_of(client)
        .into_iter()
        .filter(|(name, _)| name == "n")
        .map(|(_, args)| args[0].as_i64().expect("a number"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_failover_under_load_with_a_node_js_node() {
    const COUNT: i64 = 100;
    let cluster = RedisCluster::start(3);
    let slot = cluster.keyslot("socket.io#/#");
    let Three { r1, r2, peer, mut c1, mut c2, c3, ids } =
        Three::start(&cluster, SubscriptionMode::Dynamic, "failover").await;

    let load = tokio::spawn({
        let io = r1.io().clone();
        async move {
            for i in 0..COUNT {
                io.emit("n", &i).expect("emit");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cluster, killed) = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        let killed = cluster.fail_master_of(slot);
        (cluster, killed)
    })
    .await
    .expect("the failover");
    tokio::time::timeout(WAIT, load).await.expect("the broadcasts end within WAIT").expect("the broadcasts");
    assert_ne!(cluster.master_of(slot), killed);

    // r1's own client got every broadcast, in order, whatever Redis was doing.
    for i in 0..COUNT {
        assert_eq!(c1.received("c1", "n").await["args"], json!([i]));
    }
    assert_eq!(numbers(&c1, "c1"), (0..COUNT).collect::<Vec<_>>());

    // Our nodes subscribe again on the promoted replica, and get each other's broadcasts.
    eventually("our nodes subscribe again", || async {
        let (s1, s2) = (r1.redis.status(), r2.redis.status());
        s1.subscribed && s2.subscribed && s1.resubscriptions > 0 && s2.resubscriptions > 0
    })
    .await;
    eventually("r1's queue is published", || async { r1.redis.queued_publishes() == 0 }).await;
    assert_eq!(r1.redis.dropped_publishes(), 0);
    r1.io().emit("after-r1", &1).expect("emit");
    r2.io().to("red").emit("after-r2", &2).expect("emit");
    assert_eq!(c2.received("c2", "after-r1").await["args"], json!([1]));
    assert_eq!(c1.received("c1", "after-r2").await["args"], json!([2]));
    // What the other nodes' clients got of the load is in order, each at most once.
    for (node, name) in [(&c2, "c2"), (&c3, "c3")] {
        let got = numbers(node, name);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{name}: in order, no repeats: {got:?}");
    }

    // The Node.js node does not come back on its own: node-redis 4.7.1's cluster client moves a
    // sharded subscription only when Redis sends `sunsubscribe` (a slot migrated), and keeps
    // reconnecting to the killed master, with its commands waiting for it. A new Node.js node
    // on the cluster as it is now serves beside our nodes.
    c3.exit().await;
    peer.exit().await;
    let mut peer = start_peer(&cluster, SubscriptionMode::Dynamic).await;
    r1.wait_servers(3).await;
    r2.wait_servers(3).await;
    peer.wait_servers(3).await;
    let mut c3 = Node::spawn("failover c3 again", &peer.url(), json!([client("c3", &["blue"], true)]));
    let id3 = connected_id(&mut c3, "c3").await;
    let [id1, id2, _] = ids;
    eventually("c3 is in blue, seen from r1", || async {
        r1.fetch_ids(&["blue"]).await == set(&[&id2, &id3])
    })
    .await;
    r1.io().emit("after-failover-r1", &3).expect("emit");
    peer.run(json!({"cmd": "emit", "event": "after-failover-node", "args": [4]})).await;
    for (node, name) in [(&mut c1, "c1"), (&mut c2, "c2"), (&mut c3, "c3")] {
        assert_eq!(node.received(name, "after-failover-r1").await["args"], json!([3]));
        assert_eq!(node.received(name, "after-failover-node").await["args"], json!([4]));
    }
    assert_eq!(peer.fetch_ids(&[]).await, set(&[&id1, &id2, &id3]));

    Three { r1, r2, peer, c1, c2, c3, ids: [id1, id2, id3] }.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_made_while_the_redis_cluster_is_down_reach_the_other_nodes_client_in_order_once() {
    ensure_clients();
    let cluster = RedisCluster::start(3);
    // r1 logs in as a user of its own (see below).
    cluster.add_user("r1", "r1-secret");
    let r1 = RustNode::start_on("r1", &cluster.urls_as("r1", "r1-secret"), SubscriptionMode::Dynamic).await;
    let r2 = RustNode::start("r2", &cluster, SubscriptionMode::Dynamic).await;
    r1.wait_servers(2).await;
    r2.wait_servers(2).await;
    let mut c1 = r1.clients("cluster outage c1", json!([client("c1", &[], false)]));
    let mut c2 = r2.clients("cluster outage c2", json!([client("c2", &[], false)]));
    connected_id(&mut c1, "c1").await;
    connected_id(&mut c2, "c2").await;
    r1.io().emit("before", &0).expect("emit");
    c2.received("c2", "before").await;

    // Every node of the cluster goes down.
    let mut cluster = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop_all();
        cluster
    })
    .await
    .expect("the cluster stops");
    for i in 0..20 {
        r1.io().emit("during", &i).expect("emit");
    }
    // r1's own client does not wait for Redis.
    for i in 0..20 {
        assert_eq!(c1.received("c1", "during").await["args"], json!([i]));
    }
    eventually("r1 queues the 20 broadcasts", || async { r1.redis.queued_publishes() == 20 }).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The same cluster comes back (every node from its nodes.conf: same ids, same slots).
    // Sharded pub/sub reaches only the nodes subscribed when a message is published, and every
    // node reconnects on its own backoff. So that the check does not depend on which node
    // happens to come back first, r1's user exists only in the nodes' memory: the restarted
    // cluster refuses r1 until the test makes the user again, once r2 has subscribed again.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart_all();
        cluster
    })
    .await
    .expect("the cluster starts again");
    eventually("r2 subscribes again", || async {
        let status = r2.redis.status();
        status.subscribed && status.resubscriptions > 0
    })
    .await;
    wait_subscribers(&cluster, "socket.io#/#", 1).await;
    assert_eq!(r1.redis.queued_publishes(), 20, "r1 cannot publish yet");
    cluster.add_user("r1", "r1-secret");
    for i in 0..20 {
        assert_eq!(c2.received("c2", "during").await["args"], json!([i]));
    }
    eventually("r1's queue is published", || async { r1.redis.queued_publishes() == 0 }).await;
    // Published after the queue, so received after it: once it is here, any duplicate of the
    // queued broadcasts would be here too.
    r1.io().emit("after", &1).expect("emit");
    c2.received("c2", "after").await;
    c1.received("c1", "after").await;
    let mut expected = vec![("before".to_owned(), json!([0]))];
    expected.extend((0..20).map(|i| ("during".to_owned(), json!([i]))));
    expected.push(("after".to_owned(), json!([1])));
    assert_eq!(c2.events_of("c2"), expected);
    assert_eq!(c1.events_of("c1"), expected);
    assert_eq!(r1.redis.dropped_publishes(), 0);

    c1.exit().await;
    c2.exit().await;
    r1.server.close().await;
    r2.server.close().await;
}

/// A raw RESP3 subscriber of `channels`, each on the master that serves it; every `smessage`
/// arrives on the receiver as (channel, payload).
async fn raw_subscriber(
    cluster: &RedisCluster,
    channels: &[&str],
) -> (Vec<redis::aio::MultiplexedConnection>, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut conns = Vec::new();
    for channel in channels {
        let port = cluster.master_of(cluster.keyslot(channel));
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/?protocol=resp3")).expect("a url");
        let tx = tx.clone();
        let pushes = move |push: redis::PushInfo| {
            if let (redis::PushKind::SMessage, [redis::Value::BulkString(c), redis::Value::BulkString(p)]) =
                (&push.kind, push.data.as_slice())
            {
                let _ = tx.send((String::from_utf8_lossy(c).into_owned(), p.clone()));
            }
            Ok::<(), std::convert::Infallible>(())
        };
        let config = redis::AsyncConnectionConfig::new().set_push_sender(pushes);
        let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.expect("connect");
        let _: redis::Value =
            redis::cmd("SSUBSCRIBE").arg(*channel).query_async(&mut conn).await.expect("SSUBSCRIBE");
        conns.push(conn);
    }
    (conns, rx)
}

/// The next `n` messages of a raw subscriber, each with `uid` written as sixteen zeros (both
/// nodes' uids are sixteen hex digits, so nothing else moves).
async fn next_messages(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    n: usize,
    uid: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let (channel, payload) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("a message within WAIT")
            .expect("the subscriber is open");
        let payload = replace(&payload, uid.as_bytes(), b"0000000000000000");
        out.push((channel, payload));
    }
    out
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_messages_are_the_reference_bytes() {
    let cluster = RedisCluster::start(3);
    let ours = RustNode::start("r1", &cluster, SubscriptionMode::Dynamic).await;
    let mut peer = start_peer(&cluster, SubscriptionMode::Dynamic).await;
    ours.wait_servers(2).await;
    peer.wait_servers(2).await;
    let (_conns, mut rx) = raw_subscriber(&cluster, &["socket.io#/#", "socket.io#/#r#"]).await;

    // The same operations, from our node then from the Node.js node, one at a time so that
    // the two channels cannot interleave them.
    let operations: Vec<(&str, Json)> = vec![
        (
            "to r except x",
            json!({"cmd": "emit", "to": ["r"], "except": ["x"], "event": "hello", "args": [1, "two", {"three": [3.5]}]}),
        ),
        ("to r and s", json!({"cmd": "emit", "to": ["r", "s"], "event": "hello", "args": [null]})),
        ("binary", json!({"cmd": "emit", "event": "bin", "args": [bin(&[1, 2, 3]), {"n": 5}]})),
        ("join", json!({"cmd": "join", "to": ["r"], "rooms": ["j"]})),
        ("leave", json!({"cmd": "leave", "to": ["j"], "rooms": ["j"]})),
        ("disconnect", json!({"cmd": "disconnect", "to": ["r"], "close": true})),
        ("server-side", json!({"cmd": "server_side_emit", "event": "hello", "args": ["x"]})),
    ];
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    let our_uid = {
        let io = ours.io();
        io.to("r").except("x").emit("hello", &(1, "two", json!({"three": [3.5]}))).expect("emit");
        let got = tokio::time::timeout(WAIT, rx.recv()).await.expect("a message").expect("open");
        let text = String::from_utf8(got.1.clone()).expect("JSON");
        let at = text.find(r#""uid":""#).expect("a uid") + 7;
        let uid = text[at..at + 16].to_owned();
        mine.push((got.0, replace(&got.1, uid.as_bytes(), b"0000000000000000")));
        uid
    };
    for (what, _) in &operations[1..] {
        let io = ours.io();
        match *what {
            "to r and s" => io.to(["r", "s"]).emit("hello", &Json::Null).expect("emit"),
            "binary" => io.emit("bin", &(Bytes::from_static(&[1, 2, 3]), json!({"n": 5}))).expect("emit"),
            "join" => io.to("r").sockets_join("j"),
            "leave" => io.to("j").sockets_leave("j"),
            "disconnect" => io.to("r").disconnect_sockets(true),
            // The test's own subscriber counts as a server too: Redis counts subscriptions.
            "server-side" => assert_eq!(io.server_side_emit("hello", &"x").await, Ok(2)),
            other => panic!("{other}"),
        }
        mine.extend(next_messages(&mut rx, 1, &our_uid).await);
    }
    for (_, command) in &operations {
        peer.run(command.clone()).await;
        theirs.extend(next_messages(&mut rx, 1, &peer.uid).await);
    }
    for (((what, _), a), b) in operations.iter().zip(&mine).zip(&theirs) {
        assert_eq!(a.0, b.0, "{what}: the channel");
        assert_eq!(
            a.1,
            b.1,
            "{what}: ours {:?}, the reference {:?}",
            String::from_utf8_lossy(&a.1),
            String::from_utf8_lossy(&b.1)
        );
    }
    assert_eq!(mine[0].0, "socket.io#/#r#", "a one-room broadcast takes the room's channel");
    assert_eq!(mine[2].1[0], 0x84, "binary data: the whole message in msgpack");
    peer.exit().await;
    ours.server.close().await;
}
