//! The two Redis connections a node's adapters share, each held by one task:
//!
//! * the writer adds entries to the stream in the order they were submitted, and hands each
//!   entry's id (or the failure) to the callback given with it, in that same order;
//! * the reader reads the stream with a blocking `XREAD`, from the last entry that existed
//!   when the node started, and hands each entry to the adapter of its namespace. When Redis
//!   cannot be reached it tries again with exponential backoff, from the last entry it read, so
//!   an outage loses nothing that the stream still holds.
//!
//! Commands that need an answer (`SET`, `GET`/`DEL`, `XRANGE`) go through a clone of the
//! writer's multiplexed connection. Neither task decides anything about the protocol.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Value as RedisValue};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::wire::Entry;
use super::RedisStreamsAdapterConfig;
use crate::publish_queue::{DroppedMessages, PublishQueue, QueueStats};

/// Where the reader hands the entries of one namespace.
pub(crate) trait Inbox: Send + Sync + 'static {
    /// An entry of the adapter's namespace.
    fn on_entry(&self, entry: Entry);
}

/// What to do with an added entry's id, or with the reason it was not added.
pub(crate) type Added = Box<dyn FnOnce(Result<String, String>) + Send>;

struct Job {
    fields: Vec<(&'static str, String)>,
    done: Option<Added>,
    /// Whether the entry waits in the queue when Redis cannot be reached.
    queue_on_failure: bool,
}

/// Where the connections stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RedisStreamsStatus {
    /// The reader is reading the stream.
    #[default]
    Connected,
    /// The reader lost Redis and is trying again.
    Reconnecting,
    /// [`shutdown`](super::RedisStreamsClients::shutdown) was called.
    Closed,
}

/// Each namespace's adapter: its uid and where its entries go.
type Routes = HashMap<String, (String, Weak<dyn Inbox>)>;

/// The connections and their tasks.
pub(crate) struct Hub {
    jobs: mpsc::UnboundedSender<Job>,
    stats: Arc<QueueStats>,
    conn: ConnectionManager,
    routes: Arc<Mutex<Routes>>,
    status: watch::Receiver<RedisStreamsStatus>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("status", &*self.status.borrow()).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn timed_out(what: &str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, what.to_owned()))
}

impl Hub {
    /// Connects both connections (failing if Redis cannot be reached now), finds where the
    /// stream ends, and starts the tasks.
    pub(crate) async fn start(
        client: Client,
        config: Arc<RedisStreamsAdapterConfig>,
    ) -> Result<Hub, RedisError> {
        let writer_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(config.connection_timeout)
            .set_response_timeout(config.connection_timeout);
        let conn = ConnectionManager::new_with_config(client.clone(), writer_config).await?;
        // The reader's connection blocks in `XREAD`: it answers after `block_time` at most.
        let reader_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(config.connection_timeout)
            .set_response_timeout(config.block_time + config.connection_timeout);
        let mut reader = ConnectionManager::new_with_config(client, reader_config).await?;
        // Where the stream ends now: what `XREAD ... $` would start from, without the race of
        // entries added before the first `XREAD` reaches Redis.
        let mut revrange = ::redis::cmd("XREVRANGE");
        revrange.arg(&config.stream_name).arg("+").arg("-").arg("COUNT").arg(1);
        let last =
            tokio::time::timeout(config.connection_timeout, revrange.query_async::<RedisValue>(&mut reader))
                .await
                .map_err(|_| timed_out("reading the end of the stream timed out"))??;
        let offset = match parse_entries(last) {
            Ok(entries) => entries.last().map_or_else(|| "0-0".to_owned(), |e| e.id.clone()),
            Err(reason) => {
                tracing::warn!(%reason, "redis streams adapter: unreadable XREVRANGE answer, reading new entries only");
                "$".to_owned()
            }
        };

        let (jobs, job_queue) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(RedisStreamsStatus::Connected);
        let routes: Arc<Mutex<Routes>> = Arc::new(Mutex::new(HashMap::new()));
        let stats = Arc::new(QueueStats::default());
        let writer = tokio::spawn(write_loop(conn.clone(), job_queue, stats.clone(), config.clone()));
        let reader = tokio::spawn(read_loop(reader, offset, routes.clone(), status_tx, config));
        Ok(Hub { jobs, stats, conn, routes, status, tasks: Mutex::new(vec![writer, reader]) })
    }

