//! Shared harness of the Redis adapter tests (classic, sharded and Streams).
//!
//! * [`RedisServer`] (`redis_server.rs`): a real `redis-server` on a free port of 127.0.0.1, a
//!   child process of the test, killed when dropped.
//! * [`TestNode`]: one node of the cluster: a [`RedisClients`], a [`RedisAdapter`] for one
//!   namespace, and a fake namespace ([`FakeSocket`], [`FakeLink`]) that records everything
//!   the adapter delivers to it (the other adapters' tests make their nodes of the fakes).
//! * [`CapturedLogs`] (`logs.rs`): what the adapters log during one test.
//! * [`eventually`]: every wait is bounded ([`WAIT`]); nothing asserts how long anything took.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

mod logs;
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
#[cfg(feature = "redis")]
use socketio_adapter::{Adapter, RedisAdapter, RedisAdapterConfig, RedisClients, Room};
use socketio_adapter::{BroadcastFlags, LocalSocket, NamespaceLink, ServerSideReply, Sid, SocketDetails};
use socketio_parser::Value;

pub use logs::CapturedLogs;
#[cfg(feature = "redis-sharded")]
pub use redis_server::RedisCluster;
pub use redis_server::RedisServer;

/// How long to wait for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(10);

// -------------------------------------------------------------------------------------------
// The fake namespace

/// Where the answers of a broadcast with acks go: called with each answer.
pub type Sink = Arc<dyn Fn(Value) + Send + Sync>;

/// What one socket was sent.
#[derive(Clone)]
pub struct Delivery {
    /// The socket.
    pub socket: Sid,
    /// `[event, ...args]`.
    pub data: Value,
    /// The ack id, for a broadcast with acks.
    pub ack_id: Option<u64>,
    /// The flags it was sent with.
    pub flags: BroadcastFlags,
    /// Where the client's answer goes, for a broadcast with acks.
    pub sink: Option<Sink>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("socket", &self.socket)
            .field("data", &self.data)
            .field("ack_id", &self.ack_id)
            .finish_non_exhaustive()
    }
}

/// Everything that reached one node's fake namespace.
#[derive(Default)]
pub struct Log {
    pub deliveries: Mutex<Vec<Delivery>>,
    pub disconnects: Mutex<Vec<(Sid, bool)>>,
    pub server_side: Mutex<Vec<Vec<Json>>>,
    /// What this node's server-side handler answers to events sent with an ack (`None`: it
    /// never answers).
    pub server_side_answer: Mutex<Option<Json>>,
    next_ack_id: AtomicU64,
}

impl Log {
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// The events socket `sid` received.
    pub fn received_by(&self, sid: &str) -> Vec<Value> {
        self.deliveries().into_iter().filter(|d| &*d.socket == sid).map(|d| d.data).collect()
    }

    pub fn disconnects(&self) -> Vec<(Sid, bool)> {
        self.disconnects.lock().unwrap().clone()
    }

    pub fn server_side(&self) -> Vec<Vec<Json>> {
        self.server_side.lock().unwrap().clone()
    }
}

/// A socket of a test node.
#[derive(Clone)]
pub struct FakeSocket {
    pub id: Sid,
    pub log: Arc<Log>,
}

impl LocalSocket for FakeSocket {
    type Encoded = (Value, Option<u64>);
    type AckSink = Sink;

    fn id(&self) -> &Sid {
        &self.id
    }

    fn send(&self, packet: &Self::Encoded, flags: &BroadcastFlags, ack: Option<&Sink>) -> bool {
        self.log.deliveries.lock().unwrap().push(Delivery {
            socket: self.id.clone(),
            data: packet.0.clone(),
            ack_id: packet.1,
            flags: *flags,
            sink: ack.cloned(),
        });
        true
    }

    fn disconnect(&self, close: bool) {
        self.log.disconnects.lock().unwrap().push((self.id.clone(), close));
    }

    fn details(&self) -> SocketDetails {
        SocketDetails {
            id: self.id.clone(),
            handshake: serde_json::json!({"url": format!("/socket.io/?sid={}", self.id)}),
            rooms: Vec::new(),
            data: serde_json::json!({"name": &*self.id}),
        }
    }
}

/// The namespace side of a test node.
pub struct FakeLink {
    pub nsp: String,
    pub log: Arc<Log>,
}

impl NamespaceLink<FakeSocket> for FakeLink {
    fn name(&self) -> &str {
        &self.nsp
    }

