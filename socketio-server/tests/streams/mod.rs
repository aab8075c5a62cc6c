//! Harness of the Redis Streams cluster tests: a real `redis-server`, our nodes (a
//! [`SocketIo`] with the Redis Streams adapter and connection state recovery, served on
//! 127.0.0.1), and a Node.js node (`peer.js`: socket.io 4.8.4 with
//! `@socket.io/redis-streams-adapter` 0.2.3), all on one Redis. Clients are the npm
//! `socket.io-client` 4.8.4, puppeted by `tests/js/scenario.js` (see `support`); [`Proxy`]
//! lets one client reach a node, then another, through one address.
//!
//! Every socket that is not recovered joins the rooms of its `auth.rooms` and gets
//! `data = {name: auth.name}`, on our nodes as on the Node.js node. Every wait is bounded.

#![allow(dead_code, unreachable_pub)]

use crate::redis_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::adapter::{RedisStreamsAdapterConfig, RedisStreamsClients};
use socketio_server::{Config, ConnectionStateRecovery, Socket, SocketIo};

pub use redis_server::RedisServer;

use crate::support::{
    inbox,
    node_peer::{adopt_auth, answer_server_side, fetch_socket_ids, wait_server_count, NodePeer},
    Inbox, Node, TestServer,
};

/// The folder of `package.json`, its lock file and `peer.js`.
pub fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("streams")
}

/// How long sessions are kept, on our nodes as on the Node.js node.
pub const MAX_DISCONNECTION: Duration = Duration::from_secs(120);

/// The adapter options of the tests: short reconnection delays and blocking reads, recovery on.
pub fn redis_config() -> RedisStreamsAdapterConfig {
    RedisStreamsAdapterConfig::default()
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(2))
        .with_block_time(Duration::from_millis(500))
        .with_connection_state_recovery(MAX_DISCONNECTION)
}

/// One of our nodes.
pub struct RustNode {
    pub name: &'static str,
    pub server: TestServer,
    pub redis: RedisStreamsClients,
    /// Every connection: (socket id, recovered, rooms, data).
    pub connections: Inbox<(String, bool, Vec<String>, Json)>,
    /// Every disconnection: the socket id.
    pub disconnections: Inbox<String>,
    /// The server-side events it received: (event, args).
    pub server_side: Inbox<(String, Vec<Json>)>,
}

impl RustNode {
    /// A node on the Redis at `url`, listening for the server-side events `hello` (no answer)
    /// and `question` (answered with the node's name).
    pub async fn start(name: &'static str, url: &str) -> Self {
        let redis = RedisStreamsClients::connect(url, redis_config()).await.expect("connect to redis-server");
        let recovery = ConnectionStateRecovery {
            max_disconnection_duration: MAX_DISCONNECTION,
            ..ConnectionStateRecovery::default()
        };
        let config = Config { connection_state_recovery: Some(recovery), ..Config::default() };
        let io = SocketIo::builder(config).adapter(redis.factory::<Socket>()).build();
        let (connected, connections) = inbox();
        let (disconnected, disconnections) = inbox();
        io.on_connection(move |socket: Socket| {
            let (connected, disconnected) = (connected.clone(), disconnected.clone());
            async move {
                if !socket.recovered() {
                    adopt_auth(&socket);
                }
                let rooms = socket.rooms().iter().map(|r| r.to_string()).collect();
                let _ =
                    connected.send((socket.id().to_string(), socket.recovered(), rooms, socket.data_json()));
                socket.on_disconnect(move |socket, _reason| {
                    let _ = disconnected.send(socket.id().to_string());
                    async {}
                });
            }
        });
        let server_side = answer_server_side(&io, name);
        let server = TestServer::serve(io).await;
        RustNode { name, server, redis, connections, disconnections, server_side }
    }

    pub fn io(&self) -> &SocketIo {
        &self.server.io
    }

    /// Starts node with `clients` against this node.
    pub fn clients(&self, label: &str, clients: Json) -> Node {
        self.server.node(label, clients)
    }

    /// Waits until the cluster counts `n` servers (every node subscribed).
    pub async fn wait_servers(&self, n: usize) {
        wait_server_count(self.io(), n).await;
    }

    /// The ids of the sockets `rooms` reaches on every node, as `fetch_sockets` answers.
    pub async fn fetch_ids(&self, rooms: &[&str]) -> BTreeSet<String> {
        fetch_socket_ids(self.io(), rooms).await
    }
}

/// Starts the Node.js node (this folder's `peer.js`) on the Redis at `redis_url`; it listens
/// for the server-side events `hello` and `question` (answered with `"node"`).
pub async fn start_peer(redis_url: &str) -> NodePeer {
    let config = json!({
        "timeoutMs": 90_000,
        "serverSideAnswers": {"hello": null, "question": "node"},
    });
    NodePeer::start(&peer_dir(), &[redis_url.to_owned(), config.to_string()]).await
}

/// A TCP proxy on 127.0.0.1 that sends each new connection to the node it currently points
/// at: a client that reconnects through it reaches another node at the same address.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    target: std::sync::Arc<std::sync::Mutex<std::net::SocketAddr>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let target = std::sync::Arc::new(std::sync::Mutex::new(target));
        let current = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let to = *current.lock().unwrap_or_else(|e| e.into_inner());
                tokio::spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
            }
        });
        Proxy { addr, target, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// New connections go to `target` from now on.
    pub fn point_at(&self, target: std::net::SocketAddr) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
