//! The tests of `socketio-admin`, as one test binary:
//!
//! * `dashboard`: one script against our server and against the Node.js reference
//!   (`socket.io` 4.8.4 with `@socket.io/admin-ui` 0.5.1, `tests/peer/`), comparing the
//!   events, their order and the shapes of their payloads;
//! * `cluster`: a dashboard on one node of a mixed Rust and Node.js cluster on Redis;
//! * `browser`: the npm package's own dashboard in headless Chromium, beside the chat
//!   example's page.
//!
//! They share `socketio-server`'s harness (the npm clients, Redis, Chromium), included here
//! with `#[path]`: the harness finds its npm folders under `socketio-server/tests/` whichever
//! crate includes it.

#[path = "../../../socketio-server/tests/support/mod.rs"]
mod support;

#[path = "../../../socketio-server/tests/browser/mod.rs"]
mod browser;
#[allow(dead_code)]
#[path = "../../../socketio-server/examples/chat/server.rs"]
mod chat;
#[path = "../../examples/dashboard/ui.rs"]
mod ui;

#[path = "../peer/mod.rs"]
mod admin;

#[path = "../../../socketio-server/tests/cluster/mod.rs"]
mod cluster;
/// A real `redis-server` on a free port, shared with `socketio-adapter`'s tests.
#[path = "../../../socketio-adapter/tests/it/support/redis_server.rs"]
mod redis_server;

mod browser_dashboard;
mod cluster_dashboard;
mod dashboard;