    fn encode_event(&self, data: &Value, ack_id: Option<u64>) -> Option<(Value, Option<u64>)> {
        Some((data.clone(), ack_id))
    }

    fn next_ack_id(&self) -> u64 {
        self.log.next_ack_id.fetch_add(1, Ordering::Relaxed)
    }

    fn ack_sink(&self, on_answer: Box<dyn Fn(Value) + Send + Sync>) -> Sink {
        Arc::from(on_answer)
    }

    fn forward_ack(&self, sink: &Sink, answer: Value) {
        sink(answer);
    }

    fn server_side_event(&self, args: Vec<Json>, reply: Option<ServerSideReply>) {
        self.log.server_side.lock().unwrap().push(args);
        if let (Some(reply), Some(answer)) = (reply, self.log.server_side_answer.lock().unwrap().clone()) {
            reply(answer);
        }
    }
}

/// One node of a test cluster: its Redis connections, the adapter of one namespace, and what
/// reached that namespace.
#[cfg(feature = "redis")]
pub struct TestNode {
    pub clients: RedisClients,
    pub adapter: Arc<RedisAdapter<FakeSocket>>,
    pub log: Arc<Log>,
}

#[cfg(feature = "redis")]
impl TestNode {
    /// A node for namespace `nsp`, subscribed.
    pub async fn start(url: &str, nsp: &str, config: RedisAdapterConfig) -> Self {
        let clients = RedisClients::connect(url, config).await.expect("connect to redis-server");
        Self::with_clients(clients, nsp).await
    }

    /// A node for namespace `nsp` on `clients`, subscribed.
    pub async fn with_clients(clients: RedisClients, nsp: &str) -> Self {
        let log = Arc::new(Log::default());
        let adapter = clients.adapter::<FakeSocket>(nsp);
        adapter.init(Arc::new(FakeLink { nsp: nsp.to_owned(), log: log.clone() }));
        tokio::time::timeout(WAIT, adapter.ready()).await.expect("the adapter subscribes");
        TestNode { clients, adapter, log }
    }

    /// Connects socket `id`, in its own room and `rooms`.
    pub fn connect(&self, id: &str, rooms: &[&str]) -> FakeSocket {
        let socket = FakeSocket { id: Sid::from(id), log: self.log.clone() };
        let mut all = vec![Room::from(id)];
        all.extend(rooms.iter().map(|r| Room::from(*r)));
        self.adapter.add_socket(socket.clone(), &all);
        socket
    }

    /// The rooms of socket `id`, sorted.
    pub fn rooms_of(&self, id: &str) -> Vec<String> {
        let mut rooms: Vec<String> =
            self.adapter.socket_rooms(id).unwrap_or_default().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        rooms
    }
}

/// Waits (at most [`WAIT`]) until `check` holds; panics with `what` otherwise.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `[event, ...args]` as a [`Value`] from JSON text.
pub fn value(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

/// An event packet of namespace `nsp` (JSON, no attachments).
pub fn event(nsp: &str, json: &str, id: Option<u64>) -> socketio_parser::Packet {
    socketio_parser::Packet::event(
        nsp,
        socketio_parser::RawJson::new(json.to_owned()).unwrap(),
        Vec::new(),
        id,
    )
}

/// A raw Redis connection for the tests' own commands.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// A raw subscriber on `channels` and `patterns`, subscribed when this returns.
pub async fn raw_subscriber(url: &str, channels: &[&str], patterns: &[&str]) -> redis::aio::PubSub {
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    for channel in channels {
        pubsub.subscribe(*channel).await.unwrap();
    }
    for pattern in patterns {
        pubsub.psubscribe(*pattern).await.unwrap();
    }
    pubsub
}

/// The next message of a raw subscriber, as (channel, payload), within [`WAIT`].
pub async fn next_message(pubsub: &mut redis::aio::PubSub) -> (String, Vec<u8>) {
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(WAIT, pubsub.on_message().next())
        .await
        .expect("a message within the wait")
        .expect("the subscription is open");
    (msg.get_channel_name().to_owned(), msg.get_payload_bytes().to_vec())
}

/// Publishes `payload` on `channel` with a raw connection.
pub async fn publish(conn: &mut redis::aio::MultiplexedConnection, channel: &str, payload: &[u8]) -> i64 {
    redis::cmd("PUBLISH").arg(channel).arg(payload).query_async(conn).await.unwrap()
}
