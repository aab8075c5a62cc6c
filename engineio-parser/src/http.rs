//! The HTTP rules of the reference server around the Engine.IO endpoint: which paths it serves,
//! CORS (the `cors` option, answered as the `cors` npm middleware does), the session cookie (the
//! `cookie` option), gzip/deflate compression of polling responses (`httpCompression`), and the
//! status, header fields and body of every answer the server writes itself (`404` for another
//! path, `408` for a body that stops arriving, the refusals of the [endpoint](crate::endpoint)).
//!
//! Answers are [`HttpResponse`]s: a status, [`Headers`] as name/value pairs and a body, which a
//! driver converts to its HTTP library's response. Header values are borrowed from the request
//! where the answer repeats one of them ([`Value::Request`]: the allowed `Origin`, the requested
//! headers of a preflight), so a driver passes the values as its HTTP library holds them (`V`,
//! anything that is `AsRef<[u8]>`) and gets the same values back to reuse.
//!
//! # What it does not do
//!
//! No I/O and no HTTP crate: header names and values are `&str` and `&[u8]`. The driver reads
//! the request's headers, runs the application's header hooks, and applies the fields in order:
//! a field [`is_appended`] next to the response's fields of its name (`Vary`), any other field
//! replaces them.
//!
//! ```
//! use engineio_parser::http::{cors_headers, Cors, CorsOrigin, Value};
//!
//! let cors = Cors { origin: CorsOrigin::List(vec!["https://example.com".into()]), ..Cors::default() };
//! let headers = cors_headers::<str>(Some(&cors), Some("https://example.com"));
//! assert_eq!(
//!     headers.as_slice(),
//!     [
//!         ("Access-Control-Allow-Origin", Value::Request("https://example.com")),
//!         ("Vary", Value::Static("Origin")),
//!     ]
//! );
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::endpoint::{is_header_char, polling_headers, Method, RequestError};
use crate::options::Checker;
use crate::session::{Response, ResponseKind};

/// CORS settings, answered like the `cors` middleware the reference uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Which origins may connect.
    pub origin: CorsOrigin,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Methods allowed in preflights (`GET,HEAD,PUT,PATCH,POST,DELETE`).
    pub methods: Vec<String>,
    /// Headers allowed in preflights; empty reflects the request's
    /// `Access-Control-Request-Headers`.
    pub allowed_headers: Vec<String>,
    /// `Access-Control-Max-Age` of preflights, if any.
    pub max_age: Option<Duration>,
    /// Response headers a page may read (`Access-Control-Expose-Headers`, on every answer);
    /// none by default.
    pub exposed_headers: Vec<String>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            origin: CorsOrigin::Any,
            credentials: false,
            methods: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"].map(str::to_owned).to_vec(),
            allowed_headers: Vec::new(),
            max_age: None,
            exposed_headers: Vec::new(),
        }
    }
}

/// Which origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `*` (or, with credentials, the request's own origin).
    Any,
    /// Exactly these origins (`https://example.com`), compared byte for byte.
    List(Vec<String>),
    /// The origins that match one of these patterns: exact origins, or every subdomain of a
    /// domain (`https://*.example.com`), see [`OriginPattern`].
    Patterns(Vec<OriginPattern>),
    /// The origins for which a function of the origin returns true (the `cors` middleware's
    /// `origin` function), see [`OriginPredicate`].
    Predicate(OriginPredicate),
}

impl CorsOrigin {
    /// Whether a request with this `Origin` value is allowed. A predicate is only asked about
    /// an origin that is UTF-8 text.
    ///
    /// ```
    /// use engineio_parser::http::{CorsOrigin, OriginPattern, OriginPredicate};
    /// let pattern = OriginPattern::new("https://*.example.com").expect("a pattern");
    /// assert!(CorsOrigin::Patterns(vec![pattern]).allows(b"https://app.example.com"));
    /// let local = OriginPredicate::new(|origin| origin.starts_with("http://localhost:"));
    /// assert!(CorsOrigin::Predicate(local).allows(b"http://localhost:8080"));
    /// ```
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            CorsOrigin::Any => true,
            CorsOrigin::List(list) => list.iter().any(|o| o.as_bytes() == origin),
            CorsOrigin::Patterns(patterns) => patterns.iter().any(|p| p.matches(origin)),
            CorsOrigin::Predicate(predicate) => predicate.allows(origin),
        }
    }
}

/// An allowed origin, or all the subdomains of one: `https://example.com` allows that origin
/// only; `https://*.example.com` allows `https://a.example.com` and `https://a.b.example.com`
/// (one or more DNS labels of letters, digits and `-` in place of the `*`), but neither
/// `https://example.com`, `http://a.example.com`, `https://a.example.com:8443` nor
/// `https://a.example.com.evil.net`. Compared without regard to ASCII case.
///
/// A suffix wildcard rather than regular expressions: an unescaped `.` or a missing anchor in
/// a regular expression is a classic way to allow an attacker's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    /// Everything before the `*` (`https://`), or the whole origin.
    head: String,
    /// Everything after the `*` (`.example.com`), for a wildcard.
    tail: Option<String>,
}

/// A pattern [`OriginPattern::new`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid origin pattern {0:?}: a `*` may only stand for the subdomains, as in `https://*.example.com`"
)]
pub struct InvalidOriginPattern(pub String);

impl OriginPattern {
    /// A pattern: an origin without `*`, or `<scheme>://*.<domain>[:<port>]`.
    pub fn new(pattern: &str) -> Result<Self, InvalidOriginPattern> {
        let invalid = || InvalidOriginPattern(pattern.to_owned());
        if !pattern.contains('*') {
            return Ok(OriginPattern { head: pattern.to_owned(), tail: None });
        }
        let (scheme, domain) = pattern.split_once("://*.").ok_or_else(invalid)?;
        let scheme_ok =
            !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        let domain_ok = !domain.is_empty() && !domain.contains(['*', '/']);
        if !(scheme_ok && domain_ok) {
            return Err(invalid());
        }
        Ok(OriginPattern { head: format!("{scheme}://"), tail: Some(format!(".{domain}")) })
    }

