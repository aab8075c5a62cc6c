//! The browser client bundle served under the server's path (`Config::serve_client`), from the
//! real `socket.io-client` installed in `tests/js/node_modules`: found through the
//! configuration, through `SOCKETIO_CLIENT_DIST` or in the working directory's `node_modules`;
//! served with the reference server's headers; `304` on its ETag, `404` for a bundle name that
//! is not there; off when turned off; and the minified bundle served runs in Node.js.
//!
//! A server finds the bundle from its process's environment and working directory, which one
//! test process shares among its tests; so those cases run in a child process of this test
//! binary ([`in_child`]), which runs only [`child_serves_what_it_finds`] with the working
//! directory and the environment the case needs.

use crate::raw;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value as Json;
use socketio_server::{Config, ServeClient, SocketIo};
use tokio::process::Command;
use tokio::time::timeout;

use raw::http;
use support::{ensure_clients, js_dir, TestServer, NODE_TIMEOUT};

/// The files the reference serves, each with its content type.
const BUNDLE: [(&str, &str); 8] = [
    ("socket.io.js", JS),
    ("socket.io.js.map", MAP),
    ("socket.io.min.js", JS),
    ("socket.io.min.js.map", MAP),
    ("socket.io.esm.min.js", JS),
    ("socket.io.esm.min.js.map", MAP),
    ("socket.io.msgpack.min.js", JS),
    ("socket.io.msgpack.min.js.map", MAP),
];
const JS: &str = "application/javascript; charset=utf-8";
const MAP: &str = "application/json; charset=utf-8";

/// The child-process mode: the expected `dist` folder, or `none`.
const CHILD_VAR: &str = "SERVE_CLIENT_TEST_EXPECT";
/// What the server says when it serves the bundle.
const SERVING: &str = "serving the socket.io client bundle";

/// The installed `socket.io-client/dist`, installing it first if needed.
fn installed_dist() -> PathBuf {
    ensure_clients();
    js_dir().join("node_modules").join("socket.io-client").join("dist")
}

/// The installed client's version, quoted: the ETag the reference sends.
fn installed_etag(dist: &Path) -> String {
    let text = std::fs::read_to_string(dist.join("..").join("package.json")).expect("read package.json");
    let manifest: Json = serde_json::from_str(&text).expect("package.json is JSON");
    format!("\"{}\"", manifest["version"].as_str().expect("a version"))
}

/// A fresh folder under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("socketio-serve-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks that `server` serves every file of `dist`, byte for byte, with the reference's headers.
async fn assert_serves_bundle(server: &TestServer, dist: &Path) {
    let etag = installed_etag(dist);
    for (name, kind) in BUNDLE {
        let response = http(server.addr, "GET", &format!("/socket.io/{name}"), &[], &[]).await;
        assert_eq!(response.status, 200, "GET {name}");
        assert_eq!(response.header("content-type"), Some(kind), "content type of {name}");
        assert_eq!(response.header("cache-control"), Some("public, max-age=0"), "cache control of {name}");
        assert_eq!(response.header("etag"), Some(etag.as_str()), "ETag of {name}");
        let file = std::fs::read(dist.join(name)).expect("read the installed file");
        assert!(
            response.body == file,
            "{name}: {} bytes served, the file has {}",
            response.body.len(),
            file.len()
        );
    }
}

#[tokio::test]
async fn every_bundle_is_served_from_a_configured_folder_with_the_reference_headers() {
    let dist = installed_dist();
    let server =
        TestServer::start(Config { serve_client: ServeClient::Dir(dist.clone()), ..Config::default() }).await;
    assert_serves_bundle(&server, &dist).await;

    // A query string (a cache buster) does not matter; HEAD says how long the file is.
    let response = http(server.addr, "GET", "/socket.io/socket.io.min.js?v=1", &[], &[]).await;
    assert_eq!(response.status, 200);
    let length = std::fs::metadata(dist.join("socket.io.min.js")).expect("the file's size").len().to_string();
    let head = http(server.addr, "HEAD", "/socket.io/socket.io.min.js", &[], &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(length.as_str()));
    server.close().await;
}

