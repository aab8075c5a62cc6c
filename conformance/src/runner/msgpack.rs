//! Socket.IO v5 scenarios for a server that speaks `socket.io-msgpack-parser` (3.x): every
//! packet is one msgpack map `{type, data?, id?, nsp}` in one binary Engine.IO message, binary
//! values are msgpack `bin`, and there are no attachments.
//!
//! The packets are built and read with a generic msgpack library (`rmpv`), so the cases judge
//! the wire format and not this workspace's codec. Quirks of the npm client's encoder
//! (notepack.io 2.2) are exercised: `undefined` written as `fixext1` of type 0, and keys the
//! server must ignore (`options`).

use std::time::Duration;

use base64::Engine as _;
use rmpv::Value;
use tokio::time::sleep;

use super::engineio::{self, case, SETTLE};
use super::socketio::Conn;
use super::ws::Message;
use super::{Case, CaseFuture, Target};

/// All msgpack cases, in run order.
pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        case!(
            "msgpack.connect_main",
            5,
            "CONNECT `/` gets {type:0, data:{sid}} and the `auth` event",
            connect_main
        ),
        case!(
            "msgpack.connect_with_auth",
            5,
            "CONNECT with data {token:\"123\"}: the auth comes back",
            connect_with_auth
        ),
        case!("msgpack.connect_custom", 5, "CONNECT /custom", connect_custom),
        case!(
            "msgpack.connect_undefined_data",
            5,
            "CONNECT with data `undefined` as notepack.io 2.2 writes it (fixext1 type 0): no auth",
            connect_undefined_data
        ),
        case!(
            "msgpack.unknown_namespace",
            5,
            "CONNECT /random gets {type:4, data:{message:\"Invalid namespace\"}, nsp:\"/random\"}",
            unknown_namespace
        ),
        case!("msgpack.message_plain", 5, "`message` comes back as `message-back`", message_plain),
        case!("msgpack.message_binary", 5, "bin values at any depth come back as bin", message_binary),
        case!("msgpack.message_ack", 5, "`message-with-ack` with id 456 gets {type:3, id:456}", message_ack),
        case!("msgpack.unknown_keys", 5, "keys a client adds (`options`) are ignored", unknown_keys),
        case!("msgpack.polling", 5, "over long-polling, packets travel as `b<base64>` entries", polling),
        case!(
            "msgpack.disconnect",
            5,
            "after DISCONNECT, an event for `/` closes the connection",
            disconnect
        ),
    ];
    cases.extend(MALFORMED.iter().map(malformed_case));
    cases
}

// ---- helpers -------------------------------------------------------------------------------

fn s(text: &str) -> Value {
    Value::from(text)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// `undefined` as the npm client (notepack.io 2.2) encodes it.
fn undefined() -> Value {
    Value::Ext(0, vec![0])
}

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut input = bytes;
    let value =
        rmpv::decode::read_value(&mut input).map_err(|e| format!("not msgpack ({e}): {bytes:02x?}"))?;
    if !input.is_empty() {
        return Err(format!("{} bytes after the msgpack value", input.len()));
    }
    Ok(value)
}

/// A field of a packet map; `undefined` (ext 0) and nil count as absent.
fn field<'a>(packet: &'a Value, key: &str) -> Option<&'a Value> {
    packet
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
        .filter(|v| !matches!(v, Value::Nil) && !matches!(v, Value::Ext(0, data) if data.len() == 1))
}

/// `packet` has `type`, `nsp`, `data` and `id` as given (`None`: absent).
fn check(packet: &Value, kind: u64, nsp: &str, data: Option<&Value>, id: Option<u64>) -> Result<(), String> {
    let ok = field(packet, "type").and_then(Value::as_u64) == Some(kind)
        && field(packet, "nsp").and_then(Value::as_str) == Some(nsp)
        && field(packet, "data") == data
        && field(packet, "id").map(Value::as_u64) == id.map(Some);
    if ok {
        Ok(())
    } else {
        let want = map(vec![
            ("type", Value::from(kind)),
            ("data", data.cloned().unwrap_or(Value::Nil)),
            ("id", id.map_or(Value::Nil, Value::from)),
            ("nsp", s(nsp)),
        ]);
        Err(format!("expected {want}, got {packet}"))
    }
}

