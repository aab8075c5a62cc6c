//! The opening handshake, server side (RFC 6455 §4.2).

use base64::{engine::general_purpose::STANDARD, Engine as _};
use bytes::BufMut;
use sha1::{Digest, Sha1};

/// The GUID a server appends to `Sec-WebSocket-Key` before hashing it (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the key
/// followed by [`WEBSOCKET_GUID`] (RFC 6455 §4.2.2, step 5.4). The key is used as given: trim it
/// first (or use [`validate_upgrade`], which does).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     engineio_parser::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(sec_websocket_key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(sec_websocket_key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(sha1.finalize())
}

/// Why an HTTP request is not a WebSocket opening handshake this server accepts. The server
/// answers with [`status`](HandshakeError::status) and no upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// RFC 6455 §4.2.1 item 1: the method of an opening handshake must be GET.
    #[error("the method of a WebSocket handshake must be GET")]
    MethodNotGet,
    /// RFC 6455 §4.2.1 item 3: an `Upgrade` header with the token `websocket` (case-insensitive)
    /// is required.
    #[error("missing `Upgrade: websocket`")]
    MissingUpgrade,
    /// RFC 6455 §4.2.1 item 4: a `Connection` header listing the token `upgrade`
    /// (case-insensitive) is required.
    #[error("missing `Connection: upgrade`")]
    MissingConnectionUpgrade,
    /// RFC 6455 §4.2.1 item 6 and §4.2.2: `Sec-WebSocket-Version` must be present, once, and be
    /// `13`; otherwise the server answers 426 with `Sec-WebSocket-Version: 13`.
    #[error("unsupported or missing Sec-WebSocket-Version (only 13 is supported)")]
    UnsupportedVersion,
    /// RFC 6455 §4.2.1 item 5: `Sec-WebSocket-Key` is required.
    #[error("missing Sec-WebSocket-Key")]
    MissingKey,
    /// RFC 6455 §11.3.1: `Sec-WebSocket-Key` must not appear more than once.
    #[error("more than one Sec-WebSocket-Key")]
    DuplicateKey,
    /// RFC 6455 §4.2.1 item 5 and §4.1: `Sec-WebSocket-Key` must be the base64 encoding of 16
    /// bytes.
    #[error("Sec-WebSocket-Key is not the base64 encoding of 16 bytes")]
    InvalidKey,
}

