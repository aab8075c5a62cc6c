//! The deployment guide's nginx configuration (`docs/deployment.md`), run: a real nginx in
//! front of two nodes of the cluster example (`examples/cluster/node.rs`, in-process on
//! 127.0.0.1, `trust_proxy` set to 127.0.0.1) on a real `redis-server`, with the npm
//! `socket.io-client` 4.8.4 connecting through it over HTTPS.
//!
//! The configuration is the guide's block marked `<!-- tested: ... -->`, as it is but for the
//! listen ports, the upstream's two `server` addresses and the certificate paths (each of which
//! must appear exactly once, so the guide and the test cannot drift apart). It is read inside
//! an `http` block that only adds the log and temporary paths of a directory of the test's own.
//!
//! nginx runs in the foreground (`nginx -p DIR -e DIR/error.log -c DIR/nginx.conf -g 'daemon
//! off;'`), as `nobody` when the test runs as root, and is stopped by its PID when the test
//! ends, panics included ([`Nginx`]'s `Drop`). When nginx or `openssl` (for the self-signed
//! certificate) is missing and the test runs as root, it installs them with `apt-get`, each
//! command bounded by [`APT_LIMIT`]; otherwise it fails and says what to install.
//!
//! The guide's stickiness is `hash $remote_addr consistent`: the clients bind to several
//! loopback addresses (127.0.0.2, 127.0.0.3, ...) so that the hash spreads them over both
//! nodes. Probe clients first learn which node each address reaches (from the example's
//! `welcome`), then a client from an address of each node connects over long-polling only,
//! WebSocket only and the default upgrade. The test checks that each lands on its address's
//! node; broadcasts from either node reach all six; acks come back through the proxy; each node
//! sees the client's own address (also for a client that forges `X-Forwarded-For`) and
//! `X-Forwarded-Proto: https`; long-polling lives through several heartbeats; nginx's log shows
//! each address on one node and no `400` (`Session ID unknown`); and plain HTTP redirects to
//! HTTPS.

mod cluster;
mod support;

#[path = "../examples/cluster/node.rs"]
mod node;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use socketio_server::engine::{ForwardedHeader, TrustProxy};
use socketio_server::Config;
use tokio::process::Command;
use tokio::time::timeout;

use cluster::{eventually, RedisServer};
use support::{Mode, Node, TestServer};

/// The deployment guide, whose marked nginx block is the configuration under test.
const GUIDE: &str = include_str!("../../docs/deployment.md");
/// The comment right before the tested block.
const MARKER: &str = "<!-- tested: socketio-server/tests/nginx.rs";
/// How long each apt-get command may take.
const APT_LIMIT: Duration = Duration::from_secs(900);
/// How long nginx may take to start, and to stop when asked.
const NGINX_LIMIT: Duration = Duration::from_secs(10);
/// The loopback addresses the probe clients try, to find one address per node.
const PROBES: u8 = 16;
/// `nobody`/`nogroup` on Debian: who nginx runs as when the test runs as root.
const NOBODY: u32 = 65_534;

// -------------------------------------------------------------------------------------------
// Tools

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `command` to its end within `limit` (killed past it), failing unless it succeeds.
async fn run_bounded(mut command: Command, what: &str, limit: Duration) -> Result<(), String> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{what}`: {e}"))?;
    match timeout(limit, child.wait_with_output()).await {
        Err(_) => Err(format!("`{what}` took more than {limit:?}")),
        Ok(Err(e)) => Err(format!("waiting for `{what}`: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!(
            "`{what}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The binary `name`, installed from the Debian package `package` when it is missing and the
