//! The Redis Streams adapter (feature `redis-streams`): a cluster adapter wire-compatible with
//! Node.js `@socket.io/redis-streams-adapter` 0.2, with connection state recovery across nodes.
//!
//! Our nodes and Node.js nodes can share one Redis and one cluster: broadcasts (rooms,
//! `except`, flags, binary data), `fetch_sockets`, `sockets_join` / `sockets_leave`,
//! `disconnect_sockets`, server-side events with and without acks, broadcasts with acks and the
//! server count reach every node in both directions. A client whose connection dropped can
//! come back through any node and get its socket id, rooms, data and the packets it missed.
//!
//! # What travels where
//!
//! Every message of every namespace is an entry of one stream,
//! [`stream_name`](RedisStreamsAdapterConfig::stream_name) (`socket.io`), added with
//! `XADD ... MAXLEN ~ <max_len> *` (the stream is trimmed to about
//! [`max_len`](RedisStreamsAdapterConfig::max_len) entries, 10 000, as the reference trims it).
//! An entry's fields are `uid`, `nsp`, `type` and `data`: the JSON of `socket.io-adapter`'s
//! cluster message data, or the base64 of its msgpack when it holds binary values. One task
//! per node reads the stream with a blocking `XREAD`, from the entry that was last when the
//! node connected, and hands each entry to the adapter of its namespace.
//!
//! Nodes know each other by heartbeats, as the reference's `ClusterAdapterWithHeartbeat`: a
//! starting adapter announces itself, the others answer, every adapter sends a heartbeat when
//! it has published nothing for
//! [`heartbeat_interval`](RedisStreamsAdapterConfig::heartbeat_interval), and a node not heard
//! from for [`heartbeat_timeout`](RedisStreamsAdapterConfig::heartbeat_timeout) is forgotten.
//! The server count is this node plus the nodes it knows; requests wait for an answer from each
//! of them, at most [`requests_timeout`](RedisStreamsAdapterConfig::requests_timeout).
//!
//! # Connection state recovery
//!
//! With [`connection_state_recovery`](RedisStreamsAdapterConfig::connection_state_recovery)
//! set (to the server's `max_disconnection_duration`), a recoverable packet's offset is the id
//! of its stream entry: this node adds the entry first and delivers the packet to its own
//! sockets with the id once Redis gave it, and every other node appends the same id when it
//! reads the entry. A disconnected socket's session is stored under
//! `<session_key_prefix><pid>` (`sio:session:<pid>`), the base64 of msgpack
//! `{sid, pid, rooms, data}`, expiring after that duration. A client that comes back through
//! any node is restored when its session is still there (it is read and deleted at once, so
//! it is restored once) and its offset is still in the stream; the packets it missed are the
//! broadcasts of its namespace after that offset that reach its rooms, read with `XRANGE`,
//! in stream order, each with its entry id as offset.
//!
//! # Failures
//!
//! Delivery to this node's sockets never waits on Redis, except for recoverable packets, which
//! wait for their entry id (as the reference's do); when the entry cannot be added, the packet
//! is delivered here without an offset. A failed `XADD` is logged at `warn`; the broadcasts
//! and messages nobody waits on go to a bounded [`PublishQueue`](crate::PublishQueue)
//! ([`publish_queue`](RedisStreamsAdapterConfig::publish_queue)) and are added, in order,
//! before anything later once Redis answers again. What a limit drops (the oldest first) is
//! logged at `warn` and counted: [`RedisStreamsClients::dropped_publishes`]
//! ([`queued_publishes`](RedisStreamsClients::queued_publishes) tells how many wait).
//! Operations waiting for answers fail at once with [`AdapterError::Transport`] or time out.
//! The reader tries again with exponential backoff from the last entry it read, so what other
//! nodes added during an outage is read when Redis is back (if the stream still holds it).
//! Entries that cannot be read are ignored (logged at `debug`); nothing from Redis or the other
//! nodes makes this code panic.
//!
//! # What it does not do
//!
//! * Redis Cluster (one stream lives on one shard anyway) and the reference's `ioredis` quirks.
//! * Recovery of broadcasts with acks or volatile ones: they carry no offset, live or replayed.
//!   (The reference replays them; they are not recoverable packets.)
//! * Exactly-once delivery across an outage: an entry that reached Redis just before the
//!   connection broke may be added again from the queue.