#[tokio::test]
async fn a_matching_if_none_match_answers_304() {
    let dist = installed_dist();
    let etag = installed_etag(&dist);
    let server =
        TestServer::start(Config { serve_client: ServeClient::Dir(dist.clone()), ..Config::default() }).await;
    for (name, _) in BUNDLE {
        for tag in [etag.clone(), format!("W/{etag}")] {
            let target = format!("/socket.io/{name}");
            let response = http(server.addr, "GET", &target, &[("If-None-Match", &tag)], &[]).await;
            assert_eq!(response.status, 304, "GET {name} with If-None-Match: {tag}");
            assert!(response.body.is_empty(), "a 304 has no body");
        }
    }
    let stale =
        http(server.addr, "GET", "/socket.io/socket.io.js", &[("If-None-Match", "\"0.0.1\"")], &[]).await;
    assert_eq!(stale.status, 200, "another version's tag gets the file");
    server.close().await;
}

#[tokio::test]
async fn a_bundle_name_that_is_not_there_answers_404_and_other_paths_stay_engine_io() {
    let dist = installed_dist();
    // A folder holding one file of the bundle, and its package.json.
    let partial = TempDir::new("partial");
    let copy = partial.0.join("dist");
    std::fs::create_dir_all(&copy).expect("create dist");
    std::fs::copy(dist.join("socket.io.min.js"), copy.join("socket.io.min.js")).expect("copy the bundle");
    std::fs::copy(dist.join("..").join("package.json"), partial.0.join("package.json"))
        .expect("copy package.json");
    let server =
        TestServer::start(Config { serve_client: ServeClient::Dir(copy), ..Config::default() }).await;

    assert_eq!(http(server.addr, "GET", "/socket.io/socket.io.min.js", &[], &[]).await.status, 200);
    for (name, _) in BUNDLE.into_iter().filter(|(name, _)| *name != "socket.io.min.js") {
        let response = http(server.addr, "GET", &format!("/socket.io/{name}"), &[], &[]).await;
        assert_eq!(response.status, 404, "GET {name}: {}", response.text());
        assert!(!response.text().contains("\"code\""), "not an Engine.IO error: {}", response.text());
    }
    // Any other path under the server's path is Engine.IO's, as before.
    let other = http(server.addr, "GET", "/socket.io/other.js", &[], &[]).await;
    assert_eq!(other.status, 400);
    assert!(other.text().contains("\"code\":0"), "Engine.IO's answer: {}", other.text());
    server.close().await;
}

#[tokio::test]
async fn a_configured_folder_that_does_not_exist_answers_404() {
    let server = TestServer::start(Config {
        serve_client: ServeClient::Dir(PathBuf::from("/no/such/socket.io-client/dist")),
        ..Config::default()
    })
    .await;
    for (name, _) in BUNDLE {
        assert_eq!(
            http(server.addr, "GET", &format!("/socket.io/{name}"), &[], &[]).await.status,
            404,
            "{name}"
        );
    }
    server.close().await;
}

#[tokio::test]
async fn turned_off_every_path_is_engine_io() {
    let dist = installed_dist();
    assert_eq!(ServeClient::from(false), ServeClient::Off);
    let server = TestServer::start(Config { serve_client: ServeClient::Off, ..Config::default() }).await;
    for (name, _) in BUNDLE {
        let response = http(server.addr, "GET", &format!("/socket.io/{name}"), &[], &[]).await;
        assert_eq!(response.status, 400, "GET {name} goes to Engine.IO");
        assert!(response.text().contains("\"code\":0"), "Engine.IO's answer: {}", response.text());
    }
    // Even with the variable set for this server's process (checked in a child process).
    let empty = TempDir::new("off");
    let env = [("SOCKETIO_CLIENT_DIST", dist.as_os_str())];
    let out = in_child(&empty.0, &env, "off").await;
    assert!(!out.contains(SERVING), "nothing is served: {out}");
    server.close().await;
}

