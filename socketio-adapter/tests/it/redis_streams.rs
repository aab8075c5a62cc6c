//! The Redis Streams adapter between two of our nodes on a real `redis-server`:
//!
//! * the stream is trimmed as the reference trims it, `XADD ... MAXLEN ~ <max_len>`: Redis then
//!   removes whole nodes of the stream's radix tree only, while at least `max_len` entries
//!   remain, so the stream holds from `max_len` to fewer than `max_len` plus one node's worth of
//!   entries (`stream-node-max-entries`, 100 by default), never what was written;
//! * a short outage loses no broadcast: what node A writes while Redis is down waits in its
//!   bounded queue, is added once Redis is back, and node B reads it in order and once;
//! * what overflows the queue is dropped (the oldest), counted and logged at `warn`.
//!
//! Unlike pub/sub, a stream keeps its entries: node B reads from the last entry it read,
//! whenever it reconnects, so these checks need no relay to decide which node comes back first.
//! (The tests' `redis-server` keeps nothing on disk: after a restart the stream starts empty,
//! and the entries added then get ids after every id of the old one.)

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use socketio_adapter::redis_streams::{RedisStreamsAdapter, RedisStreamsAdapterConfig, RedisStreamsClients};
use socketio_adapter::{Adapter, BroadcastOptions, QueueLimits, Room, Sid};
use socketio_parser::Value;
use support::{event, eventually, raw, value, CapturedLogs, FakeLink, FakeSocket, Log, RedisServer};
use tokio::time::Instant;
use tracing::Level;

/// How long writing and reading hundreds of entries may take on a loaded machine.
const LONG: Duration = Duration::from_secs(60);

fn config() -> RedisStreamsAdapterConfig {
    RedisStreamsAdapterConfig::default()
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(2))
        .with_block_time(Duration::from_millis(500))
}

/// One of our nodes: its clients, the adapter of `/` and what reached it.
struct Node {
    clients: RedisStreamsClients,
    adapter: Arc<RedisStreamsAdapter<FakeSocket>>,
    log: Arc<Log>,
}

impl Node {
    async fn start(redis: &RedisServer, config: RedisStreamsAdapterConfig) -> Node {
        let clients =
            RedisStreamsClients::connect(&redis.url(), config).await.expect("connect to redis-server");
        let log = Arc::new(Log::default());
        let adapter = clients.adapter::<FakeSocket>("/");
        adapter.init(Arc::new(FakeLink { nsp: "/".to_owned(), log: log.clone() }));
        Node { clients, adapter, log }
    }

    /// Connects socket `id`, in its own room.
    fn connect(&self, id: &str) {
        let socket = FakeSocket { id: Sid::from(id), log: self.log.clone() };
        self.adapter.add_socket(socket, &[Room::from(id)]);
    }