mod driver;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use ::redis::Client;
use bytestring::ByteString;
use socketio_parser::{Packet, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use driver::RedisStreamsStatus;

use crate::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, NamespaceLink, PersistedSession,
    RestoredSession, ServerSideAckError, ServerSideReply, SocketDetails,
};
use crate::cluster::{packet_data, RequestError, RequestKind};
use crate::heartbeat::{self as messages, kind, random_id, Body, Collected, Nodes, Waiting};
use crate::memory::MemoryAdapter;
use crate::publish_queue::QueueLimits;
use crate::rooms::Room;
use driver::{Added, Hub, Inbox};
use wire::Entry;

/// `XRANGE` calls a session restore makes at most, as the reference bounds them.
const RESTORE_MAX_XRANGE_CALLS: usize = 100;

/// The options of the Redis Streams adapter, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStreamsAdapterConfig {
    /// The stream every message goes through (`streamName`): `socket.io`.
    pub stream_name: String,
    /// The stream is trimmed to about this many entries (`maxLen`, `MAXLEN ~`): 10 000. It
    /// bounds how far back a session can be restored.
    pub max_len: usize,
    /// Entries read by one `XREAD` at most (`readCount`): 100.
    pub read_count: usize,
    /// How long one `XREAD` blocks waiting for entries: 5 s (the reference's, with node-redis).
    pub block_time: Duration,
    /// The prefix of the session keys (`sessionKeyPrefix`): `sio:session:`.
    pub session_key_prefix: String,
    /// A heartbeat is sent after this long without publishing (`heartbeatInterval`): 5 s.
    pub heartbeat_interval: Duration,
    /// A node not heard from for this long is taken as gone (`heartbeatTimeout`): 10 s.
    pub heartbeat_timeout: Duration,
    /// How long a request waits for the other nodes' answers: 5 s, the reference's fixed
    /// `DEFAULT_TIMEOUT`.
    pub requests_timeout: Duration,
    /// Connection state recovery: `None` (off), or the server's `max_disconnection_duration`,
    /// how long a session is kept in Redis. Set it when the server has
    /// `connection_state_recovery` on: the reference reads it from the server's options.
    pub connection_state_recovery: Option<Duration>,
    /// The first delay before reading again after a failure: 100 ms, doubled after each
    /// failed attempt.
    pub reconnect_delay: Duration,
    /// The longest delay between two attempts: 5 s.
    pub max_reconnect_delay: Duration,
    /// How long connecting, and one command, may take: 5 s.
    pub connection_timeout: Duration,
    /// What is kept of the broadcasts and messages nobody waits on while Redis cannot be
    /// reached, to be added once it answers again ([`QueueLimits::default`]; off with
    /// [`QueueLimits::disabled`]).
    pub publish_queue: QueueLimits,
}

impl Default for RedisStreamsAdapterConfig {
    fn default() -> Self {
        RedisStreamsAdapterConfig {
            stream_name: "socket.io".to_owned(),
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
            session_key_prefix: "sio:session:".to_owned(),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            requests_timeout: Duration::from_secs(5),
            connection_state_recovery: None,
            reconnect_delay: Duration::from_millis(100),
            max_reconnect_delay: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(5),
            publish_queue: QueueLimits::default(),
        }
    }
}

impl RedisStreamsAdapterConfig {
    /// Sets [`stream_name`](Self::stream_name).
    #[must_use]
    pub fn with_stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets [`max_len`](Self::max_len).
    #[must_use]
    pub fn with_max_len(mut self, entries: usize) -> Self {
        self.max_len = entries;
        self
    }

    /// Sets [`read_count`](Self::read_count) (at least 1).
    #[must_use]
    pub fn with_read_count(mut self, entries: usize) -> Self {
        self.read_count = entries.max(1);
        self
    }

    /// Sets [`block_time`](Self::block_time) (at least 1 ms: 0 would block forever).
    #[must_use]
    pub fn with_block_time(mut self, block: Duration) -> Self {
        self.block_time = block.max(Duration::from_millis(1));
        self
    }

