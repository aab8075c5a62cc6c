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
