//! What a probe is watched with: the server's memory and descriptors sampled while it runs, and
//! a canary client doing `echo` round trips all along.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::wire::{echo, failure, join};
use super::RoundTrips;
use crate::Ws;

/// The server's resident set size and open descriptors, or `None` once the process is gone.
pub(super) fn reading(pid: u32) -> Option<(u64, u64)> {
    Some((crate::rss_bytes(pid).ok()?, crate::open_fds(pid).ok()? as u64))
}

/// How often the sampler reads `/proc`.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The highest readings while a probe ran.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peak {
    pub(super) rss: u64,
    pub(super) fds: u64,
    /// The process vanished while sampled.
    pub(super) gone: bool,
}

/// Reads the server's memory and descriptors every [`SAMPLE_EVERY`] until stopped.
pub(super) struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Peak>,
}

impl Sampler {
    /// Starts sampling process `pid`, from `first` (the reading before the probe).
    pub(super) fn start(pid: u32, first: (u64, u64)) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = Peak { rss: first.0, fds: first.1, gone: false };
            while !flag.load(Ordering::Relaxed) {
                match reading(pid) {
                    Some((rss, fds)) => {
                        peak.rss = peak.rss.max(rss);
                        peak.fds = peak.fds.max(fds);
                    }
                    None => {
                        peak.gone = true;
                        break;
                    }
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            peak
        });
        Sampler { stop, task }
    }

    /// Stops sampling; the highest readings.
    pub(super) async fn stop(self) -> Peak {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(Peak { rss: 0, fds: 0, gone: true })
    }
}

/// A healthy client on `/` doing `echo` round trips with acknowledgements every 100 ms, through
/// the attack and after it; a lost connection is a failure and is opened again.
pub(super) struct Canary {
    after: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<[RoundTrips; 2]>>,
    task: JoinHandle<()>,
}

impl Canary {
    /// Starts the canary against `addr`.
    pub(super) fn start(addr: &str) -> Canary {
        let after = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new([RoundTrips::default(); 2]));
        let task = tokio::spawn(fly(addr.to_owned(), after.clone(), stop.clone(), counts.clone()));
        Canary { after, stop, counts, task }
    }

    /// Round trips started from now on count as after the attack.
    pub(super) fn attack_over(&self) {
        self.after.store(true, Ordering::Relaxed);
    }

    /// Stops the canary: its round trips during and after the attack.
    pub(super) async fn stop(self) -> [RoundTrips; 2] {
        self.stop.store(true, Ordering::Relaxed);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(10), &mut task).await.is_err() {
            task.abort();
        }
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn fly(
    addr: String,
    after: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<[RoundTrips; 2]>>,
) {
    let mut ws: Option<Ws> = None;
    let mut id = 100u64;
    while !stop.load(Ordering::Relaxed) {
        let phase = usize::from(after.load(Ordering::Relaxed));
        id += 1;
        let round_trip = async {
            let socket = match &mut ws {
                Some(socket) => socket,
                None => ws.insert(join(&addr).await?),
            };
            echo(socket, id).await?;
            // Idle until the next round trip, reading whatever the server sends meanwhile.
            match tokio::time::timeout(Duration::from_millis(100), failure(socket)).await {
                Ok(e) => Err(e),
                Err(_) => Ok(()),
            }
        };
        let ok = round_trip.await.is_ok();
        {
            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                counts[phase].ok += 1;
            } else {
                counts[phase].failed += 1;
            }
        }
        if !ok {
            ws = None;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `n` round trips of a client opened now (after the attack): a failed connect fails them all.
pub(super) async fn fresh_client(addr: &str, n: u32) -> RoundTrips {
    let mut trips = RoundTrips::default();
    match join(addr).await {
        Ok(mut ws) => {
            for id in 0..u64::from(n) {
                if echo(&mut ws, id).await.is_ok() {
                    trips.ok += 1;
                } else {
                    trips.failed += 1;
                }
            }
        }
        Err(_) => trips.failed = n,
    }
    trips
}