    /// Sets [`session_key_prefix`](Self::session_key_prefix).
    #[must_use]
    pub fn with_session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_key_prefix = prefix.into();
        self
    }

    /// Sets [`heartbeat_interval`](Self::heartbeat_interval) and
    /// [`heartbeat_timeout`](Self::heartbeat_timeout).
    #[must_use]
    pub fn with_heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets [`requests_timeout`](Self::requests_timeout).
    #[must_use]
    pub fn with_requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Turns [`connection_state_recovery`](Self::connection_state_recovery) on, sessions kept
    /// for `max_disconnection_duration`.
    #[must_use]
    pub fn with_connection_state_recovery(mut self, max_disconnection_duration: Duration) -> Self {
        self.connection_state_recovery = Some(max_disconnection_duration);
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

    /// Sets [`publish_queue`](Self::publish_queue).
    #[must_use]
    pub fn with_publish_queue(mut self, limits: QueueLimits) -> Self {
        self.publish_queue = limits;
        self
    }

    /// Sets [`connection_timeout`](Self::connection_timeout).
    #[must_use]
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }
}

/// The Redis connections one node's adapters share. Cloning is cheap; the connections close
/// when the last clone and the last adapter are dropped, or at [`shutdown`](Self::shutdown).
#[derive(Clone, Debug)]
pub struct RedisStreamsClients {
    hub: Arc<Hub>,
    config: Arc<RedisStreamsAdapterConfig>,
}

impl RedisStreamsClients {
    /// Connects to `url` (`redis://host:port/db`). Fails if Redis cannot be reached now; later
    /// losses of the connection are repaired.
    pub async fn connect(url: &str, config: RedisStreamsAdapterConfig) -> Result<Self, ::redis::RedisError> {
        Self::with_client(Client::open(url)?, config).await
    }

    /// Connects with a `redis` client.
    pub async fn with_client(
        client: Client,
        config: RedisStreamsAdapterConfig,
    ) -> Result<Self, ::redis::RedisError> {
        let config = Arc::new(config);
        let hub = Arc::new(Hub::start(client, config.clone()).await?);
        Ok(RedisStreamsClients { hub, config })
    }

    /// The options.
    pub fn config(&self) -> &RedisStreamsAdapterConfig {
        &self.config
    }

    /// A new adapter for namespace `nsp`. It reads its entries and announces itself when the
    /// server calls [`Adapter::init`].
    pub fn adapter<S: LocalSocket>(&self, nsp: &str) -> Arc<RedisStreamsAdapter<S>> {
        let inner = Arc::new(Inner {
            local: MemoryAdapter::new(),
            nsp: nsp.to_owned(),
            uid: random_id(),
            config: self.config.clone(),
            hub: self.hub.clone(),
            link: OnceLock::new(),
            routed: AtomicBool::new(false),
            nodes: Mutex::new(Nodes::new(self.config.heartbeat_timeout)),
            last_publish: Mutex::new(Instant::now()),
            requests: Mutex::new(HashMap::new()),
            acks: Mutex::new(HashMap::new()),
            timer: Mutex::new(None),
        });
        Arc::new(RedisStreamsAdapter { inner })
    }

    /// What the server takes to create each namespace's adapter (socketio-server's
    /// `Builder::adapter`).
    pub fn factory<S: LocalSocket>(
        &self,
    ) -> impl Fn(&ByteString) -> Arc<dyn Adapter<S>> + Send + Sync + 'static {
        let clients = self.clone();
        move |nsp: &ByteString| clients.adapter::<S>(nsp) as Arc<dyn Adapter<S>>
    }

    /// Where the connections stand.
    pub fn status(&self) -> RedisStreamsStatus {
        self.hub.status()
    }

    /// How many entries this node could not add and dropped, since it connected: Redis could
    /// not be reached and a limit of [`publish_queue`](RedisStreamsAdapterConfig::publish_queue)
    /// was reached. Every namespace's adapter writes through these clients, so this counts them
    /// all.
    pub fn dropped_publishes(&self) -> u64 {
        self.hub.dropped_publishes()
    }

    /// How many entries wait for Redis to be reachable again (0 while it is).
    pub fn queued_publishes(&self) -> u64 {
        self.hub.queued_publishes()
    }

    /// Stops the connections' tasks. The adapters keep serving this node's sockets; everything
    /// that needs Redis fails from now on.
    pub fn shutdown(&self) {
        self.hub.shutdown();
    }
}

/// A broadcast with acks of this node, waiting for the other nodes' client counts and acks.
struct AckRequest<S: LocalSocket> {
    sink: S::AckSink,
    counts: mpsc::UnboundedSender<usize>,
}

/// The adapter of one namespace on a Redis Streams cluster (see the [module docs](self)).
pub struct RedisStreamsAdapter<S: LocalSocket> {
    inner: Arc<Inner<S>>,
}

