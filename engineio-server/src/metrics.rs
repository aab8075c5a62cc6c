//! What the server counts, through the [`metrics`](https://docs.rs/metrics) facade, with the
//! cargo feature `metrics` (without it, nothing is counted and the calls compile to nothing).
//! The application installs a recorder (an exporter such as `metrics-exporter-prometheus`)
//! before the server takes its first session: the handles are registered on first use.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `engineio_clients` | gauge | `transport` (`polling`, `websocket`) | open sessions, by the transport they run on now |
//! | `engineio_packets_total` | counter | `direction` (`in`, `out`), `type` (`message`, ...) | packets the application exchanged with its clients: messages in, packets the application queued out (the sessions' own heartbeats, `open`, `noop` and `close` are not counted, and a type has no series until a packet of it is) |
//! | `engineio_bytes_total` | counter | `direction`, `type` | the data of those packets, in bytes |
//! | `engineio_handshake_errors_total` | counter | `code` (`0` to `5`, the Engine.IO error code) | refused requests (the reference's `connection_error`) |
//! | `engineio_disconnects_total` | counter | `reason` (`transport close`, `transport error`, `ping timeout`, `parse error`, `forced close`) | closed sessions |
//! | `engineio_buffered_bytes` | gauge | | bytes queued in the sessions for clients that do not read fast enough (the sessions' `max_buffered` applies to each) |
//!
//! Label values are fixed strings and the handles are registered once per process: counting a
//! packet costs an atomic addition on a handle, no allocation and no look-up.

/// `engineio_clients`: open sessions by transport (gauge, label `transport`).
pub const CLIENTS: &str = "engineio_clients";
/// `engineio_packets_total`: packets in and out by type (counter, labels `direction`, `type`).
pub const PACKETS: &str = "engineio_packets_total";
/// `engineio_bytes_total`: bytes in and out by packet type (counter, labels `direction`, `type`).
pub const BYTES: &str = "engineio_bytes_total";
/// `engineio_handshake_errors_total`: refused requests by error code (counter, label `code`).
pub const HANDSHAKE_ERRORS: &str = "engineio_handshake_errors_total";
/// `engineio_disconnects_total`: closed sessions by reason (counter, label `reason`).
pub const DISCONNECTS: &str = "engineio_disconnects_total";
/// `engineio_buffered_bytes`: bytes waiting for slow clients (gauge).
pub const BUFFERED_BYTES: &str = "engineio_buffered_bytes";

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
    use std::sync::OnceLock;

    use engineio_parser::{CloseReason, ErrorCode, PacketType, Transport};
    use metrics::{Counter, Gauge};

    use super::Direction;

    const REASONS: [CloseReason; 5] = [
        CloseReason::TransportClose,
        CloseReason::TransportError,
        CloseReason::PingTimeout,
        CloseReason::ParseError,
        CloseReason::ForcedClose,
    ];

    const CODES: [&str; 6] = ["0", "1", "2", "3", "4", "5"];

    fn code_index(code: ErrorCode) -> Option<usize> {
        Some(match code {
            ErrorCode::UnknownTransport => 0,
            ErrorCode::UnknownSid => 1,
            ErrorCode::BadHandshakeMethod => 2,
            ErrorCode::BadRequest => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::UnsupportedProtocolVersion => 5,
            _ => return None,
        })
    }

    /// Every handle, registered once with the recorder installed at the time.
    struct Handles {
        clients: [Gauge; 2],
        /// The packets and bytes counters, by direction, then packet type: each pair registered
        /// when the first packet of its kind is counted, so that a scrape shows no series for
        /// the types the session handles itself (heartbeats, `open`, `noop`).
        packets: [[OnceLock<(Counter, Counter)>; 7]; 2],
        handshake_errors: [Counter; 6],
        disconnects: [Counter; 5],
        buffered: Gauge,
    }

    fn handles() -> &'static Handles {
        static HANDLES: OnceLock<Handles> = OnceLock::new();
        HANDLES.get_or_init(|| Handles {
            clients: [Transport::Polling, Transport::WebSocket]
                .map(|t| metrics::gauge!(super::CLIENTS, "transport" => t.name())),
            packets: [const { [const { OnceLock::new() }; 7] }; 2],
            handshake_errors: CODES.map(|code| metrics::counter!(super::HANDSHAKE_ERRORS, "code" => code)),
            disconnects: REASONS
                .map(|reason| metrics::counter!(super::DISCONNECTS, "reason" => reason.as_str())),
            buffered: metrics::gauge!(super::BUFFERED_BYTES),
        })
    }

    fn transport_index(transport: Transport) -> usize {
        match transport {
            Transport::Polling => 0,
            Transport::WebSocket => 1,
        }
    }

    /// A session opened on `transport`.
    pub(crate) fn session_opened(transport: Transport) {
        handles().clients[transport_index(transport)].increment(1.0);
    }

    /// A session moved from polling to WebSocket.
    pub(crate) fn session_upgraded() {
        let clients = &handles().clients;
        clients[0].decrement(1.0);
        clients[1].increment(1.0);
    }

    /// A session that ran on `transport` closed for `reason`.
    pub(crate) fn session_closed(transport: Transport, reason: CloseReason) {
        let handles = handles();
        handles.clients[transport_index(transport)].decrement(1.0);
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            handles.disconnects[i].increment(1);
        }
    }

    /// A packet of `kind` with `len` bytes of data went `direction`.
    pub(crate) fn packet(direction: Direction, kind: PacketType, len: usize) {
        let (d, name) = match direction {
            Direction::In => (0, "in"),
            Direction::Out => (1, "out"),
        };
        let t = kind.as_char().wrapping_sub(b'0') as usize;
        let Some(slot) = handles().packets[d].get(t) else { return };
        let (packets, bytes) = slot.get_or_init(|| {
            let labels = [("direction", name), ("type", kind.name())];
            (metrics::counter!(super::PACKETS, &labels), metrics::counter!(super::BYTES, &labels))
        });
        packets.increment(1);
        bytes.increment(len as u64);
    }

    /// A request was refused with `code`.
    pub(crate) fn request_refused(code: ErrorCode) {
        if let Some(i) = code_index(code) {
            handles().handshake_errors[i].increment(1);
        }
    }

    /// The bytes buffered for slow clients went up (or down, negative) by `delta`.
    pub(crate) fn buffered(delta: i64) {
        let gauge = &handles().buffered;
        if delta >= 0 {
            gauge.increment(delta as f64);
        } else {
            gauge.decrement(delta.unsigned_abs() as f64);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use engineio_parser::{CloseReason, ErrorCode, PacketType, Transport};

    use super::Direction;

    #[inline(always)]
    pub(crate) fn session_opened(_: Transport) {}
    #[inline(always)]
    pub(crate) fn session_upgraded() {}
    #[inline(always)]
    pub(crate) fn session_closed(_: Transport, _: CloseReason) {}
    #[inline(always)]
    pub(crate) fn packet(_: Direction, _: PacketType, _: usize) {}
    #[inline(always)]
    pub(crate) fn request_refused(_: ErrorCode) {}
}
