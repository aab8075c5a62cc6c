//! Shared harness of the PostgreSQL adapter tests.
//!
//! * [`PostgresServer`] (`postgres_server.rs`): a real PostgreSQL in a temporary directory,
//!   a child process of the test, stopped when dropped.
//! * [`PgNode`]: one node of the cluster: a [`PostgresClients`], a [`PostgresAdapter`] for one
//!   namespace, and a fake namespace ([`FakeSocket`], [`FakeLink`]) that records everything the
//!   adapter delivers to it.
//! * [`eventually`]: every wait is bounded ([`WAIT`]); nothing asserts how long anything took.

#![allow(dead_code, unreachable_pub)]

mod postgres_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use socketio_adapter::{
    Adapter, BroadcastFlags, LocalSocket, NamespaceLink, PostgresAdapter, PostgresAdapterConfig,
    PostgresClients, Room, ServerSideReply, Sid, SocketDetails,
};
use socketio_parser::Value;

pub use postgres_server::PostgresServer;

/// How long to wait for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(15);

/// Where the answers of a broadcast with acks go.
pub type Sink = Arc<dyn Fn(Value) + Send + Sync>;

/// What one socket was sent: (socket, `[event, ...args]`, ack id, where its ack goes).
pub type Delivery = (Sid, Value, Option<u64>, Option<Sink>);

/// Everything that reached one node's fake namespace.
#[derive(Default)]
pub struct Log {
    pub deliveries: Mutex<Vec<Delivery>>,
    pub disconnects: Mutex<Vec<(Sid, bool)>>,
    pub server_side: Mutex<Vec<Vec<Json>>>,
    /// What this node's server-side handler answers to events sent with an ack.
    pub server_side_answer: Mutex<Option<Json>>,
    next_ack_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    /// The events socket `sid` received.
    pub fn received_by(&self, sid: &str) -> Vec<Value> {
        lock(&self.deliveries).iter().filter(|d| &*d.0 == sid).map(|d| d.1.clone()).collect()
    }

    /// The ack sinks of the deliveries to `sid`.
    pub fn sinks_of(&self, sid: &str) -> Vec<Sink> {
        lock(&self.deliveries).iter().filter(|d| &*d.0 == sid).filter_map(|d| d.3.clone()).collect()
    }

    pub fn disconnects(&self) -> Vec<(Sid, bool)> {
        lock(&self.disconnects).clone()
    }

    pub fn server_side(&self) -> Vec<Vec<Json>> {
        lock(&self.server_side).clone()
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

    fn send(&self, packet: &Self::Encoded, _flags: &BroadcastFlags, ack: Option<&Sink>) -> bool {
        lock(&self.log.deliveries).push((self.id.clone(), packet.0.clone(), packet.1, ack.cloned()));
        true
    }

    fn disconnect(&self, close: bool) {
        lock(&self.log.disconnects).push((self.id.clone(), close));
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
        lock(&self.log.server_side).push(args);
        if let (Some(reply), Some(answer)) = (reply, lock(&self.log.server_side_answer).clone()) {
            reply(answer);
        }
    }
}

/// One node: its PostgreSQL connection, the adapter of one namespace, what reached it.
pub struct PgNode {
    pub clients: PostgresClients,
    pub adapter: Arc<PostgresAdapter<FakeSocket>>,
    pub log: Arc<Log>,
}

impl PgNode {
    /// A node for namespace `nsp`, listening.
    pub async fn start(conninfo: &str, nsp: &str, config: PostgresAdapterConfig) -> Self {
        let clients = PostgresClients::connect(conninfo, config).await.expect("connect to PostgreSQL");
        let log = Arc::new(Log::default());
        let adapter = clients.adapter::<FakeSocket>(nsp);
        adapter.init(Arc::new(FakeLink { nsp: nsp.to_owned(), log: log.clone() }));
        tokio::time::timeout(WAIT, adapter.ready()).await.expect("the adapter listens");
        PgNode { clients, adapter, log }
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

/// Test options: short heartbeats and timeouts, fast reconnection.
pub fn config() -> PostgresAdapterConfig {
    PostgresAdapterConfig::default()
        .with_heartbeat(Duration::from_millis(500), Duration::from_secs(3))
        .with_requests_timeout(Duration::from_secs(3))
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(2))
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
    serde_json::from_str(json).expect("valid JSON")
}

/// An event packet of namespace `nsp` (JSON, no attachments).
pub fn event(nsp: &str, json: &str, id: Option<u64>) -> socketio_parser::Packet {
    socketio_parser::Packet::event(
        nsp,
        socketio_parser::RawJson::new(json.to_owned()).expect("valid JSON"),
        Vec::new(),
        id,
    )
}
