//! The wire format of the sharded adapter of `@socket.io/redis-adapter` 8.3
//! (`createShardedAdapter`): the messages of `socket.io-adapter`'s `ClusterAdapter` (2.5),
//! published with `SPUBLISH`.
//!
//! * The namespace's channel is `<channelPrefix>#<nsp>#` (`socket.io#/#`); the answers to a
//!   node's requests go to its own channel, `<channelPrefix>#<nsp>#<uid>#`; in the `dynamic`
//!   subscription modes a broadcast to one room (and nothing else) goes to
//!   `<channelPrefix>#<nsp>#<room>#`.
//! * A message is `{type, data, uid, nsp}` (members in that order, as the reference assigns
//!   them). It travels as JSON, unless it is a broadcast, a broadcast ack, a `fetchSockets`
//!   answer, a server-side event or its answer whose data holds binary values: then the whole
//!   message is msgpack. A reader tells them apart by the first byte (`{` is JSON).
//! * Broadcast packets are `{type: 2, data}`, as the reference publishes them before its
//!   in-memory adapter adds `nsp` and an ack id.
//! * A channel lives on the cluster node that serves its hash slot: CRC16 (XMODEM) of the
//!   channel, or of its hash tag (the text between the first `{` and the next `}` when not
//!   empty), modulo 16 384.
//!
//! Everything here is plain data: no I/O, no clock.

use bytes::Bytes;
use socketio_parser::Value;

use crate::adapter::BroadcastOptions;
use crate::cluster::{self, to_msgpack, WireError};
use crate::heartbeat::{decode_members, has_binary, kind, object, Message};

/// Which rooms get a channel of their own (`subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubscriptionMode {
    /// `static`: two channels per namespace (the namespace's and this node's answers), whatever
    /// the rooms.
    Static,
    /// `dynamic`, the default: also one channel per public room (a room that is not a socket
    /// id), subscribed while this node has a socket in it. A broadcast to one public room only
    /// reaches the nodes that have it.
    #[default]
    Dynamic,
    /// `dynamic-private`: one channel per room, private rooms (socket ids) included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// The reference's name: `static`, `dynamic` or `dynamic-private`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriptionMode::Static => "static",
            SubscriptionMode::Dynamic => "dynamic",
            SubscriptionMode::DynamicPrivate => "dynamic-private",
        }
    }

    /// Whether this node subscribes to the channel of `room` while it has it; `private` says
    /// whether the room is the id of one of this node's sockets.
    pub(crate) fn subscribes_to(self, private: bool) -> bool {
        match self {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !private,
            SubscriptionMode::DynamicPrivate => true,
        }
    }
}

/// The namespace's channel, `<prefix>#<nsp>#`.
pub(crate) fn channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}#{nsp}#")
}

/// The channel of node `uid`'s answers: the namespace's channel, then `<uid>#`.
pub(crate) fn response_channel(channel: &str, uid: &str) -> String {
    format!("{channel}{uid}#")
}

/// The channel of `room`: the namespace's channel, then `<room>#`.
pub(crate) fn room_channel(channel: &str, room: &str) -> String {
    format!("{channel}{room}#")
}

/// Whether `room` may be a socket id, as the reference guesses it when publishing: 20
/// characters (UTF-16 code units in JavaScript).
fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

/// The room whose own channel a message goes to, if any: a broadcast without acks to exactly
/// one room (and in mode `dynamic`, one that does not look like a socket id).
pub(crate) fn dynamic_room(mode: SubscriptionMode, opts: &BroadcastOptions) -> Option<&str> {
    let [room] = opts.rooms.as_slice() else { return None };
    match mode {
        SubscriptionMode::Static => None,
        SubscriptionMode::Dynamic if looks_like_a_socket_id(room) => None,
        SubscriptionMode::Dynamic | SubscriptionMode::DynamicPrivate => Some(room),
    }
}

/// Encodes message `{type, data, uid, nsp}`: msgpack when its type may carry user data and
/// that data holds binary, else JSON, as the reference decides.
pub(crate) fn encode(
    message_kind: u8,
    data: Option<Value>,
    uid: &str,
    nsp: &str,
) -> Result<Bytes, WireError> {
    let may_hold_binary = [
        kind::BROADCAST,
        kind::BROADCAST_ACK,
        kind::FETCH_SOCKETS_RESPONSE,
        kind::SERVER_SIDE_EMIT,
        kind::SERVER_SIDE_EMIT_RESPONSE,
    ]
    .contains(&message_kind);
    let binary = may_hold_binary && data.as_ref().is_some_and(has_binary);
    let mut members = vec![("type", Value::from(message_kind))];
    if let Some(data) = data {
        members.push(("data", data));
    }
    members.push(("uid", Value::from(uid)));
    members.push(("nsp", Value::from(nsp)));
    let message = object(members);
    if binary {
        to_msgpack(&message)
    } else {
        cluster::to_json(&message)
    }
}

