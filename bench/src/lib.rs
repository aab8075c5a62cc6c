//! Load and resource benchmarks that drive servers over loopback. Each tool is a binary under
//! `src/bin/`; this library holds what they share: a small WebSocket client that speaks
//! Engine.IO v4 / Socket.IO v5 text frames or plain WebSocket messages, an HTTP/1.1 keep-alive
//! client for long-polling, and readings of a server process from `/proc`.
//!
//! * `loadgen`: one scenario against one running server, one JSON line of results;
//! * `compare`: every peer and every scenario, each peer a fresh process pinned to one core and
//!   the load generator pinned to the other, repeated and interleaved; writes a Markdown table;
//! * `idle_memory`: memory per idle Engine.IO WebSocket client;
//! * `scale`: as many concurrent Socket.IO clients as one server process holds, spread over
//!   several source addresses and load-generator processes: connect time, memory, a broadcast to
//!   all, idle heartbeats, and what the server gives back when they leave;
//! * `churn`: a soak of clients arriving and leaving over every transport, half of them by TCP
//!   reset at a random point (the load lives in [`churn`], so a test runs it too), then checks
//!   that the server's sessions, descriptors and memory come back;
//! * `peer_socketioxide`, `peer_tungstenite`: the Rust peers the comparison runs;
//! * `attack`: hostile-client probes against a server, with its memory, descriptors and a
//!   healthy client watched (the probes live in [`attack`], so tests run them too).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub mod attack;
pub mod churn;
pub mod instructions;
pub mod peers;

/// The resident set size of process `pid`, in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other("no VmRSS line"))
}

/// How many file descriptors process `pid` has open (the entries of `/proc/PID/fd`).
pub fn open_fds(pid: u32) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// CPU time process `pid` has run, in nanoseconds: the sum over its threads of the first field
/// of `/proc/PID/task/TID/schedstat` (time on a CPU, nanosecond resolution).
pub fn cpu_ns(pid: u32) -> std::io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread may end between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text.split_whitespace().next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Ok(total)
}

/// Waits until something accepts TCP connections on `addr`, for at most `limit`.
pub async fn wait_for_listener(addr: &str, limit: Duration) -> std::io::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A TCP connection to `addr` from `source`, an address of this machine, on a port the kernel
/// picks: each loopback source address (127.0.0.2, 127.0.0.3, ...) has its own range of about
/// 28 000 ephemeral ports.
pub async fn connect_from(addr: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// The HTTP/1.1 request that asks `host` for a WebSocket at `target`.
pub fn upgrade_request(host: &str, target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// `--port N` from the command line (3000 without it).
pub fn port_arg() -> std::io::Result<u16> {
    let mut args = std::env::args().skip(1);
    let mut port = 3000;
    while let Some(arg) = args.next() {
        if arg == "--port" {
            port =
                args.next().and_then(|p| p.parse().ok()).ok_or_else(|| invalid("--port takes a number"))?;
        }
    }
    Ok(port)
}

/// An `InvalidInput` error with `message`.
pub fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_owned())
}

fn protocol(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// What a server speaks on its WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Engine.IO v4 and Socket.IO v5 on `/socket.io/`.
    SocketIo,
    /// Plain WebSocket messages (the floor peers): first byte `b` broadcasts, others echo.
    Raw,
}

/// How the server ended a WebSocket connection, carried by the error [`Ws::recv`] returns
/// then: [`Ended::of`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A close frame, with its status code if it carried one.
    Close(Option<u16>),
    /// The TCP connection ended without a close frame.
    Eof,
}

impl Ended {
    /// How the server ended the connection, if that is what `error` reports.
    pub fn of(error: &std::io::Error) -> Option<Ended> {
        error.get_ref()?.downcast_ref::<Ended>().copied()
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Close(Some(code)) => write!(f, "the server closed the WebSocket ({code})"),
            Ended::Close(None) => f.write_str("the server closed the WebSocket"),
            Ended::Eof => f.write_str("the server closed the connection"),
        }
    }
}

impl std::error::Error for Ended {}

impl From<Ended> for std::io::Error {
    fn from(ended: Ended) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, ended)
    }
}