async fn send(conn: &mut Conn, packet: &Value) -> Result<(), String> {
    conn.send_binary(&encode(packet)).await
}

async fn recv(conn: &mut Conn, what: &str) -> Result<Value, String> {
    decode(&conn.recv_binary(what).await?).map_err(|e| format!("{what}: {e}"))
}

fn connect_packet(nsp: &str, data: Option<Value>) -> Value {
    let mut entries = vec![("type", Value::from(0))];
    if let Some(data) = data {
        entries.push(("data", data));
    }
    entries.push(("nsp", s(nsp)));
    map(entries)
}

fn event_packet(nsp: &str, data: Vec<Value>, id: Option<u64>) -> Value {
    let mut entries = vec![("type", Value::from(2)), ("data", Value::Array(data))];
    if let Some(id) = id {
        entries.push(("id", Value::from(id)));
    }
    entries.push(("nsp", s(nsp)));
    map(entries)
}

/// Checks a CONNECT answer for `nsp`: data a map whose `sid` is a non-empty string.
fn check_connect_answer(answer: &Value, nsp: &str) -> Result<(), String> {
    let sid_ok = field(answer, "data")
        .and_then(|d| field(d, "sid"))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if field(answer, "type").and_then(Value::as_u64) == Some(0)
        && field(answer, "nsp").and_then(Value::as_str) == Some(nsp)
        && sid_ok
    {
        Ok(())
    } else {
        Err(format!("expected a CONNECT answer {{type:0, data:{{sid}}, nsp:{nsp:?}}}, got {answer}"))
    }
}

/// Joins `nsp` with `data` and checks the answer and the `auth` event carrying `auth`.
async fn join(conn: &mut Conn, nsp: &str, data: Option<Value>, auth: Value) -> Result<(), String> {
    send(conn, &connect_packet(nsp, data)).await?;
    check_connect_answer(&recv(conn, "the CONNECT answer").await?, nsp)?;
    let event = recv(conn, "the `auth` event").await?;
    check(&event, 2, nsp, Some(&Value::Array(vec![s("auth"), auth])), None)
}

async fn joined(t: &Target) -> Result<Conn, String> {
    let mut conn = Conn::open(t).await?;
    join(&mut conn, "/", None, map(vec![])).await?;
    Ok(conn)
}

async fn round_trip(conn: &mut Conn, packet: Value, args: Vec<Value>) -> Result<(), String> {
    send(conn, &packet).await?;
    let got = recv(conn, "the `message-back` event").await?;
    let mut want = vec![s("message-back")];
    want.extend(args);
    check(&got, 2, "/", Some(&Value::Array(want)), None)
}

fn sample_args() -> Vec<Value> {
    vec![Value::from(1), s("2"), map(vec![("3", Value::Array(vec![Value::from(true)]))])]
}

// ---- cases ---------------------------------------------------------------------------------

async fn connect_main(t: Target) -> Result<(), String> {
    joined(&t).await.map(drop)
}

async fn connect_with_auth(t: Target) -> Result<(), String> {
    let auth = map(vec![("token", s("123"))]);
    join(&mut Conn::open(&t).await?, "/", Some(auth.clone()), auth).await
}

async fn connect_custom(t: Target) -> Result<(), String> {
    join(&mut Conn::open(&t).await?, "/custom", None, map(vec![])).await
}

async fn connect_undefined_data(t: Target) -> Result<(), String> {
    join(&mut Conn::open(&t).await?, "/", Some(undefined()), map(vec![])).await
}

