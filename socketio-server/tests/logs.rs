//! What an operator reads in the logs: one connection's whole life, from the npm
//! `socket.io-client` 4.8.4, captured by a `tracing` layer of this test.
//!
//! The connection opens on polling, joins `/`, is refused `/admin` by a middleware, upgrades to
//! WebSocket, emits an event, leaves an ack of the server unanswered until it times out, then
//! leaves and closes. A second, hand-written polling connection gives up an upgrade (its
//! WebSocket closes before the probe), has a volatile packet dropped and sends an undecodable
//! packet; a third, on WebSocket, reads nothing until it is dropped for its full write buffer. Pins: each lifecycle step is logged exactly once, with the
//! session's span (`sid`, `transport` — recorded again on upgrade —, `remote`), the socket's
//! (`nsp`, `id`), and the fields that say why (the middleware's message, the ack's event and
//! timeout, the disconnect reasons, the parse error and the start of its input); no payload text
//! appears in any event above `trace`.
//!
//! The capturing subscriber is the process's global one: this binary holds this one test only.

mod raw;
mod support;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use socketio_server::{AckError, Config, ConnectError};
use support::{inbox, Mode, TestServer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// What the session logs when it drops a client that does not read.
const DROPPED: &str = "client dropped: it does not read fast enough (write buffer full)";

/// Text no log line above `trace` may contain: it only travels in payloads.
const SECRET: &str = "SECRET";

/// The fields of an event or a span, in order, as text.
#[derive(Debug, Clone, Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }
}

/// One captured event: its level, its fields (`message` among them) and its spans, outermost
/// first.
#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    fields: Fields,
    spans: Vec<(String, Fields)>,
}

impl Captured {
    fn message(&self) -> &str {
        self.fields.get("message").unwrap_or_default()
    }