/// A WebSocket message as the load generator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A text message.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// The WebSocket masking key of every frame the load generator sends (servers unmask whatever
/// the key is, so a constant costs them the same and saves the load generator a random draw).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A WebSocket client connection with buffered reads.
pub struct Ws {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    proto: Proto,
}

impl Ws {
    /// Opens a WebSocket on `addr` at `target` (path and query).
    pub async fn open(addr: &str, target: &str, proto: Proto) -> std::io::Result<Self> {
        Self::open_on(TcpStream::connect(addr).await?, addr, target, proto).await
    }

    /// Opens a WebSocket at `target` over `stream`, a connection to `host` (see
    /// [`connect_from`]).
    pub async fn open_on(
        mut stream: TcpStream,
        host: &str,
        target: &str,
        proto: Proto,
    ) -> std::io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.write_all(upgrade_request(host, target).as_bytes()).await?;
        let mut rbuf = BytesMut::with_capacity(1024);
        let end = loop {
            if let Some(i) = rbuf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut rbuf).await? == 0 {
                return Err(protocol("connection closed during the WebSocket handshake".into()));
            }
        };
        if !rbuf.starts_with(b"HTTP/1.1 101") {
            return Err(protocol(String::from_utf8_lossy(&rbuf[..end]).into_owned()));
        }
        rbuf.advance(end);
        Ok(Ws { stream, rbuf, wbuf: Vec::new(), proto })
    }

    /// Opens a Socket.IO session joined to `/` (Engine.IO open packet, `40`, `40{"sid"}`), or a
    /// plain WebSocket for [`Proto::Raw`].
    pub async fn connect(addr: &str, proto: Proto) -> std::io::Result<Self> {
        Self::connect_on(TcpStream::connect(addr).await?, addr, proto).await
    }

    /// [`connect`](Self::connect) over `stream`, a connection to `host` (see [`connect_from`]).
    pub async fn connect_on(stream: TcpStream, host: &str, proto: Proto) -> std::io::Result<Self> {
        match proto {
            Proto::Raw => Self::open_on(stream, host, "/", proto).await,
            Proto::SocketIo => {
                let mut ws =
                    Self::open_on(stream, host, "/socket.io/?EIO=4&transport=websocket", proto).await?;
                match ws.recv().await? {
                    Msg::Text(t) if t.first() == Some(&b'0') => {}
                    other => return Err(protocol(format!("expected the open packet, got {other:?}"))),
                }
                ws.send_text(b"40").await?;
                match ws.recv().await? {
                    Msg::Text(t) if t.starts_with(b"40{") => Ok(ws),
                    other => Err(protocol(format!("expected the CONNECT answer, got {other:?}"))),
                }
            }
        }
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.queue(0x1, payload);
        self.flush().await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.queue(0x2, payload);
        self.flush().await
    }

    /// Frames a message into the write buffer; [`flush`](Self::flush) sends what is queued.
    pub fn queue(&mut self, opcode: u8, payload: &[u8]) {
        self.wbuf.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => self.wbuf.push(0x80 | n as u8),
            n if n <= 0xffff => {
                self.wbuf.push(0x80 | 126);
                self.wbuf.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.wbuf.push(0x80 | 127);
                self.wbuf.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.wbuf.extend_from_slice(&MASK);
        let start = self.wbuf.len();
        self.wbuf.extend_from_slice(payload);
        for (i, b) in self.wbuf[start..].iter_mut().enumerate() {
            *b ^= MASK[i & 3];
        }
    }

    /// Writes the queued frames.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.write_all(&self.wbuf).await?;
        self.wbuf.clear();
        Ok(())
    }

    /// Sends a close frame (1000) and reads until the server ends the connection, for at most
    /// `limit`; whether it ended in time.
    pub async fn close(mut self, limit: Duration) -> bool {
        self.queue(0x8, &1000u16.to_be_bytes());
        if self.flush().await.is_err() {
            return false;
        }
        tokio::time::timeout(limit, async { while self.recv().await.is_ok() {} }).await.is_ok()
    }

    /// Ends the connection with a TCP reset (`SO_LINGER` 0), as a client that vanishes does.
    pub fn reset(self) {
        let _ = self.stream.set_zero_linger();
    }

    /// Writes `bytes` as they are: hand-made frames, valid or not.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next data message. Engine.IO pings are answered on the way (Socket.IO sessions);
    /// WebSocket pings are answered with pongs.
    pub async fn recv(&mut self) -> std::io::Result<Msg> {
        loop {
            if let Some((opcode, payload)) = self.parse()? {
                match opcode {
                    0x1 if self.proto == Proto::SocketIo && &payload[..] == b"2" => {
                        self.send_text(b"3").await?
                    }
                    0x1 => return Ok(Msg::Text(payload)),
                    0x2 => return Ok(Msg::Binary(payload)),
                    0x8 => {
                        let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                        return Err(Ended::Close(code).into());
                    }
                    0x9 => {
                        self.queue(0xA, &payload);
                        self.flush().await?;
                    }
                    _ => {}
                }
                continue;
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(Ended::Eof.into());
            }
        }
    }

    /// One unmasked, unfragmented frame from the read buffer.
    fn parse(&mut self) -> std::io::Result<Option<(u8, Bytes)>> {
        let buf = &self.rbuf;
        if buf.len() < 2 {
            return Ok(None);
        }
        if buf[0] & 0x80 == 0 || buf[1] & 0x80 != 0 {
            return Err(protocol("a fragmented or masked server frame".into()));
        }
        let (len, header) = match buf[1] & 0x7f {
            126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            126 | 127 => return Ok(None),
            n => (usize::from(n), 2),
        };
        if buf.len() < header + len {
            self.rbuf.reserve(header + len - buf.len());
            return Ok(None);
        }
        let opcode = buf[0] & 0x0f;
        self.rbuf.advance(header);
        Ok(Some((opcode, self.rbuf.split_to(len).freeze())))
    }
}

