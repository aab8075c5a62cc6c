//! What the cluster adapters (Redis, PostgreSQL) share, whatever carries their messages: the
//! errors of the requests a node sends to the others, and the reference's JSON and msgpack
//! shapes of packets, broadcast options and fetched sockets, with the lenient readers the
//! reference's `JSON.parse`-and-go amounts to.
//!
//! Everything here is plain data (no I/O, no clock), but for [`sum_client_counts`], which waits
//! for the other nodes' counts of a broadcast with acks.

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use socketio_parser::msgpack::RawMsgPack;
use socketio_parser::{Packet, Payload, Value};

use crate::adapter::{AdapterError, BroadcastFlags, BroadcastOptions, SocketDetails};
use crate::rooms::Room;

// -------------------------------------------------------------------------------------------
// Requests

/// Which request did not get all its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// `fetch_sockets` (`REMOTE_FETCH`).
    FetchSockets,
    /// `all_rooms` (`ALL_ROOMS`).
    AllRooms,
    /// `server_side_emit_with_ack` (`SERVER_SIDE_EMIT` with a request id).
    ServerSideEmit,
}

/// Not every node answered a request within the adapter's `requests_timeout`: what did arrive,
/// and the reference's error text.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTimeout<T> {
    /// The request.
    pub kind: RequestKind,
    /// The answers counted (for `fetch_sockets` and `all_rooms`, this node's own included, as
    /// the reference counts it).
    pub received: usize,
    /// The answers expected.
    pub expected: usize,
    /// What the answers that arrived hold.
    pub partial: T,
}

impl<T> fmt::Display for RequestTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RequestKind::FetchSockets => {
                f.write_str("timeout reached while waiting for fetchSockets response")
            }
            RequestKind::AllRooms => f.write_str("timeout reached while waiting for allRooms response"),
            RequestKind::ServerSideEmit => write!(
                f,
                "timeout reached: only {} responses received out of {}",
                self.received, self.expected
            ),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for RequestTimeout<T> {}

/// Why a request to the other nodes failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestError<T> {
    /// Some nodes did not answer in time.
    Timeout(RequestTimeout<T>),
    /// The request could not be published, or the adapter was closed while it waited.
    Transport(String),
}

impl<T> fmt::Display for RequestError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Timeout(timeout) => timeout.fmt(f),
            RequestError::Transport(reason) => write!(f, "adapter transport: {reason}"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for RequestError<T> {}

impl<T> From<RequestError<T>> for AdapterError {
    fn from(error: RequestError<T>) -> Self {
        match error {
            RequestError::Timeout(t) => AdapterError::Timeout { received: t.received, expected: t.expected },
            RequestError::Transport(reason) => AdapterError::Transport(reason),
        }
    }
}

impl<T> RequestError<T> {
    /// The same error with the partial results turned into another type.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> RequestError<U> {
        match self {
            RequestError::Timeout(t) => RequestError::Timeout(RequestTimeout {
                kind: t.kind,
                received: t.received,
                expected: t.expected,
                partial: f(t.partial),
            }),
            RequestError::Transport(reason) => RequestError::Transport(reason),
        }
    }
}

// -------------------------------------------------------------------------------------------
// Shapes on the wire

/// Why a message could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// The JSON text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The bytes are not one valid msgpack value (or hold an extension type `notepack.io` does
    /// not write).
    #[error("invalid msgpack: {0}")]
    MsgPack(String),
    /// The message is well-formed but not in the shape the protocol gives it.
    #[error("unexpected message shape: {0}")]
    Shape(&'static str),
}

/// The rooms without repeats, in first-seen order (the reference sends JavaScript `Set`s).
pub(crate) fn unique(rooms: &[Room]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(rooms.len());
    for room in rooms {
        if !out.contains(&&**room) {
            out.push(room);
        }
    }
    out
}

