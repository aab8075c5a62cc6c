//! What the probes say on the wire: raw HTTP connections that write what they please and watch
//! for an answer, polling sessions, Socket.IO round trips, and how a connection ended.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::{Ended, Msg, Polling, Ws, POLLING_HANDSHAKE as POLLING};

/// The Engine.IO handshake over WebSocket.
pub(super) const WEBSOCKET: &str = "/socket.io/?EIO=4&transport=websocket";
/// How long one expected answer (a connect, a reply, an HTTP response) may take.
pub(super) const STEP: Duration = Duration::from_secs(5);

/// `future`, or a `TimedOut` error after `limit`.
pub(super) async fn within<T>(
    limit: Duration,
    future: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time")))
}

/// A Socket.IO session over WebSocket joined to `/`.
pub(super) async fn join(addr: &str) -> std::io::Result<Ws> {
    within(STEP, Ws::connect(addr, crate::Proto::SocketIo)).await
}

/// The id of a new long-polling session (not joined to any namespace).
pub(super) async fn new_sid(addr: &str) -> std::io::Result<String> {
    Ok(within(STEP, Polling::handshake(addr)).await?.sid().to_owned())
}

/// Sends `42<id>["echo","canary"]` and waits for its acknowledgement, skipping other messages.
pub(super) async fn echo(ws: &mut Ws, id: u64) -> std::io::Result<()> {
    ws.send_text(format!(r#"42{id}["echo","canary"]"#).as_bytes()).await?;
    let expected = format!("43{id}[");
    within(STEP, async {
        loop {
            if let Msg::Text(t) = ws.recv().await? {
                if t.starts_with(expected.as_bytes()) {
                    return Ok(());
                }
            }
        }
    })
    .await
}

/// What happened to a connection whose end a probe waited for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum End {
    /// A WebSocket close frame, with its code.
    Close(Option<u16>),
    /// The TCP connection ended without a close frame.
    Eof,
    /// The connection was reset, or another I/O error.
    Reset,
    /// Still open when the wait ended.
    Open,
}

impl End {
    /// The end an error of [`Ws::recv`] or a write reports.
    pub(super) fn of(error: &std::io::Error) -> End {
        match Ended::of(error) {
            Some(Ended::Close(code)) => End::Close(code),
            Some(Ended::Eof) => End::Eof,
            None if error.kind() == std::io::ErrorKind::TimedOut => End::Open,
            None => End::Reset,
        }
    }

    /// Whether the server ended the connection.
    pub(super) fn closed(&self) -> bool {
        *self != End::Open
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Close(Some(code)) => write!(f, "close {code}"),
            End::Close(None) => f.write_str("close frame without code"),
            End::Eof => f.write_str("closed without close frame"),
            End::Reset => f.write_str("reset"),
            End::Open => f.write_str("still open"),
        }
    }
}

/// Reads (and drops) messages until reading `ws` fails: the error.
pub(super) async fn failure(ws: &mut Ws) -> std::io::Error {
    loop {
        if let Err(e) = ws.recv().await {
            return e;
        }
    }
}

/// Reads (and drops) messages until the server ends `ws`, for at most `limit`.
pub(super) async fn end_of(ws: &mut Ws, limit: Duration) -> End {
    match tokio::time::timeout(limit, failure(ws)).await {
        Ok(e) => End::of(&e),
        Err(_) => End::Open,
    }
}

/// After a probe's packet: `None` while `ws` still answers an `echo`; otherwise how it ended
/// ([`End::Open`]: open, but silent).
pub(super) async fn alive_or_end(ws: &mut Ws) -> Option<End> {
    match echo(ws, 1).await {
        Ok(()) => None,
        Err(e) => Some(End::of(&e)),
    }
}

/// [`alive_or_end`] in words.
pub(super) fn describe(state: &Option<End>) -> String {
    match state {
        None => "alive (answers echo)".into(),
        Some(End::Open) => "open but silent (no echo answer)".into(),
        Some(end) => format!("closed ({end})"),
    }
}

/// What a raw HTTP connection got back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Answer {
    /// A response with this status.
    Status(u16),
    /// The server closed the connection without a response.
    Closed,
    /// The connection was reset.
    Reset,
    /// Nothing before the deadline.
    Silent,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Status(status) => write!(f, "{status}"),
            Answer::Closed => f.write_str("closed without response"),
            Answer::Reset => f.write_str("reset"),
            Answer::Silent => f.write_str("still open, no answer"),
        }
    }
}

/// The reading side of a raw HTTP connection.
pub(super) struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
}

