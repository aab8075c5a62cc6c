//! Raw Engine.IO / Socket.IO spoken by hand over 127.0.0.1, for the inputs no real client sends.
//!
//! * [`RawServer`]: a [`SocketIo`] server on a free port of 127.0.0.1 whose namespaces record
//!   what their sockets see ([`Seen`]: joins, events, `on(name)` handlers run, `on_error`
//!   reports, disconnections) and answer the `ping` event's ack with `["pong", n]`.
//! * [`WsClient`]: an HTTP/1.1 upgrade written by hand, then masked WebSocket frames; it reads
//!   the server's frames and answers Engine.IO pings itself. It may offer permessage-deflate
//!   ([`WsClient::open_deflate`]), and then tells which messages came compressed.
//! * [`PollClient`]: Engine.IO long-polling with one hand-written HTTP/1.1 request per TCP
//!   connection (`Connection: close`).
//! * A panic hook ([`watch_panics`]) that records every panic raised outside the test files, so
//!   that a test can assert that the server never panicked (a panic in a session task would
//!   otherwise only end that task).
//!
//! Every wait is bounded by [`WAIT`] and fails the test with what was seen so far.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde_json::Value as Json;
use socketio_parser::DecodeError;
use socketio_server::{Config, DisconnectReason, Namespace, SocketError, SocketIo, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

/// How long to wait for one thing the server should do (an answer, a close, a report).
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The event names a [`RawServer`] registers `on(name)` handlers for by default.
pub(crate) const HANDLED: [&str; 5] = ["ping", "hello", "1", "error", "x"];

// -------------------------------------------------------------------------------------------
// Panics

static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs (once per test binary) a panic hook that records every panic whose location is not
/// in a test file: those come from the server's crates (or what they call).
pub(crate) fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().replace('\\', "/")).unwrap_or_default();
            if !file.contains("tests/") {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let line = info.location().map(|l| l.line()).unwrap_or_default();
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{file}:{line}: {message}"));
            }
            previous(info);
        }));
    });
}

/// Panics if code outside the tests panicked since the binary started.
pub(crate) fn assert_no_server_panic() {
    let panics = SERVER_PANICS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(panics.is_empty(), "the server panicked: {panics:#?}");
}

// -------------------------------------------------------------------------------------------
// The server under test

/// What a recorded socket saw, in order.
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    /// A socket joined `nsp`.
    Connected { nsp: String, id: String, auth: Json },
    /// An event reached the socket's catch-all handler.
    Event { nsp: String, id: String, name: String, args: Vec<Value>, ack: Option<u64> },
    /// An `on(name)` handler ran.
    Handled { nsp: String, id: String, name: String, args: Vec<Value>, ack: Option<u64> },
    /// The socket's `on_error` handler was called.
    Error { nsp: String, id: String, error: SocketError },
    /// The socket left.
    Disconnected { nsp: String, id: String, reason: DisconnectReason },
}

impl Seen {
    /// The socket id the entry is about.
    pub(crate) fn id(&self) -> &str {
        match self {
            Seen::Connected { id, .. }
            | Seen::Event { id, .. }
            | Seen::Handled { id, .. }
            | Seen::Error { id, .. }
            | Seen::Disconnected { id, .. } => id,
        }
    }
}

/// How a [`RawServer`] is set up.
pub(crate) struct Setup {
    /// The server's options.
    pub(crate) config: Config,
    /// Namespaces recorded besides `/`.
    pub(crate) namespaces: Vec<&'static str>,
    /// The event names that get an `on(name)` handler (answering acks with `"ok"`, and `ping`
    /// with `["pong", n]`).
    pub(crate) handled: Vec<&'static str>,
    /// Whether sockets get an `on_error` handler.
    pub(crate) on_error: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup { config: Config::default(), namespaces: Vec::new(), handled: HANDLED.to_vec(), on_error: true }
    }
}

impl Setup {
    /// The default setup with `config`.
    pub(crate) fn with_config(config: Config) -> Self {
        Setup { config, ..Setup::default() }
    }
}

