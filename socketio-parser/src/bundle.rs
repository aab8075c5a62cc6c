//! The rules of serving the browser client bundle under the server's path (the reference's
//! `serveClient`): which names are served, and what a request for one of them gets. Reading the
//! files and writing the answer is the server's part.
//!
//! ```
//! use socketio_parser::bundle::{answer, Answer};
//!
//! let etag = "\"4.8.4\"";
//! let installed = |name: &str| name == "socket.io.min.js";
//! let get = |path, if_none_match: &[&str]| {
//!     answer("GET", path, "/socket.io/", if_none_match.iter().copied(), etag, installed)
//! };
//! assert_eq!(
//!     get("/socket.io/socket.io.min.js", &[]),
//!     Some(Answer::File { name: "socket.io.min.js", content_type: "application/javascript; charset=utf-8", body: true })
//! );
//! assert_eq!(get("/socket.io/socket.io.min.js", &["W/\"4.8.4\""]), Some(Answer::NotModified));
//! assert_eq!(get("/socket.io/socket.io.js", &[]), Some(Answer::NotFound));
//! assert_eq!(get("/socket.io/other.js", &[]), None, "not a bundle name: Engine.IO's");
//! ```

/// The files the reference serves, by name.
pub const FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The `Cache-Control` of every answer with the file's ETag (`200` and `304`).
pub const CACHE_CONTROL: &str = "public, max-age=0";

/// What a request for one of the bundle's names gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `200` with the file `name` (with `ETag` and [`CACHE_CONTROL`]): its bytes when `body`,
    /// else (a `HEAD`) only their `Content-Length`.
    File {
        /// One of [`FILES`].
        name: &'static str,
        /// The `Content-Type`.
        content_type: &'static str,
        /// Whether the bytes go out (`GET`) or only their length (`HEAD`).
        body: bool,
    },
    /// `304` (with `ETag` and [`CACHE_CONTROL`]): the client's copy is this version.
    NotModified,
    /// `404`: a bundle name whose file is not installed.
    NotFound,
}

/// The answer to a request with `method` for `path`, when `path` is `prefix` (the server's
/// path, `/socket.io/`) followed by one of the bundle's names; `None` for any other request,
/// which is Engine.IO's. `if_none_match` are the request's `If-None-Match` values, `etag` the
/// installed version's tag, and `installed` says which files are there.
pub fn answer<'a>(
    method: &str,
    path: &str,
    prefix: &str,
    if_none_match: impl IntoIterator<Item = &'a str>,
    etag: &str,
    installed: impl Fn(&str) -> bool,
) -> Option<Answer> {
    let body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => return None,
    };
    let name = path.strip_prefix(prefix)?;
    let name = FILES.into_iter().find(|n| *n == name)?;
    Some(if !installed(name) {
        Answer::NotFound
    } else if if_none_match.into_iter().any(|value| etag_matches(value, etag)) {
        Answer::NotModified
    } else {
        Answer::File { name, content_type: content_type(name), body }
    })
}

/// The `Content-Type` of bundle file `name`: JSON for a source map, JavaScript otherwise.
pub fn content_type(name: &str) -> &'static str {
    if name.ends_with(".map") {
        "application/json; charset=utf-8"
    } else {
        "application/javascript; charset=utf-8"
    }
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags, weak (`W/"…"`) or
/// strong, compared weakly (RFC 9110, 13.1.2). The reference compares the whole value with the
/// strong and the weak tag; this answers those too.
pub fn etag_matches(value: &str, etag: &str) -> bool {
    value.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A tag of the files' bytes (FNV-1a, 64 bits, as 16 hex digits), for a bundle whose version
/// is unknown.
pub fn content_tag<'a>(files: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in files.into_iter().flatten() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"4.8.4\"";

    fn get(method: &str, path: &str, if_none_match: &[&str]) -> Option<Answer> {
        answer(method, path, "/socket.io/", if_none_match.iter().copied(), ETAG, |n| n != "socket.io.js.map")
    }

    #[test]
    fn every_bundle_name_gets_its_file_with_its_content_type() {
        for name in FILES.into_iter().filter(|n| *n != "socket.io.js.map") {
            let kind = if name.ends_with(".js") { "application/javascript" } else { "application/json" };
            let expected = Answer::File { name, content_type: content_type(name), body: true };
            assert_eq!(get("GET", &format!("/socket.io/{name}"), &[]), Some(expected));
            assert!(content_type(name).starts_with(kind), "{name}");
            assert!(content_type(name).ends_with("; charset=utf-8"), "{name}");
            let head = Answer::File { name, content_type: content_type(name), body: false };
            assert_eq!(get("HEAD", &format!("/socket.io/{name}"), &[]), Some(head));
        }
        assert_eq!(content_type("socket.io.js"), "application/javascript; charset=utf-8");
        assert_eq!(content_type("socket.io.js.map"), "application/json; charset=utf-8");
    }

    #[test]
    fn other_requests_are_not_the_bundles() {
        assert_eq!(get("POST", "/socket.io/socket.io.js", &[]), None);
        assert_eq!(get("PUT", "/socket.io/socket.io.js", &[]), None);
        assert_eq!(get("GET", "/socket.io/", &[]), None);
        assert_eq!(get("GET", "/socket.io/socket.io.jsx", &[]), None);
        assert_eq!(get("GET", "/other/socket.io.js", &[]), None);
        assert_eq!(get("GET", "/socket.io/sub/socket.io.js", &[]), None);
    }

    #[test]
    fn a_missing_file_is_404_whatever_the_tags() {
        assert_eq!(get("GET", "/socket.io/socket.io.js.map", &[]), Some(Answer::NotFound));
        assert_eq!(get("HEAD", "/socket.io/socket.io.js.map", &[ETAG]), Some(Answer::NotFound));
    }

    #[test]
    fn a_matching_tag_in_any_value_is_304() {
        assert_eq!(get("GET", "/socket.io/socket.io.js", &[ETAG]), Some(Answer::NotModified));
        assert_eq!(
            get("HEAD", "/socket.io/socket.io.js", &["\"1.0.0\"", "W/\"4.8.4\""]),
            Some(Answer::NotModified)
        );
        let fresh =
            Answer::File { name: "socket.io.js", content_type: content_type("socket.io.js"), body: true };
        assert_eq!(get("GET", "/socket.io/socket.io.js", &["\"1.0.0\""]), Some(fresh));
    }

    #[test]
    fn if_none_match_accepts_the_strong_and_weak_tags_and_lists() {
        for value in ["\"4.8.4\"", "W/\"4.8.4\"", "*", "\"1.0.0\", W/\"4.8.4\"", " \"4.8.4\" "] {
            assert!(etag_matches(value, ETAG), "{value} matches");
        }
        for value in ["4.8.4", "\"4.8.5\"", "w/\"4.8.4\"", "\"1.0.0\", \"2.0.0\"", ""] {
            assert!(!etag_matches(value, ETAG), "{value} does not match");
        }
    }

    #[test]
    fn content_tags_are_fnv_1a_of_every_byte_in_order() {
        assert_eq!(content_tag([]), "cbf29ce484222325", "the offset basis");
        assert_eq!(content_tag([&b"a"[..]]), "af63dc4c8601ec8c");
        assert_eq!(content_tag([&b"fo"[..], &b"obar"[..]]), content_tag([&b"foobar"[..]]));
        assert_eq!(content_tag([&b"foobar"[..]]), "85944171f73967e8");
        assert_ne!(content_tag([&b"ab"[..]]), content_tag([&b"ba"[..]]));
    }
}