impl<S: LocalSocket> std::fmt::Debug for RedisStreamsAdapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
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
    config: Arc<RedisStreamsAdapterConfig>,
    hub: Arc<Hub>,
    link: OnceLock<Arc<dyn NamespaceLink<S>>>,
    /// Whether the reader hands this namespace's entries to this adapter.
    routed: AtomicBool,
    nodes: Mutex<Nodes>,
    last_publish: Mutex<Instant>,
    requests: Mutex<HashMap<String, Waiting>>,
    acks: Mutex<HashMap<String, AckRequest<S>>>,
    timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: LocalSocket> Drop for Inner<S> {
    fn drop(&mut self) {
        if self.routed.swap(false, Ordering::Relaxed) {
            self.hub.unroute(&self.nsp, &self.uid);
        }
        if let Some(timer) = lock(&self.timer).take() {
            timer.abort();
        }
    }
}

/// Adds `fields` as an entry; the returned receiver gets the entry id or the failure.
fn add_confirmed(
    hub: &Hub,
    fields: Vec<(&'static str, String)>,
) -> oneshot::Receiver<Result<String, String>> {
    let (done, added) = oneshot::channel();
    hub.add(
        fields,
        Some(Box::new(move |result| {
            let _ = done.send(result);
        })),
        false,
    );
    added
}

/// Encodes a message of `uid` in namespace `nsp` (logging what cannot be encoded).
fn encode_fields(
    message_kind: u8,
    data: Option<&Value>,
    uid: &str,
    nsp: &str,
) -> Option<Vec<(&'static str, String)>> {
    match wire::encode(message_kind, data, uid, nsp) {
        Ok(fields) => Some(fields),
        Err(e) => {
            tracing::warn!(error = %e, nsp, "redis streams adapter: a message could not be encoded");
            None
        }
    }
}

/// Whether a broadcast to `opts` reaches a socket in `rooms`: the reference's
/// `shouldIncludePacket`.
fn reaches(opts: &BroadcastOptions, rooms: &[Room]) -> bool {
    (opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r)))
        && !opts.except.iter().any(|r| rooms.contains(r))
}

