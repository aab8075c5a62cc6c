//! The `metrics` example's server in-process, scraped over HTTP while a real npm
//! `socket.io-client` 4.8.4 connects, emits and leaves.
//!
//! Pins the values an operator reads on `GET /metrics` (Prometheus text format): one
//! WebSocket client and one socket in `/` while connected, the packets it sent by type
//! (Engine.IO `message`s, Socket.IO `connect` and `event`), a broadcast's fan-out; once it
//! disconnected, the gauges back at zero and the disconnects counted by reason.
//!
//! This binary installs the process's metrics recorder: it holds this one test only.

#[path = "../examples/metrics/app.rs"]
mod app;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use support::{Mode, Node, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

/// One sample of a scrape: the metric's name and labels.
type Series = (String, BTreeMap<String, String>);

/// `GET path` on `addr`: the response's head and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to the example");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send the request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read the response");
        response
    };
    let response = timeout(WAIT, exchange).await.expect("GET answered in time");
    let response = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_owned(), body.to_owned())
}

/// `GET /metrics` on `addr`, with the body as it came and its samples.
async fn scrape(addr: std::net::SocketAddr) -> (String, BTreeMap<Series, f64>) {
    let (head, body) = get(addr, "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let samples = parse(&body);
    (body, samples)
}

/// The samples of a Prometheus text exposition (comments skipped).
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().expect("a number");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').expect("label=value");
                (key.to_owned(), value.trim_matches('"').to_owned())
            })
            .collect();
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

/// The value of `name` with `labels` in `samples` (0 when absent: a counter or gauge never
/// touched).
fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
}

/// Scrapes until `ready` holds for the samples (at most [`WAIT`]); returns the last scrape.
async fn scrape_until(
    addr: std::net::SocketAddr,
    what: &str,
    ready: impl Fn(&BTreeMap<Series, f64>) -> bool,
) -> (String, BTreeMap<Series, f64>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (text, samples) = scrape(addr).await;
        if ready(&samples) {
            return (text, samples);
        }
        assert!(Instant::now() < deadline, "{what} not seen within {WAIT:?}; last scrape:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The lines of a scrape that name the server's own metrics.
fn ours(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("engineio_") || l.contains("socketio_"))
        .filter(|l| !l.starts_with('#'))
        .collect();
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_s_life_is_counted_and_scraped() {
    let recorder = app::install_recorder().expect("the only recorder of this test binary");
    let io = app::socketio();
    let router = app::router(&io, recorder);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let serve = tokio::spawn(async move { axum::serve(listener, router).await });

    let clients = json!([
        {"name": "a", "transports": Mode::WebSocket.transports()},
        {"name": "b", "transports": Mode::WebSocket.transports()},
    ]);
    // A request for a session that does not exist: refused with code 1 (`Session ID unknown`).
    let (head, body) = get(addr, "/socket.io/?EIO=4&transport=polling&sid=unknown").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains(r#""code":1"#), "{body}");

    let mut node = Node::spawn("metrics", &format!("http://{addr}"), clients);
    node.next("a", "connect").await;
    node.next("b", "connect").await;
    let answer = node.call("a", "chat", json!(["hello"])).await;
    assert_eq!(answer, json!(["ok"]), "the chat message's ack");
    let relayed = node.received("b", "chat").await;
    assert_eq!(relayed["args"], json!(["hello"]), "{relayed}");

    let (text, connected) = scrape_until(addr, "two connected clients and one chat message", |s| {
        value(s, "socketio_packets_total", &[("direction", "in"), ("type", "event")]) == 1.0
            && value(s, "socketio_sockets", &[("namespace", "/")]) == 2.0
    })
    .await;
    println!("--- GET /metrics while connected (the server's own series)\n{}", ours(&text));
    let s = &connected;
    assert_eq!(value(s, "engineio_clients", &[("transport", "websocket")]), 2.0);
    assert_eq!(value(s, "engineio_clients", &[("transport", "polling")]), 0.0);
    assert_eq!(value(s, "socketio_sockets", &[("namespace", "/")]), 2.0);
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "in"), ("type", "connect")]), 2.0);
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "in"), ("type", "event")]), 1.0);
    // Two CONNECTs and one EVENT, each one Engine.IO message.
    assert_eq!(value(s, "engineio_packets_total", &[("direction", "in"), ("type", "message")]), 3.0);
    // The broadcast reached `b` only; its count and sum say so.
    assert_eq!(value(s, "socketio_broadcast_recipients_count", &[]), 1.0);
    assert_eq!(value(s, "socketio_broadcast_recipients_sum", &[]), 1.0);
    // The one event sent: the broadcast to `b`; and the server's own packets: the two
    // `CONNECT` answers and the chat message's ack.
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "out"), ("type", "event")]), 1.0);
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "out"), ("type", "connect")]), 2.0);
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "out"), ("type", "ack")]), 1.0);
    assert_eq!(value(s, "engineio_packets_total", &[("direction", "out"), ("type", "message")]), 4.0);
    assert_eq!(value(s, "engineio_handshake_errors_total", &[("code", "1")]), 1.0);

    // `a` leaves its namespace (a DISCONNECT packet; its connection closes after); `b`'s
    // connection is closed under its socket.
    node.send(json!({"cmd": "disconnect", "client": "a"})).await;
    node.next("a", "disconnect").await;
    node.send(json!({"cmd": "close_engine", "client": "b"})).await;
    node.next("b", "disconnect").await;
    node.exit().await;

    let (text, after) = scrape_until(addr, "every client gone", |s| {
        value(s, "engineio_clients", &[("transport", "websocket")]) == 0.0
            && value(s, "socketio_sockets", &[("namespace", "/")]) == 0.0
            && value(s, "engineio_disconnects_total", &[("reason", "transport close")]) == 2.0
    })
    .await;
    println!("--- GET /metrics after both clients left\n{}", ours(&text));
    let s = &after;
    assert_eq!(value(s, "engineio_clients", &[("transport", "websocket")]), 0.0);
    assert_eq!(value(s, "socketio_sockets", &[("namespace", "/")]), 0.0);
    assert_eq!(value(s, "socketio_disconnects_total", &[("reason", "client namespace disconnect")]), 1.0);
    assert_eq!(value(s, "socketio_disconnects_total", &[("reason", "transport close")]), 1.0);
    assert_eq!(value(s, "socketio_packets_total", &[("direction", "in"), ("type", "disconnect")]), 1.0);
    assert_eq!(value(s, "engineio_disconnects_total", &[("reason", "transport close")]), 2.0);
    assert_eq!(value(s, "engineio_buffered_bytes", &[]), 0.0);

    timeout(WAIT, io.close()).await.expect("the server closes");
    serve.abort();
}