/// A Socket.IO server serving on 127.0.0.1 in a task of the test's runtime, recording what its
/// sockets see.
pub(crate) struct RawServer {
    pub(crate) io: SocketIo,
    pub(crate) addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Seen>,
    history: Vec<Seen>,
    serve: JoinHandle<std::io::Result<()>>,
}

fn record(ns: &Namespace, tx: mpsc::UnboundedSender<Seen>, handled: Arc<Vec<&'static str>>, on_error: bool) {
    let nsp = ns.name().to_string();
    ns.on_connection(move |socket| {
        let id = socket.id().to_string();
        let _ = tx.send(Seen::Connected { nsp: nsp.clone(), id: id.clone(), auth: socket.auth().clone() });
        {
            let (tx, nsp, id) = (tx.clone(), nsp.clone(), id.clone());
            socket.on_any(move |_, event| {
                let _ = tx.send(Seen::Event {
                    nsp: nsp.clone(),
                    id: id.clone(),
                    name: event.name().to_owned(),
                    args: event.values().unwrap_or_default(),
                    ack: event.ack().map(|a| a.id()),
                });
                async {}
            });
        }
        for &name in handled.iter() {
            let (tx, nsp, id) = (tx.clone(), nsp.clone(), id.clone());
            socket.on(name, move |_, event| {
                let _ = tx.send(Seen::Handled {
                    nsp: nsp.clone(),
                    id: id.clone(),
                    name: event.name().to_owned(),
                    args: event.values().unwrap_or_default(),
                    ack: event.ack().map(|a| a.id()),
                });
                if name == "ping" {
                    let n: u64 = event.arg().unwrap_or_default();
                    let _ = event.reply(&("pong", n));
                } else {
                    let _ = event.reply(&"ok");
                }
                async {}
            });
        }
        if on_error {
            let (tx, nsp, id) = (tx.clone(), nsp.clone(), id.clone());
            socket.on_error(move |_, error| {
                let _ = tx.send(Seen::Error { nsp: nsp.clone(), id: id.clone(), error: error.clone() });
            });
        }
        {
            let (tx, nsp, id) = (tx.clone(), nsp.clone(), id.clone());
            socket.on_disconnect(move |_, reason| {
                let _ = tx.send(Seen::Disconnected { nsp: nsp.clone(), id: id.clone(), reason });
                async {}
            });
        }
        async {}
    });
}

