//! Engine.IO v3 / Socket.IO v4 scenarios (`EIO=3`, the protocol of Socket.IO 2 clients), for a
//! server under the Socket.IO contract that also accepts v3 clients (`allowEIO3`).
//!
//! What differs from v5 and is checked here: long-polling payloads are length-prefixed
//! (`<len>:<packet>`, lengths in UTF-16 code units); the client pings and the server pongs; the
//! server joins `/` on its own and sends `40`; CONNECT answers carry no payload and CONNECT
//! auth travels as a query string (`40/custom?token=abc,`); WebSocket binary frames carry a
//! leading packet-type byte (`0x04` for a message).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::{interval, sleep, timeout, timeout_at, Instant, MissedTickBehavior};

use super::engineio::{self, case, prompt, PING_INTERVAL, PING_TIMEOUT, SETTLE};
use super::http;
use super::socketio::{check_packet, placeholders};
use super::ws::{self, Connect, Message, WebSocket};
use super::{Case, CaseFuture, Target};

/// All v3 cases, in run order.
pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "v3.handshake_polling",
            5,
            "EIO=3 handshake: a length-prefixed payload with only the open packet",
            handshake_polling
        ),
        case!(
            "v3.handshake_websocket",
            5,
            "EIO=3 over WebSocket: open packet, then `40` (joined to `/` by the server) and `auth`",
            handshake_websocket
        ),
        case!(
            "v3.heartbeat_polling",
            5,
            "the client's `1:2` is answered `1:3`; the first poll also holds `40` and `auth`",
            heartbeat_polling
        ),
        case!(
            "v3.heartbeat_polling_timeout",
            5,
            "no client ping within pingInterval + pingTimeout: the session is closed",
            heartbeat_polling_timeout
        ),
        case!(
            "v3.heartbeat_websocket",
            5,
            "`2` over WebSocket is answered `3`, three times",
            heartbeat_websocket
        ),
        case!(
            "v3.heartbeat_websocket_timeout",
            5,
            "no client ping over WebSocket: the socket is closed",
            heartbeat_websocket_timeout
        ),
        case!(
            "v3.close_polling",
            5,
            "POST `1:1` releases the pending GET with `1:6` and closes",
            close_polling
        ),
        case!(
            "v3.upgrade",
            5,
            "2probe/3probe, noop `1:6` on the pending GET, `5`; then the WebSocket carries the session",
            upgrade
        ),
        case!(
            "v3.connect_custom",
            5,
            "`40/custom,`: a CONNECT answer for /custom without payload, then `auth`",
            connect_custom
        ),
        case!(
            "v3.connect_query_auth",
            5,
            "`40/custom?token=abc,`: the query string is the handshake's auth",
            connect_query_auth
        ),
        case!(
            "v3.connect_query_prototype",
            5,
            "`40/custom?__proto__=x&token=abc,` (socket.io 4.8.4 fix): served, token kept",
            connect_query_prototype
        ),
        case!(
            "v3.unknown_namespace",
            5,
            "`40/random` gets `44/random,{\"message\":\"Invalid namespace\"}`",
            unknown_namespace
        ),
        case!("v3.invalid_handshake", 5, "`4abc` closes the connection", invalid_handshake),
        case!("v3.disconnect_main", 5, "after `41`, an event for `/` closes the connection", disconnect_main),
        case!("v3.message_plain", 5, "`message` comes back as `message-back`", message_plain),
        case!(
            "v3.message_binary",
            5,
            "attachments are binary frames with the type byte 0x04, both ways",
            message_binary
        ),
        case!("v3.message_ack", 5, "`42456[\"message-with-ack\",...]` gets `43456[...]`", message_ack),
        case!(
            "v3.message_binary_ack",
            5,
            "an event with attachments and id 789 gets `462-789[...]` and both attachments",
            message_binary_ack
        ),
        case!("v3.invalid_payload", 5, "`42{}` closes the connection", invalid_payload),
        case!("v3.invalid_ack_id", 5, "`42abc[...]` closes the connection", invalid_ack_id),
    ]
}

// ---- helpers -------------------------------------------------------------------------------

const POLLING: &str = "EIO=3&transport=polling";

fn q(sid: &str) -> String {
    format!("{POLLING}&sid={sid}")
}

/// `<len>:<packet>` for each packet, `len` in UTF-16 code units.
fn encode_payload(packets: &[&str]) -> String {
    packets.iter().map(|p| format!("{}:{p}", p.encode_utf16().count())).collect()
}

