//! The deployment guide's proxy configurations (`docs/deployment.md`), run: a real nginx, and
//! a real HAProxy, in front of two nodes of the cluster example (`examples/cluster/node.rs`,
//! in-process on 127.0.0.1, `trust_proxy` set to 127.0.0.1) on a real `redis-server`, with the
//! npm `socket.io-client` 4.8.4 connecting through the proxy over HTTPS.
//!
//! Each configuration is the guide's block marked `<!-- tested: ... -->`, as it is but for the
//! listen ports, the two node addresses and the certificate paths (and HAProxy's log target),
//! each of which must appear exactly once, so the guide and the test cannot drift apart. nginx
//! reads the block inside an `http` block that only adds the log and temporary paths of a
//! directory of the test's own.
//!
//! The proxies run in the foreground (`nginx -p DIR -e DIR/error.log -c DIR/nginx.conf -g
//! 'daemon off;'`, `haproxy -f DIR/haproxy.cfg -db`), as `nobody` when the test runs as root,
//! and are stopped by their PID when the test ends, panics included ([`Proxy`]'s `Drop`). When
//! a proxy or `openssl` (for the self-signed certificate) is missing and the test runs as
//! root, it is installed with `apt-get`, each command bounded by [`APT_LIMIT`]; otherwise the
//! test fails and says what to install.
//!
//! nginx's stickiness is `hash $remote_addr consistent`: the clients bind to several loopback
//! addresses (127.0.0.2, 127.0.0.3, ...) so that the hash spreads them over both nodes. Probe
//! clients first learn which node each address reaches (from the example's `welcome`), then a
//! client from an address of each node connects over long-polling only, WebSocket only and the
//! default upgrade. HAProxy's stickiness is the nodes' `io` cookie (`cookie io prefix`): six
//! clients that keep cookies connect from one address, and round robin spreads their
//! handshakes over the nodes.
//!
//! Through either proxy the test checks that broadcasts from a client of either node reach all
//! the clients; acks come back; each node sees the client's own address (also for a client
//! that forges `X-Forwarded-For`) and `X-Forwarded-Proto: https`; long-polling lives through
//! several heartbeats; the proxy's log shows every session (and, for nginx, every address) on
//! one node and no `400` (`Session ID unknown`); and plain HTTP redirects to HTTPS.

use crate::browser::APT_LOCK;
use crate::cluster;
use crate::support;

use crate::node;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use socketio_server::adapter::RedisClients;
use socketio_server::engine::{Cookie, ForwardedHeader, TrustProxy};
use socketio_server::Config;
use tokio::process::Command;
use tokio::time::timeout;

use cluster::RedisServer;
use support::node_peer::eventually;
use support::{Mode, Node, TestServer};

/// The deployment guide, whose marked blocks are the configurations under test.
const GUIDE: &str = include_str!("../../../docs/deployment.md");
/// How long each apt-get command may take.
const APT_LIMIT: Duration = Duration::from_secs(900);
/// How long a proxy may take to start, and to stop when asked.
const PROXY_LIMIT: Duration = Duration::from_secs(10);
/// The loopback addresses the probe clients try, to find one address per node behind nginx.
const PROBES: u8 = 16;
/// `nobody`/`nogroup` on Debian: who the proxies run as when the test runs as root.
const NOBODY: u32 = 65_534;
/// The address the forging client claims in its own `X-Forwarded-For`.
const FORGED: &str = "203.0.113.9";

/// One test at a time installs packages or starts Redis (which may install it): apt-get
/// holds a lock that a second apt-get would fail on.
static INSTALLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// The binary `name`, installed from the Debian package of the same name when it is missing
/// and the test runs as root.
async fn ensure_binary(name: &str) -> Result<PathBuf, String> {
    if let Some(binary) = find_binary(name) {
        return Ok(binary);
    }
    if !is_root() {
        return Err(format!(
            "{name} is not installed and this test is not running as root, so it cannot install \
             it: run `apt-get update && apt-get install -y {name}` and run the test again"
        ));
    }
    // Under the lock the other installing tests take too (see `browser::APT_LOCK`).
    let mut update = Command::new("flock");
    update.args([APT_LOCK, "apt-get", "update"]);
    run_bounded(update, "apt-get update", APT_LIMIT).await?;
    let mut install = Command::new("flock");
    install.args([APT_LOCK, "apt-get", "install", "-y", name]).env("DEBIAN_FRONTEND", "noninteractive");
    run_bounded(install, &format!("apt-get install -y {name}"), APT_LIMIT).await?;
    find_binary(name).ok_or_else(|| format!("apt-get installed {name}, but it is still missing"))
}

