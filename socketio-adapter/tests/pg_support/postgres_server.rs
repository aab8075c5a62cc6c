//! A real PostgreSQL for tests: `initdb` in a temporary directory, then `postgres` on a free
//! port of 127.0.0.1 (its socket directory is the data directory), as the `postgres` user when
//! the test runs as root (PostgreSQL refuses root), stopped by PID when dropped (panics
//! included) and restartable on the same port. When the binaries are missing and the test runs
//! as root, Debian's `postgresql` package is installed with apt, one process at a time.

#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long PostgreSQL may take to start or stop.
const START: Duration = Duration::from_secs(30);

/// A `postgres` child process on 127.0.0.1 with its own data directory.
pub struct PostgresServer {
    port: u16,
    bin: PathBuf,
    dir: PathBuf,
    user: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a cluster with `initdb` and starts it on a free port; returns once it accepts
    /// connections.
    pub fn start() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bin = postgres_bin();
        let user = if is_root() { Some(postgres_user()) } else { None };
        let dir = std::env::temp_dir().join(format!(
            "socketio-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the data directory");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the data directory");
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = user {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb.output().expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut server = PostgresServer { port: free_port(), bin, dir, user, child: None };
        server.spawn();
        server
    }

    /// The connection string (`host=127.0.0.1 port=P user=postgres dbname=postgres`).
    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + START;
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&self.dir)
            .arg("-k")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        self.child = Some(command.spawn().expect("start postgres"));
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("postgres exited at start ({status})");
                }
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postgres did not accept connections on port {} within {START:?}", self.port);
    }

    /// Stops the server (fast shutdown: every client connection drops) and waits until it is
    /// gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        let deadline = Instant::now() + START;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(flag: &str, user: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The uid and gid of the `postgres` user (Debian's package creates it), else `nobody`'s.
fn postgres_user() -> (u32, u32) {
    ["postgres", "nobody"]
        .iter()
        .find_map(|user| Some((id_of("-u", user)?, id_of("-g", user)?)))
        .expect("a `postgres` or `nobody` user to run PostgreSQL as")
}

/// The newest `/usr/lib/postgresql/*/bin` that has `postgres` and `initdb`.
fn find_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

/// The PostgreSQL binaries, installed with apt when they are missing and we are root.
fn postgres_bin() -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_thread = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = find_bin() {
        return bin;
    }
    assert!(
        is_root(),
        "PostgreSQL is not installed and this test does not run as root to install it: \
         install it (Debian/Ubuntu: `apt-get install postgresql`) and run the test again"
    );
    let lock = std::env::temp_dir().join("socketio-adapter-postgres-install.lock");
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::fs::OpenOptions::new().write(true).create_new(true).open(&lock).is_err() {
        assert!(Instant::now() < deadline, "waited too long for {}", lock.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    // Under the lock file every test's apt-get takes (`flock`), so that tests installing
    // packages at the same time take turns instead of failing on apt's own lock.
    let run = |args: &[&str]| {
        let status = Command::new("flock")
            .args(["/tmp/socketio-rs-apt.lock", "apt-get"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("run apt-get");
        assert!(status.success(), "`apt-get {}` failed ({status})", args.join(" "));
    };
    if find_bin().is_none() {
        run(&["update"]);
        run(&["install", "-y", "--no-install-recommends", "postgresql"]);
    }
    let _ = std::fs::remove_file(&lock);
    find_bin().expect("apt-get installed postgresql, but /usr/lib/postgresql/*/bin is empty")
}
