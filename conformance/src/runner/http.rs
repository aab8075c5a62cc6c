//! A minimal HTTP/1.1 client: one request per TCP connection (`Connection: close`).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Target;

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The parsed head of a response plus the bytes already read past it.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) rest: Vec<u8>,
}

/// Sends `method path?query` with an optional text body and reads the whole response.
pub(crate) async fn request(
    target: &Target,
    method: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<Response, String> {
    request_typed(target, method, query, body, "text/plain;charset=UTF-8").await
}

/// [`request`] with the body's `Content-Type`.
pub(crate) async fn request_typed(
    target: &Target,
    method: &str,
    query: &str,
    body: Option<&[u8]>,
    content_type: &str,
) -> Result<Response, String> {
    let mut stream = TcpStream::connect(target.authority())
        .await
        .map_err(|e| format!("connect to {}: {e}", target.authority()))?;
    let mut head = format!(
        "{method} {}?{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
        target.path,
        target.authority()
    );
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&bytes).await.map_err(|e| format!("write {method} request: {e}"))?;
    let head = read_head(&mut stream).await?;
    let body = read_body(&mut stream, &head).await?;
    Ok(Response { status: head.status, headers: head.headers, body })
}

/// Reads a response head (status line and headers).
pub(crate) async fn read_head(stream: &mut TcpStream) -> Result<Head, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Err("response head larger than 64 KiB".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("read response head: {e}"))?;
        if n == 0 {
            return Err("connection closed before a complete response head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("malformed status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Head { status, headers, rest: buf[end + 4..].to_vec() })
}

async fn read_body(stream: &mut TcpStream, head: &Head) -> Result<Vec<u8>, String> {
    let header =
        |name: &str| head.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let mut buf = head.rest.clone();
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        while buf.len() < len {
            let mut chunk = vec![0u8; (len - buf.len()).min(64 * 1024)];
            let n = stream.read(&mut chunk).await.map_err(|e| format!("read body: {e}"))?;
            if n == 0 {
                return Err(format!("connection closed after {} of {len} body bytes", buf.len()));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.truncate(len);
        return Ok(buf);
    }
    stream.read_to_end(&mut buf).await.map_err(|e| format!("read body: {e}"))?;
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(&buf);
    }
    Ok(buf)
}

fn dechunk(mut input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = input.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&input[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        input = &input[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if input.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
    }
}