#[tokio::test]
async fn the_environment_variable_names_the_folder() {
    let dist = installed_dist();
    // A working directory with no node_modules anywhere up (the temporary folder).
    let empty = TempDir::new("env");
    let out =
        in_child(&empty.0, &[("SOCKETIO_CLIENT_DIST", dist.as_os_str())], &dist.to_string_lossy()).await;
    assert_eq!(out.matches(SERVING).count(), 1, "logged once: {out}");
    assert!(out.contains("SOCKETIO_CLIENT_DIST") && out.contains(&*dist.to_string_lossy()), "{out}");
}

#[tokio::test]
async fn a_variable_naming_no_bundle_is_a_warning_and_bundle_names_answer_404() {
    let empty = TempDir::new("env-missing");
    let missing = empty.0.join("no-such-dist");
    let out = in_child(&empty.0, &[("SOCKETIO_CLIENT_DIST", missing.as_os_str())], "none").await;
    assert!(!out.contains(SERVING), "{out}");
    assert!(out.contains("WARN") && out.contains(&*missing.to_string_lossy()), "a warning: {out}");
}

#[tokio::test]
async fn the_working_directory_and_its_parents_are_searched() {
    let dist = installed_dist();
    // From `tests/js` the package is in `./node_modules`; from inside the package, two folders
    // up, past a `node_modules` folder that is not looked into.
    for cwd in [js_dir(), dist.clone()] {
        let out = in_child(&cwd, &[], &dist.to_string_lossy()).await;
        assert_eq!(out.matches(SERVING).count(), 1, "from {}, logged once: {out}", cwd.display());
        assert!(out.contains(&*dist.to_string_lossy()), "from {}: {out}", cwd.display());
    }
}

#[tokio::test]
async fn nothing_found_is_not_alarming_and_bundle_names_answer_404() {
    let empty = TempDir::new("none");
    let out = in_child(&empty.0, &[], "none").await;
    assert!(!out.contains(SERVING), "{out}");
    assert!(!out.contains("WARN") && !out.contains("ERROR"), "no warning: {out}");
}

/// Runs [`child_serves_what_it_finds`] in a child process of this test binary, in `cwd`, with
/// `SOCKETIO_CLIENT_DIST` unset unless `env` sets it, expecting `expect` (a `dist` folder,
/// `none` or `off`); returns what it printed, after checking that it passed.
async fn in_child(cwd: &Path, env: &[(&str, &std::ffi::OsStr)], expect: &str) -> String {
    let exe = std::env::current_exe().expect("this test binary");
    // The harness names a test by its module path without the crate's name.
    let test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::child_serves_what_it_finds"),
        None => "child_serves_what_it_finds".to_owned(),
    };
    let mut command = Command::new(exe);
    command
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .current_dir(cwd)
        .env_remove("SOCKETIO_CLIENT_DIST")
        .env(CHILD_VAR, expect)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = timeout(NODE_TIMEOUT, command.output())
        .await
        .expect("the child test ends")
        .expect("run the child test");
    let out =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the child test failed in {}:\n{out}", cwd.display());
    assert!(out.contains("1 passed"), "the child test ran:\n{out}");
    out
}

/// In a child process only (see [`in_child`]): a server with the default configuration, in this
/// process's working directory and environment, serves the bundle of the expected folder, or
/// answers `404` (`none`) or Engine.IO's `400` (`off`) to the bundle names.
#[tokio::test]
async fn child_serves_what_it_finds() {
    let Some(expect) = std::env::var_os(CHILD_VAR) else { return };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let serve_client = if expect == "off" { ServeClient::Off } else { ServeClient::default() };
    let server = TestServer::serve(SocketIo::new(Config { serve_client, ..Config::default() })).await;
    if expect == "none" || expect == "off" {
        let status = if expect == "none" { 404 } else { 400 };
        for (name, _) in BUNDLE {
            assert_eq!(
                http(server.addr, "GET", &format!("/socket.io/{name}"), &[], &[]).await.status,
                status
            );
        }
    } else {
        assert_serves_bundle(&server, Path::new(&expect)).await;
    }
    server.close().await;
}

