//! The PostgreSQL adapter (feature `postgres`): a cluster adapter wire-compatible with Node.js
//! `@socket.io/postgres-adapter` 0.5, for deployments that run PostgreSQL and no Redis.
//!
//! Our nodes and Node.js nodes can share one database and one cluster: broadcasts (rooms,
//! `except`, flags, binary data), `fetch_sockets`, `sockets_join` / `sockets_leave`,
//! `disconnect_sockets`, server-side events with and without acks, broadcasts with acks and the
//! server count reach every node in both directions.
//!
//! # What travels where
//!
//! Every node `LISTEN`s on one channel per namespace, `<channel_prefix>#<nsp>` (`socket.io#/`),
//! and publishes there with `SELECT pg_notify(channel, payload)`. A message is the JSON of
//! `socket.io-adapter`'s cluster messages (`{type, data, uid, nsp}`). `NOTIFY` payloads are
//! limited to 8000 bytes, so a message longer than
//! [`payload_threshold`](PostgresAdapterConfig::payload_threshold), or a broadcast or
//! server-side event with binary data, is stored msgpack-encoded in the attachments table
//! (`id bigserial, created_at timestamptz, payload bytea`) and the notification carries only
//! `{uid, type, attachmentId}`; rows older than
//! [`cleanup_interval`](PostgresAdapterConfig::cleanup_interval) are deleted by every node.
//!
//! Nodes know each other by heartbeats, as the reference's `ClusterAdapterWithHeartbeat`: a
//! starting adapter announces itself, the others answer, every adapter sends a heartbeat when
//! it has published nothing for [`heartbeat_interval`](PostgresAdapterConfig::heartbeat_interval),
//! and a node not heard from for [`heartbeat_timeout`](PostgresAdapterConfig::heartbeat_timeout)
//! is forgotten. The server count is this node plus the nodes it knows; requests
//! (`fetch_sockets`, server-side events with acks) wait for an answer from each of them, at
//! most [`requests_timeout`](PostgresAdapterConfig::requests_timeout) (a broadcast's own
//! `timeout` flag for `fetch_sockets`, the given timeout for server-side events). When some
//! do not come, the trait methods fail with [`AdapterError::Timeout`]; the inherent methods
//! ([`PostgresAdapter::fetch_sockets_partial`], ...) also give what did arrive.
//!
//! # Failures
//!
//! Delivery to this node's sockets never waits on PostgreSQL. When the connection is lost it is
//! re-established with exponential backoff
//! ([`reconnect_delay`](PostgresAdapterConfig::reconnect_delay) up to
//! [`max_reconnect_delay`](PostgresAdapterConfig::max_reconnect_delay)), every channel is
//! listened to again and each adapter announces itself so the other nodes answer at once;
//! [`PostgresClients::status`] tells where it stands. Meanwhile:
//!
//! * what this node publishes without waiting for an answer (broadcasts, joins, leaves,
//!   disconnects, answers to other nodes; not heartbeats, which are only worth sending on
//!   time) waits in a bounded
//!   [`PublishQueue`](crate::PublishQueue) (limits in
//!   [`publish_queue`](PostgresAdapterConfig::publish_queue)) and is published, in order and
//!   before anything published later, once the connection is back. What a limit drops (the
//!   oldest first) is logged at `warn` with the number and the reason, and counted:
//!   [`PostgresAdapter::dropped_publishes`];
//! * what waits for the other nodes' answers or for its own publication (`fetch_sockets`,
//!   server-side events with and without acks) is not queued: it fails at once with
//!   [`AdapterError::Transport`]. A broadcast with acks reaches this node's clients only
//!   (logged at `warn`).
//!
//! `NOTIFY` delivers at most once: a queued message reaches the nodes that listen again when
//! it is published, so a node that comes back later than the publisher misses it. A message
//! whose statement was cut by the loss is queued again, so it may be published twice. A
//! message that cannot be read is ignored (logged at `debug`); nothing from the database or
//! the other nodes makes this code panic.
//!
//! # What it does not do
//!
//! * Connection state recovery (the reference does not either): `next_offset` stays `None`.
//! * TLS to PostgreSQL (`NoTls`): put the database on a private network or a local socket.
//! * The reference's `setupPrimary` for Node.js's `cluster` module.

