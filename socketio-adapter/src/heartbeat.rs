//! The messages of `socket.io-adapter`'s `ClusterAdapter` and `ClusterAdapterWithHeartbeat`
//! (2.5), shared by the adapters built on them (PostgreSQL, Redis Streams, sharded Redis),
//! whatever carries them: the message types, the `data` of each, a reader for a message's
//! members, and the bookkeeping of the other nodes (heartbeats) and of requests waiting for
//! their answers.
//!
//! Everything here is plain data: no I/O; time is passed in.

use std::sync::atomic::{AtomicU64, Ordering};

use socketio_parser::Value;

use crate::adapter::{BroadcastOptions, SocketDetails};
use crate::cluster::{self, event, options, rooms, take, text, truthy, unique, WireError, WireFlags};
use crate::rooms::Room;

/// The `MessageType` values of `socket.io-adapter`'s cluster adapter.
pub(crate) mod kind {
    /// A node starts: every other node answers with a heartbeat.
    pub(crate) const INITIAL_HEARTBEAT: u8 = 1;
    /// A node is alive.
    pub(crate) const HEARTBEAT: u8 = 2;
    /// A broadcast, with acks when `data.requestId` is set.
    pub(crate) const BROADCAST: u8 = 3;
    /// `socketsJoin`.
    pub(crate) const SOCKETS_JOIN: u8 = 4;
    /// `socketsLeave`.
    pub(crate) const SOCKETS_LEAVE: u8 = 5;
    /// `disconnectSockets`.
    pub(crate) const DISCONNECT_SOCKETS: u8 = 6;
    /// `fetchSockets`.
    pub(crate) const FETCH_SOCKETS: u8 = 7;
    /// The answer to `fetchSockets`.
    pub(crate) const FETCH_SOCKETS_RESPONSE: u8 = 8;
    /// `serverSideEmit`, with an answer expected when `data.requestId` is set.
    pub(crate) const SERVER_SIDE_EMIT: u8 = 9;
    /// The answer to a `serverSideEmit` with an ack.
    pub(crate) const SERVER_SIDE_EMIT_RESPONSE: u8 = 10;
    /// How many clients of a node a broadcast with acks reached.
    pub(crate) const BROADCAST_CLIENT_COUNT: u8 = 11;
    /// One client's ack to a broadcast with acks.
    pub(crate) const BROADCAST_ACK: u8 = 12;
    /// A node's adapter closes.
    pub(crate) const ADAPTER_CLOSE: u8 = 13;
}

pub(crate) fn object(members: Vec<(&str, Value)>) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub(crate) fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(items.into_iter().map(Value::from).collect())
}

/// `{rooms, except, flags}` as the reference's `encodeOptions` writes it.
pub(crate) fn opts(opts: &BroadcastOptions) -> Value {
    let flags = WireFlags::new(&opts.flags);
    let mut members = Vec::new();
    if let Some(v) = flags.volatile {
        members.push(("volatile", Value::Bool(v)));
    }
    if let Some(c) = flags.compress {
        members.push(("compress", Value::Bool(c)));
    }
    if let Some(t) = flags.timeout {
        members.push(("timeout", Value::from(t)));
    }
    if let Some(e) = flags.expect_single_response {
        members.push(("expectSingleResponse", Value::Bool(e)));
    }
    object(vec![
        ("rooms", strings(unique(&opts.rooms))),
        ("except", strings(unique(&opts.except))),
        ("flags", object(members)),
    ])
}

/// A broadcast packet as the reference publishes it: `{type: 2, data}`.
pub(crate) fn packet(data: Value) -> Value {
    object(vec![("type", Value::from(2u8)), ("data", data)])
}

/// `BROADCAST` data: `{packet, opts}`, or `{packet, requestId, opts}` with acks.
pub(crate) fn broadcast_data(data: Value, request_id: Option<&str>, target: &BroadcastOptions) -> Value {
    let mut members = vec![("packet", packet(data))];
    if let Some(id) = request_id {
        members.push(("requestId", Value::from(id)));
    }
    members.push(("opts", opts(target)));
    object(members)
}

/// `SOCKETS_JOIN` / `SOCKETS_LEAVE` data: `{opts, rooms}`.
pub(crate) fn rooms_data(target: &BroadcastOptions, rooms: &[Room]) -> Value {
    object(vec![("opts", opts(target)), ("rooms", strings(unique(rooms)))])
}

/// `DISCONNECT_SOCKETS` data: `{opts, close}`.
pub(crate) fn disconnect_data(target: &BroadcastOptions, close: bool) -> Value {
    object(vec![("opts", opts(target)), ("close", Value::Bool(close))])
}

