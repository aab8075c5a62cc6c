//! HTTP plumbing: turning the protocol crate's answers into hyper responses, CORS, the
//! sticky-session cookie, and compression of polling responses.

use std::io::Write;

use bytes::Bytes;
use engineio_parser::endpoint::ErrorContext;
use engineio_parser::session::ResponseKind;
use engineio_parser::RequestError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::config::{Cookie, Cors, CorsOrigin, HttpCompression};
use crate::driver::Deflate;
use crate::held::HoldingStream;
use crate::io::BoxedIo;
use crate::server::ResponseBody;
use crate::ws;

pub(crate) fn not_found() -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// `408 Request Timeout`: the request's body did not arrive in time. The connection is closed
/// after it, since the rest of the body may still be on its way.
pub(crate) fn request_timeout() -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Whether the request asks for a WebSocket upgrade (`Upgrade: websocket`).
pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    ws::is_upgrade_request(headers.get_all(header::UPGRADE).iter().map(HeaderValue::as_bytes))
}

/// The `Sec-WebSocket-Accept` answer to a valid WebSocket handshake; a request that is not one
/// is a bad request (`TRANSPORT_HANDSHAKE_ERROR`).
pub(crate) fn websocket_accept(parts: &http::request::Parts) -> Result<String, RequestError> {
    let headers = parts.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    ws::validate_upgrade(parts.method.as_str(), headers)
        .map_err(|_| RequestError::bad_request(ErrorContext::TransportHandshakeError))
}

/// Adds header fields named by the protocol crate.
pub(crate) fn add_headers<'a>(
    headers: &mut HeaderMap,
    fields: impl Iterator<Item = (&'static str, &'a str)>,
) {
    for (name, value) in fields {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.insert(name, value);
        }
    }
}

/// [`add_headers`] for fields whose values are constants, which are not copied (every polling
/// response has some).
pub(crate) fn add_static_headers(
    headers: &mut HeaderMap,
    fields: impl Iterator<Item = (&'static str, &'static str)>,
) {
    for (name, value) in fields {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// The `101 Switching Protocols` answer to a WebSocket handshake.
pub(crate) fn switching_protocols(accept: &str, deflate: Option<&Deflate>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let extensions = deflate.map(|d| d.params.response_header());
    add_headers(response.headers_mut(), ws::switching_protocols_headers(accept, extensions.as_deref()));
    response
}

/// The upgraded connection as a byte stream, the bytes hyper read past the handshake, and the
/// bytes written to it but held back (the `101` of a new session, see [`crate::held`]).
///
/// A plain TCP connection is taken back from hyper. The bytes read past the handshake are a
/// slice of hyper's read buffer (8 KiB): the WebSocket copies them and lets the buffer go.
pub(crate) fn into_io(upgraded: hyper::upgrade::Upgraded) -> (BoxedIo, Bytes, Bytes) {
    type Holding = hyper_util::rt::TokioIo<HoldingStream>;
    type Tcp = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    let upgraded = match upgraded.downcast::<Holding>() {
        Ok(parts) => {
            let (stream, held) = parts.io.into_inner().into_parts();
            return (Box::new(stream), parts.read_buf, held);
        }
        Err(upgraded) => upgraded,
    };
    match upgraded.downcast::<Tcp>() {
        Ok(parts) => (Box::new(parts.io.into_inner()), parts.read_buf, Bytes::new()),
        Err(upgraded) => (Box::new(hyper_util::rt::TokioIo::new(upgraded)), Bytes::new(), Bytes::new()),
    }
}

/// The session's answer as an HTTP response, compressed when it is a large enough payload and
/// the client accepts gzip or deflate.
pub(crate) fn to_http(
    response: engineio_parser::Response,
    compression: Option<HttpCompression>,
    request: &HeaderMap,
) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = response.body;
    let mut encoding = None;
    if let Some(c) =
        compression.filter(|c| response.kind == ResponseKind::Payload && body.len() >= c.threshold)
    {
        let _ = c;
        if let Some((name, compressed)) = compress(&body, request) {
            body = compressed;
            encoding = Some(name);
        }
    }
    let mut out = Response::new(Full::new(body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    if let Some(content_type) = response.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if response.kind == ResponseKind::RefusedUpgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    out
}

fn compress(body: &[u8], request: &HeaderMap) -> Option<(&'static str, Bytes)> {
    let accepted = request.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    let accepts = |name: &str| {
        accepted.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    if accepts("gzip") {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(body).ok()?;
        return Some(("gzip", Bytes::from(encoder.finish().ok()?)));
    }
    if accepts("deflate") {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(body).ok()?;
        return Some(("deflate", Bytes::from(encoder.finish().ok()?)));
    }
    None
}

/// The sticky-session cookie for session `sid`.
pub(crate) fn cookie(cookie: &Cookie, sid: &str) -> HeaderValue {
    let mut value = format!("{}={}; Path={}", cookie.name, sid, cookie.path);
    if cookie.http_only {
        value.push_str("; HttpOnly");
    }
    if let Some(same_site) = &cookie.same_site {
        value.push_str("; SameSite=");
        value.push_str(same_site);
    }
    if cookie.secure {
        value.push_str("; Secure");
    }
    if let Some(max_age) = cookie.max_age {
        value.push_str(&format!("; Max-Age={}", max_age.as_secs()));
    }
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("io=; Path=/"))
}

/// The origin to allow for this request, if any.
fn allowed_origin(cors: &Cors, request: &HeaderMap) -> Option<HeaderValue> {
    let origin = request.get(header::ORIGIN);
    match &cors.origin {
        // With credentials a browser refuses `*`: reflect the request's origin instead.
        CorsOrigin::Any if cors.credentials => origin.cloned().or(Some(HeaderValue::from_static("*"))),
        CorsOrigin::Any => Some(HeaderValue::from_static("*")),
        CorsOrigin::List(list) => {
            let origin = origin?;
            list.iter().any(|o| o.as_bytes() == origin.as_bytes()).then(|| origin.clone())
        }
    }
}

/// Adds the CORS headers of a normal response.
pub(crate) fn add_cors(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    if let Some(origin) = allowed_origin(cors, request) {
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    if cors.credentials {
        response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    if !matches!(cors.origin, CorsOrigin::Any) || cors.credentials {
        response.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The answer to a CORS preflight (`OPTIONS`): 204 with the allowed origin, methods and headers.
pub(crate) fn preflight(cors: &Cors, request: &HeaderMap) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    add_cors(cors, request, headers);
    if let Ok(methods) = HeaderValue::from_str(&cors.methods.join(",")) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    if cors.allowed_headers.is_empty() {
        if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            headers.append(header::VARY, HeaderValue::from_static("Access-Control-Request-Headers"));
        }
    } else if let Ok(allowed) = HeaderValue::from_str(&cors.allowed_headers.join(",")) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    }
    if let Some(max_age) = cors.max_age {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age.as_secs()));
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// A copy of `uri` that does not share memory with the request it came from.
pub(crate) fn compact_uri(uri: &http::Uri) -> http::Uri {
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}
