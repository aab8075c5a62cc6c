//! Request validation: what the reference server decides about an HTTP request before (or
//! instead of) handing it to a session, and the Engine.IO error answers (codes 0–5).

use crate::ProtocolVersion;

/// The transports a session can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl Transport {
    /// The name used in the `transport` query parameter.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    /// The transport a `transport` query value names. Only the two exact names are known
    /// (`__proto__`, `constructor` and `webtransport` over HTTP are unknown transports).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// The transports a server accepts, and whether polling sessions may upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling is enabled.
    pub polling: bool,
    /// WebSocket is enabled.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports { polling: true, websocket: true }
    }
}

impl Transports {
    /// Whether `transport` is enabled.
    pub fn contains(self, transport: Transport) -> bool {
        match transport {
            Transport::Polling => self.polling,
            Transport::WebSocket => self.websocket,
        }
    }
}

/// The HTTP method of a request, as far as Engine.IO cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: handshakes, polls and WebSocket upgrades.
    Get,
    /// `POST`: packets from the client over polling.
    Post,
    /// `OPTIONS`: a CORS preflight (answered by the server's CORS layer).
    Options,
    /// Anything else.
    Other,
}

impl Method {
    /// The method named `name` (case-sensitive, as HTTP methods are).
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The Engine.IO query parameters of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `EIO`: the protocol revision.
    pub eio: Option<String>,
    /// `transport`.
    pub transport: Option<String>,
    /// `sid`: the session of a poll, a POST or an upgrade.
    pub sid: Option<String>,
    /// `b64`: the client cannot receive binary (any value counts, as in the reference).
    pub b64: bool,
}

impl Query {
    /// Reads the parameters from a raw query string (without the `?`), percent-decoding values;
    /// the last occurrence of a parameter wins, as with the reference's `URLSearchParams`.
    pub fn parse(raw: &str) -> Self {
        let mut q = Query::default();
        for pair in raw.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" => q.eio = Some(percent_decode(value)),
                "transport" => q.transport = Some(percent_decode(value)),
                "sid" => q.sid = Some(percent_decode(value)),
                "b64" => q.b64 = true,
                _ => {}
            }
        }
        q
    }
}

/// A request's headers in one compact buffer of `name:value` lines, as a session keeps the
/// headers of the request that opened it for its whole life (one allocation, no map).
///
/// ```
/// use engineio_parser::endpoint::HeaderList;
///
/// let list = HeaderList::new([("host", &b"example.com"[..]), ("x-a", b"1"), ("x-a", b"2")]);
/// assert_eq!(list.get("X-A"), Some(&b"1"[..]));
/// assert_eq!(list.pairs().count(), 3);
/// assert_eq!(list.get("origin"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(bytes::Bytes);

impl HeaderList {
    /// The list of `headers`, in order (a name holds no `:` and a value no line feed, as HTTP
    /// requires; a pair that does is left out).
    pub fn new<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        Self::with_len(0, headers)
    }

    /// [`new`](Self::new), with room for `len` bytes made at once (the sum of the names' and
    /// values' lengths plus two per header gives the exact size).
    pub fn with_len<'a>(len: usize, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut blob = Vec::with_capacity(len);
        for (name, value) in headers {
            if name.contains(':') || value.contains(&b'\n') {
                continue;
            }
            blob.extend_from_slice(name.as_bytes());
            blob.push(b':');
            blob.extend_from_slice(value);
            blob.push(b'\n');
        }
        // Kept for the session's life: no spare capacity (nothing to do when `len` was exact).
        blob.shrink_to_fit();
        HeaderList(bytes::Bytes::from(blob))
    }

    /// The headers, in order, as (name, raw value) pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.0.split(|&b| b == b'\n').filter(|line| !line.is_empty()).filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((std::str::from_utf8(&line[..colon]).ok()?, &line[colon + 1..]))
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

