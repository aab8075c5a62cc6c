//! The crate's only clock read: tokio's clock, so that tests on paused time work.

/// Now, on the server's clock.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
