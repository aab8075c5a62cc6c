//! The two Redis connections a node's adapters share, each held by one task, as the reference
//! shares one `pubClient` and one `subClient` between namespaces:
//!
//! * the publisher sends commands in the order they were submitted, every command queued
//!   meanwhile going out in one pipeline. When Redis cannot be reached, the messages nobody
//!   waits on ([`Hub::publish`]) go to a bounded [`PublishQueue`] and the commands whose answer
//!   is awaited fail at once; the connection is tried again with exponential backoff, and once
//!   it answers the queue is published, in order, before anything submitted later;
//! * the subscriber holds every namespace's subscriptions, hands each message to the adapter
//!   that subscribed to its channel, and when the connection drops reconnects with exponential
//!   backoff and subscribes again to everything.
//!
//! Neither task decides anything about the protocol.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub, PubSubSink, PubSubStream};
use ::redis::{Client, Cmd, Msg, RedisError, Value as RedisValue};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::adapter::AdapterError;
use crate::publish_queue::{DroppedMessages, PublishQueue, QueueLimits, QueueStats, Queued};

/// Commands sent in one pipeline at most.
const MAX_BATCH: usize = 512;

/// Where the subscriber hands the messages of the channels an adapter subscribed to.
pub(crate) trait Inbox: Send + Sync + 'static {
    /// A message on a channel of one of the adapter's patterns (its broadcast channels).
    fn on_broadcast(&self, channel: &str, payload: &[u8]);
    /// A message on one of the adapter's channels (requests and responses).
    fn on_message(&self, channel: &str, payload: &[u8]);
}

/// The channels and patterns one adapter listens to.
pub(crate) struct Subscription {
    /// The adapter's route id, from [`Hub::next_route`].
    pub(crate) route: u64,
    /// Channels (`SUBSCRIBE`).
    pub(crate) channels: Vec<String>,
    /// Patterns (`PSUBSCRIBE`).
    pub(crate) patterns: Vec<String>,
    /// Where their messages go.
    pub(crate) inbox: Weak<dyn Inbox>,
}

enum Control {
    Add(Subscription),
    Remove { route: u64, done: oneshot::Sender<()> },
}

/// The state of the subscription connection, as [`RedisClients::status`] reports it.
///
/// [`RedisClients::status`]: super::RedisClients::status
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStatus {
    /// Whether the subscription connection is up and every subscription is in place. While it is
    /// not, this node hears nothing from the others (its own sockets are still served).
    pub subscribed: bool,
    /// How many times the subscription connection was established: 1 after the start, one more
    /// after each reconnection.
    pub connections: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    status: RedisStatus,
    /// The last subscription change in place on a live connection.
    applied: u64,
}

/// How the connections are made and re-made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// The first delay before reconnecting the subscription connection.
    pub(crate) reconnect_delay: Duration,
    /// The longest delay between two reconnection attempts.
    pub(crate) max_reconnect_delay: Duration,
    /// How long one connection attempt may take.
    pub(crate) connection_timeout: Duration,
    /// How long the publisher waits for Redis to answer a pipeline.
    pub(crate) response_timeout: Duration,
    /// The bounds of what is kept for Redis while it cannot be reached.
    pub(crate) queue: QueueLimits,
}

/// What the publisher is asked to send.
enum Job {
    /// A message nobody waits on: queued while Redis cannot be reached.
    Publish { channel: String, payload: Bytes },
    /// A command whose answer is awaited: it fails at once while Redis cannot be reached.
    Command { cmd: Cmd, reply: oneshot::Sender<Result<RedisValue, String>> },
}

/// What a submitted command resolves to.
pub(crate) type Reply = oneshot::Receiver<Result<RedisValue, String>>;

/// The shared connections: a handle to the two tasks.
pub(crate) struct Hub {
    jobs: mpsc::UnboundedSender<Job>,
    stats: Arc<QueueStats>,
    /// The last sequence number given to a subscription change, and the channel the changes go
    /// through, under one lock so that they are sent in sequence order.
    control: Mutex<(u64, mpsc::UnboundedSender<(u64, Control)>)>,
    state: watch::Receiver<State>,
    next_route: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("status", &self.state.borrow().status).finish_non_exhaustive()
    }
}

fn timed_out(what: &str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, what.to_owned()))
}

