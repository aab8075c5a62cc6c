//! A real `redis-server` for tests: a child process on a free port of 127.0.0.1, killed when
//! dropped (panics included), stoppable and restartable on the same port. When `redis-server`
//! is missing and the test runs as root, it is installed with apt, one test process at a time
//! (a lock file); otherwise the test fails saying how to get it.
//!
//! Shared by the tests of socketio-adapter and socketio-server (which includes this file).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long `redis-server` may take to start.
const START: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1.
pub struct RedisServer {
    port: u16,
    binary: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        let binary = redis_server_binary();
        let port = free_port();
        let mut server = RedisServer { port, binary, child: None };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + START;
        loop {
            let child = Command::new(&self.binary)
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
            self.child = Some(child);
            if self.wait_ready(deadline) {
                return;
            }
            // The port may still be held by the previous instance: try again.
            self.stop();
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {} within {START:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server answers `PING` before `deadline` (false if it exited).
    fn wait_ready(&mut self, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if ping(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills the server (every client connection drops) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The `redis-server` binary, installed with apt when it is missing and we are root.
fn redis_server_binary() -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_thread = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(binary) = find_in_path("redis-server") {
        return binary;
    }
    assert!(
        is_root(),
        "redis-server is not installed and this test does not run as root to install it: \
         install it (Debian/Ubuntu: `apt-get install redis-server`) and run the test again"
    );
    let lock = std::env::temp_dir().join("socketio-adapter-redis-install.lock");
    let _lock = InstallLock::acquire(&lock);
    if let Some(binary) = find_in_path("redis-server") {
        return binary;
    }
    // Under the lock file other tests' apt-get runs take too (`flock`), so that tests installing
    // packages at the same time take turns instead of failing on apt's own lock.
    let run = |args: &[&str]| {
        let status = Command::new("flock")
            .args(["/tmp/socketio-rs-apt.lock", "apt-get"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run apt-get: {e}"));
        assert!(status.success(), "`apt-get {}` failed ({status})", args.join(" "));
    };
    run(&["update"]);
    run(&["install", "-y", "--no-install-recommends", "redis-server"]);
    find_in_path("redis-server").expect("apt-get installed redis-server, but it is not on the PATH")
}

/// A lock file held by one process at a time; a lock older than ten minutes is taken as left
/// behind by a process that died.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Self {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => return InstallLock(path.to_owned()),
                Err(_) => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(600));
                    if stale {
                        let _ = std::fs::remove_file(path);
                    }
                    assert!(Instant::now() < deadline, "waited too long for {}", path.display());
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// -------------------------------------------------------------------------------------------
// Redis Cluster

/// How long a Redis Cluster may take to form, or to promote a replica after its master died.
const CLUSTER_WAIT: Duration = Duration::from_secs(30);

/// A Redis Cluster of `redis-server` child processes on 127.0.0.1: masters with one replica
/// each, made with `redis-cli --cluster create`, every node killed when dropped. A node takes
/// 1 s without answering to be taken as failed, so a replica replaces a killed master within a
/// few seconds.
pub struct RedisCluster {
    binary: PathBuf,
    cli: PathBuf,
    dir: PathBuf,
    nodes: Vec<(u16, Option<Child>)>,
}

impl RedisCluster {
    /// Starts `masters` masters and as many replicas, and waits until the cluster serves every
    /// slot.
    pub fn start(masters: usize) -> Self {
        let binary = redis_server_binary();
        let cli = binary.with_file_name("redis-cli");
        let cli =
            if cli.is_file() { cli } else { find_in_path("redis-cli").expect("redis-cli (redis-tools)") };
        let ports: Vec<u16> = {
            // Hold every listener until all are chosen, so that no port is picked twice; the
            // cluster bus uses the port plus 10000, which must be free too.
            let mut held = Vec::new();
            while held.len() < masters * 2 {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
                let port = listener.local_addr().expect("local address").port();
                if port < 55_000 && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok() {
                    held.push(listener);
                }
            }
            held.iter().map(|l| l.local_addr().expect("local address").port()).collect()
        };
        let dir =
            std::env::temp_dir().join(format!("socketio-rs-cluster-{}-{}", std::process::id(), ports[0]));
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        let mut cluster =
            RedisCluster { binary, cli, dir, nodes: ports.iter().map(|p| (*p, None)).collect() };
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i);
        }
        let deadline = Instant::now() + START;
        for (port, _) in &cluster.nodes {
            while !ping(*port) {
                assert!(Instant::now() < deadline, "redis-server (cluster node {port}) did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut create = Command::new(&cluster.cli);
        create.arg("--cluster").arg("create");
        for (port, _) in &cluster.nodes {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ok(None);
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let port = self.nodes[i].0;
        let child = Command::new(&self.binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.nodes[i].1 = Some(child);
    }

    /// `redis-cli -p PORT args...`, its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The ports of the nodes that run.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().filter(|(_, c)| c.is_some()).map(|(p, _)| *p).collect()
    }

    /// `redis://127.0.0.1:PORT/` of every node that runs.
    pub fn urls(&self) -> Vec<String> {
        self.ports().iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect()
    }

    /// The hash slot of `key`, as the cluster computes it.
    pub fn keyslot(&self, key: &str) -> u16 {
        let port = self.ports()[0];
        self.cli(port, &["cluster", "keyslot", key]).trim().parse().expect("CLUSTER KEYSLOT answers a number")
    }

    /// The port of the master that serves `slot`.
    pub fn master_of(&self, slot: u16) -> u16 {
        self.find_master(slot).unwrap_or_else(|| panic!("no master serves slot {slot}"))
    }

    fn find_master(&self, slot: u16) -> Option<u16> {
        let port = self.ports()[0];
        for line in self.cli(port, &["cluster", "nodes"]).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let served = fields[8..].iter().any(|range| match range.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot) && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => range.parse::<u16>() == Ok(slot),
            });
            if served {
                let addr = fields[1].split('@').next().unwrap_or_default();
                return addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        None
    }

    /// The masters' ports.
    pub fn masters(&self) -> Vec<u16> {
        let port = self.ports()[0];
        let mut masters: Vec<u16> = self
            .cli(port, &["cluster", "nodes"])
            .lines()
            .filter(|l| {
                l.split_whitespace().nth(2).is_some_and(|f| f.contains("master") && !f.contains("fail"))
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.split('@').next()?.rsplit(':').next()?.parse().ok())
            .collect();
        masters.sort_unstable();
        masters
    }

    /// The sharded channels a node has subscribers for (`PUBSUB SHARDCHANNELS`), sorted.
    pub fn shard_channels(&self, port: u16) -> Vec<String> {
        let mut channels: Vec<String> = self
            .cli(port, &["pubsub", "shardchannels"])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        channels.sort();
        channels
    }

    /// Kills the master that serves `slot` and waits until one of its replicas serves the slot
    /// in its place; answers the killed master's port.
    pub fn fail_master_of(&mut self, slot: u16) -> u16 {
        let killed = self.master_of(slot);
        let i = self.nodes.iter().position(|(p, _)| *p == killed).expect("a node of this cluster");
        if let Some(mut child) = self.nodes[i].1.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_ok(Some((slot, killed)));
        killed
    }

    /// Kills every node: the whole cluster is down. Each keeps its `nodes.conf` (its id, the
    /// slots it serves, its master), so [`restart_all`](Self::restart_all) brings the same
    /// cluster back.
    pub fn stop_all(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Starts every stopped node again on its port, from its `nodes.conf`, and waits until the
    /// cluster serves every slot. What lives only in a node's memory (keys, ACL users made with
    /// [`add_user`](Self::add_user)) is gone.
    pub fn restart_all(&mut self) {
        let deadline = Instant::now() + CLUSTER_WAIT;
        let stopped: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].1.is_none()).collect();
        for &i in &stopped {
            self.spawn(i);
        }
        for &i in &stopped {
            let port = self.nodes[i].0;
            while !ping(port) {
                // A node that exited (its port still held by the one before it) is started again.
                let exited = self.nodes[i].1.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
                if exited {
                    self.spawn(i);
                }
                assert!(Instant::now() < deadline, "redis-server (cluster node {port}) did not start again");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.wait_ok(None);
    }

    /// Makes the user `name` with `password` and every right on every running node
    /// (`ACL SETUSER`). Users live in memory: a node started again has forgotten them, and a
    /// client logging in as one is refused until the user is made again.
    pub fn add_user(&self, name: &str, password: &str) {
        let password = format!(">{password}");
        for port in self.ports() {
            let answer =
                self.cli(port, &["acl", "setuser", name, "reset", "on", &password, "~*", "&*", "+@all"]);
            assert_eq!(answer.trim(), "OK", "ACL SETUSER {name} on node {port}");
        }
    }

    /// `redis://name:password@127.0.0.1:PORT/` of every node that runs.
    pub fn urls_as(&self, name: &str, password: &str) -> Vec<String> {
        self.ports().iter().map(|p| format!("redis://{name}:{password}@127.0.0.1:{p}/")).collect()
    }

    /// Waits until every running node reports `cluster_state:ok` (and, after a failover, a
    /// master other than `gone.1` serves slot `gone.0`).
    fn wait_ok(&self, gone: Option<(u16, u16)>) {
        let deadline = Instant::now() + CLUSTER_WAIT;
        loop {
            let ok =
                self.ports().iter().all(|p| self.cli(*p, &["cluster", "info"]).contains("cluster_state:ok"));
            let moved = gone.is_none_or(|(slot, old)| self.find_master(slot).is_some_and(|now| now != old));
            if ok && moved {
                return;
            }
            assert!(Instant::now() < deadline, "the Redis Cluster was not ready within {CLUSTER_WAIT:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