/// `packet` as the reference puts it on the wire: `{type, data, nsp}`, without ack id; binary
/// packet types as their plain forms (the reference's encoder picks the binary form itself).
#[cfg(feature = "redis")]
#[derive(Serialize)]
pub(crate) struct WirePacket<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<&'a Value>,
    pub(crate) nsp: &'a str,
}

#[cfg(feature = "redis")]
#[derive(Serialize)]
pub(crate) struct WireOpts<'a> {
    pub(crate) rooms: Vec<&'a str>,
    pub(crate) except: Vec<&'a str>,
    pub(crate) flags: WireFlags,
}

/// The flags that are set, under the reference's names.
#[derive(Serialize)]
pub(crate) struct WireFlags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volatile: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) compress: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<u64>,
    #[serde(rename = "expectSingleResponse", skip_serializing_if = "Option::is_none")]
    pub(crate) expect_single_response: Option<bool>,
}

impl WireFlags {
    pub(crate) fn new(flags: &BroadcastFlags) -> Self {
        WireFlags {
            volatile: flags.volatile.then_some(true),
            compress: flags.compress,
            timeout: flags.timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            expect_single_response: flags.expect_single_response.then_some(true),
        }
    }
}

/// The `data` of a packet as a tree, binary values as [`Value::Binary`].
pub(crate) fn packet_data(packet: &Packet) -> Result<Option<Value>, WireError> {
    match &packet.data {
        None => Ok(None),
        Some(payload) => {
            socketio_parser::from_payload::<Value>(payload).map(Some).map_err(|e| match payload {
                Payload::Json { .. } => WireError::Json(e.to_string()),
                #[allow(unreachable_patterns)]
                _ => WireError::MsgPack(e.to_string()),
            })
        }
    }
}

#[cfg(feature = "redis")]
pub(crate) fn wire_type(kind: socketio_parser::PacketType) -> u8 {
    use socketio_parser::PacketType;
    match kind {
        PacketType::BinaryEvent => PacketType::Event as u8,
        PacketType::BinaryAck => PacketType::Ack as u8,
        other => other as u8,
    }
}

pub(crate) fn to_msgpack<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, WireError> {
    RawMsgPack::from_serialize(value)
        .map(RawMsgPack::into_bytes)
        .map_err(|e| WireError::MsgPack(e.to_string()))
}

#[cfg(feature = "redis")]
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, WireError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| WireError::Json(e.to_string()))
}

pub(crate) fn decode_msgpack(bytes: &[u8]) -> Result<Value, WireError> {
    let raw =
        RawMsgPack::new(Bytes::copy_from_slice(bytes)).map_err(|e| WireError::MsgPack(e.to_string()))?;
    raw.deserialize().map_err(|e| WireError::MsgPack(e.to_string()))
}

/// Takes member `key` out of an object; of a repeated key the last one, as `JSON.parse` keeps.
pub(crate) fn take(members: &mut Vec<(String, Value)>, key: &str) -> Option<Value> {
    let index = members.iter().rposition(|(k, _)| k == key)?;
    Some(members.swap_remove(index).1)
}

/// A string, or a number in JavaScript's string form: what a room name or an id becomes when
/// JavaScript uses it as a key.
pub(crate) fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                let mut out = Vec::with_capacity(24);
                socketio_parser::write_js_number(n.as_f64()?, &mut out).ok()?;
                String::from_utf8(out).ok()
            }
        }
        _ => None,
    }
}

/// A list of room names; items that are neither strings nor numbers are skipped.
pub(crate) fn rooms(value: Option<Value>) -> Vec<Room> {
    match value {
        Some(Value::Array(items)) => items.into_iter().filter_map(text).map(Room::from).collect(),
        _ => Vec::new(),
    }
}

