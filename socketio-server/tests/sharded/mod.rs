//! Harness of the sharded Redis adapter's cluster tests: a real Redis Cluster (three masters,
//! one replica each), our nodes (a [`SocketIo`] with the sharded adapter, served on 127.0.0.1)
//! and a Node.js node (`peer.js`: socket.io 4.8.4 with `createShardedAdapter` of
//! `@socket.io/redis-adapter` 8.3.0 on `redis` 4 cluster clients), all on one cluster. Clients
//! are the npm `socket.io-client` 4.8.4, puppeted by `tests/js/scenario.js` (see `support`).
//!
//! Every socket joins the rooms of its `auth.rooms` and gets `data = {name: auth.name}`, on our
//! nodes as on the Node.js node. Every wait is bounded.

#![allow(dead_code, unreachable_pub)]

use crate::redis_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::adapter::redis_sharded::{
    ShardedRedisAdapterConfig, ShardedRedisClients, SubscriptionMode,
};
use socketio_server::{Config, Socket, SocketIo};
use tokio::time::timeout;

pub use redis_server::RedisCluster;

use crate::support::{
    node_peer::{adopt_auth, answer_server_side, fetch_socket_ids, wait_server_count, NodePeer},
    Inbox, Node, TestServer, WAIT,
};

/// The folder of `package.json`, its lock file and `peer.js`.
pub fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("sharded")
}

/// The adapter options of the tests: `mode`, short reconnection delays and timeouts.
pub fn sharded_config(mode: SubscriptionMode) -> ShardedRedisAdapterConfig {
    ShardedRedisAdapterConfig::default()
        .with_subscription_mode(mode)
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(2))
}

/// One of our nodes.
pub struct RustNode {
    pub name: &'static str,
    pub server: TestServer,
    pub redis: ShardedRedisClients,
    /// The server-side events it received: (event, args).
    pub server_side: Inbox<(String, Vec<Json>)>,
}

impl RustNode {
    /// A node on `cluster` in subscription mode `mode`, listening for the server-side events
    /// `hello` (no answer) and `question` (answered with the node's name).
    pub async fn start(name: &'static str, cluster: &RedisCluster, mode: SubscriptionMode) -> Self {
        Self::start_on(name, &cluster.urls(), mode).await
    }

    /// The same, reaching the cluster through `urls` (credentials included).
    pub async fn start_on(name: &'static str, urls: &[String], mode: SubscriptionMode) -> Self {
        let seeds: Vec<&str> = urls.iter().map(String::as_str).collect();
        let redis =
            ShardedRedisClients::connect(&seeds, sharded_config(mode)).await.expect("connect to the cluster");
        let io = SocketIo::builder(Config::default()).adapter(redis.factory::<Socket>()).build();
        io.on_connection(|socket: Socket| async move {
            adopt_auth(&socket);
        });
        let server_side = answer_server_side(&io, name);
        let server = TestServer::serve(io).await;
        timeout(WAIT, redis.subscribed()).await.expect("our node subscribes within WAIT");
        RustNode { name, server, redis, server_side }
    }

    pub fn io(&self) -> &SocketIo {
        &self.server.io
    }

    /// Starts node with `clients` against this node.
    pub fn clients(&self, label: &str, clients: Json) -> Node {
        self.server.node(label, clients)
    }

    /// Waits until the cluster counts `n` servers (every node subscribed to the namespace's
    /// channel).
    pub async fn wait_servers(&self, n: usize) {
        wait_server_count(self.io(), n).await;
    }

    /// The ids of the sockets `rooms` reaches on every node, as `fetch_sockets` answers.
    pub async fn fetch_ids(&self, rooms: &[&str]) -> BTreeSet<String> {
        fetch_socket_ids(self.io(), rooms).await
    }
}

/// Starts the Node.js node (this folder's `peer.js`) on `cluster` in subscription mode `mode`;
/// it listens for the server-side events `hello` and `question` (answered with `"node"`).
pub async fn start_peer(cluster: &RedisCluster, mode: SubscriptionMode) -> NodePeer {
    let config = json!({
        "timeoutMs": 90_000,
        "subscriptionMode": mode.as_str(),
        "serverSideAnswers": {"hello": null, "question": "node"},
    });
    NodePeer::start(&peer_dir(), &[json!(cluster.urls()).to_string(), config.to_string()]).await
}

/// The shard channels subscribed on every master of `cluster`, sorted.
pub fn all_shard_channels(cluster: &RedisCluster) -> Vec<String> {
    let mut all: Vec<String> = cluster.masters().iter().flat_map(|p| cluster.shard_channels(*p)).collect();
    all.sort();
    all
}
