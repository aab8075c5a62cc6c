//! A minimal WebSocket client (RFC 6455): opening handshake, masked frames, no extensions.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::{self, Response};
use super::Target;

const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A message received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame (with its code, if any) or the end of the TCP stream.
    Closed(Option<u16>),
}

/// The outcome of an opening handshake.
pub(crate) enum Connect {
    Open(WebSocket),
    Refused(Response),
}

/// An open WebSocket connection.
pub(crate) struct WebSocket {
    stream: TcpStream,
    buf: Vec<u8>,
    rng: u64,
    closed: bool,
}

/// Opens a WebSocket on `target.path?query`.
pub(crate) async fn connect(target: &Target, query: &str) -> Result<Connect, String> {
    connect_with(target, query, &[]).await
}

/// [`connect`], writing `trailing` bytes in the same write as the upgrade request (data a client
/// sends before it has seen the `101`).
pub(crate) async fn connect_with(target: &Target, query: &str, trailing: &[u8]) -> Result<Connect, String> {
    let mut rng = seed();
    let key_bytes: Vec<u8> = (0..16).map(|_| next(&mut rng) as u8).collect();
    let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
    let mut stream = TcpStream::connect(target.authority())
        .await
        .map_err(|e| format!("connect to {}: {e}", target.authority()))?;
    let request = format!(
        "GET {}?{query} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path,
        target.authority()
    );
    let mut request = request.into_bytes();
    request.extend_from_slice(trailing);
    stream.write_all(&request).await.map_err(|e| format!("write upgrade request: {e}"))?;
    let head = http::read_head(&mut stream).await?;
    if head.status != 101 {
        let mut body = head.rest;
        let _ =
            tokio::time::timeout(std::time::Duration::from_millis(500), stream.read_to_end(&mut body)).await;
        return Ok(Connect::Refused(Response { status: head.status, headers: head.headers, body }));
    }
    let expected = {
        let mut sha = Sha1::new();
        sha.update(key.as_bytes());
        sha.update(ACCEPT_GUID.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sha.finalize())
    };
    let accept = head.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-accept"));
    match accept {
        Some((_, v)) if *v == expected => {}
        other => return Err(format!("bad Sec-WebSocket-Accept {:?}", other.map(|(_, v)| v))),
    }
    Ok(Connect::Open(WebSocket { stream, buf: head.rest, rng, closed: false }))
}

impl WebSocket {
    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.send_frame(0x1, text.as_bytes()).await
    }

    /// Sends a binary frame.
    pub(crate) async fn send_binary(&mut self, data: &[u8]) -> Result<(), String> {
        self.send_frame(0x2, data).await
    }

    /// Sends bytes as they are, framing included (for malformed frames).
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).await.map_err(|e| format!("write raw bytes: {e}"))
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        let mask = (next(&mut self.rng) as u32).to_be_bytes();
        let frame = masked_frame(0x80 | opcode, payload, mask);
        self.stream.write_all(&frame).await.map_err(|e| format!("write frame: {e}"))
    }

    /// Receives the next data message, answering WebSocket pings on the way. A close frame, a
    /// reset or the end of the stream all give [`Message::Closed`].
    pub(crate) async fn recv(&mut self) -> Result<Message, String> {
        let mut assembled: Option<(u8, Vec<u8>)> = None;
        loop {
            if self.closed {
                return Ok(Message::Closed(None));
            }
            let Some((fin, opcode, payload)) = self.read_frame().await? else {
                self.closed = true;
                return Ok(Message::Closed(None));
            };
            match opcode {
                0x8 => {
                    self.closed = true;
                    let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    let _ = self.send_frame(0x8, &payload[..payload.len().min(2)]).await;
                    return Ok(Message::Closed(code));
                }
                0x9 => self.send_frame(0xA, &payload).await?,
                0xA => {}
                0x0 => {
                    let Some((_, data)) = assembled.as_mut() else {
                        return Err("continuation frame without a first fragment".into());
                    };
                    data.extend_from_slice(&payload);
                }
                0x1 | 0x2 => {
                    if assembled.is_some() {
                        return Err("new data frame inside a fragmented message".into());
                    }
                    assembled = Some((opcode, payload));
                }
                other => return Err(format!("unknown opcode {other:#x}")),
            }
            if fin && matches!(opcode, 0x0..=0x2) {
                let Some((kind, data)) = assembled.take() else { continue };
                return if kind == 0x1 {
                    String::from_utf8(data).map(Message::Text).map_err(|_| "text frame is not UTF-8".into())
                } else {
                    Ok(Message::Binary(data))
                };
            }
        }
    }

    /// Reads one frame; `None` when the stream ended or was reset.
    async fn read_frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, String> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

type Frame = (bool, u8, Vec<u8>);

fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    if buf[0] & 0x70 != 0 {
        return Err("server frame has RSV bits set (no extension was negotiated)".into());
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut pos) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        126 | 127 => return Ok(None),
        n => (n as u64, 2),
    };
    let len = usize::try_from(len).map_err(|_| "frame too large")?;
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < pos + len {
        return Ok(None);
    }
    let mut payload = buf[pos..pos + len].to_vec();
    if let Some(m) = mask {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= m[i % 4]);
    }
    Ok(Some(((fin, opcode, payload), pos + len)))
}

/// A client frame: `first` is the FIN/RSV/opcode byte, the payload is masked with `mask`.
pub(crate) fn masked_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = vec![first];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn seed() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    let local = &nanos as *const u64 as u64;
    (nanos ^ local.rotate_left(32)) | 1
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