/// JavaScript truthiness, for flags.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub(crate) fn flags(value: Option<Value>) -> BroadcastFlags {
    let Some(Value::Object(mut members)) = value else { return BroadcastFlags::default() };
    let timeout = take(&mut members, "timeout")
        .and_then(|t| t.as_f64())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| std::time::Duration::from_secs_f64(ms.min(1e15) / 1000.0));
    BroadcastFlags {
        local: false,
        volatile: take(&mut members, "volatile").is_some_and(|v| truthy(&v)),
        compress: take(&mut members, "compress").and_then(|v| match v {
            Value::Null => None,
            v => Some(truthy(&v)),
        }),
        timeout,
        expect_single_response: take(&mut members, "expectSingleResponse").is_some_and(|v| truthy(&v)),
    }
}

/// `opts`: `{rooms, except, flags}`; anything missing is empty.
pub(crate) fn options(value: Option<Value>) -> BroadcastOptions {
    let Some(Value::Object(mut members)) = value else { return BroadcastOptions::default() };
    BroadcastOptions {
        rooms: rooms(take(&mut members, "rooms")),
        except: rooms(take(&mut members, "except")),
        flags: flags(take(&mut members, "flags")),
    }
}

/// The namespace and data of a `{type, data, nsp}` packet, which must be an `EVENT`
/// (`BINARY_EVENT` is accepted too) whose data is an array.
pub(crate) fn event(packet: Option<Value>) -> Result<(Option<String>, Value), WireError> {
    let Some(Value::Object(mut packet)) = packet else {
        return Err(WireError::Shape("packet is not an object"));
    };
    match take(&mut packet, "type").and_then(|t| t.as_u64()) {
        Some(2 | 5) => {}
        _ => return Err(WireError::Shape("packet is not an event")),
    }
    let nsp = take(&mut packet, "nsp").and_then(text);
    match take(&mut packet, "data") {
        Some(data @ Value::Array(_)) => Ok((nsp, data)),
        _ => Err(WireError::Shape("event data is not an array")),
    }
}

/// A socket of a `REMOTE_FETCH` answer: `{id, handshake, rooms, data}`; `None` without an id.
pub(crate) fn socket_details(value: Value) -> Option<SocketDetails> {
    let Value::Object(mut members) = value else { return None };
    let id = take(&mut members, "id").and_then(text)?;
    Some(SocketDetails {
        id: id.into(),
        handshake: take(&mut members, "handshake")
            .map(|h| to_json_value(&h))
            .unwrap_or(serde_json::Value::Null),
        rooms: rooms(take(&mut members, "rooms")),
        data: take(&mut members, "data").map(|d| to_json_value(&d)).unwrap_or(serde_json::Value::Null),
    })
}

/// A value as JSON: binary data becomes `{"type":"Buffer","data":[...]}`, as `JSON.stringify`
/// writes a Node.js `Buffer`.
pub(crate) fn to_json_value(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(to_json_value).collect()),
        Value::Object(members) => {
            Json::Object(members.iter().map(|(k, v)| (k.clone(), to_json_value(v))).collect())
        }
        Value::Binary(bytes) => {
            let mut buffer = serde_json::Map::new();
            buffer.insert("type".to_owned(), Json::String("Buffer".to_owned()));
            buffer.insert("data".to_owned(), Json::Array(bytes.iter().map(|b| Json::from(*b)).collect()));
            Json::Object(buffer)
        }
    }
}

/// Adds up the client counts the other nodes report for a broadcast with acks: `local` plus one
/// count from each of `others` nodes, or [`AdapterError::Timeout`] with how many came by
/// `deadline`.
pub(crate) async fn sum_client_counts(
    counts: &mut tokio::sync::mpsc::UnboundedReceiver<usize>,
    local: usize,
    others: usize,
    deadline: tokio::time::Instant,
) -> Result<usize, crate::adapter::AdapterError> {
    let mut total = local;
    let mut answered = 0;
    while answered < others {
        match tokio::time::timeout_at(deadline, counts.recv()).await {
            Ok(Some(count)) => {
                total += count;
                answered += 1;
            }
            _ => return Err(crate::adapter::AdapterError::Timeout { received: answered, expected: others }),
        }
    }
    Ok(total)
}
