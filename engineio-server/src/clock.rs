//! The server's only clock read. It is tokio's clock, so tests with paused time drive every
//! timer of every session.

use std::time::Instant;

/// Now, as the session machines count time.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
