//! The wire format of `@socket.io/redis-streams-adapter` 0.2: the messages of
//! `socket.io-adapter`'s `ClusterAdapterWithHeartbeat` (2.5) as entries of one Redis stream,
//! and the sessions kept for connection state recovery.
//!
//! * Every message of every namespace is one entry of the stream (`socket.io`), added with
//!   `XADD <stream> MAXLEN ~ <maxLen> * uid <uid> nsp <nsp> type <type> [data <data>]`.
//! * `type` is the message type in decimal text. `data` (absent for heartbeats) is the JSON
//!   text of the message's data, unless the message is a broadcast, a `fetchSockets` answer, a
//!   server-side event, its answer or a broadcast ack whose data holds binary values: then it
//!   is the base64 of the data in msgpack. A reader tells them apart by the first character
//!   (`{` is JSON).
//! * A session is the base64 of the msgpack map `{sid, pid, rooms, data}`, under
//!   `<sessionKeyPrefix><pid>` (`sio:session:<pid>`), expiring after the server's
//!   `maxDisconnectionDuration` (`SET ... PX`).
//! * The offset a recoverable packet carries is the id of its stream entry (`<ms>-<seq>`).
//!
//! Everything here is plain data: no I/O, no clock.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use socketio_parser::Value;

use crate::adapter::PersistedSession;
use crate::cluster::{self, rooms, take, text, to_msgpack, WireError};
use crate::heartbeat::{self, has_binary, kind, object, strings, Message};

/// One entry of the stream, as `XREAD` and `XRANGE` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The entry id, `<ms>-<seq>`.
    pub(crate) id: String,
    /// The field-value pairs, in the order they were added.
    pub(crate) fields: Vec<(String, String)>,
}

