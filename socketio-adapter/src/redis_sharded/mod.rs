//! The sharded Redis adapter (feature `redis-sharded`): a cluster adapter for Redis Cluster,
//! wire-compatible with the sharded adapter of Node.js `@socket.io/redis-adapter` 8.3
//! (`createShardedAdapter`), which uses the sharded pub/sub of Redis 7 (`SPUBLISH`,
//! `SSUBSCRIBE`).
//!
//! Classic pub/sub sends every message to every node of a Redis Cluster, so one Redis is the
//! ceiling however many masters there are. A sharded channel lives on the master that serves
//! its hash slot: each namespace's traffic goes through one master (and, with the `dynamic`
//! subscription modes, each room's broadcasts through the master of that room's channel), so
//! adding masters adds capacity.
//!
//! # Use
//!
//! One [`ShardedRedisClients`] per process, made from one or more cluster nodes (it reads the
//! slot map from the first that answers), serves every namespace:
//!
//! ```no_run
//! use socketio_adapter::redis_sharded::{ShardedRedisAdapterConfig, ShardedRedisClients, SubscriptionMode};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ShardedRedisAdapterConfig::default().with_subscription_mode(SubscriptionMode::Dynamic);
//! let redis = ShardedRedisClients::connect(&["redis://127.0.0.1:7000/", "redis://127.0.0.1:7001/"], config).await?;
//! // With socketio-server: `SocketIo::builder(config).adapter(redis.factory()).build()`.
//! # let _ = redis;
//! # Ok(()) }
//! ```
//!
//! Our nodes and Node.js nodes using `createShardedAdapter` share one cluster: broadcasts
//! (rooms, `except`, flags, binary data), `fetch_sockets`, `sockets_join` / `sockets_leave`,
//! `disconnect_sockets`, server-side events with and without acks, broadcasts with acks and the
//! server count reach every node in both directions.
//!
//! # What travels where
//!
//! The messages are those of `socket.io-adapter`'s `ClusterAdapter` (`{type, data, uid, nsp}`,
//! JSON, or msgpack when they carry binary data); see `wire.rs` for the channels. There are no
//! heartbeats: the server count is the number of subscribers of the namespace's channel
//! (`PUBSUB SHARDNUMSUB` on its master), and a request (`fetch_sockets`, a server-side event
//! with acks) waits for that many answers minus one, at most
//! [`requests_timeout`](ShardedRedisAdapterConfig::requests_timeout) (or the broadcast's own
//! `timeout`). Answers go to the requester's own channel. When some do not come, the trait
//! methods fail with [`AdapterError::Timeout`]; the inherent methods
//! ([`ShardedRedisAdapter::fetch_sockets_partial`], ...) also give what did arrive.
//!
//! # Failures
//!
//! Delivery to this node's sockets never waits on Redis. When a master goes away (killed, or
//! replaced by a replica in a failover), the publisher and the subscriber read the slot map
//! again with exponential backoff ([`reconnect_delay`](ShardedRedisAdapterConfig::reconnect_delay)
//! up to [`max_reconnect_delay`](ShardedRedisAdapterConfig::max_reconnect_delay)) and every
//! channel that lost its place is subscribed on the master that serves it now;
//! [`ShardedRedisClients::status`] tells where it stands. Meanwhile:
//!
//! * what this node publishes without waiting for an answer (broadcasts, joins, leaves,
//!   disconnects, answers to other nodes) waits in a bounded [`PublishQueue`](crate::PublishQueue)
//!   (limits in [`publish_queue`](ShardedRedisAdapterConfig::publish_queue)) and is published,
//!   in order and before anything published later, once the cluster serves the slot again.
//!   What a limit drops (the oldest first) is logged at `warn` and counted:
//!   [`ShardedRedisClients::dropped_publishes`];
//! * what waits for answers or for its own publication (`fetch_sockets`, server-side events,
//!   the server count) is not queued: it fails at once with [`AdapterError::Transport`]. A
//!   broadcast with acks then reaches this node's clients only (logged at `warn`).
//!
//! Sharded pub/sub delivers at most once: a message published before a node subscribes again
//! on the new master is not delivered to that node. A message that cannot be read is ignored,
//! as the reference ignores it; nothing from Redis makes this code panic.
//!
//! # What it does not do
//!
//! * Connection state recovery (the reference does not either): `next_offset` stays `None`.
//! * TLS or Unix sockets to the cluster: nodes are reached over plain TCP.
//! * Reading from replicas: every subscription is made on a master, as the reference's `redis`
//!   4 cluster client makes them.
//! * Two adapters of one namespace sharing one [`ShardedRedisClients`] count as one server
//!   (Redis counts subscribed connections, as it does for the reference's shared `subClient`).