mod driver;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use bytestring::ByteString;
use socketio_parser::{Packet, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use driver::PostgresStatus;

use crate::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, NamespaceLink, ServerSideAckError,
    ServerSideReply, SocketDetails,
};
use crate::cluster::{packet_data, RequestError, RequestKind};
use crate::heartbeat::{random_id, Collected, Nodes, Waiting};
use crate::memory::MemoryAdapter;
use crate::publish_queue::QueueLimits;
use crate::rooms::Room;
use driver::{Hub, Inbox};
use wire::{kind, Body, Message, Outgoing};

/// The options of the PostgreSQL adapter, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresAdapterConfig {
    /// The prefix of the notification channels (`channelPrefix`): `socket.io`.
    pub channel_prefix: String,
    /// The attachments table (`tableName`): `socket_io_attachments`. It is written into the
    /// statements as it is: an SQL name, from your configuration only.
    pub table_name: String,
    /// Longer messages (in bytes of JSON) go through the attachments table
    /// (`payloadThreshold`): 8000, PostgreSQL's `NOTIFY` limit.
    pub payload_threshold: usize,
    /// How often attachments older than this are deleted (`cleanupInterval`): 30 s.
    pub cleanup_interval: Duration,
    /// A heartbeat is sent after this long without publishing (`heartbeatInterval`): 5 s.
    pub heartbeat_interval: Duration,
    /// A node not heard from for this long is taken as gone (`heartbeatTimeout`): 10 s.
    pub heartbeat_timeout: Duration,
    /// How long a request waits for the other nodes' answers: 5 s, the reference's fixed
    /// `DEFAULT_TIMEOUT`.
    pub requests_timeout: Duration,
    /// Whether to create the attachments table (`CREATE TABLE IF NOT EXISTS`, the reference's
    /// schema) on every connection: `true`. The reference leaves this to the application.
    pub create_table: bool,
    /// The first delay before reconnecting: 100 ms, doubled after each failed attempt.
    pub reconnect_delay: Duration,
    /// The longest delay between two reconnection attempts: 5 s.
    pub max_reconnect_delay: Duration,
    /// How long one connection attempt may take, and how long the statements publishing one
    /// message may take before the connection is taken as lost: 5 s.
    pub connection_timeout: Duration,
    /// The bounds of what is kept for the database while it cannot be reached (see the
    /// [module docs](crate::postgres#failures)): 10 000 messages, 16 MiB, 30 s.
    /// [`QueueLimits::disabled`] drops it all at once, as plain `NOTIFY` would.
    pub publish_queue: QueueLimits,
}

impl Default for PostgresAdapterConfig {
    fn default() -> Self {
        PostgresAdapterConfig {
            channel_prefix: "socket.io".to_owned(),
            table_name: "socket_io_attachments".to_owned(),
            payload_threshold: 8000,
            cleanup_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            requests_timeout: Duration::from_secs(5),
            create_table: true,
            reconnect_delay: Duration::from_millis(100),
            max_reconnect_delay: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(5),
            publish_queue: QueueLimits::default(),
        }
    }
}

impl PostgresAdapterConfig {
    /// Sets [`channel_prefix`](Self::channel_prefix).
    #[must_use]
    pub fn with_channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets [`table_name`](Self::table_name).
    #[must_use]
    pub fn with_table_name(mut self, table: impl Into<String>) -> Self {
        self.table_name = table.into();
        self
    }

    /// Sets [`payload_threshold`](Self::payload_threshold).
    #[must_use]
    pub fn with_payload_threshold(mut self, bytes: usize) -> Self {
        self.payload_threshold = bytes;
        self
    }

    /// Sets [`cleanup_interval`](Self::cleanup_interval).
    #[must_use]
    pub fn with_cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval;
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