impl HandshakeError {
    /// The HTTP status to answer with: 405 for a method other than GET, 426 (Upgrade Required,
    /// to send with `Sec-WebSocket-Version: 13`) for an unsupported version, 400 otherwise.
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::MethodNotGet => 405,
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

/// Checks that a request is a WebSocket opening handshake we accept (RFC 6455 §4.2.1) and returns
/// the `Sec-WebSocket-Accept` value to answer with.
///
/// `headers` are the request's header fields as (name, value) pairs, in any order, names in any
/// case and repeated names allowed (an `http::HeaderMap` gives them with
/// `map.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))`). Values are trimmed of spaces and tabs.
///
/// The caller checks the rest of the request: HTTP/1.1 or later, the `Host` header, the `Origin`
/// policy, and the request target. `Sec-WebSocket-Protocol` is ignored: we never select a
/// subprotocol. So is `Sec-WebSocket-Extensions`: a server that enables permessage-deflate
/// passes its values to [`negotiate_deflate`](super::negotiate_deflate); otherwise the response
/// carries no extension and every frame's RSV bits must be 0.
///
/// ```
/// use engineio_parser::ws::validate_upgrade;
/// let headers = [
///     ("Host", &b"server.example.com"[..]),
///     ("Upgrade", b"websocket"),
///     ("Connection", b"keep-alive, Upgrade"),
///     ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
///     ("Sec-WebSocket-Version", b"13"),
/// ];
/// assert_eq!(validate_upgrade("GET", headers).as_deref(), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
/// ```
pub fn validate_upgrade<'h>(
    method: &str,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Result<String, HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    let mut upgrade = false;
    let mut connection = false;
    let mut versions = 0usize;
    let mut version_ok = false;
    let mut key: Option<&[u8]> = None;
    let mut keys = 0usize;
    for (name, value) in headers {
        let value = trim(value);
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, b"upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            versions += 1;
            version_ok = value == b"13";
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            keys += 1;
            key = Some(value);
        }
    }
    if !upgrade {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !connection {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if versions != 1 || !version_ok {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = key.ok_or(HandshakeError::MissingKey)?;
    if keys > 1 {
        return Err(HandshakeError::DuplicateKey);
    }
    // 16 bytes are 24 base64 characters, the last two `==`; this also bounds the decode.
    if key.len() != 24 || !matches!(STANDARD.decode(key), Ok(nonce) if nonce.len() == 16) {
        return Err(HandshakeError::InvalidKey);
    }
    Ok(accept_key(key))
}

/// The header fields of the `101 Switching Protocols` response that completes the handshake
/// (RFC 6455 §4.2.2 step 5), for a driver whose HTTP library writes the response:
/// `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`, and
/// `Sec-WebSocket-Extensions` when an extension was accepted (such as
/// [`DeflateParams::response_header`](super::DeflateParams::response_header)).
///
/// ```
/// use engineio_parser::ws::switching_protocols_headers;
/// let headers: Vec<_> = switching_protocols_headers("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", None).collect();
/// assert_eq!(
///     headers,
///     [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]
/// );
/// ```
pub fn switching_protocols_headers<'a>(
    accept: &'a str,
    extensions: Option<&'a str>,
) -> impl Iterator<Item = (&'static str, &'a str)> {
    SWITCHING_PROTOCOLS_FIXED.into_iter().chain(switching_protocols_answer(accept, extensions))
}

/// The fields of [`switching_protocols_headers`] that are the same in every `101`:
/// `Upgrade: websocket` and `Connection: Upgrade` (a driver can keep them as constants).
pub const SWITCHING_PROTOCOLS_FIXED: [(&str, &str); 2] =
    [("Upgrade", "websocket"), ("Connection", "Upgrade")];

/// The fields of [`switching_protocols_headers`] that answer the request:
/// `Sec-WebSocket-Accept`, and `Sec-WebSocket-Extensions` when an extension was accepted.
///
/// ```
/// use engineio_parser::ws::switching_protocols_answer;
/// let fields: Vec<_> = switching_protocols_answer("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Some("permessage-deflate")).collect();
/// assert_eq!(
///     fields,
///     [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), ("Sec-WebSocket-Extensions", "permessage-deflate")]
/// );
/// ```
pub fn switching_protocols_answer<'a>(
    accept: &'a str,
    extensions: Option<&'a str>,
) -> impl Iterator<Item = (&'static str, &'a str)> {
    std::iter::once(("Sec-WebSocket-Accept", accept))
        .chain(extensions.map(|e| ("Sec-WebSocket-Extensions", e)))
}

/// Writes the `101 Switching Protocols` response that completes the handshake (RFC 6455 §4.2.2
/// step 5), for a driver that writes HTTP itself: the status line, the
/// [`switching_protocols_headers`] without extensions, then the empty line.
pub fn encode_switching_protocols(accept: &str, buf: &mut impl BufMut) {
    encode_response(switching_protocols_headers(accept, None), buf);
}

/// [`encode_switching_protocols`] with a `Sec-WebSocket-Extensions` header carrying the
/// accepted extensions, such as
/// [`DeflateParams::response_header`](super::DeflateParams::response_header) (RFC 6455 §4.2.2,
/// step 5).
pub fn encode_switching_protocols_with_extensions(accept: &str, extensions: &str, buf: &mut impl BufMut) {
    encode_response(switching_protocols_headers(accept, Some(extensions)), buf);
}

fn encode_response<'a>(headers: impl Iterator<Item = (&'static str, &'a str)>, buf: &mut impl BufMut) {
    buf.put_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in headers {
        buf.put_slice(name.as_bytes());
        buf.put_slice(b": ");
        buf.put_slice(value.as_bytes());
        buf.put_slice(b"\r\n");
    }
    buf.put_slice(b"\r\n");
}