impl Hub {
    /// Connects both connections (failing if Redis cannot be reached now) and starts the tasks.
    pub(crate) async fn start(client: Client, settings: Settings) -> Result<Hub, RedisError> {
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(settings.connection_timeout)
            .set_response_timeout(settings.response_timeout);
        let manager = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        let pubsub = tokio::time::timeout(settings.connection_timeout, client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("connecting the subscription connection timed out"))??;

        let (jobs, job_queue) = mpsc::unbounded_channel();
        let (control, controls) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(State::default());
        let stats = Arc::new(QueueStats::default());
        let publisher = Publisher {
            conn: manager,
            jobs: job_queue,
            queue: PublishQueue::new(settings.queue),
            stats: stats.clone(),
            settings,
            down_since: None,
        };
        let publisher = tokio::spawn(publisher.run());
        let subscriber = tokio::spawn(subscribe_loop(client, pubsub, controls, state_tx, settings));
        Ok(Hub {
            jobs,
            stats,
            control: Mutex::new((0, control)),
            state,
            next_route: AtomicU64::new(1),
            tasks: Mutex::new(vec![publisher, subscriber]),
        })
    }

    fn control(&self) -> MutexGuard<'_, (u64, mpsc::UnboundedSender<(u64, Control)>)> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh route id for an adapter.
    pub(crate) fn next_route(&self) -> u64 {
        self.next_route.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `PUBLISH channel payload`. While Redis cannot be reached it waits in the
    /// publisher's bounded queue; what the queue drops is logged and counted.
    pub(crate) fn publish(&self, channel: String, payload: Bytes) {
        let _ = self.jobs.send(Job::Publish { channel, payload });
    }

    /// How many messages the publisher has dropped because Redis could not be reached for too
    /// long (a queue limit was reached).
    pub(crate) fn dropped_publishes(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// How many messages wait for Redis.
    pub(crate) fn queued_publishes(&self) -> u64 {
        self.stats.queued.load(Ordering::Relaxed)
    }

    /// Queues `PUBLISH channel payload` and answers the number of receivers.
    pub(crate) fn publish_counted(&self, channel: &str, payload: &Bytes) -> Reply {
        self.submit(publish_cmd(channel, payload))
    }

    /// Queues `PUBSUB NUMSUB channel`.
    pub(crate) fn numsub(&self, channel: &str) -> Reply {
        let mut cmd = ::redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(channel);
        self.submit(cmd)
    }

    fn submit(&self, cmd: Cmd) -> Reply {
        let (reply, answer) = oneshot::channel();
        // When the publisher is gone the reply sender is dropped, which the waiter sees.
        let _ = self.jobs.send(Job::Command { cmd, reply });
        answer
    }

    /// Adds a subscription; answers its sequence number for [`wait_subscribed`](Self::wait_subscribed).
    pub(crate) fn subscribe(&self, subscription: Subscription) -> u64 {
        let mut control = self.control();
        control.0 += 1;
        let seq = control.0;
        let _ = control.1.send((seq, Control::Add(subscription)));
        seq
    }

    /// Removes the subscriptions of `route`; the answer comes when they are gone.
    pub(crate) fn unsubscribe(&self, route: u64) -> oneshot::Receiver<()> {
        let (done, gone) = oneshot::channel();
        let mut control = self.control();
        control.0 += 1;
        let seq = control.0;
        let _ = control.1.send((seq, Control::Remove { route, done }));
        gone
    }

    /// Waits until the subscription connection is up with every change up to `seq` in place.
    /// Returns at once, doing nothing, if the subscriber has stopped.
    pub(crate) async fn wait_subscribed(&self, seq: u64) {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| s.status.subscribed && s.applied >= seq).await;
    }

    /// The subscription connection's state.
    pub(crate) fn status(&self) -> RedisStatus {
        self.state.borrow().status
    }

    /// Stops both tasks; their connections are closed.
    pub(crate) fn shutdown(&self) {
        for task in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            task.abort();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn publish_cmd(channel: &str, payload: &[u8]) -> Cmd {
    let mut cmd = ::redis::cmd("PUBLISH");
    cmd.arg(channel).arg(payload);
    cmd
}

/// Waits for a submitted command's answer until `deadline`.
pub(crate) async fn reply(answer: Reply, deadline: Instant) -> Result<RedisValue, AdapterError> {
    match tokio::time::timeout_at(deadline, answer).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(reason))) => Err(AdapterError::Transport(reason)),
        Ok(Err(_)) => Err(AdapterError::Transport("the Redis publisher has stopped".to_owned())),
        Err(_) => Err(AdapterError::Transport("Redis did not answer in time".to_owned())),
    }
}

