//! The PostgreSQL side: one connection that `LISTEN`s on every namespace's channel and runs the
//! adapter's statements (`pg_notify`, the attachments table), kept alive by a supervisor task
//! that reconnects with exponential backoff after a loss.
//!
//! The publisher task runs the statements one at a time, in submission order. While the
//! database cannot be reached, the messages nobody waits on ([`Hub::publish`]) go to a bounded
//! [`PublishQueue`] and those whose outcome is awaited ([`Hub::publish_confirmed`]) fail at
//! once; once the connection is back the queue is published, in order, before anything
//! submitted later. No protocol decisions: messages are decoded in `wire.rs` and handled by the
//! adapters.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::wire::{self, Message, Notification, Outgoing};
use super::PostgresAdapterConfig;
use crate::publish_queue::{DroppedMessages, PublishQueue, QueueStats, Queued};

/// Queued messages taken at once when publishing the queue.
const FLUSH_BATCH: usize = 64;

/// Where the adapter's PostgreSQL connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostgresStatus {
    /// Connected, listening on every channel of the adapters made so far.
    Connected,
    /// The connection was lost; `attempts` reconnections have failed since.
    Reconnecting {
        /// Failed attempts since the loss.
        attempts: u32,
    },
    /// [`PostgresClients::shutdown`](super::PostgresClients::shutdown) was called.
    Closed,
}

/// What an adapter is told by the connection.
pub(crate) trait Inbox: Send + Sync {
    /// A message from another node on the adapter's channel.
    fn on_message(&self, message: Message);
    /// The connection is back after a loss (the adapter's channel is listened to again).
    fn on_reconnected(&self);
}

struct Route {
    id: u64,
    uid: String,
    inbox: Weak<dyn Inbox>,
}

struct Publish {
    channel: String,
    message: Outgoing,
    done: Option<oneshot::Sender<Result<(), String>>>,
    /// Whether the message is worth publishing late: a heartbeat is not (the next one says the
    /// same, on time), so it never takes a place in the outage queue.
    keep: bool,
}

/// Why a statement failed.
#[derive(Debug)]
enum Failure {
    /// The connection is gone (or was never there): trying again later may work.
    Unreachable(String),
    /// PostgreSQL answered with an error: trying again would not help.
    Refused(String),
}

impl Failure {
    /// Classifies an error of a statement run on `client`. Connection exceptions (SQLSTATE
    /// class 08), operator intervention (57, as in `admin_shutdown`) and insufficient resources
    /// (53) count as unreachable, as does any error once the connection is closed.
    fn of(client: &Client, e: &tokio_postgres::Error) -> Failure {
        let transient = |code: &str| ["08", "57", "53"].iter().any(|class| code.starts_with(class));
        match e.as_db_error() {
            Some(db) if !client.is_closed() && !transient(db.code().code()) => {
                Failure::Refused(e.to_string())
            }
            Some(_) => Failure::Unreachable(e.to_string()),
            None if client.is_closed() || e.is_closed() => Failure::Unreachable(e.to_string()),
            None => Failure::Refused(e.to_string()),
        }
    }
}

/// The connection every adapter of one process shares.
pub(crate) struct Hub {
    config: Arc<PostgresAdapterConfig>,
    pg: tokio_postgres::Config,
    client: Mutex<Option<Arc<Client>>>,
    routes: Mutex<HashMap<String, Vec<Route>>>,
    next_route: Mutex<u64>,
    status: watch::Sender<PostgresStatus>,
    publisher: mpsc::UnboundedSender<Publish>,
    stats: Arc<QueueStats>,
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("status", &*self.status.borrow()).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

type Notifications = mpsc::UnboundedReceiver<(String, String)>;

impl Hub {
    /// Connects (failing if PostgreSQL cannot be reached now), then starts the supervisor, the
    /// publisher and the attachments cleanup.
    pub(crate) async fn start(
        pg: tokio_postgres::Config,
        config: Arc<PostgresAdapterConfig>,
    ) -> Result<Arc<Hub>, tokio_postgres::Error> {
        let (client, notifications) = open(&pg, &config).await?;
        let (publisher, jobs) = mpsc::unbounded_channel();
        let stats = Arc::new(QueueStats::default());
        let hub = Arc::new(Hub {
            pg,
            client: Mutex::new(Some(Arc::new(client))),
            routes: Mutex::new(HashMap::new()),
            next_route: Mutex::new(1),
            status: watch::Sender::new(PostgresStatus::Connected),
            publisher,
            stats: stats.clone(),
            closed: watch::Sender::new(false),
            config,
        });
        tokio::spawn(supervise(Arc::downgrade(&hub), notifications, hub.closed.subscribe()));
        let publisher = Publisher {
            hub: Arc::downgrade(&hub),
            jobs,
            queue: PublishQueue::new(hub.config.publish_queue),
            stats,
            status: hub.status.subscribe(),
            closed: hub.closed.subscribe(),
            reconnect_delay: hub.config.reconnect_delay,
            max_reconnect_delay: hub.config.max_reconnect_delay,
            down_since: None,
        };
        tokio::spawn(publisher.run());
        tokio::spawn(cleanup_loop(Arc::downgrade(&hub), hub.closed.subscribe()));
        Ok(hub)
    }