/// The proxy's binary and `openssl` (installed if need be), and a running `redis-server`.
async fn prerequisites(proxy: &str) -> (PathBuf, PathBuf, RedisServer) {
    let _one_at_a_time = INSTALLS.lock().await;
    let binary = ensure_binary(proxy).await.unwrap_or_else(|reason| panic!("{reason}"));
    let openssl = ensure_binary("openssl").await.unwrap_or_else(|reason| panic!("{reason}"));
    (binary, openssl, RedisServer::start())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

// -------------------------------------------------------------------------------------------
// The guide's configurations

/// The fenced block of language `lang` right after the marker comment that names `test` in
/// the guide.
fn guide_block(test: &str, lang: &str) -> &'static str {
    let marker = format!("<!-- tested: {test}");
    let (_, after) =
        GUIDE.split_once(&marker).unwrap_or_else(|| panic!("docs/deployment.md has no `{marker}`"));
    let (_, after) = after.split_once("-->").expect("the marker comment ends");
    let fence = format!("```{lang}\n");
    let start = after.find(&fence).unwrap_or_else(|| panic!("no ```{lang} block after `{marker}`"));
    assert!(after[..start].trim().is_empty(), "the ```{lang} block must follow `{marker}` directly");
    let body = &after[start + fence.len()..];
    let end = body.find("\n```").expect("the block is closed");
    &body[..=end]
}

/// `text` with each `(from, to)` done: `from` must appear exactly once.
fn substitute(text: &str, substitutions: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in substitutions {
        let count = text.matches(from).count();
        assert_eq!(
            count, 1,
            "the guide's configuration must hold `{from}` exactly once (found {count}): keep \
             tests/it/nginx.rs's substitutions in step with docs/deployment.md"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// Where a proxy listens and what it proxies to.
struct Site {
    dir: PathBuf,
    http_port: u16,
    https_port: u16,
    nodes: [SocketAddr; 2],
    certificate: PathBuf,
    key: PathBuf,
}

/// The guide's nginx block with the test's ports, nodes and certificate, inside an `http`
/// block that puts the logs and temporary files in the test's directory.
fn nginx_config(site: &Site) -> String {
    let block = guide_block("socketio-server/tests/it/nginx.rs runs this block", "nginx");
    let server = substitute(
        block,
        &[
            ("listen 80;", format!("listen 127.0.0.1:{};", site.http_port)),
            ("listen 443 ssl;", format!("listen 127.0.0.1:{} ssl;", site.https_port)),
            ("server 127.0.0.1:3000;", format!("server {};", site.nodes[0])),
            ("server 127.0.0.1:3001;", format!("server {};", site.nodes[1])),
            (
                "/etc/letsencrypt/live/chat.example.com/fullchain.pem;",
                format!("{};", site.certificate.display()),
            ),
            ("/etc/letsencrypt/live/chat.example.com/privkey.pem;", format!("{};", site.key.display())),
        ],
    );
    let d = site.dir.display();
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
         \n{server}\n}}\n"
    )
}

/// The guide's HAProxy configuration with the test's ports, nodes and certificate (`pem`:
/// certificate and key in one file), logging to its standard error.
fn haproxy_config(site: &Site, pem: &Path) -> String {
    let block = guide_block("socketio-server/tests/it/nginx.rs runs this HAProxy block", "haproxy");
    substitute(
        block,
        &[
            ("log /dev/log local0", "log stderr format raw local0".to_owned()),
            ("bind :80\n", format!("bind 127.0.0.1:{}\n", site.http_port)),
            (
                "bind :443 ssl crt /etc/haproxy/certs/chat.example.com.pem",
                format!("bind 127.0.0.1:{} ssl crt {}", site.https_port, pem.display()),
            ),
            ("127.0.0.1:3000 check", format!("{} check", site.nodes[0])),
            ("127.0.0.1:3001 check", format!("{} check", site.nodes[1])),
        ],
    )
}

// -------------------------------------------------------------------------------------------
// The proxy process

/// A proxy in the foreground, stopped by its PID when dropped.
struct Proxy {
    name: &'static str,
    child: Child,
    dir: PathBuf,
    /// The file it logs to.
    log: PathBuf,
}

