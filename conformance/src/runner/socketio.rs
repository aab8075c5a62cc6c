//! Socket.IO v5 scenarios (protocol revision 5 over Engine.IO 4, the default JSON parser).
//!
//! The expected behaviour is the reference server's (socket.io 4.8) under the contract of the
//! official socket.io-protocol suite, described in `conformance/README.md`: path `/socket.io/`,
//! ping 300 ms / 200 ms, connect timeout 1 s; on `/` the server emits `auth` with the
//! handshake's auth, sends `message` back as `message-back` and acknowledges `message-with-ack`
//! with its arguments; on `/custom` it emits `auth`.
//!
//! The sessions of these cases answer the server's pings, so a close can only be the server's
//! reaction to what the case sent, never a heartbeat timeout.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::{sleep, timeout_at, Instant};

use super::engineio::{self, case, prompt, SETTLE};
use super::ws::{Message, WebSocket};
use super::{Case, CaseFuture, Target};

/// `connectTimeout` the contract requires.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);

/// The cases for a server under the contract, by its options: `eio3` when it also accepts
/// Engine.IO v3 clients (adds [`super::eio3::cases`]), `msgpack` when it speaks
/// `socket.io-msgpack-parser` (the JSON-packet cases give way to [`super::msgpack::cases`]).
pub fn suite(eio3: bool, msgpack: bool) -> Vec<Case> {
    let mut cases = if msgpack {
        let mut cases = engineio::transport_cases();
        cases.extend(super::msgpack::cases());
        cases
    } else {
        self::cases()
    };
    if eio3 {
        // A server that accepts v3 takes every EIO other than 4 for v3, as the reference does.
        cases.retain(|c| c.name != "handshake.invalid_eio");
        cases.extend(super::eio3::cases());
    }
    cases
}

/// The Engine.IO part (every case that does not need an echo server) and the Socket.IO v5
/// cases, in run order.
pub fn cases() -> Vec<Case> {
    let mut cases = engineio::transport_cases();
    cases.extend(protocol_cases());
    cases.extend(MALFORMED.iter().map(malformed_case));
    cases.extend(ACCEPTED.iter().map(accepted_case));
    cases
}

fn protocol_cases() -> Vec<Case> {
    vec![
        case!("connect.main", 5, "`40` gets `40{\"sid\"}` and the `auth` event with {}", connect_main),
        case!(
            "connect.main_with_auth",
            5,
            "`40{\"token\":\"123\"}`: the auth comes back in the `auth` event",
            connect_main_with_auth
        ),
        case!("connect.custom", 5, "`40/custom,` gets `40/custom,{\"sid\"}` and `auth`", connect_custom),
        case!(
            "connect.custom_with_auth",
            5,
            "`40/custom,{\"token\":\"abc\"}`: the auth comes back on /custom",
            connect_custom_with_auth
        ),
        case!(
            "connect.unknown_namespace",
            5,
            "`40/random` gets `44/random,{\"message\":\"Invalid namespace\"}`; `/` can still be joined",
            connect_unknown_namespace
        ),
        case!(
            "connect.invalid_handshake",
            5,
            "`4abc` instead of a CONNECT closes the connection",
            invalid_handshake
        ),
        case!(
            "connect.timeout",
            5,
            "no CONNECT within connectTimeout (1 s): the connection is closed",
            connect_timeout
        ),
        case!(
            "connect.socket_id",
            5,
            "socket ids are fresh per namespace, never the Engine.IO sid",
            connect_socket_id
        ),
        case!("connect.polling", 5, "CONNECT and the `auth` event over long-polling", connect_polling),
        case!(
            "disconnect.main",
            5,
            "after `41`, a packet for `/` closes the connection (no longer joined)",
            disconnect_main
        ),
        case!(
            "disconnect.custom",
            5,
            "join and leave /custom; `/` keeps working, /custom no longer does",
            disconnect_custom
        ),
        case!("message.plain", 5, "`message` comes back as `message-back`", message_plain),
        case!(
            "message.binary",
            5,
            "an event with two attachments comes back with both, in order",
            message_binary
        ),
        case!("message.ack", 5, "`message-with-ack` with id 456 gets `43456[...]`", message_ack),
        case!(
            "message.binary_ack",
            5,
            "an event with attachments and id 789 gets `462-789[...]` and both attachments",
            message_binary_ack
        ),
        case!("message.polling_plain", 5, "`message` round trip over long-polling", message_polling_plain),
        case!(
            "message.polling_binary",
            5,
            "attachments over long-polling travel as `b<base64>` packets",
            message_polling_binary
        ),
        case!(
            "message.polling_invalid_state",
            5,
            "over long-polling, a packet for a namespace not joined ends the session",
            message_polling_invalid_state
        ),
        case!(
            "security.huge_ack_id",
            10,
            "an ack id of 100 000 digits (CVE-2020-36049): refused or ignored, quickly; the server goes on",
            huge_ack_id
        ),
        case!(
            "security.huge_attachment_count",
            10,
            "an attachment count of 100 000 digits (CVE-2020-36049, CVE-2026-33151): closed",
            huge_attachment_count
        ),
    ]
}

