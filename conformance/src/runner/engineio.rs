//! Engine.IO v4 scenarios (protocol revision 4, `EIO=4`).
//!
//! Every case opens its own sessions, so cases are independent and may run in any order. The
//! expected behaviour is the reference server's (engine.io 6.6) under the contract of the
//! official engine.io-protocol suite: path `/engine.io/`, ping 300 ms / 200 ms, echo handler.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::time::{sleep, timeout};

use super::http::{self, Response};
use super::ws::{self, Connect, Message, WebSocket};
use super::{Case, CaseFuture, Contract, Target};

/// `pingInterval` the contract requires.
pub const PING_INTERVAL: Duration = Duration::from_millis(300);
/// `pingTimeout` the contract requires.
pub const PING_TIMEOUT: Duration = Duration::from_millis(200);
/// `maxPayload` the contract requires.
pub const MAX_PAYLOAD: u64 = 1_000_000;

/// How long a "closed at once" reaction may take: the target's slack plus 200 ms.
pub(super) fn prompt(t: &Target) -> Duration {
    t.slack + Duration::from_millis(200)
}
/// Lets a request just sent reach the server before the next one.
pub(super) const SETTLE: Duration = Duration::from_millis(50);

/// `case!(name, timeout_secs, description, async_fn)`: a [`Case`] whose body is `async_fn(target)`.
macro_rules! case {
    ($name:literal, $secs:literal, $description:literal, $body:path) => {
        Case {
            name: $name,
            description: $description,
            timeout: Duration::from_secs($secs),
            run: std::sync::Arc::new(|t: Target| -> CaseFuture { Box::pin($body(t)) }),
        }
    };
}
pub(super) use case;

/// The cases that need the echo contract: a Socket.IO server answers messages differently.
const ECHO_CASES: &[&str] = &[
    "polling.batched_echo",
    "polling.binary_echo",
    "websocket.text_echo",
    "websocket.binary_echo",
    "upgrade.complete_then_echo",
];

/// All Engine.IO v4 cases for an echo server ([`Contract::EngineIoEcho`]), in run order.
pub fn cases() -> Vec<Case> {
    all_cases()
}

/// The Engine.IO v4 cases that hold for any Engine.IO server, whatever it does with messages:
/// the Engine.IO part of the Socket.IO suite. They check liveness by the heartbeat when the
/// target's contract is [`Contract::SocketIo`].
pub fn transport_cases() -> Vec<Case> {
    all_cases().into_iter().filter(|c| !ECHO_CASES.contains(&c.name)).collect()
}