impl RawServer {
    /// Starts a server as `setup` says on a free port of 127.0.0.1.
    pub(crate) async fn start(setup: Setup) -> Self {
        watch_panics();
        let io = SocketIo::new(setup.config);
        let (tx, rx) = mpsc::unbounded_channel();
        let handled = Arc::new(setup.handled);
        for nsp in std::iter::once("/").chain(setup.namespaces.iter().copied()) {
            record(&io.of(nsp), tx.clone(), handled.clone(), setup.on_error);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = io.clone();
        let serve = tokio::spawn(async move { server.serve(listener).await });
        RawServer { io, addr, rx, history: Vec::new(), serve }
    }

    /// The default server.
    pub(crate) async fn default_setup() -> Self {
        Self::start(Setup::default()).await
    }

    fn pull(&mut self) {
        while let Ok(seen) = self.rx.try_recv() {
            self.history.push(seen);
        }
    }

    /// Everything recorded so far.
    pub(crate) fn history(&mut self) -> &[Seen] {
        self.pull();
        &self.history
    }

    /// Waits (at most [`WAIT`]) for an entry matching `pred`, and returns it.
    pub(crate) async fn wait_for(&mut self, what: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
        self.pull();
        if let Some(found) = self.history.iter().find(|s| pred(s)) {
            return found.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(seen)) => {
                    self.history.push(seen.clone());
                    if pred(&seen) {
                        return seen;
                    }
                }
                Ok(None) => panic!("the recorder stopped while waiting for {what}"),
                Err(_) => panic!("no {what} within {WAIT:?}; recorded {:#?}", self.history),
            }
        }
    }

    /// Waits for socket `id` to have joined; returns its `auth`.
    pub(crate) async fn connected(&mut self, id: &str) -> Json {
        match self
            .wait_for(
                &format!("connection of {id}"),
                |s| matches!(s, Seen::Connected { id: i, .. } if i == id),
            )
            .await
        {
            Seen::Connected { auth, .. } => auth,
            _ => unreachable!("matched a connection"),
        }
    }

    /// Waits for socket `id` to leave; returns why.
    pub(crate) async fn disconnect_reason(&mut self, id: &str) -> DisconnectReason {
        match self
            .wait_for(
                &format!("disconnection of {id}"),
                |s| matches!(s, Seen::Disconnected { id: i, .. } if i == id),
            )
            .await
        {
            Seen::Disconnected { reason, .. } => reason,
            _ => unreachable!("matched a disconnection"),
        }
    }

    /// Waits for an `on(name)` handler of socket `id` to run; returns the event's arguments and
    /// ack id.
    pub(crate) async fn handled(&mut self, id: &str, name: &str) -> (Vec<Value>, Option<u64>) {
        match self
            .wait_for(
                &format!("handler {name:?} of {id}"),
                |s| matches!(s, Seen::Handled { id: i, name: n, .. } if i == id && n == name),
            )
            .await
        {
            Seen::Handled { args, ack, .. } => (args, ack),
            _ => unreachable!("matched a handler run"),
        }
    }

    /// The errors socket `id`'s `on_error` heard so far.
    pub(crate) fn errors_of(&mut self, id: &str) -> Vec<SocketError> {
        self.pull();
        self.history
            .iter()
            .filter_map(|s| match s {
                Seen::Error { id: i, error, .. } if i == id => Some(error.clone()),
                _ => None,
            })
            .collect()
    }

    /// The names of the events socket `id`'s catch-all handler saw so far.
    pub(crate) fn events_of(&mut self, id: &str) -> Vec<String> {
        self.pull();
        self.history
            .iter()
            .filter_map(|s| match s {
                Seen::Event { id: i, name, .. } if i == id => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The names of the `on(name)` handlers of socket `id` that ran so far.
    pub(crate) fn handled_of(&mut self, id: &str) -> Vec<String> {
        self.pull();
        self.history
            .iter()
            .filter_map(|s| match s {
                Seen::Handled { id: i, name, .. } if i == id => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether socket `id` was seen leaving.
    pub(crate) fn has_left(&mut self, id: &str) -> bool {
        self.pull();
        self.history.iter().any(|s| matches!(s, Seen::Disconnected { id: i, .. } if i == id))
    }

    /// Checks that socket `id` saw exactly one `on_error` report, a decode error matching
    /// `expected`.
    pub(crate) fn assert_decode_error(&mut self, id: &str, expected: impl Fn(&DecodeError) -> bool) {
        let errors = self.errors_of(id);
        assert_eq!(errors.len(), 1, "{id}: expected one on_error report, got {errors:?}");
        match &errors[0] {
            SocketError::Decode(e) => assert!(expected(e), "{id}: unexpected decode error {e:?}"),
            other => panic!("{id}: expected a decode error, got {other:?}"),
        }
    }

    /// Checks that the server did not panic and still serves.
    pub(crate) fn assert_alive(&self) {
        assert_no_server_panic();
        assert!(!self.serve.is_finished(), "the server stopped serving");
    }
}

// -------------------------------------------------------------------------------------------
// Raw HTTP

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn parse_head(head: &[u8]) -> Self {
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        HttpResponse { status, headers, body: Vec::new() }
    }
}

fn blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Sends one HTTP/1.1 request (`Connection: close`) on a new connection and reads the whole
/// response, at most [`WAIT`]. The body is written while the response is read, so that a server
/// that answers before reading all of it (413) is heard.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let write = tokio::spawn(async move {
        // The server may answer and close before taking everything; what it says is what counts.
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + WAIT;
    let response = loop {
        let n = match timeout_at(deadline, reader.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => 0,
            Err(_) => panic!(
                "no complete answer to {method} {target} within {WAIT:?}; got {:?}",
                String::from_utf8_lossy(&raw)
            ),
        };
        raw.extend_from_slice(&chunk[..n]);
        if let Some(end) = blank_line(&raw) {
            let mut response = HttpResponse::parse_head(&raw[..end]);
            let rest = &raw[end + 4..];
            let length = response.header("content-length").and_then(|v| v.parse::<usize>().ok());
            if let Some(length) = length.filter(|&l| rest.len() >= l) {
                response.body = rest[..length].to_vec();
                break response;
            }
            if n == 0 {
                response.body = rest.to_vec();
                break response;
            }
        } else if n == 0 {
            panic!(
                "connection closed before an answer to {method} {target}: {:?}",
                String::from_utf8_lossy(&raw)
            );
        }
    };
    write.abort();
    response
}

/// Engine.IO packets of a polling payload (v4: separated by `\x1e`).
pub(crate) fn split_payload(body: &str) -> Vec<String> {
    if body.is_empty() {
        return Vec::new();
    }
    body.split('\x1e').map(str::to_owned).collect()
}

/// The `sid` of an Engine.IO open packet `0{...}`.
fn open_sid(packet: &str) -> String {
    let json: Json = serde_json::from_str(
        packet.strip_prefix('0').unwrap_or_else(|| panic!("not an open packet: {packet:?}")),
    )
    .expect("the open packet holds JSON");
    json["sid"].as_str().expect("the open packet has a sid").to_owned()
}

/// The socket id in a Socket.IO v5 CONNECT answer (`{"sid":"..."}` after the namespace).
fn connect_sid(payload: &str) -> String {
    let json: Json =
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("CONNECT answer {payload:?}: {e}"));
    json["sid"].as_str().unwrap_or_else(|| panic!("CONNECT answer without sid: {payload:?}")).to_owned()
}

/// `40` for `/`, `40/admin,` for another namespace.
fn connect_packet(nsp: &str) -> String {
    if nsp == "/" {
        "40".to_owned()
    } else {
        format!("40{nsp},")
    }
}

/// A Socket.IO client on Engine.IO v4 long-polling, one request per TCP connection.
pub(crate) struct PollClient {
    addr: SocketAddr,
    /// The Engine.IO session id.
    pub(crate) sid: String,
}

impl PollClient {
    /// Opens an Engine.IO v4 polling session.
    pub(crate) async fn open(addr: SocketAddr) -> Self {
        let response = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
        assert_eq!(response.status, 200, "polling handshake: {response:?}");
        let sid = open_sid(&response.text());
        PollClient { addr, sid }
    }

    fn target(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    /// POSTs `packets` (Engine.IO packets in their text form) as one payload.
    pub(crate) async fn post(&self, packets: &[&str]) -> HttpResponse {
        self.post_raw(packets.join("\x1e").as_bytes()).await
    }

    /// POSTs `body` as it is, as text.
    pub(crate) async fn post_raw(&self, body: &[u8]) -> HttpResponse {
        http(self.addr, "POST", &self.target(), &[("Content-Type", "text/plain;charset=UTF-8")], body).await
    }

    /// POSTs `packets` and checks the server took them (`200 ok`).
    pub(crate) async fn send(&self, packets: &[&str]) {
        let response = self.post(packets).await;
        assert_eq!(response.status, 200, "POST {packets:?}: {response:?}");
    }

    /// One GET.
    pub(crate) async fn poll(&self) -> HttpResponse {
        http(self.addr, "GET", &self.target(), &[], b"").await
    }

    /// GETs until a packet starting with `prefix` arrives; returns it. Engine.IO pings are
    /// answered.
    pub(crate) async fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let response = self.poll().await;
            assert_eq!(
                response.status, 200,
                "poll while waiting for {prefix:?} (saw {seen:?}): {response:?}"
            );
            for packet in split_payload(&response.text()) {
                if packet.starts_with(prefix) {
                    return packet;
                }
                if packet == "2" {
                    self.send(&["3"]).await;
                }
                assert_ne!(packet, "1", "the session closed while waiting for {prefix:?} (saw {seen:?})");
                seen.push(packet);
            }
        }
        panic!("no {prefix:?} within {WAIT:?}; saw {seen:?}")
    }

    /// Joins `nsp`; returns the socket id.
    pub(crate) async fn connect(&self, nsp: &str) -> String {
        self.send(&[&connect_packet(nsp)]).await;
        let prefix = if nsp == "/" { "40".to_owned() } else { format!("40{nsp},") };
        let answer = self.expect(&prefix).await;
        connect_sid(&answer[prefix.len()..])
    }

    /// Emits `ping` with ack id `n` in `/` and waits for the server's `["pong", n]`.
    pub(crate) async fn roundtrip(&self, n: u64) {
        self.send(&[&format!("42{n}[\"ping\",{n}]")]).await;
        let answer = self.expect(&format!("43{n}")).await;
        assert_eq!(answer, format!("43{n}[\"pong\",{n}]"));
    }

    /// GETs until the server says the session is over: a `close` packet, or a refusal (the
    /// session is gone). Panics after [`WAIT`].
    pub(crate) async fn expect_closed(&self) -> HttpResponse {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let response = self.poll().await;
            if response.status != 200 {
                return response;
            }
            let packets = split_payload(&response.text());
            if packets.iter().any(|p| p == "1") {
                return response;
            }
            seen.extend(packets);
        }
        panic!("the polling session {} was not closed within {WAIT:?}; saw {seen:?}", self.sid)
    }
}