/// `FETCH_SOCKETS` data: `{opts, requestId}`.
pub(crate) fn fetch_data(target: &BroadcastOptions, request_id: &str) -> Value {
    object(vec![("opts", opts(target)), ("requestId", Value::from(request_id))])
}

/// `FETCH_SOCKETS_RESPONSE` data: `{requestId, sockets: [{id, handshake, rooms, data}]}`.
pub(crate) fn fetch_response_data(request_id: &str, sockets: &[SocketDetails]) -> Value {
    let sockets = sockets
        .iter()
        .map(|s| {
            object(vec![
                ("id", Value::from(&*s.id)),
                ("handshake", Value::from(s.handshake.clone())),
                ("rooms", strings(s.rooms.iter().map(|r| &**r))),
                ("data", Value::from(s.data.clone())),
            ])
        })
        .collect();
    object(vec![("requestId", Value::from(request_id)), ("sockets", Value::Array(sockets))])
}

/// `SERVER_SIDE_EMIT` data: `{packet}`, or `{requestId, packet}` when an answer is expected.
pub(crate) fn server_side_emit_data(request_id: Option<&str>, args: &serde_json::Value) -> Value {
    let mut members = Vec::new();
    if let Some(id) = request_id {
        members.push(("requestId", Value::from(id)));
    }
    members.push(("packet", Value::from(args.clone())));
    object(members)
}

/// `SERVER_SIDE_EMIT_RESPONSE` and `BROADCAST_ACK` data: `{requestId, packet}`.
pub(crate) fn answer_data(request_id: &str, answer: Value) -> Value {
    object(vec![("requestId", Value::from(request_id)), ("packet", answer)])
}

/// `BROADCAST_CLIENT_COUNT` data: `{requestId, clientCount}`.
pub(crate) fn client_count_data(request_id: &str, count: usize) -> Value {
    object(vec![("requestId", Value::from(request_id)), ("clientCount", Value::from(count as u64))])
}

pub(crate) fn has_binary(value: &Value) -> bool {
    match value {
        Value::Binary(_) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Object(members) => members.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// A message from another node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// The sender's uid (`emitter` for an emitter, which is not a node).
    pub(crate) uid: Option<String>,
    /// The namespace.
    pub(crate) nsp: Option<String>,
    /// What it asks or answers.
    pub(crate) body: Body,
}

/// What a message carries, by `type`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// `INITIAL_HEARTBEAT`.
    InitialHeartbeat,
    /// `HEARTBEAT`.
    Heartbeat,
    /// `ADAPTER_CLOSE`.
    AdapterClose,
    /// `BROADCAST`: `data` is `[event, ...args]`.
    Broadcast { request_id: Option<String>, data: Value, opts: BroadcastOptions },
    /// `SOCKETS_JOIN`.
    Join { opts: BroadcastOptions, rooms: Vec<Room> },
    /// `SOCKETS_LEAVE`.
    Leave { opts: BroadcastOptions, rooms: Vec<Room> },
    /// `DISCONNECT_SOCKETS`.
    Disconnect { opts: BroadcastOptions, close: bool },
    /// `FETCH_SOCKETS`.
    Fetch { request_id: String, opts: BroadcastOptions },
    /// `FETCH_SOCKETS_RESPONSE`.
    FetchResponse { request_id: String, sockets: Vec<SocketDetails> },
    /// `SERVER_SIDE_EMIT`: `args` is `[event, ...args]`.
    ServerSideEmit { request_id: Option<String>, args: Vec<serde_json::Value> },
    /// `SERVER_SIDE_EMIT_RESPONSE`.
    ServerSideEmitResponse { request_id: String, answer: serde_json::Value },
    /// `BROADCAST_CLIENT_COUNT`.
    ClientCount { request_id: String, count: usize },
    /// `BROADCAST_ACK`.
    BroadcastAck { request_id: String, answer: Value },
    /// A type this protocol does not know (ignored, as the reference ignores it).
    Unknown(u64),
}

fn request_id(data: &mut Vec<(String, Value)>) -> Result<String, WireError> {
    take(data, "requestId").and_then(text).ok_or(WireError::Shape("message without requestId"))
}