/// Splits a length-prefixed payload; any malformed length is an error.
fn decode_payload(body: &str) -> Result<Vec<String>, String> {
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':').ok_or_else(|| format!("payload without `len:`: {body:?}"))?;
        let len: usize = len.parse().map_err(|_| format!("bad length {len:?} in {body:?}"))?;
        let mut units = 0;
        let end = after
            .char_indices()
            .find_map(|(i, c)| {
                let at = (units == len).then_some(i);
                units += c.len_utf16();
                at
            })
            .or((units == len).then_some(after.len()))
            .ok_or_else(|| format!("length {len} runs past the payload {body:?}"))?;
        packets.push(after[..end].to_owned());
        rest = &after[end..];
    }
    Ok(packets)
}

async fn get(t: &Target, sid: &str) -> Result<Vec<String>, String> {
    let resp = http::request(t, "GET", &q(sid), None).await?;
    if resp.status != 200 {
        return Err(format!("GET: expected 200, got {} {:?}", resp.status, resp.text()));
    }
    decode_payload(&resp.text())
}

async fn post(t: &Target, sid: &str, packets: &[&str]) -> Result<(), String> {
    let resp = http::request(t, "POST", &q(sid), Some(encode_payload(packets).as_bytes())).await?;
    engineio::expect_post_ok(&resp)
}

/// A v3 polling session; returns its sid.
async fn open_polling(t: &Target) -> Result<String, String> {
    let resp = http::request(t, "GET", POLLING, None).await?;
    if resp.status != 200 {
        return Err(format!("handshake: expected 200, got {} {:?}", resp.status, resp.text()));
    }
    let packets = decode_payload(&resp.text())?;
    if packets.len() != 1 {
        return Err(format!("handshake: expected only the open packet, got {packets:?}"));
    }
    engineio::check_open(&packets[0], &["websocket"])
}

/// Polls until `40` and the `auth` event of `/` arrived (the server joins `/` by itself).
async fn drain_connect(t: &Target, sid: &str) -> Result<(), String> {
    let got = get(t, sid).await?;
    let mut got = got.into_iter();
    expect_auto_connect(got.next(), got.next())
}

fn expect_auto_connect(connect: Option<String>, auth: Option<String>) -> Result<(), String> {
    if connect.as_deref() != Some("40") {
        return Err(format!("expected `40` (joined to `/` by the server), got {connect:?}"));
    }
    match auth {
        Some(p) => check_packet(&p, "42", &json!(["auth", {}])),
        None => Err("expected the `auth` event 42[\"auth\",{}], got nothing".into()),
    }
}

/// A v3 WebSocket session that keeps its heartbeat: while it waits it pings every 150 ms and
/// swallows the pongs.
struct Conn {
    ws: WebSocket,
    wait: Duration,
}

impl Conn {
    async fn open(t: &Target) -> Result<Self, String> {
        let mut ws = match ws::connect(t, "EIO=3&transport=websocket").await? {
            Connect::Open(ws) => ws,
            Connect::Refused(r) => return Err(format!("WebSocket refused: {} {:?}", r.status, r.text())),
        };
        match ws.recv().await? {
            Message::Text(p) => engineio::check_open(&p, &[])?,
            other => return Err(format!("expected the open packet, got {other:?}")),
        };
        Ok(Conn { ws, wait: prompt(t) })
    }

    /// Opens a session and takes the server's `40` and `auth` for `/`.
    async fn joined(t: &Target) -> Result<Self, String> {
        let mut conn = Self::open(t).await?;
        let connect = conn.recv_text("`40`").await.ok();
        let auth = conn.recv_text("`auth`").await.ok();
        expect_auto_connect(connect, auth)?;
        Ok(conn)
    }

    async fn send(&mut self, text: &str) -> Result<(), String> {
        self.ws.send_text(text).await
    }

