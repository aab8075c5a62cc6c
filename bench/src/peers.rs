//! The servers the side-by-side tools (`compare`, `attack`) start: each peer's command, building
//! and installing them, and a running peer process that is stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A server the side-by-side tools run.
#[derive(Debug)]
pub struct Peer {
    /// Column name.
    pub name: &'static str,
    /// `socketio` or `raw` (see `loadgen --proto`).
    pub proto: &'static str,
    /// Program and arguments, run from the workspace root; `{port}` is replaced.
    pub command: &'static [&'static str],
}

/// Every peer: ours, the Rust and Node.js Socket.IO servers, and the bare WebSocket floors.
pub const PEERS: &[Peer] = &[
    Peer { name: "ours", proto: "socketio", command: &["target/release/examples/echo", "--port", "{port}"] },
    Peer {
        name: "socketioxide",
        proto: "socketio",
        command: &["target/release/peer_socketioxide", "--port", "{port}"],
    },
    Peer { name: "node", proto: "socketio", command: &["node", "bench/node/socketio-server.js", "{port}"] },
    Peer {
        name: "tungstenite",
        proto: "raw",
        command: &["target/release/peer_tungstenite", "--port", "{port}", "--read-buffer", "131072"],
    },
    Peer {
        name: "tungstenite-4k",
        proto: "raw",
        command: &["target/release/peer_tungstenite", "--port", "{port}", "--read-buffer", "4096"],
    },
    Peer { name: "node-ws", proto: "raw", command: &["node", "bench/node/ws-server.js", "{port}"] },
];

/// The peers named in `names` (every peer without a list), in table order.
pub fn select(names: Option<&[String]>) -> Vec<&'static Peer> {
    PEERS.iter().filter(|p| names.is_none_or(|l| l.iter().any(|n| n == p.name))).collect()
}

/// Column name of our echo example built from an earlier commit of this repository (see
/// [`prepare_prev`]).
pub const PREV: &str = "prev";

/// The commit `prev` is built from unless another is named: the last one before the server's
/// internals were refactored.
pub const PREV_DEFAULT_COMMIT: &str = "769d891";

/// The `prev` peer for the commit whose abbreviated hash is `short`: our echo example, run with
/// the same arguments as `ours`, from `target/prev-SHORT/target/release/examples/echo`.
///
/// The peer and its command are leaked (once per run) so that it is a `&'static Peer` like the
/// peers of [`PEERS`].
pub fn prev_peer(short: &str) -> &'static Peer {
    let binary: &'static str = Box::leak(format!("target/prev-{short}/target/release/examples/echo").into());
    let command: &'static [&'static str] = Box::leak(Box::new([binary, "--port", "{port}"]));
    Box::leak(Box::new(Peer { name: PREV, proto: "socketio", command }))
}

/// Builds our echo example from `commit` (any revision git knows: a hash, a tag, `HEAD~3`) and
/// returns it as the `prev` peer, with the commit's abbreviated hash. Run from the workspace root.
///
/// The commit's tree is exported (`git archive`) to `target/prev-SHORT/src` and built there
/// (`cargo build --release --example echo -p socketio-server`, with its own `Cargo.lock`) into
/// `target/prev-SHORT/target`; SHORT is the commit's abbreviated hash, so a branch or `HEAD~1`
/// that moves gets a build of its own. Nothing is exported or built when the binary is there.
pub fn prepare_prev(commit: &str) -> Result<(&'static Peer, String), String> {
    let resolved = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "--short=7"])
        .arg(format!("{commit}^{{commit}}"))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let short = String::from_utf8_lossy(&resolved.stdout).trim().to_owned();
    if !resolved.status.success() || short.is_empty() {
        return Err(format!("git knows no commit {commit:?}"));
    }
    let peer = prev_peer(&short);
    if Path::new(peer.command[0]).is_file() {
        eprintln!("prev: {} is built (commit {short})", peer.command[0]);
        return Ok((peer, short));
    }
    let base = PathBuf::from(format!("target/prev-{short}"));
    let src = base.join("src");
    if !src.join("Cargo.toml").is_file() {
        // Exported beside, then renamed: an interrupted export is never taken for a whole one.
        let partial = base.join("src.partial");
        let tar = base.join("src.tar");
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        eprintln!("prev: exporting commit {short} to {}", src.display());
        let archived = Command::new("git")
            .args(["archive", "--format=tar", "-o"])
            .arg(&tar)
            .arg(&short)
            .status()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !archived.success() {
            return Err(format!("git archive {short} failed"));
        }
        let extracted = Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&partial)
            .status()
            .map_err(|e| format!("cannot run tar: {e}"))?;
        let _ = std::fs::remove_file(&tar);
        if !extracted.success() {
            return Err(format!("extracting {} failed", tar.display()));
        }
        std::fs::rename(&partial, &src).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    }
    let target_dir =
        std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?.join(base.join("target"));
    eprintln!("prev: building the echo example of commit {short} into {}", target_dir.display());
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--example", "echo", "-p", "socketio-server"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !Path::new(peer.command[0]).is_file() {
        return Err(format!("building the echo example of commit {short} failed"));
    }
    Ok((peer, short))
}