// -------------------------------------------------------------------------------------------
// Raw WebSocket

/// A WebSocket frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// What a [`WsClient`] receives at the Engine.IO level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A text frame: one Engine.IO packet in its text form (`4...`).
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The server closed the WebSocket (with this close code), or the TCP connection.
    Closed(Option<u16>),
}

/// Something a test sends on a WebSocket.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    Text(String),
    Binary(Vec<u8>),
}

/// A text frame to send.
pub(crate) fn text(s: impl Into<String>) -> Out {
    Out::Text(s.into())
}

/// A binary frame to send.
pub(crate) fn binary(b: &[u8]) -> Out {
    Out::Binary(b.to_vec())
}

/// A Socket.IO client on an Engine.IO WebSocket (no polling first), spoken by hand.
pub(crate) struct WsClient {
    stream: TcpStream,
    buf: Vec<u8>,
    /// A fragmented message being received: its opcode, whether its first frame had RSV1, and
    /// its data so far.
    partial: Option<(u8, bool, Vec<u8>)>,
    /// The server accepted permessage-deflate: a message whose first frame has RSV1 is
    /// compressed. Without it, RSV1 fails the test.
    deflate: bool,
    mask: u32,
    closed: Option<Option<u16>>,
    eio: u8,
    /// The Engine.IO session id, from the open packet.
    pub(crate) sid: String,
    /// Text packets received while waiting for something else.
    pub(crate) skipped: Vec<String>,
}

