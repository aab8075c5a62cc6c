//! The integration tests of `engineio-parser`, one module per behaviour, built as one test binary
//! (one link instead of one per file). `common` is the simulated-time session harness they share.

mod common;

mod closing;
mod heartbeat;
mod options;
mod packet_forms;
mod packet_trace;
mod payload_forms;
mod polling_requests;
mod request_parts;
mod request_validation;
mod round_trip;
mod session_surface;
mod uncompressed;
mod upgrade;
mod websocket_send;
mod ws_codec;
mod ws_connection;
mod ws_deflate;
