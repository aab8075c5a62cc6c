//! Shared harness of the Redis adapter tests.
//!
//! * [`RedisServer`]: a real `redis-server` on a free port of 127.0.0.1, a child process of the
//!   test, killed when dropped (panics included), stoppable and restartable on the same port.
//!   When `redis-server` is missing and the test runs as root, it is installed with apt, one
//!   test process at a time (a lock file); otherwise the test fails saying how to get it.
//! * [`TestNode`]: one node of the cluster: a [`RedisClients`], a [`RedisAdapter`] for one
//!   namespace, and a fake namespace ([`FakeSocket`], [`FakeLink`]) that records everything
//!   the adapter delivers to it.
//! * [`eventually`]: every wait is bounded ([`WAIT`]); nothing asserts how long anything took.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use socketio_adapter::{
    Adapter, BroadcastFlags, LocalSocket, NamespaceLink, RedisAdapter, RedisAdapterConfig, RedisClients,
    Room, ServerSideReply, Sid, SocketDetails,
};
use socketio_parser::Value;

/// How long to wait for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(10);

// -------------------------------------------------------------------------------------------
// redis-server

/// A `redis-server` child process on 127.0.0.1.
pub struct RedisServer {
    port: u16,
    binary: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        let binary = redis_server_binary();
        let port = free_port();
        let mut server = RedisServer { port, binary, child: None };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let child = Command::new(&self.binary)
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
            self.child = Some(child);
            if self.wait_ready(deadline) {
                return;
            }
            // The port may still be held by the previous instance: try again.
            self.stop();
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {} within {WAIT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server answers `PING` before `deadline` (false if it exited).
    fn wait_ready(&mut self, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if ping(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills the server (every client connection drops) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The `redis-server` binary, installed with apt when it is missing and we are root.
fn redis_server_binary() -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_thread = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(binary) = find_in_path("redis-server") {
        return binary;
    }
    assert!(
        is_root(),
        "redis-server is not installed and this test does not run as root to install it: \
         install it (Debian/Ubuntu: `apt-get install redis-server`) and run the test again"
    );
    let lock = std::env::temp_dir().join("socketio-adapter-redis-install.lock");
    let _lock = InstallLock::acquire(&lock);
    if let Some(binary) = find_in_path("redis-server") {
        return binary;
    }
    let run = |args: &[&str]| {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run apt-get: {e}"));
        assert!(status.success(), "`apt-get {}` failed ({status})", args.join(" "));
    };
    run(&["update"]);
    run(&["install", "-y", "--no-install-recommends", "redis-server"]);
    find_in_path("redis-server").expect("apt-get installed redis-server, but it is not on the PATH")
}

/// A lock file held by one process at a time; a lock older than ten minutes is taken as left
/// behind by a process that died.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Self {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return InstallLock(path.to_owned()),
                Err(_) => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(600));
                    if stale {
                        let _ = std::fs::remove_file(path);
                    }
                    assert!(Instant::now() < deadline, "waited too long for {}", path.display());
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

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
pub struct TestNode {
    pub clients: RedisClients,
    pub adapter: Arc<RedisAdapter<FakeSocket>>,
    pub log: Arc<Log>,
}

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