    async fn recv(&mut self) -> Result<Message, String> {
        let deadline = Instant::now() + self.wait;
        let mut ping = interval(PING_INTERVAL / 2);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ping.tick() => self.ws.send_text("2").await?,
                got = timeout_at(deadline, self.ws.recv()) => match got {
                    Err(_) => return Err(format!("nothing within {} ms", self.wait.as_millis())),
                    Ok(Ok(Message::Text(p))) if p == "3" => {}
                    Ok(other) => return other,
                },
            }
        }
    }

    async fn recv_text(&mut self, what: &str) -> Result<String, String> {
        match self.recv().await {
            Ok(Message::Text(text)) => Ok(text),
            Ok(other) => Err(format!("{what}: expected a text message, got {other:?}")),
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    /// Closed within the prompt (the heartbeat kept, so only the server's reaction counts).
    async fn expect_closed(&mut self, what: &str) -> Result<(), String> {
        loop {
            match self.recv().await {
                Ok(Message::Closed(_)) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.starts_with("write") => return Ok(()),
                Err(e) => return Err(format!("{what}: still open ({e})")),
            }
        }
    }

    async fn round_trip(&mut self, args: &str) -> Result<(), String> {
        self.send(&format!("42[\"message\",{args}]")).await?;
        let got = self.recv_text("`message-back`").await?;
        let args: Vec<Value> = serde_json::from_str(&format!("[{args}]")).map_err(|e| e.to_string())?;
        let mut want = vec![json!("message-back")];
        want.extend(args);
        check_packet(&got, "42", &Value::Array(want))
    }
}

// ---- Engine.IO v3 --------------------------------------------------------------------------

async fn handshake_polling(t: Target) -> Result<(), String> {
    open_polling(&t).await.map(drop)
}

async fn handshake_websocket(t: Target) -> Result<(), String> {
    Conn::joined(&t).await.map(drop)
}

async fn heartbeat_polling(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    for round in 1..=3 {
        post(&t, &sid, &["2"]).await?;
        let mut got = get(&t, &sid).await?;
        if round == 1 {
            if got.len() != 3 {
                return Err(format!("round 1: expected `40`, `auth` and `3`, got {got:?}"));
            }
            let mut first = got.drain(..2);
            expect_auto_connect(first.next(), first.next())?;
        }
        if got != ["3"] {
            return Err(format!("round {round}: expected the pong [\"3\"], got {got:?}"));
        }
    }
    Ok(())
}

async fn heartbeat_polling_timeout(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    drain_connect(&t, &sid).await?;
    sleep(PING_INTERVAL + PING_TIMEOUT + t.slack).await;
    engineio::expect_closed(&t, &sid).await
}

async fn heartbeat_websocket(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    for round in 1..=3 {
        conn.ws.send_text("2").await?;
        match timeout(prompt(&t), conn.ws.recv()).await {
            Ok(Ok(Message::Text(p))) if p == "3" => {}
            other => return Err(format!("round {round}: expected the pong `3`, got {other:?}")),
        }
    }
    Ok(())
}

async fn heartbeat_websocket_timeout(t: Target) -> Result<(), String> {
    let mut conn = Conn::open(&t).await?;
    engineio::expect_ws_closed(&mut conn.ws, PING_INTERVAL + PING_TIMEOUT + t.slack, "without client pings")
        .await
}

async fn close_polling(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    drain_connect(&t, &sid).await?;
    let pending = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    post(&t, &sid, &["1"]).await?;
    let released = timeout(prompt(&t), pending)
        .await
        .map_err(|_| "pending GET not released after POST `1:1`".to_owned())?
        .map_err(|e| e.to_string())??;
    if released != ["6"] {
        return Err(format!("pending GET: expected [\"6\"], got {released:?}"));
    }
    engineio::expect_closed(&t, &sid).await
}

async fn upgrade(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    drain_connect(&t, &sid).await?;
    let pending = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    let mut ws = engineio::open_ws(&t, &format!("EIO=3&transport=websocket&sid={sid}")).await?;
    ws.send_text("2probe").await?;
    match timeout(prompt(&t), ws.recv()).await {
        Ok(Ok(Message::Text(p))) if p == "3probe" => {}
        other => return Err(format!("2probe: expected 3probe, got {other:?}")),
    }
    let released = timeout(prompt(&t), pending)
        .await
        .map_err(|_| "pending GET not released after the probe".to_owned())?
        .map_err(|e| e.to_string())??;
    if released != ["6"] {
        return Err(format!("pending GET: expected [\"6\"], got {released:?}"));
    }
    ws.send_text("5").await?;
    let mut conn = Conn { ws, wait: prompt(&t) };
    conn.round_trip(r#""after the upgrade""#).await?;
    let resp = http::request(&t, "GET", &q(&sid), None).await?;
    engineio::expect_error("polling GET after the upgrade", &resp, 3)
}

// ---- Socket.IO v4 --------------------------------------------------------------------------

/// Sends a v4 CONNECT and checks the answer (`40<nsp>` with no payload, a trailing comma
/// allowed) and the `auth` event carrying `auth`.
async fn join(conn: &mut Conn, packet: &str, nsp: &str, auth: Value) -> Result<(), String> {
    conn.send(packet).await?;
    let answer = conn.recv_text(&format!("answer to {packet:?}")).await?;
    if answer != format!("40{nsp}") && answer != format!("40{nsp},") {
        return Err(format!("answer to {packet:?}: expected `40{nsp},`, got {answer:?}"));
    }
    let event = conn.recv_text("the `auth` event").await?;
    check_packet(&event, &format!("42{nsp},"), &json!(["auth", auth]))
}

async fn connect_custom(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    join(&mut conn, "40/custom,", "/custom", json!({})).await
}

async fn connect_query_auth(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    join(&mut conn, "40/custom?token=abc,", "/custom", json!({"token": "abc"})).await
}

async fn connect_query_prototype(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send("40/custom?__proto__=x&token=abc,").await?;
    let answer = conn.recv_text("the CONNECT answer").await?;
    if !answer.starts_with("40/custom") {
        return Err(format!("expected `40/custom,`, got {answer:?}"));
    }
    let event = conn.recv_text("the `auth` event").await?;
    let auth = event
        .strip_prefix("42/custom,")
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .ok_or_else(|| format!("expected the `auth` event on /custom, got {event:?}"))?;
    if auth[0] != "auth" || auth[1]["token"] != "abc" {
        return Err(format!("expected `auth` with token `abc`, got {event:?}"));
    }
    conn.round_trip(r#""still served""#).await
}

async fn unknown_namespace(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send("40/random").await?;
    let got = conn.recv_text("answer to `40/random`").await?;
    check_packet(&got, "44/random,", &json!({"message": "Invalid namespace"}))
}

async fn invalid_handshake(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send("4abc").await?;
    conn.expect_closed("after `4abc`").await
}

async fn disconnect_main(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send("41").await?;
    sleep(SETTLE).await;
    conn.send(r#"42["message","after leaving"]"#).await?;
    conn.expect_closed("an event for `/` after `41`").await
}

async fn message_plain(t: Target) -> Result<(), String> {
    Conn::joined(&t).await?.round_trip(r#""message to main namespace",1,{"3":[true]}"#).await
}

/// Sends `header[event, placeholders]` and two attachments (with their type byte); expects
/// `want` and the attachments back, type byte included.
async fn binary_round_trip(t: &Target, header: &str, event: &str, want: (&str, Value)) -> Result<(), String> {
    let mut conn = Conn::joined(t).await?;
    let placeholders = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
    conn.send(&format!("{header}[\"{event}\",{placeholders}]")).await?;
    conn.ws.send_binary(&[4, 1, 2, 3]).await?;
    conn.ws.send_binary(&[4, 4, 5, 6]).await?;
    let got = conn.recv_text("the answer's header packet").await?;
    check_packet(&got, want.0, &want.1)?;
    for expected in [[4u8, 1, 2, 3], [4, 4, 5, 6]] {
        match conn.recv().await? {
            Message::Binary(data) if data == expected => {}
            other => return Err(format!("attachment: expected binary {expected:?}, got {other:?}")),
        }
    }
    Ok(())
}

async fn message_binary(t: Target) -> Result<(), String> {
    let [a, b] = placeholders();
    binary_round_trip(&t, "452-", "message", ("452-", json!(["message-back", a, b]))).await
}

async fn message_ack(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#).await?;
    let got = conn.recv_text("the ack").await?;
    check_packet(&got, "43456", &json!([1, "2", {"3": [false]}]))
}

async fn message_binary_ack(t: Target) -> Result<(), String> {
    let [a, b] = placeholders();
    binary_round_trip(&t, "452-789", "message-with-ack", ("462-789", json!([a, b]))).await
}

async fn invalid_payload(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send("42{}").await?;
    conn.expect_closed("after `42{}`").await
}

async fn invalid_ack_id(t: Target) -> Result<(), String> {
    let mut conn = Conn::joined(&t).await?;
    conn.send(r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#).await?;
    conn.expect_closed("after `42abc[...]`").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_lengths_count_utf16_units() {
        let body = encode_payload(&["4hello", "4€", "4😀"]);
        assert_eq!(body, "6:4hello2:4€3:4😀");
        assert_eq!(decode_payload(&body), Ok(vec!["4hello".into(), "4€".into(), "4😀".into()]));
        assert!(decode_payload("9:4hi").is_err());
        assert!(decode_payload("x:4hi").is_err());
        assert_eq!(decode_payload(""), Ok(vec![]));
    }
}