impl Reader {
    /// Waits until `deadline` for a response head or the end of the connection. Cancel-safe:
    /// what was read stays in the buffer.
    pub(super) async fn answer(&mut self, deadline: Instant) -> Answer {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let _ = self.buf.split_to(end + 4);
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                return Answer::Status(status);
            }
            match tokio::time::timeout_at(deadline, self.half.read_buf(&mut self.buf)).await {
                Err(_) => return Answer::Silent,
                Ok(Ok(0)) => return Answer::Closed,
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Answer::Reset,
            }
        }
    }

    /// What the server sends next, before `deadline`: the bytes (none when the connection
    /// ended), or `None` when nothing came.
    pub(super) async fn next_bytes(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        // A read error counts as the end of the connection, as a read of nothing does.
        if self.buf.is_empty()
            && tokio::time::timeout_at(deadline, self.half.read_buf(&mut self.buf)).await.is_err()
        {
            return None;
        }
        Some(self.buf.split().to_vec())
    }

    /// Whether the server ends the connection within `limit` (what it sends is dropped).
    pub(super) async fn closes_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            self.buf.clear();
            match tokio::time::timeout_at(deadline, self.half.read_buf(&mut self.buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// A raw HTTP connection, its halves apart so that a probe can write while it watches for the
/// answer.
pub(super) struct Raw {
    /// Where answers arrive.
    pub(super) reader: Reader,
    /// Where the probe writes, a byte or a megabyte at a time.
    pub(super) writer: OwnedWriteHalf,
}

impl Raw {
    /// Connects to `addr` with Nagle's algorithm off, so that each write leaves as its own
    /// segment.
    pub(super) async fn connect(addr: &str) -> std::io::Result<Raw> {
        let stream = within(STEP, TcpStream::connect(addr)).await?;
        stream.set_nodelay(true)?;
        let (half, writer) = stream.into_split();
        Ok(Raw { reader: Reader { half, buf: BytesMut::with_capacity(1024) }, writer })
    }

    /// Connects and writes `bytes`.
    pub(super) async fn send(addr: &str, bytes: &[u8]) -> std::io::Result<Raw> {
        let mut raw = Raw::connect(addr).await?;
        raw.writer.write_all(bytes).await?;
        Ok(raw)
    }
}

/// The head of a long-polling POST to session `sid` announcing `length` body bytes (or a
/// chunked body without it).
pub(super) fn post_head(addr: &str, sid: &str, length: Option<u64>) -> String {
    let framing = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    format!(
        "POST {POLLING}&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\n{framing}\r\n\r\n"
    )
}

/// A random session id of 20 URL-safe base64 characters, as the servers cut them.
pub(super) fn random_sid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let state = std::collections::hash_map::RandomState::new();
    (0..20u64)
        .map(|i| {
            let mut hasher = state.build_hasher();
            hasher.write_u64(i);
            char::from(ALPHABET[(hasher.finish() % 64) as usize])
        })
        .collect()
}

/// Outcomes of many connections grouped by label, each with the time it took.
#[derive(Debug, Default)]
pub(super) struct Tally(BTreeMap<String, Vec<Duration>>);

impl Tally {
    /// Records one connection's outcome.
    pub(super) fn add(&mut self, label: impl ToString, after: Duration) {
        self.0.entry(label.to_string()).or_default().push(after);
    }

    /// How many connections had outcome `label`.
    pub(super) fn count(&self, label: &str) -> usize {
        self.0.get(label).map_or(0, Vec::len)
    }

    /// How many connections had an outcome starting with `prefix`.
    pub(super) fn count_prefix(&self, prefix: &str) -> usize {
        self.0.iter().filter(|(label, _)| label.starts_with(prefix)).map(|(_, times)| times.len()).sum()
    }

    /// Each outcome with its count and the median (min–max) time: `408 ×200 at 30.0 s (29.9–30.1)`.
    pub(super) fn render(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(label, times)| {
                let mut t: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
                t.sort_by(f64::total_cmp);
                let (min, median, max) = (t[0], t[t.len() / 2], t[t.len() - 1]);
                if max - min < 0.05 {
                    format!("{label} ×{} at {}", t.len(), seconds(median))
                } else {
                    format!("{label} ×{} at {} ({}–{})", t.len(), seconds(median), seconds(min), seconds(max))
                }
            })
            .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Seconds with a precision that suits them: `0.004 s`, `1.2 s`, `30 s`.
pub(super) fn seconds(s: f64) -> String {
    match s {
        s if s < 0.1 => format!("{s:.3} s"),
        s if s < 10.0 => format!("{s:.1} s"),
        s => format!("{s:.0} s"),
    }
}

/// Bytes as MiB with one decimal.
pub(super) fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1_048_576.0)
}
