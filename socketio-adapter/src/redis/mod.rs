//! The Redis adapter (feature `redis`): a cluster adapter wire-compatible with Node.js
//! `@socket.io/redis-adapter` 8.3 in its classic pub/sub form (`createAdapter(pub, sub)`), and
//! driven by `@socket.io/redis-emitter` 5.1 as the Node.js adapter is.
//!
//! Our nodes and Node.js nodes can share one Redis and one cluster: broadcasts (rooms, `except`,
//! flags, binary data), `fetch_sockets`, `sockets_join` / `sockets_leave`,
//! `disconnect_sockets`, server-side events with and without acks, broadcasts with acks and the
//! server count reach every node in both directions, in the reference's encodings (see
//! `wire.rs`).
//!
//! # Use
//!
//! One [`RedisClients`] per process holds the two Redis connections every namespace shares (one
//! publishes, one subscribes), like the reference's `pubClient` and `subClient`. Its
//! [`factory`](RedisClients::factory) creates each namespace's [`RedisAdapter`]:
//!
//! ```no_run
//! use socketio_adapter::{RedisAdapterConfig, RedisClients};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisClients::connect("redis://127.0.0.1:6379/", RedisAdapterConfig::default()).await?;
//! // With socketio-server: `SocketIo::builder(config).adapter(redis.factory()).build()`.
//! # let _ = redis;
//! # Ok(()) }
//! ```
//!
//! Each adapter keeps this node's sockets and rooms in a [`MemoryAdapter`] and delivers to
//! them itself; what it adds is the remote half:
//!
//! 1. every operation that changes or reaches sockets (broadcast, join, leave, disconnect) is
//!    published first, then applied to this node's sockets, unless its options say `local`;
//! 2. every operation that collects answers (`fetch_sockets`, `all_rooms`, server-side events
//!    with acks, the client counts of broadcasts with acks) counts the subscribers of the
//!    namespace's request channel (`PUBSUB NUMSUB`) and waits, at most
//!    [`requests_timeout`](RedisAdapterConfig::requests_timeout), for that many answers. When
//!    some do not come, the trait methods fail with [`AdapterError::Timeout`]; the inherent
//!    methods ([`RedisAdapter::fetch_sockets_partial`], ...) also give what did arrive;
//! 3. requests from the other nodes are answered exactly as the reference answers them.
//!
//! # Failures
//!
//! When Redis goes away, this node's own sockets are still served: local delivery never waits
//! on Redis. Both connections are re-established with exponential backoff
//! ([`reconnect_delay`](RedisAdapterConfig::reconnect_delay) up to
//! [`max_reconnect_delay`](RedisAdapterConfig::max_reconnect_delay)) and every subscription is
//! made again; [`RedisClients::status`] tells where it stands. Meanwhile:
//!
//! * what this node publishes without waiting for an answer (broadcasts, joins, leaves,
//!   disconnects, answers to other nodes) waits in a bounded [`PublishQueue`](crate::PublishQueue) (limits in
//!   [`publish_queue`](RedisAdapterConfig::publish_queue)) and is published, in order and
//!   before anything published later, once Redis answers again, as a Node.js node's Redis
//!   client replays its offline queue. What a limit drops (the oldest first) is logged at
//!   `warn` with the number and the reason, and counted:
//!   [`RedisAdapter::dropped_publishes`];
//! * what waits for the other nodes' answers (`fetch_sockets`, `all_rooms`, server-side events,
//!   the server count) is not queued: it fails at once with [`AdapterError::Transport`]. A
//!   broadcast with acks reaches this node's clients only (logged at `warn`).
//!
//! A queued message reaches the nodes that are subscribed again when it is published: pub/sub
//! delivers at most once, so a node that comes back later than the publisher misses it. The
//! pipeline in flight when the connection breaks is queued again, so it may be published
//! twice. Nothing here panics on what arrives from Redis: a message that cannot be read is
//! ignored, as the reference ignores it.
//!
//! # What it does not do
//!
//! * Connection state recovery: Redis pub/sub keeps no packets, as the reference says of its
//!   own adapter. [`next_offset`](Adapter::next_offset) stays `None`.
//! * The sharded variant (`createShardedAdapter`, `SPUBLISH`) and the streams adapter, which
//!   speak other protocols, and Redis Cluster (one standalone Redis, or a proxy in front of
//!   one, is expected).

