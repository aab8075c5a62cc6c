//! Shared harness of the interop tests: installs the npm clients once, runs the server in-process
//! with a recording echo handler, drives `tests/js/client.js` under a deadline, and speaks raw
//! HTTP and WebSocket for the cases no real client produces.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use engineio_parser::{ByteString, Bytes, CloseReason, Data, Packet, PacketType, ProtocolVersion, Transport};
use engineio_server::{Builder, Config, EngineIo, Handler, Socket};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

/// How long one node run may take, end to end.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long to wait for something the server should do.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

// -------------------------------------------------------------------------------------------
// The npm clients

/// The folder holding `package.json`, the lock file and `client.js`.
pub(crate) fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("js")
}

/// Makes sure `node` runs and the pinned npm clients are installed, installing them with
/// `npm ci` the first time. Panics with the reason when that is impossible.
pub(crate) fn ensure_clients() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(reason) = READY.get_or_init(|| conformance::npm::ensure_installed(&js_dir())) {
        panic!("{reason}");
    }
}

// -------------------------------------------------------------------------------------------
// The server under test

/// What the server's handler saw.
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    Open { sid: String, transport: Transport, protocol: ProtocolVersion },
    Message { sid: String, data: Data, transport: Transport },
    Upgrade { sid: String },
    Close { sid: String, reason: CloseReason },
}

impl Seen {
    pub(crate) fn sid(&self) -> &str {
        match self {
            Seen::Open { sid, .. }
            | Seen::Message { sid, .. }
            | Seen::Upgrade { sid }
            | Seen::Close { sid, .. } => sid,
        }
    }
}

/// An echo handler that reports every event.
pub(crate) struct Recorder {
    tx: mpsc::UnboundedSender<Seen>,
}

impl Handler for Recorder {
    type Connection = Arc<Socket>;
    type Command = ();

    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        let _ = self.tx.send(Seen::Open {
            sid: socket.id().to_string(),
            transport: socket.transport(),
            protocol: socket.protocol(),
        });
        socket
    }

    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = self.tx.send(Seen::Message {
            sid: socket.id().to_string(),
            data: data.clone(),
            transport: socket.transport(),
        });
        let _ = socket.send(Packet { kind: PacketType::Message, data });
    }

    fn on_upgrade(&self, socket: &mut Arc<Socket>) {
        let _ = self.tx.send(Seen::Upgrade { sid: socket.id().to_string() });
    }

    fn on_close(&self, socket: Arc<Socket>, reason: CloseReason) {
        let _ = self.tx.send(Seen::Close { sid: socket.id().to_string(), reason });
    }
}

/// The events the handler reported, kept in order.
pub(crate) struct SeenLog {
    rx: mpsc::UnboundedReceiver<Seen>,
    history: Vec<Seen>,
}

impl SeenLog {
    fn pull(&mut self) {
        while let Ok(seen) = self.rx.try_recv() {
            self.history.push(seen);
        }
    }

    /// Everything seen so far.
    pub(crate) fn all(&mut self) -> &[Seen] {
        self.pull();
        &self.history
    }