/// Makes the workspace root the current directory: the peers' commands are relative to it.
pub fn enter_workspace_root() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace root")?;
    std::env::set_current_dir(root).map_err(|e| format!("cannot enter {}: {e}", root.display()))
}

/// Builds our server and the Rust peers in release mode, installs the Node.js peers' pinned npm
/// packages when one of `peers` runs on Node.js, and checks that `taskset` is there.
///
/// Our echo example is built on its own, as an application that depends on the server would
/// build it (and as `prev` is built): built together with the bench's binaries, cargo would
/// unify their dependencies' features into it (tokio's `parking_lot`, socketio-parser's
/// `msgpack`, ...), which changes what is measured.
pub fn prepare(peers: &[&Peer]) -> Result<(), String> {
    let builds: [&[&str]; 2] = [
        &["build", "--release", "-p", "socketio-server", "--example", "echo"],
        &["build", "--release", "-p", "bench", "--bins"],
    ];
    for args in builds {
        let status =
            Command::new(env!("CARGO")).args(args).status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building the peers failed".into());
        }
    }
    if peers.iter().any(|p| p.command[0] == "node") {
        conformance::npm::ensure_installed(Path::new("bench/node"))?;
    }
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("taskset (util-linux) is needed: {e}"))?;
    Ok(())
}

/// How a peer process is started besides its command.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Soft and hard limit of open file descriptors (`prlimit --nofile`); inherited without it.
    pub nofile: Option<u64>,
    /// File that receives the server's standard error, and its standard output with it (both
    /// discarded without it; our server's `tracing` lines go to standard output). `RUST_LOG` is
    /// set to `warn` so that our server's warnings land there.
    pub stderr: Option<PathBuf>,
    /// Runs the server under `valgrind --tool=callgrind`, its counts written to this file when
    /// it exits ([`stop`](PeerProcess::stop) waits up to a minute for that).
    pub callgrind: Option<PathBuf>,
}

/// A running peer process, pinned to core 0: stopped with SIGTERM, then killed, when dropped.
#[derive(Debug)]
pub struct PeerProcess {
    child: Child,
    /// How long [`stop`](Self::stop) waits after SIGTERM before it kills.
    grace: Duration,
}

impl PeerProcess {
    /// Starts `peer` on 127.0.0.1:`port` and waits (at most 20 s) until it accepts connections.
    pub fn start(peer: &Peer, port: u16, launch: &Launch) -> Result<Self, String> {
        let command: Vec<String> =
            peer.command.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let mut cmd = match launch.nofile {
            Some(n) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={n}:{n}")).args(["--", "taskset"]);
                cmd
            }
            None => Command::new("taskset"),
        };
        cmd.args(["-c", "0"]);
        if let Some(out) = &launch.callgrind {
            cmd.args(["valgrind", "--tool=callgrind", "--dump-instr=no"])
                .arg(format!("--callgrind-out-file={}", out.display()));
        }
        cmd.args(&command).stdin(Stdio::null());
        match &launch.stderr {
            Some(path) => {
                let cannot = |e: std::io::Error| format!("cannot create {}: {e}", path.display());
                let file = std::fs::File::create(path).map_err(cannot)?;
                cmd.stdout(file.try_clone().map_err(cannot)?).stderr(file).env("RUST_LOG", "warn");
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", command.join(" ")))?;
        let grace = if launch.callgrind.is_some() { Duration::from_secs(60) } else { Duration::from_secs(5) };
        let mut process = PeerProcess { child, grace };
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            if let Some(status) = process.exited() {
                return Err(format!("{} exited before listening ({status})", peer.name));
            }
            if Instant::now() >= deadline {
                return Err(format!("{} did not listen on {addr} within 20 s", peer.name));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    /// The server's process id (`prlimit` and `taskset` exec it, so it is the child's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM, waits at most 5 s, then kills.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `peer` on `port` as `launch` says (pinned to core 0), runs loadgen with `args` pinned
/// to core 1 against it, stops the peer and returns loadgen's JSON report.
pub fn run_loadgen(
    peer: &Peer,
    port: u16,
    launch: &Launch,
    args: &[&str],
) -> Result<serde_json::Value, String> {
    let mut server = PeerProcess::start(peer, port, launch)?;
    let addr = format!("127.0.0.1:{port}");
    let output = Command::new("taskset")
        .args(["-c", "1", "target/release/loadgen", "--addr", &addr, "--proto", peer.proto])
        .args(["--pid", &server.pid().to_string()])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run loadgen: {e}"))?;
    server.stop();
    let text = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|_| format!("loadgen printed {text:?}"))?;
    match json.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(json),
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prev_runs_its_own_build_with_the_arguments_of_ours() {
        let prev = prev_peer("769d891");
        let ours = select(Some(&["ours".to_owned()]))[0];
        assert_eq!(prev.name, PREV);
        assert_eq!(prev.proto, ours.proto);
        assert_eq!(prev.command[0], "target/prev-769d891/target/release/examples/echo");
        assert_eq!(prev.command[1..], ours.command[1..]);
    }
}