/// test runs as root.
async fn ensure_binary(name: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(binary) = find_binary(name) {
        return Ok(binary);
    }
    if !is_root() {
        return Err(format!(
            "{name} is not installed and this test is not running as root, so it cannot install \
             it: run `apt-get update && apt-get install -y {package}` and run the test again"
        ));
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    run_bounded(update, "apt-get update", APT_LIMIT).await?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", package]).env("DEBIAN_FRONTEND", "noninteractive");
    run_bounded(install, &format!("apt-get install -y {package}"), APT_LIMIT).await?;
    find_binary(name).ok_or_else(|| format!("apt-get installed {package}, but {name} is still missing"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

// -------------------------------------------------------------------------------------------
// The guide's configuration

/// The fenced block of language `lang` right after `marker` in the guide.
fn guide_block(marker: &str, lang: &str) -> &'static str {
    let (_, after) =
        GUIDE.split_once(marker).unwrap_or_else(|| panic!("docs/deployment.md has no `{marker}`"));
    let (_, after) = after.split_once("-->").expect("the marker comment ends");
    let fence = format!("```{lang}\n");
    let start = after.find(&fence).unwrap_or_else(|| panic!("no ```{lang} block after the marker"));
    assert!(after[..start].trim().is_empty(), "the ```{lang} block must follow the marker directly");
    let body = &after[start + fence.len()..];
    let end = body.find("\n```").expect("the block is closed");
    &body[..=end]
}

/// `text` with its one occurrence of `from` replaced by `to`.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    let count = text.matches(from).count();
    assert_eq!(
        count, 1,
        "docs/deployment.md's nginx configuration must hold `{from}` exactly once (found {count}): \
         keep nginx.rs's substitutions in step with the guide"
    );
    text.replacen(from, to, 1)
}

/// Where nginx listens and what it proxies to, for [`nginx_config`].
struct Site<'a> {
    http_port: u16,
    https_port: u16,
    nodes: [SocketAddr; 2],
    certificate: &'a Path,
    key: &'a Path,
}

/// The guide's block with the test's ports, nodes and certificate.
fn nginx_config(site: &Site<'_>) -> String {
    let block = guide_block(MARKER, "nginx");
    let mut config = replace_once(block, "listen 80;", &format!("listen 127.0.0.1:{};", site.http_port));
    config = replace_once(&config, "listen 443 ssl;", &format!("listen 127.0.0.1:{} ssl;", site.https_port));
    config = replace_once(&config, "server 127.0.0.1:3000;", &format!("server {};", site.nodes[0]));
    config = replace_once(&config, "server 127.0.0.1:3001;", &format!("server {};", site.nodes[1]));
    config = replace_once(
        &config,
        "/etc/letsencrypt/live/chat.example.com/fullchain.pem;",
        &format!("{};", site.certificate.display()),
    );
    replace_once(
        &config,
        "/etc/letsencrypt/live/chat.example.com/privkey.pem;",
        &format!("{};", site.key.display()),
    )
}

/// nginx's main configuration: the paths of `dir`, and the guide's block inside `http`.
fn main_config(dir: &Path, site_config: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\n\
         events {{\n    worker_connections 256;\n}}\n\
         http {{\n\
         log_format upstreams '$remote_addr $status $upstream_addr \"$request\"';\n\
         access_log {d}/access.log upstreams;\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         \n{site_config}\n}}\n"
    )
}

// -------------------------------------------------------------------------------------------
// nginx