    /// Waits (at most [`WAIT`]) until an event matching `pred` has been seen, and returns it.
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
                Ok(None) => panic!("the server stopped reporting while waiting for {what}"),
                Err(_) => panic!("the server did not report {what} within {WAIT:?}; saw {:#?}", self.history),
            }
        }
    }

    /// Waits for the close of session `sid` and returns its reason.
    pub(crate) async fn close_reason(&mut self, sid: &str) -> CloseReason {
        let seen = self
            .wait_for(&format!("the close of {sid}"), |s| matches!(s, Seen::Close { sid: s, .. } if s == sid))
            .await;
        match seen {
            Seen::Close { reason, .. } => reason,
            _ => unreachable!("matched a close"),
        }
    }

    /// The messages session `sid` received, in order, with the transport each came over.
    pub(crate) fn messages(&mut self, sid: &str) -> Vec<(Data, Transport)> {
        self.pull();
        self.history
            .iter()
            .filter_map(|s| match s {
                Seen::Message { sid: s, data, transport } if s == sid => Some((data.clone(), *transport)),
                _ => None,
            })
            .collect()
    }

    /// How often session `sid` was reported upgraded.
    pub(crate) fn upgrades(&mut self, sid: &str) -> usize {
        self.pull();
        self.history.iter().filter(|s| matches!(s, Seen::Upgrade { sid: s } if s == sid)).count()
    }

    /// The sessions opened so far, in order.
    pub(crate) fn opened(&mut self) -> Vec<(String, Transport, ProtocolVersion)> {
        self.pull();
        self.history
            .iter()
            .filter_map(|s| match s {
                Seen::Open { sid, transport, protocol } => Some((sid.clone(), *transport, *protocol)),
                _ => None,
            })
            .collect()
    }
}

/// An echo handler, and the log of what it sees.
pub(crate) fn recorder() -> (Recorder, SeenLog) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Recorder { tx }, SeenLog { rx, history: Vec::new() })
}

/// An Engine.IO server on 127.0.0.1, serving in a task of the test's runtime.
pub(crate) struct TestServer {
    pub(crate) engine: EngineIo<Recorder>,
    pub(crate) addr: SocketAddr,
    pub(crate) seen: SeenLog,
    serve: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub(crate) async fn start(config: Config) -> Self {
        Self::start_with(Builder::new(config)).await
    }

