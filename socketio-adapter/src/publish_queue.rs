//! A bounded queue for the messages a pub/sub adapter could not publish while its broker was
//! unreachable, published in order once it is back.
//!
//! Pub/sub delivers at most once: a message published while the broker is away is simply
//! lost. Node.js Redis clients hide short outages by queueing their commands until they
//! reconnect; [`PublishQueue`] does the same for our adapters, within [`QueueLimits`] on the
//! number of messages, their bytes and their age, so that a long outage cannot grow the heap.
//!
//! The queue knows nothing about Redis, channels or tasks: the driver pushes what it could not
//! send, [`take`](PublishQueue::take)s a batch when it tries again, and
//! [`put_back`](PublishQueue::put_back)s the batch if that attempt fails too. Time only enters
//! as a `now` argument, so every rule is testable without a clock or a broker.
//!
//! # Which messages go when a limit is reached
//!
//! The oldest. Ageing out removes the oldest too, so the queue always holds one unbroken,
//! most recent stretch of what this node published: a receiver sees at most one gap, right
//! where the outage began, and then everything after it in order. (Dropping the newest
//! instead would leave a second gap between the queued stretch and the live messages.) A
//! single message larger than [`max_bytes`](QueueLimits::max_bytes) can never fit and is
//! dropped by itself.
//!
//! # What it does not do
//!
//! It does not retry, time or log anything: the driver does, reading the [`DroppedMessages`]
//! that each call answers. It does not deduplicate: a batch that reached the broker before the
//! connection broke, and is put back, is published twice.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// The bounds of a [`PublishQueue`]. A limit of zero disables queueing (every message is
/// dropped, and counted).
///
/// The defaults cover an outage of a few seconds with a wide margin: a node publishing a
/// thousand messages a second keeps ten seconds of them, 16 MiB bounds the memory at an
/// average of about 1.6 KiB a message, and a message older than 30 seconds is more likely to
/// confuse its receivers than to help them (the reconnection backoff tops out at 5 seconds by
/// default, so a restart that takes seconds is well inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct QueueLimits {
    /// The most messages held: 10 000.
    pub max_messages: usize,
    /// The most bytes held (the sum of each message's size as the driver counts it, for Redis
    /// the channel name and the payload): 16 MiB.
    pub max_bytes: usize,
    /// How long a message may wait: 30 s. An older one is dropped instead of published.
    pub max_age: Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits { max_messages: 10_000, max_bytes: 16 * 1024 * 1024, max_age: Duration::from_secs(30) }
    }
}

impl QueueLimits {
    /// Limits on count, bytes and age.
    pub fn new(max_messages: usize, max_bytes: usize, max_age: Duration) -> Self {
        QueueLimits { max_messages, max_bytes, max_age }
    }

    /// No queueing at all: what cannot be published is dropped at once (and counted), which is
    /// plain pub/sub's at-most-once behaviour.
    pub fn disabled() -> Self {
        QueueLimits { max_messages: 0, max_bytes: 0, max_age: Duration::ZERO }
    }
}

/// How many messages one call dropped, by the limit that dropped them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "dropped messages should be reported"]
pub struct DroppedMessages {
    /// Over [`max_messages`](QueueLimits::max_messages).
    pub over_count: usize,
    /// Over [`max_bytes`](QueueLimits::max_bytes).
    pub over_bytes: usize,
    /// Older than [`max_age`](QueueLimits::max_age).
    pub too_old: usize,
}

impl DroppedMessages {
    /// All of them.
    pub fn total(&self) -> usize {
        self.over_count + self.over_bytes + self.too_old
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    fn add(&mut self, other: DroppedMessages) {
        self.over_count += other.over_count;
        self.over_bytes += other.over_bytes;
        self.too_old += other.too_old;
    }
}

impl fmt::Display for DroppedMessages {
    /// `3 over the message limit, 1 older than the age limit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.over_count, "over the message limit"),
            (self.over_bytes, "over the byte limit"),
            (self.too_old, "older than the age limit"),
        ];
        let mut first = true;
        for (count, why) in parts.into_iter().filter(|(count, _)| *count > 0) {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{count} {why}")?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A message waiting in a [`PublishQueue`], as [`take`](PublishQueue::take) hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued<T> {
    /// The message.
    pub item: T,
    /// Its size, as given to [`push`](PublishQueue::push).
    pub bytes: usize,
    /// When it was first queued: its age counts from here, even after a failed attempt.
    pub queued_at: Instant,
}

/// Messages waiting for the broker, oldest first, within [`QueueLimits`] (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct PublishQueue<T> {
    limits: QueueLimits,
    entries: VecDeque<Queued<T>>,
    bytes: usize,
    dropped: u64,
}