impl Entry {
    /// The value of field `name` (the last one if repeated, as a JavaScript object keeps).
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The field-value pairs of message `{uid, nsp, type, data}`, in the reference's order.
pub(crate) fn encode(
    message_kind: u8,
    data: Option<&Value>,
    uid: &str,
    nsp: &str,
) -> Result<Vec<(&'static str, String)>, WireError> {
    let mut fields =
        vec![("uid", uid.to_owned()), ("nsp", nsp.to_owned()), ("type", message_kind.to_string())];
    if let Some(data) = data {
        let may_hold_binary = [
            kind::BROADCAST,
            kind::FETCH_SOCKETS_RESPONSE,
            kind::SERVER_SIDE_EMIT,
            kind::SERVER_SIDE_EMIT_RESPONSE,
            kind::BROADCAST_ACK,
        ]
        .contains(&message_kind);
        let text = if may_hold_binary && has_binary(data) {
            STANDARD.encode(to_msgpack(data)?)
        } else {
            serde_json::to_string(data).map_err(|e| WireError::Json(e.to_string()))?
        };
        fields.push(("data", text));
    }
    Ok(fields)
}

/// The data of an entry: JSON text when it starts with `{`, else base64 of msgpack.
fn decode_data(data: &str) -> Result<Value, WireError> {
    if data.starts_with('{') {
        return serde_json::from_str(data).map_err(|e| WireError::Json(e.to_string()));
    }
    let bytes = STANDARD.decode(data).map_err(|e| WireError::MsgPack(format!("invalid base64: {e}")))?;
    cluster::decode_msgpack(&bytes)
}

/// Reads the message of an entry.
pub(crate) fn decode(entry: &Entry) -> Result<Message, WireError> {
    let message_kind = entry
        .field("type")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .ok_or(WireError::Shape("entry without a numeric type"))?;
    let mut members = vec![("type".to_owned(), Value::from(message_kind))];
    if let Some(uid) = entry.field("uid") {
        members.push(("uid".to_owned(), Value::from(uid)));
    }
    if let Some(nsp) = entry.field("nsp") {
        members.push(("nsp".to_owned(), Value::from(nsp)));
    }
    if let Some(data) = entry.field("data").filter(|d| !d.is_empty()) {
        members.push(("data".to_owned(), decode_data(data)?));
    }
    heartbeat::decode_members(members)
}

/// Whether `offset` is an entry id (`<digits>-<digits>`), as the reference checks it before
/// using it in a command.
pub(crate) fn is_entry_id(offset: &str) -> bool {
    let Some((ms, seq)) = offset.split_once('-') else { return false };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    digits(ms) && digits(seq) && ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok()
}

/// The id right after `offset` (`<ms>-<seq + 1>`), the start of an exclusive range for Redis
/// before 6.2, as the reference computes it. `None` for what is not an entry id or has no
/// successor.
pub(crate) fn next_id(offset: &str) -> Option<String> {
    if !is_entry_id(offset) {
        return None;
    }
    let (ms, seq) = offset.split_once('-')?;
    let ms: u64 = ms.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    match seq.checked_add(1) {
        Some(seq) => Some(format!("{ms}-{seq}")),
        None => Some(format!("{}-0", ms.checked_add(1)?)),
    }
}

/// A session as the reference stores it: base64 of msgpack `{sid, pid, rooms, data}`.
pub(crate) fn encode_session(session: &PersistedSession) -> Result<String, WireError> {
    let value = object(vec![
        ("sid", Value::from(&*session.sid)),
        ("pid", Value::from(&*session.pid)),
        ("rooms", strings(session.rooms.iter().map(|r| &**r))),
        ("data", Value::from(session.data.clone())),
    ]);
    Ok(STANDARD.encode(to_msgpack(&value)?))
}

/// Reads a stored session.
pub(crate) fn decode_session(stored: &str) -> Result<PersistedSession, WireError> {
    let bytes =
        STANDARD.decode(stored.trim()).map_err(|e| WireError::MsgPack(format!("invalid base64: {e}")))?;
    let Value::Object(mut members) = cluster::decode_msgpack(&bytes)? else {
        return Err(WireError::Shape("session is not a map"));
    };
    let sid = take(&mut members, "sid").and_then(text).ok_or(WireError::Shape("session without sid"))?;
    let pid = take(&mut members, "pid").and_then(text).ok_or(WireError::Shape("session without pid"))?;
    Ok(PersistedSession {
        sid: sid.into(),
        pid: pid.into(),
        rooms: rooms(take(&mut members, "rooms")),
        data: take(&mut members, "data")
            .map(|d| cluster::to_json_value(&d))
            .unwrap_or(serde_json::Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::adapter::BroadcastOptions;
    use crate::heartbeat::{broadcast_data, Body};

    fn entry(fields: Vec<(&'static str, String)>) -> Entry {
        Entry { id: "1-0".to_owned(), fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() }
    }

    #[test]
    fn broadcasts_are_json_unless_they_hold_binary() {
        let opts = BroadcastOptions { except: vec!["x".into()], ..BroadcastOptions::to(["r".into()]) };
        let data = broadcast_data(Value::from(serde_json::json!(["hello", 1])), None, &opts);
        let fields = encode(kind::BROADCAST, Some(&data), "ab", "/").expect("encodes");
        assert_eq!(
            fields,
            [
                ("uid", "ab".to_owned()),
                ("nsp", "/".to_owned()),
                ("type", "3".to_owned()),
                (
                    "data",
                    r#"{"packet":{"type":2,"data":["hello",1]},"opts":{"rooms":["r"],"except":["x"],"flags":{}}}"#
                        .to_owned()
                ),
            ]
        );
        let binary = Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(b"\x01\x02"))]);
        let data = broadcast_data(binary, None, &BroadcastOptions::all());
        let fields = encode(kind::BROADCAST, Some(&data), "ab", "/").expect("encodes");
        assert!(!fields[3].1.starts_with('{'));
        let message = decode(&entry(fields)).expect("decodes");
        let Body::Broadcast { data, .. } = message.body else { panic!("a broadcast") };
        assert_eq!(data.get_index(1), Some(&Value::Binary(Bytes::from_static(b"\x01\x02"))));
        assert_eq!(encode(kind::HEARTBEAT, None, "ab", "/").expect("encodes").len(), 3);
    }

    #[test]
    fn sessions_round_trip() {
        let session = PersistedSession {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "news".into()],
            data: serde_json::json!({"n": 1}),
        };
        let stored = encode_session(&session).expect("encodes");
        assert_eq!(decode_session(&stored).expect("decodes"), session);
    }

    #[test]
    fn offsets() {
        assert!(is_entry_id("1700000000000-0"));
        for bad in ["", "1", "-1", "1-", "a-1", "1-2-3", "$", "+", "99999999999999999999999-0"] {
            assert!(!is_entry_id(bad), "{bad}");
        }
        assert_eq!(next_id("5-7").as_deref(), Some("5-8"));
        assert_eq!(next_id("5-18446744073709551615").as_deref(), Some("6-0"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let cases = [
            vec![],
            vec![("type", "x".to_owned())],
            vec![("type", "3".to_owned()), ("data", "{".to_owned())],
            vec![("type", "3".to_owned()), ("data", "!!".to_owned())],
            vec![("type", "3".to_owned()), ("data", "kw==".to_owned())],
            vec![("type", "8".to_owned()), ("data", "{}".to_owned())],
        ];
        for fields in cases {
            assert!(decode(&entry(fields.clone())).is_err(), "{fields:?}");
        }
        for stored in ["", "!", "kw==", "gA=="] {
            assert!(decode_session(stored).is_err(), "{stored}");
        }
    }
}
