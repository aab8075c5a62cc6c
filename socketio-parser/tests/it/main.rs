//! The integration tests of `socketio-parser`, one module per behaviour, built as one test binary
//! (one link instead of one per file). `harness` is the simulated-time Engine.IO + Socket.IO
//! stack the `stack_*` modules drive.

mod harness;

mod connection;
mod encoded_once;
#[cfg(feature = "msgpack")]
mod msgpack;
mod packet_text;
mod payload_serde;
mod round_trip;
mod stack_acks;
mod stack_connect_timeout;
mod stack_handshake;
mod stack_heartbeat;
mod stack_recovery;
mod stack_upgrade;
mod string_item;
mod values_exact;
mod without_name;
