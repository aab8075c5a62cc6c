//! What the server counts, through the [`metrics`](https://docs.rs/metrics) facade, with the
//! cargo feature `metrics` (it turns on `engineio-server/metrics` too). Without the feature
//! nothing is counted and the calls compile to nothing.
//!
//! The application installs a recorder (an exporter, e.g. `metrics-exporter-prometheus`: see
//! `examples/metrics.rs`, which serves them on `GET /metrics`) before the server takes its first
//! connection: handles are registered on first use, with the recorder installed at that time.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `engineio_clients` | gauge | `transport` (`polling`, `websocket`) | open Engine.IO sessions, by the transport they run on now |
//! | `engineio_packets_total` | counter | `direction` (`in`, `out`), `type` (Engine.IO: `message`, ...) | Engine.IO packets exchanged with the application: messages in, packets queued out (heartbeats, `open`, `noop` and `close` are the sessions' own and not counted; a type has no series until a packet of it is) |
//! | `engineio_bytes_total` | counter | `direction`, `type` | the data of those packets, in bytes |
//! | `engineio_handshake_errors_total` | counter | `code` (`0`–`5`, the Engine.IO error code) | refused requests (the reference's `connection_error`) |
//! | `engineio_disconnects_total` | counter | `reason` (`transport close`, `transport error`, `ping timeout`, `parse error`, `forced close`) | closed Engine.IO sessions |
//! | `engineio_buffered_bytes` | gauge | | bytes queued for clients that do not read fast enough (`max_buffered` applies to each session) |
//! | `socketio_sockets` | gauge | `namespace` | connected sockets, by namespace (one series per namespace: mind dynamic namespaces with many names) |
//! | `socketio_packets_total` | counter | `direction` (`in`, `out`), `type` (`connect`, `disconnect`, `event`, `ack`, `connect_error`, `binary_event`, `binary_ack`) | Socket.IO packets: in, every packet the connection machine reports; out, every packet handed to the Engine.IO session (events and broadcasts, and the machine's own `CONNECT`, `CONNECT_ERROR`, `DISCONNECT` and acks; binary attachments are part of their packet) |
//! | `socketio_disconnects_total` | counter | `reason` (the Socket.IO reasons: `client namespace disconnect`, `transport close`, ...) | disconnected sockets |
//! | `socketio_ack_timeouts_total` | counter | | emits whose acknowledgement did not come in time |
//! | `socketio_volatile_dropped_total` | counter | | volatile packets dropped because the transport was not writable |
//! | `socketio_broadcast_recipients` | histogram | | sockets of this node reached by one broadcast (`emit` and `emit_with_ack` of a broadcast operator; with acks, the clients expected to answer on every node) |
//!
//! Label values are fixed strings (the namespace's name is copied once per namespace), and the
//! handles are registered once: counting a packet is an atomic addition, with no allocation
//! and no look-up.

/// `socketio_sockets`: connected sockets by namespace (gauge, label `namespace`).
pub const SOCKETS: &str = "socketio_sockets";
/// `socketio_packets_total`: packets in and out by type (counter, labels `direction`, `type`).
pub const PACKETS: &str = "socketio_packets_total";
/// `socketio_disconnects_total`: disconnected sockets by reason (counter, label `reason`).
pub const DISCONNECTS: &str = "socketio_disconnects_total";
/// `socketio_ack_timeouts_total`: acknowledgements not received in time (counter).
pub const ACK_TIMEOUTS: &str = "socketio_ack_timeouts_total";
/// `socketio_volatile_dropped_total`: volatile packets dropped (counter).
pub const VOLATILE_DROPPED: &str = "socketio_volatile_dropped_total";
/// `socketio_broadcast_recipients`: sockets reached per broadcast (histogram).
pub const BROADCAST_RECIPIENTS: &str = "socketio_broadcast_recipients";

pub use engineio_server::metrics::{
    BUFFERED_BYTES as ENGINEIO_BUFFERED_BYTES, BYTES as ENGINEIO_BYTES, CLIENTS as ENGINEIO_CLIENTS,
    DISCONNECTS as ENGINEIO_DISCONNECTS, HANDSHAKE_ERRORS as ENGINEIO_HANDSHAKE_ERRORS,
    PACKETS as ENGINEIO_PACKETS,
};

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::*;
#[cfg(feature = "metrics")]
pub(crate) use enabled::*;

/// Which way a packet went.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    In,
    Out,
}

#[cfg(feature = "metrics")]
mod enabled {
    use std::cell::Cell;
    use std::sync::OnceLock;

    use metrics::{Counter, Gauge, Histogram};
    use socketio_parser::connection::DisconnectReason;
    use socketio_parser::PacketType;

    use super::Direction;