    /// Whether `origin` (an `Origin` value) matches.
    pub fn matches(&self, origin: &[u8]) -> bool {
        let Some(tail) = &self.tail else { return origin.eq_ignore_ascii_case(self.head.as_bytes()) };
        let (head, tail) = (self.head.as_bytes(), tail.as_bytes());
        let Some(tail_at) = origin.len().checked_sub(tail.len()) else { return false };
        match (origin.get(..head.len()), origin.get(head.len()..tail_at)) {
            (Some(origin_head), Some(labels)) => {
                origin_head.eq_ignore_ascii_case(head)
                    && origin[tail_at..].eq_ignore_ascii_case(tail)
                    && labels.split(|&b| b == b'.').all(is_label)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for OriginPattern {
    type Err = InvalidOriginPattern;

    fn from_str(s: &str) -> Result<Self, InvalidOriginPattern> {
        OriginPattern::new(s)
    }
}

/// A DNS label as a subdomain wildcard takes it: one or more letters, digits and `-`.
fn is_label(label: &[u8]) -> bool {
    !label.is_empty() && label.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A function that decides which origins CORS allows, from the `Origin` value. Two predicates
/// are equal when they are the same function (clones of one `OriginPredicate`).
#[derive(Clone)]
pub struct OriginPredicate(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl OriginPredicate {
    /// A predicate calling `allows` with each request's origin.
    pub fn new(allows: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        OriginPredicate(Arc::new(allows))
    }

    /// Whether `origin` is allowed: false for an origin that is not UTF-8.
    pub fn allows(&self, origin: &[u8]) -> bool {
        std::str::from_utf8(origin).is_ok_and(|origin| (self.0)(origin))
    }
}

impl std::fmt::Debug for OriginPredicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginPredicate(..)")
    }
}

impl PartialEq for OriginPredicate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OriginPredicate {}

/// The sticky-session cookie (the reference's `cookie` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The cookie's name (`io`).
    pub name: String,
    /// Its `Path` (`/`); empty for none.
    pub path: String,
    /// Its `Domain`, if any (`example.com`, or `.example.com`).
    pub domain: Option<String>,
    /// `HttpOnly` (true).
    pub http_only: bool,
    /// `SameSite` (`Lax`).
    pub same_site: Option<String>,
    /// `Secure` (false).
    pub secure: bool,
    /// `Max-Age`, if any, in whole seconds.
    pub max_age: Option<Duration>,
    /// `Expires`, if any: an instant, written as an HTTP date in whole seconds
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`).
    pub expires: Option<SystemTime>,
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie {
            name: "io".to_owned(),
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            same_site: Some("Lax".to_owned()),
            secure: false,
            max_age: None,
            expires: None,
        }
    }
}

impl Cookie {
    /// The `Set-Cookie` value for session `sid`, written as the Node `cookie` package writes it:
    /// `name=sid`, then `Max-Age`, `Domain`, `Path`, `Expires`, `HttpOnly`, `Secure` and
    /// `SameSite`, each when set (an empty path or domain is not set).
    ///
    /// A value the cookie cannot carry is replaced by `io=; Path=/`: a control character in the
    /// name or `sid`, a domain that is not a host name (the `cookie` package's rule: labels of
    /// letters, digits and inner `-`, up to 63 characters, an optional leading `.`), or a path
    /// with a character outside visible ASCII and space, or `;` or `<`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use engineio_parser::http::Cookie;
    /// assert_eq!(Cookie::default().set_cookie("abc"), "io=abc; Path=/; HttpOnly; SameSite=Lax");
    /// let cookie = Cookie {
    ///     domain: Some("example.com".into()),
    ///     expires: Some(UNIX_EPOCH + Duration::from_secs(1_445_412_480)),
    ///     ..Cookie::default()
    /// };
    /// assert_eq!(
    ///     cookie.set_cookie("abc"),
    ///     "io=abc; Domain=example.com; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; SameSite=Lax"
    /// );
    /// ```
    pub fn set_cookie(&self, sid: &str) -> String {
        const UNUSABLE: &str = "io=; Path=/";
        let mut value = format!("{}={}", self.name, sid);
        if let Some(max_age) = self.max_age {
            value.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if let Some(domain) = self.domain.as_deref().filter(|d| !d.is_empty()) {
            if !is_cookie_domain(domain) {
                return UNUSABLE.to_owned();
            }
            value.push_str("; Domain=");
            value.push_str(domain);
        }
        if !self.path.is_empty() {
            if !self.path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';' && b != b'<') {
                return UNUSABLE.to_owned();
            }
            value.push_str("; Path=");
            value.push_str(&self.path);
        }
        if let Some(expires) = self.expires {
            value.push_str("; Expires=");
            value.push_str(&http_date(expires));
        }
        if self.http_only {
            value.push_str("; HttpOnly");
        }
        if self.secure {
            value.push_str("; Secure");
        }
        if let Some(same_site) = &self.same_site {
            value.push_str("; SameSite=");
            value.push_str(same_site);
        }
        if !is_header_value(&value) {
            return UNUSABLE.to_owned();
        }
        value
    }
}

impl Cookie {
    /// Records the settings that make [`set_cookie`](Self::set_cookie) write the unusable
    /// `io=; Path=/`: a name that is not an RFC 6265 token (letters, digits and
    /// ``!#$%&'*+-.^_`|~``), a domain that is not a host name, a path with a character outside
    /// visible ASCII and space, or `;` or `<`, a `SameSite` other than `Strict`, `Lax` or
    /// `None`; and `SameSite=None` without `Secure`, which browsers drop.
    pub fn check(&self, checker: &mut Checker) {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if self.name.is_empty() || !self.name.bytes().all(token) {
            checker.refuse("name", format!("is {:?}, but a cookie name is a non-empty token", self.name));
        }
        if let Some(domain) = self.domain.as_deref().filter(|d| !d.is_empty()) {
            if !is_cookie_domain(domain) {
                checker.refuse("domain", format!("is {domain:?}, but a cookie domain is a host name"));
            }
        }
        if !self.path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';' && b != b'<') {
            checker.refuse("path", format!("is {:?}, which a cookie cannot carry", self.path));
        }
        if let Some(same_site) = self.same_site.as_deref() {
            let is = |value: &str| same_site.eq_ignore_ascii_case(value);
            if !(is("Strict") || is("Lax") || is("None")) {
                checker.refuse("same_site", format!("is {same_site:?}, not \"Strict\", \"Lax\" or \"None\""));
            } else if is("None") && !self.secure {
                checker.refuse("same_site", "is \"None\" without `secure`: browsers refuse such a cookie");
            }
        }
    }
}

impl Cors {
    /// Records the settings that cannot be meant: credentials allowed for any origin (every
    /// web site could then act with the users' cookies; list the origins, or say so with a
    /// [`CorsOrigin::Predicate`] that allows all), an empty origin list, an empty method list.
    pub fn check(&self, checker: &mut Checker) {
        match &self.origin {
            CorsOrigin::Any if self.credentials => checker.refuse(
                "credentials",
                "is true with origin Any: every web site could send requests with your users' cookies; \
                 list the allowed origins (CorsOrigin::List or Patterns)",
            ),
            CorsOrigin::List(list) if list.is_empty() => checker.refuse(
                "origin",
                "is an empty list: no cross-origin page could connect; use `cors: None` to mean that",
            ),
            CorsOrigin::Patterns(list) if list.is_empty() => checker.refuse(
                "origin",
                "is an empty pattern list: no cross-origin page could connect; use `cors: None` to mean that",
            ),
            _ => {}
        }
        if self.methods.is_empty() {
            checker.refuse("methods", "is empty: every preflight would be refused");
        }
    }
}

/// Whether `domain` is a cookie domain as the Node `cookie` package accepts one: an optional
/// leading `.`, then dot-separated labels of 1 to 63 letters, digits and `-`, each starting and
/// ending with a letter or digit.
fn is_cookie_domain(domain: &str) -> bool {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    domain.split('.').all(|label| {
        let bytes = label.as_bytes();
        let ends = match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric(),
            _ => false,
        };
        ends && bytes.len() <= 63 && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// `time` as an HTTP date (RFC 9110 IMF-fixdate, as JavaScript's `Date.prototype.toUTCString`
/// writes it): `Wed, 21 Oct 2015 07:28:00 GMT`, the fraction of a second dropped (towards the
/// past). Years before 1000 are written with four digits, years before 1 with a `-`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use engineio_parser::http::http_date;
/// assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
/// assert_eq!(http_date(UNIX_EPOCH - Duration::from_millis(1)), "Wed, 31 Dec 1969 23:59:59 GMT");
/// ```
pub fn http_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds: i64 = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = crate::date::civil_date(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let sign = if year < 0 { "-" } else { "" };
    format!(
        "{weekday}, {day:02} {} {sign}{:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        year.unsigned_abs(),
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

/// Compression of polling responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCompression {
    /// Responses smaller than this many bytes are sent as they are (1 024).
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

/// The value of a response header field.
#[derive(Debug, PartialEq, Eq)]
pub enum Value<'a, V: ?Sized> {
    /// A constant.
    Static(&'static str),
    /// A value of the request, sent back as it came (the allowed `Origin`, the headers a
    /// preflight asks for).
    Request(&'a V),
    /// A value made for this response (a `Set-Cookie`, a list of methods, a number), checked to
    /// hold only characters a header value may hold.
    Owned(String),
}

/// The most fields one answer has (a preflight's).
const CAPACITY: usize = 9;

/// A response header field: its name (in its usual capitalisation) and value.
pub type Field<'a, V> = (&'static str, Value<'a, V>);

/// The header fields of an answer, in the order they are set. Held inline: no answer has more
/// than [`Headers::CAPACITY`].
pub struct Headers<'a, V: ?Sized> {
    fields: [Field<'a, V>; CAPACITY],
    len: usize,
}

impl<'a, V: ?Sized> Headers<'a, V> {
    /// The most fields one answer has (a preflight's).
    pub const CAPACITY: usize = CAPACITY;

    /// No fields.
    pub fn new() -> Self {
        Headers { fields: std::array::from_fn(|_| ("", Value::Static(""))), len: 0 }
    }

    fn push(&mut self, name: &'static str, value: Value<'a, V>) {
        debug_assert!(self.len < Self::CAPACITY, "{name}: more fields than Headers::CAPACITY");
        if let Some(slot) = self.fields.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    /// The fields.
    pub fn as_slice(&self) -> &[Field<'a, V>] {
        &self.fields[..self.len]
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<V: ?Sized> Default for Headers<'_, V> {
    fn default() -> Self {
        Headers::new()
    }
}

impl<V: ?Sized + std::fmt::Debug> std::fmt::Debug for Headers<'_, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<V: ?Sized + PartialEq> PartialEq for Headers<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<V: ?Sized + Eq> Eq for Headers<'_, V> {}

impl<'a, V: ?Sized> IntoIterator for Headers<'a, V> {
    type Item = Field<'a, V>;
    type IntoIter = std::iter::Take<std::array::IntoIter<Field<'a, V>, CAPACITY>>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter().take(self.len)
    }
}

/// Whether a field is added next to the response's fields of the same name instead of
/// replacing them: `Vary`, a list the application's header hooks may have started.
pub fn is_appended(name: &str) -> bool {
    name.eq_ignore_ascii_case("Vary")
}

/// An answer the server writes: the status, the header fields and the body.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub struct HttpResponse<'a, V: ?Sized> {
    /// The status code.
    pub status: u16,
    /// The header fields, in order.
    pub headers: Headers<'a, V>,
    /// The body.
    pub body: Bytes,
}

impl<V: ?Sized> HttpResponse<'_, V> {
    /// `404 Not Found` with the body `Not Found`: the answer to a request outside the server's
    /// path (see [`serves_path`]).
    pub fn not_found() -> Self {
        HttpResponse { status: 404, headers: Headers::new(), body: Bytes::from_static(b"Not Found") }
    }

    /// `408 Request Timeout` with `Connection: close`: a polling POST's body did not arrive
    /// in time, and the rest of it may still be on its way.
    pub fn request_timeout() -> Self {
        let mut headers = Headers::new();
        headers.push("Connection", Value::Static("close"));
        HttpResponse { status: 408, headers, body: Bytes::new() }
    }

    /// The answer to a request the endpoint or the session refused ([`Response::refusal`]):
    /// the JSON error, or for a WebSocket handshake (`websocket_upgrade`) a `400` with
    /// `Connection: close`.
    pub fn refusal(error: &RequestError, websocket_upgrade: bool) -> Self {
        answer(Response::refusal(error, websocket_upgrade), None)
    }
}

/// The HTTP answer to a polling request, from the session's [`Response`]: its status,
/// `Content-Type` and body, the body compressed when it is a payload of at least
/// `compression`'s threshold and the request's `Accept-Encoding` allows gzip or deflate (see
/// [`Encoding::accepted`]), `Connection: close` after a refused upgrade, and the
/// [`polling_headers`] for the request's `User-Agent`.
pub fn polling_response<'a, V: ?Sized>(
    response: Response,
    compression: Option<HttpCompression>,
    accept_encoding: Option<&[u8]>,
    user_agent: Option<&[u8]>,
) -> HttpResponse<'a, V> {
    let compress = compression.is_some_and(|c| {
        response.kind == ResponseKind::Payload && response.compress && response.body.len() >= c.threshold
    });
    let encoding = if compress { accept_encoding.and_then(Encoding::accepted) } else { None };
    let mut answer = answer(response, encoding);
    for (name, value) in polling_headers(user_agent) {
        answer.headers.push(name, Value::Static(value));
    }
    answer
}

/// `response` as an HTTP answer: its status, `Content-Type` and body, the body compressed with
/// `encoding` (unless compression fails), and `Connection: close` after a refused upgrade.
fn answer<'a, V: ?Sized>(response: Response, encoding: Option<Encoding>) -> HttpResponse<'a, V> {
    let mut body = response.body;
    let encoding = encoding.and_then(|encoding| {
        body = encoding.compress(&body)?;
        Some(encoding)
    });
    let mut headers = Headers::new();
    if let Some(content_type) = response.content_type {
        headers.push("Content-Type", Value::Static(content_type));
    }
    if let Some(encoding) = encoding {
        headers.push("Content-Encoding", Value::Static(encoding.name()));
    }
    if response.kind == ResponseKind::RefusedUpgrade {
        headers.push("Connection", Value::Static("close"));
    }
    HttpResponse { status: response.status, headers, body }
}

/// A compression of polling responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// gzip (RFC 1952).
    Gzip,
    /// deflate, as HTTP means it: a zlib stream (RFC 1950).
    Deflate,
}

impl Encoding {
    /// The encoding to use for a request's `Accept-Encoding` value: gzip if it lists `gzip` or
    /// `*`, else deflate if it lists `deflate`, in any case and whatever their order and weights,
    /// except for an entry whose weight is zero (`gzip;q=0`). A value with other than visible
    /// ASCII gets no compression.
    ///
    /// ```
    /// use engineio_parser::http::Encoding;
    /// assert_eq!(Encoding::accepted(b"deflate, gzip;q=0.5"), Some(Encoding::Gzip));
    /// assert_eq!(Encoding::accepted(b"gzip;q=0, deflate"), Some(Encoding::Deflate));
    /// assert_eq!(Encoding::accepted(b"br"), None);
    /// ```
    pub fn accepted(accept_encoding: &[u8]) -> Option<Self> {
        if !accept_encoding.iter().all(|&c| c == b'\t' || (0x20..0x7f).contains(&c)) {
            return None;
        }
        let accepted = std::str::from_utf8(accept_encoding).ok()?;
        let accepts = |name: &str| {
            accepted.split(',').any(|item| {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| {
                    matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
                });
                (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
            })
        };
        if accepts("gzip") {
            Some(Encoding::Gzip)
        } else if accepts("deflate") {
            Some(Encoding::Deflate)
        } else {
            None
        }
    }

    /// Its `Content-Encoding` value.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    /// `body` compressed at the default level; `None` if the compressor fails.
    pub fn compress(self, body: &[u8]) -> Option<Bytes> {
        let level = flate2::Compression::default();
        let compressed = match self {
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
                encoder.write_all(body).ok()?;
                encoder.finish().ok()?
            }
            Encoding::Deflate => {
                let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
                encoder.write_all(body).ok()?;
                encoder.finish().ok()?
            }
        };
        Some(Bytes::from(compressed))
    }
}

/// The CORS fields of a response to a request with `origin` (its `Origin` value), added after
/// the application's header hooks; none when CORS is not configured (`cors` is `None`), so that
/// no page of another origin can read the answers (CVE-2020-28481).
///
/// * `Access-Control-Allow-Origin`: `*` for any origin, or the request's own origin when
///   credentials are allowed (a browser refuses `*` with credentials; `*` again without an
///   `Origin`); for a list, patterns or a predicate, the request's origin if
///   [allowed](CorsOrigin::allows), else nothing;
/// * `Access-Control-Allow-Credentials: true` with credentials;
/// * `Vary: Origin` whenever the answer depends on the origin (anything but any origin, or
///   credentials);
/// * `Access-Control-Expose-Headers` with the exposed headers, if any (left out if a header
///   cannot carry them).
pub fn cors_headers<'a, V: AsRef<[u8]> + ?Sized>(
    cors: Option<&Cors>,
    origin: Option<&'a V>,
) -> Headers<'a, V> {
    let mut headers = Headers::new();
    if let Some(cors) = cors {
        push_cors(&mut headers, cors, origin);
        push_exposed(&mut headers, cors);
    }
    headers
}

