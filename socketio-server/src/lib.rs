//! The Socket.IO server API (`Server`, `Namespace`, `Socket`, broadcast operators) over
//! `engineio-server` and the sans-IO Socket.IO connection machine of `socketio-parser`.
//!
//! This crate holds no code yet. The pieces it will assemble exist and are tested:
//!
//! * `engineio_server::EngineIo` runs one task per Engine.IO session and calls an
//!   `engineio_server::Handler` from inside that task (`on_connection` returns per-session state,
//!   `on_message`, `on_upgrade`, `on_close`).
//! * `socketio_parser::connection::Connection` is the Socket.IO side of one Engine.IO
//!   connection: namespace `CONNECT` (→ `accept` / `reject` / `reject_invalid_namespace`),
//!   `DISCONNECT` both ways, the connect timeout, ack deadlines (`expect_ack` with ids the caller
//!   allocates, as the reference allocates them per namespace), the invalid-state rules, and the
//!   v4 behaviour for Engine.IO v3 clients.
//! * `socketio_parser::to_payload` serialises arguments with binary data into JSON plus
//!   attachments; `socketio_adapter::RoomIndex` holds rooms with the reference's ordering and
//!   room events and computes broadcast targets without allocating per recipient.
//!
//! The intended shape, so that protocol decisions stay in the parser crates:
//!
//! 1. The server's `Handler::Connection` state is one `Connection` machine plus the socket
//!    handles of the namespaces the client joined. `on_message` feeds the machine
//!    (`handle_message`), then drains `poll_transmit` into the Engine.IO socket (text and binary
//!    messages; `Transmit::Close` closes the engine session) and `poll_event` into namespace
//!    logic: `Connect` runs the namespace's async middlewares in a spawned task that reports back
//!    through the Engine.IO socket's inbox, `Event` dispatches to the socket's handlers (`on`,
//!    `on_any`, `socket.use` middlewares), `Ack` completes the ack future, `AckTimeout` fails it,
//!    `Disconnect` runs `disconnecting`/`disconnect` handlers and leaves every room.
//! 2. One timer per connection: `Handler::poll_timeout` returns the machine's `poll_timeout`,
//!    and the engine task sleeps until the earlier of it and the session's own deadline, then
//!    calls `Handler::on_timeout`. Work finished in other tasks (async middlewares, emits from
//!    application tasks) comes back into the connection's task through `Socket::post` and
//!    `Handler::on_post`.
//! 3. Ack ids come from one counter per namespace, so a broadcast with acks is encoded once with
//!    one id and every recipient's machine `expect_ack`s it.
//! 4. A broadcast is encoded once (`Packet::encode_message` writes the Engine.IO `4` and the
//!    packet in one buffer) and the same bytes are queued on every recipient; `volatile` is
//!    dropped for sessions that are not writable (`Session::is_writable`).
//! 5. The adapter trait (in `socketio-adapter`) is async where a remote node can be involved
//!    (`fetch_sockets`, `server_side_emit` with responses, broadcast acks counting clients per
//!    node, server count) and carries the connection-state-recovery session store.
