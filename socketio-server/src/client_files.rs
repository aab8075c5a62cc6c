//! Serving the browser client bundle under the server's path (the reference's `serveClient`).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use engineio_server::ResponseBody;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{Method, Response, StatusCode};

/// The files the reference serves, by name.
const FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The bundle, read once when the server is built.
pub(crate) struct ClientFiles {
    /// The request path prefix (`/socket.io/`).
    prefix: String,
    /// `"<version>"` of the client package, the files' ETag.
    etag: String,
    files: Vec<(&'static str, Bytes)>,
}

impl ClientFiles {
    /// Reads the bundle from `dist` (a `socket.io-client/dist` folder; the version comes from
    /// the package's `package.json` next to it). Files that are missing are not served.
    pub(crate) fn load(dist: &Path, prefix: String) -> std::io::Result<Arc<Self>> {
        let mut files = Vec::new();
        for name in FILES {
            match std::fs::read(dist.join(name)) {
                Ok(bytes) => files.push((name, Bytes::from(bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if files.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no socket.io client bundle in {}", dist.display()),
            ));
        }
        let version = std::fs::read_to_string(dist.join("..").join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|manifest| manifest["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "0".to_owned());
        Ok(Arc::new(ClientFiles { prefix, etag: format!("\"{version}\""), files }))
    }

    /// The answer to a request for one of the files, if it is one.
    pub(crate) fn answer(&self, parts: &http::request::Parts) -> Option<Response<ResponseBody>> {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return None;
        }
        let name = parts.uri.path().strip_prefix(&self.prefix)?;
        let (name, body) = self.files.iter().find(|(n, _)| *n == name)?;
        let cached = parts.headers.get(IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == self.etag.as_bytes());
        let builder = Response::builder().header(ETAG, &self.etag).header(CACHE_CONTROL, "public, max-age=0");
        let response = if cached {
            builder.status(StatusCode::NOT_MODIFIED).body(ResponseBody::new(Bytes::new()))
        } else {
            let kind = if name.ends_with(".map") {
                "application/json"
            } else {
                "application/javascript; charset=utf-8"
            };
            let builder = builder.status(StatusCode::OK).header(CONTENT_TYPE, kind);
            if parts.method == Method::HEAD {
                // The length of what a GET would get.
                builder.header(CONTENT_LENGTH, body.len()).body(ResponseBody::new(Bytes::new()))
            } else {
                builder.body(ResponseBody::new(body.clone()))
            }
        };
        response.ok()
    }
}
