//! The crate's only clock reads: tokio's clock for deadlines, so that tests on paused time
//! work, and the wall clock for the handshake's timestamp.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, on the server's clock.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn epoch_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The clock the in-memory adapter expires recovery sessions with: the server's clock, as
/// time elapsed since the adapter was made.
pub(crate) fn adapter_clock() -> socketio_adapter::Clock {
    let start = tokio::time::Instant::now();
    std::sync::Arc::new(move || tokio::time::Instant::now().saturating_duration_since(start))
}