/// A foreground nginx, stopped by its PID when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// Starts `binary` on `dir/nginx.conf` and waits until it accepts connections on `ports`.
    fn start(binary: &Path, dir: PathBuf, ports: [u16; 2]) -> Self {
        let mut command = std::process::Command::new(binary);
        command
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if is_root() {
            use std::os::unix::process::CommandExt;
            command.uid(NOBODY).gid(NOBODY);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut nginx = Nginx { child, dir };
        let deadline = Instant::now() + NGINX_LIMIT;
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = nginx.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("nginx exited at start ({status}):\n{stderr}\n{}", nginx.error_log());
            }
            if ports.iter().all(|&port| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()) {
                return nginx;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within {NGINX_LIMIT:?}\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn error_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        format!("nginx's error.log:\n{log}")
    }

    /// nginx's access log so far: `(client address, status, upstream, request)` per line.
    fn access_log(&self) -> Vec<(String, u16, String, String)> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        log.lines()
            .map(|line| {
                let (head, request) = line.split_once(" \"").unwrap_or((line, ""));
                let mut fields = head.split(' ');
                let address = fields.next().unwrap_or_default().to_owned();
                let status = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let upstream = fields.next().unwrap_or_default().to_owned();
                (address, status, upstream, request.trim_end_matches('"').to_owned())
            })
            .collect()
    }

    /// Asks nginx to stop (fast shutdown: the master stops its workers), then kills it if it
    /// has not exited within [`NGINX_LIMIT`].
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + NGINX_LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("nginx's files are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A directory of the test's own, writable by `nobody` when the test runs as root.
fn nginx_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("socketio-nginx-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("create nginx's directory");
    dir
}

/// Hands `dir` and its files to `nobody` when the test runs as root.
fn give_to_nginx(dir: &Path) {
    if !is_root() {
        return;
    }
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown nginx's directory");
    for entry in std::fs::read_dir(dir).expect("list nginx's directory") {
        let path = entry.expect("a directory entry").path();
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).expect("chown nginx's files");
    }
}