/// Sends a WebSocket upgrade for `target`; returns the stream and the bytes after the `101`
/// head, or the refusal.
pub(crate) async fn ws_upgrade(addr: SocketAddr, target: &str) -> Result<(TcpStream, Vec<u8>), HttpResponse> {
    ws_upgrade_with(addr, target, &[]).await.map(|(stream, rest, _)| (stream, rest))
}

/// Sends a WebSocket upgrade for `target` with `headers` added; returns the stream, the bytes
/// after the `101` head and the `101` itself, or the refusal.
pub(crate) async fn ws_upgrade_with(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<(TcpStream, Vec<u8>, HttpResponse), HttpResponse> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write the upgrade");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + WAIT;
    let end = loop {
        if let Some(end) = blank_line(&buf) {
            break end;
        }
        let n = timeout_at(deadline, stream.read(&mut chunk)).await.expect("the upgrade is answered in time");
        let n = n.unwrap_or(0);
        assert!(
            n > 0,
            "connection closed before an answer to the upgrade: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut response = HttpResponse::parse_head(&buf[..end]);
    let rest = buf[end + 4..].to_vec();
    if response.status == 101 {
        return Ok((stream, rest, response));
    }
    let mut body = rest;
    let _ = timeout(WAIT, stream.read_to_end(&mut body)).await;
    response.body = body;
    Err(response)
}

impl WsClient {
    /// Opens an Engine.IO v4 session over WebSocket and reads its open packet.
    pub(crate) async fn open(addr: SocketAddr) -> Self {
        Self::open_with(addr, "EIO=4&transport=websocket").await
    }

    /// Opens a session with the query string `query` (which must select the WebSocket
    /// transport) and reads its open packet.
    pub(crate) async fn open_with(addr: SocketAddr, query: &str) -> Self {
        Self::open_at(addr, &format!("/socket.io/?{query}")).await
    }

    /// Opens a session with a WebSocket upgrade of `target` (path and query) and reads its
    /// open packet.
    pub(crate) async fn open_at(addr: SocketAddr, target: &str) -> Self {
        let (stream, buf) = match ws_upgrade(addr, target).await {
            Ok(upgraded) => upgraded,
            Err(response) => panic!("the upgrade {target} was refused: {response:?}"),
        };
        Self::opened(stream, buf, target, false).await
    }

    /// Opens an Engine.IO v4 session over WebSocket offering permessage-deflate, as browsers
    /// and the `ws` package offer it; fails the test unless the `101` accepts it. Returns the
    /// client (its open packet read) and the `101`'s `Sec-WebSocket-Extensions`.
    pub(crate) async fn open_deflate(addr: SocketAddr) -> (Self, String) {
        let target = "/socket.io/?EIO=4&transport=websocket";
        let offer = [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")];
        let (stream, buf, response) = match ws_upgrade_with(addr, target, &offer).await {
            Ok(upgraded) => upgraded,
            Err(response) => panic!("the upgrade {target} was refused: {response:?}"),
        };
        let accepted = response.header("sec-websocket-extensions").unwrap_or_default().to_owned();
        assert!(
            accepted.starts_with("permessage-deflate"),
            "the 101 accepts permessage-deflate: {response:?}"
        );
        (Self::opened(stream, buf, target, true).await, accepted)
    }

    /// The client of an upgraded connection, once it read the open packet.
    async fn opened(stream: TcpStream, buf: Vec<u8>, target: &str, deflate: bool) -> Self {
        let query = target.split_once('?').map_or("", |(_, query)| query);
        let eio = if query.contains("EIO=3") { 3 } else { 4 };
        let mut client = WsClient {
            stream,
            buf,
            partial: None,
            deflate,
            mask: 0x9e37_79b9,
            closed: None,
            eio,
            sid: String::new(),
            skipped: Vec::new(),
        };
        match client.recv().await {
            Incoming::Text(open) => client.sid = open_sid(&open),
            other => panic!("expected the open packet, got {other:?}"),
        }
        client
    }

    /// Opens a v4 session and joins `/`; returns the client and its socket id.
    pub(crate) async fn connected(addr: SocketAddr) -> (Self, String) {
        let mut client = Self::open(addr).await;
        let id = client.connect("/").await;
        (client, id)
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift32: varied masking keys, no randomness needed.
        let mut x = self.mask;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask = x;
        x.to_be_bytes()
    }

    /// Sends a masked frame: `first` is the first byte (FIN, RSV bits, opcode).
    pub(crate) async fn send_frame(&mut self, first: u8, payload: &[u8]) {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(first);
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len <= 0xffff {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = self.next_mask();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // The server may have closed already, or stopped reading: the test checks what it sees
        // next.
        let _ = timeout(WAIT, self.stream.write_all(&frame)).await;
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.send_frame(0x81, text.as_bytes()).await;
    }

    /// Sends a binary frame.
    pub(crate) async fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(0x82, data).await;
    }

    /// Sends each of `outs` in order.
    pub(crate) async fn send_all(&mut self, outs: &[Out]) {
        for out in outs {
            match out {
                Out::Text(t) => self.send_text(t).await,
                Out::Binary(b) => self.send_binary(b).await,
            }
        }
    }

    /// The next message, its fragments joined, `None` when the connection ended; with whether
    /// it came compressed (RSV1 on its first frame, the payload is then inflated). Panics after
    /// [`WAIT`].
    pub(crate) async fn next_frame(&mut self) -> Option<(Frame, bool)> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                match frame {
                    RawFrame { fin, rsv1, opcode: 0, payload } => {
                        assert!(!rsv1, "RSV1 on a continuation frame (RFC 7692 §6.1)");
                        let Some((_, _, data)) = self.partial.as_mut() else {
                            panic!("a continuation frame without a first frame")
                        };
                        data.extend_from_slice(&payload);
                        if fin {
                            let (opcode, rsv1, data) = self.partial.take().expect("a fragmented message");
                            return Some(self.message(opcode, rsv1, data));
                        }
                    }
                    RawFrame { fin: false, rsv1, opcode, payload } => {
                        self.partial = Some((opcode, rsv1, payload))
                    }
                    RawFrame { rsv1, opcode, payload, .. } => {
                        return Some(self.message(opcode, rsv1, payload))
                    }
                }
                continue;
            }
            let mut chunk = vec![0u8; 64 * 1024];
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no WebSocket frame within {WAIT:?} (skipped {:?})", self.skipped),
            }
        }
    }

    /// A received message as a [`Frame`], inflated when `rsv1` says it is compressed.
    fn message(&self, opcode: u8, rsv1: bool, payload: Vec<u8>) -> (Frame, bool) {
        if !rsv1 {
            return (to_frame(opcode, payload), false);
        }
        assert!(self.deflate, "RSV1 set on a connection without permessage-deflate");
        assert!(matches!(opcode, 0x1 | 0x2), "RSV1 on a control frame (opcode {opcode:#x})");
        (to_frame(opcode, inflate(&payload)), true)
    }

    /// The next Engine.IO packet. Engine.IO pings (v4) and WebSocket pings are answered on the
    /// way.
    pub(crate) async fn recv(&mut self) -> Incoming {
        self.recv_with_rsv1().await.0
    }

    /// The next Engine.IO packet, as [`recv`](Self::recv), with whether its WebSocket message
    /// came compressed (RSV1 set).
    pub(crate) async fn recv_with_rsv1(&mut self) -> (Incoming, bool) {
        if let Some(code) = self.closed {
            return (Incoming::Closed(code), false);
        }
        loop {
            match self.next_frame().await {
                Some((Frame::Text(t), _)) if self.eio == 4 && t == "2" => self.send_text("3").await,
                Some((Frame::Text(t), rsv1)) => return (Incoming::Text(t), rsv1),
                Some((Frame::Binary(b), rsv1)) => return (Incoming::Binary(b), rsv1),
                Some((Frame::Ping(p), _)) => self.send_frame(0x8a, &p).await,
                Some((Frame::Pong(_), _)) => {}
                Some((Frame::Close(code), _)) => {
                    self.closed = Some(code);
                    return (Incoming::Closed(code), false);
                }
                None => {
                    self.closed = Some(None);
                    return (Incoming::Closed(None), false);
                }
            }
        }
    }

    /// Reads until a text packet starting with `prefix` arrives; returns it. Panics if the
    /// connection closes first.
    pub(crate) async fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.recv().await {
                Incoming::Text(t) if t.starts_with(prefix) => return t,
                Incoming::Text(t) => self.skipped.push(t),
                Incoming::Binary(b) => self.skipped.push(format!("<binary {b:?}>")),
                Incoming::Closed(code) => {
                    panic!("closed ({code:?}) while waiting for {prefix:?}; skipped {:?}", self.skipped)
                }
            }
        }
    }

    /// Joins `nsp` (protocol v5); returns the socket id.
    pub(crate) async fn connect(&mut self, nsp: &str) -> String {
        self.send_text(&connect_packet(nsp)).await;
        let prefix = if nsp == "/" { "40".to_owned() } else { format!("40{nsp},") };
        let answer = self.expect(&prefix).await;
        connect_sid(&answer[prefix.len()..])
    }

    /// Emits `ping` with ack id `n` in `/` and waits for the server's `["pong", n]`.
    pub(crate) async fn roundtrip(&mut self, n: u64) {
        self.roundtrip_in("", n).await;
    }

    /// Emits `ping` with ack id `n` in namespace `nsp_prefix` (`""` for `/`, `/admin,`
    /// otherwise) and waits for the server's `["pong", n]`.
    pub(crate) async fn roundtrip_in(&mut self, nsp_prefix: &str, n: u64) {
        self.send_text(&format!("42{nsp_prefix}{n}[\"ping\",{n}]")).await;
        let answer = self.expect(&format!("43{nsp_prefix}{n}")).await;
        assert_eq!(answer, format!("43{nsp_prefix}{n}[\"pong\",{n}]"));
    }

    /// Reads until the server closes the connection; returns the close code, if a close frame
    /// came. Packets received on the way are kept in [`skipped`](Self::skipped).
    pub(crate) async fn expect_closed(&mut self) -> Option<u16> {
        loop {
            match self.recv().await {
                Incoming::Closed(code) => return code,
                Incoming::Text(t) => self.skipped.push(t),
                Incoming::Binary(b) => self.skipped.push(format!("<binary {b:?}>")),
            }
        }
    }

    /// Closes the TCP connection.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stream.shutdown().await;
    }
}

