//! Most integration tests of `socketio-server`, one module per behaviour, built as one test binary
//! (one link instead of one per file). The helpers they share are declared here once:
//!
//! * `support`: the in-process server and the npm Socket.IO clients (`tests/support/`);
//! * `process`: the examples run as processes (`tests/process/`);
//! * `browser`: Debian's Chromium driven by Playwright (`tests/browser/`), and `chat`, the chat
//!   example's server the browser tests load;
//! * `cluster`: Redis and Node.js cluster peers (`tests/cluster/`), and `node`, the cluster
//!   example's node;
//! * `sharded`: our nodes with the sharded Redis adapter and its Node.js peer on a Redis
//!   Cluster (`tests/sharded/`).
//!
//! Tests that need the process to themselves have their own binaries: `logs.rs` (the global
//! tracing subscriber), `metrics.rs` (the global metrics recorder) and `no_server_panic/` (the
//! panic hook that fails a test when server code panicked, which `node_port`'s expected panics
//! would trip).

#[path = "../support/mod.rs"]
mod support;

#[path = "../process/mod.rs"]
mod process;

#[path = "../browser/mod.rs"]
mod browser;
#[path = "../../examples/chat/server.rs"]
mod chat;

/// A real `redis-server` on a free port, shared with `socketio-adapter`'s tests.
#[cfg(any(feature = "redis", feature = "redis-streams", feature = "redis-sharded"))]
#[path = "../../../socketio-adapter/tests/it/support/redis_server.rs"]
mod redis_server;

#[cfg(feature = "redis")]
#[path = "../cluster/mod.rs"]
mod cluster;
#[cfg(feature = "redis")]
#[path = "../../../socketio-adapter/tests/it/gate.rs"]
mod gate;
#[cfg(feature = "redis")]
#[path = "../../examples/cluster/node.rs"]
mod node;

#[cfg(feature = "redis-streams")]
#[path = "../streams/mod.rs"]
mod streams;

#[cfg(feature = "redis-sharded")]
#[path = "../sharded/mod.rs"]
mod sharded;

mod acknowledgements;
mod adapter_link;
mod binary;
mod chat_browser;
mod client_address;
mod client_v2;
#[cfg(feature = "redis")]
mod cluster_example;
#[cfg(feature = "redis")]
mod cluster_node;
#[cfg(feature = "redis")]
mod cluster_outage;
#[cfg(feature = "redis")]
mod cluster_restart;
mod config_validation;
mod conformance_suite;
mod conn;
mod connect_and_emit;
mod connection_state_recovery;
mod disconnect_reasons;
mod limits;
mod listeners;
mod middlewares;
#[cfg(feature = "msgpack")]
mod msgpack;
mod namespaces;
#[cfg(feature = "redis")]
mod nginx;
mod node_port;
mod out_of_file_descriptors;
#[cfg(feature = "postgres")]
mod postgres_cluster;
mod reconnection;
mod rooms_and_broadcast;
#[cfg(feature = "redis-sharded")]
mod sharded_cluster;
#[cfg(feature = "redis-streams")]
mod streams_cluster;
