//! The integration tests of `socketio-server` that end by checking that no server code panicked
//! (`raw::assert_no_server_panic`): the panic hook `raw` installs records every panic of the
//! process, so these tests share a binary of their own, without the tests that make the server
//! panic on purpose.

#[path = "../raw/mod.rs"]
mod raw;

#[path = "../support/mod.rs"]
mod support;

#[path = "../process/mod.rs"]
mod process;

mod compress;
mod examples_stop_on_signals;
mod malformed_packets;
mod security_advisories;
mod serve_client;
