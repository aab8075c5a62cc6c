//! The wire format of `@socket.io/redis-adapter` 8.3 (classic pub/sub): channel names, the
//! broadcast message, the requests between nodes and their responses.
//!
//! Encodings are byte-compatible with the reference: broadcasts, broadcasts with acks and the
//! acks themselves are msgpack as `notepack.io` 3 writes them (maps with string keys, integral
//! numbers as the smallest integer, other numbers as `float 64`, binary as `bin`); every other
//! request and response is JSON, with the members in the reference's order. A decoder tells
//! them apart by the first byte: `{` is JSON.
//!
//! Everything here is plain data: no I/O, no clock.

use bytes::Bytes;
use serde::Serialize;
use socketio_parser::{Packet, Value};

use crate::adapter::{BroadcastOptions, SocketDetails};
use crate::cluster::{
    decode_msgpack, event, options, rooms, take, text, to_json, to_msgpack, truthy, unique, wire_type,
    WireFlags, WireOpts, WirePacket,
};
pub(crate) use crate::cluster::{packet_data, socket_details, to_json_value, WireError};
use crate::rooms::Room;

/// The `RequestType` values of the reference.
pub(crate) mod kind {
    /// Legacy `allSockets`: the ids of the sockets in some rooms.
    pub(crate) const SOCKETS: u8 = 0;
    /// `allRooms`.
    pub(crate) const ALL_ROOMS: u8 = 1;
    /// `socketsJoin`.
    pub(crate) const REMOTE_JOIN: u8 = 2;
    /// `socketsLeave`.
    pub(crate) const REMOTE_LEAVE: u8 = 3;
    /// `disconnectSockets`.
    pub(crate) const REMOTE_DISCONNECT: u8 = 4;
    /// `fetchSockets`.
    pub(crate) const REMOTE_FETCH: u8 = 5;
    /// `serverSideEmit`, and the answer to one with an ack.
    pub(crate) const SERVER_SIDE_EMIT: u8 = 6;
    /// A broadcast with acks.
    pub(crate) const BROADCAST: u8 = 7;
    /// How many clients of a node a broadcast with acks reached.
    pub(crate) const BROADCAST_CLIENT_COUNT: u8 = 8;
    /// One client's ack to a broadcast with acks.
    pub(crate) const BROADCAST_ACK: u8 = 9;
}

// -------------------------------------------------------------------------------------------
// Channels

