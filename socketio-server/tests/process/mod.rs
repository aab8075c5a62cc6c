//! The workspace's server examples run as processes, as their users run them: started on a free
//! port of 127.0.0.1, sent signals, waited for; and a keep-alive HTTP/1.1 connection spoken by
//! hand.
//!
//! The binaries are the ones `cargo test` builds next to the test binaries
//! (`target/<profile>/examples/`); a test run that skipped the examples (`cargo test --test
//! NAME`) must build them first (`cargo build --workspace --examples`, with the same features).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{timeout, Instant};

/// How long to wait for one thing a process should do.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The path of example `name`'s binary.
pub(crate) fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary> → target/<profile>/examples/<name>
    let profile = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let path = profile.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples) or build them \
         first with `cargo build --workspace --examples`",
        path.display()
    );
    path
}

/// A free TCP port of 127.0.0.1 (free when asked; the example binds it right after).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running example, killed if dropped while still running.
pub(crate) struct Example {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    child: Child,
    output: Arc<Mutex<String>>,
}

/// How to start an example.
pub(crate) struct Start<'a> {
    /// The example's name.
    pub(crate) name: &'a str,
    /// Arguments after the port (`--port P` is given unless `port_env` is set).
    pub(crate) args: &'a [&'a str],
    /// Give the port in this environment variable instead of `--port`.
    pub(crate) port_env: Option<&'a str>,
    /// Other environment variables.
    pub(crate) env: &'a [(&'a str, &'a str)],
    /// A command that runs the example (`prlimit --nofile=64:64 --`).
    pub(crate) wrapper: &'a [&'a str],
    /// How long it may take to listen (an example may install npm packages first).
    pub(crate) ready_within: Duration,
}

impl Default for Start<'_> {
    fn default() -> Self {
        Start { name: "", args: &[], port_env: None, env: &[], wrapper: &[], ready_within: WAIT }
    }
}

impl Example {
    /// Starts the example and waits until it accepts connections.
    pub(crate) async fn start(start: Start<'_>) -> Self {
        let port = free_port();
        let binary = example_path(start.name);
        let mut command = match start.wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        match start.port_env {
            Some(var) => command.env(var, port.to_string()),
            None => command.args(["--port", &port.to_string()]),
        };
        command.args(start.args).envs(start.env.iter().copied());
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for stream in [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>, Box::new(stderr)] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut output = output.lock().unwrap_or_else(|e| e.into_inner());
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut example = Example { name: start.name.to_owned(), addr, child, output };
        let deadline = Instant::now() + start.ready_within;
        while TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = example.child.try_wait() {
                panic!("{} exited ({status}) before listening:\n{}", example.name, example.output());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {addr} within {:?}:\n{}",
                example.name,
                start.ready_within,
                example.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        example
    }

    /// What the process printed so far, stdout and stderr interleaved by line.
    pub(crate) fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends `signal` (`TERM`, `INT`) with `kill`.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the example is running");
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {pid}: {status}");
    }

    /// Waits (at most [`WAIT`]) for the process to exit.
    pub(crate) async fn exit_status(&mut self) -> ExitStatus {
        match timeout(WAIT, self.child.wait()).await {
            Ok(status) => status.expect("wait for the example"),
            Err(_) => panic!("{} still runs {WAIT:?} after the signal:\n{}", self.name, self.output()),
        }
    }

    /// Waits (at most [`WAIT`]) until the output holds `text`.
    pub(crate) async fn wait_output(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.output().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{} did not print {text:?} within {WAIT:?}:\n{}",
                self.name,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A response read from a [`KeepAlive`] connection.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// One keep-alive HTTP/1.1 connection, requests sent one at a time.
pub(crate) struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        KeepAlive { stream: TcpStream::connect(addr).await.expect("connect"), buf: Vec::new() }
    }

    /// Sends a request and reads its answer; `None` if the server closed the connection
    /// without one. Panics after [`WAIT`] without either.
    pub(crate) async fn request(&mut self, method: &str, target: &str, body: &str) -> Option<Response> {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        if self.stream.write_all(request.as_bytes()).await.is_err() {
            return None;
        }
        let deadline = Instant::now() + WAIT;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(response) = self.parse() {
                return Some(response);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!(
                    "neither an answer to {method} {target} nor a close within {WAIT:?}; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// A whole response (with `Content-Length`) from the front of the buffer.
    fn parse(&mut self) -> Option<Response> {
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let length = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if self.buf.len() < end + 4 + length {
            return None;
        }
        let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + length]).into_owned();
        self.buf.drain(..end + 4 + length);
        Some(Response { status, body })
    }
}