    struct Handles {
        /// By direction, then packet type: each registered when the first packet of its kind is
        /// counted.
        packets: [[OnceLock<Counter>; 7]; 2],
        disconnects: [Counter; 9],
        ack_timeouts: Counter,
        volatile_dropped: Counter,
        broadcast_recipients: Histogram,
    }

    fn handles() -> &'static Handles {
        static HANDLES: OnceLock<Handles> = OnceLock::new();
        HANDLES.get_or_init(|| Handles {
            packets: [const { [const { OnceLock::new() }; 7] }; 2],
            disconnects: DisconnectReason::ALL
                .map(|r| metrics::counter!(super::DISCONNECTS, "reason" => r.as_str())),
            ack_timeouts: metrics::counter!(super::ACK_TIMEOUTS),
            volatile_dropped: metrics::counter!(super::VOLATILE_DROPPED),
            broadcast_recipients: metrics::histogram!(super::BROADCAST_RECIPIENTS),
        })
    }

    /// The `socketio_sockets` gauge of one namespace, registered on first use.
    pub(crate) struct NamespaceGauge(OnceLock<Gauge>);

    impl NamespaceGauge {
        pub(crate) const fn new() -> Self {
            NamespaceGauge(OnceLock::new())
        }

        fn get(&self, name: &str) -> &Gauge {
            self.0.get_or_init(|| metrics::gauge!(super::SOCKETS, "namespace" => name.to_owned()))
        }
    }

    /// A socket of namespace `name` connected.
    pub(crate) fn socket_connected(gauge: &NamespaceGauge, name: &str) {
        gauge.get(name).increment(1.0);
    }

    /// A socket of namespace `name` left for `reason`; `connected` when it had been admitted.
    pub(crate) fn socket_disconnected(
        gauge: &NamespaceGauge,
        name: &str,
        connected: bool,
        reason: DisconnectReason,
    ) {
        if connected {
            gauge.get(name).decrement(1.0);
        }
        handles().disconnects[reason as usize].increment(1);
    }

    /// A packet of `kind` went `direction`.
    pub(crate) fn packet(direction: Direction, kind: PacketType) {
        let (d, name) = match direction {
            Direction::In => (0, "in"),
            Direction::Out => (1, "out"),
        };
        let Some(slot) = handles().packets[d].get(kind as usize) else { return };
        slot.get_or_init(|| metrics::counter!(super::PACKETS, "direction" => name, "type" => kind.name()))
            .increment(1);
    }

    /// An acknowledgement timed out.
    pub(crate) fn ack_timeout() {
        handles().ack_timeouts.increment(1);
    }

    /// A volatile packet was dropped.
    pub(crate) fn volatile_dropped() {
        handles().volatile_dropped.increment(1);
    }

    thread_local! {
        /// The sockets handed a packet since the broadcast being counted on this thread began.
        static RECIPIENTS: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Runs `broadcast` (a local, synchronous fan-out through the adapter) and records how many
    /// sockets it reached.
    pub(crate) fn count_broadcast(broadcast: impl FnOnce()) {
        let outer = RECIPIENTS.replace(Some(0));
        broadcast();
        let reached = RECIPIENTS.replace(outer).unwrap_or(0);
        handles().broadcast_recipients.record(reached as f64);
    }

    /// A socket was handed a packet (counted when a broadcast is being counted).
    pub(crate) fn recipient() {
        RECIPIENTS.with(|r| {
            if let Some(n) = r.get() {
                r.set(Some(n + 1));
            }
        });
    }

    /// A broadcast with acks reached `expected` clients.
    pub(crate) fn broadcast_reached(expected: usize) {
        handles().broadcast_recipients.record(expected as f64);
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use socketio_parser::connection::DisconnectReason;
    use socketio_parser::PacketType;

    use super::Direction;

    /// Nothing, without the feature.
    pub(crate) struct NamespaceGauge;

    impl NamespaceGauge {
        #[inline(always)]
        pub(crate) const fn new() -> Self {
            NamespaceGauge
        }
    }

    #[inline(always)]
    pub(crate) fn socket_connected(_: &NamespaceGauge, _: &str) {}
    #[inline(always)]
    pub(crate) fn socket_disconnected(_: &NamespaceGauge, _: &str, _: bool, _: DisconnectReason) {}
    #[inline(always)]
    pub(crate) fn packet(_: Direction, _: PacketType) {}
    #[inline(always)]
    pub(crate) fn ack_timeout() {}
    #[inline(always)]
    pub(crate) fn volatile_dropped() {}
    #[inline(always)]
    pub(crate) fn count_broadcast(broadcast: impl FnOnce()) {
        broadcast();
    }
    #[inline(always)]
    pub(crate) fn recipient() {}
    #[inline(always)]
    pub(crate) fn broadcast_reached(_: usize) {}
}