    pub(crate) async fn start_with(builder: Builder) -> Self {
        let (recorder, seen) = recorder();
        let engine = builder.build(recorder);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let serve = tokio::spawn(engine.clone().serve(listener));
        TestServer { engine, addr, seen, serve: Some(serve) }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `client.js` with `clients` against this server.
    pub(crate) fn node(&self, clients: Value) -> NodeRun {
        NodeRun::spawn(&self.url(), clients)
    }

    /// Waits (at most [`WAIT`]) until the server holds `n` sessions.
    pub(crate) async fn wait_clients(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.engine.clients_count() != n {
            assert!(
                Instant::now() < deadline,
                "the server holds {} sessions, expected {n}",
                self.engine.clients_count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most [`WAIT`]) for `serve` to return, and returns its result.
    pub(crate) async fn serve_result(&mut self) -> std::io::Result<()> {
        let serve = self.serve.take().expect("serve() is still running");
        timeout(WAIT, serve).await.expect("serve() returns after close()").expect("serve task")
    }
}

// -------------------------------------------------------------------------------------------
// Node runs

/// A running `node client.js`, killed when dropped.
pub(crate) struct NodeRun {
    child: Child,
    /// Closing it lets node exit once all its clients are done.
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
    deadline: Instant,
    events: Vec<Value>,
}

/// Everything a finished node run printed.
#[derive(Debug)]
pub(crate) struct Transcript {
    pub(crate) events: Vec<Value>,
    pub(crate) stderr: String,
}

impl NodeRun {
    pub(crate) fn spawn(url: &str, clients: Value) -> Self {
        ensure_clients();
        let config = json!({
            "url": url,
            "timeoutMs": (NODE_TIMEOUT - Duration::from_secs(3)).as_millis() as u64,
            "clients": clients,
        });
        let mut child = Command::new("node")
            .arg(js_dir().join("client.js"))
            .arg(config.to_string())
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (is Node.js installed?)");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        NodeRun {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            stderr,
            deadline: Instant::now() + NODE_TIMEOUT,
            events: Vec::new(),
        }
    }

    /// Reads the next line, or `None` at the end of the output. Panics past the deadline.
    async fn next(&mut self) -> Option<Value> {
        match timeout_at(self.deadline, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("node printed a line that is not JSON ({e}): {line}"));
                self.events.push(value.clone());
                Some(value)
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => panic!("reading node's output: {e}"),
            Err(_) => panic!("node did not finish within {NODE_TIMEOUT:?}; printed {:#?}", self.events),
        }
    }

    /// Returns the first line in which client `client` reported `event`, reading on until there
    /// is one.
    pub(crate) async fn wait_for(&mut self, client: &str, event: &str) -> Value {
        if let Some(value) = self.events.iter().find(|v| v["client"] == client && v["event"] == event) {
            return value.clone();
        }
        while let Some(value) = self.next().await {
            if value["client"] == client && value["event"] == event {
                return value;
            }
            if value["event"] == "fatal" || value["event"] == "timeout" {
                panic!("node failed while waiting for {client}:{event}: {:#?}", self.events);
            }
        }
        let stderr = self.stderr_now().await;
        panic!("node ended before {client}:{event}; printed {:#?}\nstderr: {stderr}", self.events)
    }

    async fn stderr_now(&mut self) -> String {
        let _ = self.child.start_kill();
        timeout(Duration::from_secs(2), &mut self.stderr).await.ok().and_then(Result::ok).unwrap_or_default()
    }

    /// Reads until every client is done (node keeps its connections until [`finish`]), and
    /// returns what was printed so far.
    ///
    /// [`finish`]: Self::finish
    pub(crate) async fn done(&mut self) -> Transcript {
        self.wait_for("-", "all-done").await;
        Transcript { events: self.events.clone(), stderr: String::new() }
    }

    /// Lets node exit, reads the rest of its output, and panics unless it succeeded.
    pub(crate) async fn finish(mut self) -> Transcript {
        drop(self.stdin.take());
        while self.next().await.is_some() {}
        let status = timeout_at(self.deadline, self.child.wait()).await;
        let stderr = timeout(Duration::from_secs(2), &mut self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        match status {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => {
                panic!("node exited with {status}; printed {:#?}\nstderr: {stderr}", self.events)
            }
            Ok(Err(e)) => panic!("waiting for node: {e}"),
            Err(_) => panic!("node did not exit within {NODE_TIMEOUT:?}; printed {:#?}", self.events),
        }
        Transcript { events: std::mem::take(&mut self.events), stderr }
    }
}

impl Transcript {
    /// The lines client `client` printed for `event`.
    pub(crate) fn all(&self, client: &str, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|v| v["client"] == client && v["event"] == event).collect()
    }

    /// The first line client `client` printed for `event`, or a panic showing the transcript.
    pub(crate) fn get(&self, client: &str, event: &str) -> &Value {
        self.events
            .iter()
            .find(|v| v["client"] == client && v["event"] == event)
            .unwrap_or_else(|| panic!("client {client} printed no {event}; transcript {self:#?}"))
    }

    /// The events client `client` printed, in order.
    pub(crate) fn sequence(&self, client: &str) -> Vec<&str> {
        self.events.iter().filter(|v| v["client"] == client).filter_map(|v| v["event"].as_str()).collect()
    }
}

// -------------------------------------------------------------------------------------------
// Message contents, the same as client.js builds them

const PATTERN: &str = "Engine.IO interop é€ 0123456789 abcdefghijklmnopqrstuvwxyz ";

/// `len` characters of the text pattern.
pub(crate) fn big_text(len: usize) -> String {
    PATTERN.chars().cycle().take(len).collect()
}

/// `len` bytes of the binary pattern.
pub(crate) fn big_binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31).wrapping_add(7) & 0xff) as u8).collect()
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits")).collect()
}

/// The message `client.js` builds from a message `spec`, as the server should receive it.
pub(crate) fn data_of(spec: &Value) -> Data {
    let len = || spec["len"].as_u64().expect("len") as usize;
    match spec["t"].as_str().expect("message kind") {
        "text" => Data::Text(ByteString::from(spec["v"].as_str().expect("text").to_owned())),
        "buffer" | "arraybuffer" | "uint8array" => {
            Data::Binary(Bytes::from(from_hex(spec["hex"].as_str().expect("hex"))))
        }
        "bigtext" => Data::Text(ByteString::from(big_text(len()))),
        "bigbinary" | "bigarraybuffer" => Data::Binary(Bytes::from(big_binary(len()))),
        other => panic!("unknown message kind {other}"),
    }
}

