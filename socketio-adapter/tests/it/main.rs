//! The integration tests of `socketio-adapter`, one module per behaviour, built as one test binary
//! (one link instead of one per file). `support` is the Redis harness of the `redis_*` modules: a
//! real `redis-server`, the test nodes and a capture of what the adapters log.

#[cfg(any(feature = "redis", feature = "postgres"))]
mod gate;
#[cfg(feature = "postgres")]
#[path = "../pg_support/mod.rs"]
mod pg_support;
#[cfg(any(feature = "redis", feature = "redis-streams"))]
mod support;

mod memory_adapter;
#[cfg(feature = "postgres")]
mod postgres_outage;
#[cfg(feature = "postgres")]
mod postgres_restart;
#[cfg(feature = "postgres")]
mod postgres_two_nodes;
#[cfg(feature = "postgres")]
mod postgres_wire;
#[cfg(feature = "redis")]
mod publish_queue;
mod recovery;
#[cfg(feature = "redis")]
mod redis_outage;
#[cfg(feature = "redis")]
mod redis_restart;
#[cfg(feature = "redis-sharded")]
mod redis_sharded;
#[cfg(feature = "redis-streams")]
mod redis_streams;
#[cfg(feature = "redis")]
mod redis_two_nodes;
#[cfg(feature = "redis")]
mod redis_wire;
mod rooms;