/// A self-signed certificate for 127.0.0.1 in `dir`: `(certificate, key)`.
async fn self_signed_certificate(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (certificate, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut command = Command::new(openssl);
    command
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .args(["-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
    if let Err(e) = run_bounded(command, "openssl req -x509", Duration::from_secs(60)).await {
        panic!("{e}");
    }
    (certificate, key)
}

/// Sends a plain HTTP request to `port` and returns the whole answer.
fn http_get(port: u16, path: &str, host: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to nginx over HTTP");
    stream.set_read_timeout(Some(support::WAIT)).expect("a read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

// -------------------------------------------------------------------------------------------
// The clients

/// A client of `scenario.js` bound to `address`, trusting `ca`.
fn client(name: &str, address: &str, mode: Mode, ca: &str) -> Json {
    json!({
        "name": name,
        "transports": mode.transports(),
        "agent": { "localAddress": address, "ca": ca },
    })
}

/// The node (`"a"` or `"b"`) that `welcome` names, for `client`.
async fn welcome_node(clients: &mut Node, client: &str) -> String {
    let welcome = clients.received(client, "welcome").await;
    welcome["args"][0]["node"].as_str().unwrap_or_else(|| panic!("{client}'s welcome: {welcome}")).to_owned()
}

/// The nodes' options: the proxy on 127.0.0.1 is trusted; heartbeats every second, so that
/// long-polling goes through several of them while the test runs.
fn node_config() -> Config {
    let mut config = Config::default();
    config.engine.trust_proxy = Some(TrustProxy {
        proxies: vec!["127.0.0.1".parse().expect("an address")],
        header: ForwardedHeader::XForwardedFor,
    });
    config.engine.ping_interval = Duration::from_secs(1);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_nginx_configuration_serves_two_nodes() {
    let nginx_binary = ensure_binary("nginx", "nginx").await.unwrap_or_else(|reason| panic!("{reason}"));
    let openssl = ensure_binary("openssl", "openssl").await.unwrap_or_else(|reason| panic!("{reason}"));
    let version = std::process::Command::new(&nginx_binary).arg("-v").output().expect("nginx -v");
    println!("{}", String::from_utf8_lossy(&version.stderr).trim());

    // Redis, and the two nodes of the cluster example behind the proxy.
    let redis = RedisServer::start();
    let (io_a, redis_a) = node::node("a", &redis.url(), node_config()).await.expect("node a");
    let (io_b, redis_b) = node::node("b", &redis.url(), node_config()).await.expect("node b");
    let a = TestServer::serve(io_a).await;
    let b = TestServer::serve(io_b).await;
    eventually("both nodes count two servers", || async {
        a.io.sockets().adapter().server_count().await == Ok(2)
            && b.io.sockets().adapter().server_count().await == Ok(2)
    })
    .await;
    let servers = BTreeMap::from([("a", &a), ("b", &b)]);

    // nginx with the guide's configuration.
    let dir = nginx_dir();
    let (certificate, key) = self_signed_certificate(&openssl, &dir).await;
    let ca = std::fs::read_to_string(&certificate).expect("read the certificate");
    let (http_port, https_port) = (free_port(), free_port());
    let site = Site { http_port, https_port, nodes: [a.addr, b.addr], certificate: &certificate, key: &key };
    std::fs::write(dir.join("nginx.conf"), main_config(&dir, &nginx_config(&site)))
        .expect("write nginx.conf");
    give_to_nginx(&dir);
    let mut nginx = Nginx::start(&nginx_binary, dir, [http_port, https_port]);
    let url = format!("https://127.0.0.1:{https_port}");

    // Plain HTTP is redirected to HTTPS.
    let redirect = http_get(http_port, "/socket.io/?EIO=4&transport=polling", "chat.example.com");
    assert!(redirect.starts_with("HTTP/1.1 301"), "{redirect}");
    assert!(
        redirect.contains("Location: https://chat.example.com/socket.io/?EIO=4&transport=polling\r\n"),
        "{redirect}"
    );

    // Which node each loopback address reaches through `hash $remote_addr consistent`.
    let probe_addresses: Vec<String> = (2..2 + PROBES).map(|last| format!("127.0.0.{last}")).collect();
    let probes: Vec<Json> = probe_addresses
        .iter()
        .map(|address| client(&format!("probe {address}"), address, Mode::WebSocket, &ca))
        .collect();
    let mut probing = Node::spawn("probes through nginx", &url, Json::Array(probes));
    let mut address_of_node: BTreeMap<String, String> = BTreeMap::new();
    for address in &probe_addresses {
        let node = welcome_node(&mut probing, &format!("probe {address}")).await;
        address_of_node.entry(node).or_insert_with(|| address.clone());
    }
    probing.exit().await;
    let (Some(address_a), Some(address_b)) = (address_of_node.get("a"), address_of_node.get("b")) else {
        panic!("the {PROBES} probe addresses all reached one node: {address_of_node:?}")
    };
    println!("through nginx, {address_a} reaches node a and {address_b} node b");

    // From an address of each node: long-polling only, WebSocket only, and the upgrade.
    let modes = [("poll", Mode::Polling), ("ws", Mode::WebSocket), ("up", Mode::Upgrade)];
    let mut specs = Vec::new();
    let mut expected: Vec<(String, &str, &str, Mode)> = Vec::new();
    for (node, address) in [("a", address_a.as_str()), ("b", address_b.as_str())] {
        for (prefix, mode) in modes {
            let name = format!("{prefix}-{node}");
            let mut spec = client(&name, address, mode, &ca);
            if name == "poll-b" {
                // A client that forges its address: the node believes only the proxy's part.
                spec["extraHeaders"] = json!({ "X-Forwarded-For": "203.0.113.9" });
            }
            specs.push(spec);
            expected.push((name, node, address, mode));
        }
    }
    let mut clients = Node::spawn("clients through nginx", &url, Json::Array(specs));
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for (name, node, address, mode) in &expected {
        let connect = clients.next(name, "connect").await;
        assert_eq!(connect["transport"], mode.first_transport(), "{name}'s first transport: {connect}");
        let id = connect["id"].as_str().expect("the client reports its id").to_owned();
        assert_eq!(
            welcome_node(&mut clients, name).await,
            *node,
            "{name} (from {address}) reached another node"
        );
        mode.settle(&mut clients, name).await;
        let socket = servers[node].socket("/", &id).await;
        // The client's own address, through the trusted proxy.
        assert_eq!(socket.handshake().address, *address, "{name}'s address as node {node} sees it");
        let peer = socket.conn().remote_address().expect("the peer's address");
        assert_eq!(peer.ip(), Ipv4Addr::LOCALHOST, "{name}'s peer is the proxy");
        let headers = socket.conn().request_headers();
        assert_eq!(headers.get("x-forwarded-proto").map(|v| v.as_bytes()), Some(&b"https"[..]), "{name}");
        eventually(&format!("{name} on {}", mode.final_transport()), || {
            let transport = socket.conn().transport();
            async move { transport == mode.final_transport() }
        })
        .await;
        ids.insert(name.clone(), id);
    }

    // A broadcast from a client of either node reaches the clients of both.
    for (sender, text) in [("poll-a", "from a, over long-polling"), ("ws-b", "from b, over WebSocket")] {
        clients.emit(sender, "chat", json!([text])).await;
        let node = &sender[sender.len() - 1..];
        let message = json!([{ "node": node, "from": ids[sender], "text": text }]);
        for (name, ..) in &expected {
            assert_eq!(clients.received(name, "chat").await["args"], message, "{name} receiving {text:?}");
        }
    }

    // Acknowledgements through the proxy, on every transport.
    let everyone: BTreeSet<String> = expected
        .iter()
        .map(|(name, node, ..)| json!({ "id": ids[name], "node": node }).to_string())
        .collect();
    for (asker, ..) in &expected {
        let who = clients.call(asker, "who", json!([])).await;
        let seen: BTreeSet<String> = who[0].as_array().into_iter().flatten().map(Json::to_string).collect();
        assert_eq!(seen, everyone, "`who` asked by {asker}");
    }
    assert_eq!(clients.call("up-a", "nodes", json!([])).await, json!([["a", "b"]]));
    assert_eq!(clients.call("poll-b", "join", json!(["ops"])).await, json!([true]));
    clients.emit("ws-a", "say", json!([{ "room": "ops", "text": "ops only" }])).await;
    let said = json!([{ "node": "a", "from": ids["ws-a"], "text": "ops only" }]);
    assert_eq!(clients.received("poll-b", "chat").await["args"], said);

    // Long-polling lives on through heartbeats (one a second): same sockets, still connected.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (name, ..) in &expected {
        let state = clients.state(name).await;
        assert_eq!(state["connected"], true, "{name} after a few heartbeats: {state}");
        assert_eq!(state["id"].as_str(), Some(ids[name].as_str()), "{name} kept its socket");
    }
    let again = clients.call("poll-a", "who", json!([])).await;
    assert_eq!(again[0].as_array().map(Vec::len), Some(expected.len()));
    clients.exit().await;

    // nginx's side: every address on one node, both nodes used, no `Session ID unknown`.
    let log = nginx.access_log();
    let proxied: Vec<_> = log.iter().filter(|(.., request)| request.contains("/socket.io/")).collect();
    let mut upstreams_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (address, status, upstream, request) in &proxied {
        if request.contains("EIO=4") && *status != 301 {
            assert!(
                matches!(status, 101 | 200 | 499),
                "nginx answered {status} to {address}'s {request} (through {upstream})"
            );
            upstreams_of.entry(address).or_default().insert(upstream);
        }
    }
    for (address, upstreams) in &upstreams_of {
        assert_eq!(upstreams.len(), 1, "{address}'s requests went to several nodes: {upstreams:?}");
    }
    let used: BTreeSet<&str> = upstreams_of.values().flatten().copied().collect();
    let nodes: BTreeSet<String> = [a.addr.to_string(), b.addr.to_string()].into();
    assert_eq!(used.iter().map(|u| u.to_string()).collect::<BTreeSet<_>>(), nodes, "both nodes served");
    let polls = proxied.iter().filter(|(.., request)| request.contains("transport=polling")).count();
    println!("nginx proxied {} requests ({polls} long-polling) to {used:?}, none refused", proxied.len());

    nginx.stop();
    drop(nginx);
    a.close().await;
    b.close().await;
    redis_a.shutdown();
    redis_b.shutdown();
    drop(redis);
}
