//! The Redis Cluster side of the sharded adapter: which master serves which hash slot, and the
//! two tasks every namespace's adapter shares, as the reference shares one `pubClient` and one
//! `subClient`:
//!
//! * the publisher sends each `SPUBLISH` to the master of its channel's slot, in submission
//!   order. A `MOVED` answer refreshes the slot map and sends again. When the master cannot be
//!   reached (killed, or failing over: `CLUSTERDOWN`, `TRYAGAIN`), the messages nobody waits
//!   on go to a bounded [`PublishQueue`] and what is awaited fails at once; the slot map is
//!   read again with exponential backoff, and once a master takes the message the queue is
//!   published, in order, before anything submitted later;
//! * the subscriber keeps one RESP3 connection per master it needs and each channel
//!   `SSUBSCRIBE`d on the master of its slot. When a connection drops or Redis takes a
//!   subscription away (`sunsubscribe`, as it does when a slot changes master), the slot map
//!   is read again and every channel that lost its place is subscribed where it now lives.
//!
//! Neither task decides anything about the protocol.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, ProtocolVersion, PushInfo,
    PushKind, RedisError, Value as RedisValue,
};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::wire::{key_slot, SLOTS};
use crate::publish_queue::{DroppedMessages, PublishQueue, QueueLimits, QueueStats, Queued};
use crate::redis::driver::numsub_count;

/// Commands taken at once by the publisher.
const MAX_BATCH: usize = 512;
/// How often a command is sent again after `MOVED` before it is taken as failed.
const MAX_REDIRECTS: usize = 3;

/// How the connections are made and re-made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) reconnect_delay: Duration,
    pub(crate) max_reconnect_delay: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) queue: QueueLimits,
}

/// Where the sharded adapter's subscriptions stand, as
/// [`ShardedRedisClients::status`](super::ShardedRedisClients::status) reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardedRedisStatus {
    /// Whether every channel of every adapter is subscribed on the master that serves its slot.
    /// While it is not, this node misses what is published on the channels not in place (its
    /// own sockets are still served).
    pub subscribed: bool,
    /// How many masters this node holds a subscription connection to.
    pub masters: usize,
    /// How many times a channel had to be subscribed again after losing its place (a lost
    /// connection, a failover, a slot moved).
    pub resubscriptions: u64,
}

/// Where the subscriber hands the messages of the channels an adapter subscribed to.
pub(crate) trait Inbox: Send + Sync + 'static {
    fn on_message(&self, channel: &str, payload: &[u8]);
}

// -------------------------------------------------------------------------------------------
// The slot map

/// A cluster node's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Addr {
    host: String,
    port: u16,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The seeds, the credentials, and which master serves which slots.
