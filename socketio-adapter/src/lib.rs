//! Rooms, broadcasting and multi-node adapters for the Socket.IO server.
//!
//! A namespace of `socketio-server` asks its adapter who is in which room, and hands it every
//! broadcast. This crate holds the pieces: the room index every adapter is built on, the
//! [`Adapter`] trait, the in-memory adapter (one node, the default) and four cluster adapters
//! for many nodes, each wire-compatible with its Node.js counterpart so that Rust and Node.js
//! nodes serve one cluster: Redis pub/sub, Redis Streams, sharded Redis pub/sub for Redis
//! Cluster, and PostgreSQL. `socketio-server` re-exports the crate as `socketio_server::adapter`.
//!
//! # The room index
//!
//! [`RoomIndex`]: the synchronous room index every adapter is built on. It maps sockets (a small
//! `Copy` key chosen by the server) to the [`Room`]s they are in and back, with the operations
//! of the reference in-memory adapter of `socket.io-adapter` 2.5 (`addAll` → [`add_all`],
//! `del` → [`del`], `delAll` → [`del_all`], `socketRooms` → [`rooms_of`], `sockets` →
//! [`sockets_in`] / [`for_each_target`]), its room lifecycle events ([`RoomEvent`]:
//! `create-room`, `join-room`, `leave-room`, `delete-room`, reported in the reference's order)
//! and its broadcast semantics ([`BroadcastTarget`]):
//!
//! * no rooms: every socket; otherwise the union of the rooms, each socket once;
//! * minus every socket that is in at least one `except` room.
//!
//! Every answer comes in a documented, deterministic order (the order of the operations, never
//! of a hash), and targeting a broadcast allocates nothing per recipient.
//!
//! ```
//! use socketio_adapter::{BroadcastTarget, Room, RoomIndex};
//!
//! let mut index = RoomIndex::new();
//! // A socket joins the room named by its own id when it connects.
//! index.add_all(1u32, ["s1"], |_| {});
//! index.add_all(2u32, ["s2", "news"], |_| {});
//! index.add_all(3u32, ["s3", "news"], |_| {});
//!
//! // `io.emit(...)`
//! assert_eq!(index.collect_targets(&BroadcastTarget::all()), [1, 2, 3]);
//! // `socket2.to("news").emit(...)`: the room, minus the sender's own room
//! let news = [Room::from("news")];
//! let own = [Room::from("s2")];
//! let mut reached = Vec::new();
//! index.for_each_target(&BroadcastTarget::to(&news).except(&own), |key| reached.push(key));
//! assert_eq!(reached, [3]);
//! ```
//!
//! # The in-memory adapter
//!
//! [`Adapter`] is what a namespace of the server asks of the layer that knows where its sockets
//! are: room membership and delivery on this node (synchronous, as in the reference), and the
//! operations that may involve other nodes (`fetch_sockets`, server-side emits with answers,
//! broadcasts with acks counting clients on every node, the server count), which return
//! futures. The server implements [`LocalSocket`] on its socket handle; a broadcast hands the
//! adapter one encoded packet ([`LocalSocket::Encoded`]) that every recipient shares.
//!
//! [`MemoryAdapter`], the default, is the single-node implementation on top of [`RoomIndex`];
//! [`MemoryAdapter::with_recovery`] also keeps what connection state recovery needs. Any type
//! can stand for the sockets; here, one that writes down what it is sent:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use socketio_adapter::{Adapter, BroadcastFlags, BroadcastOptions, LocalSocket, MemoryAdapter, Sid, SocketDetails};
//! use socketio_parser::{Packet, RawJson};
//!
//! #[derive(Clone)]
//! struct Inbox {
//!     id: Sid,
//!     got: Arc<Mutex<Vec<String>>>,
//! }
//!
//! impl LocalSocket for Inbox {
//!     type Encoded = String; // the server's own type is its encoded packet, shared by every socket
//!     type AckSink = ();
//!
//!     fn id(&self) -> &Sid {
//!         &self.id
//!     }
//!     fn send(&self, packet: &String, _: &BroadcastFlags, _: Option<&()>) -> bool {
//!         self.got.lock().expect("not poisoned").push(format!("{} <- {packet}", self.id));
//!         true
//!     }
//!     fn disconnect(&self, _close: bool) {}
//!     fn details(&self) -> SocketDetails {
//!         SocketDetails {
//!             id: self.id.clone(),
//!             handshake: serde_json::Value::Null,
//!             rooms: Vec::new(),
//!             data: serde_json::Value::Null,
//!         }
//!     }
//! }
//!
//! let got = Arc::new(Mutex::new(Vec::new()));
//! let adapter = MemoryAdapter::new();
//! for id in ["a", "b", "c"] {
//!     let socket = Inbox { id: id.into(), got: got.clone() };
//!     adapter.add_socket(socket, &[id.into()]);
//! }
//! adapter.add_all("b", &["news".into()]);
//! adapter.add_all("c", &["news".into()]);
//!
//! // `io.to("news").except("c").emit("headline", "rain")`
//! let packet = Packet::event("/", RawJson::new(r#"["headline","rain"]"#)?, Vec::new(), None);
//! let opts = BroadcastOptions { except: vec!["c".into()], ..BroadcastOptions::to(["news".into()]) };
//! adapter.broadcast(&packet, &packet.encode_to_string().to_string(), &opts);
//! assert_eq!(*got.lock().expect("not poisoned"), [r#"b <- 2["headline","rain"]"#]);
//! assert_eq!(adapter.socket_rooms("b").expect("b is here"), ["b", "news"]);
//! # Ok::<(), socketio_parser::DecodeError>(())
//! ```
//!
//! # Redis
//!
//! With the feature `redis`, [`redis`](mod@redis) is a cluster adapter wire-compatible with
//! Node.js's `@socket.io/redis-adapter` 8.3 (classic pub/sub), so Rust and Node.js nodes can
//! share one Redis and serve one cluster. One `RedisClients` per process holds the two
//! connections; its `factory` makes every namespace's `RedisAdapter`, which wraps a
//! [`MemoryAdapter`] for this node's sockets and publishes or asks the other nodes for the rest.
//! Its module docs say what travels where, how timeouts and Redis outages are handled, and what
//! it does not do.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use socketio_adapter::{RedisAdapterConfig, RedisClients};
//!
//! let config = RedisAdapterConfig::default().with_requests_timeout(Duration::from_secs(2));
//! let redis = RedisClients::connect("redis://127.0.0.1:6379/", config).await?;
//! // With socketio-server: `SocketIo::builder(config).adapter(redis.factory::<Socket>()).build()`.
//! redis.subscribed().await;
//! println!("{:?}", redis.status());
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # Redis Streams
//!
//! With the feature `redis-streams`, [`redis_streams`](mod@redis_streams) is a cluster adapter
//! wire-compatible with Node.js's `@socket.io/redis-streams-adapter` 0.2: every message goes
//! through one Redis stream, and sessions are kept in Redis, so connection state recovery
//! works across nodes. One `RedisStreamsClients` per process makes every namespace's
//! `RedisStreamsAdapter`.
//!
//! ```no_run
//! # #[cfg(feature = "redis-streams")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_adapter::{RedisStreamsAdapterConfig, RedisStreamsClients};
//!
//! let streams = RedisStreamsClients::connect("redis://127.0.0.1:6379/", RedisStreamsAdapterConfig::default()).await?;
//! // With socketio-server: `.adapter(streams.factory::<Socket>())`, and connection state
//! // recovery on: a client that comes back through another node gets its session back.
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # Redis Cluster (sharded pub/sub)
//!
//! With the feature `redis-sharded`, [`redis_sharded`](mod@redis_sharded) is the sharded
//! adapter of `@socket.io/redis-adapter` 8.3 (`createShardedAdapter`): `SPUBLISH` and
//! `SSUBSCRIBE` on a Redis Cluster (Redis 7 or later), each channel on the master that owns its
//! slot, in the reference's three subscription modes ([`SubscriptionMode`]). A master's
//! failover is followed: the channels it held are subscribed again on the promoted replica.
//!
//! ```no_run
//! # #[cfg(feature = "redis-sharded")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_adapter::{ShardedRedisAdapterConfig, ShardedRedisClients, SubscriptionMode};
//!
//! let config = ShardedRedisAdapterConfig::default().with_subscription_mode(SubscriptionMode::Dynamic);
//! // Any node of the cluster: the others are found from its slot map.
//! let redis = ShardedRedisClients::connect(&["redis://127.0.0.1:7000/"], config).await?;
//! // With socketio-server: `.adapter(redis.factory::<Socket>())`.
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # PostgreSQL
//!
//! With the feature `postgres`, [`postgres`](mod@postgres) is the adapter of
//! `@socket.io/postgres-adapter` 0.5: `NOTIFY` on one channel per namespace, payloads too big
//! for `NOTIFY` (or binary) through an attachments table that it cleans up, and heartbeats that
//! count the nodes. For teams that run PostgreSQL and no Redis.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_adapter::{PostgresAdapterConfig, PostgresClients};
//!
//! let pg = PostgresClients::connect("host=127.0.0.1 user=postgres", PostgresAdapterConfig::default()).await?;
//! // With socketio-server: `.adapter(pg.factory::<Socket>())`.
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # When the engine goes away
//!
//! Every cluster adapter keeps serving this node's sockets while Redis or PostgreSQL is
//! unreachable, and reconnects by itself. What it could not publish meanwhile waits in a
//! bounded queue ([`publish_queue::QueueLimits`]: 10 000 messages, 16 MiB, 30 s by default) and
//! goes out in order once reconnected; what overflows is dropped, logged at `warn` and counted.
//! Requests that need every node (`fetch_sockets`, server-side emits with acks, the server
//! count) fail at once meanwhile, with an error that says so.
//!
//! # Writing an adapter
//!
//! An adapter implements [`Adapter`] for the server's socket type (`socketio_server::Socket`),
//! and the server is built with a factory that makes one per namespace
//! (`SocketIo::builder(config).adapter(|namespace| ...)`). The usual shape is the Redis
//! adapter's: keep this node's sockets in a [`MemoryAdapter`] and delegate the local half to it;
//! send what must reach other nodes (broadcasts unless [`BroadcastFlags::local`], room changes,
//! disconnects) over your transport; answer the other nodes' requests through the
//! [`NamespaceLink`] that [`Adapter::init`] hands over, which encodes packets for this node's
//! sockets and runs the namespace's server-side handlers. The [`Adapter`] trait's docs show a
//! whole adapter that wraps the in-memory one.
//!
//! Rules an adapter keeps: delivery to this node's sockets never waits on another node;
//! [`Adapter::broadcast`] gets the packet encoded once, and passes that one value to every
//! recipient; answers come in the documented order; a remote failure is an [`AdapterError`],
//! never a panic.
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `redis` | [`RedisClients`], [`RedisAdapter`]: the classic Redis pub/sub adapter |
//! | `redis-streams` | [`RedisStreamsClients`], [`RedisStreamsAdapter`]: one Redis stream, recovery across nodes |
//! | `redis-sharded` | [`ShardedRedisClients`], [`ShardedRedisAdapter`]: sharded pub/sub on a Redis Cluster |
//! | `postgres` | [`PostgresClients`], [`PostgresAdapter`]: `LISTEN`/`NOTIFY` on PostgreSQL |
//!
//! Without any, the crate has no I/O and no async runtime.
//!
//! # What it does not do
//!
//! No I/O, no async runtime and no clock outside the cluster adapters: the room index and the
//! in-memory adapter are plain data behind a mutex, and expiry reads the [`Clock`] it is given.
//! They do not know packets' contents or flags beyond [`BroadcastFlags`]; the layer above
//! resolves sockets to connections and writes the one encoded packet to each of them.
//!
//! [`add_all`]: RoomIndex::add_all
//! [`del`]: RoomIndex::del
//! [`del_all`]: RoomIndex::del_all
//! [`rooms_of`]: RoomIndex::rooms_of
//! [`sockets_in`]: RoomIndex::sockets_in
//! [`for_each_target`]: RoomIndex::for_each_target