pub(crate) fn decode_members(mut members: Vec<(String, Value)>) -> Result<Message, WireError> {
    let uid = take(&mut members, "uid").and_then(text);
    let nsp = take(&mut members, "nsp").and_then(text);
    let message_kind = take(&mut members, "type")
        .and_then(|t| t.as_u64())
        .ok_or(WireError::Shape("message without a numeric type"))?;
    let mut data = match take(&mut members, "data") {
        Some(Value::Object(data)) => data,
        _ => Vec::new(),
    };
    let body = match u8::try_from(message_kind).unwrap_or(u8::MAX) {
        kind::INITIAL_HEARTBEAT => Body::InitialHeartbeat,
        kind::HEARTBEAT => Body::Heartbeat,
        kind::ADAPTER_CLOSE => Body::AdapterClose,
        kind::BROADCAST => {
            let (_, packet_data) = event(take(&mut data, "packet"))?;
            Body::Broadcast {
                request_id: take(&mut data, "requestId").and_then(text),
                data: packet_data,
                opts: options(take(&mut data, "opts")),
            }
        }
        kind::SOCKETS_JOIN => {
            Body::Join { opts: options(take(&mut data, "opts")), rooms: rooms(take(&mut data, "rooms")) }
        }
        kind::SOCKETS_LEAVE => {
            Body::Leave { opts: options(take(&mut data, "opts")), rooms: rooms(take(&mut data, "rooms")) }
        }
        kind::DISCONNECT_SOCKETS => Body::Disconnect {
            opts: options(take(&mut data, "opts")),
            close: take(&mut data, "close").is_some_and(|c| truthy(&c)),
        },
        kind::FETCH_SOCKETS => {
            Body::Fetch { request_id: request_id(&mut data)?, opts: options(take(&mut data, "opts")) }
        }
        kind::FETCH_SOCKETS_RESPONSE => {
            let request_id = request_id(&mut data)?;
            let Some(Value::Array(sockets)) = take(&mut data, "sockets") else {
                return Err(WireError::Shape("fetchSockets answer without sockets"));
            };
            let sockets = sockets.into_iter().filter_map(cluster::socket_details).collect();
            Body::FetchResponse { request_id, sockets }
        }
        kind::SERVER_SIDE_EMIT => {
            let Some(Value::Array(args)) = take(&mut data, "packet") else {
                return Err(WireError::Shape("server-side event packet is not an array"));
            };
            Body::ServerSideEmit {
                request_id: take(&mut data, "requestId").and_then(text),
                args: args.iter().map(cluster::to_json_value).collect(),
            }
        }
        kind::SERVER_SIDE_EMIT_RESPONSE => Body::ServerSideEmitResponse {
            request_id: request_id(&mut data)?,
            answer: take(&mut data, "packet")
                .map(|p| cluster::to_json_value(&p))
                .unwrap_or(serde_json::Value::Null),
        },
        kind::BROADCAST_CLIENT_COUNT => Body::ClientCount {
            request_id: request_id(&mut data)?,
            count: take(&mut data, "clientCount")
                .and_then(|c| c.as_f64())
                .filter(|c| c.is_finite() && *c > 0.0)
                .map_or(0, |c| c.min(u32::MAX as f64) as usize),
        },
        kind::BROADCAST_ACK => Body::BroadcastAck {
            request_id: request_id(&mut data)?,
            answer: take(&mut data, "packet").unwrap_or(Value::Null),
        },
        _ => Body::Unknown(message_kind),
    };
    Ok(Message { uid, nsp, body })
}

// -------------------------------------------------------------------------------------------
// The other nodes and the requests waiting for them

/// 8 random bytes in hex, as the reference makes uids and request ids.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        bytes = hasher.finish().to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// -------------------------------------------------------------------------------------------
// The other nodes

/// What a request collects.
#[derive(Debug)]
pub(crate) enum Collected {
    /// Sockets of `fetch_sockets`.
    Sockets(Vec<SocketDetails>),
    /// Answers to a server-side event.
    Answers(Vec<serde_json::Value>),
}

impl Collected {
    /// The sockets collected (none for answers).
    pub(crate) fn into_sockets(self) -> Vec<SocketDetails> {
        match self {
            Collected::Sockets(sockets) => sockets,
            Collected::Answers(_) => Vec::new(),
        }
    }

    /// The answers collected (none for sockets).
    pub(crate) fn into_answers(self) -> Vec<serde_json::Value> {
        match self {
            Collected::Answers(answers) => answers,
            Collected::Sockets(_) => Vec::new(),
        }
    }
}

#[cfg(any(feature = "postgres", feature = "redis-streams"))]
pub(crate) use tracking::{Nodes, Waiting};

/// The other nodes and the requests waiting on them, for the adapters that know the nodes by
/// their heartbeats.
#[cfg(any(feature = "postgres", feature = "redis-streams"))]
mod tracking {
    use std::collections::{HashMap, HashSet};
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use super::Collected;
    use crate::cluster::{RequestError, RequestKind, RequestTimeout};

    /// The nodes this adapter has heard from, and when: the reference's `nodesMap`. Time is passed
    /// in.
    #[derive(Debug)]
    pub(crate) struct Nodes {
        last_seen: HashMap<String, Instant>,
        timeout: Duration,
    }