/// `Access-Control-Expose-Headers`, when headers are exposed (whatever the origin, as the `cors`
/// middleware does).
fn push_exposed<V: ?Sized>(headers: &mut Headers<'_, V>, cors: &Cors) {
    if cors.exposed_headers.is_empty() {
        return;
    }
    if let Some(exposed) = header_list(&cors.exposed_headers) {
        headers.push("Access-Control-Expose-Headers", exposed);
    }
}

fn push_cors<'a, V: AsRef<[u8]> + ?Sized>(headers: &mut Headers<'a, V>, cors: &Cors, origin: Option<&'a V>) {
    let allowed = match &cors.origin {
        CorsOrigin::Any if cors.credentials => Some(origin.map_or(Value::Static("*"), Value::Request)),
        CorsOrigin::Any => Some(Value::Static("*")),
        listed => origin.filter(|origin| listed.allows(origin.as_ref())).map(Value::Request),
    };
    if let Some(allowed) = allowed {
        headers.push("Access-Control-Allow-Origin", allowed);
    }
    if cors.credentials {
        headers.push("Access-Control-Allow-Credentials", Value::Static("true"));
    }
    if !matches!(cors.origin, CorsOrigin::Any) || cors.credentials {
        headers.push("Vary", Value::Static("Origin"));
    }
}

