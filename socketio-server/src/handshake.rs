//! What a socket knows of the request that opened its connection: the reference's
//! `socket.handshake`.

use engineio_parser::endpoint::parse_query;
use serde_json::Value;
use socketio_adapter::{js_date_string, HandshakeFields};

/// The handshake of a socket. Built on demand from the connection's first request, which the
/// Engine.IO session keeps in compact form.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request's headers.
    pub headers: http::HeaderMap,
    /// When the socket connected, as JavaScript's `Date.prototype.toString` writes it (UTC):
    /// `Sun Nov 22 2026 10:00:00 GMT+0000 (Coordinated Universal Time)`.
    pub time: String,
    /// The client's IP address (empty when unknown): the connection's peer, or the address a
    /// trusted proxy forwarded (the engine's `trust_proxy` option). Behind axum or hyper the
    /// peer is read from the request's extensions, see [`engineio_server::remote_addr`].
    pub address: String,
    /// Whether the request was cross-origin (it had an `Origin` header).
    pub xdomain: bool,
    /// Whether the connection was encrypted (always false: TLS ends before this server).
    pub secure: bool,
    /// When the socket connected, in milliseconds since the Unix epoch.
    pub issued: u64,
    /// The request's URL (path and query).
    pub url: String,
    /// The query string's parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `auth` payload of the client's `CONNECT` (an object; empty when none was sent).
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(engine: &crate::client::Engine, auth: Value, issued: u64) -> Self {
        let request = engine.handshake();
        let url = request.url().to_owned();
        Handshake {
            headers: request.headers(),
            time: js_date_string(issued),
            address: request.address.map(|a| a.to_string()).unwrap_or_default(),
            xdomain: request.header("origin").is_some(),
            secure: false,
            issued,
            url,
            query: parse_query(request.query().unwrap_or("")),
            auth,
        }
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The handshake in the reference's JSON shape, as `fetch_sockets` carries it between nodes.
    pub fn to_json(&self) -> Value {
        let headers: Vec<(&str, &[u8])> =
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        HandshakeFields {
            headers: &headers,
            issued: self.issued,
            address: &self.address,
            xdomain: self.xdomain,
            secure: self.secure,
            url: &self.url,
            query: &self.query,
            auth: &self.auth,
        }
        .to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_like_node() {
        assert_eq!(
            parse_query("EIO=4&a=x%20y&b=1+2&flag&=v"),
            [("EIO", "4"), ("a", "x y"), ("b", "1 2"), ("flag", ""), ("", "v")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