    /// Sets [`create_table`](Self::create_table).
    #[must_use]
    pub fn with_create_table(mut self, create: bool) -> Self {
        self.create_table = create;
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

/// The PostgreSQL connection one node's adapters share. Cloning is cheap; the connection
/// closes when the last clone and the last adapter are dropped, or at
/// [`shutdown`](Self::shutdown).
#[derive(Clone, Debug)]
pub struct PostgresClients {
    hub: Arc<Hub>,
    config: Arc<PostgresAdapterConfig>,
}

impl PostgresClients {
    /// Connects with a connection string (`postgresql://user:password@host:port/db` or
    /// `host=... port=... user=...`). Fails if PostgreSQL cannot be reached now; later losses
    /// of the connection are repaired.
    pub async fn connect(
        conninfo: &str,
        config: PostgresAdapterConfig,
    ) -> Result<Self, tokio_postgres::Error> {
        Self::with_config(conninfo.parse()?, config).await
    }

    /// Connects with a `tokio_postgres` configuration.
    pub async fn with_config(
        pg: tokio_postgres::Config,
        config: PostgresAdapterConfig,
    ) -> Result<Self, tokio_postgres::Error> {
        let config = Arc::new(config);
        let hub = Hub::start(pg, config.clone()).await?;
        Ok(PostgresClients { hub, config })
    }

    /// The options.
    pub fn config(&self) -> &PostgresAdapterConfig {
        &self.config
    }

    /// A new adapter for namespace `nsp`. It listens and announces itself when the server
    /// calls [`Adapter::init`].
    pub fn adapter<S: LocalSocket>(&self, nsp: &str) -> Arc<PostgresAdapter<S>> {
        let inner = Arc::new(Inner {
            local: MemoryAdapter::new(),
            nsp: nsp.to_owned(),
            uid: random_id(),
            channel: wire::channel(&self.config.channel_prefix, nsp),
            config: self.config.clone(),
            hub: self.hub.clone(),
            link: OnceLock::new(),
            route: AtomicU64::new(0),
            listening: Mutex::new(None),
            nodes: Mutex::new(Nodes::new(self.config.heartbeat_timeout)),
            last_publish: Mutex::new(Instant::now()),
            requests: Mutex::new(HashMap::new()),
            acks: Mutex::new(HashMap::new()),
            timer: Mutex::new(None),
        });
        Arc::new(PostgresAdapter { inner })
    }

    /// What the server takes to create each namespace's adapter (socketio-server's
    /// `Builder::adapter`).
    pub fn factory<S: LocalSocket>(
        &self,
    ) -> impl Fn(&ByteString) -> Arc<dyn Adapter<S>> + Send + Sync + 'static {
        let clients = self.clone();
        move |nsp: &ByteString| clients.adapter::<S>(nsp) as Arc<dyn Adapter<S>>
    }

    /// Where the connection stands.
    pub fn status(&self) -> PostgresStatus {
        self.hub.status()
    }

    /// How many messages this node could not publish and dropped, since it connected: the
    /// database could not be reached and a limit of
    /// [`publish_queue`](PostgresAdapterConfig::publish_queue) was reached. Every namespace's
    /// adapter publishes through these clients, so this counts them all.
    pub fn dropped_publishes(&self) -> u64 {
        self.hub.dropped_publishes()
    }

    /// How many messages wait for the database to be reachable again (0 while it is).
    pub fn queued_publishes(&self) -> u64 {
        self.hub.queued_publishes()
    }

    /// Waits until the connection is up (after a reconnection too).
    pub async fn connected(&self) {
        self.hub.wait_connected().await;
    }

    /// Closes the connection and stops its tasks. The adapters keep serving this node's
    /// sockets; everything that needs PostgreSQL fails from now on.
    pub fn shutdown(&self) {
        self.hub.shutdown();
    }
}

/// A broadcast with acks of this node, waiting for the other nodes' client counts and acks.
struct AckRequest<S: LocalSocket> {
    sink: S::AckSink,
    counts: mpsc::UnboundedSender<usize>,
}

/// The adapter of one namespace on a PostgreSQL cluster (see the [module docs](self)).
pub struct PostgresAdapter<S: LocalSocket> {
    inner: Arc<Inner<S>>,
}

impl<S: LocalSocket> std::fmt::Debug for PostgresAdapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAdapter")
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
    config: Arc<PostgresAdapterConfig>,
    hub: Arc<Hub>,
    link: OnceLock<Arc<dyn NamespaceLink<S>>>,
    /// The hub's route to this adapter, 0 before `init`.
    route: AtomicU64,
    /// Fires when the first `LISTEN` is done.
    listening: Mutex<Option<oneshot::Receiver<()>>>,
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
        let route = self.route.load(Ordering::Relaxed);
        if route != 0 {
            self.hub.unsubscribe(route);
        }
        if let Some(timer) = lock(&self.timer).take() {
            timer.abort();
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

impl<S: LocalSocket> PostgresAdapter<S> {
    /// This adapter's id in the cluster (16 hex digits, as Node.js nodes make theirs).
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// How many messages this node dropped because the database could not be reached for too
    /// long (see [`PostgresClients::dropped_publishes`]: the count is shared by every namespace
    /// of the clients this adapter was made from).
    pub fn dropped_publishes(&self) -> u64 {
        self.inner.hub.dropped_publishes()
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.nsp
    }

    /// Waits until this adapter listens on its channel (from [`Adapter::init`] on). Until then
    /// it hears nothing from the other nodes.
    pub async fn ready(&self) {
        let listening = lock(&self.inner.listening).take();
        if let Some(listening) = listening {
            let _ = listening.await;
        }
        self.inner.hub.wait_connected().await;
    }

    /// The uids of the other nodes this adapter knows (heard from within the heartbeat
    /// timeout).
    pub fn nodes(&self) -> Vec<String> {
        let mut uids: Vec<String> = lock(&self.inner.nodes).uids().into_iter().collect();
        uids.sort();
        uids
    }

    crate::heartbeat::partial_requests!();
}

impl<S: LocalSocket> Inner<S> {
    fn link(&self) -> Option<&Arc<dyn NamespaceLink<S>>> {
        self.link.get()
    }

    fn encode(&self, message_kind: u8, data: Option<Value>) -> Option<Outgoing> {
        match wire::encode(message_kind, data, &self.uid, &self.nsp, self.config.payload_threshold) {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::warn!(error = %e, nsp = %self.nsp, "postgres adapter: a message could not be encoded");
                None
            }
        }
    }

    /// Publishes a message (every publish puts the next heartbeat off, as in the reference).
    fn publish(&self, message_kind: u8, data: Option<Value>) {
        if let Some(message) = self.encode(message_kind, data) {
            *lock(&self.last_publish) = Instant::now();
            // Heartbeats and announcements are only worth sending now: late, they would take the
            // place of broadcasts in the outage queue, and the next heartbeat says the same.
            if matches!(message_kind, kind::HEARTBEAT | kind::INITIAL_HEARTBEAT) {
                self.hub.publish_now_or_never(self.channel.clone(), message);
            } else {
                self.hub.publish(self.channel.clone(), message);
            }
        }
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
        let message = self
            .encode(message_kind, Some(data))
            .ok_or_else(|| RequestError::Transport("the request could not be encoded".to_owned()))?;
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
        *lock(&self.last_publish) = Instant::now();
        let published = self.hub.publish_confirmed(self.channel.clone(), message);
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
            tracing::debug!(nsp = %self.nsp, node = %uid, "postgres adapter: node seems down");
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
        let (uid, nsp, channel, threshold) =
            (self.uid.clone(), self.nsp.clone(), self.channel.clone(), self.config.payload_threshold);
        let sink = link.ack_sink(Box::new(move |answer: Value| {
            match wire::encode(
                kind::BROADCAST_ACK,
                Some(wire::answer_data(&id, answer)),
                &uid,
                &nsp,
                threshold,
            ) {
                Ok(message) => hub.publish(channel.clone(), message),
                Err(e) => tracing::warn!(error = %e, "postgres adapter: an ack could not be encoded"),
            }
        }));
        let mut count = 0;
        for socket in self.local.local_sockets(opts) {
            if socket.send(&encoded, &opts.flags, Some(&sink)) {
                count += 1;
            }
        }
        self.publish(kind::BROADCAST_CLIENT_COUNT, Some(wire::client_count_data(request_id, count)));
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
    fn on_message(&self, message: Message) {
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
                self.publish(
                    kind::FETCH_SOCKETS_RESPONSE,
                    Some(wire::fetch_response_data(&request_id, &sockets)),
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
                    let (uid, nsp, channel, threshold) = (
                        self.uid.clone(),
                        self.nsp.clone(),
                        self.channel.clone(),
                        self.config.payload_threshold,
                    );
                    Box::new(move |answer: serde_json::Value| {
                        let data = wire::answer_data(&id, Value::from(answer));
                        match wire::encode(kind::SERVER_SIDE_EMIT_RESPONSE, Some(data), &uid, &nsp, threshold)
                        {
                            Ok(message) => hub.publish(channel, message),
                            Err(e) => {
                                tracing::warn!(error = %e, "postgres adapter: an answer could not be encoded")
                            }
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

    fn on_reconnected(&self) {
        self.publish(kind::INITIAL_HEARTBEAT, None);
    }
}

impl<S: LocalSocket> Adapter<S> for PostgresAdapter<S> {
    fn init(&self, link: Arc<dyn NamespaceLink<S>>) {
        let inner = &self.inner;
        if inner.link.set(link).is_err() {
            return;
        }
        let weak: Weak<Inner<S>> = Arc::downgrade(inner);
        let inbox: Weak<dyn Inbox> = weak.clone();
        let (route, listening) = inner.hub.subscribe(&inner.channel, &inner.uid, inbox);
        inner.route.store(route, Ordering::Relaxed);
        *lock(&inner.listening) = Some(listening);
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
                    inner.publish(kind::BROADCAST, Some(wire::broadcast_data(data, None, opts)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "postgres adapter: a broadcast could not be encoded")
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
                    let message =
                        inner.encode(kind::BROADCAST, Some(wire::broadcast_data(data, Some(&id), opts)));
                    message.map(|message| {
                        *lock(&inner.last_publish) = Instant::now();
                        inner.hub.publish_confirmed(inner.channel.clone(), message)
                    })
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, nsp = %inner.nsp, "postgres adapter: a broadcast with acks could not be encoded");
                    None
                }
            };
            let local = inner.local.broadcast_with_ack(packet, encoded, opts, acks).await?;
            let Some(published) = published else { return Ok(local) };
            if !matches!(tokio::time::timeout_at(deadline, published).await, Ok(Ok(Ok(())))) {
                tracing::warn!(nsp = %inner.nsp, "postgres adapter: broadcast with acks reached this node only");
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
            self.inner.publish(kind::SOCKETS_JOIN, Some(wire::rooms_data(opts, rooms)));
        }
        self.inner.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.inner.publish(kind::SOCKETS_LEAVE, Some(wire::rooms_data(opts, rooms)));
        }
        self.inner.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            self.inner.publish(kind::DISCONNECT_SOCKETS, Some(wire::disconnect_data(opts, close)));
        }
        self.inner.local.disconnect_sockets(opts, close);
    }

    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move {
            let inner = &self.inner;
            if !args.is_array() {
                return Err(AdapterError::Unsupported("server-side event arguments must be an array"));
            }
            let message = inner
                .encode(kind::SERVER_SIDE_EMIT, Some(wire::server_side_emit_data(None, &args)))
                .ok_or_else(|| AdapterError::Transport("the event could not be encoded".to_owned()))?;
            *lock(&inner.last_publish) = Instant::now();
            let published = inner.hub.publish_confirmed(inner.channel.clone(), message);
            match tokio::time::timeout(inner.config.requests_timeout, published).await {
                Ok(Ok(Ok(()))) => Ok(lock(&inner.nodes).len()),
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
            let route = inner.route.swap(0, Ordering::Relaxed);
            if route != 0 {
                if let Some(message) = inner.encode(kind::ADAPTER_CLOSE, None) {
                    let published = inner.hub.publish_confirmed(inner.channel.clone(), message);
                    let _ = tokio::time::timeout(inner.config.requests_timeout, published).await;
                }
                inner.hub.unsubscribe(route);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sixteen_hex_digits() {
        let a = random_id();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_id());
    }

    #[test]
    fn silent_nodes_are_forgotten_after_the_timeout() {
        let start = Instant::now();
        let mut nodes = Nodes::new(Duration::from_secs(10));
        nodes.seen("a", start);
        nodes.seen("b", start + Duration::from_secs(5));
        assert!(nodes.expire(start + Duration::from_secs(10)).is_empty());
        assert_eq!(nodes.expire(start + Duration::from_secs(11)), ["a"]);
        assert_eq!(nodes.len(), 1);
        assert!(nodes.remove("b"));
        assert_eq!(nodes.len(), 0);
    }

    #[test]
    fn a_request_ends_when_every_known_node_answered_or_left() {
        let (done, mut signal) = oneshot::channel();
        let mut waiting = Waiting {
            kind: RequestKind::ServerSideEmit,
            expected: 2,
            missing: ["a".to_owned(), "b".to_owned()].into(),
            collected: Collected::Answers(vec![serde_json::json!(1)]),
            done: Some(done),
        };
        waiting.answered("a");
        assert!(signal.try_recv().is_err());
        let (done2, _signal2) = oneshot::channel();
        let partial =
            Waiting { done: Some(done2), missing: waiting.missing.clone(), ..waiting_like(&waiting) };
        let Err(RequestError::Timeout(t)) = partial.finish() else { panic!("timeout") };
        assert_eq!((t.received, t.expected), (1, 2));
        waiting.answered("b");
        assert!(signal.try_recv().is_ok());
        assert!(waiting.finish().is_ok());
    }

    fn waiting_like(w: &Waiting) -> Waiting {
        Waiting {
            kind: w.kind,
            expected: w.expected,
            missing: w.missing.clone(),
            collected: Collected::Answers(Vec::new()),
            done: None,
        }
    }
}