mod driver;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use socketio_parser::{Packet, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use driver::ShardedRedisStatus;
pub use wire::SubscriptionMode;

use crate::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, NamespaceLink, RoomEventListener,
    ServerSideAckError, ServerSideReply, SocketDetails,
};
use crate::cluster::{packet_data, RequestError, RequestKind, RequestTimeout};
use crate::heartbeat::{
    answer_data, broadcast_data, client_count_data, disconnect_data, fetch_response_data, kind, random_id,
    rooms_data, server_side_emit_data, Body, Collected,
};
use crate::memory::MemoryAdapter;
use crate::publish_queue::QueueLimits;
use crate::rooms::{Room, RoomEventKind};
use driver::{Cluster, Hub, Inbox, Settings};

/// The options of the sharded Redis adapter, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardedRedisAdapterConfig {
    /// The prefix of every channel (`channelPrefix`): `socket.io`.
    pub channel_prefix: String,
    /// Which rooms get a channel of their own (`subscriptionMode`): `dynamic`.
    pub subscription_mode: SubscriptionMode,
    /// How long a request waits for the other nodes' answers: 5 s, the reference's fixed
    /// `DEFAULT_TIMEOUT`.
    pub requests_timeout: Duration,
    /// The first delay before trying a lost master or slot again: 100 ms, doubled after each
    /// failed attempt.
    pub reconnect_delay: Duration,
    /// The longest delay between two attempts: 5 s.
    pub max_reconnect_delay: Duration,
    /// How long one connection attempt may take: 5 s.
    pub connection_timeout: Duration,
    /// How long a node may take to answer a command before it is taken as unreachable: 5 s.
    pub response_timeout: Duration,
    /// The bounds of what is kept for the cluster while a master cannot be reached (see the
    /// [module docs](crate::redis_sharded#failures)): 10 000 messages, 16 MiB, 30 s.
    pub publish_queue: QueueLimits,
}

impl Default for ShardedRedisAdapterConfig {
    fn default() -> Self {
        ShardedRedisAdapterConfig {
            channel_prefix: "socket.io".to_owned(),
            subscription_mode: SubscriptionMode::Dynamic,
            requests_timeout: Duration::from_secs(5),
            reconnect_delay: Duration::from_millis(100),
            max_reconnect_delay: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            publish_queue: QueueLimits::default(),
        }
    }
}

impl ShardedRedisAdapterConfig {
    /// Sets [`channel_prefix`](Self::channel_prefix).
    #[must_use]
    pub fn with_channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets [`subscription_mode`](Self::subscription_mode).
    #[must_use]
    pub fn with_subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.subscription_mode = mode;
        self
    }

    /// Sets [`requests_timeout`](Self::requests_timeout).
    #[must_use]
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Sets [`reconnect_delay`](Self::reconnect_delay) and
    /// [`max_reconnect_delay`](Self::max_reconnect_delay).
    #[must_use]
    pub fn with_reconnect_delays(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_delay = first;
        self.max_reconnect_delay = max.max(first);
        self
    }

    /// Sets [`connection_timeout`](Self::connection_timeout) and
    /// [`response_timeout`](Self::response_timeout).
    #[must_use]
    pub fn with_timeouts(mut self, connection: Duration, response: Duration) -> Self {
        self.connection_timeout = connection;
        self.response_timeout = response;
        self
    }

    /// Sets [`publish_queue`](Self::publish_queue).
    #[must_use]
    pub fn with_publish_queue(mut self, limits: QueueLimits) -> Self {
        self.publish_queue = limits;
        self
    }
}

/// The connections to a Redis Cluster one node's adapters share. Cloning is cheap; the
/// connections close when the last clone and the last adapter are dropped, or at
/// [`shutdown`](Self::shutdown).
#[derive(Clone, Debug)]
pub struct ShardedRedisClients {
    hub: Arc<Hub>,
    config: Arc<ShardedRedisAdapterConfig>,
}

