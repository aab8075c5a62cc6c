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