    pub(crate) fn status(&self) -> PostgresStatus {
        *self.status.borrow()
    }

    /// Waits until the connection is up (returns at once when closed).
    pub(crate) async fn wait_connected(&self) {
        let mut status = self.status.subscribe();
        let _ = status.wait_for(|s| matches!(s, PostgresStatus::Connected | PostgresStatus::Closed)).await;
    }

    fn client(&self) -> Option<Arc<Client>> {
        lock(&self.client).clone()
    }

    /// Routes `channel`'s messages to `inbox` (an adapter whose uid is `uid`) and listens on it.
    /// Resolves once the `LISTEN` is done (or failed: the next connection listens again).
    pub(crate) fn subscribe(
        &self,
        channel: &str,
        uid: &str,
        inbox: Weak<dyn Inbox>,
    ) -> (u64, oneshot::Receiver<()>) {
        let id = {
            let mut next = lock(&self.next_route);
            *next += 1;
            *next
        };
        let first = {
            let mut routes = lock(&self.routes);
            let list = routes.entry(channel.to_owned()).or_default();
            list.push(Route { id, uid: uid.to_owned(), inbox });
            list.len() == 1
        };
        let (done, listening) = oneshot::channel();
        match (first, self.client()) {
            (true, Some(client)) => {
                let statement = wire::listen_statement(channel);
                tokio::spawn(async move {
                    if let Err(e) = client.batch_execute(&statement).await {
                        tracing::warn!(error = %e, "postgres adapter: LISTEN failed");
                    }
                    let _ = done.send(());
                });
            }
            _ => {
                let _ = done.send(());
            }
        }
        (id, listening)
    }

    /// Stops routing to adapter `route` (the channel stays listened to: other processes' nodes
    /// are not affected, and a new adapter of the namespace may come).
    pub(crate) fn unsubscribe(&self, route: u64) {
        for list in lock(&self.routes).values_mut() {
            list.retain(|r| r.id != route);
        }
    }

    /// Publishes without waiting. While the database cannot be reached the message waits in
    /// the publisher's bounded queue; what the queue drops is logged and counted.
    pub(crate) fn publish(&self, channel: String, message: Outgoing) {
        let _ = self.publisher.send(Publish { channel, message, done: None, keep: true });
    }

    /// Publishes a message that is only worth sending now (a heartbeat): while the database
    /// cannot be reached it is dropped, not queued.
    pub(crate) fn publish_now_or_never(&self, channel: String, message: Outgoing) {
        let _ = self.publisher.send(Publish { channel, message, done: None, keep: false });
    }

