//! The sharded Redis adapter on a real Redis Cluster (three masters, one replica each): every
//! operation between two of our nodes, the channels each subscription mode uses (read off the
//! masters with `PUBSUB SHARDCHANNELS`), the messages' bytes, and the failover of a master
//! under load with nothing lost locally.

#![allow(clippy::unwrap_used)]

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_adapter::redis_sharded::{
    ShardedRedisAdapter, ShardedRedisAdapterConfig, ShardedRedisClients, SubscriptionMode,
};
use socketio_adapter::{Adapter, AdapterError, BroadcastOptions, Room, ServerSideAckError, Sid};
use socketio_parser::Value;
use support::{event, eventually, value, FakeLink, FakeSocket, Log, RedisCluster, Sink, WAIT};

/// One of our nodes on the cluster: its clients, the adapter of one namespace, what reached it.
struct Node {
    clients: ShardedRedisClients,
    adapter: Arc<ShardedRedisAdapter<FakeSocket>>,
    log: Arc<Log>,
}

fn config() -> ShardedRedisAdapterConfig {
    ShardedRedisAdapterConfig::default()
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(2))
}

impl Node {
    async fn start(cluster: &RedisCluster, nsp: &str, config: ShardedRedisAdapterConfig) -> Node {
        let urls = cluster.urls();
        let seeds: Vec<&str> = urls.iter().map(String::as_str).collect();
        let clients = ShardedRedisClients::connect(&seeds, config).await.expect("connect to the cluster");
        let log = Arc::new(Log::default());
        let adapter = clients.adapter::<FakeSocket>(nsp);
        adapter.init(Arc::new(FakeLink { nsp: nsp.to_owned(), log: log.clone() }));
        tokio::time::timeout(WAIT, adapter.ready()).await.expect("the adapter subscribes");
        Node { clients, adapter, log }
    }

    fn connect(&self, id: &str, rooms: &[&str]) -> FakeSocket {
        let socket = FakeSocket { id: Sid::from(id), log: self.log.clone() };
        let mut all = vec![Room::from(id)];
        all.extend(rooms.iter().map(|r| Room::from(*r)));
        self.adapter.add_socket(socket.clone(), &all);
        socket
    }

    fn broadcast(&self, json: &str, opts: &BroadcastOptions) {
        self.adapter.broadcast(&event("/", json, None), &(value(json), None), opts);
    }
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|r| Room::from(*r)).collect()
}

