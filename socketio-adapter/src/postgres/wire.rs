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

use crate::cluster::{self, take, text, to_msgpack, WireError};
pub(crate) use crate::heartbeat::{
    answer_data, broadcast_data, client_count_data, decode_members, disconnect_data, fetch_response_data,
    has_binary, kind, object, rooms_data, server_side_emit_data, Body, Message,
};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::adapter::BroadcastOptions;
    use crate::rooms::Room;

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