struct RawFrame {
    fin: bool,
    /// RSV1: with permessage-deflate, the message is compressed (first frame only).
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Inflates a compressed message's payload (RFC 7692 §7.2.2): raw DEFLATE, ended by the
/// `00 00 ff ff` the sender left out.
fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut inflater = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(input.len() * 4 + 1024);
    loop {
        let read = usize::try_from(inflater.total_in()).expect("a length");
        // All read, and room left: the inflater gave everything.
        if read >= input.len() && out.len() < out.capacity() {
            return out;
        }
        if out.len() == out.capacity() {
            out.reserve(out.len());
        }
        let before = (read, out.len());
        inflater
            .decompress_vec(&input[read..], &mut out, flate2::FlushDecompress::Sync)
            .expect("a compressed message is valid raw DEFLATE");
        let now = (usize::try_from(inflater.total_in()).expect("a length"), out.len());
        assert!(
            now != before || out.len() == out.capacity(),
            "the inflater is stuck at {read} of {}",
            input.len()
        );
    }
}

fn to_frame(opcode: u8, payload: Vec<u8>) -> Frame {
    match opcode {
        0x1 => Frame::Text(String::from_utf8(payload).expect("text frames are UTF-8")),
        0x2 => Frame::Binary(payload),
        0x8 => Frame::Close(payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]))),
        0x9 => Frame::Ping(payload),
        0xa => Frame::Pong(payload),
        other => panic!("unexpected opcode {other:#x} from the server"),
    }
}

/// Decodes one server frame (unmasked) from the front of `buf`; returns it and its length.
fn parse_frame(buf: &[u8]) -> Option<(RawFrame, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    assert_eq!(b1 & 0x80, 0, "server frames are not masked");
    let (len, at) = match b1 & 0x7f {
        126 => (u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?.to_vec();
    Some((RawFrame { fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, opcode: b0 & 0x0f, payload }, at + len))
}
