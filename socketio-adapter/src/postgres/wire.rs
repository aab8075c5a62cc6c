//! The wire format of `@socket.io/postgres-adapter` 0.5: the messages of `socket.io-adapter`'s
//! `ClusterAdapterWithHeartbeat` (2.5), sent with `NOTIFY` on one channel per namespace.
//!
//! * Channel: `<channelPrefix>#<nsp>` (`socket.io#/`).
//! * A message is `{type, data, uid, nsp}` (members in that order, `data` absent for
//!   heartbeats). It travels as the `NOTIFY` payload in JSON, unless it is a broadcast, a
//!   broadcast ack, a server-side event or its answer holding binary data, or its JSON is longer
//!   than the threshold (8 000 bytes): then the whole message is msgpack in a row of the
//!   attachments table, and the payload is the header `{uid, type, attachmentId}`.
//! * Broadcast packets are `{type: 2, data}`: the reference publishes them before its
//!   in-memory adapter adds `nsp` and an ack id.
//!
//! Everything here is plain data: no I/O, no clock.

use bytes::Bytes;
use socketio_parser::Value;

use crate::adapter::{BroadcastOptions, SocketDetails};
use crate::cluster::{
    self, event, options, rooms, take, text, to_msgpack, truthy, unique, WireError, WireFlags,
};
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

/// The notification channel of namespace `nsp`.
pub(crate) fn channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}#{nsp}")
}

/// `LISTEN "<channel>"`, the channel quoted as an SQL identifier.
pub(crate) fn listen_statement(channel: &str) -> String {
    format!("LISTEN \"{}\"", channel.replace('"', "\"\""))
}

// -------------------------------------------------------------------------------------------
// Outgoing

/// A message ready for `NOTIFY`: a JSON payload, or msgpack for the attachments table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outgoing {
    /// The `NOTIFY` payload itself.
    Notify(String),
    /// The whole message as msgpack, to be stored; the payload is then
    /// [`attachment_header`] with the row's id.
    Attachment {
        /// The message's `type`.
        kind: u8,
        /// The msgpack bytes.
        payload: Bytes,
    },
}

fn object(members: Vec<(&str, Value)>) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
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

