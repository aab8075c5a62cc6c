//! The HTTP connections a server serves itself, so that closing the server lets their last
//! responses (a poll's `close` packet) go out before it returns.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Counts live connections and tells them when to finish.
#[derive(Default)]
pub(crate) struct Connections {
    live: AtomicUsize,
    /// Notified when the last live connection ends.
    ended: Notify,
    draining: AtomicBool,
    /// Notified when draining starts.
    drain: Notify,
}

/// A live connection; it ends when this is dropped.
pub(crate) struct Live<'a>(&'a Connections);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ended.notify_waiters();
        }
    }
}

/// A live connection held by a task of its own (a WebSocket's last writes and linger); it
/// ends when this is dropped.
pub(crate) struct OwnedLive(Arc<Connections>);

impl Drop for OwnedLive {
    fn drop(&mut self) {
        drop(Live(&self.0));
    }
}

impl Connections {
    /// Counts a connection as live until the answer is dropped.
    pub(crate) fn live(&self) -> Live<'_> {
        self.live.fetch_add(1, Ordering::AcqRel);
        Live(self)
    }

    /// As [`live`](Self::live), for a task that outlives the borrow.
    pub(crate) fn owned_live(self: &Arc<Self>) -> OwnedLive {
        self.live.fetch_add(1, Ordering::AcqRel);
        OwnedLive(self.clone())
    }

    /// Resolves once a [`drain`](Self::drain) has started (at once while one runs): the
    /// connection should finish the response it is writing, if any, and close.
    pub(crate) async fn draining(&self) {
        let notified = self.drain.notified();
        if self.draining.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    /// Tells every connection to finish, and waits until all have ended, at most `within`.
    /// Connections that start afterwards are served as usual.
    pub(crate) async fn drain(&self, within: Duration) {
        self.draining.store(true, Ordering::Release);
        self.drain.notify_waiters();
        let all_ended = async {
            loop {
                let ended = self.ended.notified();
                if self.live.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        if tokio::time::timeout(within, all_ended).await.is_err() {
            tracing::debug!(
                live = self.live.load(Ordering::Acquire),
                "connections still writing when the server closed"
            );
        }
        self.draining.store(false, Ordering::Release);
    }
}