pub(crate) mod driver;
mod requests;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use socketio_parser::{Packet, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::publish_queue::QueueLimits;
pub use driver::RedisStatus;
pub use requests::{RequestError, RequestKind, RequestTimeout};

use crate::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, NamespaceLink, ServerSideAckError,
    ServerSideReply, SocketDetails,
};
use crate::memory::MemoryAdapter;
use crate::rooms::Room;
use driver::{Hub, Inbox, Settings, Subscription};
use requests::{Collected, Pending, Requests};
use wire::{Channels, Request, Target, WireError};

/// The options of the Redis adapter, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisAdapterConfig {
    /// The prefix of every channel (`key` in the reference): `socket.io`.
    pub key: String,
    /// How long a request waits for the other nodes' answers (`requestsTimeout`): 5 s.
    pub requests_timeout: Duration,
    /// Whether this node publishes its answers on the requester's own response channel
    /// instead of the shared one (`publishOnSpecificResponseChannel`): `false`. Every node
    /// listens on both, so nodes may differ.
    pub publish_on_specific_response_channel: bool,
    /// The first delay before reconnecting the subscription connection: 100 ms, doubled after
    /// each failed attempt.
    pub reconnect_delay: Duration,
    /// The longest delay between two reconnection attempts: 5 s.
    pub max_reconnect_delay: Duration,
    /// How long one connection attempt may take: 5 s.
    pub connection_timeout: Duration,
    /// The bounds of what is kept for Redis while it cannot be reached (see the
    /// [module docs](crate::redis#failures)): 10 000 messages, 16 MiB, 30 s.
    /// [`QueueLimits::disabled`] drops it all at once, as plain pub/sub would.
    pub publish_queue: QueueLimits,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        RedisAdapterConfig {
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            reconnect_delay: Duration::from_millis(100),
            max_reconnect_delay: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(5),
            publish_queue: QueueLimits::default(),
        }
    }
}