fn integer(value: &RedisValue) -> Option<i64> {
    match value {
        RedisValue::Int(i) => Some(*i),
        RedisValue::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        RedisValue::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// The count of a `PUBSUB NUMSUB <channel>` answer: `[channel, count]` (RESP2) or
/// `{channel: count}` (RESP3).
pub(crate) fn numsub_count(value: &RedisValue) -> Option<usize> {
    let count = match value {
        RedisValue::Array(items) => integer(items.get(1)?)?,
        RedisValue::Map(pairs) => integer(&pairs.first()?.1)?,
        _ => return None,
    };
    usize::try_from(count).ok()
}

/// The publisher task: one connection, the jobs in submission order, and the queue of what
/// waits for Redis while it cannot be reached.
struct Publisher {
    conn: ConnectionManager,
    jobs: mpsc::UnboundedReceiver<Job>,
    queue: PublishQueue<(String, Bytes)>,
    stats: Arc<QueueStats>,
    settings: Settings,
    /// Since when Redis could not be reached, while it cannot.
    down_since: Option<Instant>,
}

/// Whether a failure means the connection is gone (rather than Redis refusing a command).
fn unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_unrecoverable_error() || e.is_timeout()
}

/// Sends a pipeline, once more if the connection had been lost before it: the manager has
/// started a new connection, which the second try waits for.
async fn send(conn: &mut ConnectionManager, pipe: &::redis::Pipeline) -> Result<Vec<RedisValue>, RedisError> {
    let result = pipe.query_async::<Vec<RedisValue>>(conn).await;
    match result {
        Err(e) if e.is_unrecoverable_error() => pipe.query_async::<Vec<RedisValue>>(conn).await,
        other => other,
    }
}

fn message_size(channel: &str, payload: &Bytes) -> usize {
    channel.len() + payload.len()
}

impl Publisher {
    async fn run(mut self) {
        let mut delay = self.settings.reconnect_delay;
        loop {
            if self.down_since.is_none() {
                let Some(job) = self.jobs.recv().await else { return };
                self.send_live(job).await;
                delay = self.settings.reconnect_delay;
                continue;
            }
            // Redis cannot be reached: queue, refuse, and try again after `delay`.
            let retry = tokio::time::sleep(delay);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    () = &mut retry => break,
                    job = self.jobs.recv() => match job {
                        Some(job) => self.while_down(job),
                        // Every adapter and the clients are gone: nobody is left to publish for.
                        None => return,
                    },
                }
            }
            if !self.flush().await {
                delay = delay.saturating_mul(2).min(self.settings.max_reconnect_delay);
            }
        }
    }

    /// Sends `first` and whatever else is waiting, in one pipeline.
    async fn send_live(&mut self, first: Job) {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut pipe = ::redis::pipe();
        for job in &batch {
            match job {
                Job::Publish { channel, payload } => pipe.add_command(publish_cmd(channel, payload)),
                Job::Command { cmd, .. } => pipe.add_command(cmd.clone()),
            };
        }
        match send(&mut self.conn, &pipe).await {
            Ok(values) => {
                let mut values = values.into_iter();
                for job in batch {
                    let value = values.next();
                    if let Job::Command { reply, .. } = job {
                        let _ = reply
                            .send(value.ok_or_else(|| "Redis sent fewer answers than commands".to_owned()));
                    }
                }
            }
            Err(e) if unreachable(&e) => {
                let reason = format!("Redis cannot be reached: {e}");
                tracing::warn!(error = %e, "redis adapter: Redis cannot be reached, queueing what is published until it is back");
                self.down_since = Some(Instant::now());
                // Nothing of this pipeline is taken as published: it goes first in the queue.
                for job in batch {
                    self.refuse_or_queue(job, &reason);
                }
                self.report();
            }
            Err(e) => {
                // Redis answered, with an error: queueing again would not help.
                let reason = e.to_string();
                for job in batch {
                    if let Job::Command { reply, .. } = job {
                        let _ = reply.send(Err(reason.clone()));
                    }
                }
                tracing::warn!(error = %reason, "redis adapter: publishing failed");
            }
        }
    }

    /// A job submitted while Redis cannot be reached.
    fn while_down(&mut self, job: Job) {
        let reason = "Redis cannot be reached (the connection is being re-established)";
        self.refuse_or_queue(job, reason);
        self.report();
    }

    fn refuse_or_queue(&mut self, job: Job, reason: &str) {
        match job {
            Job::Publish { channel, payload } => {
                let size = message_size(&channel, &payload);
                let dropped = self.queue.push((channel, payload), size, crate::publish_queue::now());
                self.log_dropped(dropped);
            }
            Job::Command { reply, .. } => {
                let _ = reply.send(Err(reason.to_owned()));
            }
        }
    }

    /// Tries the connection again: publishes the queue in order, or sends a `PING` when it is
    /// empty. Answers whether Redis is reachable again (then the queue is empty).
    async fn flush(&mut self) -> bool {
        let mut published = 0usize;
        let mut probed = false;
        loop {
            let dropped = self.queue.expire(crate::publish_queue::now());
            self.log_dropped(dropped);
            let batch = self.queue.take(MAX_BATCH);
            if batch.is_empty() && probed {
                break;
            }
            probed = true;
            let mut pipe = ::redis::pipe();
            if batch.is_empty() {
                pipe.add_command(::redis::cmd("PING"));
            }
            for queued in &batch {
                let (channel, payload) = &queued.item;
                pipe.add_command(publish_cmd(channel, payload));
            }
            if let Err(e) = send(&mut self.conn, &pipe).await {
                tracing::debug!(error = %e, queued = self.queue.len() + batch.len(), "redis adapter: Redis still cannot be reached");
                self.put_back(batch);
                self.report();
                return false;
            }
            published += batch.len();
            self.report();
        }
        let outage = self.down_since.take().map(|since| since.elapsed()).unwrap_or_default();
        tracing::info!(
            published,
            dropped_total = self.queue.dropped(),
            outage_ms = u64::try_from(outage.as_millis()).unwrap_or(u64::MAX),
            "redis adapter: Redis is reachable again, the queued messages are published"
        );
        true
    }

    fn put_back(&mut self, batch: Vec<Queued<(String, Bytes)>>) {
        let dropped = self.queue.put_back(batch, crate::publish_queue::now());
        self.log_dropped(dropped);
    }

    fn log_dropped(&self, dropped: DroppedMessages) {
        QueueStats::warn_dropped(&self.queue, dropped, "redis adapter", "Redis");
    }

    fn report(&self) {
        self.stats.report(&self.queue);
    }
}