impl ShardedRedisClients {
    /// Connects to the cluster that `nodes` belong to (`redis://[user:password@]host:port/`;
    /// one is enough, more are tried in turn). Fails if none of them answers with a complete
    /// slot map now; later losses are repaired.
    pub async fn connect(
        nodes: &[&str],
        config: ShardedRedisAdapterConfig,
    ) -> Result<Self, ::redis::RedisError> {
        let seeds = nodes
            .iter()
            .map(|url| ::redis::IntoConnectionInfo::into_connection_info(*url))
            .collect::<Result<Vec<_>, _>>()?;
        Self::with_nodes(seeds, config).await
    }

    /// Connects with `redis` crate connection infos (credentials included).
    pub async fn with_nodes(
        nodes: Vec<::redis::ConnectionInfo>,
        config: ShardedRedisAdapterConfig,
    ) -> Result<Self, ::redis::RedisError> {
        let settings = Settings {
            reconnect_delay: config.reconnect_delay,
            max_reconnect_delay: config.max_reconnect_delay,
            connection_timeout: config.connection_timeout,
            response_timeout: config.response_timeout,
            queue: config.publish_queue,
        };
        let hub = Hub::start(Cluster::new(nodes, settings)?).await?;
        Ok(ShardedRedisClients { hub: Arc::new(hub), config: Arc::new(config) })
    }

    /// The options.
    pub fn config(&self) -> &ShardedRedisAdapterConfig {
        &self.config
    }

    /// A new adapter for namespace `nsp`. It subscribes when the server calls
    /// [`Adapter::init`].
    pub fn adapter<S: LocalSocket>(&self, nsp: &str) -> Arc<ShardedRedisAdapter<S>> {
        let uid = random_id();
        let channel = wire::channel(&self.config.channel_prefix, nsp);
        let inner = Arc::new(Inner {
            local: MemoryAdapter::new(),
            nsp: nsp.to_owned(),
            response_channel: wire::response_channel(&channel, &uid),
            channel,
            uid,
            config: self.config.clone(),
            hub: self.hub.clone(),
            link: OnceLock::new(),
            route: AtomicU64::new(0),
            subscribed: Mutex::new(None),
            rooms: Mutex::new(HashSet::new()),
            requests: Mutex::new(HashMap::new()),
            acks: Mutex::new(HashMap::new()),
        });
        Arc::new(ShardedRedisAdapter { inner })
    }

    /// What the server takes to create each namespace's adapter (socketio-server's
    /// `Builder::adapter`).
    pub fn factory<S: LocalSocket>(
        &self,
    ) -> impl Fn(&ByteString) -> Arc<dyn Adapter<S>> + Send + Sync + 'static {
        let clients = self.clone();
        move |nsp: &ByteString| clients.adapter::<S>(nsp) as Arc<dyn Adapter<S>>
    }

    /// Where the subscriptions stand.
    pub fn status(&self) -> ShardedRedisStatus {
        self.hub.status()
    }

    /// Waits until every channel of every adapter is subscribed on its master.
    pub async fn subscribed(&self) {
        self.hub.wait_subscribed().await;
    }

    /// The masters of the slot map as last read (`host:port`).
    pub fn masters(&self) -> Vec<String> {
        self.hub.masters()
    }

    /// How many messages this node could not publish and dropped: a master could not be
    /// reached and a limit of [`publish_queue`](ShardedRedisAdapterConfig::publish_queue) was
    /// reached. Every namespace's adapter publishes through these clients, so this counts them
    /// all.
    pub fn dropped_publishes(&self) -> u64 {
        self.hub.dropped_publishes()
    }

    /// How many messages wait for the cluster (0 while every slot is served).
    pub fn queued_publishes(&self) -> u64 {
        self.hub.queued_publishes()
    }

    /// Closes the connections and stops their tasks. The adapters keep serving this node's
    /// sockets; everything that needs Redis fails from now on.
    pub fn shutdown(&self) {
        self.hub.shutdown();
    }
}

/// A request of this node, waiting for a number of answers (the server count minus one).
struct Waiting {
    kind: RequestKind,
    expected: usize,
    received: usize,
    collected: Collected,
    done: Option<oneshot::Sender<()>>,
}

