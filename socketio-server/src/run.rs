//! Running application handlers without a task per message.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A boxed handler future.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Polls `fut` once on the calling task; only a future that is still pending gets a task of its
/// own (which polls it again at once, with a real waker). A handler that finishes without
/// waiting, the common case, costs no spawn. A panicking handler is logged and dropped: it does
/// not take the connection's task down.
pub(crate) fn run_now_or_spawn(mut fut: HandlerFuture) {
    let mut cx = Context::from_waker(Waker::noop());
    match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            // The rest of the handler runs in the span it started in (its socket's).
            tokio::spawn(tracing::Instrument::in_current_span(fut));
        }
        Err(_) => tracing::error!("a handler panicked"),
    }
}