type Routed = Vec<(u64, Weak<dyn Inbox>)>;

/// Which adapter listens to which channel and pattern.
#[derive(Default)]
struct Routes {
    channels: HashMap<String, Routed>,
    patterns: HashMap<String, Routed>,
    /// The last change recorded.
    recorded: u64,
}

/// What a subscription change asks of the connection.
#[derive(Default)]
struct Change {
    subscribe: Vec<String>,
    psubscribe: Vec<String>,
    unsubscribe: Vec<String>,
    punsubscribe: Vec<String>,
    done: Option<oneshot::Sender<()>>,
}

fn add_routes(
    table: &mut HashMap<String, Routed>,
    names: Vec<String>,
    route: u64,
    inbox: &Weak<dyn Inbox>,
) -> Vec<String> {
    let mut new = Vec::new();
    for name in names {
        let routed = table.entry(name.clone()).or_default();
        if routed.is_empty() {
            new.push(name);
        }
        routed.push((route, inbox.clone()));
    }
    new
}

fn remove_routes(table: &mut HashMap<String, Routed>, route: u64) -> Vec<String> {
    let mut gone = Vec::new();
    table.retain(|name, routed| {
        routed.retain(|(r, _)| *r != route);
        if routed.is_empty() {
            gone.push(name.clone());
            false
        } else {
            true
        }
    });
    gone
}

impl Routes {
    fn record(&mut self, seq: u64, control: Control) -> Change {
        self.recorded = self.recorded.max(seq);
        match control {
            Control::Add(sub) => Change {
                subscribe: add_routes(&mut self.channels, sub.channels, sub.route, &sub.inbox),
                psubscribe: add_routes(&mut self.patterns, sub.patterns, sub.route, &sub.inbox),
                ..Change::default()
            },
            Control::Remove { route, done } => Change {
                unsubscribe: remove_routes(&mut self.channels, route),
                punsubscribe: remove_routes(&mut self.patterns, route),
                done: Some(done),
                ..Change::default()
            },
        }
    }

    /// Records a change made while disconnected: the next connection subscribes to everything.
    fn record_offline(&mut self, seq: u64, control: Control) {
        if let Some(done) = self.record(seq, control).done {
            let _ = done.send(());
        }
    }

