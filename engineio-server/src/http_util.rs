//! HTTP plumbing: the protocol crate's answers ([`engineio_parser::http`]) as hyper responses,
//! the WebSocket handshake's headers, and the connection hyper hands over after a `101`.

use bytes::Bytes;
use engineio_parser::endpoint::ErrorContext;
use engineio_parser::http::{is_appended, Headers, HttpResponse, Value};
use engineio_parser::RequestError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::driver::Deflate;
use crate::held::HoldingStream;
use crate::io::BoxedIo;
use crate::server::ResponseBody;
use crate::ws;

/// An answer of the protocol crate as a hyper response.
pub(crate) fn to_http(answer: HttpResponse<'_, HeaderValue>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    add_fields(response.headers_mut(), answer.headers);
    response
}

/// Sets header fields of the protocol crate, in order: an appended one (`Vary`) is added next
/// to the fields of its name, any other replaces them. Constant values are not copied, nor are
/// the request's own values sent back.
pub(crate) fn add_fields(headers: &mut HeaderMap, fields: Headers<'_, HeaderValue>) {
    for (name, value) in fields {
        let value = match value {
            Value::Static(value) => HeaderValue::from_static(value),
            Value::Request(value) => value.clone(),
            Value::Owned(value) => match HeaderValue::try_from(value) {
                Ok(value) => value,
                Err(_) => continue,
            },
        };
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else { continue };
        if is_appended(name) {
            headers.append(header, value);
        } else {
            headers.insert(header, value);
        }
    }
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

/// The `101 Switching Protocols` answer to a WebSocket handshake.
pub(crate) fn switching_protocols(accept: &str, deflate: Option<&Deflate>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    // The fields every `101` carries are constants: no copy of their values.
    for (name, value) in ws::SWITCHING_PROTOCOLS_FIXED {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    let extensions = deflate.map(|d| d.params.response_header());
    add_headers(headers, ws::switching_protocols_answer(accept, extensions.as_deref()));
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