impl Waiting {
    fn answered(&mut self) {
        self.received += 1;
        if self.received >= self.expected {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }

    fn finish(self) -> Result<Collected, RequestError<Collected>> {
        if self.received >= self.expected {
            return Ok(self.collected);
        }
        Err(RequestError::Timeout(RequestTimeout {
            kind: self.kind,
            received: self.received,
            expected: self.expected,
            partial: self.collected,
        }))
    }
}

/// A broadcast with acks of this node, waiting for the other nodes' client counts and acks.
struct AckRequest<S: LocalSocket> {
    sink: S::AckSink,
    counts: mpsc::UnboundedSender<usize>,
}

/// The adapter of one namespace on a Redis Cluster (see the [module docs](self)).
pub struct ShardedRedisAdapter<S: LocalSocket> {
    inner: Arc<Inner<S>>,
}

impl<S: LocalSocket> std::fmt::Debug for ShardedRedisAdapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedRedisAdapter")
            .field("nsp", &self.inner.nsp)
            .field("uid", &self.inner.uid)
            .field("local", &self.inner.local)
            .finish_non_exhaustive()
    }
}

struct Inner<S: LocalSocket> {
    local: MemoryAdapter<S>,
    nsp: String,
    uid: String,
    channel: String,
    response_channel: String,
    config: Arc<ShardedRedisAdapterConfig>,
    hub: Arc<Hub>,
    link: OnceLock<Arc<dyn NamespaceLink<S>>>,
    /// The hub's route to this adapter, 0 before `init` and after `close`.
    route: AtomicU64,
    /// Fires when the first subscriptions are in place.
    subscribed: Mutex<Option<oneshot::Receiver<()>>>,
    /// The rooms whose channel this adapter subscribed to.
    rooms: Mutex<HashSet<Room>>,
    requests: Mutex<HashMap<String, Waiting>>,
    acks: Mutex<HashMap<String, AckRequest<S>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: LocalSocket> Drop for Inner<S> {
    fn drop(&mut self) {
        let route = self.route.swap(0, Ordering::Relaxed);
        if route != 0 {
            drop(self.hub.unsubscribe(route));
        }
    }
}

/// Removes a request from the table when its waiter stops waiting, however it stops.
struct Forget<'a, S: LocalSocket> {
    inner: &'a Inner<S>,
    id: &'a str,
}

impl<S: LocalSocket> Drop for Forget<'_, S> {
    fn drop(&mut self) {
        lock(&self.inner.requests).remove(self.id);
    }
}

impl<S: LocalSocket> ShardedRedisAdapter<S> {
    /// This adapter's id in the cluster (16 hex digits, as Node.js nodes make theirs).
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.nsp
    }

    /// The rooms of this node that have a channel subscribed (the `dynamic` modes).
    pub fn room_channels(&self) -> Vec<Room> {
        let mut rooms: Vec<Room> = lock(&self.inner.rooms).iter().cloned().collect();
        rooms.sort();
        rooms
    }

    /// Waits until this adapter's channels are subscribed (from [`Adapter::init`] on).
    pub async fn ready(&self) {
        let subscribed = lock(&self.inner.subscribed).take();
        if let Some(subscribed) = subscribed {
            let _ = subscribed.await;
        }
    }

    crate::heartbeat::partial_requests!();
}

impl<S: LocalSocket> Inner<S> {
    fn link(&self) -> Option<&Arc<dyn NamespaceLink<S>>> {
        self.link.get()
    }