    /// How many messages the publisher dropped because the database could not be reached for
    /// too long (a queue limit was reached).
    pub(crate) fn dropped_publishes(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// How many messages wait for the database.
    pub(crate) fn queued_publishes(&self) -> u64 {
        self.stats.queued.load(Ordering::Relaxed)
    }

    /// Publishes, and tells when the statement is done. While the database cannot be reached
    /// it is not queued: the answer is an error at once.
    pub(crate) fn publish_confirmed(
        &self,
        channel: String,
        message: Outgoing,
    ) -> oneshot::Receiver<Result<(), String>> {
        let (done, confirmed) = oneshot::channel();
        if self.publisher.send(Publish { channel, message, done: Some(done), keep: true }).is_err() {
            tracing::debug!("postgres adapter: publisher stopped");
        }
        confirmed
    }

    pub(crate) fn shutdown(&self) {
        self.closed.send_replace(true);
        lock(&self.client).take();
        self.status.send_replace(PostgresStatus::Closed);
    }

    fn own_uids(&self) -> HashSet<String> {
        lock(&self.routes).values().flatten().map(|r| r.uid.clone()).collect()
    }

    fn inboxes(&self, channel: Option<&str>) -> Vec<Arc<dyn Inbox>> {
        let routes = lock(&self.routes);
        let lists: Vec<&Vec<Route>> = match channel {
            Some(channel) => routes.get(channel).into_iter().collect(),
            None => routes.values().collect(),
        };
        lists.into_iter().flatten().filter_map(|r| r.inbox.upgrade()).collect()
    }

    /// One notification: read (from the attachments table if it points there) and handed to
    /// the adapters of its channel.
    async fn on_notification(&self, client: &Client, channel: &str, payload: &str) {
        let message = match wire::decode_notification(payload) {
            Ok(Notification::Message(message)) => message,
            Ok(Notification::Attachment { uid, attachment_id }) => {
                if uid.is_some_and(|uid| self.own_uids().contains(&uid)) {
                    return;
                }
                match self.fetch_attachment(client, attachment_id).await {
                    Ok(message) => message,
                    Err(e) => {
                        tracing::debug!(error = %e, attachment_id, "postgres adapter: ignoring an attachment");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, channel, "postgres adapter: ignoring a malformed notification");
                return;
            }
        };
        for inbox in self.inboxes(Some(channel)) {
            inbox.on_message(message.clone());
        }
    }

    async fn fetch_attachment(&self, client: &Client, id: i64) -> Result<Message, String> {
        let statement = format!("SELECT payload FROM {} WHERE id = $1", self.config.table_name);
        let row = client
            .query_opt(&statement, &[&id])
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no attachment {id}"))?;
        let payload: Vec<u8> = row.try_get(0).map_err(|e| e.to_string())?;
        wire::decode_attachment(&payload).map_err(|e| e.to_string())
    }

    /// Runs the statements of one message, at most
    /// [`connection_timeout`](PostgresAdapterConfig::connection_timeout) long (a connection that
    /// stops answering counts as lost).
    async fn send(&self, channel: &str, message: &Outgoing) -> Result<(), Failure> {
        let client =
            self.client().ok_or_else(|| Failure::Unreachable("not connected to PostgreSQL".to_owned()))?;
        let statements = async {
            let payload = match message {
                Outgoing::Notify(json) => json.clone(),
                Outgoing::Attachment { kind, payload } => {
                    let statement =
                        format!("INSERT INTO {} (payload) VALUES ($1) RETURNING id", self.config.table_name);
                    let row = client.query_one(&statement, &[&&payload[..]]).await?;
                    let id: i64 = row.try_get(0)?;
                    let uid = match wire::decode_attachment(payload) {
                        Ok(message) => message.uid.unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    wire::attachment_header(&uid, *kind, id)
                }
            };
            client.execute("SELECT pg_notify($1, $2)", &[&channel, &payload]).await.map(drop)
        };
        match tokio::time::timeout(self.config.connection_timeout, statements).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::of(&client, &e)),
            Err(_) => Err(Failure::Unreachable("PostgreSQL did not answer in time".to_owned())),
        }
    }
}

/// Connects, creates the attachments table when configured to, and starts the task that
/// reads the connection's messages; its notifications come out of the receiver, which closes
/// when the connection is lost.
async fn open(
    pg: &tokio_postgres::Config,
    config: &PostgresAdapterConfig,
) -> Result<(Client, Notifications), tokio_postgres::Error> {
    let mut pg = pg.clone();
    pg.connect_timeout(config.connection_timeout);
    let (client, mut connection) = pg.connect(NoTls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send((n.channel().to_owned(), n.payload().to_owned())).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "postgres adapter: connection lost");
                    return;
                }
                None => return,
            }
        }
    });
    if config.create_table {
        let statement = format!(
            "CREATE TABLE IF NOT EXISTS {} (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
            config.table_name
        );
        client.batch_execute(&statement).await?;
    }
    Ok((client, rx))
}

