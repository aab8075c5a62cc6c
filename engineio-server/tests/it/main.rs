//! The integration tests of `engineio-server`, one module per behaviour, built as one test binary
//! (one link instead of one per file). `support` is the in-process server and the npm clients they
//! share.

mod support;

mod abandoned_connections;
mod client_address;
mod client_v3;
mod client_v4_echo;
mod client_v4_upgrade;
mod config_validation;
mod cookie_and_compression;
mod cors;
mod graceful_shutdown;
mod handler_hooks;
mod header_hooks;
mod heartbeat;
mod initial_packet;
mod listen_backlog;
mod malformed_upgrades;
mod oversized_message;
mod request_refusals;
mod slow_and_oversized_bodies;
mod tower_layer;
mod websocket_handover;