fn all_cases() -> Vec<Case> {
    vec![
        case!(
            "handshake.polling",
            5,
            "GET handshake returns an open packet with the contract's fields",
            handshake_polling
        ),
        case!(
            "handshake.websocket",
            5,
            "WebSocket-only handshake: open packet first, upgrades []",
            handshake_websocket
        ),
        case!("handshake.invalid_eio", 5, "EIO missing, 3, 5 or abc: 400 code 5", invalid_eio),
        case!("handshake.missing_transport", 5, "no transport parameter: 400 code 0", missing_transport),
        case!("handshake.unknown_transport", 5, "transport=tobi: 400 code 0", unknown_transport),
        case!("handshake.post_method", 5, "handshake by POST or PUT: 400 code 2", post_handshake),
        case!(
            "errors.websocket_without_upgrade",
            5,
            "GET transport=websocket without an Upgrade header: 400 code 3",
            websocket_without_upgrade
        ),
        case!(
            "errors.transport_mismatch",
            5,
            "polling GET with the sid of a WebSocket session: 400 code 3",
            transport_mismatch
        ),
        case!(
            "errors.prototype_names",
            5,
            "sid=__proto__: code 1; transport=__proto__ / constructor: code 0, also on upgrade",
            prototype_names
        ),
        case!("polling.unknown_sid", 5, "GET and POST with an unknown sid: 400 code 1", polling_unknown_sid),
        case!("websocket.unknown_sid", 5, "WebSocket with an unknown sid is refused", websocket_unknown_sid),
        case!(
            "polling.batched_echo",
            5,
            "several packets in one POST come back, split on \\x1e",
            polling_batched_echo
        ),
        case!("polling.binary_echo", 5, "binary is sent and echoed as b<base64>", polling_binary_echo),
        case!(
            "polling.invalid_packet",
            5,
            "POST `abc` closes the session: next GET 400 code 1",
            polling_invalid_packet
        ),
        case!(
            "polling.duplicate_get",
            5,
            "a second concurrent GET gets 400 and closes the session",
            polling_duplicate_get
        ),
        case!(
            "polling.cancelled_poll",
            5,
            "a pending GET whose connection the client drops: the session closes",
            polling_cancelled_poll
        ),
        case!(
            "polling.client_close",
            5,
            "POST `1` releases the pending GET with `6` and closes",
            polling_client_close
        ),
        case!(
            "polling.client_ping",
            5,
            "a client ping in v4 (POST `2`): the session closes",
            polling_client_ping
        ),
        case!(
            "polling.octet_stream_post",
            5,
            "POST as application/octet-stream in v4: 400 and the session closes",
            polling_octet_stream_post
        ),
        case!(
            "polling.oversized_post",
            10,
            "POST over maxPayload: 413 and the session goes on",
            polling_oversized_post
        ),
        case!("polling.other_method", 5, "PUT with a sid: 500 and the session goes on", polling_other_method),
        case!(
            "websocket.client_ping",
            5,
            "a client ping in v4 over WebSocket: the socket closes",
            websocket_client_ping
        ),
        case!("websocket.text_echo", 5, "text message echoed as a text frame", websocket_text_echo),
        case!("websocket.binary_echo", 5, "binary message echoed as a binary frame", websocket_binary_echo),
        case!(
            "websocket.oversized_message",
            10,
            "a message over maxPayload: close 1009, the server goes on",
            websocket_oversized_message
        ),
        case!(
            "websocket.invalid_packet",
            5,
            "text frame `abc` closes the WebSocket",
            websocket_invalid_packet
        ),
        case!(
            "heartbeat.polling_ping_pong",
            5,
            "ping `2` about every 300 ms over polling, pong keeps the session",
            heartbeat_polling
        ),
        case!(
            "heartbeat.polling_timeout",
            5,
            "no pong over polling: session gone, 400 code 1",
            heartbeat_polling_timeout
        ),
        case!(
            "heartbeat.websocket_ping_pong",
            5,
            "ping `2` about every 300 ms over WebSocket, pong keeps it",
            heartbeat_websocket
        ),
        case!(
            "heartbeat.websocket_timeout",
            5,
            "no pong over WebSocket: the socket is closed",
            heartbeat_websocket_timeout
        ),
        case!(
            "close.websocket",
            5,
            "client `1` over WebSocket: closed (at once, or by the heartbeat as engine.io 6.6 does)",
            close_websocket
        ),
        case!(
            "security.malformed_frame",
            5,
            "a frame with RSV bits set (CVE-2022-21676): that connection closes, the server goes on",
            malformed_frame
        ),
        case!(
            "security.frame_with_upgrade_request",
            5,
            "garbage frame bytes sent with the upgrade request (CVE-2022-21676): the server goes on",
            frame_with_upgrade_request
        ),
        case!(
            "security.unhandled_upgrade_reset",
            5,
            "h2c upgrades on another path, then TCP resets (CVE-2022-41940): the server goes on",
            unhandled_upgrade_reset
        ),
        case!(
            "upgrade.probe",
            5,
            "2probe gets 3probe and the pending GET is released with `6`",
            upgrade_probe
        ),
        case!(
            "upgrade.complete_then_echo",
            5,
            "after `5`, messages flow over the WebSocket",
            upgrade_complete_then_echo
        ),
        case!(
            "upgrade.polling_rejected_after",
            5,
            "after the upgrade, GET and POST with the sid: 400 code 3",
            upgrade_polling_rejected
        ),
        case!(
            "upgrade.second_websocket_closed",
            5,
            "a second WebSocket with the upgraded sid is closed at once",
            upgrade_second_websocket
        ),
    ]
}

// ---- helpers -------------------------------------------------------------------------------

fn q(sid: &str) -> String {
    format!("EIO=4&transport=polling&sid={sid}")
}