/// An HTTP/1.1 keep-alive connection for long-polling requests.
pub struct Http {
    stream: TcpStream,
    rbuf: BytesMut,
    host: String,
}

impl Http {
    /// Connects to `addr`.
    pub async fn connect(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Http { stream, rbuf: BytesMut::with_capacity(4096), host: addr.to_owned() })
    }

    /// Sends `method target` (with `body` as `text/plain` when given) and returns the status
    /// and the body of the answer.
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<(u16, Bytes)> {
        self.send(method, target, body).await?;
        self.response().await
    }

    /// Writes a request without reading its answer (a long-poll left pending);
    /// [`response`](Self::response) reads it.
    pub async fn send(&mut self, method: &str, target: &str, body: Option<&[u8]>) -> std::io::Result<()> {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n", self.host);
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        self.stream.write_all(&bytes).await
    }

    /// Reads the answer to the oldest request not yet answered: its status and body.
    pub async fn response(&mut self) -> std::io::Result<(u16, Bytes)> {
        let end = loop {
            if let Some(i) = self.rbuf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(protocol("connection closed before a response".into()));
            }
        };
        let head = String::from_utf8_lossy(&self.rbuf[..end]).into_owned();
        self.rbuf.advance(end);
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let header = |name: &str| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        };
        let body = if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
            while self.rbuf.len() < len {
                if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                    return Err(protocol("connection closed inside a response body".into()));
                }
            }
            self.rbuf.split_to(len).freeze()
        } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            self.read_chunked().await?
        } else {
            return Err(protocol(format!("a response without a length: {head}")));
        };
        Ok((status, body))
    }

    /// Ends the connection with a TCP reset (`SO_LINGER` 0), as a client that vanishes does.
    pub fn reset(self) {
        let _ = self.stream.set_zero_linger();
    }

    async fn read_chunked(&mut self) -> std::io::Result<Bytes> {
        let mut out = BytesMut::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.rbuf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                    return Err(protocol("connection closed inside a chunked body".into()));
                }
            };
            let size_text = String::from_utf8_lossy(&self.rbuf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| protocol(format!("bad chunk size {size_text:?}")))?;
            self.rbuf.advance(line_end + 2);
            while self.rbuf.len() < size + 2 {
                if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                    return Err(protocol("connection closed inside a chunk".into()));
                }
            }
            out.extend_from_slice(&self.rbuf[..size]);
            self.rbuf.advance(size + 2);
            if size == 0 {
                return Ok(out.freeze());
            }
        }
    }
}