async fn unknown_namespace(t: Target) -> Result<(), String> {
    let mut conn = Conn::open(&t).await?;
    send(&mut conn, &connect_packet("/random", None)).await?;
    let got = recv(&mut conn, "the CONNECT_ERROR").await?;
    check(&got, 4, "/random", Some(&map(vec![("message", s("Invalid namespace"))])), None)
}

async fn message_plain(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    let mut data = vec![s("message")];
    data.extend(sample_args());
    round_trip(&mut conn, event_packet("/", data, None), sample_args()).await
}

async fn message_binary(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    let args = vec![
        Value::Binary(vec![1, 2, 3]),
        map(vec![("nested", Value::Array(vec![Value::Binary(vec![4, 5, 6]), Value::Binary(vec![])]))]),
    ];
    let mut data = vec![s("message")];
    data.extend(args.clone());
    round_trip(&mut conn, event_packet("/", data, None), args).await
}

async fn message_ack(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    let mut data = vec![s("message-with-ack")];
    data.extend(sample_args());
    send(&mut conn, &event_packet("/", data, Some(456))).await?;
    let got = recv(&mut conn, "the ack").await?;
    check(&got, 3, "/", Some(&Value::Array(sample_args())), Some(456))
}

async fn unknown_keys(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    let packet = map(vec![
        ("type", Value::from(2)),
        ("data", Value::Array(vec![s("message"), s("x")])),
        ("options", map(vec![("compress", Value::from(true))])),
        ("nsp", s("/")),
    ]);
    round_trip(&mut conn, packet, vec![s("x")]).await
}

async fn poll_post(t: &Target, sid: &str, packet: &Value) -> Result<(), String> {
    let body = format!("b{}", base64::engine::general_purpose::STANDARD.encode(encode(packet)));
    engineio::expect_post_ok(&engineio::post(t, sid, &body).await?)
}

async fn poll_recv(t: &Target, sid: &str, n: usize) -> Result<Vec<Value>, String> {
    let got = engineio::collect(t, sid, n).await?;
    got.iter()
        .map(|p| {
            let bytes = p
                .strip_prefix('b')
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .ok_or_else(|| format!("expected a `b<base64>` entry, got {p:?}"))?;
            decode(&bytes)
        })
        .collect()
}

async fn polling(t: Target) -> Result<(), String> {
    let sid = engineio::open_polling(&t).await?;
    // A client sends events only once the CONNECT answer came (the reference closes a session
    // whose event overtakes the namespace's admission).
    poll_post(&t, &sid, &connect_packet("/", None)).await?;
    let joined = poll_recv(&t, &sid, 2).await?;
    check_connect_answer(&joined[0], "/")?;
    check(&joined[1], 2, "/", Some(&Value::Array(vec![s("auth"), map(vec![])])), None)?;
    poll_post(&t, &sid, &event_packet("/", vec![s("message"), Value::Binary(vec![0, 255])], None)).await?;
    let back = poll_recv(&t, &sid, 1).await?;
    check(&back[0], 2, "/", Some(&Value::Array(vec![s("message-back"), Value::Binary(vec![0, 255])])), None)
}

async fn disconnect(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    send(&mut conn, &map(vec![("type", Value::from(1)), ("nsp", s("/"))])).await?;
    sleep(SETTLE).await;
    send(&mut conn, &event_packet("/", vec![s("message"), s("after leaving")], None)).await?;
    conn.expect_closed("an event for `/` after DISCONNECT").await
}

// ---- malformed packets (the parser's checkPacket) ------------------------------------------

/// A packet the reference refuses by closing the connection.
struct Malformed {
    name: &'static str,
    description: &'static str,
    /// Whether `/` is joined first.
    joined: bool,
    frame: fn() -> Message,
}

fn bin(v: Value) -> Message {
    Message::Binary(encode(&v))
}

