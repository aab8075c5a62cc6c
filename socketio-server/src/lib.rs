//! The Socket.IO server API (`Server`, `Namespace`, `Socket`, broadcast operators) over
//! `engineio-server` and the sans-IO Socket.IO machine of `socketio-parser`.
//!
//! This crate is empty for now; it will hold the user-facing API described in the workspace
//! README once the Engine.IO server exists.