impl<T> PublishQueue<T> {
    /// An empty queue.
    pub fn new(limits: QueueLimits) -> Self {
        PublishQueue { limits, entries: VecDeque::new(), bytes: 0, dropped: 0 }
    }

    /// The limits.
    pub fn limits(&self) -> &QueueLimits {
        &self.limits
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes of the messages that wait.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many messages this queue has dropped since it was made, for every reason.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Adds a message of `bytes` bytes after the others. First drops what is older than the
    /// age limit at `now`, then, if a limit is exceeded, the oldest messages (or this one, when
    /// it is larger than the byte limit by itself).
    pub fn push(&mut self, item: T, bytes: usize, now: Instant) -> DroppedMessages {
        let mut dropped = self.expire(now);
        if self.limits.max_messages == 0 || self.limits.max_age.is_zero() {
            dropped.over_count += 1;
        } else if bytes > self.limits.max_bytes {
            dropped.over_bytes += 1;
        } else {
            self.entries.push_back(Queued { item, bytes, queued_at: now });
            self.bytes += bytes;
            dropped.add(self.enforce());
            return dropped;
        }
        self.dropped += 1;
        dropped
    }

    /// Drops the messages older than the age limit at `now`.
    pub fn expire(&mut self, now: Instant) -> DroppedMessages {
        let mut dropped = DroppedMessages::default();
        while let Some(front) = self.entries.front() {
            if now.saturating_duration_since(front.queued_at) <= self.limits.max_age {
                break;
            }
            self.pop_front();
            dropped.too_old += 1;
        }
        dropped
    }

    /// Takes up to `max` of the oldest messages, in order, to be sent. Give them back with
    /// [`put_back`](Self::put_back) if sending fails.
    pub fn take(&mut self, max: usize) -> Vec<Queued<T>> {
        let n = max.min(self.entries.len());
        let batch: Vec<Queued<T>> = self.entries.drain(..n).collect();
        self.bytes -= batch.iter().map(|q| q.bytes).sum::<usize>();
        batch
    }

    /// Puts a batch from [`take`](Self::take) back before everything queued since, keeping
    /// each message's first queueing time; then applies the limits at `now`, which drop the
    /// oldest first.
    pub fn put_back(&mut self, batch: Vec<Queued<T>>, now: Instant) -> DroppedMessages {
        for queued in batch.into_iter().rev() {
            self.bytes += queued.bytes;
            self.entries.push_front(queued);
        }
        let mut dropped = self.expire(now);
        dropped.add(self.enforce());
        dropped
    }

    /// Drops the oldest messages until the count and byte limits hold.
    fn enforce(&mut self) -> DroppedMessages {
        let mut dropped = DroppedMessages::default();
        while self.entries.len() > self.limits.max_messages {
            self.pop_front();
            dropped.over_count += 1;
        }
        while self.bytes > self.limits.max_bytes {
            self.pop_front();
            dropped.over_bytes += 1;
        }
        dropped
    }

    fn pop_front(&mut self) {
        if let Some(queued) = self.entries.pop_front() {
            self.bytes -= queued.bytes;
            self.dropped += 1;
        }
    }
}

/// What a driver's publisher reports about its queue, read by the adapters' counters
/// (`dropped_publishes`, `queued_publishes`).
#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
#[derive(Debug, Default)]
pub(crate) struct QueueStats {
    pub(crate) dropped: std::sync::atomic::AtomicU64,
    pub(crate) queued: std::sync::atomic::AtomicU64,
}

/// The instant the drivers give their queue: tokio's clock, so that a test that pauses tokio's
/// time ages the queue with it.
#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
impl QueueStats {
    /// Records where `queue` stands.
    pub(crate) fn report<T>(&self, queue: &PublishQueue<T>) {
        use std::sync::atomic::Ordering;
        self.dropped.store(queue.dropped(), Ordering::Relaxed);
        self.queued.store(queue.len() as u64, Ordering::Relaxed);
    }

    /// Logs at `warn` what a limit of `queue` dropped, when anything: `who` is the adapter
    /// (`redis adapter`), `broker` what could not be reached (`Redis`).
    pub(crate) fn warn_dropped<T>(
        queue: &PublishQueue<T>,
        dropped: DroppedMessages,
        who: &str,
        broker: &str,
    ) {
        if !dropped.is_empty() {
            tracing::warn!(
                dropped = dropped.total(),
                over_count = dropped.over_count,
                over_bytes = dropped.over_bytes,
                too_old = dropped.too_old,
                dropped_total = queue.dropped(),
                "{who}: {broker} cannot be reached, {} queued messages dropped ({dropped})",
                dropped.total()
            );
        }
    }
}