// ---- helpers -------------------------------------------------------------------------------

/// A WebSocket-only Engine.IO session that answers the server's pings.
pub(super) struct Conn {
    ws: WebSocket,
    /// The Engine.IO session id.
    pub(super) sid: String,
    wait: Duration,
}

impl Conn {
    /// Opens the session and checks its open packet.
    pub(super) async fn open(t: &Target) -> Result<Self, String> {
        Self::open_query(t, "EIO=4&transport=websocket").await
    }

    pub(super) async fn open_query(t: &Target, query: &str) -> Result<Self, String> {
        let mut ws = engineio::open_ws(t, query).await?;
        let sid = match ws.recv().await? {
            Message::Text(p) => engineio::check_open(&p, &[])?,
            other => return Err(format!("expected the open packet, got {other:?}")),
        };
        Ok(Conn { ws, sid, wait: prompt(t) })
    }

    pub(super) async fn send(&mut self, text: &str) -> Result<(), String> {
        self.ws.send_text(text).await
    }

    pub(super) async fn send_binary(&mut self, data: &[u8]) -> Result<(), String> {
        self.ws.send_binary(data).await
    }

    /// The next message that is not a ping (answered), within the target's prompt.
    pub(super) async fn recv(&mut self) -> Result<Message, String> {
        let deadline = Instant::now() + self.wait;
        loop {
            match timeout_at(deadline, self.ws.recv()).await {
                Err(_) => return Err(format!("nothing within {} ms", self.wait.as_millis())),
                Ok(Ok(Message::Text(p))) if p == "2" => self.ws.send_text("3").await?,
                Ok(other) => return other,
            }
        }
    }