    async fn apply(&mut self, seq: u64, control: Control, sink: &mut PubSubSink) -> Result<(), RedisError> {
        let change = self.record(seq, control);
        let result = async {
            if !change.subscribe.is_empty() {
                sink.subscribe(&change.subscribe).await?;
            }
            if !change.psubscribe.is_empty() {
                sink.psubscribe(&change.psubscribe).await?;
            }
            if !change.unsubscribe.is_empty() {
                sink.unsubscribe(&change.unsubscribe).await?;
            }
            if !change.punsubscribe.is_empty() {
                sink.punsubscribe(&change.punsubscribe).await?;
            }
            Ok(())
        }
        .await;
        if let Some(done) = change.done {
            // Gone from the routes, so gone for this node, whatever Redis answered.
            let _ = done.send(());
        }
        result
    }

    async fn subscribe_all(&self, sink: &mut PubSubSink) -> Result<(), RedisError> {
        let channels: Vec<&String> = self.channels.keys().collect();
        if !channels.is_empty() {
            sink.subscribe(&channels).await?;
        }
        let patterns: Vec<&String> = self.patterns.keys().collect();
        if !patterns.is_empty() {
            sink.psubscribe(&patterns).await?;
        }
        Ok(())
    }

    fn dispatch(&self, msg: &Msg) {
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        let (routed, broadcast) = if msg.from_pattern() {
            let Ok(pattern) = msg.get_pattern::<String>() else { return };
            (self.patterns.get(&pattern), true)
        } else {
            (self.channels.get(channel), false)
        };
        for (_, inbox) in routed.into_iter().flatten() {
            let Some(inbox) = inbox.upgrade() else { continue };
            // A panic in a handler the message reaches must not end the subscription.
            let handled = catch_unwind(AssertUnwindSafe(|| {
                if broadcast {
                    inbox.on_broadcast(channel, payload);
                } else {
                    inbox.on_message(channel, payload);
                }
            }));
            if handled.is_err() {
                tracing::error!(channel, "redis adapter: a handler panicked on a message");
            }
        }
    }
}

async fn subscribe_loop(
    client: Client,
    first: PubSub,
    mut controls: mpsc::UnboundedReceiver<(u64, Control)>,
    state: watch::Sender<State>,
    settings: Settings,
) {
    let mut routes = Routes::default();
    let mut connection = Some(first);
    let mut delay = settings.reconnect_delay;
    loop {
        if let Some(pubsub) = connection.take() {
            let (mut sink, mut stream) = pubsub.split();
            // The changes that came while connecting.
            loop {
                match controls.try_recv() {
                    Ok((seq, control)) => routes.record_offline(seq, control),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            match routes.subscribe_all(&mut sink).await {
                Ok(()) => {
                    delay = settings.reconnect_delay;
                    state.send_modify(|s| {
                        s.status.subscribed = true;
                        s.status.connections += 1;
                        s.applied = routes.recorded;
                    });
                    let stopped = serve(&mut routes, &mut sink, &mut stream, &mut controls, &state).await;
                    state.send_modify(|s| s.status.subscribed = false);
                    if stopped {
                        return;
                    }
                    tracing::warn!("redis adapter: the subscription connection was lost, reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "redis adapter: subscribing failed, reconnecting"),
            }
        }
        // Wait before the next attempt, still taking changes.
        let pause = tokio::time::sleep(delay);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                control = controls.recv() => match control {
                    Some((seq, control)) => routes.record_offline(seq, control),
                    None => return,
                },
            }
        }
        delay = delay.saturating_mul(2).min(settings.max_reconnect_delay);
        match tokio::time::timeout(settings.connection_timeout, client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => connection = Some(pubsub),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis adapter: reconnecting the subscription connection failed")
            }
            Err(_) => tracing::warn!("redis adapter: reconnecting the subscription connection timed out"),
        }
    }
}

/// Serves one live subscription connection. Answers `true` when the adapters are all gone (the
/// task stops), `false` when the connection is lost.
async fn serve(
    routes: &mut Routes,
    sink: &mut PubSubSink,
    stream: &mut PubSubStream,
    controls: &mut mpsc::UnboundedReceiver<(u64, Control)>,
    state: &watch::Sender<State>,
) -> bool {
    loop {
        tokio::select! {
            control = controls.recv() => match control {
                None => return true,
                Some((seq, control)) => {
                    if let Err(e) = routes.apply(seq, control, sink).await {
                        tracing::warn!(error = %e, "redis adapter: changing subscriptions failed");
                        return false;
                    }
                    state.send_modify(|s| s.applied = seq);
                }
            },
            msg = stream.next() => match msg {
                Some(msg) => routes.dispatch(&msg),
                None => return false,
            },
        }
    }
}