/// Reads notifications while the connection lives; after a loss, reconnects with backoff,
/// listens on every channel again and tells the adapters.
async fn supervise(hub: Weak<Hub>, mut notifications: Notifications, mut closed: watch::Receiver<bool>) {
    loop {
        loop {
            let next = tokio::select! {
                next = notifications.recv() => next,
                _ = closed.wait_for(|c| *c) => return,
            };
            let Some((channel, payload)) = next else { break };
            let Some(hub) = hub.upgrade() else { return };
            let Some(client) = hub.client() else { continue };
            hub.on_notification(&client, &channel, &payload).await;
        }
        let Some(strong) = hub.upgrade() else { return };
        lock(&strong.client).take();
        strong.status.send_replace(PostgresStatus::Reconnecting { attempts: 0 });
        let (first, max) = (strong.config.reconnect_delay, strong.config.max_reconnect_delay);
        drop(strong);
        let mut delay = first;
        let mut attempts = 0u32;
        notifications = loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = closed.wait_for(|c| *c) => return,
            }
            let Some(hub) = hub.upgrade() else { return };
            match reconnect(&hub).await {
                Ok(notifications) => break notifications,
                Err(e) => {
                    attempts = attempts.saturating_add(1);
                    tracing::debug!(error = %e, attempts, "postgres adapter: reconnection failed");
                    hub.status.send_replace(PostgresStatus::Reconnecting { attempts });
                    delay = (delay * 2).min(max);
                }
            }
        };
        let Some(hub) = hub.upgrade() else { return };
        if *closed.borrow() {
            return;
        }
        tracing::info!("postgres adapter: reconnected");
        hub.status.send_replace(PostgresStatus::Connected);
        for inbox in hub.inboxes(None) {
            inbox.on_reconnected();
        }
    }
}

async fn reconnect(hub: &Hub) -> Result<Notifications, tokio_postgres::Error> {
    let (client, notifications) = open(&hub.pg, &hub.config).await?;
    let channels: Vec<String> = lock(&hub.routes).keys().cloned().collect();
    for channel in channels {
        client.batch_execute(&wire::listen_statement(&channel)).await?;
    }
    *lock(&hub.client) = Some(Arc::new(client));
    Ok(notifications)
}

/// The publisher task: the statements of published messages one at a time, in submission
/// order, and the queue of what waits while the database cannot be reached.
struct Publisher {
    hub: Weak<Hub>,
    jobs: mpsc::UnboundedReceiver<Publish>,
    queue: PublishQueue<(String, Outgoing)>,
    stats: Arc<QueueStats>,
    status: watch::Receiver<PostgresStatus>,
    closed: watch::Receiver<bool>,
    reconnect_delay: Duration,
    max_reconnect_delay: Duration,
    /// Since when the database could not be reached, while it cannot.
    down_since: Option<Instant>,
}

fn outgoing_size(channel: &str, message: &Outgoing) -> usize {
    channel.len()
        + match message {
            Outgoing::Notify(json) => json.len(),
            Outgoing::Attachment { payload, .. } => payload.len(),
        }
}

