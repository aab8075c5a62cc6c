//! Harness of the mixed-cluster tests: a real `redis-server`, our nodes (a [`SocketIo`] with
//! the Redis adapter, served on 127.0.0.1), and a Node.js node (`peer.js`: socket.io 4.8.4
//! with `@socket.io/redis-adapter` 8.3.0 and an `@socket.io/redis-emitter` 5.1.0), all on
//! one Redis. Clients are the npm `socket.io-client` 4.8.4, puppeted by `tests/js/scenario.js`
//! (see `support`).
//!
//! Every socket joins the rooms of its `auth.rooms` and gets `data = {name: auth.name}`, on
//! our nodes as on the Node.js node. Every wait is bounded.

#![allow(dead_code, unreachable_pub)]

use crate::redis_server;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::adapter::{RedisAdapterConfig, RedisClients};
use socketio_server::{Config, Socket, SocketIo};
use tokio::time::{timeout, Instant};

pub use redis_server::RedisServer;

use crate::support::{
    node_peer::{adopt_auth, answer_server_side, fetch_socket_ids, wait_server_count, NodePeer},
    Inbox, Node, TestServer, WAIT,
};

/// The folder of `package.json`, its lock file and `peer.js`.
pub fn peer_dir() -> PathBuf {
    crate::support::workspace_dir().join("socketio-server/tests/cluster")
}

/// The adapter options of the tests: short reconnection delays.
pub fn redis_config() -> RedisAdapterConfig {
    RedisAdapterConfig::default()
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(2))
}

/// One of our nodes.
pub struct RustNode {
    pub name: &'static str,
    pub server: TestServer,
    pub redis: RedisClients,
    /// The server-side events it received: (event, args).
    pub server_side: Inbox<(String, Vec<Json>)>,
}

impl RustNode {
    /// A node on the Redis at `url`, listening for the server-side events `hello` (no answer)
    /// and `question` (answered with the node's name).
    pub async fn start(name: &'static str, url: &str) -> Self {
        let redis = RedisClients::connect(url, redis_config()).await.expect("connect to redis-server");
        let io = SocketIo::builder(Config::default()).adapter(redis.factory::<Socket>()).build();
        io.on_connection(|socket: Socket| async move {
            adopt_auth(&socket);
        });
        let server_side = answer_server_side(&io, name);
        let server = TestServer::serve(io).await;
        timeout(WAIT, redis.subscribed()).await.expect("the node subscribes");
        RustNode { name, server, redis, server_side }
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

/// The Node.js node (a [`NodePeer`] running this folder's `peer.js`), killed when dropped.
pub struct Peer(NodePeer);

impl std::ops::Deref for Peer {
    type Target = NodePeer;
    fn deref(&self) -> &NodePeer {
        &self.0
    }
}

impl std::ops::DerefMut for Peer {
    fn deref_mut(&mut self) -> &mut NodePeer {
        &mut self.0
    }
}

impl Peer {
    /// Starts `peer.js` on the Redis at `redis_url`; it listens for the server-side events
    /// `hello` and `question` (answered with `"node"`).
    pub async fn start(redis_url: &str) -> Self {
        let config = json!({
            "timeoutMs": 90_000,
            "requestsTimeout": 5000,
            "serverSideAnswers": {"hello": null, "question": "node"},
        });
        Peer(NodePeer::start(&peer_dir(), &[redis_url.to_owned(), config.to_string()]).await)
    }

    /// Waits until every Redis client of the Node.js node is `ready` (connected) or, with
    /// `false`, until none is.
    pub async fn wait_redis_ready(&mut self, ready: bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = self.run(json!({"cmd": "redis_ready"})).await;
            let states = answer["ready"].as_array().cloned().unwrap_or_default();
            if !states.is_empty() && states.iter().all(|s| s.as_bool() == Some(ready)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Node.js node's Redis clients did not all become ready={ready} within {WAIT:?}: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets the node exit.
    pub async fn exit(self) {
        self.0.exit().await;
    }
}