pub(crate) struct Cluster {
    /// The connection settings every node shares (user, password, protocol).
    template: ConnectionInfo,
    seeds: Vec<Addr>,
    /// The master of each slot range, sorted by the first slot: `(first, last, master)`.
    slots: Mutex<Vec<(u16, u16, Addr)>>,
    settings: Settings,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn io_error(what: String) -> RedisError {
    RedisError::from(std::io::Error::other(what))
}

impl Cluster {
    pub(crate) fn new(seeds: Vec<ConnectionInfo>, settings: Settings) -> Result<Cluster, RedisError> {
        let addrs = seeds
            .iter()
            .map(|info| match &info.addr {
                ConnectionAddr::Tcp(host, port) => Ok(Addr { host: host.clone(), port: *port }),
                other => {
                    Err(io_error(format!("a Redis Cluster node is reached over plain TCP, not {other}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let template =
            seeds.into_iter().next().ok_or_else(|| io_error("no Redis Cluster node given".to_owned()))?;
        Ok(Cluster { template, seeds: addrs, slots: Mutex::new(Vec::new()), settings })
    }

    /// Connects to `addr`, in RESP3 with pushes sent to `pushes` when given.
    async fn connect(
        &self,
        addr: &Addr,
        pushes: Option<Box<dyn Fn(PushInfo) + Send + Sync>>,
    ) -> Result<MultiplexedConnection, RedisError> {
        let mut info = self.template.clone();
        info.addr = ConnectionAddr::Tcp(addr.host.clone(), addr.port);
        info.redis.db = 0;
        let mut config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.settings.connection_timeout)
            .set_response_timeout(self.settings.response_timeout);
        if let Some(pushes) = pushes {
            info.redis.protocol = ProtocolVersion::RESP3;
            config = config.set_push_sender(move |info: PushInfo| {
                pushes(info);
                Ok::<(), std::convert::Infallible>(())
            });
        }
        let client = Client::open(info)?;
        tokio::time::timeout(
            self.settings.connection_timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| io_error(format!("connecting to {addr} timed out")))?
    }

    /// The master serving `slot`, if the map knows it.
    fn owner(&self, slot: u16) -> Option<Addr> {
        let slots = lock(&self.slots);
        let at = slots.partition_point(|(first, _, _)| *first <= slot);
        let (first, last, addr) = slots.get(at.checked_sub(1)?)?;
        (*first <= slot && slot <= *last).then(|| addr.clone())
    }

    fn masters(&self) -> Vec<Addr> {
        let mut masters: Vec<Addr> = lock(&self.slots).iter().map(|(_, _, a)| a.clone()).collect();
        masters.sort();
        masters.dedup();
        masters
    }

    /// Reads the slot map again (`CLUSTER SLOTS`), from the masters it knows, then the seeds.
    pub(crate) async fn refresh(&self) -> Result<(), RedisError> {
        let mut candidates = self.masters();
        candidates.extend(self.seeds.iter().cloned());
        let mut last = io_error("no Redis Cluster node could be asked for the slot map".to_owned());
        let mut tried = HashSet::new();
        for addr in candidates {
            if !tried.insert(addr.clone()) {
                continue;
            }
            let answer = async {
                let mut conn = self.connect(&addr, None).await?;
                conn.send_packed_command(&::redis::cmd("CLUSTER").arg("SLOTS").clone()).await
            };
            match answer.await.map(|value| parse_slots(&value, &addr.host)) {
                Ok(Some(map)) => {
                    *lock(&self.slots) = map;
                    return Ok(());
                }
                Ok(None) => last = io_error(format!("{addr} answered CLUSTER SLOTS with an incomplete map")),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Reads a `CLUSTER SLOTS` answer: `[[first, last, [host, port, id, ..], replicas..], ..]`.
/// `None` unless every slot has a master (a map with holes is being changed: ask again).
fn parse_slots(value: &RedisValue, asked_host: &str) -> Option<Vec<(u16, u16, Addr)>> {
    let RedisValue::Array(ranges) = value else { return None };
    let mut map = Vec::with_capacity(ranges.len());
    for range in ranges {
        let RedisValue::Array(items) = range else { return None };
        let first = u16::try_from(integer(items.first()?)?).ok()?;
        let last = u16::try_from(integer(items.get(1)?)?).ok()?;
        let RedisValue::Array(master) = items.get(2)? else { return None };
        let host = match master.first()? {
            RedisValue::BulkString(b) => String::from_utf8(b.clone()).ok()?,
            RedisValue::SimpleString(s) => s.clone(),
            _ => return None,
        };
        // An empty host (or `?`) means the node asked: it does not know its own address.
        let host = if host.is_empty() || host == "?" { asked_host.to_owned() } else { host };
        let port = u16::try_from(integer(master.get(1)?)?).ok()?;
        map.push((first, last, Addr { host, port }));
    }
    map.sort_by_key(|(first, _, _)| *first);
    let mut next = 0u32;
    for (first, last, _) in &map {
        if u32::from(*first) != next || last < first {
            return None;
        }
        next = u32::from(*last) + 1;
    }
    (next == u32::from(SLOTS)).then_some(map)
}

fn integer(value: &RedisValue) -> Option<i64> {
    match value {
        RedisValue::Int(i) => Some(*i),
        RedisValue::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Whether an error means the node is gone or not serving (rather than refusing the command).
fn unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_unrecoverable_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || matches!(e.kind(), ErrorKind::ClusterDown | ErrorKind::TryAgain | ErrorKind::MasterDown)
}

fn redirected(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Moved | ErrorKind::Ask)
}

// -------------------------------------------------------------------------------------------
// The hub

/// What the publisher is asked to send.
enum Job {
    /// A message nobody waits on: queued while its master cannot be reached.
    Publish { channel: String, payload: Bytes },
    /// A message whose publication is awaited: it fails at once while Redis cannot be reached.
    Confirmed { channel: String, payload: Bytes, reply: oneshot::Sender<Result<(), String>> },
    /// `PUBSUB SHARDNUMSUB channel`, on the channel's master.
    NumSub { channel: String, reply: oneshot::Sender<Result<usize, String>> },
}

enum Control {
    /// Route `channels` to `inbox` under `route`; `done` fires once they are all subscribed.
    Add { route: u64, channels: Vec<String>, inbox: Weak<dyn Inbox>, done: Option<oneshot::Sender<()>> },
    /// Stop routing `channels` to `route`.
    RemoveChannels { route: u64, channels: Vec<String> },
    /// Stop routing anything to `route`.
    Remove { route: u64, done: oneshot::Sender<()> },
}

/// The shared connections: a handle to the two tasks.
pub(crate) struct Hub {
    cluster: Arc<Cluster>,
    jobs: mpsc::UnboundedSender<Job>,
    control: mpsc::UnboundedSender<Control>,
    stats: Arc<QueueStats>,
    state: watch::Receiver<ShardedRedisStatus>,
    next_route: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").field("status", &*self.state.borrow()).finish_non_exhaustive()
    }
}

impl Hub {
    /// Reads the slot map (failing if no seed answers) and starts the tasks.
    pub(crate) async fn start(cluster: Cluster) -> Result<Hub, RedisError> {
        let cluster = Arc::new(cluster);
        cluster.refresh().await?;
        let settings = cluster.settings;
        let (jobs, job_queue) = mpsc::unbounded_channel();
        let (control, controls) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ShardedRedisStatus { subscribed: true, ..Default::default() });
        let stats = Arc::new(QueueStats::default());
        let publisher = Publisher {
            cluster: cluster.clone(),
            conns: HashMap::new(),
            jobs: job_queue,
            queue: PublishQueue::new(settings.queue),
            stats: stats.clone(),
            down_since: None,
        };
        let (push_tx, pushes) = mpsc::unbounded_channel();
        let subscriber = Subscriber {
            cluster: cluster.clone(),
            routes: HashMap::new(),
            nodes: HashMap::new(),
            placed: HashMap::new(),
            waiters: Vec::new(),
            push_tx,
            next_generation: 0,
            state: state_tx,
            resubscriptions: 0,
            stale: false,
            first_time: HashSet::new(),
        };
        let tasks = vec![tokio::spawn(publisher.run()), tokio::spawn(subscriber.run(controls, pushes))];
        Ok(Hub {
            cluster,
            jobs,
            control,
            stats,
            state,
            next_route: AtomicU64::new(1),
            tasks: Mutex::new(tasks),
        })
    }

    pub(crate) fn next_route(&self) -> u64 {
        self.next_route.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `SPUBLISH channel payload`; while its master cannot be reached it waits in the
    /// publisher's bounded queue.
    pub(crate) fn publish(&self, channel: String, payload: Bytes) {
        let _ = self.jobs.send(Job::Publish { channel, payload });
    }

    /// `SPUBLISH channel payload`, answering whether a master took it.
    pub(crate) fn publish_confirmed(
        &self,
        channel: String,
        payload: Bytes,
    ) -> oneshot::Receiver<Result<(), String>> {
        let (reply, answer) = oneshot::channel();
        let _ = self.jobs.send(Job::Confirmed { channel, payload, reply });
        answer
    }

    /// `PUBSUB SHARDNUMSUB channel`: the subscribers of `channel`.
    pub(crate) fn numsub(&self, channel: String) -> oneshot::Receiver<Result<usize, String>> {
        let (reply, answer) = oneshot::channel();
        let _ = self.jobs.send(Job::NumSub { channel, reply });
        answer
    }

    pub(crate) fn dropped_publishes(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn queued_publishes(&self) -> u64 {
        self.stats.queued.load(Ordering::Relaxed)
    }

    /// Routes `channels` to `inbox`; the answer comes when they are all subscribed.
    pub(crate) fn subscribe(
        &self,
        route: u64,
        channels: Vec<String>,
        inbox: Weak<dyn Inbox>,
    ) -> oneshot::Receiver<()> {
        let (done, subscribed) = oneshot::channel();
        let _ = self.control.send(Control::Add { route, channels, inbox, done: Some(done) });
        subscribed
    }

    /// Routes one more channel to `route` (a room's channel).
    pub(crate) fn add_channel(&self, route: u64, channel: String, inbox: Weak<dyn Inbox>) {
        let _ = self.control.send(Control::Add { route, channels: vec![channel], inbox, done: None });
    }

    pub(crate) fn remove_channel(&self, route: u64, channel: String) {
        let _ = self.control.send(Control::RemoveChannels { route, channels: vec![channel] });
    }

    /// Removes every channel of `route`; the answer comes when they are gone.
    pub(crate) fn unsubscribe(&self, route: u64) -> oneshot::Receiver<()> {
        let (done, gone) = oneshot::channel();
        let _ = self.control.send(Control::Remove { route, done });
        gone
    }

    pub(crate) fn status(&self) -> ShardedRedisStatus {
        *self.state.borrow()
    }

    /// Waits until every channel is in place (returns at once if the subscriber stopped).
    pub(crate) async fn wait_subscribed(&self) {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| s.subscribed).await;
    }

    /// The masters of the slot map as last read, `host:port`.
    pub(crate) fn masters(&self) -> Vec<String> {
        self.cluster.masters().iter().map(Addr::to_string).collect()
    }

    pub(crate) fn shutdown(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// -------------------------------------------------------------------------------------------
// The publisher

struct Publisher {
    cluster: Arc<Cluster>,
    conns: HashMap<Addr, MultiplexedConnection>,
    jobs: mpsc::UnboundedReceiver<Job>,
    queue: PublishQueue<(String, Bytes)>,
    stats: Arc<QueueStats>,
    /// Since when a master could not be reached, while one cannot.
    down_since: Option<Instant>,
}

fn spublish(channel: &str, payload: &[u8]) -> Cmd {
    let mut cmd = ::redis::cmd("SPUBLISH");
    cmd.arg(channel).arg(payload);
    cmd
}

fn shardnumsub(channel: &str) -> Cmd {
    let mut cmd = ::redis::cmd("PUBSUB");
    cmd.arg("SHARDNUMSUB").arg(channel);
    cmd
}

impl Job {
    fn channel(&self) -> &str {
        match self {
            Job::Publish { channel, .. } | Job::Confirmed { channel, .. } | Job::NumSub { channel, .. } => {
                channel
            }
        }
    }

    fn cmd(&self) -> Cmd {
        match self {
            Job::Publish { channel, payload } | Job::Confirmed { channel, payload, .. } => {
                spublish(channel, payload)
            }
            Job::NumSub { channel, .. } => shardnumsub(channel),
        }
    }
}

impl Publisher {
    async fn run(mut self) {
        let settings = self.cluster.settings;
        let mut delay = settings.reconnect_delay;
        loop {
            if self.down_since.is_none() {
                let Some(first) = self.jobs.recv().await else { return };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match self.jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                self.send_live(batch).await;
                delay = settings.reconnect_delay;
                continue;
            }
            let retry = tokio::time::sleep(delay);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    () = &mut retry => break,
                    job = self.jobs.recv() => match job {
                        Some(job) => {
                            self.refuse_or_queue(job, "Redis Cluster cannot be reached (waiting for a master)");
                            self.report();
                        }
                        None => return,
                    },
                }
            }
            if !self.flush().await {
                delay = delay.saturating_mul(2).min(settings.max_reconnect_delay);
            }
        }
    }

    async fn conn(&mut self, addr: &Addr) -> Result<MultiplexedConnection, RedisError> {
        if let Some(conn) = self.conns.get(addr) {
            return Ok(conn.clone());
        }
        let conn = self.cluster.connect(addr, None).await?;
        self.conns.insert(addr.clone(), conn.clone());
        Ok(conn)
    }

    /// Sends `cmds` (in order) to the masters of their channels: each command's answer, or why
    /// it failed. `MOVED` refreshes the slot map and sends again.
    async fn send(&mut self, cmds: &[(u16, Cmd)]) -> Vec<Result<RedisValue, RedisError>> {
        let mut results: Vec<Option<Result<RedisValue, RedisError>>> = cmds.iter().map(|_| None).collect();
        for attempt in 0..=MAX_REDIRECTS {
            let todo: Vec<usize> = (0..cmds.len())
                .filter(|&i| match &results[i] {
                    None => true,
                    Some(Err(e)) => redirected(e) && attempt > 0,
                    Some(Ok(_)) => false,
                })
                .collect();
            if todo.is_empty() {
                break;
            }
            if attempt > 0 {
                if let Err(e) = self.cluster.refresh().await {
                    tracing::debug!(error = %e, "sharded redis adapter: the slot map could not be read");
                }
            }
            // Group by master, keeping the order within each.
            let mut by_master: Vec<(Addr, Vec<usize>)> = Vec::new();
            for i in todo {
                let Some(addr) = self.cluster.owner(cmds[i].0) else {
                    results[i] = Some(Err(io_error("no master serves this slot".to_owned())));
                    continue;
                };
                match by_master.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, list)) => list.push(i),
                    None => by_master.push((addr, vec![i])),
                }
            }
            for (addr, list) in by_master {
                let conn = match self.conn(&addr).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        for i in list {
                            results[i] = Some(Err(io_error(format!("{addr}: {e}"))));
                        }
                        continue;
                    }
                };
                // One pipeline per master: the commands reach it in order (commands sent
                // concurrently on a multiplexed connection may be written in another order).
                let mut pipeline = ::redis::pipe();
                for &i in &list {
                    pipeline.add_command(cmds[i].1.clone());
                }
                let answers = conn.clone().send_packed_commands(&pipeline, 0, list.len()).await;
                let mut lost = false;
                match answers {
                    Ok(answers) if answers.len() == list.len() => {
                        for (i, answer) in list.into_iter().zip(answers) {
                            // An error reply (MOVED, CLUSTERDOWN, ...) is a value here.
                            let answer = answer.extract_error();
                            lost |= answer.as_ref().is_err_and(unreachable);
                            results[i] = Some(answer);
                        }
                    }
                    Ok(answers) => {
                        let e = format!("{addr}: {} answers to {} commands", answers.len(), list.len());
                        for i in list {
                            results[i] = Some(Err(io_error(e.clone())));
                        }
                        lost = true;
                    }
                    Err(e) => {
                        lost = unreachable(&e);
                        for i in list {
                            results[i] = Some(Err(if lost {
                                io_error(format!("{addr}: {e}"))
                            } else {
                                RedisError::from((ErrorKind::ClientError, "pipeline failed", e.to_string()))
                            }));
                        }
                    }
                }
                if lost {
                    self.conns.remove(&addr);
                }
            }
            if !results.iter().any(|r| matches!(r, Some(Err(e)) if redirected(e))) {
                break;
            }
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(io_error("not sent".to_owned())))).collect()
    }

    async fn send_live(&mut self, batch: Vec<Job>) {
        let cmds: Vec<(u16, Cmd)> =
            batch.iter().map(|j| (key_slot(j.channel().as_bytes()), j.cmd())).collect();
        let results = self.send(&cmds).await;
        let mut failed = None;
        for (job, result) in batch.into_iter().zip(results) {
            match result {
                Ok(value) => match job {
                    Job::Publish { .. } => {}
                    Job::Confirmed { reply, .. } => {
                        let _ = reply.send(Ok(()));
                    }
                    Job::NumSub { reply, .. } => {
                        let count = numsub_count(&value)
                            .ok_or_else(|| format!("unexpected PUBSUB SHARDNUMSUB answer: {value:?}"));
                        let _ = reply.send(count);
                    }
                },
                Err(e) if unreachable(&e) || redirected(&e) => {
                    let reason = format!("Redis Cluster cannot be reached: {e}");
                    if failed.is_none() {
                        tracing::warn!(error = %e, "sharded redis adapter: a master cannot be reached, queueing what is published until the cluster serves its slots again");
                        failed = Some(());
                    }
                    self.down_since.get_or_insert_with(Instant::now);
                    self.refuse_or_queue(job, &reason);
                }
                Err(e) => {
                    let reason = e.to_string();
                    tracing::warn!(error = %reason, "sharded redis adapter: publishing failed");
                    match job {
                        Job::Publish { .. } => {}
                        Job::Confirmed { reply, .. } => {
                            let _ = reply.send(Err(reason));
                        }
                        Job::NumSub { reply, .. } => {
                            let _ = reply.send(Err(reason));
                        }
                    }
                }
            }
        }
        self.report();
    }

    fn refuse_or_queue(&mut self, job: Job, reason: &str) {
        match job {
            Job::Publish { channel, payload } => {
                let size = channel.len() + payload.len();
                let dropped = self.queue.push((channel, payload), size, crate::publish_queue::now());
                self.log_dropped(dropped);
            }
            Job::Confirmed { reply, .. } => {
                let _ = reply.send(Err(reason.to_owned()));
            }
            Job::NumSub { reply, .. } => {
                let _ = reply.send(Err(reason.to_owned()));
            }
        }
    }

    /// Reads the slot map again and publishes the queue in order. Answers whether the cluster
    /// took all of it.
    async fn flush(&mut self) -> bool {
        if let Err(e) = self.cluster.refresh().await {
            tracing::debug!(error = %e, queued = self.queue.len(), "sharded redis adapter: the cluster still cannot be reached");
            return false;
        }
        let mut published = 0usize;
        loop {
            let dropped = self.queue.expire(crate::publish_queue::now());
            self.log_dropped(dropped);
            let batch = self.queue.take(MAX_BATCH);
            if batch.is_empty() {
                break;
            }
            let cmds: Vec<(u16, Cmd)> = batch
                .iter()
                .map(|q| (key_slot(q.item.0.as_bytes()), spublish(&q.item.0, &q.item.1)))
                .collect();
            let results = self.send(&cmds).await;
            // What went out stays out; the first failure and everything after it go back, in
            // order, so nothing overtakes what was published before it.
            let first_failed = results.iter().position(Result::is_err);
            if let Some(at) = first_failed {
                let rest: Vec<Queued<(String, Bytes)>> = batch.into_iter().skip(at).collect();
                let dropped = self.queue.put_back(rest, crate::publish_queue::now());
                self.log_dropped(dropped);
                self.report();
                tracing::debug!(
                    published = published + at,
                    queued = self.queue.len(),
                    "sharded redis adapter: the cluster still cannot take every message"
                );
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
            "sharded redis adapter: the cluster serves every slot again, the queued messages are published"
        );
        true
    }

    fn log_dropped(&self, dropped: DroppedMessages) {
        QueueStats::warn_dropped(&self.queue, dropped, "sharded redis adapter", "Redis Cluster");
    }

    fn report(&self) {
        self.stats.report(&self.queue);
    }
}

// -------------------------------------------------------------------------------------------
// The subscriber

/// A subscription connection to one master.
struct Node {
    conn: MultiplexedConnection,
    generation: u64,
}

type Routed = Vec<(u64, Weak<dyn Inbox>)>;

struct Subscriber {
    cluster: Arc<Cluster>,
    /// Which adapters listen to which channel.
    routes: HashMap<String, Routed>,
    nodes: HashMap<Addr, Node>,
    /// Where each subscribed channel is subscribed.
    placed: HashMap<String, Addr>,
    /// Adapters waiting for their channels to be in place.
    waiters: Vec<(Vec<String>, oneshot::Sender<()>)>,
    push_tx: mpsc::UnboundedSender<(u64, PushInfo)>,
    next_generation: u64,
    state: watch::Sender<ShardedRedisStatus>,
    resubscriptions: u64,
    /// Whether the slot map must be read again before placing channels.
    stale: bool,
    /// The channels never subscribed yet (the others, when placed, count as resubscriptions).
    first_time: HashSet<String>,
}

/// The channel name of a push: its first element.
fn push_channel(data: &[RedisValue]) -> Option<String> {
    match data.first()? {
        RedisValue::BulkString(b) => String::from_utf8(b.clone()).ok(),
        RedisValue::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

impl Subscriber {
    async fn run(
        mut self,
        mut controls: mpsc::UnboundedReceiver<Control>,
        mut pushes: mpsc::UnboundedReceiver<(u64, PushInfo)>,
    ) {
        let settings = self.cluster.settings;
        let mut delay = settings.reconnect_delay;
        let mut retry_at: Option<Instant> = None;
        loop {
            let retry = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let changed = tokio::select! {
                control = controls.recv() => {
                    let Some(control) = control else { return };
                    self.apply(control).await;
                    true
                }
                Some((generation, push)) = pushes.recv() => self.on_push(generation, push),
                () = retry => true,
            };
            // A message changes no subscription: nothing to place or report.
            if !changed {
                continue;
            }
            // Place whatever is not in place; back off while it fails.
            if self.unplaced().next().is_some() {
                if retry_at.is_some_and(|at| Instant::now() < at) {
                    continue;
                }
                if self.place_all().await {
                    delay = settings.reconnect_delay;
                    retry_at = None;
                } else {
                    retry_at = Some(Instant::now() + delay);
                    delay = delay.saturating_mul(2).min(settings.max_reconnect_delay);
                }
            } else {
                retry_at = None;
                delay = settings.reconnect_delay;
            }
            self.report();
        }
    }

    fn unplaced(&self) -> impl Iterator<Item = &String> {
        self.routes.keys().filter(|c| !self.placed.contains_key(*c))
    }

    fn report(&mut self) {
        let subscribed = self.unplaced().next().is_none();
        let waiters = std::mem::take(&mut self.waiters);
        for (channels, done) in waiters {
            if channels.iter().all(|c| self.placed.contains_key(c) || !self.routes.contains_key(c)) {
                let _ = done.send(());
            } else {
                self.waiters.push((channels, done));
            }
        }
        let status = ShardedRedisStatus {
            subscribed,
            masters: self.nodes.len(),
            resubscriptions: self.resubscriptions,
        };
        self.state.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }

    async fn apply(&mut self, control: Control) {
        match control {
            Control::Add { route, channels, inbox, done } => {
                for channel in &channels {
                    let routed = self.routes.entry(channel.clone()).or_default();
                    if routed.is_empty() {
                        self.first_time.insert(channel.clone());
                    }
                    routed.push((route, inbox.clone()));
                }
                // New channels are placed now (the loop places them), unless the cluster is
                // being waited for.
                if let Some(done) = done {
                    self.waiters.push((channels, done));
                }
            }
            Control::RemoveChannels { route, channels } => {
                for channel in channels {
                    self.remove_route(&channel, route).await;
                }
            }
            Control::Remove { route, done } => {
                let channels: Vec<String> = self
                    .routes
                    .iter()
                    .filter(|(_, routed)| routed.iter().any(|(r, _)| *r == route))
                    .map(|(c, _)| c.clone())
                    .collect();
                for channel in channels {
                    self.remove_route(&channel, route).await;
                }
                let _ = done.send(());
            }
        }
    }

    async fn remove_route(&mut self, channel: &str, route: u64) {
        let Some(routed) = self.routes.get_mut(channel) else { return };
        routed.retain(|(r, _)| *r != route);
        if !routed.is_empty() {
            return;
        }
        self.routes.remove(channel);
        self.first_time.remove(channel);
        if let Some(addr) = self.placed.remove(channel) {
            if let Some(node) = self.nodes.get_mut(&addr) {
                let mut cmd = ::redis::cmd("SUNSUBSCRIBE");
                cmd.arg(channel);
                if let Err(e) = node.conn.send_packed_command(&cmd).await {
                    tracing::debug!(error = %e, channel, node = %addr, "sharded redis adapter: SUNSUBSCRIBE failed");
                }
            }
        }
    }

    /// Handles a push of connection `generation`; answers whether a subscription may have
    /// changed (anything but a message).
    fn on_push(&mut self, generation: u64, push: PushInfo) -> bool {
        if push.kind == PushKind::SMessage {
            // The hot path: no lookup of the connection, no allocation but the channel's name.
            if let (Some(channel), Some(RedisValue::BulkString(payload))) =
                (push_channel(&push.data), push.data.get(1))
            {
                for (_, inbox) in self.routes.get(&channel).into_iter().flatten() {
                    if let Some(inbox) = inbox.upgrade() {
                        inbox.on_message(&channel, payload);
                    }
                }
            }
            return false;
        }
        let Some(addr) = self.nodes.iter().find(|(_, n)| n.generation == generation).map(|(a, _)| a.clone())
        else {
            return false; // a connection already given up
        };
        match push.kind {
            PushKind::SUnsubscribe => {
                // Redis takes a subscription away when the channel's slot changes master; the
                // answers to this node's own SUNSUBSCRIBE find the channel already unplaced.
                let Some(channel) = push_channel(&push.data) else { return false };
                if self.placed.get(&channel) == Some(&addr) && self.routes.contains_key(&channel) {
                    tracing::info!(channel, node = %addr, "sharded redis adapter: Redis ended a subscription (the slot moved), subscribing again");
                    self.placed.remove(&channel);
                    self.stale = true;
                    return true;
                }
                false
            }
            PushKind::Disconnection => {
                tracing::warn!(node = %addr, "sharded redis adapter: the subscription connection to a master was lost, subscribing again where its channels now live");
                self.nodes.remove(&addr);
                self.placed.retain(|_, a| *a != addr);
                self.stale = true;
                true
            }
            _ => false,
        }
    }

    async fn node(&mut self, addr: &Addr) -> Result<MultiplexedConnection, RedisError> {
        if let Some(node) = self.nodes.get(addr) {
            return Ok(node.conn.clone());
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        let tx = self.push_tx.clone();
        let conn = self
            .cluster
            .connect(
                addr,
                Some(Box::new(move |push| {
                    let _ = tx.send((generation, push));
                })),
            )
            .await?;
        self.nodes.insert(addr.clone(), Node { conn: conn.clone(), generation });
        Ok(conn)
    }

    /// Subscribes every channel not in place on its master. Answers whether all are placed.
    async fn place_all(&mut self) -> bool {
        if self.stale {
            match self.cluster.refresh().await {
                Ok(()) => self.stale = false,
                Err(e) => {
                    tracing::debug!(error = %e, "sharded redis adapter: the slot map could not be read");
                    return false;
                }
            }
        }
        let channels: Vec<String> = self.unplaced().cloned().collect();
        let mut all = true;
        for channel in channels {
            let Some(addr) = self.cluster.owner(key_slot(channel.as_bytes())) else {
                self.stale = true;
                return false;
            };
            let result = match self.node(&addr).await {
                Ok(mut conn) => {
                    let mut cmd = ::redis::cmd("SSUBSCRIBE");
                    cmd.arg(&channel);
                    conn.send_packed_command(&cmd).await.and_then(RedisValue::extract_error)
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => {
                    if !self.first_time.remove(&channel) {
                        self.resubscriptions += 1;
                    }
                    self.placed.insert(channel, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, channel, node = %addr, "sharded redis adapter: SSUBSCRIBE failed");
                    if unreachable(&e) {
                        self.nodes.remove(&addr);
                        self.placed.retain(|_, a| *a != addr);
                    }
                    self.stale = true;
                    all = false;
                }
            }
        }
        // Connections no channel needs any more are closed.
        let used: HashSet<&Addr> = self.placed.values().collect();
        self.nodes.retain(|addr, _| used.contains(addr));
        all
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn bulk(s: &str) -> RedisValue {
        RedisValue::BulkString(s.as_bytes().to_vec())
    }

    fn range(first: i64, last: i64, host: &str, port: i64) -> RedisValue {
        RedisValue::Array(vec![
            RedisValue::Int(first),
            RedisValue::Int(last),
            RedisValue::Array(vec![bulk(host), RedisValue::Int(port), bulk("id")]),
            RedisValue::Array(vec![bulk(host), RedisValue::Int(port + 3), bulk("replica")]),
        ])
    }

    #[test]
    fn reads_a_complete_slot_map() {
        let answer = RedisValue::Array(vec![
            range(10_923, 16_383, "127.0.0.1", 7002),
            range(0, 5460, "", 7000),
            range(5461, 10_922, "127.0.0.1", 7001),
        ]);
        let map = parse_slots(&answer, "10.0.0.1").unwrap();
        assert_eq!(map[0], (0, 5460, Addr { host: "10.0.0.1".into(), port: 7000 }));
        assert_eq!(map[2].2.to_string(), "127.0.0.1:7002");
        let cluster = Cluster {
            template: "redis://127.0.0.1:7000/".parse().unwrap(),
            seeds: Vec::new(),
            slots: Mutex::new(map),
            settings: Settings {
                reconnect_delay: Duration::from_millis(1),
                max_reconnect_delay: Duration::from_millis(1),
                connection_timeout: Duration::from_millis(1),
                response_timeout: Duration::from_millis(1),
                queue: QueueLimits::default(),
            },
        };
        assert_eq!(cluster.owner(0).unwrap().port, 7000);
        assert_eq!(cluster.owner(5460).unwrap().port, 7000);
        assert_eq!(cluster.owner(5461).unwrap().port, 7001);
        assert_eq!(cluster.owner(16_383).unwrap().port, 7002);
        assert_eq!(cluster.masters().len(), 3);
    }

    #[test]
    fn a_map_with_holes_is_asked_again() {
        let holes = RedisValue::Array(vec![range(0, 5460, "a", 1), range(5462, 16_383, "b", 2)]);
        assert!(parse_slots(&holes, "x").is_none());
        let short = RedisValue::Array(vec![range(0, 100, "a", 1)]);
        assert!(parse_slots(&short, "x").is_none());
        for garbage in [RedisValue::Nil, RedisValue::Array(vec![RedisValue::Int(1)]), bulk("x")] {
            assert!(parse_slots(&garbage, "x").is_none());
        }
    }
}