/// The Engine.IO handshake request of a long-polling session.
pub const POLLING_HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

/// One long-polling Socket.IO session: a keep-alive connection for GETs and one for POSTs.
pub struct Polling {
    get: Http,
    post: Http,
    sid: String,
    target: String,
}

impl Polling {
    /// Opens a session joined to `/` (handshake, `40`, `40{"sid"}`).
    pub async fn open(addr: &str) -> std::io::Result<Self> {
        let mut session = Self::handshake(addr).await?;
        session.send(b"40").await?;
        session.until(b"40{").await?;
        Ok(session)
    }

    /// Opens an Engine.IO session (the handshake GET), not yet joined to any namespace.
    pub async fn handshake(addr: &str) -> std::io::Result<Self> {
        let mut get = Http::connect(addr).await?;
        let post = Http::connect(addr).await?;
        let (status, body) = get.request("GET", POLLING_HANDSHAKE, None).await?;
        let sid = std::str::from_utf8(&body)
            .ok()
            .filter(|_| status == 200)
            .and_then(|b| b.strip_prefix('0'))
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .and_then(|v| v["sid"].as_str().map(str::to_owned))
            .ok_or_else(|| invalid(&format!("bad polling handshake: {status} {body:?}")))?;
        let target = format!("{POLLING_HANDSHAKE}&sid={sid}");
        Ok(Polling { get, post, sid, target })
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// POSTs `body` (one packet, or several separated by `\x1e`).
    pub async fn send(&mut self, body: &[u8]) -> std::io::Result<()> {
        match self.post.request("POST", &self.target, Some(body)).await? {
            (200, _) => Ok(()),
            (status, body) => Err(invalid(&format!("POST: {status} {body:?}"))),
        }
    }

    /// Sends a long-polling GET and leaves it pending; [`poll_answer`](Self::poll_answer)
    /// reads its answer.
    pub async fn poll(&mut self) -> std::io::Result<()> {
        self.get.send("GET", &self.target, None).await
    }

    /// The packets that answer the pending GET; pings among them are answered.
    pub async fn poll_answer(&mut self) -> std::io::Result<Vec<Bytes>> {
        let (status, body) = self.get.response().await?;
        if status != 200 {
            return Err(invalid(&format!("GET: {status} {body:?}")));
        }
        let packets: Vec<Bytes> = body.split(|&b| b == 0x1e).map(|p| body.slice_ref(p)).collect();
        if packets.iter().any(|p| &p[..] == b"2") {
            self.send(b"3").await?;
        }
        Ok(packets)
    }

    /// Polls until a packet starting with `prefix` arrives, answering pings.
    pub async fn until(&mut self, prefix: &[u8]) -> std::io::Result<()> {
        loop {
            self.poll().await?;
            if self.poll_answer().await?.iter().any(|p| p.starts_with(prefix)) {
                return Ok(());
            }
        }
    }

    /// Ends both connections with a TCP reset, as a client that vanishes does.
    pub fn reset(self) {
        self.get.reset();
        self.post.reset();
    }
}

/// Latency samples in microseconds, summarised as percentiles.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u64>);

impl Samples {
    /// Records one sample.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }

    /// Adds another set of samples.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (0–100), in microseconds; 0 without samples.
    pub fn percentile(&mut self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let mut s = Samples::default();
        for us in [5u64, 1, 4, 2, 3] {
            s.push(Duration::from_micros(us));
        }
        assert_eq!(s.percentile(0.0), 1);
        assert_eq!(s.percentile(50.0), 3);
        assert_eq!(s.percentile(100.0), 5);
        assert_eq!(Samples::default().percentile(50.0), 0);
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let spin: u64 = (0..2_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(cpu_ns(pid).expect("schedstat") > 0);
        assert!(rss_bytes(pid).expect("status") > 0);
    }
}