fn has_binary(value: &Value) -> bool {
    match value {
        Value::Binary(_) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Object(members) => members.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// Encodes message `{type, data, uid, nsp}`: JSON for `NOTIFY` when it fits in `threshold`
/// bytes and (for the types that carry user data) holds no binary, else msgpack for the
/// attachments table, as the reference decides.
pub(crate) fn encode(
    message_kind: u8,
    data: Option<Value>,
    uid: &str,
    nsp: &str,
    threshold: usize,
) -> Result<Outgoing, WireError> {
    let binary_kinds =
        [kind::BROADCAST, kind::BROADCAST_ACK, kind::SERVER_SIDE_EMIT, kind::SERVER_SIDE_EMIT_RESPONSE];
    let binary = binary_kinds.contains(&message_kind) && data.as_ref().is_some_and(has_binary);
    let mut members = vec![("type", Value::from(message_kind))];
    if let Some(data) = data {
        members.push(("data", data));
    }
    members.push(("uid", Value::from(uid)));
    members.push(("nsp", Value::from(nsp)));
    let message = object(members);
    if !binary {
        let json = serde_json::to_string(&message).map_err(|e| WireError::Json(e.to_string()))?;
        if json.len() <= threshold {
            return Ok(Outgoing::Notify(json));
        }
    }
    Ok(Outgoing::Attachment { kind: message_kind, payload: to_msgpack(&message)? })
}

/// The `NOTIFY` payload that points at a stored message: `{uid, type, attachmentId}` (the id as
/// a string, as node-postgres reads a `bigserial`).
pub(crate) fn attachment_header(uid: &str, message_kind: u8, id: i64) -> String {
    serde_json::json!({ "uid": uid, "type": message_kind, "attachmentId": id.to_string() }).to_string()
}

// -------------------------------------------------------------------------------------------
// Incoming

/// A `NOTIFY` payload as read: a whole message, or a pointer to one in the attachments table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Notification {
    /// The message itself.
    Message(Message),
    /// The message is row `attachment_id` of the attachments table.
    Attachment {
        /// The sender's uid.
        uid: Option<String>,
        /// The row id.
        attachment_id: i64,
    },
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

/// Reads a `NOTIFY` payload (JSON).
pub(crate) fn decode_notification(payload: &str) -> Result<Notification, WireError> {
    let value: Value = serde_json::from_str(payload).map_err(|e| WireError::Json(e.to_string()))?;
    let Value::Object(mut members) = value else {
        return Err(WireError::Shape("notification is not an object"));
    };
    if let Some(id) = take(&mut members, "attachmentId") {
        let attachment_id = text(id)
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or(WireError::Shape("attachmentId is not an integer"))?;
        return Ok(Notification::Attachment { uid: take(&mut members, "uid").and_then(text), attachment_id });
    }
    decode_members(members).map(Notification::Message)
}

/// Reads a message stored in the attachments table (msgpack).
pub(crate) fn decode_attachment(bytes: &[u8]) -> Result<Message, WireError> {
    let Value::Object(members) = cluster::decode_msgpack(bytes)? else {
        return Err(WireError::Shape("message is not an object"));
    };
    decode_members(members)
}

fn request_id(data: &mut Vec<(String, Value)>) -> Result<String, WireError> {
    take(data, "requestId").and_then(text).ok_or(WireError::Shape("message without requestId"))
}

fn decode_members(mut members: Vec<(String, Value)>) -> Result<Message, WireError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn notify(outgoing: Outgoing) -> String {
        match outgoing {
            Outgoing::Notify(json) => json,
            Outgoing::Attachment { .. } => panic!("expected a NOTIFY payload"),
        }
    }

    #[test]
    fn messages_in_the_reference_shapes() {
        let data = Value::from(serde_json::json!(["hello", "world"]));
        let opts = BroadcastOptions { except: vec!["x".into()], ..BroadcastOptions::to(["r".into()]) };
        assert_eq!(
            notify(
                encode(kind::BROADCAST, Some(broadcast_data(data, None, &opts)), "ab", "/", 8000).unwrap()
            ),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["hello","world"]},"opts":{"rooms":["r"],"except":["x"],"flags":{}}},"uid":"ab","nsp":"/"}"#
        );
        assert_eq!(
            notify(encode(kind::INITIAL_HEARTBEAT, None, "ab", "/chat", 8000).unwrap()),
            r#"{"type":1,"uid":"ab","nsp":"/chat"}"#
        );
        assert_eq!(channel("socket.io", "/chat"), "socket.io#/chat");
        assert_eq!(listen_statement("a\"b"), "LISTEN \"a\"\"b\"");
    }

    #[test]
    fn binary_or_long_messages_go_to_the_attachments_table() {
        let data = Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(b"\x01"))]);
        let message = encode(
            kind::BROADCAST,
            Some(broadcast_data(data, None, &BroadcastOptions::all())),
            "u",
            "/",
            8000,
        )
        .unwrap();
        let Outgoing::Attachment { kind: 3, payload } = message else { panic!("attachment") };
        let decoded = decode_attachment(&payload).unwrap();
        assert_eq!(decoded.uid.as_deref(), Some("u"));
        let Body::Broadcast { data, .. } = decoded.body else { panic!("broadcast") };
        assert_eq!(data.get_index(1), Some(&Value::Binary(Bytes::from_static(b"\x01"))));

        let long = Value::from(serde_json::json!(["big", "x".repeat(9000)]));
        let message = encode(
            kind::BROADCAST,
            Some(broadcast_data(long, None, &BroadcastOptions::all())),
            "u",
            "/",
            8000,
        );
        assert!(matches!(message, Ok(Outgoing::Attachment { .. })));
        assert_eq!(attachment_header("u", 3, 12), r#"{"uid":"u","type":3,"attachmentId":"12"}"#);
        assert_eq!(
            decode_notification(r#"{"uid":"u","type":3,"attachmentId":"12"}"#).unwrap(),
            Notification::Attachment { uid: Some("u".into()), attachment_id: 12 }
        );
    }

    #[test]
    fn decodes_the_reference_messages() {
        let message = decode_notification(
            r#"{"type":8,"data":{"requestId":"q","sockets":[{"id":"s1","handshake":{},"rooms":["s1","r"],"data":{"n":1}}]},"uid":"n1","nsp":"/"}"#,
        )
        .unwrap();
        let Notification::Message(Message { uid, body: Body::FetchResponse { request_id, sockets }, .. }) =
            message
        else {
            panic!("fetch response")
        };
        assert_eq!((uid.as_deref(), request_id.as_str()), (Some("n1"), "q"));
        assert_eq!(sockets[0].rooms, [Room::from("s1"), Room::from("r")]);
        let Notification::Message(m) =
            decode_notification(r#"{"type":11,"data":{"requestId":"q","clientCount":2},"uid":"n"}"#).unwrap()
        else {
            panic!("message")
        };
        assert_eq!(m.body, Body::ClientCount { request_id: "q".into(), count: 2 });
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "[]",
            "1",
            r#"{"type":"x"}"#,
            r#"{"type":7}"#,
            r#"{"attachmentId":{}}"#,
            r#"{"type":3,"data":{"packet":1}}"#,
            r#"{"type":8,"data":{"requestId":"q"}}"#,
        ] {
            assert!(decode_notification(text).is_err(), "{text}");
        }
        for bytes in [&b""[..], b"\x93", b"\xc1", b"\x81\xa4type\x03"] {
            let _ = decode_attachment(bytes);
        }
    }
}