impl Proxy {
    /// Starts `command` (as `nobody` when the test runs as root) and waits until it accepts
    /// connections on both ports of `site`.
    fn start(name: &'static str, mut command: std::process::Command, site: &Site, log: PathBuf) -> Self {
        command.stdin(Stdio::null());
        if is_root() {
            use std::os::unix::process::CommandExt;
            command.uid(NOBODY).gid(NOBODY);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut proxy = Proxy { name, child, dir: site.dir.clone(), log };
        let deadline = Instant::now() + PROXY_LIMIT;
        loop {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("{name} exited at start ({status})\n{}", proxy.log_text());
            }
            let ports = [site.http_port, site.https_port];
            if ports.iter().all(|&port| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()) {
                return proxy;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen within {PROXY_LIMIT:?}\n{}",
                proxy.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it logged so far.
    fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("{}'s log ({}):\n{log}", self.name, self.log.display())
    }

    /// Asks the proxy to stop (`SIGTERM`: nginx's master stops its workers), then kills it if
    /// it has not exited within [`PROXY_LIMIT`].
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + PROXY_LIMIT;
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

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{}'s files are kept in {}", self.name, self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A directory of the test's own for `proxy`, with a self-signed certificate for 127.0.0.1,
/// and two free ports.
async fn site(proxy: &str, openssl: &Path, nodes: [SocketAddr; 2]) -> Site {
    let dir = std::env::temp_dir().join(format!("socketio-{proxy}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("create the proxy's directory");
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
    Site { dir, http_port: free_port(), https_port: free_port(), nodes, certificate, key }
}

/// Hands `dir` and its files to `nobody` when the test runs as root.
fn give_to_nobody(dir: &Path) {
    if !is_root() {
        return;
    }
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown the proxy's directory");
    for entry in std::fs::read_dir(dir).expect("list the proxy's directory") {
        let path = entry.expect("a directory entry").path();
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).expect("chown the proxy's files");
    }
}

/// Sends a plain HTTP request for `/socket.io/?EIO=4&transport=polling` to `port` with
/// `Host: chat.example.com`, and checks that it is redirected to the same URL over HTTPS.
fn assert_redirects_to_https(port: u16) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect over plain HTTP");
    stream.set_read_timeout(Some(support::WAIT)).expect("a read timeout");
    let path = "/socket.io/?EIO=4&transport=polling";
    write!(stream, "GET {path} HTTP/1.1\r\nHost: chat.example.com\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    assert!(answer.starts_with("HTTP/1.1 301"), "{answer}");
    let location = format!("location: https://chat.example.com{path}\r\n");
    assert!(answer.to_ascii_lowercase().contains(&location.to_ascii_lowercase()), "{answer}");
}

// -------------------------------------------------------------------------------------------
// The nodes and the clients

/// Two nodes of the cluster example on one Redis.
struct Cluster {
    a: TestServer,
    b: TestServer,
    redis_clients: [RedisClients; 2],
}

impl Cluster {
    /// Nodes `a` and `b` with `config`, once both count two servers.
    async fn start(redis: &RedisServer, config: Config) -> Self {
        let (io_a, redis_a) = node::node("a", &redis.url(), config.clone()).await.expect("node a");
        let (io_b, redis_b) = node::node("b", &redis.url(), config).await.expect("node b");
        let a = TestServer::serve(io_a).await;
        let b = TestServer::serve(io_b).await;
        eventually("both nodes count two servers", || async {
            a.io.sockets().adapter().server_count().await == Ok(2)
                && b.io.sockets().adapter().server_count().await == Ok(2)
        })
        .await;
        Cluster { a, b, redis_clients: [redis_a, redis_b] }
    }

    fn server(&self, node: &str) -> &TestServer {
        match node {
            "a" => &self.a,
            "b" => &self.b,
            other => panic!("no node {other}"),
        }
    }

    async fn close(self) {
        self.a.close().await;
        self.b.close().await;
        for redis in &self.redis_clients {
            redis.shutdown();
        }
    }
}

/// The nodes' options: the proxy on 127.0.0.1 is trusted, with the sticky cookie `io` when
/// `cookie`; heartbeats every second, so that long-polling goes through several of them
/// while the test runs.
fn node_config(cookie: bool) -> Config {
    let mut config = Config::default();
    config.engine.trust_proxy = Some(TrustProxy {
        proxies: vec!["127.0.0.1".parse().expect("an address")],
        header: ForwardedHeader::XForwardedFor,
    });
    if cookie {
        config.engine.cookie = Some(Cookie::default());
    }
    config.engine.ping_interval = Duration::from_secs(1);
    config
}

/// A client the test expects: its name, the node it must reach (any for `None`), the address
/// it connects from, and its transports.
struct Expected {
    name: String,
    node: Option<&'static str>,
    address: String,
    mode: Mode,
}

/// A client of `scenario.js` from `address`, trusting the certificate `ca`; with
/// `cookies`, it keeps them as a browser does. `forge` sends an `X-Forwarded-For` of its own.
fn client(name: &str, address: &str, mode: Mode, ca: &str, cookies: bool, forge: bool) -> Json {
    let mut spec = json!({
        "name": name,
        "transports": mode.transports(),
        "agent": { "localAddress": address, "ca": ca },
        "withCredentials": cookies,
    });
    if forge {
        spec["extraHeaders"] = json!({ "X-Forwarded-For": FORGED });
    }
    spec
}

/// The node (`"a"` or `"b"`) that `welcome` names, for `client`.
async fn welcome_node(clients: &mut Node, client: &str) -> String {
    let welcome = clients.received(client, "welcome").await;
    welcome["args"][0]["node"].as_str().unwrap_or_else(|| panic!("{client}'s welcome: {welcome}")).to_owned()
}

/// What every proxy must get right, with `clients` (started with the `expected` clients): each
/// connects on its transports to the node it must reach, which sees its own address and
/// `X-Forwarded-For: https`; broadcasts from either node reach everyone; acks come back;
/// long-polling lives through heartbeats. Returns each client's `(socket id, node)`.
async fn exercise(
    clients: &mut Node,
    expected: &[Expected],
    cluster: &Cluster,
) -> BTreeMap<String, (String, String)> {
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for Expected { name, node, address, mode } in expected {
        // The Engine.IO session opens on the first transport (an upgrade may be over before
        // the Socket.IO `connect`).
        let open = clients.next(name, "open").await;
        assert_eq!(open["transport"], mode.first_transport(), "{name}'s first transport: {open}");
        let connect = clients.next(name, "connect").await;
        let id = connect["id"].as_str().expect("the client reports its id").to_owned();
        let reached = welcome_node(clients, name).await;
        if let Some(node) = node {
            assert_eq!(reached, *node, "{name} (from {address}) reached another node");
        }
        mode.settle(clients, name).await;
        let socket = cluster.server(&reached).socket("/", &id).await;
        // The client's own address, through the trusted proxy, whatever the client claims.
        assert_eq!(socket.handshake().address, *address, "{name}'s address as node {reached} sees it");
        let peer = socket.conn().remote_address().expect("the peer's address");
        assert_eq!(peer.ip(), Ipv4Addr::LOCALHOST, "{name}'s peer is the proxy");
        let headers = socket.conn().request_headers();
        assert_eq!(headers.get("x-forwarded-proto").map(|v| v.as_bytes()), Some(&b"https"[..]), "{name}");
        let mode = *mode;
        eventually(&format!("{name} on {}", mode.final_transport()), || {
            let transport = socket.conn().transport();
            async move { transport == mode.final_transport() }
        })
        .await;
        seen.insert(name.clone(), (id, reached));
    }
    let on = |node: &str, mode: Mode| {
        expected
            .iter()
            .find(|e| seen[&e.name].1 == node && e.mode == mode)
            .or_else(|| expected.iter().find(|e| seen[&e.name].1 == node))
            .map(|e| e.name.clone())
            .unwrap_or_else(|| panic!("no client reached node {node}: {seen:?}"))
    };
    let (sender_a, sender_b) = (on("a", Mode::Polling), on("b", Mode::WebSocket));

    // A broadcast from a client of either node reaches the clients of both.
    for (sender, node) in [(&sender_a, "a"), (&sender_b, "b")] {
        let text = format!("{sender} says hello");
        clients.emit(sender, "chat", json!([text])).await;
        let message = json!([{ "node": node, "from": seen[sender].0, "text": text }]);
        for Expected { name, .. } in expected {
            assert_eq!(clients.received(name, "chat").await["args"], message, "{name} receiving {text:?}");
        }
    }

    // Acknowledgements through the proxy, on every transport.
    let everyone: BTreeSet<String> =
        seen.values().map(|(id, node)| json!({ "id": id, "node": node }).to_string()).collect();
    for Expected { name, .. } in expected {
        let who = clients.call(name, "who", json!([])).await;
        let listed: BTreeSet<String> = who[0].as_array().into_iter().flatten().map(Json::to_string).collect();
        assert_eq!(listed, everyone, "`who` asked by {name}");
    }
    let other = |node: &str| if node == "a" { "b" } else { "a" };
    assert_eq!(clients.call(&sender_b, "nodes", json!([])).await, json!([["b", other("b")]]));
    assert_eq!(clients.call(&sender_a, "join", json!(["ops"])).await, json!([true]));
    clients.emit(&sender_b, "say", json!([{ "room": "ops", "text": "ops only" }])).await;
    let said = json!([{ "node": "b", "from": seen[&sender_b].0, "text": "ops only" }]);
    assert_eq!(clients.received(&sender_a, "chat").await["args"], said);

    // Long-polling lives on through heartbeats (one a second): same sockets, still connected.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for Expected { name, .. } in expected {
        let state = clients.state(name).await;
        assert_eq!(state["connected"], true, "{name} after a few heartbeats: {state}");
        assert_eq!(state["id"].as_str(), Some(seen[name].0.as_str()), "{name} kept its socket");
    }
    let again = clients.call(&sender_a, "who", json!([])).await;
    assert_eq!(again[0].as_array().map(Vec::len), Some(expected.len()));
    seen
}

/// The `sid` query parameter of a request line, if any.
fn sid_of(request: &str) -> Option<&str> {
    let (_, rest) = request.split_once("sid=")?;
    rest.split(['&', ' ']).next()
}

// -------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_nginx_configuration_serves_two_nodes() {
    let (nginx, openssl, redis) = prerequisites("nginx").await;
    let version = std::process::Command::new(&nginx).arg("-v").output().expect("nginx -v");
    println!("{}", String::from_utf8_lossy(&version.stderr).trim());
    let cluster = Cluster::start(&redis, node_config(false)).await;
    let site = site("nginx", &openssl, [cluster.a.addr, cluster.b.addr]).await;
    std::fs::write(site.dir.join("nginx.conf"), nginx_config(&site)).expect("write nginx.conf");
    give_to_nobody(&site.dir);
    let mut command = std::process::Command::new(&nginx);
    command.arg("-p").arg(&site.dir).arg("-e").arg(site.dir.join("error.log"));
    command.arg("-c").arg(site.dir.join("nginx.conf")).args(["-g", "daemon off;"]);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut proxy = Proxy::start("nginx", command, &site, site.dir.join("error.log"));
    assert_redirects_to_https(site.http_port);
    let ca = std::fs::read_to_string(&site.certificate).expect("read the certificate");
    let url = format!("https://127.0.0.1:{}", site.https_port);

    // Which node each loopback address reaches through `hash $remote_addr consistent`.
    let probe_addresses: Vec<String> = (2..2 + PROBES).map(|last| format!("127.0.0.{last}")).collect();
    let probes: Vec<Json> = probe_addresses
        .iter()
        .map(|address| client(&format!("probe {address}"), address, Mode::WebSocket, &ca, false, false))
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
    let mut specs = Vec::new();
    let mut expected = Vec::new();
    for (node, address) in [("a", address_a), ("b", address_b)] {
        for (prefix, mode) in [("poll", Mode::Polling), ("ws", Mode::WebSocket), ("up", Mode::Upgrade)] {
            let name = format!("{prefix}-{node}");
            specs.push(client(&name, address, mode, &ca, false, name == "poll-b"));
            expected.push(Expected { name, node: Some(node), address: address.clone(), mode });
        }
    }
    let mut clients = Node::spawn("clients through nginx", &url, Json::Array(specs));
    exercise(&mut clients, &expected, &cluster).await;
    clients.exit().await;

    // nginx's side: every address on one node, both nodes used, no `Session ID unknown`.
    let log = std::fs::read_to_string(site.dir.join("access.log")).expect("nginx's access log");
    let mut upstreams_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let (mut requests, mut polls) = (0, 0);
    for line in log.lines().filter(|line| line.contains("/socket.io/?EIO=4")) {
        // `$remote_addr $status $upstream_addr "$request"`
        let mut fields = line.splitn(4, ' ');
        let (address, status, upstream) = (fields.next(), fields.next(), fields.next());
        let (Some(address), Some(status), Some(upstream)) = (address, status, upstream) else { continue };
        if status == "301" {
            continue;
        }
        // 499: a poll the client dropped as it closed.
        assert!(matches!(status, "101" | "200" | "499"), "nginx answered {status}: {line}\n{log}");
        upstreams_of.entry(address).or_default().insert(upstream);
        requests += 1;
        polls += usize::from(line.contains("transport=polling"));
    }
    for (address, upstreams) in &upstreams_of {
        assert_eq!(upstreams.len(), 1, "{address}'s requests went to several nodes: {upstreams:?}");
    }
    let used: BTreeSet<String> = upstreams_of.values().flatten().map(|u| u.to_string()).collect();
    let nodes: BTreeSet<String> = [cluster.a.addr.to_string(), cluster.b.addr.to_string()].into();
    assert_eq!(used, nodes, "both nodes served");
    println!("nginx proxied {requests} requests ({polls} long-polling) to {used:?}, none refused");

    proxy.stop();
    drop(proxy);
    cluster.close().await;
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_haproxy_configuration_serves_two_nodes() {
    let (haproxy, openssl, redis) = prerequisites("haproxy").await;
    let version = std::process::Command::new(&haproxy).arg("-v").output().expect("haproxy -v");
    println!("{}", String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or_default());
    let cluster = Cluster::start(&redis, node_config(true)).await;
    let site = site("haproxy", &openssl, [cluster.a.addr, cluster.b.addr]).await;
    let pem = site.dir.join("site.pem");
    let mut both = std::fs::read_to_string(&site.certificate).expect("read the certificate");
    both.push_str(&std::fs::read_to_string(&site.key).expect("read the key"));
    std::fs::write(&pem, both).expect("write the certificate and key");
    std::fs::write(site.dir.join("haproxy.cfg"), haproxy_config(&site, &pem)).expect("write haproxy.cfg");
    let log = site.dir.join("haproxy.log");
    let log_file = std::fs::File::create(&log).expect("create haproxy's log");
    give_to_nobody(&site.dir);
    let mut command = std::process::Command::new(&haproxy);
    command.arg("-f").arg(site.dir.join("haproxy.cfg")).arg("-db");
    command.stdout(Stdio::null()).stderr(log_file);
    let mut proxy = Proxy::start("haproxy", command, &site, log);
    assert_redirects_to_https(site.http_port);
    let ca = std::fs::read_to_string(&site.certificate).expect("read the certificate");
    let url = format!("https://127.0.0.1:{}", site.https_port);

    // One address, clients that keep cookies: round robin spreads the handshakes, the `io`
    // cookie keeps each session on its node.
    let address = "127.0.0.2";
    let mut specs = Vec::new();
    let mut expected = Vec::new();
    for (i, (prefix, mode)) in [("poll", Mode::Polling), ("ws", Mode::WebSocket), ("up", Mode::Upgrade)]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let name = format!("{prefix}-{i}");
        specs.push(client(&name, address, mode, &ca, true, i == 3));
        expected.push(Expected { name, node: None, address: address.to_owned(), mode });
    }
    let mut clients = Node::spawn("clients through haproxy", &url, Json::Array(specs));
    let seen = exercise(&mut clients, &expected, &cluster).await;
    let reached: BTreeSet<&str> = seen.values().map(|(_, node)| node.as_str()).collect();
    assert_eq!(reached, BTreeSet::from(["a", "b"]), "round robin used both nodes: {seen:?}");
    for node in ["a", "b"] {
        let polling = expected.iter().any(|e| e.mode != Mode::WebSocket && seen[&e.name].1 == node);
        assert!(polling, "no long-polling client reached node {node}: {seen:?}");
    }
    clients.exit().await;

    // HAProxy's side (`option httplog`): every session on one node, no `Session ID unknown`.
    let text = proxy.log_text();
    let mut servers_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut requests = 0;
    for line in text.lines().filter(|line| line.contains("/socket.io/?EIO=4")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| f.starts_with("socketio_nodes/")) else { continue };
        let server = fields[at].trim_start_matches("socketio_nodes/");
        let status = fields.get(at + 2).copied().unwrap_or_default();
        assert!(matches!(status, "101" | "200" | "-1"), "HAProxy answered {status}: {line}\n{text}");
        if let Some(sid) = sid_of(line) {
            servers_of.entry(sid).or_default().insert(server);
        }
        requests += 1;
    }
    assert!(!servers_of.is_empty(), "HAProxy logged no session's request\n{text}");
    for (sid, servers) in &servers_of {
        assert_eq!(servers.len(), 1, "session {sid} went to several nodes: {servers:?}\n{text}");
    }
    println!(
        "HAProxy proxied {requests} requests of {} sessions, each on one node, none refused",
        servers_of.len()
    );

    proxy.stop();
    drop(proxy);
    cluster.close().await;
    drop(redis);
}