    /// Broadcasts `["<what>"]` to the whole namespace.
    fn say(&self, what: &str) {
        let json = format!(r#"["{what}"]"#);
        self.adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
    }
}

fn said(what: &str) -> Value {
    value(&format!(r#"["{what}"]"#))
}

/// Node A (with `a_config`) and node B, a socket each, knowing each other, and a broadcast
/// from A heard by B's socket.
async fn two_nodes(redis: &RedisServer, a_config: RedisStreamsAdapterConfig) -> (Node, Node) {
    let a = Node::start(redis, a_config).await;
    let b = Node::start(redis, config()).await;
    eventually("the nodes know each other", || a.adapter.nodes().len() == 1 && b.adapter.nodes().len() == 1)
        .await;
    a.connect("a1");
    b.connect("b1");
    a.say("before");
    eventually("b1 hears a before the outage", || b.log.received_by("b1") == [said("before")]).await;
    (a, b)
}

/// The stream's entries: (id, fields).
async fn stream(redis: &RedisServer) -> Vec<(String, Vec<(String, String)>)> {
    let mut conn = raw(&redis.url()).await;
    redis::cmd("XRANGE").arg("socket.io").arg("-").arg("+").query_async(&mut conn).await.expect("XRANGE")
}

/// What a broadcast entry says (`["m3"]` gives `m3`); `None` for other entries.
fn broadcast_text(fields: &[(String, String)]) -> Option<String> {
    let data = fields.iter().find(|(k, _)| k == "data")?;
    let data: Json = serde_json::from_str(&data.1).ok()?;
    data["packet"]["data"][0].as_str().map(str::to_owned)
}

#[tokio::test]
async fn the_stream_is_trimmed_to_about_max_len_as_the_reference_trims_it() {
    const MAX_LEN: usize = 50;
    const SENT: usize = 600;
    let redis = RedisServer::start();
    let a = Node::start(&redis, config().with_max_len(MAX_LEN)).await;
    a.connect("a1");
    for i in 0..SENT {
        a.say(&format!("m{i}"));
    }
    // The writer adds entries in order: once the last is in the stream, every one was added.
    let last = format!("m{}", SENT - 1);
    let deadline = Instant::now() + LONG;
    let entries = loop {
        let entries = stream(&redis).await;
        if entries.iter().any(|(_, fields)| broadcast_text(fields).as_deref() == Some(last.as_str())) {
            break entries;
        }
        assert!(Instant::now() < deadline, "the last broadcast is not in the stream within {LONG:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(a.log.received_by("a1").len(), SENT);

    let mut conn = raw(&redis.url()).await;
    let len: usize = redis::cmd("XLEN").arg("socket.io").query_async(&mut conn).await.expect("XLEN");
    let setting: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("stream-node-max-entries")
        .query_async(&mut conn)
        .await
        .expect("CONFIG GET");
    let node_size: usize = setting.get(1).and_then(|n| n.parse().ok()).expect("stream-node-max-entries");
    assert!(
        (MAX_LEN..MAX_LEN + node_size).contains(&len),
        "{len} entries after {SENT} broadcasts with max_len {MAX_LEN} (radix tree nodes of {node_size})"
    );
    // What remains is the newest stretch of the broadcasts, in order, up to the last.
    let kept: Vec<String> = entries.iter().filter_map(|(_, fields)| broadcast_text(fields)).collect();
    let first = SENT - kept.len();
    assert!(first > 0, "the oldest broadcasts are trimmed");
    assert_eq!(kept, (first..SENT).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn broadcasts_made_during_an_outage_reach_the_other_node_in_order_once() {
    let mut redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, config()).await;

    redis.stop();
    for i in 0..20 {
        a.say(&format!("m{i}"));
    }
    // This node's own socket has them at once; the others wait in the queue.
    assert_eq!(a.log.received_by("a1").len(), 21);
    eventually("the 20 broadcasts are queued", || a.clients.queued_publishes() == 20).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();

    eventually("b1 hears the 20 broadcasts", || b.log.received_by("b1").len() >= 21).await;
    eventually("a's queue is added", || a.clients.queued_publishes() == 0).await;
    // Added after the queue, so read after it: once this arrives, any duplicate of the queued
    // broadcasts would have arrived too.
    a.say("after");
    eventually("b1 hears a after the outage", || b.log.received_by("b1").contains(&said("after"))).await;
    let mut expected = vec![said("before")];
    expected.extend((0..20).map(|i| said(&format!("m{i}"))));
    expected.push(said("after"));
    assert_eq!(b.log.received_by("b1"), expected);
    assert_eq!(a.log.received_by("a1"), expected);
    assert_eq!(a.adapter.dropped_publishes(), 0);
    assert_eq!(a.clients.dropped_publishes(), 0);
}

#[tokio::test]
async fn past_the_queue_limit_the_oldest_entries_are_dropped_counted_and_logged_at_warn() {
    let (logs, _capturing) = CapturedLogs::start();
    let mut redis = RedisServer::start();
    let small = config().with_publish_queue(QueueLimits::new(5, 1024 * 1024, Duration::from_secs(60)));
    let (a, b) = two_nodes(&redis, small).await;

    redis.stop();
    for i in 0..20 {
        a.say(&format!("m{i}"));
    }
    eventually("15 broadcasts are dropped", || a.clients.dropped_publishes() == 15).await;
    assert_eq!(a.clients.queued_publishes(), 5);
    redis.restart();
    // Said any earlier, "after" could still meet the full queue and push out the oldest.
    eventually("a adds its queue", || a.clients.queued_publishes() == 0).await;

    a.say("after");
    eventually("b1 hears a after the outage", || b.log.received_by("b1").contains(&said("after"))).await;
    // The most recent five, in order: one gap, where the outage began.
    let mut expected = vec![said("before")];
    expected.extend((15..20).map(|i| said(&format!("m{i}"))));
    expected.push(said("after"));
    assert_eq!(b.log.received_by("b1"), expected);
    assert_eq!(a.log.received_by("a1").len(), 22, "a's own socket got every broadcast");
    assert_eq!(a.adapter.dropped_publishes(), 15);
    assert_eq!(a.clients.dropped_publishes(), 15);

    let warned: Vec<_> = logs
        .at(Level::WARN)
        .into_iter()
        .filter(|e| e.target.starts_with("socketio_adapter") && e.message.contains("queued messages dropped"))
        .collect();
    let dropped: u64 =
        warned.iter().map(|e| e.field("dropped").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)).sum();
    assert_eq!(dropped, 15, "{warned:#?}");
    assert!(warned.iter().all(|e| e.message.contains("redis streams adapter")), "{warned:#?}");
}