/// The text of a text message.
pub(crate) fn text(data: &Data) -> &str {
    match data {
        Data::Text(t) => t,
        Data::Binary(b) => panic!("expected text, got {} bytes of binary", b.len()),
    }
}

/// The bytes of a binary message.
pub(crate) fn binary(data: &Data) -> &[u8] {
    match data {
        Data::Binary(b) => b,
        Data::Text(t) => panic!("expected binary, got text {t:?}"),
    }
}

/// Checks that a client's `echoes` line shows every message back once, in order, intact.
pub(crate) fn assert_echoes(transcript: &Transcript, client: &str, count: usize) -> Vec<Value> {
    let items = transcript.get(client, "echoes")["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), count, "{client}: {items:#?}");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["same"], true, "{client}: echo {i} differs from what was sent: {item}");
    }
    items
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
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses the status line and headers of `head` (up to the blank line).
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
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        HttpResponse { status, headers, body: Vec::new() }
    }
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Writes an HTTP/1.1 request (with `Connection: close`).
pub(crate) fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends one request on a new connection and reads the whole response (at most [`WAIT`]).
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&request_bytes(method, target, headers, body)).await.expect("write request");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    // Read until the server closes, or the body announced by Content-Length is complete.
    loop {
        let n = match timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            // The server may reset a connection whose request body it did not read.
            Ok(Err(_)) => 0,
            Err(_) => panic!(
                "no complete response to {method} {target} within {WAIT:?}; got {:?}",
                String::from_utf8_lossy(&raw)
            ),
        };
        raw.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_blank_line(&raw) {
            let mut response = HttpResponse::parse_head(&raw[..end]);
            let body = &raw[end + 4..];
            let length = response.header("content-length").and_then(|v| v.parse::<usize>().ok());
            if let Some(length) = length.filter(|&l| body.len() >= l) {
                response.body = body[..length].to_vec();
                return response;
            }
            if n == 0 {
                response.body = body.to_vec();
                return response;
            }
        } else if n == 0 {
            panic!(
                "connection closed before a response to {method} {target}: {:?}",
                String::from_utf8_lossy(&raw)
            );
        }
    }
}

/// A GET under `/engine.io/` with `query`.
pub(crate) async fn get(addr: SocketAddr, query: &str) -> HttpResponse {
    http(addr, "GET", &format!("/engine.io/?{query}"), &[], b"").await
}

/// A POST under `/engine.io/` with `query` and a text body.
pub(crate) async fn post(addr: SocketAddr, query: &str, body: &[u8]) -> HttpResponse {
    http(addr, "POST", &format!("/engine.io/?{query}"), &[("Content-Type", "text/plain;charset=UTF-8")], body)
        .await
}

/// Opens a polling session by hand; returns its sid.
pub(crate) async fn polling_handshake(addr: SocketAddr) -> String {
    let response = get(addr, "EIO=4&transport=polling").await;
    assert_eq!(response.status, 200, "handshake: {response:?}");
    let body = response.body_text();
    let open: Value = serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("json");
    open["sid"].as_str().expect("sid").to_owned()
}

// -------------------------------------------------------------------------------------------
// Raw WebSocket