/// `data` (an array of arguments) with `offset` appended.
fn with_offset(data: &Value, offset: &str) -> Value {
    let mut items = match data {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    items.push(Value::from(offset));
    Value::Array(items)
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

impl<S: LocalSocket> RedisStreamsAdapter<S> {
    /// This adapter's id in the cluster (16 hex digits, as Node.js nodes make theirs).
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.nsp
    }

    /// The uids of the other nodes this adapter knows (heard from within the heartbeat
    /// timeout).
    pub fn nodes(&self) -> Vec<String> {
        let mut uids: Vec<String> = lock(&self.inner.nodes).uids().into_iter().collect();
        uids.sort();
        uids
    }

    /// How many entries this node dropped because Redis could not be reached for too long
    /// (see [`RedisStreamsClients::dropped_publishes`]: the count is shared by every namespace
    /// of the clients this adapter was made from).
    pub fn dropped_publishes(&self) -> u64 {
        self.inner.hub.dropped_publishes()
    }

    crate::heartbeat::partial_requests!();
}

impl<S: LocalSocket> Inner<S> {
    fn link(&self) -> Option<&Arc<dyn NamespaceLink<S>>> {
        self.link.get()
    }

    fn encode(&self, message_kind: u8, data: Option<&Value>) -> Option<Vec<(&'static str, String)>> {
        encode_fields(message_kind, data, &self.uid, &self.nsp)
    }

    /// Publishes a message (every publish puts the next heartbeat off, as in the reference).
    fn publish(&self, message_kind: u8, data: Option<Value>) {
        if let Some(fields) = self.encode(message_kind, data.as_ref()) {
            *lock(&self.last_publish) = Instant::now();
            // Heartbeats and announcements are only worth sending now: late, they would take the
            // place of broadcasts in the outage queue, and the next heartbeat says the same.
            let queue = !matches!(message_kind, kind::HEARTBEAT | kind::INITIAL_HEARTBEAT);
            self.hub.add(fields, None, queue);
        }
    }

    /// Publishes a message; the receiver gets the entry id.
    fn publish_confirmed(
        &self,
        message_kind: u8,
        data: Option<Value>,
    ) -> Option<oneshot::Receiver<Result<String, String>>> {
        let fields = self.encode(message_kind, data.as_ref())?;
        *lock(&self.last_publish) = Instant::now();
        Some(add_confirmed(&self.hub, fields))
    }

    /// Publishes request `id` and waits, until `timeout`, for one answer from each node known
    /// now.
    async fn request(
        &self,
        request_kind: RequestKind,
        id: &str,
        local: Collected,
        message_kind: u8,
        data: Value,
        timeout: Duration,
    ) -> Result<Collected, RequestError<Collected>> {
        let missing = lock(&self.nodes).uids();
        if missing.is_empty() {
            return Ok(local);
        }
        let deadline = Instant::now() + timeout;
        let (done, signal) = oneshot::channel();
        let waiting = Waiting {
            kind: request_kind,
            expected: missing.len(),
            missing,
            collected: local,
            done: Some(done),
        };
        lock(&self.requests).insert(id.to_owned(), waiting);
        let _forget = Forget { inner: self, id };
        let published = self
            .publish_confirmed(message_kind, Some(data))
            .ok_or_else(|| RequestError::Transport("the request could not be encoded".to_owned()))?;
        match tokio::time::timeout_at(deadline, published).await {
            Ok(Ok(Err(reason))) => return Err(RequestError::Transport(reason)),
            Ok(Err(_)) => {
                return Err(RequestError::Transport("the adapter's connection is closed".to_owned()))
            }
            _ => {}
        }
        let _ = tokio::time::timeout_at(deadline, signal).await;
        let waiting = lock(&self.requests).remove(id);
        match waiting {
            Some(waiting) => waiting.finish(),
            None => Err(RequestError::Transport("the adapter was closed".to_owned())),
        }
    }

    /// Node `uid` is gone: requests stop waiting for it.
    fn remove_node(&self, uid: &str) {
        lock(&self.nodes).remove(uid);
        for waiting in lock(&self.requests).values_mut() {
            waiting.answered(uid);
        }
    }

    /// Sends a heartbeat when due and forgets silent nodes; answers when to run again.
    fn tick(&self, now: Instant) -> Instant {
        let due = *lock(&self.last_publish) + self.config.heartbeat_interval;
        if now >= due {
            self.publish(kind::HEARTBEAT, None);
        }
        let gone = lock(&self.nodes).expire(now);
        for uid in gone {
            tracing::debug!(nsp = %self.nsp, node = %uid, "redis streams adapter: node seems down");
            self.remove_node(&uid);
        }
        let due = *lock(&self.last_publish) + self.config.heartbeat_interval;
        due.min(now + Duration::from_secs(1))
    }

    /// Another node's broadcast with acks: delivered here with an ack id of this namespace,
    /// then this node's client count and each client's ack are published for the requester.
    fn broadcast_for_acks(&self, request_id: &str, data: &Value, opts: &BroadcastOptions) {
        let Some(link) = self.link() else { return };
        let Some(encoded) = link.encode_event(data, Some(link.next_ack_id())) else { return };
        let id = request_id.to_owned();
        let hub = self.hub.clone();
        let (uid, nsp) = (self.uid.clone(), self.nsp.clone());
        let sink = link.ack_sink(Box::new(move |answer: Value| {
            let data = messages::answer_data(&id, answer);
            if let Some(fields) = encode_fields(kind::BROADCAST_ACK, Some(&data), &uid, &nsp) {
                hub.add(fields, None, true);
            }
        }));
        let mut count = 0;
        for socket in self.local.local_sockets(opts) {
            if socket.send(&encoded, &opts.flags, Some(&sink)) {
                count += 1;
            }
        }
        self.publish(kind::BROADCAST_CLIENT_COUNT, Some(messages::client_count_data(request_id, count)));
    }

    /// Delivers `data` to this node's sockets that `opts` reaches.
    fn deliver(&self, data: &Value, opts: &BroadcastOptions) {
        let Some(link) = self.link() else { return };
        let Some(encoded) = link.encode_event(data, None) else { return };
        for socket in self.local.local_sockets(opts) {
            socket.send(&encoded, &opts.flags, None);
        }
    }

    fn on_answer(&self, request_id: &str, uid: Option<&str>, add: impl FnOnce(&mut Collected)) {
        let mut requests = lock(&self.requests);
        let Some(waiting) = requests.get_mut(request_id) else { return };
        add(&mut waiting.collected);
        if let Some(uid) = uid {
            waiting.answered(uid);
        }
    }
}

impl<S: LocalSocket> Inbox for Inner<S> {
    fn on_entry(&self, entry: Entry) {
        match wire::decode(&entry) {
            Ok(message) => self.on_message(entry.id, message),
            Err(e) => {
                tracing::debug!(error = %e, id = %entry.id, "redis streams adapter: unreadable entry ignored")
            }
        }
    }
}

impl<S: LocalSocket> Inner<S> {
    fn on_message(&self, offset: String, message: messages::Message) {
        let uid = message.uid.as_deref();
        if uid == Some(self.uid.as_str()) {
            return;
        }
        if let Some(uid) = uid.filter(|u| *u != "emitter") {
            lock(&self.nodes).seen(uid, Instant::now());
        }
        match message.body {
            Body::InitialHeartbeat => return self.publish(kind::HEARTBEAT, None),
            Body::Heartbeat | Body::Unknown(_) => return,
            Body::AdapterClose => {
                if let Some(uid) = uid {
                    self.remove_node(uid);
                }
                return;
            }
            _ => {}
        }
        if message.nsp.as_deref() != Some(self.nsp.as_str()) {
            return;
        }
        match message.body {
            Body::Broadcast { request_id: Some(id), data, opts } => {
                if !lock(&self.acks).contains_key(&id) {
                    self.broadcast_for_acks(&id, &data, &opts);
                }
            }
            Body::Broadcast { request_id: None, data, opts } => {
                if self.config.connection_state_recovery.is_some() && !opts.flags.volatile {
                    self.deliver(&with_offset(&data, &offset), &opts);
                } else {
                    self.deliver(&data, &opts);
                }
            }
            Body::Join { opts, rooms } => self.local.add_sockets(&opts, &rooms),
            Body::Leave { opts, rooms } => self.local.del_sockets(&opts, &rooms),
            Body::Disconnect { opts, close } => self.local.disconnect_sockets(&opts, close),
            Body::Fetch { request_id, opts } => {
                let sockets = self.local.details(&opts);
                self.publish(
                    kind::FETCH_SOCKETS_RESPONSE,
                    Some(messages::fetch_response_data(&request_id, &sockets)),
                );
            }
            Body::FetchResponse { request_id, sockets } => self.on_answer(&request_id, uid, |c| {
                if let Collected::Sockets(all) = c {
                    all.extend(sockets);
                }
            }),
            Body::ServerSideEmit { request_id, args } => {
                let Some(link) = self.link() else { return };
                let reply = request_id.map(|id| {
                    let hub = self.hub.clone();
                    let (uid, nsp) = (self.uid.clone(), self.nsp.clone());
                    Box::new(move |answer: serde_json::Value| {
                        let data = messages::answer_data(&id, Value::from(answer));
                        if let Some(fields) =
                            encode_fields(kind::SERVER_SIDE_EMIT_RESPONSE, Some(&data), &uid, &nsp)
                        {
                            hub.add(fields, None, true);
                        }
                    }) as ServerSideReply
                });
                link.server_side_event(args, reply);
            }
            Body::ServerSideEmitResponse { request_id, answer } => self.on_answer(&request_id, uid, |c| {
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
            Body::InitialHeartbeat | Body::Heartbeat | Body::AdapterClose | Body::Unknown(_) => {}
        }
    }
}

impl<S: LocalSocket> Adapter<S> for RedisStreamsAdapter<S> {
    fn init(&self, link: Arc<dyn NamespaceLink<S>>) {
        let inner = &self.inner;
        if inner.link.set(link).is_err() {
            return;
        }
        let weak: Weak<Inner<S>> = Arc::downgrade(inner);
        let inbox: Weak<dyn Inbox> = weak.clone();
        inner.hub.route(&inner.nsp, &inner.uid, inbox);
        inner.routed.store(true, Ordering::Relaxed);
        inner.publish(kind::INITIAL_HEARTBEAT, None);
        let timer = tokio::spawn(async move {
            let mut next = Instant::now() + Duration::from_secs(1);
            loop {
                tokio::time::sleep_until(next).await;
                let Some(inner) = weak.upgrade() else { return };
                next = inner.tick(Instant::now());
            }
        });
        *lock(&inner.timer) = Some(timer);
    }

    crate::adapter::delegate_to_local!(inner.local);

    fn broadcast(&self, packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions) {
        let inner = &self.inner;
        if !opts.flags.local {
            match packet_data(packet) {
                Ok(data) => {
                    let data = data.unwrap_or_else(|| Value::Array(Vec::new()));
                    inner.publish(kind::BROADCAST, Some(messages::broadcast_data(data, None, opts)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "redis streams adapter: a broadcast could not be encoded")
                }
            }
        }
        inner.local.broadcast(packet, encoded, opts);
    }

    fn next_offset(&self) -> Option<ByteString> {
        // A placeholder: the real offset is the entry id, known once the entry is added.
        self.inner.config.connection_state_recovery.map(|_| ByteString::from_static("0-0"))
    }

    fn broadcast_recoverable(
        &self,
        offset: ByteString,
        packet: &Packet,
        encoded: &S::Encoded,
        opts: &BroadcastOptions,
    ) {
        let _ = offset;
        let inner = &self.inner;
        let data = match packet_data(packet) {
            Ok(Some(Value::Array(mut items))) => {
                // The server appended our placeholder offset: it is replaced by the entry id.
                items.pop();
                Value::Array(items)
            }
            Ok(_) => return inner.local.broadcast(packet, encoded, opts),
            Err(e) => {
                tracing::warn!(error = %e, nsp = %inner.nsp, "redis streams adapter: a broadcast could not be encoded");
                return inner.local.broadcast(packet, encoded, opts);
            }
        };
        if opts.flags.local {
            // Not published, so without an entry id, as the reference sends it.
            return inner.deliver(&data, opts);
        }
        let message = messages::broadcast_data(data.clone(), None, opts);
        let Some(fields) = inner.encode(kind::BROADCAST, Some(&message)) else {
            return inner.deliver(&data, opts);
        };
        *lock(&inner.last_publish) = Instant::now();
        let weak = Arc::downgrade(inner);
        let opts = opts.clone();
        // Called by the writer in the order entries are added, so this node's sockets get the
        // packets in stream order.
        let deliver: Added = Box::new(move |added| {
            let Some(inner) = weak.upgrade() else { return };
            match added {
                Ok(id) => inner.deliver(&with_offset(&data, &id), &opts),
                Err(_) => inner.deliver(&data, &opts),
            }
        });
        inner.hub.add(fields, Some(deliver), true);
    }

    fn persist_session(&self, session: PersistedSession) {
        let inner = &self.inner;
        let Some(ttl) = inner.config.connection_state_recovery else { return };
        let stored = match wire::encode_session(&session) {
            Ok(stored) => stored,
            Err(e) => {
                return tracing::warn!(error = %e, "redis streams adapter: a session could not be encoded")
            }
        };
        let key = format!("{}{}", inner.config.session_key_prefix, session.pid);
        let mut conn = inner.hub.connection();
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        tokio::spawn(async move {
            let set = ::redis::cmd("SET")
                .arg(&key)
                .arg(stored)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut conn)
                .await;
            if let Err(e) = set {
                tracing::warn!(error = %e, "redis streams adapter: a session could not be stored");
            }
        });
    }

    fn restore_session<'a>(
        &'a self,
        pid: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Option<RestoredSession>> {
        Box::pin(async move {
            match self.inner.restore(pid, offset).await {
                Ok(restored) => restored,
                Err(reason) => {
                    tracing::warn!(%reason, "redis streams adapter: a session could not be restored");
                    None
                }
            }
        })
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
            let others = lock(&inner.nodes).len();
            let id = random_id();
            let (counts_tx, mut counts) = mpsc::unbounded_channel();
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
                    inner.publish_confirmed(
                        kind::BROADCAST,
                        Some(messages::broadcast_data(data, Some(&id), opts)),
                    )
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "redis streams adapter: a broadcast with acks could not be encoded");
                    None
                }
            };
            let local = inner.local.broadcast_with_ack(packet, encoded, opts, acks).await?;
            let Some(published) = published else { return Ok(local) };
            if !matches!(tokio::time::timeout_at(deadline, published).await, Ok(Ok(Ok(_)))) {
                tracing::warn!(nsp = %inner.nsp, "redis streams adapter: broadcast with acks reached this node only");
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
            self.inner.publish(kind::SOCKETS_JOIN, Some(messages::rooms_data(opts, rooms)));
        }
        self.inner.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.inner.publish(kind::SOCKETS_LEAVE, Some(messages::rooms_data(opts, rooms)));
        }
        self.inner.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            self.inner.publish(kind::DISCONNECT_SOCKETS, Some(messages::disconnect_data(opts, close)));
        }
        self.inner.local.disconnect_sockets(opts, close);
    }

    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move {
            let inner = &self.inner;
            if !args.is_array() {
                return Err(AdapterError::Unsupported("server-side event arguments must be an array"));
            }
            let published = inner
                .publish_confirmed(kind::SERVER_SIDE_EMIT, Some(messages::server_side_emit_data(None, &args)))
                .ok_or_else(|| AdapterError::Transport("the event could not be encoded".to_owned()))?;
            match tokio::time::timeout(inner.config.requests_timeout, published).await {
                Ok(Ok(Ok(_))) => Ok(lock(&inner.nodes).len()),
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
        Box::pin(async move { Ok(1 + lock(&self.inner.nodes).len()) })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            if inner.routed.swap(false, Ordering::Relaxed) {
                if let Some(published) = inner.publish_confirmed(kind::ADAPTER_CLOSE, None) {
                    let _ = tokio::time::timeout(inner.config.requests_timeout, published).await;
                }
                inner.hub.unroute(&inner.nsp, &inner.uid);
            }
            if let Some(timer) = lock(&inner.timer).take() {
                timer.abort();
            }
            lock(&inner.requests).clear();
            lock(&inner.acks).clear();
            inner.local.close().await;
        })
    }
}