#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
mod cluster;
mod handshake;
#[cfg(any(feature = "postgres", feature = "redis-streams", feature = "redis-sharded"))]
mod heartbeat;
mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod publish_queue;
mod recovery;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "redis-sharded")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-sharded")))]
pub mod redis_sharded;
#[cfg(feature = "redis-streams")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-streams")))]
pub mod redis_streams;
mod rooms;

#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))))]
pub use self::cluster::{RequestError, RequestKind, RequestTimeout};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::{PostgresAdapter, PostgresAdapterConfig, PostgresClients, PostgresStatus};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisAdapter, RedisAdapterConfig, RedisClients, RedisStatus};
#[cfg(feature = "redis-sharded")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-sharded")))]
pub use self::redis_sharded::{
    ShardedRedisAdapter, ShardedRedisAdapterConfig, ShardedRedisClients, ShardedRedisStatus, SubscriptionMode,
};
#[cfg(feature = "redis-streams")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-streams")))]
pub use self::redis_streams::{
    RedisStreamsAdapter, RedisStreamsAdapterConfig, RedisStreamsClients, RedisStreamsStatus,
};
pub use adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastFlags, BroadcastOptions, LocalSocket, NamespaceLink,
    PersistedSession, RestoredSession, RoomEventListener, ServerSideAckError, ServerSideReply, Sid,
    SocketDetails,
};
pub use handshake::{js_date_string, HandshakeFields};
pub use memory::MemoryAdapter;
pub use publish_queue::{DroppedMessages, PublishQueue, QueueLimits};
pub use recovery::{Clock, RecoveryOptions};
pub use rooms::{
    AllRooms, BroadcastTarget, Room, RoomEvent, RoomEventKind, RoomIndex, RoomsOf, Sockets, SocketsIn,
    TargetScratch,
};

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