/// Whether a request asks for a WebSocket upgrade: one of its `Upgrade` header values lists the
/// token `websocket` (ASCII case-insensitive, RFC 6455 §4.2.1 item 3). `upgrade_values` are the
/// values of the request's `Upgrade` headers. A request that does is then checked with
/// [`validate_upgrade`]; one that does not is an ordinary HTTP request.
///
/// ```
/// use engineio_parser::ws::is_upgrade_request;
/// assert!(is_upgrade_request([&b"h2c, WebSocket"[..]]));
/// assert!(!is_upgrade_request([&b"h2c"[..]]));
/// ```
pub fn is_upgrade_request<'h>(upgrade_values: impl IntoIterator<Item = &'h [u8]>) -> bool {
    upgrade_values.into_iter().any(|value| has_token(value, b"websocket"))
}

/// Trims optional whitespace (spaces and tabs, RFC 7230 §3.2.3) from both ends.
fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Whether a comma-separated header value lists `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|item| trim(item).eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";

    fn base() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("upgrade", b"WebSocket"),
            ("CONNECTION", b"Upgrade"),
            ("sec-websocket-version", b" 13 "),
            ("Sec-WebSocket-Key", KEY),
        ]
    }

    fn without(name: &str) -> Vec<(&'static str, &'static [u8])> {
        base().into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).collect()
    }

    fn with(extra: (&'static str, &'static [u8])) -> Vec<(&'static str, &'static [u8])> {
        let mut headers = base();
        headers.push(extra);
        headers
    }

    #[test]
    fn rfc_accept_key() {
        assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(validate_upgrade("GET", base()).as_deref(), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn tokens_are_case_insensitive_lists() {
        let mut headers = without("connection");
        headers.push(("Connection", b"keep-alive"));
        assert_eq!(validate_upgrade("GET", headers.clone()), Err(HandshakeError::MissingConnectionUpgrade));
        headers.push(("Connection", b"\tkeep-alive ,UPGRADE"));
        assert!(validate_upgrade("GET", headers).is_ok());
        let mut headers = without("upgrade");
        headers.push(("Upgrade", b"h2c, websocket"));
        assert!(validate_upgrade("GET", headers).is_ok());
    }

    #[test]
    fn each_rule_has_its_error() {
        use HandshakeError::*;
        assert_eq!(validate_upgrade("POST", base()), Err(MethodNotGet));
        assert_eq!(validate_upgrade("get", base()), Err(MethodNotGet));
        assert_eq!(validate_upgrade("GET", without("upgrade")), Err(MissingUpgrade));
        let mut h = without("upgrade");
        h.push(("Upgrade", b"h2c"));
        assert_eq!(validate_upgrade("GET", h), Err(MissingUpgrade));
        assert_eq!(validate_upgrade("GET", without("connection")), Err(MissingConnectionUpgrade));
        assert_eq!(validate_upgrade("GET", without("sec-websocket-version")), Err(UnsupportedVersion));
        let mut h = without("sec-websocket-version");
        h.push(("Sec-WebSocket-Version", b"8"));
        assert_eq!(validate_upgrade("GET", h), Err(UnsupportedVersion));
        assert_eq!(validate_upgrade("GET", with(("Sec-WebSocket-Version", b"13"))), Err(UnsupportedVersion));
        assert_eq!(validate_upgrade("GET", without("sec-websocket-key")), Err(MissingKey));
        assert_eq!(validate_upgrade("GET", with(("sec-websocket-key", KEY))), Err(DuplicateKey));
        for bad in
            [&b"dGhlIHNhbXBsZSBub25jZQ="[..], b"dGhlIHNhbXBsZSBub25jZQ=!", b"", b"AAAAAAAAAAAAAAAAAAAAAAAA"]
        {
            let mut h = without("sec-websocket-key");
            h.push(("Sec-WebSocket-Key", bad));
            assert_eq!(validate_upgrade("GET", h), Err(InvalidKey), "{bad:?}");
        }
        assert_eq!(MethodNotGet.status(), 405);
        assert_eq!(UnsupportedVersion.status(), 426);
        assert_eq!(InvalidKey.status(), 400);
    }

    #[test]
    fn response_bytes() {
        let mut out = Vec::new();
        encode_switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        let mut out = Vec::new();
        encode_switching_protocols_with_extensions(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "permessage-deflate",
            &mut out,
        );
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        );
    }
}