impl Publisher {
    async fn run(mut self) {
        let mut delay = self.reconnect_delay;
        let mut closed = self.closed.clone();
        loop {
            if self.down_since.is_none() {
                let next = tokio::select! {
                    next = self.jobs.recv() => next,
                    _ = closed.wait_for(|c| *c) => return,
                };
                let Some(publish) = next else { return };
                if !self.send_live(publish).await {
                    return;
                }
                delay = self.reconnect_delay;
                continue;
            }
            // The database cannot be reached: queue, refuse, and try again after `delay` or
            // as soon as the connection is back.
            let retry = tokio::time::sleep(delay);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    () = &mut retry => break,
                    changed = self.status.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *self.status.borrow_and_update() == PostgresStatus::Connected {
                            break;
                        }
                    }
                    next = self.jobs.recv() => match next {
                        Some(publish) => self.while_down(publish),
                        // Every adapter and the clients are gone: nobody is left to publish for.
                        None => return,
                    },
                    _ = closed.wait_for(|c| *c) => return,
                }
            }
            if *self.status.borrow() != PostgresStatus::Connected {
                continue;
            }
            match self.flush().await {
                Some(true) => delay = self.reconnect_delay,
                Some(false) => delay = delay.saturating_mul(2).min(self.max_reconnect_delay),
                None => return,
            }
        }
    }

    /// Runs one message's statements. Answers `false` when the hub is gone.
    async fn send_live(&mut self, publish: Publish) -> bool {
        let Some(hub) = self.hub.upgrade() else { return false };
        match hub.send(&publish.channel, &publish.message).await {
            Ok(()) => {
                if let Some(done) = publish.done {
                    let _ = done.send(Ok(()));
                }
            }
            Err(Failure::Unreachable(reason)) => {
                tracing::warn!(error = %reason, "postgres adapter: PostgreSQL cannot be reached, queueing what is published until it is back");
                self.down_since = Some(Instant::now());
                // Not taken as published: it goes first in the queue.
                self.refuse_or_queue(publish, &reason);
                self.report();
            }
            Err(Failure::Refused(reason)) => {
                tracing::warn!(error = %reason, channel = %publish.channel, "postgres adapter: a message could not be published");
                if let Some(done) = publish.done {
                    let _ = done.send(Err(reason));
                }
            }
        }
        true
    }

    /// A message submitted while the database cannot be reached.
    fn while_down(&mut self, publish: Publish) {
        self.refuse_or_queue(
            publish,
            "PostgreSQL cannot be reached (the connection is being re-established)",
        );
        self.report();
    }

    fn refuse_or_queue(&mut self, publish: Publish, reason: &str) {
        match publish.done {
            Some(done) => {
                let _ = done.send(Err(reason.to_owned()));
            }
            None if !publish.keep => {}
            None => {
                let size = outgoing_size(&publish.channel, &publish.message);
                let dropped =
                    self.queue.push((publish.channel, publish.message), size, crate::publish_queue::now());
                self.log_dropped(dropped);
            }
        }
    }

    /// Publishes the queue in order. Answers whether the database was reachable all along
    /// (then the queue is empty and the publisher is live again), or `None` when the hub is gone.
    async fn flush(&mut self) -> Option<bool> {
        let mut published = 0usize;
        loop {
            let dropped = self.queue.expire(crate::publish_queue::now());
            self.log_dropped(dropped);
            let batch = self.queue.take(FLUSH_BATCH);
            if batch.is_empty() {
                break;
            }
            let hub = self.hub.upgrade()?;
            let mut batch = batch.into_iter();
            while let Some(queued) = batch.next() {
                let (channel, message) = &queued.item;
                match hub.send(channel, message).await {
                    Ok(()) => published += 1,
                    Err(Failure::Refused(reason)) => {
                        tracing::warn!(error = %reason, channel = %channel, "postgres adapter: a queued message could not be published");
                    }
                    Err(Failure::Unreachable(reason)) => {
                        let rest: Vec<Queued<(String, Outgoing)>> =
                            std::iter::once(queued).chain(batch).collect();
                        tracing::debug!(error = %reason, queued = self.queue.len() + rest.len(), "postgres adapter: PostgreSQL still cannot be reached");
                        let dropped = self.queue.put_back(rest, crate::publish_queue::now());
                        self.log_dropped(dropped);
                        self.report();
                        return Some(false);
                    }
                }
                self.report();
            }
        }
        let outage = self.down_since.take().map(|since| since.elapsed()).unwrap_or_default();
        tracing::info!(
            published,
            dropped_total = self.queue.dropped(),
            outage_ms = u64::try_from(outage.as_millis()).unwrap_or(u64::MAX),
            "postgres adapter: PostgreSQL is reachable again, the queued messages are published"
        );
        self.report();
        Some(true)
    }

    fn log_dropped(&self, dropped: DroppedMessages) {
        QueueStats::warn_dropped(&self.queue, dropped, "postgres adapter", "PostgreSQL");
    }

    fn report(&self) {
        self.stats.report(&self.queue);
    }
}

/// Deletes the attachments older than the cleanup interval, every cleanup interval.
async fn cleanup_loop(hub: Weak<Hub>, mut closed: watch::Receiver<bool>) {
    let Some(interval) = hub.upgrade().map(|h| h.config.cleanup_interval) else { return };
    if interval.is_zero() {
        return;
    }
    let mut next = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        next += interval;
        let Some(hub) = hub.upgrade() else { return };
        let Some(client) = hub.client() else { continue };
        let statement = cleanup_statement(&hub.config.table_name, interval);
        if let Err(e) = client.batch_execute(&statement).await {
            tracing::debug!(error = %e, "postgres adapter: attachments cleanup failed");
        }
    }
}

/// The reference's cleanup: rows older than `interval`.
pub(crate) fn cleanup_statement(table: &str, interval: Duration) -> String {
    format!("DELETE FROM {table} WHERE created_at < now() - interval '{} milliseconds'", interval.as_millis())
}
