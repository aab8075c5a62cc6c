//! A socket's handshake in the reference's JSON shape, as `fetch_sockets` carries it between
//! nodes ([`SocketDetails::handshake`](crate::SocketDetails::handshake)): what a Node.js node
//! reads from a Rust node's answer, and the other way round.

use serde_json::{Map, Value};

/// The fields of the reference's `socket.handshake`.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeFields<'a> {
    /// The request's headers, in order, as (lowercase name, raw value) pairs.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// When the socket connected, in milliseconds since the Unix epoch.
    pub issued: u64,
    /// The client's IP address.
    pub address: &'a str,
    /// Whether the request was cross-origin.
    pub xdomain: bool,
    /// Whether the connection was encrypted.
    pub secure: bool,
    /// The request's URL (path and query).
    pub url: &'a str,
    /// The query string's parameters, decoded, in order.
    pub query: &'a [(String, String)],
    /// The `auth` payload of the client's `CONNECT`.
    pub auth: &'a Value,
}

impl HandshakeFields<'_> {
    /// The handshake as the reference writes it: repeated headers joined with `, `, the query
    /// as an object (the last value of a repeated name wins), `time` as JavaScript's
    /// `Date.prototype.toString` of `issued` in UTC.
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in self.headers {
            let value = String::from_utf8_lossy(value).into_owned();
            match headers.get_mut(*name) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert((*name).to_owned(), Value::String(value));
                }
            }
        }
        let query: Map<String, Value> =
            self.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        serde_json::json!({
            "headers": headers,
            "time": js_date_string(self.issued),
            "address": self.address,
            "xdomain": self.xdomain,
            "secure": self.secure,
            "issued": self.issued,
            "url": self.url,
            "query": query,
            "auth": self.auth,
        })
    }
}

/// `Date.prototype.toString()` of `millis` in UTC:
/// `Sun Nov 22 2026 10:00:00 GMT+0000 (Coordinated Universal Time)`.
pub fn js_date_string(millis: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = millis / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = engineio_parser::date::civil_date(days as i64);
    format!(
        "{} {} {:02} {:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_javascript() {
        assert_eq!(js_date_string(0), "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)");
        assert_eq!(
            js_date_string(1_795_341_600_123),
            "Sun Nov 22 2026 10:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn repeated_headers_are_joined_and_the_query_is_an_object() {
        let headers = [("accept", &b"a"[..]), ("x-many", b"1"), ("x-many", b"2")];
        let query = [("a".to_owned(), "1".to_owned()), ("a".to_owned(), "2".to_owned())];
        let auth = serde_json::json!({"token": "t"});
        let fields = HandshakeFields {
            headers: &headers,
            issued: 0,
            address: "127.0.0.1",
            xdomain: false,
            secure: false,
            url: "/socket.io/?a=1&a=2",
            query: &query,
            auth: &auth,
        };
        let json = fields.to_json();
        assert_eq!(json["headers"], serde_json::json!({"accept": "a", "x-many": "1, 2"}));
        assert_eq!(json["query"], serde_json::json!({"a": "2"}));
        assert_eq!(json["time"], "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)");
        assert_eq!(json["auth"], auth);
    }
}