/// The script node runs: it fetches the minified bundle from the server, runs it as a browser
/// would (a plain script that defines the global `io`, through `vm`), connects with it over WebSocket and
/// prints the first `hello` event it gets. Node.js before 22 has no global `WebSocket`: the `ws`
/// package the npm client depends on stands in for it.
const NODE_SCRIPT: &str = r#"
const vm = require("vm");
const path = require("path");
const [url, jsDir] = process.argv.slice(1);
const report = (value, code) => { console.log(JSON.stringify(value)); process.exit(code); };
setTimeout(() => report({ error: "no hello in time" }, 2), 30000).unref();
(async () => {
  if (typeof WebSocket === "undefined") {
    globalThis.WebSocket = require(path.join(jsDir, "node_modules", "ws"));
  }
  const response = await fetch(url + "/socket.io/socket.io.min.js");
  const source = await response.text();
  // As a browser's <script>: `node -e` makes `module` and `exports` globals, which would turn
  // the bundle's UMD wrapper to CommonJS, so they are hidden from it.
  vm.runInThisContext("(function (module, exports, define) {\n" + source + "\n})", {
    filename: "socket.io.min.js",
  }).call(globalThis);
  if (typeof globalThis.io !== "function") report({ error: "the bundle defined no io()" }, 3);
  const socket = globalThis.io(url, { transports: ["websocket"], reconnection: false });
  socket.on("hello", (arg) => {
    socket.disconnect();
    report({ status: response.status, hello: arg }, 0);
  });
  socket.on("connect_error", (e) => report({ error: "connect_error: " + e.message }, 4));
})().catch((e) => report({ error: String(e && e.stack || e) }, 5));
"#;

#[tokio::test]
async fn the_served_minified_bundle_connects_from_node() {
    let dist = installed_dist();
    let server =
        TestServer::start(Config { serve_client: ServeClient::Dir(dist), ..Config::default() }).await;
    server.io.on_connection(|socket| async move {
        socket.emit("hello", "from the server").expect("emit hello");
    });
    let output = Command::new("node")
        .arg("-e")
        .arg(NODE_SCRIPT)
        .arg(server.url())
        .arg(js_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = timeout(NODE_TIMEOUT, output).await.expect("node ends").expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Json = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("node printed no report: {stdout}\n{}", String::from_utf8_lossy(&output.stderr))
    });
    assert!(output.status.success(), "node failed: {report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report, serde_json::json!({ "status": 200, "hello": "from the server" }));
    server.close().await;
}

#[tokio::test]
async fn an_application_intercept_hook_is_asked_first_and_the_bundle_still_served() {
    let dist = installed_dist();
    let config = Config { serve_client: ServeClient::Dir(dist.clone()), ..Config::default() };
    let io = SocketIo::builder(config)
        .engine(|engine| {
            engine.intercept(|parts| {
                (parts.uri.path() == "/socket.io/health" || parts.uri.path() == "/socket.io/socket.io.js")
                    .then(|| {
                        ::http::Response::builder()
                            .status(200)
                            .body(socketio_server::engine::ResponseBody::new("ok".into()))
                            .expect("a response")
                    })
            })
        })
        .build();
    let server = TestServer::serve(io).await;
    let health = http(server.addr, "GET", "/socket.io/health", &[], &[]).await;
    assert_eq!((health.status, &health.body[..]), (200, &b"ok"[..]));
    let overridden = http(server.addr, "GET", "/socket.io/socket.io.js", &[], &[]).await;
    assert_eq!(&overridden.body[..], b"ok", "the application's hook answers first");
    let bundle = http(server.addr, "GET", "/socket.io/socket.io.min.js", &[], &[]).await;
    assert_eq!(bundle.status, 200);
    assert_eq!(bundle.body, std::fs::read(dist.join("socket.io.min.js")).expect("read the file"));
    server.close().await;
}