/// Reads a message: JSON when the first byte is `{`, else msgpack.
pub(crate) fn decode(payload: &[u8]) -> Result<Message, WireError> {
    let value = if payload.first() == Some(&b'{') {
        serde_json::from_slice(payload).map_err(|e| WireError::Json(e.to_string()))?
    } else {
        cluster::decode_msgpack(payload)?
    };
    let Value::Object(members) = value else {
        return Err(WireError::Shape("message is not an object"));
    };
    decode_members(members)
}

/// The number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: u16 = 16_384;

/// The hash slot of `key` (a channel name).
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster hashes keys.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::heartbeat::{broadcast_data, Body};
    use crate::rooms::Room;

    #[test]
    fn channels_as_the_reference_names_them() {
        let main = channel("socket.io", "/chat");
        assert_eq!(main, "socket.io#/chat#");
        assert_eq!(response_channel(&main, "0123456789abcdef"), "socket.io#/chat#0123456789abcdef#");
        assert_eq!(room_channel(&main, "news"), "socket.io#/chat#news#");
    }

    #[test]
    fn which_broadcasts_take_a_room_channel() {
        let one = BroadcastOptions::to([Room::from("news")]);
        let sid = BroadcastOptions::to([Room::from("aaaaaaaaaaaaaaaaaaaa")]);
        let two = BroadcastOptions::to([Room::from("a"), Room::from("b")]);
        assert_eq!(dynamic_room(SubscriptionMode::Dynamic, &one), Some("news"));
        assert_eq!(dynamic_room(SubscriptionMode::Dynamic, &sid), None);
        assert_eq!(dynamic_room(SubscriptionMode::DynamicPrivate, &sid), Some("aaaaaaaaaaaaaaaaaaaa"));
        assert_eq!(dynamic_room(SubscriptionMode::Static, &one), None);
        assert_eq!(dynamic_room(SubscriptionMode::Dynamic, &two), None);
        assert_eq!(dynamic_room(SubscriptionMode::Dynamic, &BroadcastOptions::all()), None);
        // Twenty UTF-16 code units, as JavaScript counts a string's length.
        assert!(looks_like_a_socket_id(&"é".repeat(20)));
        assert!(!looks_like_a_socket_id(&"😀".repeat(20)));
        assert!(SubscriptionMode::Dynamic.subscribes_to(false));
        assert!(!SubscriptionMode::Dynamic.subscribes_to(true));
        assert!(SubscriptionMode::DynamicPrivate.subscribes_to(true));
        assert!(!SubscriptionMode::Static.subscribes_to(false));
        assert_eq!(SubscriptionMode::DynamicPrivate.as_str(), "dynamic-private");
    }

    #[test]
    fn messages_in_the_reference_shapes() {
        let data = Value::from(serde_json::json!(["hello", 1]));
        let opts = BroadcastOptions { except: vec!["x".into()], ..BroadcastOptions::to(["r".into()]) };
        let bytes = encode(kind::BROADCAST, Some(broadcast_data(data, None, &opts)), "ab", "/").unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["hello",1]},"opts":{"rooms":["r"],"except":["x"],"flags":{}}},"uid":"ab","nsp":"/"}"#
        );
        let binary = Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(b"\x01\x02"))]);
        let bytes =
            encode(kind::BROADCAST, Some(broadcast_data(binary, None, &BroadcastOptions::all())), "ab", "/")
                .unwrap();
        assert_eq!(bytes[0], 0x84, "a msgpack map of four members");
        let message = decode(&bytes).unwrap();
        assert_eq!((message.uid.as_deref(), message.nsp.as_deref()), (Some("ab"), Some("/")));
        let Body::Broadcast { data, .. } = message.body else { panic!("broadcast") };
        assert_eq!(data.get_index(1), Some(&Value::Binary(Bytes::from_static(b"\x01\x02"))));
        // A join never carries user data: JSON even when a room name could pass for binary.
        let join = encode(kind::SOCKETS_JOIN, Some(Value::Binary(Bytes::from_static(b"x"))), "u", "/");
        assert_eq!(join.unwrap()[0], b'{');
    }

    #[test]
    fn decodes_the_reference_messages() {
        let message =
            decode(br#"{"type":10,"data":{"requestId":"q","packet":"node"},"uid":"n1","nsp":"/"}"#).unwrap();
        assert_eq!(
            message.body,
            Body::ServerSideEmitResponse { request_id: "q".into(), answer: serde_json::json!("node") }
        );
        for garbage in [&b""[..], b"{", b"[]", b"\x93", b"\xc1", b"{\"type\":7}", b"\x81\xa4type\x03"] {
            assert!(decode(garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn hash_slots_as_redis_computes_them() {
        // CLUSTER KEYSLOT answers, read off Redis 7.
        assert_eq!(key_slot(b"123456789"), 12_739);
        assert_eq!(key_slot(b"foo"), 12_182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b""), 0);
    }
}