    /// Adds an entry; `done` gets its id or the failure, in submission order. With `queue`,
    /// an entry that cannot be added now waits in the publish queue for Redis to come back.
    pub(crate) fn add(&self, fields: Vec<(&'static str, String)>, done: Option<Added>, queue: bool) {
        if let Err(mpsc::error::SendError(job)) =
            self.jobs.send(Job { fields, done, queue_on_failure: queue })
        {
            if let Some(done) = job.done {
                done(Err("the adapter's connection is closed".to_owned()));
            }
        }
    }

    /// How many entries the writer has dropped because Redis could not be reached for too long
    /// (a queue limit was reached).
    pub(crate) fn dropped_publishes(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// How many entries wait for Redis.
    pub(crate) fn queued_publishes(&self) -> u64 {
        self.stats.queued.load(Ordering::Relaxed)
    }

    /// A handle on the multiplexed connection, for commands that need an answer.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Entries with `nsp` go to `inbox`, the adapter `uid`, from now on (one adapter per
    /// namespace: a later one takes the namespace over, as in the reference).
    pub(crate) fn route(&self, nsp: &str, uid: &str, inbox: Weak<dyn Inbox>) {
        lock(&self.routes).insert(nsp.to_owned(), (uid.to_owned(), inbox));
    }

    /// Stops routing `nsp`, if it still goes to the adapter `uid`.
    pub(crate) fn unroute(&self, nsp: &str, uid: &str) {
        let mut routes = lock(&self.routes);
        if routes.get(nsp).is_some_and(|(owner, _)| owner == uid) {
            routes.remove(nsp);
        }
    }

    pub(crate) fn status(&self) -> RedisStreamsStatus {
        *self.status.borrow()
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

/// The writer: adds entries in order. An entry nobody waits on that cannot be added goes to a
/// bounded [`PublishQueue`], and while the queue holds anything every new such entry goes
/// behind it; the queue is added first, in order, once Redis answers again. An entry whose id
/// is awaited fails at once instead (its callback gets the error), and is queued for the other
/// nodes only when it asked for it. What a queue limit drops is logged at `warn` and counted in
/// `stats`, which also holds how many entries wait (updated when the queue settles: after a
/// push, a failed attempt or a batch added, not while a batch is being tried).
async fn write_loop(
    mut conn: ConnectionManager,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stats: Arc<QueueStats>,
    config: Arc<RedisStreamsAdapterConfig>,
) {
    let mut queue: PublishQueue<Vec<(&'static str, String)>> = PublishQueue::new(config.publish_queue);
    let mut delay = config.reconnect_delay;
    loop {
        if queue.is_empty() {
            let Some(job) = jobs.recv().await else { return };
            let result = xadd(&mut conn, &config, &job.fields).await;
            if let Err(reason) = &result {
                tracing::warn!(%reason, "redis streams adapter: an entry could not be added");
                if job.queue_on_failure {
                    enqueue(&mut queue, job.fields);
                    stats.report(&queue);
                }
            }
            if let Some(done) = job.done {
                done(result);
            }
            continue;
        }
        // Redis was unreachable: what arrived since goes behind the queue, in order.
        while let Ok(job) = jobs.try_recv() {
            if let Some(done) = job.done {
                done(Err("Redis cannot be reached: the entry is queued".to_owned()));
            }
            if job.queue_on_failure {
                enqueue(&mut queue, job.fields);
            }
        }
        let expired = queue.expire(crate::publish_queue::now());
        report(&queue, expired);
        stats.report(&queue);
        let mut batch = queue.take(MAX_BATCH).into_iter();
        let mut failed = None;
        while let Some(item) = batch.next() {
            if let Err(reason) = xadd(&mut conn, &config, &item.item).await {
                failed = Some(reason);
                let rest: Vec<_> = std::iter::once(item).chain(batch).collect();
                let dropped = queue.put_back(rest, crate::publish_queue::now());
                report(&queue, dropped);
                break;
            }
        }
        stats.report(&queue);
        match failed {
            Some(reason) => {
                tracing::debug!(%reason, queued = queue.len(), "redis streams adapter: Redis still cannot be reached");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(config.max_reconnect_delay);
            }
            None => {
                delay = config.reconnect_delay;
                if queue.is_empty() {
                    tracing::info!("redis streams adapter: the queued entries are added");
                }
            }
        }
    }
}

/// Entries added from the queue in one go at most.
const MAX_BATCH: usize = 256;

fn enqueue(queue: &mut PublishQueue<Vec<(&'static str, String)>>, fields: Vec<(&'static str, String)>) {
    let size = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    let dropped = queue.push(fields, size, crate::publish_queue::now());
    report(queue, dropped);
}

/// Logs at `warn` what a queue limit dropped, when anything.
fn report(queue: &PublishQueue<Vec<(&'static str, String)>>, dropped: DroppedMessages) {
    QueueStats::warn_dropped(queue, dropped, "redis streams adapter", "Redis");
}

/// `XADD <stream> MAXLEN ~ <max_len> * <fields>`: the entry id.
async fn xadd(
    conn: &mut ConnectionManager,
    config: &RedisStreamsAdapterConfig,
    fields: &[(&'static str, String)],
) -> Result<String, String> {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg(&config.stream_name).arg("MAXLEN").arg("~").arg(config.max_len).arg("*");
    for (name, value) in fields {
        cmd.arg(*name).arg(value);
    }
    match cmd.query_async::<RedisValue>(conn).await {
        Ok(RedisValue::BulkString(id)) => {
            String::from_utf8(id).map_err(|_| "XADD answered an id that is not UTF-8".to_owned())
        }
        Ok(RedisValue::SimpleString(id)) => Ok(id),
        Ok(other) => Err(format!("XADD answered {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn read_loop(
    mut conn: ConnectionManager,
    mut offset: String,
    routes: Arc<Mutex<Routes>>,
    status: watch::Sender<RedisStreamsStatus>,
    config: Arc<RedisStreamsAdapterConfig>,
) {
    let mut delay = config.reconnect_delay;
    loop {
        let answer = ::redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(u64::try_from(config.block_time.as_millis()).unwrap_or(u64::MAX))
            .arg("COUNT")
            .arg(config.read_count)
            .arg("STREAMS")
            .arg(&config.stream_name)
            .arg(&offset)
            .query_async::<RedisValue>(&mut conn)
            .await;
        let entries = match answer {
            Ok(RedisValue::Nil) => Vec::new(),
            Ok(RedisValue::Array(mut streams)) if streams.len() == 1 => match streams.pop() {
                Some(RedisValue::Array(mut stream)) if stream.len() == 2 => {
                    parse_entries(stream.pop().unwrap_or(RedisValue::Nil)).unwrap_or_else(|reason| {
                        tracing::warn!(%reason, "redis streams adapter: unreadable XREAD answer");
                        Vec::new()
                    })
                }
                _ => Vec::new(),
            },
            Ok(RedisValue::Map(mut streams)) if streams.len() == 1 => match streams.pop() {
                Some((_, entries)) => parse_entries(entries).unwrap_or_else(|reason| {
                    tracing::warn!(%reason, "redis streams adapter: unreadable XREAD answer");
                    Vec::new()
                }),
                None => Vec::new(),
            },
            Ok(other) => {
                tracing::warn!(answer = ?other, "redis streams adapter: unexpected XREAD answer");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis streams adapter: reading the stream failed");
                status.send_replace(RedisStreamsStatus::Reconnecting);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(config.max_reconnect_delay);
                continue;
            }
        };
        delay = config.reconnect_delay;
        status.send_if_modified(|s| {
            std::mem::replace(s, RedisStreamsStatus::Connected) != RedisStreamsStatus::Connected
        });
        for entry in entries {
            offset.clone_from(&entry.id);
            let inbox = entry
                .field("nsp")
                .and_then(|nsp| lock(&routes).get(nsp).and_then(|(_, inbox)| inbox.upgrade()));
            if let Some(inbox) = inbox {
                inbox.on_entry(entry);
            }
        }
    }
}

fn bulk_text(value: RedisValue) -> Result<String, String> {
    match value {
        RedisValue::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| "a value is not UTF-8".to_owned())
        }
        RedisValue::SimpleString(text) => Ok(text),
        other => Err(format!("expected a string, got {other:?}")),
    }
}

/// Reads a list of stream entries (`XRANGE`, `XREVRANGE`, one stream of `XREAD`):
/// `[[id, [field, value, ...]], ...]`. An entry whose fields are not pairs of strings is an
/// error.
pub(crate) fn parse_entries(value: RedisValue) -> Result<Vec<Entry>, String> {
    let items = match value {
        RedisValue::Nil => return Ok(Vec::new()),
        RedisValue::Array(items) => items,
        other => return Err(format!("expected a list of entries, got {other:?}")),
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let RedisValue::Array(pair) = item else { return Err("an entry is not a list".to_owned()) };
        let mut pair = pair.into_iter();
        let (Some(id), Some(fields), None) = (pair.next(), pair.next(), pair.next()) else {
            return Err("an entry is not [id, fields]".to_owned());
        };
        let id = bulk_text(id)?;
        let fields = match fields {
            RedisValue::Array(flat) => {
                if flat.len() % 2 != 0 {
                    return Err("an entry has an odd number of field items".to_owned());
                }
                let mut fields = Vec::with_capacity(flat.len() / 2);
                let mut flat = flat.into_iter();
                while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                    fields.push((bulk_text(k)?, bulk_text(v)?));
                }
                fields
            }
            RedisValue::Map(pairs) => pairs
                .into_iter()
                .map(|(k, v)| Ok((bulk_text(k)?, bulk_text(v)?)))
                .collect::<Result<_, String>>()?,
            RedisValue::Nil => Vec::new(),
            other => return Err(format!("entry fields are {other:?}")),
        };
        entries.push(Entry { id, fields });
    }
    Ok(entries)
}

/// `XRANGE <stream> <start> <end> COUNT <count>`.
pub(crate) async fn xrange(
    conn: &mut ConnectionManager,
    stream: &str,
    start: &str,
    end: &str,
    count: usize,
) -> Result<Vec<Entry>, String> {
    let answer = ::redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg(end)
        .arg("COUNT")
        .arg(count)
        .query_async::<RedisValue>(conn)
        .await
        .map_err(|e| e.to_string())?;
    parse_entries(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> RedisValue {
        RedisValue::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn entries_are_read_and_garbage_is_an_error() {
        let value = RedisValue::Array(vec![RedisValue::Array(vec![
            bulk("1-0"),
            RedisValue::Array(vec![bulk("uid"), bulk("a"), bulk("type"), bulk("2")]),
        ])]);
        let entries = parse_entries(value).expect("well formed");
        assert_eq!(entries[0].id, "1-0");
        assert_eq!(entries[0].field("type"), Some("2"));
        for bad in [
            RedisValue::Int(1),
            RedisValue::Array(vec![RedisValue::Int(1)]),
            RedisValue::Array(vec![RedisValue::Array(vec![bulk("1-0")])]),
            RedisValue::Array(vec![RedisValue::Array(vec![bulk("1-0"), RedisValue::Array(vec![bulk("k")])])]),
        ] {
            assert!(parse_entries(bad).is_err());
        }
    }
}
