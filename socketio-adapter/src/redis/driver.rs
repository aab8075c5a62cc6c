//! The two Redis connections a node's adapters share, each held by one task, as the reference
//! shares one `pubClient` and one `subClient` between namespaces:
//!
//! * the publisher sends commands in the order they were submitted, every command queued
//!   meanwhile going out in one pipeline; a failure is reported to whoever waits on the command
//!   (and logged), and the connection is re-established on the next command;
//! * the subscriber holds every namespace's subscriptions, hands each message to the adapter
//!   that subscribed to its channel, and when the connection drops reconnects with exponential
//!   backoff and subscribes again to everything.
//!
//! Neither task decides anything about the protocol.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
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
}

struct Job {
    cmd: Cmd,
    reply: Option<oneshot::Sender<Result<RedisValue, String>>>,
}

/// What a submitted command resolves to.
pub(crate) type Reply = oneshot::Receiver<Result<RedisValue, String>>;

/// The shared connections: a handle to the two tasks.
pub(crate) struct Hub {
    jobs: mpsc::UnboundedSender<Job>,
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
        let publisher = tokio::spawn(publish_loop(manager, job_queue));
        let subscriber = tokio::spawn(subscribe_loop(client, pubsub, controls, state_tx, settings));
        Ok(Hub {
            jobs,
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

    /// Queues `PUBLISH channel payload`; a failure is logged by the publisher.
    pub(crate) fn publish(&self, channel: String, payload: Bytes) {
        let _ = self.jobs.send(Job { cmd: publish_cmd(&channel, &payload), reply: None });
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
        let _ = self.jobs.send(Job { cmd, reply: Some(reply) });
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

async fn publish_loop(mut conn: ConnectionManager, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut replies = Vec::new();
    while let Some(job) = jobs.recv().await {
        let mut pipe = ::redis::pipe();
        pipe.add_command(job.cmd);
        replies.push(job.reply);
        while replies.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => {
                    pipe.add_command(job.cmd);
                    replies.push(job.reply);
                }
                Err(_) => break,
            }
        }
        let mut result = pipe.query_async::<Vec<RedisValue>>(&mut conn).await;
        if matches!(&result, Err(e) if e.is_unrecoverable_error()) {
            // The connection was gone before this pipeline (a restarted Redis, say): the manager
            // has started a new one, which the second try waits for.
            result = pipe.query_async::<Vec<RedisValue>>(&mut conn).await;
        }
        match result {
            Ok(values) => {
                let mut values = values.into_iter();
                for reply in replies.drain(..) {
                    let value = values.next();
                    if let Some(reply) = reply {
                        let _ = reply
                            .send(value.ok_or_else(|| "Redis sent fewer answers than commands".to_owned()));
                    }
                }
            }
            Err(e) => {
                let reason = e.to_string();
                let mut failed = replies.len();
                for reply in replies.drain(..).flatten() {
                    let _ = reply.send(Err(reason.clone()));
                }
                // What was queued meanwhile would meet the same connection: it fails now rather
                // than piling up while Redis is away.
                while let Ok(job) = jobs.try_recv() {
                    failed += 1;
                    if let Some(reply) = job.reply {
                        let _ = reply.send(Err(reason.clone()));
                    }
                }
                tracing::warn!(error = %reason, commands = failed, "redis adapter: publishing failed");
            }
        }
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
