//! The integration tests of `bench`, built as one test binary (one link instead of one per file):
//! the attack probes and the churn load against our echo example's server, in-process.

// Its `main` and its feature-gated flags are not used here.
#[allow(dead_code, unreachable_pub, unexpected_cfgs)]
#[path = "../../../socketio-server/examples/echo.rs"]
mod echo;

mod attacks;
mod churn;