/// The answer to a CORS preflight: with CORS configured, an `OPTIONS` request is answered `204`
/// with the [CORS fields](cors_headers) for its `origin`, `Access-Control-Allow-Methods`,
/// `Access-Control-Allow-Headers` (the configured ones, or the `requested_headers` of its
/// `Access-Control-Request-Headers` sent back with `Vary: Access-Control-Request-Headers`),
/// `Access-Control-Max-Age` if configured, and `Access-Control-Expose-Headers` as on every
/// answer. `None` for any other request, or without CORS: the request goes to the endpoint
/// (which refuses an `OPTIONS` handshake).
///
/// A configured list that a header cannot carry (a control character) is left out.
pub fn preflight<'a, V: AsRef<[u8]> + ?Sized>(
    cors: Option<&Cors>,
    method: Method,
    origin: Option<&'a V>,
    requested_headers: Option<&'a V>,
) -> Option<HttpResponse<'a, V>> {
    let cors = cors.filter(|_| method == Method::Options)?;
    let mut headers = Headers::new();
    push_cors(&mut headers, cors, origin);
    if let Some(methods) = header_list(&cors.methods) {
        headers.push("Access-Control-Allow-Methods", methods);
    }
    if cors.allowed_headers.is_empty() {
        if let Some(requested) = requested_headers {
            headers.push("Access-Control-Allow-Headers", Value::Request(requested));
            headers.push("Vary", Value::Static("Access-Control-Request-Headers"));
        }
    } else if let Some(allowed) = header_list(&cors.allowed_headers) {
        headers.push("Access-Control-Allow-Headers", allowed);
    }
    if let Some(max_age) = cors.max_age {
        headers.push("Access-Control-Max-Age", Value::Owned(max_age.as_secs().to_string()));
    }
    push_exposed(&mut headers, cors);
    headers.push("Content-Length", Value::Static("0"));
    Some(HttpResponse { status: 204, headers, body: Bytes::new() })
}

/// `items` joined with `,`, if a header can carry that.
fn header_list<'a, V: ?Sized>(items: &[String]) -> Option<Value<'a, V>> {
    let list = items.join(",");
    is_header_value(&list).then_some(Value::Owned(list))
}

/// The fields the first answer of session `sid` gets before the application's `initial_headers`
/// hook runs: the session cookie's `Set-Cookie` ([`Cookie::set_cookie`]) if one is configured.
pub fn first_headers<'a, V: ?Sized>(cookie: Option<&Cookie>, sid: &str) -> Headers<'a, V> {
    let mut headers = Headers::new();
    if let Some(cookie) = cookie {
        headers.push("Set-Cookie", Value::Owned(cookie.set_cookie(sid)));
    }
    headers
}