/// The channels of one namespace's adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Channels {
    /// `<key>#<nsp>#`: broadcasts to every socket, and the prefix of the room channels.
    pub(crate) broadcast: String,
    /// The pattern every broadcast channel of the namespace matches (`<key>#<nsp>#*`, glob
    /// characters of the prefix escaped).
    pub(crate) pattern: String,
    /// `<key>-request#<nsp>#`: the requests; its subscriber count is the server count.
    pub(crate) request: String,
    /// `<key>-response#<nsp>#`: the responses, shared by every node.
    pub(crate) response: String,
    /// `<key>-response#<nsp>#<uid>#`: the responses addressed to this node.
    pub(crate) own_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` for the adapter `uid`, under the prefix `key`.
    pub(crate) fn new(key: &str, nsp: &str, uid: &str) -> Self {
        let broadcast = format!("{key}#{nsp}#");
        let mut pattern = String::with_capacity(broadcast.len() + 2);
        for c in broadcast.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        let response = format!("{key}-response#{nsp}#");
        Channels {
            pattern,
            request: format!("{key}-request#{nsp}#"),
            own_response: format!("{response}{uid}#"),
            response,
            broadcast,
        }
    }

    /// The channel a broadcast is published on: the room's when it reaches exactly one room.
    pub(crate) fn broadcast_for(&self, opts: &BroadcastOptions) -> String {
        match unique(&opts.rooms).as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The room a broadcast channel names: `""` for the namespace's main channel, `None` for a
    /// channel of another namespace.
    pub(crate) fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        match rest {
            "" => Some(""),
            _ => rest.strip_suffix('#'),
        }
    }

    /// Where this node publishes its response to a request of `requester`: the requester's own
    /// channel when `specific`, else the shared one. (The reference writes `undefined` for a
    /// requester without uid.)
    pub(crate) fn response_for(&self, requester: Option<&str>, specific: bool) -> String {
        if specific {
            format!("{}{}#", self.response, requester.unwrap_or("undefined"))
        } else {
            self.response.clone()
        }
    }
}

// -------------------------------------------------------------------------------------------
// Outgoing

/// The rooms of a request's `opts` (no flags: the reference sends none with requests).
#[derive(Serialize)]
struct WireTarget<'a> {
    rooms: Vec<&'a str>,
    except: Vec<&'a str>,
}

impl<'a> WireTarget<'a> {
    fn new(opts: &'a BroadcastOptions) -> Self {
        WireTarget { rooms: unique(&opts.rooms), except: unique(&opts.except) }
    }
}

/// A broadcast: msgpack `[uid, {type, data, nsp}, {rooms, except, flags}]`.
pub(crate) fn broadcast(
    uid: &str,
    packet: &Packet,
    data: Option<&Value>,
    nsp: &str,
    opts: &BroadcastOptions,
) -> Result<Bytes, WireError> {
    let packet = WirePacket { kind: wire_type(packet.kind), data, nsp };
    let opts = WireOpts {
        rooms: unique(&opts.rooms),
        except: unique(&opts.except),
        flags: WireFlags::new(&opts.flags),
    };
    to_msgpack(&(uid, packet, opts))
}

/// A broadcast with acks (`BROADCAST`): msgpack
/// `{uid, requestId, type: 7, packet: {type, data, nsp}, opts: {rooms, except, flags}}`.
pub(crate) fn broadcast_request(
    uid: &str,
    request_id: &str,
    packet: &Packet,
    data: Option<&Value>,
    nsp: &str,
    opts: &BroadcastOptions,
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        #[serde(rename = "type")]
        kind: u8,
        packet: WirePacket<'a>,
        opts: WireOpts<'a>,
    }
    to_msgpack(&Request {
        uid,
        request_id,
        kind: kind::BROADCAST,
        packet: WirePacket { kind: wire_type(packet.kind), data, nsp },
        opts: WireOpts {
            rooms: unique(&opts.rooms),
            except: unique(&opts.except),
            flags: WireFlags::new(&opts.flags),
        },
    })
}

/// `allRooms` (`ALL_ROOMS`): JSON `{uid, requestId, type: 1}`.
pub(crate) fn all_rooms_request(uid: &str, request_id: &str) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        #[serde(rename = "type")]
        kind: u8,
    }
    to_json(&Request { uid, request_id, kind: kind::ALL_ROOMS })
}

/// `fetchSockets` (`REMOTE_FETCH`): JSON `{uid, requestId, type: 5, opts: {rooms, except}}`.
pub(crate) fn fetch_request(
    uid: &str,
    request_id: &str,
    opts: &BroadcastOptions,
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        #[serde(rename = "type")]
        kind: u8,
        opts: WireTarget<'a>,
    }
    to_json(&Request { uid, request_id, kind: kind::REMOTE_FETCH, opts: WireTarget::new(opts) })
}

/// `socketsJoin` / `socketsLeave` (`REMOTE_JOIN` / `REMOTE_LEAVE`): JSON
/// `{uid, type, opts: {rooms, except}, rooms}`.
pub(crate) fn rooms_request(
    uid: &str,
    join: bool,
    opts: &BroadcastOptions,
    rooms: &[Room],
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "type")]
        kind: u8,
        opts: WireTarget<'a>,
        rooms: Vec<&'a str>,
    }
    let kind = if join { kind::REMOTE_JOIN } else { kind::REMOTE_LEAVE };
    to_json(&Request { uid, kind, opts: WireTarget::new(opts), rooms: unique(rooms) })
}

/// `disconnectSockets` (`REMOTE_DISCONNECT`): JSON `{uid, type: 4, opts: {rooms, except}, close}`.
pub(crate) fn disconnect_request(
    uid: &str,
    opts: &BroadcastOptions,
    close: bool,
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "type")]
        kind: u8,
        opts: WireTarget<'a>,
        close: bool,
    }
    to_json(&Request { uid, kind: kind::REMOTE_DISCONNECT, opts: WireTarget::new(opts), close })
}

/// `serverSideEmit` (`SERVER_SIDE_EMIT`): JSON `{uid, type: 6, data}`, or
/// `{uid, requestId, type: 6, data}` with an ack.
pub(crate) fn server_side_emit_request(
    uid: &str,
    request_id: Option<&str>,
    data: &serde_json::Value,
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Request<'a> {
        uid: &'a str,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        #[serde(rename = "type")]
        kind: u8,
        data: &'a serde_json::Value,
    }
    to_json(&Request { uid, request_id, kind: kind::SERVER_SIDE_EMIT, data })
}

/// The answer to `SOCKETS`: JSON `{requestId, sockets: [ids]}`.
pub(crate) fn sockets_response(request_id: &str, ids: &[&str]) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "requestId")]
        request_id: &'a str,
        sockets: &'a [&'a str],
    }
    to_json(&Response { request_id, sockets: ids })
}

/// The answer to `ALL_ROOMS`: JSON `{requestId, rooms: [...]}`.
pub(crate) fn all_rooms_response(request_id: &str, rooms: &[Room]) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "requestId")]
        request_id: &'a str,
        rooms: Vec<&'a str>,
    }
    to_json(&Response { request_id, rooms: rooms.iter().map(|r| &**r).collect() })
}

/// The answer to a legacy `{sid, room}` join, leave or disconnect: JSON `{requestId}`.
pub(crate) fn done_response(request_id: Option<&str>) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
    }
    to_json(&Response { request_id })
}

/// The answer to `REMOTE_FETCH`: JSON `{requestId, sockets: [{id, handshake, rooms, data}]}`.
pub(crate) fn fetch_response(request_id: &str, sockets: &[SocketDetails]) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Socket<'a> {
        id: &'a str,
        handshake: &'a serde_json::Value,
        rooms: Vec<&'a str>,
        data: &'a serde_json::Value,
    }
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "requestId")]
        request_id: &'a str,
        sockets: Vec<Socket<'a>>,
    }
    let sockets = sockets
        .iter()
        .map(|s| Socket {
            id: &s.id,
            handshake: &s.handshake,
            rooms: s.rooms.iter().map(|r| &**r).collect(),
            data: &s.data,
        })
        .collect();
    to_json(&Response { request_id, sockets })
}

/// The answer to a `SERVER_SIDE_EMIT` with an ack: JSON `{type: 6, requestId, data}`.
pub(crate) fn server_side_emit_response(
    request_id: &str,
    data: &serde_json::Value,
) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "type")]
        kind: u8,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        data: &'a serde_json::Value,
    }
    to_json(&Response { kind: kind::SERVER_SIDE_EMIT, request_id, data })
}

/// How many clients of this node a broadcast with acks reached: JSON
/// `{type: 8, requestId, clientCount}`.
pub(crate) fn client_count_response(request_id: &str, client_count: usize) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "type")]
        kind: u8,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        #[serde(rename = "clientCount")]
        client_count: usize,
    }
    to_json(&Response { kind: kind::BROADCAST_CLIENT_COUNT, request_id, client_count })
}

/// One client's ack to a broadcast with acks: msgpack `{type: 9, requestId, packet}`.
pub(crate) fn broadcast_ack_response(request_id: &str, answer: &Value) -> Result<Bytes, WireError> {
    #[derive(Serialize)]
    struct Response<'a> {
        #[serde(rename = "type")]
        kind: u8,
        #[serde(rename = "requestId")]
        request_id: &'a str,
        packet: &'a Value,
    }
    to_msgpack(&Response { kind: kind::BROADCAST_ACK, request_id, packet: answer })
}

// -------------------------------------------------------------------------------------------
// Incoming

/// A broadcast from another node (or an emitter).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Broadcast {
    /// The sender's uid (`emitter` for an emitter).
    pub(crate) uid: Option<String>,
    /// The packet's namespace (`/` when absent, as the reference reads it).
    pub(crate) nsp: String,
    /// The packet's `data`: `[event, ...args]`.
    pub(crate) data: Value,
    /// Which sockets it reaches, and how.
    pub(crate) opts: BroadcastOptions,
}

/// Who a join, leave or disconnect request reaches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// The sockets `opts` reach (the current form).
    Sockets(BroadcastOptions),
    /// One socket by id, answered with `{requestId}` (the legacy form).
    Socket {
        /// The socket id.
        sid: String,
        /// The id the answer carries.
        request_id: Option<String>,
    },
}

/// A request from another node (or an emitter).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// `SOCKETS`: the ids of this node's sockets in `rooms` (every socket when empty).
    Sockets { uid: Option<String>, request_id: String, rooms: Vec<Room> },
    /// `ALL_ROOMS`.
    AllRooms { uid: Option<String>, request_id: String },
    /// `REMOTE_JOIN`.
    Join { uid: Option<String>, target: Target, rooms: Vec<Room> },
    /// `REMOTE_LEAVE`.
    Leave { uid: Option<String>, target: Target, rooms: Vec<Room> },
    /// `REMOTE_DISCONNECT`.
    Disconnect { uid: Option<String>, target: Target, close: bool },
    /// `REMOTE_FETCH`.
    Fetch { uid: Option<String>, request_id: String, opts: BroadcastOptions },
    /// `SERVER_SIDE_EMIT`: `data` is `[event, ...args]`; with `request_id`, one answer is
    /// expected.
    ServerSideEmit { uid: Option<String>, request_id: Option<String>, data: Vec<serde_json::Value> },
    /// `BROADCAST`: a broadcast with acks.
    Broadcast {
        uid: Option<String>,
        request_id: String,
        nsp: Option<String>,
        data: Value,
        opts: BroadcastOptions,
    },
}

/// A response to one of this node's requests. Which members matter depends on the request it
/// answers, as in the reference (which reads them by the request's type, not the response's).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Response {
    /// `type`, set on `SERVER_SIDE_EMIT`, `BROADCAST_CLIENT_COUNT` and `BROADCAST_ACK` answers.
    pub(crate) kind: Option<u8>,
    /// `requestId`.
    pub(crate) request_id: Option<String>,
    /// `sockets`: ids (`SOCKETS`) or socket details (`REMOTE_FETCH`).
    pub(crate) sockets: Option<Vec<Value>>,
    /// `rooms` (`ALL_ROOMS`).
    pub(crate) rooms: Option<Vec<Room>>,
    /// `data` (`SERVER_SIDE_EMIT`).
    pub(crate) data: Option<Value>,
    /// `clientCount` (`BROADCAST_CLIENT_COUNT`).
    pub(crate) client_count: Option<usize>,
    /// `packet` (`BROADCAST_ACK`).
    pub(crate) packet: Option<Value>,
}

/// Reads one message, JSON when it starts with `{`, else msgpack.
fn decode_any(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))
    } else {
        decode_msgpack(bytes)
    }
}

/// Reads a broadcast: msgpack `[uid, {type, data, nsp}, {rooms, except, flags}]`.
pub(crate) fn decode_broadcast(bytes: &[u8]) -> Result<Broadcast, WireError> {
    let Value::Array(items) = decode_msgpack(bytes)? else {
        return Err(WireError::Shape("broadcast is not an array"));
    };
    let mut items = items.into_iter();
    let uid = items.next().and_then(text);
    let (nsp, data) = event(items.next())?;
    let opts = options(items.next());
    Ok(Broadcast { uid, nsp: nsp.unwrap_or_else(|| "/".to_owned()), data, opts })
}

/// Reads a request, JSON or msgpack. `Ok(None)` for a request type this protocol does not
/// know (the reference ignores those).
pub(crate) fn decode_request(bytes: &[u8]) -> Result<Option<Request>, WireError> {
    let Value::Object(mut members) = decode_any(bytes)? else {
        return Err(WireError::Shape("request is not an object"));
    };
    let uid = take(&mut members, "uid").and_then(text);
    let request_id = take(&mut members, "requestId").and_then(text);
    let Some(request_type) = take(&mut members, "type").and_then(|t| t.as_u64()) else { return Ok(None) };
    let required = |id: Option<String>| id.ok_or(WireError::Shape("request without requestId"));
    let target = |members: &mut Vec<(String, Value)>, request_id: Option<String>| match take(members, "opts")
    {
        Some(opts) if truthy(&opts) => Ok(Target::Sockets(options(Some(opts)))),
        _ => match take(members, "sid").and_then(text) {
            Some(sid) => Ok(Target::Socket { sid, request_id }),
            None => Err(WireError::Shape("request without opts or sid")),
        },
    };
    let request = match u8::try_from(request_type).unwrap_or(u8::MAX) {
        kind::SOCKETS => Request::Sockets {
            uid,
            request_id: required(request_id)?,
            rooms: rooms(take(&mut members, "rooms")),
        },
        kind::ALL_ROOMS => Request::AllRooms { uid, request_id: required(request_id)? },
        kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
            let target = target(&mut members, request_id)?;
            let rooms = match &target {
                Target::Sockets(_) => rooms(take(&mut members, "rooms")),
                Target::Socket { .. } => {
                    take(&mut members, "room").and_then(text).map(Room::from).into_iter().collect()
                }
            };
            if request_type == u64::from(kind::REMOTE_JOIN) {
                Request::Join { uid, target, rooms }
            } else {
                Request::Leave { uid, target, rooms }
            }
        }
        kind::REMOTE_DISCONNECT => {
            let target = target(&mut members, request_id)?;
            let close = take(&mut members, "close").is_some_and(|c| truthy(&c));
            Request::Disconnect { uid, target, close }
        }
        kind::REMOTE_FETCH => Request::Fetch {
            uid,
            request_id: required(request_id)?,
            opts: options(take(&mut members, "opts")),
        },
        kind::SERVER_SIDE_EMIT => {
            let Some(Value::Array(data)) = take(&mut members, "data") else {
                return Err(WireError::Shape("server-side event data is not an array"));
            };
            let data = data.iter().map(to_json_value).collect();
            Request::ServerSideEmit { uid, request_id, data }
        }
        kind::BROADCAST => {
            let (nsp, data) = event(take(&mut members, "packet"))?;
            Request::Broadcast {
                uid,
                request_id: required(request_id)?,
                nsp,
                data,
                opts: options(take(&mut members, "opts")),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(request))
}

/// Reads a response, JSON or msgpack.
pub(crate) fn decode_response(bytes: &[u8]) -> Result<Response, WireError> {
    let Value::Object(mut members) = decode_any(bytes)? else {
        return Err(WireError::Shape("response is not an object"));
    };
    let array = |v: Option<Value>| match v {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    Ok(Response {
        kind: take(&mut members, "type").and_then(|t| t.as_u64()).and_then(|t| u8::try_from(t).ok()),
        request_id: take(&mut members, "requestId").and_then(text),
        sockets: array(take(&mut members, "sockets")),
        rooms: match take(&mut members, "rooms") {
            v @ Some(Value::Array(_)) => Some(rooms(v)),
            _ => None,
        },
        data: take(&mut members, "data"),
        client_count: take(&mut members, "clientCount").and_then(|c| c.as_f64()).map(|c| {
            if c.is_finite() && c > 0.0 {
                c as usize
            } else {
                0
            }
        }),
        packet: take(&mut members, "packet"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use socketio_parser::RawJson;

    fn hello_world() -> Packet {
        Packet::event("/", RawJson::new(r#"["hello","world"]"#).unwrap(), Vec::new(), None)
    }

    /// `io.emit("hello", "world")` as the reference publishes it (protocol facts 6.2).
    #[test]
    fn broadcast_matches_the_reference_bytes() {
        let packet = hello_world();
        let data = packet_data(&packet).unwrap();
        let bytes = broadcast("2CNaxZ", &packet, data.as_ref(), "/", &BroadcastOptions::all()).unwrap();
        let mut expected = vec![0x93, 0xa6];
        expected.extend_from_slice(b"2CNaxZ");
        expected.extend_from_slice(b"\x83\xa4type\x02\xa4data\x92\xa5hello\xa5world\xa3nsp\xa1/");
        expected.extend_from_slice(b"\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80");
        assert_eq!(&bytes[..], &expected[..]);

        let decoded = decode_broadcast(&expected).unwrap();
        assert_eq!(decoded.uid.as_deref(), Some("2CNaxZ"));
        assert_eq!(decoded.nsp, "/");
        assert_eq!(decoded.data, Value::Array(vec!["hello".into(), "world".into()]));
        assert_eq!(decoded.opts, BroadcastOptions::all());
    }

    #[test]
    fn binary_and_floats_take_notepack_forms() {
        let (json, attachments) =
            socketio_parser::to_payload(&("bin", Bytes::from_static(b"\x01\x02"), 1.5, 3.0)).unwrap();
        let packet = Packet::event("/", json, attachments, None);
        let data = packet_data(&packet).unwrap();
        let mut opts = BroadcastOptions::to([Room::from("r")]);
        opts.flags.timeout = Some(std::time::Duration::from_millis(500));
        let bytes = broadcast("abcdef", &packet, data.as_ref(), "/", &opts).unwrap();
        let mut expected = vec![0x93, 0xa6];
        expected.extend_from_slice(b"abcdef");
        expected.extend_from_slice(b"\x83\xa4type\x02\xa4data\x94\xa3bin\xc4\x02\x01\x02");
        expected.extend_from_slice(b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x03\xa3nsp\xa1/");
        expected
            .extend_from_slice(b"\x83\xa5rooms\x91\xa1r\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x01\xf4");
        assert_eq!(&bytes[..], &expected[..]);
        let decoded = decode_broadcast(&bytes).unwrap();
        assert_eq!(decoded.opts.rooms, [Room::from("r")]);
        assert_eq!(decoded.opts.flags.timeout, Some(std::time::Duration::from_millis(500)));
        assert_eq!(decoded.data.get_index(1), Some(&Value::Binary(Bytes::from_static(b"\x01\x02"))));
    }

    #[test]
    fn channels_follow_the_reference_names() {
        let channels = Channels::new("socket.io", "/", "abc123");
        assert_eq!(channels.broadcast, "socket.io#/#");
        assert_eq!(channels.pattern, "socket.io#/#*");
        assert_eq!(channels.request, "socket.io-request#/#");
        assert_eq!(channels.response, "socket.io-response#/#");
        assert_eq!(channels.own_response, "socket.io-response#/#abc123#");
        assert_eq!(channels.broadcast_for(&BroadcastOptions::to([Room::from("r1")])), "socket.io#/#r1#");
        assert_eq!(
            channels.broadcast_for(&BroadcastOptions::to([Room::from("a"), Room::from("b")])),
            "socket.io#/#"
        );
        assert_eq!(channels.room_of("socket.io#/#"), Some(""));
        assert_eq!(channels.room_of("socket.io#/#r1#"), Some("r1"));
        assert_eq!(channels.room_of("socket.io#/admin#"), None);
        assert_eq!(Channels::new("a*b", "/x", "u").pattern, "a\\*b#/x#*");
        assert_eq!(channels.response_for(Some("zz"), true), "socket.io-response#/#zz#");
        assert_eq!(channels.response_for(Some("zz"), false), "socket.io-response#/#");
    }

    #[test]
    fn requests_in_the_reference_shapes() {
        let opts =
            BroadcastOptions { rooms: vec!["a".into()], except: vec!["b".into()], ..Default::default() };
        let text = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
        assert_eq!(text(all_rooms_request("u", "r").unwrap()), r#"{"uid":"u","requestId":"r","type":1}"#);
        assert_eq!(
            text(fetch_request("u", "r", &opts).unwrap()),
            r#"{"uid":"u","requestId":"r","type":5,"opts":{"rooms":["a"],"except":["b"]}}"#
        );
        assert_eq!(
            text(rooms_request("u", true, &opts, &["c".into()]).unwrap()),
            r#"{"uid":"u","type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c"]}"#
        );
        assert_eq!(
            text(disconnect_request("u", &opts, true).unwrap()),
            r#"{"uid":"u","type":4,"opts":{"rooms":["a"],"except":["b"]},"close":true}"#
        );
        assert_eq!(
            text(server_side_emit_request("u", Some("r"), &serde_json::json!(["ev", 1])).unwrap()),
            r#"{"uid":"u","requestId":"r","type":6,"data":["ev",1]}"#
        );
        assert_eq!(
            text(client_count_response("r", 2).unwrap()),
            r#"{"type":8,"requestId":"r","clientCount":2}"#
        );
        assert_eq!(
            &broadcast_ack_response("r", &Value::from("ok")).unwrap()[..],
            b"\x83\xa4type\x09\xa9requestId\xa1r\xa6packet\xa2ok"
        );
    }

    #[test]
    fn decodes_every_request_form() {
        let decode = |s: &str| decode_request(s.as_bytes()).unwrap().unwrap();
        assert_eq!(
            decode(r#"{"type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b",1]}"#),
            Request::Join {
                uid: None,
                target: Target::Sockets(BroadcastOptions::to([Room::from("a")])),
                rooms: vec!["b".into(), "1".into()]
            }
        );
        assert_eq!(
            decode(r#"{"uid":"x","type":3,"sid":"s1","room":"r","requestId":"q"}"#),
            Request::Leave {
                uid: Some("x".into()),
                target: Target::Socket { sid: "s1".into(), request_id: Some("q".into()) },
                rooms: vec!["r".into()]
            }
        );
        assert_eq!(
            decode(r#"{"uid":"emitter","type":6,"data":["ev",{"a":1}]}"#),
            Request::ServerSideEmit {
                uid: Some("emitter".into()),
                request_id: None,
                data: vec![serde_json::json!("ev"), serde_json::json!({"a":1})]
            }
        );
        assert_eq!(decode_request(br#"{"type":42}"#).unwrap(), None);
        assert!(decode_request(br#"{"type":5}"#).is_err());
        assert!(decode_request(b"\xc1").is_err());
        assert!(decode_request(b"").is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in
            [&b""[..], b"{", b"\x93", b"\x93\xa1x\xc0\xc0", b"[]", b"\xdd\xff\xff\xff\xff", b"\x91\xa1"]
        {
            let _ = decode_broadcast(bytes);
            let _ = decode_request(bytes);
            let _ = decode_response(bytes);
        }
    }
}
