//! Serving the browser client bundle under the server's path (the reference's `serveClient`).
//!
//! Where the bundle comes from is decided once, when the server is built ([`locate`]), and the
//! files are read then ([`ClientFiles::load`]); requests are answered from memory.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use engineio_server::ResponseBody;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{Response, StatusCode};
use socketio_parser::bundle::{self, Answer, FILES};

use crate::config::ServeClient;

/// The environment variable that names the bundle's folder for [`ServeClient::Find`].
pub(crate) const DIST_VAR: &str = "SOCKETIO_CLIENT_DIST";

/// Where the bundle's folder is, and who said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Located {
    /// Serving is off.
    Off,
    /// The folder of [`ServeClient::Dir`].
    Configured(PathBuf),
    /// The folder [`DIST_VAR`] names.
    Environment(PathBuf),
    /// A `node_modules/socket.io-client/dist` found from the start folder.
    Found(PathBuf),
    /// No folder: none was configured and the search from `start` found none.
    Missing { start: PathBuf },
}

impl Located {
    /// The folder, if there is one.
    fn dir(&self) -> Option<&Path> {
        match self {
            Located::Configured(dir) | Located::Environment(dir) | Located::Found(dir) => Some(dir),
            Located::Off | Located::Missing { .. } => None,
        }
    }

    /// Whether the user named the folder: a folder that cannot be served is then worth a warning.
    fn explicit(&self) -> bool {
        matches!(self, Located::Configured(_) | Located::Environment(_))
    }

    fn source(&self) -> &'static str {
        match self {
            Located::Configured(_) => "Config::serve_client",
            Located::Environment(_) => DIST_VAR,
            Located::Found(_) | Located::Missing { .. } | Located::Off => "node_modules",
        }
    }
}

/// Where the bundle comes from for `setting`, given the value of [`DIST_VAR`] (`env`, an empty
/// value counting as unset) and the folder the search starts from (`start`, the working
/// directory). In order: the configured folder, the variable's, then the first
/// `node_modules/socket.io-client/dist` in `start` or one of its parents, as Node.js resolves a
/// package (a folder itself named `node_modules` gets no `node_modules/node_modules` look).
pub(crate) fn locate(setting: &ServeClient, env: Option<OsString>, start: &Path) -> Located {
    match setting {
        ServeClient::Off => Located::Off,
        ServeClient::Dir(dir) => Located::Configured(dir.clone()),
        ServeClient::Find => match env.filter(|value| !value.is_empty()) {
            Some(dir) => Located::Environment(PathBuf::from(dir)),
            None => start
                .ancestors()
                .filter(|dir| dir.file_name().is_none_or(|name| name != "node_modules"))
                .map(|dir| dir.join("node_modules").join("socket.io-client").join("dist"))
                .find(|dist| dist.is_dir())
                .map_or_else(|| Located::Missing { start: start.to_owned() }, Located::Found),
        },
    }
}

/// The bundle's answers for a server at `path` (its Engine.IO path), if serving is on: the
/// files of the folder `setting` leads to, read now, or none (every bundle name then answers
/// `404`). Logs once where the files came from, or why there are none.
pub(crate) fn setup(setting: &ServeClient, path: &str) -> Option<Arc<ClientFiles>> {
    let start = match setting {
        ServeClient::Find => std::env::current_dir().unwrap_or_else(|e| {
            tracing::debug!(error = %e, "serve_client: no working directory to look for socket.io-client in");
            PathBuf::new()
        }),
        ServeClient::Off | ServeClient::Dir(_) => PathBuf::new(),
    };
    let env = match setting {
        ServeClient::Find => std::env::var_os(DIST_VAR),
        ServeClient::Off | ServeClient::Dir(_) => None,
    };
    let located = locate(setting, env, &start);
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let loaded = match (&located, located.dir()) {
        (Located::Off, _) => return None,
        (Located::Missing { start }, _) => {
            tracing::debug!(
                start = %start.display(),
                "serve_client: no node_modules/socket.io-client/dist here or above, and {DIST_VAR} \
                 is not set: the client bundle is not served"
            );
            ClientFiles::empty(prefix)
        }
        (_, Some(dir)) => match ClientFiles::load(dir, prefix.clone()) {
            Ok(files) => {
                tracing::info!(
                    dir = %dir.display(),
                    from = located.source(),
                    version = %files.etag,
                    files = files.files.len(),
                    "serve_client: serving the socket.io client bundle at {prefix}"
                );
                files
            }
            Err(e) if located.explicit() => {
                tracing::warn!(dir = %dir.display(), from = located.source(), error = %e,
                    "serve_client: the client bundle is not served");
                ClientFiles::empty(prefix)
            }
            Err(e) => {
                tracing::info!(dir = %dir.display(), from = located.source(), error = %e,
                    "serve_client: the client bundle is not served");
                ClientFiles::empty(prefix)
            }
        },
        (_, None) => ClientFiles::empty(prefix),
    };
    Some(Arc::new(loaded))
}

