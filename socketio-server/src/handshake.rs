//! What a socket knows of the request that opened its connection: the reference's
//! `socket.handshake`.

use engineio_parser::endpoint::parse_query;
use serde_json::{Map, Value};

/// The handshake of a socket. Built on demand from the connection's first request, which the
/// Engine.IO session keeps in compact form.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request's headers.
    pub headers: http::HeaderMap,
    /// When the socket connected, as JavaScript's `Date.prototype.toString` writes it (UTC):
    /// `Sun Nov 22 2026 10:00:00 GMT+0000 (Coordinated Universal Time)`.
    pub time: String,
    /// The client's IP address.
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
        let url = request.uri.to_string();
        Handshake {
            headers: request.headers(),
            time: js_date_string(issued),
            address: request.remote_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
            xdomain: request.header("origin").is_some(),
            secure: false,
            issued,
            url,
            query: parse_query(request.uri.query().unwrap_or("")),
            auth,
        }
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The handshake in the reference's JSON shape, as `fetch_sockets` carries it between nodes.
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                // Node joins repeated headers with `, ` (`set-cookie` aside).
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let mut query = Map::new();
        for (k, v) in &self.query {
            query.insert(k.clone(), Value::String(v.clone()));
        }
        serde_json::json!({
            "headers": headers,
            "time": self.time,
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

/// `Date.prototype.toString()` of `millis` in UTC.
pub(crate) fn js_date_string(millis: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = millis / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
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

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    fn queries_decode_like_node() {
        assert_eq!(
            parse_query("EIO=4&a=x%20y&b=1+2&flag&=v"),
            [("EIO", "4"), ("a", "x y"), ("b", "1 2"), ("flag", ""), ("", "v")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