/// `a=1&b=x%20y` as decoded pairs, in order (`+` is a space, as in Node's `querystring`).
///
/// ```
/// use engineio_parser::endpoint::parse_query;
///
/// assert_eq!(parse_query("a=1&b=x%20y+z&c"), [("a", "1"), ("b", "x y z"), ("c", "")].map(|(k, v)| (k.to_owned(), v.to_owned())));
/// ```
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (form encoding) in a query value; invalid escapes are kept
/// as they are and invalid UTF-8 becomes U+FFFD, as `URLSearchParams` does.
pub fn percent_decode(value: &str) -> String {
    if !value.bytes().any(|b| b == b'%' || b == b'+') {
        return value.to_owned();
    }
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The Engine.IO error codes, answered as `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: the `transport` is missing, unknown or disabled.
    UnknownTransport = 0,
    /// 1: the `sid` names no live session.
    UnknownSid = 1,
    /// 2: a handshake with a method other than `GET`.
    BadHandshakeMethod = 2,
    /// 3: any other malformed request (see [`ErrorContext`]).
    BadRequest = 3,
    /// 4: the application's `allow_request` hook refused the request (HTTP 403).
    Forbidden = 4,
    /// 5: `EIO` is not 4 and v3 clients are not allowed.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The reference's message for this code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status answered for this code over polling: 403 for [`ErrorCode::Forbidden`],
    /// 400 otherwise. (WebSocket upgrades are always refused with 400.)
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }
}

/// Why a request was a bad request (code 3), as the reference's error context names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorContext {
    /// The session uses another transport and the request is not an upgrade.
    TransportMismatch,
    /// The request's `EIO` differs from the session's.
    ProtocolMismatch,
    /// `transport=websocket` without a WebSocket upgrade.
    TransportHandshakeError,
    /// The `Origin` header holds characters not allowed in a header.
    InvalidOrigin,
    /// An application middleware failed.
    MiddlewareFailure,
    /// The session id generator failed.
    IdGenerationError,
}

impl ErrorContext {
    /// The reference's name for this context.
    pub fn name(self) -> &'static str {
        match self {
            ErrorContext::TransportMismatch => "TRANSPORT_MISMATCH",
            ErrorContext::ProtocolMismatch => "PROTOCOL_MISMATCH",
            ErrorContext::TransportHandshakeError => "TRANSPORT_HANDSHAKE_ERROR",
            ErrorContext::InvalidOrigin => "INVALID_ORIGIN",
            ErrorContext::MiddlewareFailure => "MIDDLEWARE_FAILURE",
            ErrorContext::IdGenerationError => "ID_GENERATION_ERROR",
        }
    }
}

/// A refused request: the Engine.IO error code, an optional context and, for
/// [`ErrorCode::Forbidden`], the application's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The error code.
    pub code: ErrorCode,
    /// What exactly was wrong, for code 3.
    pub context: Option<ErrorContext>,
    /// A message that replaces the code's own (the `allow_request` hook's reason).
    pub message: Option<String>,
}

impl RequestError {
    /// An error with just a code.
    pub fn new(code: ErrorCode) -> Self {
        RequestError { code, context: None, message: None }
    }

    /// A bad request (code 3) with its context.
    pub fn bad_request(context: ErrorContext) -> Self {
        RequestError { code: ErrorCode::BadRequest, context: Some(context), message: None }
    }

    /// A refusal by the application (code 4, HTTP 403) with its reason.
    pub fn forbidden(message: Option<String>) -> Self {
        RequestError { code: ErrorCode::Forbidden, context: None, message }
    }

    /// The HTTP status for a polling request.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(self.code.message())
    }

    /// The close code for a request refused on a WebSocket the application accepted already (it
    /// answered `101` itself, so no HTTP answer is possible): 1008, policy violation.
    pub fn close_code(&self) -> u16 {
        crate::ws::close_code::POLICY_VIOLATION
    }

    /// The JSON body of a polling error response: `{"code":N,"message":"..."}`.
    pub fn json_body(&self) -> String {
        let mut body = format!("{{\"code\":{},\"message\":", self.code as u8);
        push_json_string(&mut body, self.message());
        body.push('}');
        body
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message(), self.code as u8)?;
        if let Some(context) = self.context {
            write!(f, ": {}", context.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for RequestError {}

pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Session ids (base64url) never need an escape: copied whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What the endpoint needs to know of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The HTTP method.
    pub method: Method,
    /// The Engine.IO query parameters.
    pub query: &'a Query,
    /// Whether the request asks for a WebSocket upgrade (`Upgrade: websocket`).
    pub websocket_upgrade: bool,
    /// The raw `Origin` header, if any.
    pub origin: Option<&'a [u8]>,
}

/// Where a valid request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A new session. The server still applies its `allow_request` hook, generates the id and
    /// starts a [`Session`](crate::Session).
    Handshake {
        /// The transport the session starts on.
        transport: Transport,
        /// The protocol revision.
        version: ProtocolVersion,
        /// The client asked for binary data as base64 text (`b64`).
        base64: bool,
    },
    /// A request for an existing session, to be checked by it with
    /// [`Session::check_request`](crate::Session::check_request).
    Session {
        /// The session id from the query.
        sid: String,
        /// The transport of this request.
        transport: Transport,
        /// The protocol revision of this request.
        version: ProtocolVersion,
    },
}

/// The endpoint's settings that validation depends on. By default both transports are enabled
/// and v3 clients are refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The enabled transports.
    pub transports: Transports,
    /// Whether Engine.IO v3 clients (Socket.IO 2) are accepted.
    pub allow_eio3: bool,
}

/// Validates a request as the reference server does before it reaches a session: origin, known
/// and enabled transport, then for a handshake the method, the upgrade and the protocol revision.
/// A request with a `sid` is routed to its session without those handshake checks.
pub fn route(config: &EndpointConfig, req: &RequestInfo<'_>) -> Result<Route, RequestError> {
    if req.origin.is_some_and(|o| o.iter().any(|&c| !is_header_char(c))) {
        return Err(RequestError::bad_request(ErrorContext::InvalidOrigin));
    }
    let transport = req
        .query
        .transport
        .as_deref()
        .and_then(Transport::from_name)
        .filter(|&t| config.transports.contains(t))
        .ok_or(RequestError::new(ErrorCode::UnknownTransport))?;
    let version = ProtocolVersion::from_query(req.query.eio.as_deref());
    if let Some(sid) = &req.query.sid {
        return Ok(Route::Session { sid: sid.clone(), transport, version });
    }
    if req.method != Method::Get {
        return Err(RequestError::new(ErrorCode::BadHandshakeMethod));
    }
    if transport == Transport::WebSocket && !req.websocket_upgrade {
        return Err(RequestError::bad_request(ErrorContext::TransportHandshakeError));
    }
    if version == ProtocolVersion::V3 && !config.allow_eio3 {
        return Err(RequestError::new(ErrorCode::UnsupportedProtocolVersion));
    }
    Ok(Route::Handshake { transport, version, base64: req.query.b64 })
}

/// The bytes of randomness in a session id.
pub const ID_BYTES: usize = 15;

/// A session id from [`ID_BYTES`] bytes of randomness (a CSPRNG's, drawn by the server): 20
/// characters of base64url, without padding, like the reference's ids.
///
/// ```
/// use engineio_parser::format_id;
/// assert_eq!(format_id(&[0xfb; 15]), "-_v7-_v7-_v7-_v7-_v7");
/// ```
pub fn format_id(bytes: &[u8; ID_BYTES]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Ids one refill of an [`IdPool`] serves.
pub const ID_POOL: usize = 16;

/// Session ids cut from a pool of random bytes that a caller-supplied source (a CSPRNG: this
/// crate draws no randomness itself) refills [`ID_POOL`] ids at a time, so that a handshake
/// rarely costs the source a call. Every byte is handed out once, then wiped from the pool.
///
/// ```
/// use engineio_parser::endpoint::IdPool;
///
/// let mut pool = IdPool::new();
/// let mut refills = 0;
/// let mut fill = |bytes: &mut [u8]| {
///     refills += 1;
///     bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8 ^ refills);
///     true
/// };
/// let a = pool.next_id(&mut fill).expect("random bytes");
/// let b = pool.next_id(&mut fill).expect("random bytes");
/// assert_ne!(a, b);
/// assert_eq!(a.len(), 20);
/// assert_eq!(pool.next_id(|_| false).is_some(), true, "still in the pool");
/// ```
#[derive(Debug, Clone)]
pub struct IdPool {
    bytes: [u8; ID_BYTES * ID_POOL],
    /// Bytes handed out already.
    used: usize,
}

impl Default for IdPool {
    fn default() -> Self {
        IdPool::new()
    }
}

impl IdPool {
    /// An empty pool: the first id refills it.
    pub const fn new() -> Self {
        IdPool { bytes: [0; ID_BYTES * ID_POOL], used: ID_BYTES * ID_POOL }
    }

    /// The next id; `fill` refills the pool when it is used up, and answers false when it has
    /// no randomness to give (then `None`: never a guessable id).
    pub fn next_id(&mut self, fill: impl FnOnce(&mut [u8]) -> bool) -> Option<String> {
        if self.used + ID_BYTES > self.bytes.len() {
            if !fill(&mut self.bytes) {
                return None;
            }
            self.used = 0;
        }
        let mut id = [0u8; ID_BYTES];
        let range = self.used..self.used + ID_BYTES;
        id.copy_from_slice(&self.bytes[range.clone()]);
        self.bytes[range].fill(0);
        self.used += ID_BYTES;
        Some(format_id(&id))
    }
}

/// The header fields the reference adds to every polling response: `Cache-Control: no-store`,
/// and `X-XSS-Protection: 0` for Internet Explorer (a `User-Agent` with `;MSIE` or `Trident/`).
///
/// ```
/// use engineio_parser::endpoint::polling_headers;
/// let ie = b"Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko";
/// assert_eq!(polling_headers(Some(ie)).count(), 2);
/// assert_eq!(polling_headers(None).collect::<Vec<_>>(), [("Cache-Control", "no-store")]);
/// ```
pub fn polling_headers(user_agent: Option<&[u8]>) -> impl Iterator<Item = (&'static str, &'static str)> {
    let old_ie = user_agent.is_some_and(|ua| contains(ua, b";MSIE") || contains(ua, b"Trident/"));
    [("Cache-Control", "no-store")].into_iter().chain(old_ie.then_some(("X-XSS-Protection", "0")))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Whether `c` may appear in an HTTP header value (tab, visible ASCII and obs-text).
pub(crate) fn is_header_char(c: u8) -> bool {
    c == b'\t' || (0x20..0x7f).contains(&c) || c >= 0x80
}

#[cfg(test)]
mod id_pool_tests {
    use super::*;

    #[test]
    fn a_pool_serves_its_ids_once_then_asks_for_more_and_never_makes_one_up() {
        let mut pool = IdPool::new();
        let mut refills = 0u8;
        let mut ids = std::collections::HashSet::new();
        for _ in 0..ID_POOL * 2 {
            let id = pool.next_id(|bytes| {
                refills += 1;
                bytes.iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8).wrapping_mul(7) ^ refills);
                true
            });
            assert!(ids.insert(id.expect("random bytes")));
        }
        assert_eq!(refills, 2);
        assert!(pool.bytes.iter().all(|&b| b == 0), "handed-out bytes are wiped");
        assert_eq!(pool.next_id(|_| false), None);
    }
}