static MALFORMED: &[Malformed] = &[
    Malformed {
        name: "msgpack.malformed_type_out_of_range",
        description: "type 9",
        joined: true,
        frame: || {
            bin(map(vec![("type", Value::from(9)), ("data", Value::Array(vec![s("x")])), ("nsp", s("/"))]))
        },
    },
    Malformed {
        name: "msgpack.malformed_binary_event_type",
        description: "type 5 (BINARY_EVENT does not exist in this format)",
        joined: true,
        frame: || {
            bin(map(vec![("type", Value::from(5)), ("data", Value::Array(vec![s("x")])), ("nsp", s("/"))]))
        },
    },
    Malformed {
        name: "msgpack.malformed_type_string",
        description: "type \"2\" (a string)",
        joined: true,
        frame: || bin(map(vec![("type", s("2")), ("data", Value::Array(vec![s("x")])), ("nsp", s("/"))])),
    },
    Malformed {
        name: "msgpack.malformed_event_data_map",
        description: "EVENT data a map, not an array",
        joined: true,
        frame: || {
            bin(map(vec![
                ("type", Value::from(2)),
                ("data", map(vec![("a", Value::from(1))])),
                ("nsp", s("/")),
            ]))
        },
    },
    Malformed {
        name: "msgpack.malformed_nsp_number",
        description: "nsp a number",
        joined: true,
        frame: || {
            bin(map(vec![
                ("type", Value::from(2)),
                ("data", Value::Array(vec![s("x")])),
                ("nsp", Value::from(1)),
            ]))
        },
    },
    Malformed {
        name: "msgpack.malformed_id_string",
        description: "id a string",
        joined: true,
        frame: || {
            bin(map(vec![
                ("type", Value::from(2)),
                ("data", Value::Array(vec![s("message-with-ack")])),
                ("id", s("1")),
                ("nsp", s("/")),
            ]))
        },
    },
    Malformed {
        name: "msgpack.malformed_disconnect_data",
        description: "DISCONNECT with data",
        joined: true,
        frame: || bin(map(vec![("type", Value::from(1)), ("data", Value::from(1)), ("nsp", s("/"))])),
    },
    Malformed {
        name: "msgpack.malformed_connect_data_array",
        description: "CONNECT data an array",
        joined: false,
        frame: || bin(map(vec![("type", Value::from(0)), ("data", Value::Array(vec![])), ("nsp", s("/"))])),
    },
    Malformed {
        name: "msgpack.malformed_not_a_map",
        description: "an array instead of a packet map",
        joined: true,
        frame: || bin(Value::Array(vec![Value::from(2), s("/")])),
    },
    Malformed {
        name: "msgpack.malformed_garbage",
        description: "bytes that are no msgpack value (0xc1)",
        joined: true,
        frame: || Message::Binary(vec![0xc1, 0x00]),
    },
    Malformed {
        name: "msgpack.malformed_text_frame",
        description: "a JSON text packet to a msgpack server",
        joined: true,
        frame: || Message::Text(r#"42["message","x"]"#.into()),
    },
    Malformed {
        name: "msgpack.malformed_unknown_namespace_event",
        description: "an event for a namespace not joined",
        joined: true,
        frame: || bin(event_packet("/nonexistent", vec![s("message")], None)),
    },
    Malformed {
        name: "msgpack.malformed_event_before_connect",
        description: "an event before any CONNECT",
        joined: false,
        frame: || bin(event_packet("/", vec![s("message")], None)),
    },
];

fn malformed_case(m: &'static Malformed) -> Case {
    super::table_case(m.name, m.description, m, |t, m| Box::pin(malformed(t, m)))
}

async fn malformed(t: Target, m: &'static Malformed) -> Result<(), String> {
    let mut conn = if m.joined { joined(&t).await? } else { Conn::open(&t).await? };
    match (m.frame)() {
        Message::Binary(data) => conn.send_binary(&data).await?,
        Message::Text(text) => conn.send(&text).await?,
        Message::Closed(_) => {}
    }
    conn.expect_closed(m.description).await
}