    fn encode(&self, message_kind: u8, data: Option<Value>) -> Option<Bytes> {
        match wire::encode(message_kind, data, &self.uid, &self.nsp) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(error = %e, nsp = %self.nsp, "sharded redis adapter: a message could not be encoded");
                None
            }
        }
    }

    /// Publishes a message on the namespace's channel (or a broadcast's room channel).
    fn publish_on(&self, channel: String, message_kind: u8, data: Option<Value>) {
        if let Some(bytes) = self.encode(message_kind, data) {
            self.hub.publish(channel, bytes);
        }
    }

    fn publish(&self, message_kind: u8, data: Option<Value>) {
        self.publish_on(self.channel.clone(), message_kind, data);
    }

    /// Publishes an answer on the channel of node `requester`.
    fn publish_response(&self, requester: &str, message_kind: u8, data: Value) {
        self.publish_on(wire::response_channel(&self.channel, requester), message_kind, Some(data));
    }

    /// The number of nodes subscribed to the namespace's channel.
    async fn server_count(&self) -> Result<usize, AdapterError> {
        let answer = self.hub.numsub(self.channel.clone());
        match tokio::time::timeout(self.config.requests_timeout, answer).await {
            Ok(Ok(Ok(count))) => Ok(count),
            Ok(Ok(Err(reason))) => Err(AdapterError::Transport(reason)),
            Ok(Err(_)) => Err(AdapterError::Transport("the adapter's connections are closed".to_owned())),
            Err(_) => Err(AdapterError::Transport("Redis did not answer in time".to_owned())),
        }
    }

    /// Publishes request `id` and waits, until `timeout`, for as many answers as there are
    /// other nodes.
    async fn request(
        &self,
        request_kind: RequestKind,
        id: &str,
        local: Collected,
        message_kind: u8,
        data: Value,
        timeout: Duration,
    ) -> Result<Collected, RequestError<Collected>> {
        let deadline = Instant::now() + timeout;
        let servers = self.server_count().await.map_err(|e| RequestError::Transport(e.to_string()))?;
        let expected = servers.saturating_sub(1);
        if expected == 0 {
            return Ok(local);
        }
        let message = self
            .encode(message_kind, Some(data))
            .ok_or_else(|| RequestError::Transport("the request could not be encoded".to_owned()))?;
        let (done, signal) = oneshot::channel();
        let waiting =
            Waiting { kind: request_kind, expected, received: 0, collected: local, done: Some(done) };
        lock(&self.requests).insert(id.to_owned(), waiting);
        let _forget = Forget { inner: self, id };
        let published = self.hub.publish_confirmed(self.channel.clone(), message);
        match tokio::time::timeout_at(deadline, published).await {
            Ok(Ok(Err(reason))) => return Err(RequestError::Transport(reason)),
            Ok(Err(_)) => {
                return Err(RequestError::Transport("the adapter's connections are closed".to_owned()))
            }
            _ => {}
        }
        let _ = tokio::time::timeout_at(deadline, signal).await;
        // Taken out in a statement of its own: the guard of a `match` scrutinee in tail
        // position would outlive `_forget`, whose drop locks the table again (a deadlock).
        let waiting = lock(&self.requests).remove(id);
        match waiting {
            Some(waiting) => waiting.finish(),
            None => Err(RequestError::Transport("the adapter was closed".to_owned())),
        }
    }

    /// Another node's broadcast with acks: delivered here with an ack id of this namespace,
    /// then this node's client count and each client's ack are published for the requester.
    fn broadcast_for_acks(&self, requester: &str, request_id: &str, data: &Value, opts: &BroadcastOptions) {
        let Some(link) = self.link() else { return };
        let Some(encoded) = link.encode_event(data, Some(link.next_ack_id())) else { return };
        let id = request_id.to_owned();
        let hub = self.hub.clone();
        let (uid, nsp) = (self.uid.clone(), self.nsp.clone());
        let channel = wire::response_channel(&self.channel, requester);
        let sink = link.ack_sink(Box::new(move |answer: Value| {
            match wire::encode(kind::BROADCAST_ACK, Some(answer_data(&id, answer)), &uid, &nsp) {
                Ok(bytes) => hub.publish(channel.clone(), bytes),
                Err(e) => tracing::warn!(error = %e, "sharded redis adapter: an ack could not be encoded"),
            }
        }));
        let mut count = 0;
        for socket in self.local.local_sockets(opts) {
            if socket.send(&encoded, &opts.flags, Some(&sink)) {
                count += 1;
            }
        }
        self.publish_response(requester, kind::BROADCAST_CLIENT_COUNT, client_count_data(request_id, count));
    }

    fn on_answer(&self, request_id: &str, add: impl FnOnce(&mut Collected)) {
        let mut requests = lock(&self.requests);
        let Some(waiting) = requests.get_mut(request_id) else { return };
        add(&mut waiting.collected);
        waiting.answered();
    }

    /// An answer to one of this node's requests (on its own channel).
    fn on_response(&self, body: Body) {
        match body {
            Body::FetchResponse { request_id, sockets } => self.on_answer(&request_id, |c| {
                if let Collected::Sockets(all) = c {
                    all.extend(sockets);
                }
            }),
            Body::ServerSideEmitResponse { request_id, answer } => self.on_answer(&request_id, |c| {
                if let Collected::Answers(all) = c {
                    all.push(answer);
                }
            }),
            Body::ClientCount { request_id, count } => {
                if let Some(ack) = lock(&self.acks).get(&request_id) {
                    let _ = ack.counts.send(count);
                }
            }
            Body::BroadcastAck { request_id, answer } => {
                let sink = lock(&self.acks).get(&request_id).map(|a| a.sink.clone());
                if let (Some(sink), Some(link)) = (sink, self.link()) {
                    link.forward_ack(&sink, answer);
                }
            }
            _ => {}
        }
    }

    /// A message of another node on the namespace's channel or a room's channel.
    fn on_request(&self, uid: &str, body: Body) {
        match body {
            Body::Broadcast { request_id: Some(request_id), data, opts } => {
                self.broadcast_for_acks(uid, &request_id, &data, &opts);
            }
            Body::Broadcast { request_id: None, data, opts } => {
                let Some(link) = self.link() else { return };
                let Some(encoded) = link.encode_event(&data, None) else { return };
                for socket in self.local.local_sockets(&opts) {
                    socket.send(&encoded, &opts.flags, None);
                }
            }
            Body::Join { opts, rooms } => self.local.add_sockets(&opts, &rooms),
            Body::Leave { opts, rooms } => self.local.del_sockets(&opts, &rooms),
            Body::Disconnect { opts, close } => self.local.disconnect_sockets(&opts, close),
            Body::Fetch { request_id, opts } => {
                let sockets = self.local.details(&opts);
                self.publish_response(
                    uid,
                    kind::FETCH_SOCKETS_RESPONSE,
                    fetch_response_data(&request_id, &sockets),
                );
            }
            Body::ServerSideEmit { request_id, args } => {
                let Some(link) = self.link() else { return };
                let reply = request_id.map(|id| {
                    let hub = self.hub.clone();
                    let (me, nsp) = (self.uid.clone(), self.nsp.clone());
                    let channel = wire::response_channel(&self.channel, uid);
                    Box::new(move |answer: serde_json::Value| {
                        let data = answer_data(&id, Value::from(answer));
                        match wire::encode(kind::SERVER_SIDE_EMIT_RESPONSE, Some(data), &me, &nsp) {
                            Ok(bytes) => hub.publish(channel, bytes),
                            Err(e) => {
                                tracing::warn!(error = %e, "sharded redis adapter: an answer could not be encoded")
                            }
                        }
                    }) as ServerSideReply
                });
                link.server_side_event(args, reply);
            }
            // Answers are expected on this node's own channel; the reference takes them from
            // the namespace's channel too.
            body @ (Body::FetchResponse { .. }
            | Body::ServerSideEmitResponse { .. }
            | Body::ClientCount { .. }
            | Body::BroadcastAck { .. }) => self.on_response(body),
            Body::InitialHeartbeat | Body::Heartbeat | Body::AdapterClose | Body::Unknown(_) => {}
        }
    }

    /// A room of this node was created or deleted: its channel is subscribed or dropped as the
    /// subscription mode says.
    fn on_room(self: &Arc<Self>, kind: RoomEventKind, room: &Room) {
        let route = self.route.load(Ordering::Relaxed);
        if route == 0 {
            return;
        }
        match kind {
            RoomEventKind::CreateRoom => {
                let private = self.local.socket_rooms(room).is_some();
                if self.config.subscription_mode.subscribes_to(private)
                    && lock(&self.rooms).insert(room.clone())
                {
                    let weak: Weak<Self> = Arc::downgrade(self);
                    self.hub.add_channel(route, wire::room_channel(&self.channel, room), weak);
                }
            }
            RoomEventKind::DeleteRoom => {
                if lock(&self.rooms).remove(room) {
                    self.hub.remove_channel(route, wire::room_channel(&self.channel, room));
                }
            }
            RoomEventKind::JoinRoom | RoomEventKind::LeaveRoom => {}
        }
    }
}