/// The bundle, read once when the server is built.
pub(crate) struct ClientFiles {
    /// The request path prefix (`/socket.io/`).
    prefix: String,
    /// `"<version>"` of the client package, the files' ETag.
    etag: String,
    files: Vec<(&'static str, Bytes)>,
}

impl ClientFiles {
    /// No files: every bundle name answers `404`.
    fn empty(prefix: String) -> Self {
        ClientFiles { prefix, etag: String::new(), files: Vec::new() }
    }

    /// Reads the bundle from `dist` (a `socket.io-client/dist` folder; the version comes from
    /// the package's `package.json` next to it). Files that are missing are not served; a folder
    /// with none of them is an error.
    pub(crate) fn load(dist: &Path, prefix: String) -> io::Result<Self> {
        let mut files = Vec::new();
        for name in FILES {
            match std::fs::read(dist.join(name)) {
                Ok(bytes) => files.push((name, Bytes::from(bytes))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(io::Error::new(e.kind(), format!("{}: {e}", dist.join(name).display())))
                }
            }
        }
        if files.is_empty() {
            let reason = if dist.is_dir() { "holds none of the bundle's files" } else { "is not a folder" };
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} {reason}", dist.display())));
        }
        let etag = format!(
            "\"{}\"",
            version(dist).unwrap_or_else(|| bundle::content_tag(files.iter().map(|(_, body)| &body[..])))
        );
        Ok(ClientFiles { prefix, etag, files })
    }

    /// The answer to a `GET` or `HEAD` of one of the bundle names, if it is one.
    pub(crate) fn answer(&self, parts: &http::request::Parts) -> Option<Response<ResponseBody>> {
        let tags = parts.headers.get_all(IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok());
        let file = |name: &str| self.files.iter().find(|(n, _)| *n == name).map(|(_, body)| body);
        let answer = bundle::answer(
            parts.method.as_str(),
            parts.uri.path(),
            &self.prefix,
            tags,
            &self.etag,
            |name| file(name).is_some(),
        )?;
        let tagged =
            || Response::builder().header(ETAG, &self.etag).header(CACHE_CONTROL, bundle::CACHE_CONTROL);
        let empty = ResponseBody::new(Bytes::new());
        let response = match answer {
            Answer::NotFound => Response::builder().status(StatusCode::NOT_FOUND).body(empty),
            Answer::NotModified => tagged().status(StatusCode::NOT_MODIFIED).body(empty),
            Answer::File { name, content_type, body } => {
                let bytes = file(name)?;
                let builder = tagged().status(StatusCode::OK).header(CONTENT_TYPE, content_type);
                match body {
                    true => builder.body(ResponseBody::new(bytes.clone())),
                    // The length of what a GET would get.
                    false => builder.header(CONTENT_LENGTH, bytes.len()).body(empty),
                }
            }
        };
        response.ok()
    }
}