pub(super) async fn get(t: &Target, sid: &str) -> Result<Response, String> {
    http::request(t, "GET", &q(sid), None).await
}

pub(super) async fn post(t: &Target, sid: &str, body: &str) -> Result<Response, String> {
    http::request(t, "POST", &q(sid), Some(body.as_bytes())).await
}

/// Splits a 200 polling body into packets.
pub(super) fn packets(resp: &Response) -> Result<Vec<String>, String> {
    if resp.status != 200 {
        return Err(format!("expected 200, got {} {:?}", resp.status, resp.text()));
    }
    let body = String::from_utf8(resp.body.clone()).map_err(|_| "polling body is not UTF-8")?;
    Ok(body.split('\u{1e}').map(str::to_owned).collect())
}

pub(super) fn expect_post_ok(resp: &Response) -> Result<(), String> {
    if resp.status == 200 && resp.body == b"ok" {
        Ok(())
    } else {
        Err(format!("POST: expected 200 `ok`, got {} {:?}", resp.status, resp.text()))
    }
}

fn error_message(code: i64) -> &'static str {
    match code {
        0 => "Transport unknown",
        1 => "Session ID unknown",
        2 => "Bad handshake method",
        3 => "Bad request",
        4 => "Forbidden",
        _ => "Unsupported protocol version",
    }
}

/// `400 {"code":N,"message":"..."}` with a JSON content type.
pub(super) fn expect_error(what: &str, resp: &Response, code: i64) -> Result<(), String> {
    let body = resp.text();
    if resp.status != 400 {
        return Err(format!("{what}: expected 400 code {code}, got {} {body:?}", resp.status));
    }
    let ct = resp.header("content-type").unwrap_or_default();
    if !ct.starts_with("application/json") {
        return Err(format!("{what}: expected Content-Type application/json, got {ct:?}"));
    }
    let value: Value =
        serde_json::from_str(&body).map_err(|_| format!("{what}: error body is not JSON: {body:?}"))?;
    let expected = serde_json::json!({ "code": code, "message": error_message(code) });
    if value != expected {
        return Err(format!("{what}: expected {expected}, got {body}"));
    }
    Ok(())
}

/// Checks an open packet and returns its sid.
pub(super) fn check_open(packet: &str, upgrades: &[&str]) -> Result<String, String> {
    let json = packet.strip_prefix('0').ok_or_else(|| format!("expected an open packet, got {packet:?}"))?;
    let open: Value =
        serde_json::from_str(json).map_err(|e| format!("open payload is not JSON ({e}): {json}"))?;
    let sid =
        open["sid"].as_str().filter(|s| !s.is_empty()).ok_or("open: `sid` is not a non-empty string")?;
    let checks = [
        ("upgrades", serde_json::json!(upgrades)),
        ("pingInterval", serde_json::json!(PING_INTERVAL.as_millis() as u64)),
        ("pingTimeout", serde_json::json!(PING_TIMEOUT.as_millis() as u64)),
        ("maxPayload", serde_json::json!(MAX_PAYLOAD)),
    ];
    for (field, want) in checks {
        if open[field] != want {
            return Err(format!("open: `{field}` expected {want}, got {}", open[field]));
        }
    }
    Ok(sid.to_owned())
}

/// Opens a polling session; returns its sid.
pub(super) async fn open_polling(t: &Target) -> Result<String, String> {
    let resp = http::request(t, "GET", "EIO=4&transport=polling", None).await?;
    let packets = packets(&resp).map_err(|e| format!("handshake: {e}"))?;
    check_open(&packets[0], &["websocket"])
}

/// Polls until `n` packets other than ping/noop arrived (answering pings).
pub(super) async fn collect(t: &Target, sid: &str, n: usize) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    while out.len() < n {
        for p in packets(&get(t, sid).await?)? {
            match p.as_str() {
                "2" => expect_post_ok(&post(t, sid, "3").await?)?,
                "6" => {}
                _ => out.push(p),
            }
        }
    }
    Ok(out)
}

/// The session is gone: a GET gets 400 code 1.
pub(super) async fn expect_closed(t: &Target, sid: &str) -> Result<(), String> {
    expect_error("GET after close", &get(t, sid).await?, 1)
}