    /// The next text message.
    pub(super) async fn recv_text(&mut self, what: &str) -> Result<String, String> {
        match self.recv().await {
            Ok(Message::Text(text)) => Ok(text),
            Ok(other) => Err(format!("{what}: expected a text message, got {other:?}")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    /// The next binary message.
    pub(super) async fn recv_binary(&mut self, what: &str) -> Result<Vec<u8>, String> {
        match self.recv().await {
            Ok(Message::Binary(data)) => Ok(data),
            Ok(other) => Err(format!("{what}: expected a binary message, got {other:?}")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    /// The server closes the connection within the prompt; messages before the close are
    /// ignored, pings answered.
    pub(super) async fn expect_closed(&mut self, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + self.wait;
        loop {
            match timeout_at(deadline, self.ws.recv()).await {
                Err(_) => {
                    return Err(format!(
                        "{what}: the connection is still open after {} ms",
                        self.wait.as_millis()
                    ))
                }
                Ok(Err(_)) | Ok(Ok(Message::Closed(_))) => return Ok(()),
                Ok(Ok(Message::Text(p))) if p == "2" => {
                    if self.ws.send_text("3").await.is_err() {
                        return Ok(());
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Joins `nsp` with `auth` (a JSON object as text, or none) and checks the CONNECT answer
    /// and the contract's `auth` event; returns the socket id.
    pub(super) async fn join(&mut self, nsp: &str, auth: Option<&str>) -> Result<String, String> {
        let prefix = nsp_prefix(nsp);
        let packet = format!("40{prefix}{}", auth.unwrap_or_default());
        self.send(&packet).await?;
        let answer = self.recv_text(&format!("answer to {packet:?}")).await?;
        let id = check_connect_answer(&answer, &prefix)?;
        let auth: Value = serde_json::from_str(auth.unwrap_or("{}")).map_err(|e| format!("bad auth: {e}"))?;
        let event = self.recv_text("the `auth` event").await?;
        check_packet(&event, &format!("42{prefix}"), &json!(["auth", auth]))?;
        Ok(id)
    }

    /// `message` with `args` comes back as `message-back` on `/`.
    pub(super) async fn round_trip(&mut self, args: &str) -> Result<(), String> {
        self.send(&format!("42[\"message\",{args}]")).await?;
        let got = self.recv_text("the `message-back` event").await?;
        let args: Value = serde_json::from_str(&format!("[{args}]")).map_err(|e| e.to_string())?;
        let mut want = vec![json!("message-back")];
        want.extend(args.as_array().cloned().unwrap_or_default());
        check_packet(&got, "42", &Value::Array(want))
    }
}

/// `/custom` → `/custom,`; `/` → nothing.
fn nsp_prefix(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    }
}

/// `40<prefix>{"sid":"..."}` with exactly one key; returns the sid.
fn check_connect_answer(answer: &str, prefix: &str) -> Result<String, String> {
    let head = format!("40{prefix}");
    let json = answer
        .strip_prefix(&head)
        .ok_or_else(|| format!("expected a CONNECT answer {head}{{\"sid\":...}}, got {answer:?}"))?;
    let value: Value =
        serde_json::from_str(json).map_err(|_| format!("CONNECT answer payload is not JSON: {answer:?}"))?;
    match value.as_object() {
        Some(map) if map.len() == 1 => match map.get("sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => Ok(sid.to_owned()),
            _ => Err(format!("CONNECT answer: `sid` is not a non-empty string: {answer:?}")),
        },
        _ => Err(format!("CONNECT answer: expected an object with only `sid`, got {answer:?}")),
    }
}

/// `got` is `header` followed by JSON equal to `want`.
pub(super) fn check_packet(got: &str, header: &str, want: &Value) -> Result<(), String> {
    let matches = got
        .strip_prefix(header)
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .is_some_and(|value| value == *want);
    if matches {
        Ok(())
    } else {
        Err(format!("expected {header}{want}, got {got:?}"))
    }
}

/// A connection joined to `/` (the `auth` event consumed).
async fn joined(t: &Target) -> Result<Conn, String> {
    let mut conn = Conn::open(t).await?;
    conn.join("/", None).await?;
    Ok(conn)
}

/// A long-polling session, its pings answered.
struct Polling {
    t: Target,
    sid: String,
}

impl Polling {
    async fn open(t: &Target) -> Result<Self, String> {
        Ok(Polling { t: t.clone(), sid: engineio::open_polling(t).await? })
    }

    async fn send(&self, packets: &[&str]) -> Result<(), String> {
        engineio::expect_post_ok(&engineio::post(&self.t, &self.sid, &packets.join("\u{1e}")).await?)
    }

    async fn recv(&self, n: usize) -> Result<Vec<String>, String> {
        engineio::collect(&self.t, &self.sid, n).await
    }

    /// Joins `/` and checks the answer and the `auth` event.
    async fn join(&self) -> Result<String, String> {
        self.send(&["40"]).await?;
        let got = self.recv(2).await?;
        let id = check_connect_answer(&got[0], "")?;
        check_packet(&got[1], "42", &json!(["auth", {}]))?;
        Ok(id)
    }

    /// The session ends within the prompt: a GET gets `1` or 400.
    async fn expect_ended(&self, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + prompt(&self.t);
        loop {
            let resp = match timeout_at(deadline, engineio::get(&self.t, &self.sid)).await {
                Err(_) => return Err(format!("{what}: the session is still open")),
                Ok(resp) => resp?,
            };
            if resp.status == 400 {
                return Ok(());
            }
            for p in engineio::packets(&resp)? {
                match p.as_str() {
                    "1" => return Ok(()),
                    "2" => engineio::expect_post_ok(&engineio::post(&self.t, &self.sid, "3").await?)?,
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("{what}: the session is still open"));
            }
        }
    }
}

// ---- connect -------------------------------------------------------------------------------

async fn connect_main(t: Target) -> Result<(), String> {
    Conn::open(&t).await?.join("/", None).await.map(drop)
}

async fn connect_main_with_auth(t: Target) -> Result<(), String> {
    Conn::open(&t).await?.join("/", Some(r#"{"token":"123"}"#)).await.map(drop)
}

async fn connect_custom(t: Target) -> Result<(), String> {
    Conn::open(&t).await?.join("/custom", None).await.map(drop)
}

async fn connect_custom_with_auth(t: Target) -> Result<(), String> {
    Conn::open(&t).await?.join("/custom", Some(r#"{"token":"abc"}"#)).await.map(drop)
}

async fn connect_unknown_namespace(t: Target) -> Result<(), String> {
    let mut conn = Conn::open(&t).await?;
    conn.send("40/random").await?;
    let got = conn.recv_text("answer to `40/random`").await?;
    check_packet(&got, "44/random,", &json!({ "message": "Invalid namespace" }))?;
    conn.join("/", None).await.map(drop).map_err(|e| format!("after the refusal, joining `/`: {e}"))
}

async fn invalid_handshake(t: Target) -> Result<(), String> {
    let mut conn = Conn::open(&t).await?;
    conn.send("4abc").await?;
    conn.expect_closed("after `4abc`").await
}

async fn connect_timeout(t: Target) -> Result<(), String> {
    let start = Instant::now();
    let mut conn = Conn::open(&t).await?;
    conn.wait = CONNECT_TIMEOUT + prompt(&t);
    conn.expect_closed("without a CONNECT").await?;
    let elapsed = start.elapsed();
    if elapsed + Duration::from_millis(100) < CONNECT_TIMEOUT {
        return Err(format!(
            "closed after {} ms, before the connect timeout of {} ms",
            elapsed.as_millis(),
            CONNECT_TIMEOUT.as_millis()
        ));
    }
    Ok(())
}

async fn connect_socket_id(t: Target) -> Result<(), String> {
    let mut conn = Conn::open(&t).await?;
    let main = conn.join("/", None).await?;
    let custom = conn.join("/custom", None).await?;
    let other = Conn::open(&t).await?.join("/", None).await?;
    if main == conn.sid || custom == conn.sid {
        return Err(format!("a socket id equals the Engine.IO sid {:?}", conn.sid));
    }
    if main == custom || main == other {
        return Err(format!("socket ids repeat: `/` {main:?}, /custom {custom:?}, another client {other:?}"));
    }
    Ok(())
}

async fn connect_polling(t: Target) -> Result<(), String> {
    Polling::open(&t).await?.join().await.map(drop)
}

// ---- disconnect ----------------------------------------------------------------------------

async fn disconnect_main(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    conn.send("41").await?;
    sleep(SETTLE).await;
    conn.send(r#"42["message","after leaving"]"#).await?;
    conn.expect_closed("an event for `/` after `41`").await
}

async fn disconnect_custom(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    // The official suite's form, without the trailing comma.
    conn.send("40/custom").await?;
    let answer = conn.recv_text("answer to `40/custom`").await?;
    check_connect_answer(&answer, "/custom,")?;
    let event = conn.recv_text("the `auth` event of /custom").await?;
    check_packet(&event, "42/custom,", &json!(["auth", {}]))?;
    conn.send("41/custom").await?;
    conn.round_trip(r#""message to main namespace""#).await?;
    conn.send(r#"42/custom,["message","after leaving"]"#).await?;
    conn.expect_closed("an event for /custom after `41/custom`").await
}

// ---- message -------------------------------------------------------------------------------

const PLACEHOLDERS: &str = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;

async fn message_plain(t: Target) -> Result<(), String> {
    joined(&t).await?.round_trip(r#"1,"2",{"3":[true]}"#).await
}

/// Sends `header[...placeholders]` and the two attachments; expects `want_header` with
/// `want_args` and the attachments back.
async fn binary_round_trip(
    conn: &mut Conn,
    header: &str,
    event: &str,
    want: (&str, Value),
) -> Result<(), String> {
    conn.send(&format!("{header}[\"{event}\",{PLACEHOLDERS}]")).await?;
    conn.send_binary(&[1, 2, 3]).await?;
    conn.send_binary(&[4, 5, 6]).await?;
    let got = conn.recv_text("the answer's header packet").await?;
    check_packet(&got, want.0, &want.1)?;
    for expected in [[1u8, 2, 3], [4, 5, 6]] {
        let data = conn.recv_binary("an attachment").await?;
        if data != expected {
            return Err(format!("attachment: expected {expected:?}, got {data:?}"));
        }
    }
    Ok(())
}

pub(super) fn placeholders() -> [Value; 2] {
    [json!({"_placeholder": true, "num": 0}), json!({"_placeholder": true, "num": 1})]
}

async fn message_binary(t: Target) -> Result<(), String> {
    let [a, b] = placeholders();
    let mut conn = joined(&t).await?;
    binary_round_trip(&mut conn, "452-", "message", ("452-", json!(["message-back", a, b]))).await
}

async fn message_ack(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    conn.send(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#).await?;
    let got = conn.recv_text("the ack").await?;
    check_packet(&got, "43456", &json!([1, "2", {"3": [false]}]))
}

async fn message_binary_ack(t: Target) -> Result<(), String> {
    let [a, b] = placeholders();
    let mut conn = joined(&t).await?;
    binary_round_trip(&mut conn, "452-789", "message-with-ack", ("462-789", json!([a, b]))).await
}

async fn message_polling_plain(t: Target) -> Result<(), String> {
    let session = Polling::open(&t).await?;
    session.join().await?;
    session.send(&[r#"42["message","over polling",{"n":[1,2]}]"#]).await?;
    let got = session.recv(1).await?;
    check_packet(&got[0], "42", &json!(["message-back", "over polling", {"n": [1, 2]}]))
}

async fn message_polling_binary(t: Target) -> Result<(), String> {
    let [a, b] = placeholders();
    let session = Polling::open(&t).await?;
    session.join().await?;
    let header = format!("452-[\"message\",{PLACEHOLDERS}]");
    session.send(&[&header, "bAQID", "bBAUG"]).await?;
    let got = session.recv(3).await?;
    check_packet(&got[0], "452-", &json!(["message-back", a, b]))?;
    if got[1..] != ["bAQID", "bBAUG"] {
        return Err(format!("attachments: expected [\"bAQID\", \"bBAUG\"], got {:?}", &got[1..]));
    }
    Ok(())
}

async fn message_polling_invalid_state(t: Target) -> Result<(), String> {
    let session = Polling::open(&t).await?;
    session.join().await?;
    session.send(&[r#"42/nonexistent,["message","x"]"#]).await?;
    session.expect_ended("after an event for a namespace not joined").await
}

// ---- security ------------------------------------------------------------------------------

async fn huge_ack_id(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    conn.send(&format!("42{}[\"unhandled\",\"x\"]", "2".repeat(100_000))).await?;
    // Either outcome is the protocol's: the reference reads the digits as a float and goes on,
    // a bounded decoder refuses them and closes. What matters is a prompt reaction and a server
    // that goes on serving.
    conn.send(r#"42["message","after"]"#).await?;
    match conn.recv().await {
        Ok(Message::Closed(_)) => {}
        Ok(Message::Text(got)) => check_packet(&got, "42", &json!(["message-back", "after"]))?,
        Ok(other) => return Err(format!("expected `message-back` or a close, got {other:?}")),
        Err(e) => return Err(format!("no reaction: {e}")),
    }
    joined(&t).await?.round_trip(r#""still served""#).await
}

async fn huge_attachment_count(t: Target) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    conn.send(&format!("45{}-[\"message\",{{\"_placeholder\":true,\"num\":0}}]", "9".repeat(100_000)))
        .await?;
    conn.expect_closed("after an attachment count of 100 000 digits").await?;
    joined(&t).await?.round_trip(r#""still served""#).await
}

// ---- malformed and accepted inputs (protocol-facts §4.4) -----------------------------------

/// One frame a case sends.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Text(&'static str),
    Binary(&'static [u8]),
}

/// Input the reference refuses by closing the connection.
struct Malformed {
    name: &'static str,
    description: &'static str,
    /// Whether `/` is joined before the frames are sent.
    joined: bool,
    frames: &'static [Frame],
}

const fn bad(name: &'static str, description: &'static str, frames: &'static [Frame]) -> Malformed {
    Malformed { name, description, joined: true, frames }
}

const fn bad_handshake(name: &'static str, description: &'static str, frames: &'static [Frame]) -> Malformed {
    Malformed { name, description, joined: false, frames }
}

use Frame::{Binary, Text};

static MALFORMED: &[Malformed] = &[
    bad("malformed.invalid_type", "`4abc` after joining", &[Text("4abc")]),
    bad("malformed.unknown_type", "packet type 9: `49`", &[Text("49")]),
    bad("malformed.empty_message", "an empty Engine.IO message: `4`", &[Text("4")]),
    bad("malformed.event_payload_object", "EVENT payload not an array: `42{}`", &[Text("42{}")]),
    bad("malformed.event_payload_empty", "EVENT without event name: `42[]`", &[Text("42[]")]),
    bad("malformed.event_payload_string", "EVENT payload a string: `42\"str\"`", &[Text(r#"42"str""#)]),
    bad(
        "malformed.invalid_ack_id",
        "`42abc[\"message-with-ack\",...]`",
        &[Text(r#"42abc["message-with-ack",1]"#)],
    ),
    bad("malformed.negative_ack_id", "`42-1[\"x\"]`", &[Text(r#"42-1["x"]"#)]),
    bad(
        "malformed.event_name_object",
        "event name an object (CVE-2023-32695): `42[{\"toString\":\"foo\"}]`",
        &[Text(r#"42[{"toString":"foo"}]"#)],
    ),
    bad("malformed.event_name_boolean", "event name `true` (CVE-2023-32695)", &[Text(r#"42[true,"foo"]"#)]),
    bad("malformed.event_name_null", "event name `null` (CVE-2023-32695)", &[Text(r#"42[null,"bar"]"#)]),
    bad("malformed.reserved_disconnect", "reserved event name `disconnect`", &[Text(r#"42["disconnect"]"#)]),
    bad("malformed.reserved_connect", "reserved event name `connect`", &[Text(r#"42["connect"]"#)]),
    bad(
        "malformed.reserved_connect_error",
        "reserved event name `connect_error`",
        &[Text(r#"42["connect_error"]"#)],
    ),
    bad(
        "malformed.reserved_disconnecting",
        "reserved event name `disconnecting`",
        &[Text(r#"42["disconnecting"]"#)],
    ),
    bad(
        "malformed.reserved_new_listener",
        "reserved event name `newListener`",
        &[Text(r#"42["newListener"]"#)],
    ),
    bad(
        "malformed.reserved_remove_listener",
        "reserved event name `removeListener`",
        &[Text(r#"42["removeListener"]"#)],
    ),
    bad(
        "malformed.ack_payload_object",
        "ACK payload not an array: `4310{...}`",
        &[Text(r#"4310{"not":"array"}"#)],
    ),
    bad("malformed.disconnect_payload", "DISCONNECT with a payload", &[Text(r#"41{"payload":1}"#)]),
    bad("malformed.second_connect", "a second `40` for a joined namespace", &[Text("40")]),
    bad("malformed.client_connect_error", "CONNECT_ERROR from the client", &[Text(r#"44{"message":"x"}"#)]),
    bad(
        "malformed.placeholder_num_string",
        "placeholder num `\"splice\"` (CVE-2022-2421)",
        &[Text(r#"451-["message",{"_placeholder":true,"num":"splice"}]"#), Binary(&[1, 2, 3])],
    ),
    bad(
        "malformed.placeholder_num_out_of_range",
        "placeholder num 10 with one attachment (CVE-2022-2421)",
        &[Text(r#"451-["message",{"_placeholder":true,"num":10}]"#), Binary(&[1, 2, 3])],
    ),
    bad("malformed.attachments_zero", "attachment count 0: `450-[...]`", &[Text(r#"450-["message"]"#)]),
    bad(
        "malformed.attachments_too_many",
        "11 attachments, over the default limit of 10 (CVE-2026-33151)",
        &[Text(r#"4511-["message",{"_placeholder":true,"num":0}]"#)],
    ),
    bad(
        "malformed.attachments_not_number",
        "attachment count `a`: `45a-[...]`",
        &[Text(r#"45a-["message"]"#)],
    ),
    bad(
        "malformed.text_while_reconstructing",
        "a text packet while attachments are awaited",
        &[Text(r#"451-["message",{"_placeholder":true,"num":0}]"#), Text(r#"42["message","x"]"#)],
    ),
    bad(
        "malformed.binary_without_header",
        "a binary message with no attachments awaited",
        &[Binary(&[1, 2, 3])],
    ),
    bad(
        "malformed.base64_binary",
        "`b4AQID`: a base64 binary message with no attachments awaited",
        &[Text("b4AQID")],
    ),
    bad(
        "malformed.unknown_namespace_event",
        "an event for a namespace not joined: `42/nonexistent,[...]`",
        &[Text(r#"42/nonexistent,["message","x"]"#)],
    ),
    bad(
        "malformed.namespace_without_comma",
        "`42/custom[\"x\"]`: the namespace runs to the end",
        &[Text(r#"42/custom["message"]"#)],
    ),
    bad_handshake("malformed.connect_payload_array", "CONNECT payload an array: `40[1]`", &[Text("40[1]")]),
    bad_handshake(
        "malformed.connect_payload_string",
        "CONNECT payload a string: `40\"str\"`",
        &[Text(r#"40"str""#)],
    ),
    bad_handshake(
        "malformed.event_before_connect",
        "an event before any CONNECT",
        &[Text(r#"42["message","x"]"#)],
    ),
];

fn malformed_case(m: &'static Malformed) -> Case {
    super::table_case(m.name, m.description, m, |t, m| Box::pin(malformed(t, m)))
}

async fn send_frames(conn: &mut Conn, frames: &[Frame]) -> Result<(), String> {
    for frame in frames {
        match *frame {
            Text(text) => conn.send(text).await?,
            Binary(data) => conn.send_binary(data).await?,
        }
    }
    Ok(())
}

async fn malformed(t: Target, m: &'static Malformed) -> Result<(), String> {
    let mut conn = if m.joined { joined(&t).await? } else { Conn::open(&t).await? };
    send_frames(&mut conn, m.frames).await?;
    conn.expect_closed(&format!("after {:?}", m.frames)).await
}

/// Input the reference accepts: the connection goes on serving `/`.
struct Accepted {
    name: &'static str,
    description: &'static str,
    frames: &'static [Frame],
}

static ACCEPTED: &[Accepted] = &[
    Accepted {
        name: "accepted.unhandled_event",
        description: "an event without a handler: `42[\"hello\"]`",
        frames: &[Text(r#"42["hello"]"#)],
    },
    Accepted {
        name: "accepted.numeric_event_name",
        description: "a number as event name: `42[1,\"numeric event\"]`",
        frames: &[Text(r#"42[1,"numeric event"]"#)],
    },
    Accepted {
        name: "accepted.error_event",
        description: "an event named `error` (CVE-2024-38355) must not take the server down",
        frames: &[Text(r#"42["error","x"]"#)],
    },
    Accepted {
        name: "accepted.unknown_ack",
        description: "an ACK for an id never sent: `43[\"x\"]`, `4399[\"x\"]`",
        frames: &[Text(r#"43["x"]"#), Text(r#"4399["x"]"#)],
    },
    Accepted {
        name: "accepted.engine_noop_and_upgrade",
        description: "Engine.IO `6` and `5` on an established WebSocket are ignored",
        frames: &[Text("6"), Text("5")],
    },
];

fn accepted_case(a: &'static Accepted) -> Case {
    super::table_case(a.name, a.description, a, |t, a| Box::pin(accepted(t, a)))
}

async fn accepted(t: Target, a: &'static Accepted) -> Result<(), String> {
    let mut conn = joined(&t).await?;
    send_frames(&mut conn, a.frames).await?;
    conn.round_trip(r#""still served""#).await.map_err(|e| format!("after {:?}: {e}", a.frames))?;
    joined(&t).await?.round_trip(r#""another client""#).await
}
