//! Rooms, broadcasting and multi-node adapters for the Socket.IO server.
//!
//! This crate is empty for now. It will hold the synchronous room index, the `Adapter` trait
//! (async where a remote node may be involved), the in-memory adapter and, behind the `redis`
//! feature, an adapter that speaks the wire format of Node's `@socket.io/redis-adapter`.