pub(super) async fn open_ws(t: &Target, query: &str) -> Result<WebSocket, String> {
    match ws::connect(t, query).await? {
        Connect::Open(ws) => Ok(ws),
        Connect::Refused(r) => Err(format!("WebSocket refused: {} {:?}", r.status, r.text())),
    }
}

/// Next message, answering Engine.IO pings.
async fn recv(ws: &mut WebSocket) -> Result<Message, String> {
    loop {
        match ws.recv().await? {
            Message::Text(p) if p == "2" => ws.send_text("3").await?,
            other => return Ok(other),
        }
    }
}

/// A WebSocket-only session after its open packet.
async fn open_ws_session(t: &Target) -> Result<WebSocket, String> {
    let mut ws = open_ws(t, "EIO=4&transport=websocket").await?;
    match ws.recv().await? {
        Message::Text(p) => check_open(&p, &[])?,
        other => return Err(format!("expected the open packet, got {other:?}")),
    };
    Ok(ws)
}

/// Waits up to `within` for the socket to close, ignoring (not answering) messages.
pub(super) async fn expect_ws_closed(ws: &mut WebSocket, within: Duration, what: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.recv()).await {
            Err(_) => return Err(format!("{what}: WebSocket still open after {} ms", within.as_millis())),
            Ok(Err(_)) | Ok(Ok(Message::Closed(_))) => return Ok(()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Polling session with a GET pending, upgraded to `5`-ready: returns sid, WS and the GET result.
async fn probe(t: &Target) -> Result<(String, WebSocket, Vec<String>), String> {
    let sid = open_polling(t).await?;
    let pending = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    let mut ws = open_ws(t, &format!("EIO=4&transport=websocket&sid={sid}")).await?;
    ws.send_text("2probe").await?;
    match timeout(prompt(t), ws.recv()).await {
        Ok(Ok(Message::Text(p))) if p == "3probe" => {}
        Ok(other) => return Err(format!("2probe: expected 3probe, got {other:?}")),
        Err(_) => return Err("2probe: no answer".into()),
    }
    let released = timeout(prompt(t), pending)
        .await
        .map_err(|_| "pending GET not released after the probe".to_owned())?
        .map_err(|e| e.to_string())??;
    let released = packets(&released).map_err(|e| format!("pending GET: {e}"))?;
    Ok((sid, ws, released))
}

async fn upgraded(t: &Target) -> Result<(String, WebSocket), String> {
    let (sid, mut ws, _) = probe(t).await?;
    ws.send_text("5").await?;
    Ok((sid, ws))
}

// ---- handshake -----------------------------------------------------------------------------

async fn handshake_polling(t: Target) -> Result<(), String> {
    let resp = http::request(&t, "GET", "EIO=4&transport=polling", None).await?;
    let packets = packets(&resp)?;
    if packets.len() != 1 {
        return Err(format!("expected only the open packet, got {packets:?}"));
    }
    let ct = resp.header("content-type").unwrap_or_default();
    if !ct.starts_with("text/plain") {
        return Err(format!("expected Content-Type text/plain, got {ct:?}"));
    }
    check_open(&packets[0], &["websocket"]).map(drop)
}

async fn handshake_websocket(t: Target) -> Result<(), String> {
    open_ws_session(&t).await.map(drop)
}

async fn invalid_eio(t: Target) -> Result<(), String> {
    for query in [
        "transport=polling",
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "EIO=abc&transport=polling",
    ] {
        expect_error(query, &http::request(&t, "GET", query, None).await?, 5)?;
    }
    Ok(())
}

async fn missing_transport(t: Target) -> Result<(), String> {
    expect_error("EIO=4", &http::request(&t, "GET", "EIO=4", None).await?, 0)
}

async fn unknown_transport(t: Target) -> Result<(), String> {
    let query = "EIO=4&transport=tobi";
    expect_error(query, &http::request(&t, "GET", query, None).await?, 0)
}

async fn post_handshake(t: Target) -> Result<(), String> {
    let resp = http::request(&t, "POST", "EIO=4&transport=polling", Some(b"4hello")).await?;
    expect_error("POST handshake", &resp, 2)?;
    let resp = http::request(&t, "PUT", "EIO=4&transport=polling", Some(b"4hello")).await?;
    expect_error("PUT handshake", &resp, 2)
}

async fn websocket_without_upgrade(t: Target) -> Result<(), String> {
    let query = "EIO=4&transport=websocket";
    expect_error("plain GET with transport=websocket", &http::request(&t, "GET", query, None).await?, 3)
}

async fn transport_mismatch(t: Target) -> Result<(), String> {
    let mut ws = open_ws(&t, "EIO=4&transport=websocket").await?;
    let sid = match ws.recv().await? {
        Message::Text(p) => check_open(&p, &[])?,
        other => return Err(format!("expected the open packet, got {other:?}")),
    };
    expect_error("polling GET with a WebSocket session's sid", &get(&t, &sid).await?, 3)
}

async fn prototype_names(t: Target) -> Result<(), String> {
    expect_error("sid=__proto__", &get(&t, "__proto__").await?, 1)?;
    for name in ["__proto__", "constructor", "hasOwnProperty"] {
        let query = format!("EIO=4&transport={name}");
        expect_error(&query, &http::request(&t, "GET", &query, None).await?, 0)?;
        match ws::connect(&t, &query).await? {
            Connect::Refused(r) if r.status == 400 => {}
            Connect::Refused(r) => {
                return Err(format!("upgrade with {query}: expected 400, got {} {:?}", r.status, r.text()))
            }
            Connect::Open(_) => return Err(format!("upgrade with {query}: accepted")),
        }
    }
    open_polling(&t).await.map(drop).map_err(|e| format!("the server should go on: {e}"))
}

async fn polling_unknown_sid(t: Target) -> Result<(), String> {
    expect_error("GET", &get(&t, "abc").await?, 1)?;
    expect_error("POST", &post(&t, "abc", "4hello").await?, 1)
}

async fn websocket_unknown_sid(t: Target) -> Result<(), String> {
    match ws::connect(&t, "EIO=4&transport=websocket&sid=abc").await? {
        Connect::Refused(r) if r.status == 400 => Ok(()),
        Connect::Refused(r) => Err(format!("expected 400, got {} {:?}", r.status, r.text())),
        Connect::Open(mut ws) => expect_ws_closed(&mut ws, prompt(&t), "unknown sid")
            .await
            .map_err(|e| format!("{e} (expected a 400 refusal)")),
    }
}

// ---- polling -------------------------------------------------------------------------------

async fn polling_batched_echo(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let sent = ["4hello", "bAQIDBA==", "4wörld \u{1f600}"];
    expect_post_ok(&post(&t, &sid, &sent.join("\u{1e}")).await?)?;
    let got = collect(&t, &sid, sent.len()).await?;
    if got != sent {
        return Err(format!("expected echoes {sent:?}, got {got:?}"));
    }
    Ok(())
}

async fn polling_binary_echo(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    expect_post_ok(&post(&t, &sid, "bAAEC/w==").await?)?;
    let got = collect(&t, &sid, 1).await?;
    if got != ["bAAEC/w=="] {
        return Err(format!("expected [\"bAAEC/w==\"], got {got:?}"));
    }
    Ok(())
}

async fn polling_invalid_packet(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let resp = post(&t, &sid, "abc").await?;
    if resp.status != 200 && resp.status != 400 {
        return Err(format!("POST `abc`: expected 200 `ok` (or 400), got {} {:?}", resp.status, resp.text()));
    }
    expect_closed(&t, &sid).await
}

async fn polling_duplicate_get(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let first = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    let second = get(&t, &sid).await?;
    if second.status != 400 {
        return Err(format!("second GET: expected 400, got {} {:?}", second.status, second.text()));
    }
    let first = timeout(prompt(&t), first)
        .await
        .map_err(|_| "first GET still pending after the session closed".to_owned())?
        .map_err(|e| e.to_string())??;
    if first.status == 200 && !packets(&first)?.iter().any(|p| p == "1") {
        return Err(format!("first GET: expected a close packet `1`, got {:?}", first.text()));
    }
    expect_closed(&t, &sid).await
}

async fn polling_cancelled_poll(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let pending = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    // Aborting the task drops its TCP connection with the GET still pending.
    pending.abort();
    let _ = pending.await;
    sleep(SETTLE).await;
    expect_closed(&t, &sid).await
}

async fn polling_client_close(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let pending = {
        let (t, sid) = (t.clone(), sid.clone());
        tokio::spawn(async move { get(&t, &sid).await })
    };
    sleep(SETTLE).await;
    expect_post_ok(&post(&t, &sid, "1").await?)?;
    let released = timeout(prompt(&t), pending)
        .await
        .map_err(|_| "pending GET not released after POST `1`".to_owned())?
        .map_err(|e| e.to_string())??;
    let got = packets(&released).map_err(|e| format!("pending GET: {e}"))?;
    if got != ["6"] {
        return Err(format!("pending GET: expected [\"6\"], got {got:?}"));
    }
    expect_closed(&t, &sid).await
}

async fn polling_client_ping(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let resp = post(&t, &sid, "2").await?;
    if resp.status != 200 && resp.status != 400 {
        return Err(format!("POST `2`: expected 200 `ok` (or 400), got {} {:?}", resp.status, resp.text()));
    }
    expect_closed(&t, &sid).await
}

async fn polling_octet_stream_post(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let resp = http::request_typed(&t, "POST", &q(&sid), Some(b"4hello"), "application/octet-stream").await?;
    if resp.status != 400 {
        return Err(format!("octet-stream POST: expected 400, got {} {:?}", resp.status, resp.text()));
    }
    expect_closed(&t, &sid).await
}

/// The session is still served over polling: an echo of `text` for the echo contract, a
/// heartbeat round trip (ping `2` answered by `3`) for a Socket.IO server, which sends nothing
/// of its own before a namespace is joined.
async fn expect_alive(t: &Target, sid: &str, text: &str) -> Result<(), String> {
    if t.contract == Contract::SocketIo {
        let got =
            packets(&get(t, sid).await?).map_err(|e| format!("the session should still be served: {e}"))?;
        if got != ["2"] {
            return Err(format!(
                "the session should still be served: expected the ping [\"2\"], got {got:?}"
            ));
        }
        return expect_post_ok(&post(t, sid, "3").await?);
    }
    expect_post_ok(&post(t, sid, &format!("4{text}")).await?)?;
    let got = collect(t, sid, 1).await?;
    if got != [format!("4{text}")] {
        return Err(format!("the session should still echo: expected [\"4{text}\"], got {got:?}"));
    }
    Ok(())
}

/// The WebSocket carries the session: an echo of `text` for the echo contract, the next
/// heartbeat for a Socket.IO server (a ping only travels on the transport in use, so it also
/// proves an upgrade completed).
async fn expect_ws_alive(t: &Target, ws: &mut WebSocket, text: &str) -> Result<(), String> {
    if t.contract == Contract::SocketIo {
        return match timeout(PING_INTERVAL + t.slack, ws.recv()).await {
            Ok(Ok(Message::Text(p))) if p == "2" => ws.send_text("3").await,
            Ok(other) => Err(format!("expected a ping `2` on the WebSocket, got {other:?}")),
            Err(_) => Err("no ping on the WebSocket".into()),
        };
    }
    let text = format!("4{text}");
    ws.send_text(&text).await?;
    let got = recv(ws).await?;
    if got != Message::Text(text.clone()) {
        return Err(format!("expected the echo {text:?} on the WebSocket, got {got:?}"));
    }
    Ok(())
}

async fn polling_oversized_post(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let body = format!("4{}", "a".repeat(MAX_PAYLOAD as usize));
    let resp = post(&t, &sid, &body).await?;
    if resp.status != 413 {
        return Err(format!(
            "POST of {} bytes: expected 413, got {} {:?}",
            body.len(),
            resp.status,
            resp.text()
        ));
    }
    expect_alive(&t, &sid, "still here").await
}

async fn polling_other_method(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let resp = http::request(&t, "PUT", &q(&sid), Some(b"4x")).await?;
    if resp.status != 500 {
        return Err(format!("PUT: expected 500, got {} {:?}", resp.status, resp.text()));
    }
    expect_alive(&t, &sid, "after PUT").await
}

// ---- websocket -----------------------------------------------------------------------------

async fn websocket_client_ping(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    ws.send_text("2").await?;
    expect_ws_closed(&mut ws, prompt(&t), "after a client ping").await
}

async fn websocket_text_echo(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    for text in ["4hello", "4wörld \u{1f600}", "4"] {
        ws.send_text(text).await?;
        let got = recv(&mut ws).await?;
        if got != Message::Text(text.to_owned()) {
            return Err(format!("sent {text:?}, got {got:?}"));
        }
    }
    Ok(())
}

async fn websocket_binary_echo(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    let data = [0u8, 1, 2, 255];
    ws.send_binary(&data).await?;
    let got = recv(&mut ws).await?;
    if got != Message::Binary(data.to_vec()) {
        return Err(format!("sent binary {data:?}, got {got:?}"));
    }
    Ok(())
}

async fn websocket_oversized_message(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    // A server may close while the message is still being written: the write then fails, and
    // the close frame is read all the same.
    let _ = ws.send_text(&format!("4{}", "a".repeat(MAX_PAYLOAD as usize))).await;
    let deadline = tokio::time::Instant::now() + prompt(&t);
    loop {
        match tokio::time::timeout_at(deadline, ws.recv()).await {
            Err(_) => return Err("still open after a message over maxPayload".into()),
            Ok(Ok(Message::Closed(Some(1009)))) => break,
            Ok(Ok(Message::Closed(code))) => return Err(format!("expected close code 1009, got {code:?}")),
            Ok(Err(e)) => return Err(format!("expected close code 1009, got {e}")),
            Ok(Ok(_)) => {}
        }
    }
    open_polling(&t).await.map(drop).map_err(|e| format!("the server should go on: {e}"))
}

async fn websocket_invalid_packet(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    ws.send_text("abc").await?;
    expect_ws_closed(&mut ws, prompt(&t), "after `abc`").await
}

// ---- heartbeat -----------------------------------------------------------------------------

fn check_interval(t: &Target, what: &str, elapsed: Duration) -> Result<(), String> {
    let min = PING_INTERVAL - Duration::from_millis(100);
    if elapsed < min || elapsed > PING_INTERVAL + t.slack {
        return Err(format!(
            "{what}: ping after {} ms, expected about {} ms",
            elapsed.as_millis(),
            PING_INTERVAL.as_millis()
        ));
    }
    Ok(())
}

async fn heartbeat_polling(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let mut since = Instant::now();
    for round in 1..=3 {
        let got = packets(&get(&t, &sid).await?)?;
        if got != ["2"] {
            return Err(format!("round {round}: expected [\"2\"], got {got:?}"));
        }
        check_interval(&t, &format!("round {round}"), since.elapsed())?;
        expect_post_ok(&post(&t, &sid, "3").await?)?;
        since = Instant::now();
    }
    Ok(())
}

async fn heartbeat_polling_timeout(t: Target) -> Result<(), String> {
    let sid = open_polling(&t).await?;
    let got = packets(&get(&t, &sid).await?)?;
    if got != ["2"] {
        return Err(format!("expected [\"2\"], got {got:?}"));
    }
    sleep(PING_TIMEOUT + t.slack).await;
    expect_closed(&t, &sid).await
}

async fn heartbeat_websocket(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    let mut since = Instant::now();
    for round in 1..=3 {
        let got = ws.recv().await?;
        if got != Message::Text("2".into()) {
            return Err(format!("round {round}: expected text `2`, got {got:?}"));
        }
        check_interval(&t, &format!("round {round}"), since.elapsed())?;
        ws.send_text("3").await?;
        since = Instant::now();
    }
    Ok(())
}

async fn heartbeat_websocket_timeout(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    let got = ws.recv().await?;
    if got != Message::Text("2".into()) {
        return Err(format!("expected text `2`, got {got:?}"));
    }
    expect_ws_closed(&mut ws, PING_TIMEOUT + t.slack, "no pong").await
}

// ---- close and hostile transports -----------------------------------------------------------

async fn close_websocket(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    ws.send_text("1").await?;
    expect_ws_closed(&mut ws, PING_INTERVAL + PING_TIMEOUT + t.slack, "after a client close `1`").await
}

async fn malformed_frame(t: Target) -> Result<(), String> {
    let mut ws = open_ws_session(&t).await?;
    // FIN, RSV2 and RSV3 set on a text frame: no extension gives them a meaning.
    ws.send_raw(&ws::masked_frame(0x80 | 0x30 | 0x1, b"4hello", [1, 2, 3, 4])).await?;
    expect_ws_closed(&mut ws, prompt(&t), "after a frame with RSV bits").await?;
    open_polling(&t).await.map(drop).map_err(|e| format!("the server should go on: {e}"))
}

async fn frame_with_upgrade_request(t: Target) -> Result<(), String> {
    let mut garbage = ws::masked_frame(0x80 | 0x70 | 0xB, b"garbage", [9, 8, 7, 6]);
    garbage.extend_from_slice(&[0xff; 16]);
    match ws::connect_with(&t, "EIO=4&transport=websocket", &garbage).await {
        Ok(Connect::Open(mut ws)) => expect_ws_closed(&mut ws, prompt(&t), "after garbage frames").await?,
        Ok(Connect::Refused(_)) | Err(_) => {}
    }
    open_polling(&t).await.map(drop).map_err(|e| format!("the server should go on: {e}"))
}

async fn unhandled_upgrade_reset(t: Target) -> Result<(), String> {
    use tokio::io::AsyncWriteExt as _;
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(t.authority())
            .await
            .map_err(|e| format!("connect to {}: {e}", t.authority()))?;
        let request = format!(
            "GET /unhandled-upgrade HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
            t.authority()
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("write h2c upgrade: {e}"))?;
        sleep(SETTLE).await;
        // Closing with a zero linger sends a TCP reset instead of a FIN.
        stream.set_zero_linger().map_err(|e| format!("set linger: {e}"))?;
        drop(stream);
    }
    sleep(SETTLE).await;
    open_polling(&t).await.map(drop).map_err(|e| format!("the server should go on: {e}"))
}

// ---- upgrade -------------------------------------------------------------------------------

async fn upgrade_probe(t: Target) -> Result<(), String> {
    let (_, _, released) = probe(&t).await?;
    if released != ["6"] {
        return Err(format!("pending GET: expected [\"6\"], got {released:?}"));
    }
    Ok(())
}

async fn upgrade_complete_then_echo(t: Target) -> Result<(), String> {
    let (_, mut ws) = upgraded(&t).await?;
    ws.send_text("4hello").await?;
    let got = recv(&mut ws).await?;
    if got != Message::Text("4hello".into()) {
        return Err(format!("expected text `4hello`, got {got:?}"));
    }
    ws.send_binary(&[1, 2, 3]).await?;
    let got = recv(&mut ws).await?;
    if got != Message::Binary(vec![1, 2, 3]) {
        return Err(format!("expected binary [1, 2, 3], got {got:?}"));
    }
    Ok(())
}

async fn upgrade_polling_rejected(t: Target) -> Result<(), String> {
    let (sid, mut ws) = upgraded(&t).await?;
    expect_ws_alive(&t, &mut ws, "sync").await.map_err(|e| format!("after the upgrade: {e}"))?;
    expect_error("GET after upgrade", &get(&t, &sid).await?, 3)?;
    expect_error("POST after upgrade", &post(&t, &sid, "4hello").await?, 3)
}

async fn upgrade_second_websocket(t: Target) -> Result<(), String> {
    let (sid, mut ws) = upgraded(&t).await?;
    expect_ws_alive(&t, &mut ws, "sync").await.map_err(|e| format!("after the upgrade: {e}"))?;
    match ws::connect(&t, &format!("EIO=4&transport=websocket&sid={sid}")).await? {
        Connect::Refused(_) => {}
        Connect::Open(mut second) => expect_ws_closed(&mut second, t.slack / 2, "second WebSocket").await?,
    }
    expect_ws_alive(&t, &mut ws, "still here")
        .await
        .map_err(|e| format!("first WebSocket after the second was closed: {e}"))
}
