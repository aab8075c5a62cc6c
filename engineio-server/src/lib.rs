//! The Engine.IO server: a thin tokio and hyper layer over the sans-IO session machine of
//! `engineio-parser`.
//!
//! This crate is empty for now. It will hold the HTTP long-polling and WebSocket transports, the
//! per-connection driver task, the `listen(addr)` entry point and a tower `Service`/`Layer`.
//! It will make no protocol decisions of its own: those live in `engineio-parser`.