impl RedisAdapterConfig {
    /// Sets [`key`](Self::key).
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets [`requests_timeout`](Self::requests_timeout).
    #[must_use]
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Sets [`publish_on_specific_response_channel`](Self::publish_on_specific_response_channel).
    #[must_use]
    pub fn with_publish_on_specific_response_channel(mut self, specific: bool) -> Self {
        self.publish_on_specific_response_channel = specific;
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

    /// Sets [`connection_timeout`](Self::connection_timeout).
    #[must_use]
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Sets [`publish_queue`](Self::publish_queue).
    #[must_use]
    pub fn with_publish_queue(mut self, limits: QueueLimits) -> Self {
        self.publish_queue = limits;
        self
    }
}

/// The Redis connections one node's adapters share: one that publishes, one that holds the
/// subscriptions. Cloning is cheap; the connections close when the last clone and the last
/// adapter are dropped, or at [`shutdown`](Self::shutdown).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_adapter::{RedisAdapterConfig, RedisClients};
///
/// let redis = RedisClients::connect("redis://127.0.0.1:6379/", RedisAdapterConfig::default()).await?;
/// // One factory for every namespace of the server:
/// // `SocketIo::builder(config).adapter(redis.factory::<Socket>()).build()`.
/// redis.subscribed().await;
/// println!("Redis: {:?}, {} publishes dropped so far", redis.status(), redis.dropped_publishes());
/// redis.shutdown();
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RedisClients {
    hub: Arc<Hub>,
    config: Arc<RedisAdapterConfig>,
}

impl RedisClients {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`). Fails if it
    /// cannot be reached now; later losses of the connections are repaired.
    pub async fn connect(url: &str, config: RedisAdapterConfig) -> Result<Self, ::redis::RedisError> {
        Self::with_client(::redis::Client::open(url)?, config).await
    }

    /// Connects with a `redis` crate client (TLS, RESP3, credentials: whatever it is
    /// configured for).
    pub async fn with_client(
        client: ::redis::Client,
        config: RedisAdapterConfig,
    ) -> Result<Self, ::redis::RedisError> {
        let settings = Settings {
            reconnect_delay: config.reconnect_delay,
            max_reconnect_delay: config.max_reconnect_delay,
            connection_timeout: config.connection_timeout,
            response_timeout: config.requests_timeout.max(Duration::from_secs(1)),
            queue: config.publish_queue,
        };
        let hub = Hub::start(client, settings).await?;
        Ok(RedisClients { hub: Arc::new(hub), config: Arc::new(config) })
    }

    /// The options.
    pub fn config(&self) -> &RedisAdapterConfig {
        &self.config
    }

    /// A new adapter for namespace `nsp`. It subscribes when the server calls
    /// [`Adapter::init`].
    pub fn adapter<S: LocalSocket>(&self, nsp: &str) -> Arc<RedisAdapter<S>> {
        let uid = uid2(6);
        Arc::new(RedisAdapter {
            inner: Arc::new(Inner {
                local: MemoryAdapter::new(),
                nsp: nsp.to_owned(),
                channels: Channels::new(&self.config.key, nsp, &uid),
                uid,
                config: self.config.clone(),
                hub: self.hub.clone(),
                route: self.hub.next_route(),
                link: OnceLock::new(),
                subscription: AtomicU64::new(0),
                requests: Mutex::new(Requests::default()),
                acks: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// What the server takes to create each namespace's adapter (socketio-server's
    /// `Builder::adapter`).
    pub fn factory<S: LocalSocket>(
        &self,
    ) -> impl Fn(&ByteString) -> Arc<dyn Adapter<S>> + Send + Sync + 'static {
        let clients = self.clone();
        move |nsp: &ByteString| clients.adapter::<S>(nsp) as Arc<dyn Adapter<S>>
    }

    /// Where the subscription connection stands.
    pub fn status(&self) -> RedisStatus {
        self.hub.status()
    }

    /// How many messages this node could not publish and dropped, since it connected: Redis
    /// could not be reached and a limit of [`publish_queue`](RedisAdapterConfig::publish_queue)
    /// was reached. Every namespace's adapter publishes through these clients, so this counts
    /// them all.
    pub fn dropped_publishes(&self) -> u64 {
        self.hub.dropped_publishes()
    }

    /// How many messages wait for Redis to be reachable again (0 while it is).
    pub fn queued_publishes(&self) -> u64 {
        self.hub.queued_publishes()
    }

    /// Waits until the subscription connection is up with every adapter initialised so far
    /// subscribed (after a reconnection too).
    pub async fn subscribed(&self) {
        self.hub.wait_subscribed(0).await;
    }

    /// Closes both connections and stops their tasks. The adapters keep serving this node's
    /// sockets; everything that needs Redis fails from now on.
    pub fn shutdown(&self) {
        self.hub.shutdown();
    }
}

/// 6 characters from `[A-Za-z0-9]`, as `uid2(6)` makes the reference's uids and request ids.
fn uid2(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: the standard library's per-process random hash keys.
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut n = hasher.finish();
        for b in &mut bytes {
            *b = (n & 0xff) as u8;
            n = n.rotate_right(8) ^ 0x9e37_79b9_7f4a_7c15;
        }
    }
    bytes.iter().map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()])).collect()
}

/// The adapter of one namespace on a Redis cluster (see the [module docs](crate::redis)).
pub struct RedisAdapter<S: LocalSocket> {
    inner: Arc<Inner<S>>,
}

impl<S: LocalSocket> std::fmt::Debug for RedisAdapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("nsp", &self.inner.nsp)
            .field("uid", &self.inner.uid)
            .field("local", &self.inner.local)
            .finish_non_exhaustive()
    }
}

/// A broadcast with acks of this node, waiting for the other nodes' client counts and acks.
struct AckRequest<S: LocalSocket> {
    sink: S::AckSink,
    counts: mpsc::UnboundedSender<usize>,
}

struct Inner<S: LocalSocket> {
    local: MemoryAdapter<S>,
    nsp: String,
    uid: String,
    channels: Channels,
    config: Arc<RedisAdapterConfig>,
    hub: Arc<Hub>,
    route: u64,
    link: OnceLock<Arc<dyn NamespaceLink<S>>>,
    /// The sequence number of this adapter's subscription, 0 before `init`.
    subscription: AtomicU64,
    requests: Mutex<Requests>,
    acks: Mutex<HashMap<String, AckRequest<S>>>,
}

impl<S: LocalSocket> Drop for Inner<S> {
    fn drop(&mut self) {
        if self.subscription.load(Ordering::Relaxed) != 0 {
            drop(self.hub.unsubscribe(self.route));
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
        self.inner.requests().take(self.id);
    }
}

impl<S: LocalSocket> RedisAdapter<S> {
    /// This adapter's id in the cluster (6 characters; Node.js nodes make theirs the same way).
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.nsp
    }

    /// How many messages this node dropped because Redis could not be reached for too long
    /// (see [`RedisClients::dropped_publishes`]: the count is shared by every namespace of the
    /// clients this adapter was made from).
    pub fn dropped_publishes(&self) -> u64 {
        self.inner.hub.dropped_publishes()
    }

    /// Waits until this adapter's subscriptions are in place on a live connection (from
    /// [`Adapter::init`] on; after a reconnection, until they are made again). Until then it
    /// hears nothing from the other nodes.
    pub async fn ready(&self) {
        self.inner.hub.wait_subscribed(self.inner.subscription.load(Ordering::Relaxed)).await;
    }

    /// Every room on every node (the reference's `allRooms`), this node's first.
    pub async fn all_rooms(&self) -> Result<Vec<Room>, RequestError<Vec<Room>>> {
        let inner = &self.inner;
        let id = uid2(6);
        let payload = wire::all_rooms_request(&inner.uid, &id);
        let local = Collected::Rooms(inner.local.local_rooms());
        let collected = inner.request(RequestKind::AllRooms, &id, 1, local, payload, |n| n).await;
        collected.map(rooms_of).map_err(|e| e.map(rooms_of))
    }

    /// Like [`Adapter::fetch_sockets`]; on a timeout the error holds the sockets of the nodes
    /// that answered.
    pub async fn fetch_sockets_partial(
        &self,
        opts: &BroadcastOptions,
    ) -> Result<Vec<SocketDetails>, RequestError<Vec<SocketDetails>>> {
        let inner = &self.inner;
        let local =
            inner.local.fetch_sockets(opts).await.map_err(|e| RequestError::Transport(e.to_string()))?;
        if opts.flags.local {
            return Ok(local);
        }
        let id = uid2(6);
        let payload = wire::fetch_request(&inner.uid, &id, opts);
        let collected =
            inner.request(RequestKind::FetchSockets, &id, 1, Collected::Sockets(local), payload, |n| n).await;
        collected.map(sockets_of).map_err(|e| e.map(sockets_of))
    }

    /// Like [`Adapter::server_side_emit_with_ack`]; on a timeout the error holds the answers
    /// that arrived (the reference's `timeout reached: only X responses received out of Y`).
    pub async fn server_side_emit_with_ack_partial(
        &self,
        args: serde_json::Value,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, RequestError<Vec<serde_json::Value>>> {
        let inner = &self.inner;
        if !args.is_array() {
            return Err(RequestError::Transport("server-side event arguments must be an array".to_owned()));
        }
        let id = uid2(6);
        let payload = wire::server_side_emit_request(&inner.uid, Some(&id), &args);
        let collected = inner
            .request_within(
                RequestKind::ServerSideEmit,
                &id,
                0,
                Collected::Answers(Vec::new()),
                payload,
                |n| n.saturating_sub(1),
                timeout,
            )
            .await;
        collected.map(answers_of).map_err(|e| e.map(answers_of))
    }
}

fn rooms_of(collected: Collected) -> Vec<Room> {
    match collected {
        Collected::Rooms(rooms) => rooms,
        _ => Vec::new(),
    }
}

fn sockets_of(collected: Collected) -> Vec<SocketDetails> {
    match collected {
        Collected::Sockets(sockets) => sockets,
        _ => Vec::new(),
    }
}

fn answers_of(collected: Collected) -> Vec<serde_json::Value> {
    match collected {
        Collected::Answers(answers) => answers,
        _ => Vec::new(),
    }
}

impl<S: LocalSocket> Inner<S> {
    fn requests(&self) -> MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acks(&self) -> MutexGuard<'_, HashMap<String, AckRequest<S>>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_own(&self, uid: &Option<String>) -> bool {
        uid.as_deref() == Some(self.uid.as_str())
    }

    /// Publishes a message that is not answered, or logs why it could not be encoded.
    fn publish(&self, channel: String, payload: Result<Bytes, WireError>) {
        match payload {
            Ok(payload) => self.hub.publish(channel, payload),
            Err(e) => {
                tracing::warn!(error = %e, nsp = %self.nsp, "redis adapter: a message could not be encoded")
            }
        }
    }

    /// Publishes this node's answer to a request of `requester`.
    fn respond(&self, requester: Option<&str>, payload: Result<Bytes, WireError>) {
        let channel = self.channels.response_for(requester, self.config.publish_on_specific_response_channel);
        self.publish(channel, payload);
    }

    async fn request(
        &self,
        kind: RequestKind,
        id: &str,
        received: usize,
        local: Collected,
        payload: Result<Bytes, WireError>,
        expected_of: impl FnOnce(usize) -> usize,
    ) -> Result<Collected, RequestError<Collected>> {
        self.request_within(kind, id, received, local, payload, expected_of, self.config.requests_timeout)
            .await
    }

    /// Publishes request `id` and collects the answers until `timeout`. `received` answers are
    /// counted already (this node's own, in `local`); `expected_of` turns the subscriber count
    /// of the request channel into the number of answers expected.
    #[allow(clippy::too_many_arguments)]
    async fn request_within(
        &self,
        kind: RequestKind,
        id: &str,
        received: usize,
        local: Collected,
        payload: Result<Bytes, WireError>,
        expected_of: impl FnOnce(usize) -> usize,
        timeout: Duration,
    ) -> Result<Collected, RequestError<Collected>> {
        let deadline = Instant::now() + timeout;
        let payload = payload.map_err(|e| RequestError::Transport(e.to_string()))?;
        let (pending, done) = Pending::new(kind, received, local);
        self.requests().insert(id.to_owned(), pending);
        let _forget = Forget { inner: self, id };
        // Counted and published in one pipeline, as the reference counts and then publishes.
        let count = self.hub.numsub(&self.channels.request);
        let published = self.hub.publish_counted(&self.channels.request, &payload);
        let count = driver::reply(count, deadline).await.map_err(transport)?;
        let count = driver::numsub_count(&count)
            .ok_or_else(|| RequestError::Transport("unexpected PUBSUB NUMSUB answer".to_owned()))?;
        let expected = expected_of(count);
        if expected > received {
            driver::reply(published, deadline).await.map_err(transport)?;
        }
        self.requests().expect(id, expected);
        let _ = tokio::time::timeout_at(deadline, done).await;
        // Taken in a statement of its own: the lock is released before `_forget` takes it.
        let pending = self.requests().take(id);
        match pending {
            Some(pending) => pending.finish().map_err(RequestError::Timeout),
            None => Err(RequestError::Transport("the adapter was closed".to_owned())),
        }
    }

    fn link(&self) -> Option<&Arc<dyn NamespaceLink<S>>> {
        self.link.get()
    }

    fn on_request(&self, payload: &[u8]) {
        let request = match wire::decode_request(payload) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, nsp = %self.nsp, "redis adapter: ignoring a malformed request");
                return;
            }
        };
        match request {
            Request::Sockets { uid, request_id, rooms } => {
                if self.is_own(&uid) || self.requests().contains(&request_id) {
                    return;
                }
                let sockets = self.local.local_sockets(&BroadcastOptions::to(rooms));
                let ids: Vec<&str> = sockets.iter().map(|s| &**s.id()).collect();
                self.respond(uid.as_deref(), wire::sockets_response(&request_id, &ids));
            }
            Request::AllRooms { uid, request_id } => {
                if self.is_own(&uid) || self.requests().contains(&request_id) {
                    return;
                }
                self.respond(
                    uid.as_deref(),
                    wire::all_rooms_response(&request_id, &self.local.local_rooms()),
                );
            }
            Request::Join { uid, target, rooms } => match target {
                // This node applied its own request when it made it.
                Target::Sockets(opts) if !self.is_own(&uid) => self.local.add_sockets(&opts, &rooms),
                Target::Sockets(_) => {}
                Target::Socket { sid, request_id } => {
                    if self.local.local_socket(&sid).is_some() {
                        self.local.add_all(&sid, &rooms);
                        self.respond(uid.as_deref(), wire::done_response(request_id.as_deref()));
                    }
                }
            },
            Request::Leave { uid, target, rooms } => match target {
                Target::Sockets(opts) if !self.is_own(&uid) => self.local.del_sockets(&opts, &rooms),
                Target::Sockets(_) => {}
                Target::Socket { sid, request_id } => {
                    if self.local.local_socket(&sid).is_some() {
                        for room in &rooms {
                            self.local.del(&sid, room);
                        }
                        self.respond(uid.as_deref(), wire::done_response(request_id.as_deref()));
                    }
                }
            },
            Request::Disconnect { uid, target, close } => match target {
                Target::Sockets(opts) if !self.is_own(&uid) => self.local.disconnect_sockets(&opts, close),
                Target::Sockets(_) => {}
                Target::Socket { sid, request_id } => {
                    if let Some(socket) = self.local.local_socket(&sid) {
                        socket.disconnect(close);
                        self.respond(uid.as_deref(), wire::done_response(request_id.as_deref()));
                    }
                }
            },
            Request::Fetch { uid, request_id, opts } => {
                if self.is_own(&uid) || self.requests().contains(&request_id) {
                    return;
                }
                self.respond(uid.as_deref(), wire::fetch_response(&request_id, &self.local.details(&opts)));
            }
            Request::ServerSideEmit { uid, request_id, data } => {
                if self.is_own(&uid) {
                    return;
                }
                let Some(link) = self.link() else { return };
                let reply = request_id.map(|id| {
                    let hub = self.hub.clone();
                    // The reference answers server-side events on the shared channel, always.
                    let channel = self.channels.response.clone();
                    Box::new(move |answer: serde_json::Value| {
                        match wire::server_side_emit_response(&id, &answer) {
                            Ok(payload) => hub.publish(channel, payload),
                            Err(e) => {
                                tracing::warn!(error = %e, "redis adapter: an answer could not be encoded")
                            }
                        }
                    }) as ServerSideReply
                });
                link.server_side_event(data, reply);
            }
            Request::Broadcast { uid, request_id, nsp: _, data, opts } => {
                if self.is_own(&uid) || self.acks().contains_key(&request_id) {
                    return;
                }
                self.broadcast_for_acks(uid.as_deref(), &request_id, &data, &opts);
            }
        }
    }

    /// Another node's broadcast with acks: delivered here with an ack id of this namespace,
    /// then this node's client count and each client's ack are published for the requester.
    fn broadcast_for_acks(
        &self,
        requester: Option<&str>,
        request_id: &str,
        data: &Value,
        opts: &BroadcastOptions,
    ) {
        let Some(link) = self.link() else { return };
        let Some(encoded) = link.encode_event(data, Some(link.next_ack_id())) else { return };
        let hub = self.hub.clone();
        let channel = self.channels.response_for(requester, self.config.publish_on_specific_response_channel);
        let id = request_id.to_owned();
        let sink =
            link.ack_sink(Box::new(move |answer: Value| match wire::broadcast_ack_response(&id, &answer) {
                Ok(payload) => hub.publish(channel.clone(), payload),
                Err(e) => tracing::warn!(error = %e, "redis adapter: an ack could not be encoded"),
            }));
        let mut count = 0;
        for socket in self.local.local_sockets(opts) {
            if socket.send(&encoded, &opts.flags, Some(&sink)) {
                count += 1;
            }
        }
        self.respond(requester, wire::client_count_response(request_id, count));
    }

    fn on_response(&self, payload: &[u8]) {
        let response = match wire::decode_response(payload) {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, nsp = %self.nsp, "redis adapter: ignoring a malformed response");
                return;
            }
        };
        let Some(id) = response.request_id.clone() else { return };
        let ack = self.acks().get(&id).map(|a| (a.sink.clone(), a.counts.clone()));
        if let Some((sink, counts)) = ack {
            match response.kind {
                Some(wire::kind::BROADCAST_CLIENT_COUNT) => {
                    let _ = counts.send(response.client_count.unwrap_or(0));
                }
                Some(wire::kind::BROADCAST_ACK) => {
                    if let Some(link) = self.link() {
                        link.forward_ack(&sink, response.packet.unwrap_or_default());
                    }
                }
                _ => {}
            }
            return;
        }
        self.requests().on_response(&id, response);
    }
}

fn transport(error: AdapterError) -> RequestError<Collected> {
    match error {
        AdapterError::Transport(reason) => RequestError::Transport(reason),
        other => RequestError::Transport(other.to_string()),
    }
}

impl<S: LocalSocket> Inbox for Inner<S> {
    fn on_broadcast(&self, channel: &str, payload: &[u8]) {
        // As the reference does, a room channel's message is not even decoded when the room has
        // no socket here.
        match self.channels.room_of(channel) {
            None => return,
            Some(room) if !room.is_empty() && !self.local.has_room(room) => return,
            Some(_) => {}
        }
        let Some(link) = self.link() else { return };
        let message = match wire::decode_broadcast(payload) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(error = %e, nsp = %self.nsp, "redis adapter: ignoring a malformed broadcast");
                return;
            }
        };
        if self.is_own(&message.uid) || message.nsp != self.nsp {
            return;
        }
        let Some(encoded) = link.encode_event(&message.data, None) else { return };
        for socket in self.local.local_sockets(&message.opts) {
            socket.send(&encoded, &message.opts.flags, None);
        }
    }

    fn on_message(&self, channel: &str, payload: &[u8]) {
        if channel.starts_with(self.channels.response.as_str()) {
            self.on_response(payload);
        } else if channel == self.channels.request {
            self.on_request(payload);
        }
    }
}

impl<S: LocalSocket> Adapter<S> for RedisAdapter<S> {
    fn init(&self, link: Arc<dyn NamespaceLink<S>>) {
        let inner = &self.inner;
        if inner.link.set(link).is_err() {
            return;
        }
        let weak: Weak<Inner<S>> = Arc::downgrade(inner);
        let inbox: Weak<dyn Inbox> = weak;
        let seq = inner.hub.subscribe(Subscription {
            route: inner.route,
            channels: vec![
                inner.channels.request.clone(),
                inner.channels.response.clone(),
                inner.channels.own_response.clone(),
            ],
            patterns: vec![inner.channels.pattern.clone()],
            inbox,
        });
        inner.subscription.store(seq, Ordering::Relaxed);
    }

    crate::adapter::delegate_to_local!(inner.local);

    fn broadcast(&self, packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions) {
        let inner = &self.inner;
        if !opts.flags.local {
            let payload = wire::packet_data(packet)
                .and_then(|data| wire::broadcast(&inner.uid, packet, data.as_ref(), &inner.nsp, opts));
            inner.publish(inner.channels.broadcast_for(opts), payload);
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
            let id = uid2(6);
            let request = wire::packet_data(packet).and_then(|data| {
                wire::broadcast_request(&inner.uid, &id, packet, data.as_ref(), &inner.nsp, opts)
            });
            let (counts_tx, mut counts) = mpsc::unbounded_channel();
            let remote = match request {
                Ok(payload) => {
                    inner.acks().insert(id.clone(), AckRequest { sink: acks.clone(), counts: counts_tx });
                    // The other nodes' acks are forwarded until the broadcast's timeout, as the
                    // reference keeps its ack request that long.
                    let weak = Arc::downgrade(inner);
                    let forget = id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(deadline).await;
                        if let Some(inner) = weak.upgrade() {
                            inner.acks().remove(&forget);
                        }
                    });
                    let count = inner.hub.numsub(&inner.channels.request);
                    let published = inner.hub.publish_counted(&inner.channels.request, &payload);
                    Some((count, published))
                }
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "redis adapter: a broadcast with acks could not be encoded");
                    None
                }
            };
            let local = inner.local.broadcast_with_ack(packet, encoded, opts, acks).await?;
            let Some((count, published)) = remote else { return Ok(local) };
            let servers = match driver::reply(count, deadline).await {
                Ok(count) => driver::numsub_count(&count).unwrap_or(0),
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "redis adapter: broadcast with acks reached this node only");
                    inner.acks().remove(&id);
                    return Ok(local);
                }
            };
            let others = servers.saturating_sub(1);
            if others == 0 {
                return Ok(local);
            }
            if let Err(e) = driver::reply(published, deadline).await {
                tracing::warn!(error = %e, nsp = %inner.nsp, "redis adapter: broadcast with acks reached this node only");
                inner.acks().remove(&id);
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
        let inner = &self.inner;
        if !opts.flags.local {
            inner.publish(inner.channels.request.clone(), wire::rooms_request(&inner.uid, true, opts, rooms));
        }
        inner.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let inner = &self.inner;
        if !opts.flags.local {
            inner
                .publish(inner.channels.request.clone(), wire::rooms_request(&inner.uid, false, opts, rooms));
        }
        inner.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        let inner = &self.inner;
        if !opts.flags.local {
            inner.publish(inner.channels.request.clone(), wire::disconnect_request(&inner.uid, opts, close));
        }
        inner.local.disconnect_sockets(opts, close);
    }

    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move {
            let inner = &self.inner;
            if !args.is_array() {
                return Err(AdapterError::Unsupported("server-side event arguments must be an array"));
            }
            let payload = wire::server_side_emit_request(&inner.uid, None, &args)
                .map_err(|e| AdapterError::Transport(e.to_string()))?;
            let deadline = Instant::now() + inner.config.requests_timeout;
            let count = inner.hub.numsub(&inner.channels.request);
            let published = inner.hub.publish_counted(&inner.channels.request, &payload);
            let count = driver::reply(count, deadline).await?;
            driver::reply(published, deadline).await?;
            Ok(driver::numsub_count(&count).unwrap_or(0).saturating_sub(1))
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
        Box::pin(async move {
            let inner = &self.inner;
            let deadline = Instant::now() + inner.config.requests_timeout;
            let count = driver::reply(inner.hub.numsub(&inner.channels.request), deadline).await?;
            let count = driver::numsub_count(&count)
                .ok_or_else(|| AdapterError::Transport("unexpected PUBSUB NUMSUB answer".to_owned()))?;
            // This node counts even while its subscription connection is being repaired.
            Ok(count.max(1))
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            if inner.subscription.swap(0, Ordering::Relaxed) != 0 {
                let gone = inner.hub.unsubscribe(inner.route);
                let _ = tokio::time::timeout(inner.config.requests_timeout, gone).await;
            }
            inner.requests().clear();
            inner.acks().clear();
            inner.local.close().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_six_alphanumerics() {
        let a = uid2(6);
        assert_eq!(a.len(), 6);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, uid2(6));
    }
}