/// The path requests are served under, from the configured `path`: with a leading `/`, and a
/// trailing one when `add_trailing_slash` (`engine.io` becomes `/engine.io/`).
pub fn normalize_path(path: &str, add_trailing_slash: bool) -> String {
    let mut path = path.to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if add_trailing_slash && !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// Whether a request for `request_path` is Engine.IO's, for a server at `path` (as
/// [`normalize_path`] gives it): the paths under it, and with `add_trailing_slash` the path
/// without its slash. Others are answered [`HttpResponse::not_found`] (or passed on, by a
/// server embedded in an application).
pub fn serves_path(path: &str, add_trailing_slash: bool, request_path: &str) -> bool {
    request_path.starts_with(path) || (add_trailing_slash && request_path == path.trim_end_matches('/'))
}

/// Whether every byte of `value` may appear in a header value.
fn is_header_value(value: &str) -> bool {
    value.bytes().all(is_header_char)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::ErrorCode;

    type Fields<'a> = Vec<(&'static str, Value<'a, str>)>;

    fn fields(headers: Headers<'_, str>) -> Fields<'_> {
        headers.into_iter().collect()
    }

    fn st(value: &'static str) -> Value<'static, str> {
        Value::Static(value)
    }

    fn owned(value: &str) -> Value<'static, str> {
        Value::Owned(value.to_owned())
    }

    const ORIGIN: &str = "https://example.com";
    const METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

    fn listed(credentials: bool) -> Cors {
        Cors {
            origin: CorsOrigin::List(vec!["https://a".into(), ORIGIN.into()]),
            credentials,
            ..Cors::default()
        }
    }

    #[test]
    fn without_cors_no_cors_field_and_no_preflight() {
        assert!(cors_headers::<str>(None, Some(ORIGIN)).is_empty());
        assert_eq!(preflight::<str>(None, Method::Options, Some(ORIGIN), Some("x-a")), None);
    }

    #[test]
    fn any_origin_is_a_star_without_vary() {
        let cors = Cors::default();
        assert_eq!(
            fields(cors_headers(Some(&cors), Some(ORIGIN))),
            [("Access-Control-Allow-Origin", st("*"))]
        );
        assert_eq!(
            fields(cors_headers::<str>(Some(&cors), None)),
            [("Access-Control-Allow-Origin", st("*"))]
        );
    }

    #[test]
    fn any_origin_with_credentials_reflects_the_origin() {
        let cors = Cors { credentials: true, ..Cors::default() };
        assert_eq!(
            fields(cors_headers(Some(&cors), Some(ORIGIN))),
            [
                ("Access-Control-Allow-Origin", Value::Request(ORIGIN)),
                ("Access-Control-Allow-Credentials", st("true")),
                ("Vary", st("Origin")),
            ]
        );
        // No origin to reflect: `*`.
        assert_eq!(
            fields(cors_headers::<str>(Some(&cors), None))[0],
            ("Access-Control-Allow-Origin", st("*"))
        );
    }

    #[test]
    fn a_listed_origin_is_reflected_and_another_gets_only_vary() {
        let cors = listed(false);
        assert_eq!(
            fields(cors_headers(Some(&cors), Some(ORIGIN))),
            [("Access-Control-Allow-Origin", Value::Request(ORIGIN)), ("Vary", st("Origin"))]
        );
        assert_eq!(fields(cors_headers(Some(&cors), Some("https://evil.example"))), [("Vary", st("Origin"))]);
        assert_eq!(fields(cors_headers(Some(&cors), Some("https://example.com/"))), [("Vary", st("Origin"))]);
        assert_eq!(fields(cors_headers::<str>(Some(&cors), None)), [("Vary", st("Origin"))]);
    }

    #[test]
    fn origins_are_compared_as_bytes() {
        let cors = listed(true);
        let origin: &[u8] = b"https://example.com";
        let headers = cors_headers(Some(&cors), Some(origin));
        assert_eq!(headers.as_slice()[0], ("Access-Control-Allow-Origin", Value::Request(origin)));
    }

    #[test]
    fn origin_patterns_allow_an_origin_or_its_subdomains() {
        let exact = OriginPattern::new("https://example.com").expect("valid");
        assert!(exact.matches(b"https://example.com"));
        assert!(exact.matches(b"HTTPS://Example.COM"));
        assert!(!exact.matches(b"https://example.co"));
        assert!(!exact.matches(b"https://example.com:443"));
        let wild: OriginPattern = "https://*.example.com".parse().expect("valid");
        for allowed in [
            "https://a.example.com",
            "https://a-1.b.example.com",
            "HTTPS://A.Example.Com",
            "https://x--y.example.com",
        ] {
            assert!(wild.matches(allowed.as_bytes()), "{allowed}");
        }
        for refused in [
            "https://example.com",
            "https://.example.com",
            "https://a..example.com",
            "https://a.example.com.evil.net",
            "https://evilexample.com",
            "https://a_b.example.com",
            "https://a.example.com:8443",
            "http://a.example.com",
            "https://a/b.example.com",
            "https://a:1@b.example.com",
            "https:/a.example.com",
            "https://",
            ".example.com",
            "",
        ] {
            assert!(!wild.matches(refused.as_bytes()), "{refused}");
        }
        let port = OriginPattern::new("http://*.localhost:3000").expect("valid");
        assert!(port.matches(b"http://app.localhost:3000"));
        assert!(!port.matches(b"http://app.localhost:3001"));
        assert!(!port.matches(b"http://app.localhost"));
        let custom = OriginPattern::new("chrome-extension+x.1://*.a").expect("valid");
        assert!(custom.matches(b"chrome-extension+x.1://b.a"));
    }

    #[test]
    fn origin_patterns_with_a_misplaced_star_are_refused() {
        for bad in [
            "*",
            "https://*",
            "https://*.",
            "https://*example.com",
            "https://a.*.example.com",
            "https://*.example.*",
            "https://*.*.example.com",
            "https://*.example.com/path",
            "*://*.example.com",
            "://*.example.com",
            "ht tp://*.example.com",
            "https://example.com*",
        ] {
            assert_eq!(OriginPattern::new(bad), Err(InvalidOriginPattern(bad.to_owned())), "{bad}");
        }
        assert_eq!(
            InvalidOriginPattern("*".into()).to_string(),
            "invalid origin pattern \"*\": a `*` may only stand for the subdomains, as in `https://*.example.com`"
        );
    }

    #[test]
    fn origin_predicates_see_utf8_origins() {
        let predicate = OriginPredicate::new(|origin| origin.ends_with(".test"));
        assert!(predicate.allows(b"https://a.test"));
        assert!(!predicate.allows(b"https://a.example"));
        let anything = OriginPredicate::new(|_| true);
        assert!(!anything.allows(b"https://\xff.test"), "never asked about bytes that are not text");
        assert_eq!(format!("{predicate:?}"), "OriginPredicate(..)");
        assert_eq!(predicate, predicate.clone());
        assert_ne!(predicate, anything);
    }

    #[test]
    fn each_kind_of_origin_setting_allows_its_origins() {
        let origin = b"https://app.example.com";
        assert!(CorsOrigin::Any.allows(origin));
        assert!(CorsOrigin::List(vec!["https://app.example.com".into()]).allows(origin));
        assert!(!CorsOrigin::List(vec!["https://APP.example.com".into()]).allows(origin));
        let patterns =
            |p: &[&str]| CorsOrigin::Patterns(p.iter().map(|p| p.parse().expect("valid")).collect());
        assert!(patterns(&["https://x.org", "https://*.example.com"]).allows(origin));
        assert!(!patterns(&["https://x.org", "https://*.example.org"]).allows(origin));
        assert!(!patterns(&[]).allows(origin));
        assert!(CorsOrigin::Predicate(OriginPredicate::new(|o| o.contains("app."))).allows(origin));
        assert!(!CorsOrigin::Predicate(OriginPredicate::new(|o| o.contains("web."))).allows(origin));
    }

    #[test]
    fn patterns_and_predicates_reflect_an_allowed_origin() {
        let origins = [
            CorsOrigin::Patterns(vec!["https://*.example.com".parse().expect("valid")]),
            CorsOrigin::Predicate(OriginPredicate::new(|o| o == "https://app.example.com")),
        ];
        for origin in origins {
            let cors = Cors { origin, ..Cors::default() };
            assert_eq!(
                fields(cors_headers(Some(&cors), Some("https://app.example.com"))),
                [
                    ("Access-Control-Allow-Origin", Value::Request("https://app.example.com")),
                    ("Vary", st("Origin"))
                ]
            );
            assert_eq!(
                fields(cors_headers(Some(&cors), Some("https://evil.example"))),
                [("Vary", st("Origin"))]
            );
            assert_eq!(fields(cors_headers::<str>(Some(&cors), None)), [("Vary", st("Origin"))]);
        }
    }

    #[test]
    fn exposed_headers_go_on_every_answer() {
        let cors = Cors { exposed_headers: vec!["x-total".into(), "x-request-id".into()], ..listed(false) };
        assert_eq!(
            fields(cors_headers(Some(&cors), Some(ORIGIN))),
            [
                ("Access-Control-Allow-Origin", Value::Request(ORIGIN)),
                ("Vary", st("Origin")),
                ("Access-Control-Expose-Headers", owned("x-total,x-request-id")),
            ]
        );
        // As the `cors` middleware: whatever the origin.
        assert_eq!(
            fields(cors_headers::<str>(Some(&cors), Some("https://evil"))),
            [("Vary", st("Origin")), ("Access-Control-Expose-Headers", owned("x-total,x-request-id"))]
        );
        let unusable = Cors { exposed_headers: vec!["a\nb".into()], ..Cors::default() };
        assert_eq!(
            fields(cors_headers::<str>(Some(&unusable), None)),
            [("Access-Control-Allow-Origin", st("*"))]
        );
    }

    #[test]
    fn the_fullest_preflight_fits_its_headers() {
        let cors = Cors {
            credentials: true,
            max_age: Some(Duration::from_secs(60)),
            exposed_headers: vec!["x-a".into()],
            ..listed(true)
        };
        let answer = preflight(Some(&cors), Method::Options, Some(ORIGIN), Some("x-b")).expect("a preflight");
        assert_eq!(answer.headers.len(), Headers::<str>::CAPACITY);
        assert_eq!(
            fields(answer.headers),
            [
                ("Access-Control-Allow-Origin", Value::Request(ORIGIN)),
                ("Access-Control-Allow-Credentials", st("true")),
                ("Vary", st("Origin")),
                ("Access-Control-Allow-Methods", owned(METHODS)),
                ("Access-Control-Allow-Headers", Value::Request("x-b")),
                ("Vary", st("Access-Control-Request-Headers")),
                ("Access-Control-Max-Age", owned("60")),
                ("Access-Control-Expose-Headers", owned("x-a")),
                ("Content-Length", st("0")),
            ]
        );
    }

    #[test]
    fn a_default_preflight_allows_the_requested_headers() {
        let cors = Cors::default();
        let answer = preflight(Some(&cors), Method::Options, Some(ORIGIN), Some("content-type, x-a"));
        let answer = answer.expect("a preflight");
        assert_eq!((answer.status, answer.body.len()), (204, 0));
        assert_eq!(
            fields(answer.headers),
            [
                ("Access-Control-Allow-Origin", st("*")),
                ("Access-Control-Allow-Methods", owned(METHODS)),
                ("Access-Control-Allow-Headers", Value::Request("content-type, x-a")),
                ("Vary", st("Access-Control-Request-Headers")),
                ("Content-Length", st("0")),
            ]
        );
        let answer = preflight::<str>(Some(&cors), Method::Options, None, None).expect("a preflight");
        assert_eq!(
            fields(answer.headers),
            [
                ("Access-Control-Allow-Origin", st("*")),
                ("Access-Control-Allow-Methods", owned(METHODS)),
                ("Content-Length", st("0")),
            ]
        );
    }

    #[test]
    fn a_configured_preflight() {
        let cors = Cors {
            methods: vec!["GET".into(), "POST".into()],
            allowed_headers: vec!["content-type".into(), "x-b".into()],
            max_age: Some(Duration::from_millis(600_900)),
            ..listed(true)
        };
        let expected = |origin: Option<Value<'static, str>>| {
            let mut expected: Fields<'static> =
                origin.map(|o| ("Access-Control-Allow-Origin", o)).into_iter().collect();
            expected.extend([
                ("Access-Control-Allow-Credentials", st("true")),
                ("Vary", st("Origin")),
                ("Access-Control-Allow-Methods", owned("GET,POST")),
                ("Access-Control-Allow-Headers", owned("content-type,x-b")),
                ("Access-Control-Max-Age", owned("600")),
                ("Content-Length", st("0")),
            ]);
            expected
        };
        let allowed =
            preflight(Some(&cors), Method::Options, Some(ORIGIN), Some("x-a")).expect("a preflight");
        assert_eq!(fields(allowed.headers), expected(Some(Value::Request(ORIGIN))));
        let other = preflight(Some(&cors), Method::Options, Some("https://evil"), None).expect("a preflight");
        assert_eq!(fields(other.headers), expected(None));
    }

    #[test]
    fn a_list_a_header_cannot_carry_is_left_out_of_a_preflight() {
        let cors =
            Cors { methods: vec!["G\nET".into()], allowed_headers: vec!["a\r\nb".into()], ..Cors::default() };
        let answer = preflight(Some(&cors), Method::Options, Some(ORIGIN), Some("x-a")).expect("a preflight");
        assert_eq!(
            fields(answer.headers),
            [("Access-Control-Allow-Origin", st("*")), ("Content-Length", st("0"))]
        );
    }

    #[test]
    fn only_options_is_a_preflight() {
        let cors = Cors::default();
        for method in [Method::Get, Method::Post, Method::Other] {
            assert_eq!(preflight(Some(&cors), method, Some(ORIGIN), Some("x-a")), None, "{method:?}");
        }
    }

    #[test]
    fn the_session_cookie() {
        assert_eq!(fields(first_headers(None, "abc")), []);
        assert_eq!(
            fields(first_headers(Some(&Cookie::default()), "abc")),
            [("Set-Cookie", owned("io=abc; Path=/; HttpOnly; SameSite=Lax"))]
        );
        let cookie = Cookie {
            name: "sid".into(),
            path: "/x".into(),
            domain: None,
            http_only: false,
            same_site: None,
            secure: true,
            max_age: Some(Duration::from_millis(3_600_500)),
            expires: None,
        };
        assert_eq!(cookie.set_cookie("abc"), "sid=abc; Max-Age=3600; Path=/x; Secure");
        let strict = Cookie { same_site: Some("Strict".into()), ..Cookie::default() };
        assert_eq!(strict.set_cookie("abc"), "io=abc; Path=/; HttpOnly; SameSite=Strict");
    }

    #[test]
    fn every_cookie_attribute_in_the_order_of_the_cookie_package() {
        let cookie = Cookie {
            name: "io".into(),
            path: "/app".into(),
            domain: Some(".example.com".into()),
            http_only: true,
            same_site: Some("None".into()),
            secure: true,
            max_age: Some(Duration::from_secs(86_400)),
            expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)),
        };
        assert_eq!(
            cookie.set_cookie("abc"),
            "io=abc; Max-Age=86400; Domain=.example.com; Path=/app; \
             Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure; SameSite=None"
        );
        // An empty path or domain is left out.
        let bare = Cookie { path: String::new(), domain: Some(String::new()), ..Cookie::default() };
        assert_eq!(bare.set_cookie("abc"), "io=abc; HttpOnly; SameSite=Lax");
        let secure = Cookie { secure: true, ..Cookie::default() };
        assert_eq!(secure.set_cookie("abc"), "io=abc; Path=/; HttpOnly; Secure; SameSite=Lax");
    }

    #[test]
    fn cookie_domains_are_host_names() {
        let with = |domain: &str| Cookie { domain: Some(domain.into()), ..Cookie::default() }.set_cookie("s");
        for good in ["example.com", ".example.com", "a", "A-1.b2", "0", &"a".repeat(63), "x.y-z.com"] {
            assert_eq!(with(good), format!("io=s; Domain={good}; Path=/; HttpOnly; SameSite=Lax"), "{good}");
        }
        let too_long = "a".repeat(64);
        for bad in [
            ".",
            "..example.com",
            "example.com.",
            "example..com",
            "-example.com",
            "example-.com",
            "exa_mple.com",
            "example.com; Secure",
            "ex ample.com",
            "exämple.com",
            too_long.as_str(),
        ] {
            assert_eq!(with(bad), "io=; Path=/", "{bad:?}");
        }
    }

    #[test]
    fn cookie_paths_are_visible_ascii_without_semicolons() {
        let with = |path: &str| Cookie { path: path.into(), ..Cookie::default() }.set_cookie("s");
        assert_eq!(with("/a b:=~"), "io=s; Path=/a b:=~; HttpOnly; SameSite=Lax");
        assert_eq!(with(" "), "io=s; Path= ; HttpOnly; SameSite=Lax");
        assert_eq!(with("~"), "io=s; Path=~; HttpOnly; SameSite=Lax");
        for bad in ["/a;b", "/a<b", "/a\x7f", "/a\x1f", "/é", "/a\tb"] {
            assert_eq!(with(bad), "io=; Path=/", "{bad:?}");
        }
    }

    #[test]
    fn http_dates_as_javascript_writes_them() {
        let at = |seconds: i64| {
            let offset = Duration::from_secs(seconds.unsigned_abs());
            let time =
                if seconds < 0 { SystemTime::UNIX_EPOCH - offset } else { SystemTime::UNIX_EPOCH + offset };
            http_date(time)
        };
        let cases: [(i64, &str); 20] = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (59, "Thu, 01 Jan 1970 00:00:59 GMT"),
            (3_599, "Thu, 01 Jan 1970 00:59:59 GMT"),
            (86_399, "Thu, 01 Jan 1970 23:59:59 GMT"),
            (86_400, "Fri, 02 Jan 1970 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (-86_400, "Wed, 31 Dec 1969 00:00:00 GMT"),
            (-86_401, "Tue, 30 Dec 1969 23:59:59 GMT"),
            (1_445_412_480, "Wed, 21 Oct 2015 07:28:00 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
            (978_220_800, "Sun, 31 Dec 2000 00:00:00 GMT"),
            (-2_203_977_600, "Wed, 28 Feb 1900 00:00:00 GMT"),
            (-2_203_891_200, "Thu, 01 Mar 1900 00:00:00 GMT"),
            (4_107_456_000, "Sun, 28 Feb 2100 00:00:00 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (253_402_300_800, "Sat, 01 Jan 10000 00:00:00 GMT"),
            (-62_135_596_800, "Mon, 01 Jan 0001 00:00:00 GMT"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(at(seconds), expected, "{seconds}");
        }
        assert_eq!(at(-62_135_596_801), "Sun, 31 Dec 0000 23:59:59 GMT");
        assert_eq!(at(-62_167_219_201), "Fri, 31 Dec -0001 23:59:59 GMT");
        assert_eq!(at(-12_219_292_800), "Fri, 15 Oct 1582 00:00:00 GMT");
        assert_eq!(at(1_234_567_890), "Fri, 13 Feb 2009 23:31:30 GMT");
        assert_eq!(at(1_000_000_000), "Sun, 09 Sep 2001 01:46:40 GMT");
        // Fractions of a second are dropped towards the past.
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH + Duration::from_millis(1_999)),
            "Thu, 01 Jan 1970 00:00:01 GMT"
        );
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH - Duration::from_millis(1_001)),
            "Wed, 31 Dec 1969 23:59:58 GMT"
        );
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH - Duration::from_secs(2)),
            "Wed, 31 Dec 1969 23:59:58 GMT"
        );
    }

    #[test]
    fn a_cookie_a_header_cannot_carry_is_an_empty_io_cookie() {
        let bad = Cookie { name: "bad\nname".into(), ..Cookie::default() };
        assert_eq!(bad.set_cookie("abc"), "io=; Path=/");
        assert_eq!(Cookie::default().set_cookie("a\u{7f}"), "io=; Path=/");
        // Tabs and obs-text are header characters.
        assert_eq!(Cookie::default().set_cookie("a\té"), "io=a\té; Path=/; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn accept_encoding_prefers_gzip_and_honours_zero_weights() {
        let cases: [(&[u8], Option<Encoding>); 17] = [
            (b"gzip, deflate", Some(Encoding::Gzip)),
            (b"deflate, gzip", Some(Encoding::Gzip)),
            (b"deflate", Some(Encoding::Deflate)),
            (b"GZIP", Some(Encoding::Gzip)),
            (b"*", Some(Encoding::Gzip)),
            (b"gzip;q=0, deflate", Some(Encoding::Deflate)),
            (b"gzip;q=0,*", Some(Encoding::Gzip)),
            (b"gzip ; q=0", None),
            (b"deflate;q=0.0", None),
            (b"deflate;q=0.", None),
            (b"deflate; q = 0", Some(Encoding::Deflate)),
            (b"deflate;q=0.5", Some(Encoding::Deflate)),
            (b"br", None),
            (b"identity", None),
            (b"", None),
            ("gzipé, gzip".as_bytes(), None),
            (b"gzip\x01", None),
        ];
        for (value, expected) in cases {
            assert_eq!(Encoding::accepted(value), expected, "{:?}", String::from_utf8_lossy(value));
        }
    }

    fn payload(len: usize) -> Response {
        Response {
            status: 200,
            kind: ResponseKind::Payload,
            content_type: Some("text/plain; charset=UTF-8"),
            body: Bytes::from(vec![b'x'; len]),
            compress: true,
        }
    }

    fn inflate(encoding: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
            "deflate" => flate2::read::ZlibDecoder::new(body).read_to_end(&mut out),
            other => panic!("{other}"),
        }
        .expect("a valid stream");
        out
    }

    #[test]
    fn a_large_payload_is_compressed_as_the_request_accepts() {
        let on = Some(HttpCompression::default());
        for (accept, encoding) in [(&b"gzip, deflate"[..], "gzip"), (b"deflate", "deflate")] {
            let answer = polling_response::<str>(payload(2000), on, Some(accept), None);
            assert_eq!(answer.status, 200);
            assert_eq!(
                answer.headers.as_slice(),
                [
                    ("Content-Type", st("text/plain; charset=UTF-8")),
                    ("Content-Encoding", st(encoding)),
                    ("Cache-Control", st("no-store")),
                ]
            );
            assert!(answer.body.len() < 100, "{}", answer.body.len());
            assert_eq!(inflate(encoding, &answer.body), vec![b'x'; 2000]);
        }
    }

    #[test]
    fn compression_needs_the_threshold_a_payload_and_an_accepted_encoding() {
        let on = Some(HttpCompression::default());
        let gzip = Some(&b"gzip"[..]);
        let plain = |answer: HttpResponse<'_, str>, len: usize| {
            assert!(
                !answer.headers.as_slice().iter().any(|(name, _)| *name == "Content-Encoding"),
                "{answer:?}"
            );
            assert_eq!(answer.body.len(), len);
        };
        plain(polling_response(payload(1023), on, gzip, None), 1023);
        let at_threshold = polling_response::<str>(payload(1024), on, gzip, None);
        assert_eq!(at_threshold.headers.as_slice()[1], ("Content-Encoding", st("gzip")));
        plain(polling_response(payload(2000), None, gzip, None), 2000);
        plain(polling_response(payload(2000), on, None, None), 2000);
        plain(polling_response(payload(2000), on, Some(b"br"), None), 2000);
        let small = Some(HttpCompression { threshold: 1 });
        let ok = Response { kind: ResponseKind::Ok, ..payload(2000) };
        plain(polling_response(ok, small, gzip, None), 2000);
        // A payload whose packets were all sent uncompressed (`compress(false)`).
        let uncompressed = Response { compress: false, ..payload(2000) };
        plain(polling_response(uncompressed, small, gzip, None), 2000);
    }

    #[test]
    fn polling_answers_carry_cache_control_and_for_old_ie_x_xss_protection() {
        let ie = b"Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko";
        let answer = polling_response::<str>(payload(3), None, None, Some(ie));
        assert_eq!(
            fields(answer.headers),
            [
                ("Content-Type", st("text/plain; charset=UTF-8")),
                ("Cache-Control", st("no-store")),
                ("X-XSS-Protection", st("0")),
            ]
        );
        let error = Response::error(&RequestError::new(ErrorCode::UnknownSid));
        let answer =
            polling_response::<str>(error, Some(HttpCompression { threshold: 0 }), Some(b"gzip"), None);
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body, "{\"code\":1,\"message\":\"Session ID unknown\"}");
        assert_eq!(
            fields(answer.headers),
            [("Content-Type", st("application/json")), ("Cache-Control", st("no-store"))]
        );
        let empty = polling_response::<str>(Response::empty(413), None, None, None);
        assert_eq!((empty.status, fields(empty.headers)), (413, vec![("Cache-Control", st("no-store"))]));
    }

    #[test]
    fn refusals_have_no_polling_headers_and_a_refused_upgrade_closes() {
        let error = RequestError::new(ErrorCode::UnknownTransport);
        let polling = HttpResponse::<str>::refusal(&error, false);
        assert_eq!(
            (polling.status, &polling.body[..]),
            (400, &b"{\"code\":0,\"message\":\"Transport unknown\"}"[..])
        );
        assert_eq!(fields(polling.headers), [("Content-Type", st("application/json"))]);
        let forbidden = HttpResponse::<str>::refusal(&RequestError::forbidden(Some("no".into())), true);
        assert_eq!((forbidden.status, &forbidden.body[..]), (400, &b"no"[..]));
        assert_eq!(
            fields(forbidden.headers),
            [("Content-Type", st("text/html")), ("Connection", st("close"))]
        );
    }

    #[test]
    fn not_found_and_request_timeout() {
        let not_found = HttpResponse::<str>::not_found();
        assert_eq!((not_found.status, &not_found.body[..]), (404, &b"Not Found"[..]));
        assert!(not_found.headers.is_empty());
        let timeout = HttpResponse::<str>::request_timeout();
        assert_eq!((timeout.status, timeout.body.len()), (408, 0));
        assert_eq!(fields(timeout.headers), [("Connection", st("close"))]);
    }

    #[test]
    fn served_paths() {
        assert_eq!(normalize_path("/engine.io", true), "/engine.io/");
        assert_eq!(normalize_path("engine.io", true), "/engine.io/");
        assert_eq!(normalize_path("/engine.io/", true), "/engine.io/");
        assert_eq!(normalize_path("/engine.io", false), "/engine.io");
        assert_eq!(normalize_path("/engine.io/", false), "/engine.io/");
        assert!(serves_path("/engine.io/", true, "/engine.io/"));
        assert!(serves_path("/engine.io/", true, "/engine.io/anything"));
        assert!(serves_path("/engine.io/", true, "/engine.io"));
        assert!(!serves_path("/engine.io/", false, "/engine.io"));
        assert!(!serves_path("/engine.io/", true, "/engine.iox"));
        assert!(!serves_path("/engine.io/", true, "/other"));
        assert!(serves_path("/engine.io", false, "/engine.iox"));
    }

    #[test]
    fn only_vary_is_appended() {
        assert!(is_appended("Vary") && is_appended("vary"));
        assert!(!is_appended("Set-Cookie") && !is_appended("Access-Control-Allow-Origin"));
    }

    #[test]
    fn headers_count_compare_and_print_their_fields() {
        let mut headers: Headers<'_, str> = Headers::default();
        assert!(headers.is_empty());
        assert_eq!(headers.len(), 0);
        assert_eq!(format!("{headers:?}"), "[]");
        headers.push("Vary", st("Origin"));
        headers.push("Set-Cookie", owned("io=a"));
        assert!(!headers.is_empty());
        assert_eq!(headers.len(), 2);
        assert_eq!(format!("{headers:?}"), r#"[("Vary", Static("Origin")), ("Set-Cookie", Owned("io=a"))]"#);
        let mut same = Headers::new();
        same.push("Vary", st("Origin"));
        assert_ne!(headers, same);
        same.push("Set-Cookie", owned("io=a"));
        assert_eq!(headers, same);
        assert_eq!(fields(headers), [("Vary", st("Origin")), ("Set-Cookie", owned("io=a"))]);
    }

    #[test]
    fn encodings_are_named_as_content_encoding_says() {
        assert_eq!(Encoding::Gzip.name(), "gzip");
        assert_eq!(Encoding::Deflate.name(), "deflate");
        // A tab is a header character; other controls refuse compression.
        assert_eq!(Encoding::accepted(b"deflate,\tgzip"), Some(Encoding::Gzip));
        assert_eq!(Encoding::accepted(b"gzip\x7f"), None);
    }
}
