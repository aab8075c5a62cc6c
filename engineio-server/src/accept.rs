//! Accepting connections, including while the process is out of file descriptors.
//!
//! When `accept` fails for want of a descriptor, the connection stays in the listen backlog
//! and its client waits until it gives up: with many clients, every new one hangs. Instead,
//! the acceptor keeps one descriptor in reserve; out of descriptors, it gives the reserve back,
//! accepts the waiting connection and closes it at once, so its client fails fast (and can
//! retry, or go to another node), then takes the reserve again. It says so in the log: a
//! `warn` line when it starts turning connections away, one every few seconds while it goes
//! on, and an `info` line once connections are accepted again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::clock::now;

/// How often a server that is still out of descriptors says so again.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// How long to wait before accepting again after an error that is not about descriptors.
const BACK_OFF: Duration = Duration::from_millis(50);

/// A listener that turns connections away, rather than leaving them waiting, while the
/// process has no file descriptor for them.
pub(crate) struct Acceptor {
    listener: TcpListener,
    reserve: Option<std::fs::File>,
    exhausted: Option<Exhausted>,
}

/// How long the process has been out of descriptors, and what was turned away.
struct Exhausted {
    since: Instant,
    reported: Instant,
    /// Connections turned away since the last report.
    refused: u64,
    /// Connections turned away since it began.
    refused_total: u64,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener) -> Self {
        Acceptor { listener, reserve: open_reserve(), exhausted: None }
    }

    /// The next connection.
    pub(crate) async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(connection) => {
                    if let Some(exhausted) = self.exhausted.take() {
                        tracing::info!(
                            refused = exhausted.refused_total,
                            lasted = ?now().saturating_duration_since(exhausted.since),
                            "file descriptors available again: accepting connections"
                        );
                    }
                    return connection;
                }
                Err(error) if is_out_of_descriptors(&error) => self.turn_one_away(&error).await,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; accepting again in {BACK_OFF:?}");
                    tokio::time::sleep(BACK_OFF).await;
                }
            }
        }
    }

    /// Out of descriptors: accepts the waiting connection with the reserve and closes it.
    async fn turn_one_away(&mut self, error: &std::io::Error) {
        let at = now();
        let exhausted = self.exhausted.get_or_insert_with(|| {
            tracing::warn!(
                %error,
                "out of file descriptors: new connections are closed at once until some are free \
                 (raise the limit with `ulimit -n`, or spread clients over more processes)"
            );
            Exhausted { since: at, reported: at, refused: 0, refused_total: 0 }
        });
        match self.reserve.take() {
            Some(reserve) => {
                drop(reserve);
                // The freed descriptor takes the waiting connection. The wait is bounded: the
                // backlog may be empty (`accept` reports a want of descriptors before it looks).
                if let Ok(Ok((connection, _))) =
                    tokio::time::timeout(Duration::from_millis(10), self.listener.accept()).await
                {
                    drop(connection);
                    exhausted.refused += 1;
                    exhausted.refused_total += 1;
                }
                self.reserve = open_reserve();
            }
            // Someone else took the reserve's descriptor: wait for one to be freed.
            None => {
                tokio::time::sleep(BACK_OFF).await;
                self.reserve = open_reserve();
            }
        }
        if at.saturating_duration_since(exhausted.reported) >= REPORT_EVERY {
            tracing::warn!(
                refused = exhausted.refused,
                since = ?at.saturating_duration_since(exhausted.since),
                "still out of file descriptors: connections are being closed at once"
            );
            exhausted.reported = at;
            exhausted.refused = 0;
        }
    }
}

/// A descriptor to give back when the process runs out.
fn open_reserve() -> Option<std::fs::File> {
    #[cfg(unix)]
    {
        std::fs::File::open("/dev/null").ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `EMFILE` (this process is at its limit) or `ENFILE` (the whole system is).
fn is_out_of_descriptors(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        matches!(error.raw_os_error(), Some(EMFILE | ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}