impl<S: LocalSocket> Inner<S> {
    /// The reference's `restoreSession`: the session (read and deleted at once) and the
    /// broadcasts of this namespace after `offset` that reach its rooms. `Ok(None)` when the
    /// session or the offset is gone.
    async fn restore(&self, pid: &str, offset: &str) -> Result<Option<RestoredSession>, String> {
        if self.config.connection_state_recovery.is_none() || !wire::is_entry_id(offset) {
            return Ok(None);
        }
        let key = format!("{}{}", self.config.session_key_prefix, pid);
        let mut conn = self.hub.connection();
        let (stored, _): (Option<String>, i64) = ::redis::pipe()
            .atomic()
            .get(&key)
            .del(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let stream = &self.config.stream_name;
        let known = driver::xrange(&mut conn, stream, offset, offset, 1).await?;
        let (Some(stored), false) = (stored, known.is_empty()) else { return Ok(None) };
        let session = wire::decode_session(&stored).map_err(|e| e.to_string())?;
        let mut missed = Vec::new();
        let mut from = offset.to_owned();
        let count = self.config.read_count.max(1) * 10;
        for _ in 0..RESTORE_MAX_XRANGE_CALLS {
            let Some(start) = wire::next_id(&from) else { break };
            let entries = driver::xrange(&mut conn, stream, &start, "+", count).await?;
            let Some(last) = entries.last() else { break };
            from.clone_from(&last.id);
            for entry in &entries {
                if entry.field("nsp") != Some(self.nsp.as_str()) || entry.field("type") != Some("3") {
                    continue;
                }
                let Ok(messages::Message { body: Body::Broadcast { request_id: None, data, opts }, .. }) =
                    wire::decode(entry)
                else {
                    continue;
                };
                if opts.flags.volatile || !reaches(&opts, &session.rooms) {
                    continue;
                }
                match socketio_parser::to_payload(&with_offset(&data, &entry.id)) {
                    Ok((json, attachments)) => {
                        missed.push(Packet::event(self.nsp.as_str(), json, attachments, None));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "redis streams adapter: a missed packet was skipped")
                    }
                }
            }
            if entries.len() < count {
                break;
            }
        }
        Ok(Some(RestoredSession { session, missed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_packets_follow_the_reference_filter() {
        let rooms = [Room::from("s1"), Room::from("news")];
        assert!(reaches(&BroadcastOptions::all(), &rooms));
        assert!(reaches(&BroadcastOptions::to(["news".into()]), &rooms));
        assert!(!reaches(&BroadcastOptions::to(["sport".into()]), &rooms));
        let except = BroadcastOptions { except: vec!["s1".into()], ..BroadcastOptions::all() };
        assert!(!reaches(&except, &rooms));
        let data = Value::from(serde_json::json!(["e", 1]));
        assert_eq!(with_offset(&data, "1-2"), Value::from(serde_json::json!(["e", 1, "1-2"])));
    }
}