/// The `version` of the `package.json` next to `dist`.
fn version(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.join("..").join("package.json")).ok()?;
    let manifest = serde_json::from_str::<serde_json::Value>(&text).ok()?;
    manifest["version"]
        .as_str()
        .filter(|v| v.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty folder under the system's temporary folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("socketio-client-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create a temporary folder");
            TempDir(dir)
        }

        /// Creates `dir/<relative>/node_modules/socket.io-client/dist` and returns it.
        fn install_at(&self, relative: &str) -> PathBuf {
            let dist = self.0.join(relative).join("node_modules").join("socket.io-client").join("dist");
            std::fs::create_dir_all(&dist).expect("create a dist folder");
            dist
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_search_finds_the_package_in_the_start_folder() {
        let tmp = TempDir::new("start");
        let dist = tmp.install_at("app");
        let start = tmp.0.join("app");
        assert_eq!(locate(&ServeClient::Find, None, &start), Located::Found(dist));
    }

    #[test]
    fn the_search_walks_up_to_the_nearest_package() {
        let tmp = TempDir::new("parents");
        let outer = tmp.install_at("");
        let inner = tmp.install_at("a");
        let deep = tmp.0.join("a").join("b").join("c");
        std::fs::create_dir_all(&deep).expect("create nested folders");
        assert_eq!(locate(&ServeClient::Find, None, &deep), Located::Found(inner.clone()));
        std::fs::remove_dir_all(tmp.0.join("a").join("node_modules")).expect("remove the inner package");
        assert_eq!(locate(&ServeClient::Find, None, &deep), Located::Found(outer));
    }

    #[test]
    fn a_node_modules_folder_is_not_looked_into_twice() {
        let tmp = TempDir::new("nested");
        let dist = tmp.install_at("");
        // From inside node_modules/some-package, Node.js skips node_modules/node_modules.
        let nested = tmp.0.join("node_modules").join("node_modules").join("socket.io-client").join("dist");
        std::fs::create_dir_all(&nested).expect("create a nested dist");
        let start = tmp.0.join("node_modules").join("some-package");
        std::fs::create_dir_all(&start).expect("create a package folder");
        assert_eq!(locate(&ServeClient::Find, None, &start), Located::Found(dist));
    }

    #[test]
    fn the_search_stops_at_the_root_when_nothing_is_installed() {
        // A relative start folder with no package: its ancestors end with "" (no further).
        let start = Path::new("no-such-folder-socketio-client-files/below");
        assert_eq!(locate(&ServeClient::Find, None, start), Located::Missing { start: start.to_owned() });
    }

    #[test]
    fn the_environment_variable_comes_before_the_search() {
        let tmp = TempDir::new("env");
        tmp.install_at("");
        let named = Some(OsString::from("/elsewhere/dist"));
        assert_eq!(
            locate(&ServeClient::Find, named, &tmp.0),
            Located::Environment(PathBuf::from("/elsewhere/dist"))
        );
        // An empty value counts as unset.
        assert!(matches!(locate(&ServeClient::Find, Some(OsString::new()), &tmp.0), Located::Found(_)));
    }

    #[test]
    fn a_configured_folder_comes_before_the_environment_and_off_looks_nowhere() {
        let tmp = TempDir::new("config");
        tmp.install_at("");
        let env = || Some(OsString::from("/elsewhere/dist"));
        let dir = PathBuf::from("/configured/dist");
        assert_eq!(locate(&ServeClient::Dir(dir.clone()), env(), &tmp.0), Located::Configured(dir));
        assert_eq!(locate(&ServeClient::Off, env(), &tmp.0), Located::Off);
    }

    #[test]
    fn a_folder_without_package_json_gets_a_tag_of_its_bytes() {
        let tmp = TempDir::new("no-manifest");
        std::fs::write(tmp.0.join("socket.io.js"), "one").expect("write a bundle");
        let first = ClientFiles::load(&tmp.0, "/socket.io/".to_owned()).expect("load").etag;
        std::fs::write(tmp.0.join("socket.io.js"), "two").expect("write a bundle");
        let second = ClientFiles::load(&tmp.0, "/socket.io/".to_owned()).expect("load").etag;
        assert_ne!(first, second);
        assert!(first.starts_with('"') && first.ends_with('"'), "{first} is quoted");
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let tmp = TempDir::new("empty");
        let e = ClientFiles::load(&tmp.0, "/socket.io/".to_owned()).err().expect("no files is an error");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