    /// Field `name` of the event, else of its innermost span that has it.
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).or_else(|| self.spans.iter().rev().find_map(|(_, f)| f.get(name)))
    }

    /// The session the event belongs to.
    fn sid(&self) -> Option<&str> {
        self.spans.iter().find(|(n, _)| n == "engineio").and_then(|(_, f)| f.get("sid"))
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5} ", self.level)?;
        for (name, fields) in &self.spans {
            let fields: Vec<String> = fields.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "{name}{{{}}}:", fields.join(" "))?;
        }
        if !self.spans.is_empty() {
            f.write_str(" ")?;
        }
        f.write_str(self.message())?;
        for (k, v) in self.fields.0.iter().filter(|(k, _)| k != "message") {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// A layer that keeps every event with its spans' fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn events(&self) -> Vec<Captured> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until an event with `message` was logged.
    async fn wait_for(&self, message: &str) {
        let deadline = tokio::time::Instant::now() + support::WAIT;
        while named(&self.events(), message).is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{message}` was not logged within {:?}",
                support::WAIT
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let recorded = span.extensions().get::<Fields>().cloned().unwrap_or_default();
                spans.push((span.name().to_owned(), recorded));
            }
        }
        let captured = Captured { level: *event.metadata().level(), fields, spans };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(captured);
    }
}

/// The events of `events` with `message`.
fn named<'a>(events: &'a [Captured], message: &str) -> Vec<&'a Captured> {
    events.iter().filter(|e| e.message() == message).collect()
}

/// The one event of `events` with `message`; panics unless there is exactly one.
fn once<'a>(events: &'a [Captured], message: &str) -> &'a Captured {
    let found = named(events, message);
    assert_eq!(found.len(), 1, "`{message}` logged {} times, not once:\n{}", found.len(), lines(events));
    found[0]
}

fn lines(events: &[Captured]) -> String {
    events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_s_life_is_logged_once_per_step_without_payloads() {
    let capture = Capture::default();
    let targets = Targets::new()
        .with_target("engineio_server", Level::TRACE)
        .with_target("socketio_server", Level::TRACE);
    tracing_subscriber::registry()
        .with(capture.clone().with_filter(targets))
        .try_init()
        .expect("the only subscriber of this test binary");

    // A client that stops reading is dropped once 1 MiB waits for it.
    let mut config = Config::default();
    config.engine.max_buffered = 1 << 20;
    let server = TestServer::start(config).await;
    let addr = server.addr;
    server.io.of("/admin").use_middleware(|_| async { Err(ConnectError::new("admins only")) });
    let (acks, mut ack_results) = inbox::<Result<(), AckError>>();
    server.io.on_connection(move |socket| {
        socket.on("hello", |_, event| async move {
            let _ = event.reply(&"SECRET reply");
        });
        let acks = acks.clone();
        async move {
            if socket.auth()["ask"] != json!(true) {
                return;
            }
            let asked =
                socket.timeout(Duration::from_millis(300)).emit_with_ack("question", &"SECRET question");
            let Ok(answer) = asked else { return };
            tokio::spawn(async move {
                let _ = acks.send(answer.await.map(|_| ()));
            });
        }
    });

    // The npm client: `/` and `/admin` on one connection, polling first, then WebSocket.
    let mut node = server.node(
        "logs",
        json!([
            {"name": "a", "manager": "m", "auth": {"ask": true}, "answers": {"question": "silent"},
             "transports": Mode::Upgrade.transports()},
            {"name": "b", "manager": "m", "nsp": "/admin", "transports": Mode::Upgrade.transports()},
        ]),
    );
    node.next("a", "connect").await;
    let refused = node.next("b", "connect_error").await;
    assert_eq!(refused["message"], "admins only", "{refused}");
    Mode::Upgrade.settle(&mut node, "m").await;
    let reply = node.call("a", "hello", json!(["SECRET hello"])).await;
    assert_eq!(reply, json!(["SECRET reply"]));
    let result = ack_results.next("the ack's outcome").await;
    assert!(matches!(result, Err(AckError::Timeout)), "{result:?}");
    node.send(json!({"cmd": "disconnect", "client": "a"})).await;
    node.next("a", "disconnect").await;
    node.exit().await;
    server.wait_sessions(0).await;

    // A hand-written polling client: a volatile packet while no poll waits, then garbage.
    let poll = raw::PollClient::open(addr).await;
    let id = poll.connect("/").await;
    // An upgrade given up: its WebSocket closes before the probe.
    let target = format!("/socket.io/?EIO=4&transport=websocket&sid={}", poll.sid);
    let (websocket, _) = raw::ws_upgrade(addr, &target).await.expect("the upgrade is answered 101");
    drop(websocket);
    capture.wait_for("upgrade aborted").await;
    let socket = server.socket("/", &id).await;
    socket.volatile().emit("tick", &"SECRET tick").expect("a volatile emit");
    let garbage = format!("42[\"{}\u{1}", "x".repeat(40));
    poll.send(&[&garbage]).await;
    poll.expect_closed().await;
    server.wait_sessions(0).await;

    // A WebSocket client that reads nothing while the server sends it 64 KiB events: once the
    // kernel's buffers and then the session's 1 MiB are full, it is dropped.
    let (slow, slow_id) = raw::WsClient::connected(addr).await;
    let socket = server.socket("/", &slow_id).await;
    let chunk = "x".repeat(64 * 1024);
    for _ in 0..2_000 {
        if socket.disconnected() {
            break;
        }
        let _ = socket.emit("flood", &chunk);
        tokio::task::yield_now().await;
    }
    capture.wait_for(DROPPED).await;
    drop(slow);
    server.wait_sessions(0).await;
    server.close().await;

    let events = capture.events();
    let handshakes = named(&events, "handshake");
    assert_eq!(handshakes.len(), 3, "three sessions:\n{}", lines(&events));
    let npm_sid = handshakes[0].sid().expect("a handshake in its session's span").to_owned();
    let raw_sid = handshakes[1].sid().expect("a handshake in its session's span").to_owned();
    let slow_sid = handshakes[2].sid().expect("a handshake in its session's span").to_owned();
    let npm: Vec<Captured> = events.iter().filter(|e| e.sid() == Some(&npm_sid)).cloned().collect();
    let raw: Vec<Captured> = events.iter().filter(|e| e.sid() == Some(&raw_sid)).cloned().collect();
    let server_wide: Vec<Captured> = events.iter().filter(|e| e.sid().is_none()).cloned().collect();

    println!("--- the npm client's connection, every event above trace");
    let above_trace: Vec<Captured> = npm.iter().filter(|e| e.level != Level::TRACE).cloned().collect();
    println!("{}", lines(&above_trace));
    println!("--- the same connection at trace (packets), the first 12");
    let traced: Vec<Captured> = npm.iter().filter(|e| e.level == Level::TRACE).take(12).cloned().collect();
    println!("{}", lines(&traced));
    println!("--- the hand-written connection, above trace");
    let raw_above: Vec<Captured> = raw.iter().filter(|e| e.level != Level::TRACE).cloned().collect();
    println!("{}", lines(&raw_above));
    println!("--- the server, outside sessions");
    println!("{}", lines(&server_wide));

    // No payload above trace, anywhere.
    for event in events.iter().filter(|e| e.level != Level::TRACE) {
        assert!(!event.to_string().contains(SECRET), "payload text above trace: {event}");
    }
    // The session's span: its id, the peer, and the transport as it is when the event happens.
    let handshake = once(&npm, "handshake");
    assert_eq!(handshake.level, Level::DEBUG);
    assert_eq!(handshake.field("transport"), Some("polling"));
    assert_eq!(handshake.field("protocol"), Some("4"));
    assert!(handshake.field("remote").is_some_and(|r| r.starts_with("127.0.0.1:")), "{handshake}");

    let joined = once(&npm, "namespace connect");
    assert_eq!(joined.field("nsp"), Some("/"));
    assert!(joined.field("id").is_some_and(|id| id.len() == 20), "{joined}");
    let refused = once(&npm, "namespace connect refused by a middleware");
    assert_eq!(refused.field("nsp"), Some("/admin"));
    assert_eq!(refused.field("error"), Some("admins only"));

    assert_eq!(once(&npm, "upgrade started").field("transport"), Some("polling"));
    let upgraded = once(&npm, "upgrade done");
    assert_eq!(upgraded.field("transport"), Some("websocket"));
    assert!(named(&npm, "upgrade aborted").is_empty());

    let timed_out = once(&npm, "ack timed out");
    assert_eq!(timed_out.field("nsp"), Some("/"));
    assert_eq!(timed_out.field("event"), Some("question"));
    assert_eq!(timed_out.field("timeout_ms"), Some("300"));

    let left = once(&npm, "socket disconnected");
    assert_eq!(left.field("reason"), Some("client namespace disconnect"));
    assert_eq!(left.field("nsp"), Some("/"));
    assert_eq!(left.field("id"), joined.field("id"));
    let closed = once(&npm, "session closed");
    assert_eq!(closed.field("reason"), Some("transport close"));
    assert_eq!(closed.field("transport"), Some("websocket"));
    assert!(named(&npm, "request refused").is_empty(), "{}", lines(&npm));

    // Every packet, both ways, at trace only, with its type and size.
    let packets_in = named(&npm, "packet in");
    assert!(packets_in.len() >= 3, "CONNECT /, CONNECT /admin, the event:\n{}", lines(&npm));
    assert!(packets_in.iter().all(|p| p.level == Level::TRACE && p.field("size").is_some()));
    assert!(!named(&npm, "packet out").is_empty());
    let sio_in: Vec<&str> =
        named(&npm, "socket.io packet in").iter().filter_map(|p| p.field("type")).collect();
    assert_eq!(sio_in, ["connect", "connect", "event", "disconnect"]);

    // The hand-written connection: the dropped volatile packet, the parse error with the start
    // of its input (escaped, cut at 32 bytes), and the close it caused.
    once(&raw, "handshake");
    let aborted = once(&raw, "upgrade aborted");
    assert_eq!(aborted.field("reason"), Some("websocket closed during upgrade"));
    assert_eq!(aborted.field("transport"), Some("polling"));
    let dropped = once(&raw, "volatile packet dropped: the transport is not writable");
    assert_eq!(dropped.field("nsp"), Some("/"));
    let parse = once(&raw, "parse error");
    assert!(parse.field("reason").is_some_and(|r| !r.is_empty()), "{parse}");
    let expected_prefix = format!("\"2[\\\"{}\\x01\"...", "x".repeat(40));
    let input = parse.field("input").expect("the input's start");
    assert!(input.starts_with("\"2[\\\"xxxxxxxx") && input.ends_with("\"..."), "{input}");
    assert!(input.len() < expected_prefix.len(), "cut at 32 bytes: {input}");
    once(&raw, "socket disconnected");
    assert_eq!(once(&raw, "session closed").field("reason"), Some("forced close"));

    // The client that did not read: dropped once, saying how full its buffer was, and closed.
    let slow: Vec<Captured> = events.iter().filter(|e| e.sid() == Some(&slow_sid)).cloned().collect();
    let dropped = once(&slow, DROPPED);
    assert_eq!(dropped.level, Level::DEBUG);
    assert_eq!(dropped.field("limit"), Some("1048576"));
    let buffered: usize = dropped.field("buffered").and_then(|b| b.parse().ok()).expect("the bytes buffered");
    assert!(buffered > 0 && buffered <= 1 << 20, "{dropped}");
    assert_eq!(dropped.field("transport"), Some("websocket"));
    assert_eq!(once(&slow, "session closed").field("reason"), Some("transport error"));

    // The server: listening and closing, once each, at info.
    let listening = once(&server_wide, "listening");
    assert_eq!(listening.level, Level::INFO);
    assert_eq!(listening.field("address"), Some(addr.to_string().as_str()));
    assert_eq!(once(&server_wide, "closing the server").level, Level::INFO);
    assert_eq!(once(&server_wide, "server closed").level, Level::INFO);
}