    impl Nodes {
        pub(crate) fn new(timeout: Duration) -> Self {
            Nodes { last_seen: HashMap::new(), timeout }
        }

        /// A message from `uid` arrived at `now`.
        pub(crate) fn seen(&mut self, uid: &str, now: Instant) {
            self.last_seen.insert(uid.to_owned(), now);
        }

        pub(crate) fn remove(&mut self, uid: &str) -> bool {
            self.last_seen.remove(uid).is_some()
        }

        /// Forgets the nodes silent for longer than the timeout at `now`; answers their uids.
        pub(crate) fn expire(&mut self, now: Instant) -> Vec<String> {
            let timeout = self.timeout;
            let gone: Vec<String> = self
                .last_seen
                .iter()
                .filter(|(_, seen)| now.saturating_duration_since(**seen) > timeout)
                .map(|(uid, _)| uid.clone())
                .collect();
            for uid in &gone {
                self.last_seen.remove(uid);
            }
            gone
        }

        pub(crate) fn len(&self) -> usize {
            self.last_seen.len()
        }

        pub(crate) fn uids(&self) -> HashSet<String> {
            self.last_seen.keys().cloned().collect()
        }
    }

    /// A request of this node waiting for one answer from each node it knew when it asked.
    pub(crate) struct Waiting {
        pub(crate) kind: RequestKind,
        pub(crate) expected: usize,
        pub(crate) missing: HashSet<String>,
        pub(crate) collected: Collected,
        pub(crate) done: Option<oneshot::Sender<()>>,
    }

    impl Waiting {
        pub(crate) fn answered(&mut self, uid: &str) {
            self.missing.remove(uid);
            if self.missing.is_empty() {
                if let Some(done) = self.done.take() {
                    let _ = done.send(());
                }
            }
        }

        pub(crate) fn finish(self) -> Result<Collected, RequestError<Collected>> {
            if self.missing.is_empty() {
                return Ok(self.collected);
            }
            Err(RequestError::Timeout(RequestTimeout {
                kind: self.kind,
                received: self.expected - self.missing.len(),
                expected: self.expected,
                partial: self.collected,
            }))
        }
    }
}

/// The requests a cluster adapter of `socket.io-adapter`'s messages sends with its partial
/// results kept, written once: `partial_requests!();` in an `impl<S: LocalSocket>` block of an
/// adapter whose `inner` has `local` (a [`MemoryAdapter`](crate::MemoryAdapter)),
/// `config.requests_timeout` and `request(kind, id, local, message_kind, data, timeout)`.
macro_rules! partial_requests {
    () => {
        /// Like [`Adapter::fetch_sockets`]; on a timeout the error holds the sockets of the
        /// nodes that answered, this node's first.
        pub async fn fetch_sockets_partial(
            &self,
            opts: &$crate::BroadcastOptions,
        ) -> Result<Vec<$crate::SocketDetails>, $crate::RequestError<Vec<$crate::SocketDetails>>> {
            use $crate::heartbeat::Collected;
            let inner = &self.inner;
            let local = inner.local.details(opts);
            if opts.flags.local {
                return Ok(local);
            }
            let id = $crate::heartbeat::random_id();
            let timeout = opts.flags.timeout.unwrap_or(inner.config.requests_timeout);
            let collected = inner
                .request(
                    $crate::RequestKind::FetchSockets,
                    &id,
                    Collected::Sockets(local),
                    $crate::heartbeat::kind::FETCH_SOCKETS,
                    $crate::heartbeat::fetch_data(opts, &id),
                    timeout,
                )
                .await;
            collected.map(Collected::into_sockets).map_err(|e| e.map(Collected::into_sockets))
        }

        /// Like [`Adapter::server_side_emit_with_ack`]; on a timeout the error holds the
        /// answers that arrived.
        pub async fn server_side_emit_with_ack_partial(
            &self,
            args: serde_json::Value,
            timeout: std::time::Duration,
        ) -> Result<Vec<serde_json::Value>, $crate::RequestError<Vec<serde_json::Value>>> {
            use $crate::heartbeat::Collected;
            if !args.is_array() {
                return Err($crate::RequestError::Transport(
                    "server-side event arguments must be an array".to_owned(),
                ));
            }
            let id = $crate::heartbeat::random_id();
            let collected = self
                .inner
                .request(
                    $crate::RequestKind::ServerSideEmit,
                    &id,
                    Collected::Answers(Vec::new()),
                    $crate::heartbeat::kind::SERVER_SIDE_EMIT,
                    $crate::heartbeat::server_side_emit_data(Some(&id), &args),
                    timeout,
                )
                .await;
            collected.map(Collected::into_answers).map_err(|e| e.map(Collected::into_answers))
        }
    };
}
pub(crate) use partial_requests;