async fn wait_servers(node: &Node, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let count = node.adapter.server_count().await;
        if count == Ok(n) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the cluster did not count {n} servers: {count:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_operation_reaches_the_other_node() {
    let cluster = RedisCluster::start(3);
    let a = Node::start(&cluster, "/", config()).await;
    let b = Node::start(&cluster, "/", config()).await;
    wait_servers(&a, 2).await;
    a.connect("a1", &["news"]);
    b.connect("b1", &["news"]);
    b.connect("b2", &["news", "muted"]);
    b.connect("b3", &[]);
    // Both nodes have the room's channel (`status().subscribed` may still say so before b's
    // subscriber has taken the new room).
    eventually("b subscribes to its room", || subscribers(&cluster, "socket.io#/#news#") == 2).await;

    // To all, to one room (its own channel), to a room minus another (the namespace's channel).
    a.broadcast(r#"["hi"]"#, &BroadcastOptions::all());
    a.broadcast(r#"["news"]"#, &BroadcastOptions::to(rooms(&["news"])));
    let mut except = BroadcastOptions::to(rooms(&["news"]));
    except.except = rooms(&["muted"]);
    a.broadcast(r#"["not muted"]"#, &except);
    a.broadcast(r#"["marker"]"#, &BroadcastOptions::all());
    eventually("the marker reaches b3", || b.log.received_by("b3").contains(&value(r#"["marker"]"#))).await;
    eventually("news reaches b1", || b.log.received_by("b1").len() == 4).await;
    // `news` went through the room's channel, maybe on another master than the namespace's
    // channel: it may come before or after `marker`.
    let mut b2 = b.log.received_by("b2");
    b2.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(b2, [value(r#"["hi"]"#), value(r#"["marker"]"#), value(r#"["news"]"#)]);
    assert_eq!(b.log.received_by("b3"), [value(r#"["hi"]"#), value(r#"["marker"]"#)]);

    // Binary data crosses as msgpack.
    let (json, attachments) =
        socketio_parser::to_payload(&("file", bytes::Bytes::from_static(b"\x00\x01\x02"))).unwrap();
    a.adapter.broadcast(
        &socketio_parser::Packet::event("/", json, attachments, None),
        &(Value::Null, None),
        // Two rooms, so the namespace's channel: a one-room broadcast to "b3" would go to that
        // room's channel ("b3" does not look like a socket id), which b does not subscribe to
        // (it is a socket's own room), as with the reference.
        &BroadcastOptions::to(rooms(&["b3", "nobody"])),
    );
    eventually("b3 gets the file", || b.log.received_by("b3").len() == 3).await;
    assert_eq!(
        b.log.received_by("b3")[2],
        Value::Array(vec![Value::from("file"), Value::Binary(bytes::Bytes::from_static(b"\x00\x01\x02"))])
    );

    // Joins, leaves and disconnects.
    a.adapter.add_sockets(&BroadcastOptions::to(rooms(&["b3"])), &rooms(&["joined"]));
    eventually("b3 joins", || {
        b.adapter.socket_rooms("b3").is_some_and(|r| r.contains(&Room::from("joined")))
    })
    .await;
    a.adapter.del_sockets(&BroadcastOptions::to(rooms(&["b2"])), &rooms(&["news"]));
    eventually("b2 leaves", || {
        b.adapter.socket_rooms("b2").is_some_and(|r| !r.contains(&Room::from("news")))
    })
    .await;

    // fetch_sockets collects both nodes; server-side events with and without acks.
    let mut ids: Vec<String> = a
        .adapter
        .fetch_sockets(&BroadcastOptions::to(rooms(&["news", "joined"])))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a1", "b1", "b3"]);
    *b.log.server_side_answer.lock().unwrap() = Some(serde_json::json!("from b"));
    let answers =
        a.adapter.server_side_emit_with_ack(serde_json::json!(["question", 1]), WAIT).await.unwrap();
    assert_eq!(answers, [serde_json::json!("from b")]);
    assert_eq!(a.adapter.server_side_emit(serde_json::json!(["hello"])).await, Ok(1));
    eventually("b hears both events", || b.log.server_side().len() == 2).await;
    assert_eq!(b.log.server_side()[1], [serde_json::json!("hello")]);

    // A broadcast with acks counts and collects both nodes' clients.
    let acks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let collected = acks.clone();
    let sink: Sink = Arc::new(move |v| collected.lock().unwrap().push(v));
    let mut opts = BroadcastOptions::to(rooms(&["news"]));
    opts.flags.timeout = Some(WAIT);
    let count = a
        .adapter
        .broadcast_with_ack(&event("/", r#"["ask"]"#, Some(1)), &(value(r#"["ask"]"#), None), &opts, sink)
        .await;
    assert_eq!(count, Ok(2), "a1 here and b1 there");
    let delivered = b.log.deliveries().into_iter().find(|d| d.data == value(r#"["ask"]"#)).unwrap();
    (delivered.sink.unwrap())(value(r#""yes""#));
    eventually("b1's ack comes back", || acks.lock().unwrap().contains(&value(r#""yes""#))).await;

    a.adapter.disconnect_sockets(&BroadcastOptions::to(rooms(&["b1"])), true);
    eventually("b1 is disconnected", || b.log.disconnects().iter().any(|(s, close)| &**s == "b1" && *close))
        .await;
}

#[tokio::test]
async fn each_subscription_mode_uses_the_reference_channels() {
    let cluster = RedisCluster::start(3);
    let all_channels = |cluster: &RedisCluster| {
        let mut all: Vec<String> =
            cluster.masters().iter().flat_map(|p| cluster.shard_channels(*p)).collect();
        all.sort();
        all
    };
    for (mode, expected) in [
        (SubscriptionMode::Static, vec![]),
        (SubscriptionMode::Dynamic, vec!["socket.io#/#news#"]),
        (SubscriptionMode::DynamicPrivate, vec!["socket.io#/#news#", "socket.io#/#s1#"]),
    ] {
        let node = Node::start(&cluster, "/", config().with_subscription_mode(mode)).await;
        node.connect("s1", &["news"]);
        eventually("the rooms are subscribed", || node.clients.status().subscribed).await;
        let mut want = vec!["socket.io#/#".to_owned(), format!("socket.io#/#{}#", node.adapter.uid())];
        want.extend(expected.iter().map(|c| c.to_string()));
        want.sort();
        eventually(&format!("{} channels in place", mode.as_str()), || all_channels(&cluster) == want).await;
        // Each channel on the master of its slot.
        for channel in &want {
            let master = cluster.master_of(cluster.keyslot(channel));
            assert!(cluster.shard_channels(master).contains(channel), "{channel} on {master}");
        }
        // The room's channel goes when the room does.
        node.adapter.del_all("s1");
        let base: Vec<String> = want.iter().filter(|c| !expected.iter().any(|e| e == *c)).cloned().collect();
        eventually("the room channels are dropped", || all_channels(&cluster) == base).await;
        node.adapter.close().await;
        node.clients.shutdown();
        eventually("nothing left subscribed", || all_channels(&cluster).is_empty()).await;
    }
}

#[tokio::test]
async fn a_master_failover_loses_nothing_locally_and_the_channels_move() {
    let mut cluster = RedisCluster::start(3);
    let a = Node::start(&cluster, "/", config()).await;
    let b = Node::start(&cluster, "/", config()).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    wait_servers(&a, 2).await;
    let slot = cluster.keyslot("socket.io#/#");

    let local = tokio::spawn({
        let adapter = a.adapter.clone();
        async move {
            for i in 0..200 {
                let json = format!("[\"n\",{i}]");
                adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = tokio::task::spawn_blocking(move || {
        let killed = cluster.fail_master_of(slot);
        (cluster, killed)
    })
    .await
    .unwrap();
    let (cluster, killed) = killed;
    local.await.unwrap();

    // Every broadcast reached a's own socket, in order, whatever Redis was doing.
    let expected: Vec<Value> = (0..200).map(|i| value(&format!("[\"n\",{i}]"))).collect();
    assert_eq!(a.log.received_by("a1"), expected);
    // The namespace's channel now lives on the promoted replica, and both nodes moved there.
    let master = cluster.master_of(slot);
    assert_ne!(master, killed);
    eventually("both nodes subscribe again", || {
        a.clients.status().subscribed
            && b.clients.status().subscribed
            && b.clients.status().resubscriptions > 0
    })
    .await;
    eventually("the queue is published", || a.clients.queued_publishes() == 0).await;
    // What b got is in order, each at most once; after the failover everything gets through.
    let got = b.log.received_by("b1");
    let positions: Vec<usize> = got.iter().map(|v| expected.iter().position(|e| e == v).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order, no repeats: {positions:?}");
    a.broadcast(r#"["after"]"#, &BroadcastOptions::all());
    eventually("a broadcast after the failover reaches b", || {
        b.log.received_by("b1").last() == Some(&value(r#"["after"]"#))
    })
    .await;
    wait_servers(&a, 2).await;
    assert_eq!(a.clients.dropped_publishes(), 0);
}

#[tokio::test]
async fn requests_fail_with_what_arrived_when_a_node_stays_silent() {
    let cluster = RedisCluster::start(3);
    let a = Node::start(&cluster, "/", config().with_requests_timeout(Duration::from_millis(500))).await;
    let b = Node::start(&cluster, "/", config()).await;
    wait_servers(&a, 2).await;
    // b has no answer for server-side events: a's request times out with none.
    let result =
        a.adapter.server_side_emit_with_ack(serde_json::json!(["q"]), Duration::from_millis(500)).await;
    assert_eq!(result, Err(ServerSideAckError::Timeout { responses: Vec::new(), expected: 1 }));
    drop(b);
    // A namespace with nobody else: nothing to wait for.
    let alone = Node::start(&cluster, "/alone", config()).await;
    assert_eq!(alone.adapter.server_count().await, Ok(1));
    assert_eq!(alone.adapter.fetch_sockets(&BroadcastOptions::all()).await.map(|s| s.len()), Ok(0));
    // With the cluster gone, requests fail at once instead of waiting.
    drop(cluster);
    let failed = alone.adapter.server_count().await;
    assert!(matches!(failed, Err(AdapterError::Transport(_))), "{failed:?}");
}

/// How many connections subscribed to `channel` on the master that serves it.
fn subscribers(cluster: &RedisCluster, channel: &str) -> usize {
    let master = cluster.master_of(cluster.keyslot(channel));
    let answer = cluster.cli(master, &["pubsub", "shardnumsub", channel]);
    answer.lines().nth(1).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Moves hash slot `slot` from master `from` to master `to` (an empty slot: no key to migrate),
/// telling every master.
fn move_slot(cluster: &RedisCluster, slot: u16, from: u16, to: u16) {
    let id = |port: u16| cluster.cli(port, &["cluster", "myid"]).trim().to_owned();
    let (from_id, to_id, slot) = (id(from), id(to), slot.to_string());
    assert_eq!(cluster.cli(to, &["cluster", "setslot", &slot, "importing", &from_id]).trim(), "OK");
    assert_eq!(cluster.cli(from, &["cluster", "setslot", &slot, "migrating", &to_id]).trim(), "OK");
    for port in [to, from] {
        assert_eq!(cluster.cli(port, &["cluster", "setslot", &slot, "node", &to_id]).trim(), "OK");
    }
    for port in cluster.masters() {
        if port != to && port != from {
            cluster.cli(port, &["cluster", "setslot", &slot, "node", &to_id]);
        }
    }
}

#[tokio::test]
async fn a_broadcast_answered_with_moved_goes_to_the_new_master() {
    let cluster = RedisCluster::start(3);
    let a = Node::start(&cluster, "/", config()).await;
    let b = Node::start(&cluster, "/", config()).await;
    a.connect("a1", &[]);
    b.connect("b1", &["news"]);
    wait_servers(&a, 2).await;
    let channel = "socket.io#/#news#";
    eventually("b subscribes to news", || subscribers(&cluster, channel) == 1).await;
    let news = BroadcastOptions::to(rooms(&["news"]));
    a.broadcast(r#"["before"]"#, &news);
    eventually("the first broadcast reaches b", || b.log.received_by("b1").len() == 1).await;

    // The room's channel moves to another master: Redis ends b's subscription there
    // (`sunsubscribe`) and b subscribes on the new master. a subscribes to nothing in that slot,
    // so nothing tells it.
    let slot = cluster.keyslot(channel);
    let from = cluster.master_of(slot);
    let to = cluster.masters().into_iter().find(|p| *p != from).unwrap();
    move_slot(&cluster, slot, from, to);
    assert_eq!(cluster.master_of(slot), to);
    eventually("b subscribes on the new master", || {
        b.clients.status().subscribed && cluster.shard_channels(to).contains(&channel.to_owned())
    })
    .await;

    // a's publisher sends to the old master, which answers MOVED: the slot map is read again
    // and the message sent to the new master.
    a.broadcast(r#"["after"]"#, &news);
    eventually("the broadcast after the move reaches b", || b.log.received_by("b1").len() == 2).await;
    assert_eq!(b.log.received_by("b1"), [value(r#"["before"]"#), value(r#"["after"]"#)]);
    assert_eq!(a.clients.dropped_publishes(), 0);
}

/// A raw RESP3 subscriber of `channel` on the master that serves it; the pushes arrive on the
/// receiver.
async fn raw_sharded_subscriber(
    cluster: &RedisCluster,
    channel: &str,
) -> (redis::aio::MultiplexedConnection, tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>) {
    let port = cluster.master_of(cluster.keyslot(channel));
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/?protocol=resp3")).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
    let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
    let _: redis::Value = redis::cmd("SSUBSCRIBE").arg(channel).query_async(&mut conn).await.unwrap();
    (conn, rx)
}

/// The next `smessage` of a raw subscriber: (channel, payload).
async fn next_smessage(rx: &mut tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>) -> (String, Vec<u8>) {
    loop {
        let push = tokio::time::timeout(WAIT, rx.recv()).await.expect("a push within the wait").unwrap();
        if push.kind != redis::PushKind::SMessage {
            continue;
        }
        let text = |v: &redis::Value| match v {
            redis::Value::BulkString(b) => b.clone(),
            other => panic!("not a bulk string: {other:?}"),
        };
        return (String::from_utf8(text(&push.data[0])).unwrap(), text(&push.data[1]));
    }
}

#[tokio::test]
async fn the_messages_are_the_reference_bytes_on_the_reference_channels() {
    let cluster = RedisCluster::start(3);
    let node = Node::start(&cluster, "/chat", config()).await;
    let uid = node.adapter.uid().to_owned();
    let (_main, mut main) = raw_sharded_subscriber(&cluster, "socket.io#/chat#").await;
    let (_room, mut room) = raw_sharded_subscriber(&cluster, "socket.io#/chat#news#").await;

    // socket.io-adapter's ClusterAdapter publishes `{type, data, uid, nsp}`, JSON.
    node.adapter.broadcast(
        &event("/chat", r#"["hi",1]"#, None),
        &(value(r#"["hi",1]"#), None),
        &BroadcastOptions { except: rooms(&["x"]), ..BroadcastOptions::to(rooms(&["a", "b"])) },
    );
    let (channel, payload) = next_smessage(&mut main).await;
    assert_eq!(channel, "socket.io#/chat#");
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            r#"{{"type":3,"data":{{"packet":{{"type":2,"data":["hi",1]}},"opts":{{"rooms":["a","b"],"except":["x"],"flags":{{}}}}}},"uid":"{uid}","nsp":"/chat"}}"#
        )
    );
    // One room, not a socket id: the room's own channel.
    node.broadcast(r#"["n"]"#, &BroadcastOptions::to(rooms(&["news"])));
    let (channel, payload) = next_smessage(&mut room).await;
    assert_eq!(channel, "socket.io#/chat#news#");
    assert!(String::from_utf8(payload)
        .unwrap()
        .starts_with(r#"{"type":3,"data":{"packet":{"type":2,"data":["n"]}"#));
    // A join goes to the namespace's channel.
    node.adapter.add_sockets(&BroadcastOptions::all(), &rooms(&["r"]));
    let (_, payload) = next_smessage(&mut main).await;
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            r#"{{"type":4,"data":{{"opts":{{"rooms":[],"except":[],"flags":{{}}}},"rooms":["r"]}},"uid":"{uid}","nsp":"/chat"}}"#
        )
    );
    // A message the reference would publish reaches our node.
    let log = node.log.clone();
    node.connect("s1", &[]);
    let port = cluster.master_of(cluster.keyslot("socket.io#/chat#"));
    let mut raw = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let from_node = r#"{"type":3,"data":{"packet":{"type":2,"data":["from node"]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/chat"}"#;
    let receivers: i64 =
        redis::cmd("SPUBLISH").arg("socket.io#/chat#").arg(from_node).query_async(&mut raw).await.unwrap();
    assert!(receivers >= 1);
    eventually("s1 gets the reference's broadcast", || log.received_by("s1") == [value(r#"["from node"]"#)])
        .await;
}