impl<S: LocalSocket> Inbox for Inner<S> {
    fn on_message(&self, channel: &str, payload: &[u8]) {
        let message = match wire::decode(payload) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(error = %e, channel, "sharded redis adapter: ignoring a message that cannot be read");
                return;
            }
        };
        if channel == self.response_channel {
            self.on_response(message.body);
            return;
        }
        let Some(uid) = message.uid else { return };
        if uid == self.uid || message.nsp.as_deref() != Some(self.nsp.as_str()) {
            return;
        }
        self.on_request(&uid, message.body);
    }
}

impl<S: LocalSocket> Adapter<S> for ShardedRedisAdapter<S> {
    fn init(&self, link: Arc<dyn NamespaceLink<S>>) {
        let inner = &self.inner;
        if inner.link.set(link).is_err() {
            return;
        }
        let route = inner.hub.next_route();
        inner.route.store(route, Ordering::Relaxed);
        let weak: Weak<Inner<S>> = Arc::downgrade(inner);
        let inbox: Weak<dyn Inbox> = weak.clone();
        let subscribed =
            inner.hub.subscribe(route, vec![inner.channel.clone(), inner.response_channel.clone()], inbox);
        *lock(&inner.subscribed) = Some(subscribed);
        if inner.config.subscription_mode != SubscriptionMode::Static {
            let listener: RoomEventListener = Arc::new(move |event| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_room(event.kind, &event.room);
                }
            });
            inner.local.on_room_event(listener);
        }
    }

    crate::adapter::delegate_to_local!(inner.local);

    fn broadcast(&self, packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions) {
        let inner = &self.inner;
        if !opts.flags.local {
            match packet_data(packet) {
                Ok(data) => {
                    let data = data.unwrap_or_else(|| Value::Array(Vec::new()));
                    let channel = match wire::dynamic_room(inner.config.subscription_mode, opts) {
                        Some(room) => wire::room_channel(&inner.channel, room),
                        None => inner.channel.clone(),
                    };
                    inner.publish_on(channel, kind::BROADCAST, Some(broadcast_data(data, None, opts)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "sharded redis adapter: a broadcast could not be encoded")
                }
            }
        }
        inner.local.broadcast(packet, encoded, opts);
    }

    fn broadcast_with_ack<'a>(
        &'a self,
        packet: &'a Packet,
        encoded: &'a S::Encoded,
        opts: &'a BroadcastOptions,
        acks: S::AckSink,
    ) -> BoxFuture<'a, Result<usize, AdapterError>> {
        let inner = &self.inner;
        if opts.flags.local {
            return inner.local.broadcast_with_ack(packet, encoded, opts, acks);
        }
        Box::pin(async move {
            let wait = opts.flags.timeout.unwrap_or(inner.config.requests_timeout);
            let deadline = Instant::now() + wait;
            let id = random_id();
            let (counts_tx, mut counts) = mpsc::unbounded_channel();
            // A broadcast with acks always goes through the namespace's channel, since every
            // node subscribed to it answers with its client count.
            let others = match inner.server_count().await {
                Ok(servers) => servers.saturating_sub(1),
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "sharded redis adapter: broadcast with acks reached this node only");
                    0
                }
            };
            let published = match packet_data(packet) {
                Ok(data) if others > 0 => {
                    lock(&inner.acks)
                        .insert(id.clone(), AckRequest { sink: acks.clone(), counts: counts_tx });
                    // The other nodes' acks are forwarded until the broadcast's timeout, as the
                    // reference keeps its ack request that long.
                    let weak = Arc::downgrade(inner);
                    let forget = id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(deadline).await;
                        if let Some(inner) = weak.upgrade() {
                            lock(&inner.acks).remove(&forget);
                        }
                    });
                    let data = data.unwrap_or_else(|| Value::Array(Vec::new()));
                    inner
                        .encode(kind::BROADCAST, Some(broadcast_data(data, Some(&id), opts)))
                        .map(|bytes| inner.hub.publish_confirmed(inner.channel.clone(), bytes))
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "sharded redis adapter: a broadcast with acks could not be encoded");
                    None
                }
            };
            let local = inner.local.broadcast_with_ack(packet, encoded, opts, acks).await?;
            let Some(published) = published else { return Ok(local) };
            if !matches!(tokio::time::timeout_at(deadline, published).await, Ok(Ok(Ok(())))) {
                tracing::warn!(nsp = %inner.nsp, "sharded redis adapter: broadcast with acks reached this node only");
                lock(&inner.acks).remove(&id);
                return Ok(local);
            }
            crate::cluster::sum_client_counts(&mut counts, local, others, deadline).await
        })
    }

    fn fetch_sockets<'a>(
        &'a self,
        opts: &'a BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<SocketDetails>, AdapterError>> {
        Box::pin(async move { self.fetch_sockets_partial(opts).await.map_err(AdapterError::from) })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.inner.publish(kind::SOCKETS_JOIN, Some(rooms_data(opts, rooms)));
        }
        self.inner.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.inner.publish(kind::SOCKETS_LEAVE, Some(rooms_data(opts, rooms)));
        }
        self.inner.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            self.inner.publish(kind::DISCONNECT_SOCKETS, Some(disconnect_data(opts, close)));
        }
        self.inner.local.disconnect_sockets(opts, close);
    }

    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move {
            let inner = &self.inner;
            if !args.is_array() {
                return Err(AdapterError::Unsupported("server-side event arguments must be an array"));
            }
            let bytes = inner
                .encode(kind::SERVER_SIDE_EMIT, Some(server_side_emit_data(None, &args)))
                .ok_or_else(|| AdapterError::Transport("the event could not be encoded".to_owned()))?;
            let published = inner.hub.publish_confirmed(inner.channel.clone(), bytes);
            match tokio::time::timeout(inner.config.requests_timeout, published).await {
                Ok(Ok(Ok(()))) => Ok(inner.server_count().await?.saturating_sub(1)),
                Ok(Ok(Err(reason))) => Err(AdapterError::Transport(reason)),
                _ => Err(AdapterError::Transport("the event was not published".to_owned())),
            }
        })
    }

    fn server_side_emit_with_ack(
        &self,
        args: serde_json::Value,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ServerSideAckError>> {
        Box::pin(async move {
            if !args.is_array() {
                return Err(AdapterError::Unsupported("server-side event arguments must be an array").into());
            }
            self.server_side_emit_with_ack_partial(args, timeout).await.map_err(|e| match e {
                RequestError::Timeout(t) => {
                    ServerSideAckError::Timeout { responses: t.partial, expected: t.expected }
                }
                RequestError::Transport(reason) => AdapterError::Transport(reason).into(),
            })
        })
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(self.inner.server_count())
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            let route = inner.route.swap(0, Ordering::Relaxed);
            if route != 0 {
                let gone = inner.hub.unsubscribe(route);
                let _ = tokio::time::timeout(inner.config.requests_timeout, gone).await;
            }
            lock(&inner.rooms).clear();
            lock(&inner.requests).clear();
            lock(&inner.acks).clear();
            inner.local.close().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_ends_with_as_many_answers_as_other_nodes() {
        let (done, mut signal) = oneshot::channel();
        let mut waiting = Waiting {
            kind: RequestKind::FetchSockets,
            expected: 2,
            received: 0,
            collected: Collected::Sockets(Vec::new()),
            done: Some(done),
        };
        waiting.answered();
        assert!(signal.try_recv().is_err());
        waiting.answered();
        assert!(signal.try_recv().is_ok());
        assert!(waiting.finish().is_ok());
        let partial = Waiting {
            kind: RequestKind::ServerSideEmit,
            expected: 3,
            received: 1,
            collected: Collected::Answers(vec![serde_json::json!("a")]),
            done: None,
        };
        let Err(RequestError::Timeout(t)) = partial.finish() else { panic!("a timeout") };
        assert_eq!((t.received, t.expected), (1, 3));
        assert_eq!(t.to_string(), "timeout reached: only 1 responses received out of 3");
    }

    #[test]
    fn defaults_are_the_reference_options() {
        let config = ShardedRedisAdapterConfig::default();
        assert_eq!(config.channel_prefix, "socket.io");
        assert_eq!(config.subscription_mode, SubscriptionMode::Dynamic);
        assert_eq!(config.requests_timeout, Duration::from_secs(5));
        let config = config
            .with_channel_prefix("p")
            .with_subscription_mode(SubscriptionMode::Static)
            .with_reconnect_delays(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(
            (config.channel_prefix.as_str(), config.subscription_mode),
            ("p", SubscriptionMode::Static)
        );
        assert_eq!(config.max_reconnect_delay, Duration::from_secs(2));
    }
}