/// A client WebSocket spoken by hand.
pub(crate) struct RawWs {
    /// The status line and header fields of the server's `101`.
    pub(crate) head: HttpResponse,
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WsFrame {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// Sends a WebSocket upgrade for `target`. Returns the socket after a `101`, or the refusal.
pub(crate) async fn ws_connect(addr: SocketAddr, target: &str) -> Result<RawWs, HttpResponse> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write upgrade");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = find_blank_line(&buf) {
            break end;
        }
        let n = timeout(WAIT, stream.read(&mut chunk)).await.expect("upgrade answered in time").unwrap_or(0);
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
        return Ok(RawWs { head: response, stream, buf: rest });
    }
    let mut body = rest;
    let _ = timeout(WAIT, stream.read_to_end(&mut body)).await;
    response.body = body;
    Err(response)
}

impl RawWs {
    /// The next frame, or `None` when the server closed the connection (at most [`WAIT`]).
    pub(crate) async fn read(&mut self) -> Option<WsFrame> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 16 * 1024];
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("no WebSocket frame within {WAIT:?}"),
            }
        }
    }

    /// Sends a masked text frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.send(0x1, text.as_bytes()).await;
    }

    /// Sends a masked frame with `opcode`.
    pub(crate) async fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
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
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // The server may already have closed the connection; the caller checks what it sees.
        let _ = self.stream.write_all(&frame).await;
    }
}

/// Decodes one unmasked server frame from the front of `buf`.
fn parse_frame(buf: &[u8]) -> Option<(WsFrame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => (u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    assert_eq!(buf[1] & 0x80, 0, "server frames are not masked");
    let payload = buf.get(at..at + len)?.to_vec();
    at += len;
    let frame = match opcode {
        0x1 => WsFrame::Text(String::from_utf8(payload).expect("text frames are UTF-8")),
        0x2 => WsFrame::Binary(payload),
        0x8 => WsFrame::Close(payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]))),
        0x9 => WsFrame::Ping(payload),
        0xa => WsFrame::Pong(payload),
        other => panic!("unexpected opcode {other:#x}"),
    };
    Some((frame, at))
}

// -------------------------------------------------------------------------------------------
// Checks shared by the client tests

/// The raw transport data client `client` recorded (its `final` line).
pub(crate) fn wire(transcript: &Transcript, client: &str) -> Vec<Value> {
    transcript.get(client, "final")["wire"].as_array().expect("wire entries").clone()
}

/// Whether a wire entry holds a polling packet equal to `packet` (or a frame whose text is it).
pub(crate) fn wire_has_text_packet(entries: &[Value], transport: &str, packet: &str) -> bool {
    entries.iter().filter(|e| e["transport"] == transport && e["frame"] == "text").any(|e| {
        e["head"] == packet || e["packets"].as_array().is_some_and(|ps| ps.iter().any(|p| p == packet))
    })
}

/// Whether a wire entry is a binary frame or payload starting with the bytes `hex_head`.
pub(crate) fn wire_has_binary(entries: &[Value], transport: &str, hex_head: &str) -> bool {
    entries.iter().any(|e| {
        e["transport"] == transport
            && e["frame"] == "binary"
            && e["head"].as_str().is_some_and(|h| h.starts_with(hex_head))
    })
}

/// Checks an `echo` client against the server: every message came back once, in order and
/// intact; the server opened the session on `transport` with `protocol` and received exactly
/// the messages sent. Returns the session id.
pub(crate) fn check_echo(
    server: &mut TestServer,
    transcript: &Transcript,
    client: &str,
    messages: &[Value],
    transport: Transport,
    protocol: ProtocolVersion,
) -> String {
    assert_echoes(transcript, client, messages.len());
    let sid = transcript.get(client, "open")["sid"].as_str().expect("sid").to_owned();
    let opened = server.seen.opened();
    assert!(
        opened.contains(&(sid.clone(), transport, protocol)),
        "{client}: the server did not open {sid} on {transport:?} with {protocol:?}: {opened:?}"
    );
    let received: Vec<Data> = server.seen.messages(&sid).into_iter().map(|(data, _)| data).collect();
    let sent: Vec<Data> = messages.iter().map(data_of).collect();
    assert!(received == sent, "{client}: the server received other messages than were sent");
    sid
}
