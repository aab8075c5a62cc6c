//! Memory per idle WebSocket client: starts a server process, opens N Engine.IO WebSocket
//! sessions that then stay idle, and reports the growth of the server's resident set size per
//! client.
//!
//! ```sh
//! cargo build --release -p engineio-server --example engineio_echo
//! cargo run --release -p bench --bin idle_memory -- --clients 10000 -- target/release/examples/engineio_echo --port 3100
//! ```
//!
//! Everything after `--` is the server command; it must listen on `--addr` (127.0.0.1:3100) and
//! serve Engine.IO at `--path` (`/engine.io/`). The client count is bounded (at most 30 000)
//! and every step has a time limit.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_CLIENTS: usize = 30_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut clients = 10_000usize;
    let mut addr = "127.0.0.1:3100".to_owned();
    let mut path = "/engine.io/".to_owned();
    let mut settle = Duration::from_secs(2);
    let mut args = std::env::args().skip(1);
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--clients" => clients = parse(args.next())?,
            "--addr" => addr = args.next().ok_or_else(|| bad("--addr needs a value"))?,
            "--path" => path = args.next().ok_or_else(|| bad("--path needs a value"))?,
            "--settle-ms" => settle = Duration::from_millis(parse(args.next())?),
            "--" => {
                command = args.by_ref().collect();
                break;
            }
            other => return Err(bad(&format!("unknown flag {other}"))),
        }
    }
    if command.is_empty() {
        return Err(bad("give the server command after --"));
    }
    let clients = clients.min(MAX_CLIENTS);

    let mut server =
        tokio::process::Command::new(&command[0]).args(&command[1..]).kill_on_drop(true).spawn()?;
    let pid = server.id().ok_or_else(|| bad("the server exited at once"))?;
    bench::wait_for_listener(&addr, Duration::from_secs(20)).await?;
    // Warm up: one session, so that lazily allocated runtime state is counted in the baseline.
    let warm = connect(&addr, &path).await?;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = bench::rss_bytes(pid)?;

    let started = Instant::now();
    let mut sockets = Vec::with_capacity(clients);
    for i in 0..clients {
        let socket = tokio::time::timeout(Duration::from_secs(10), connect(&addr, &path))
            .await
            .map_err(|_| bad(&format!("client {i} timed out")))??;
        sockets.push(socket);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(settle).await;
    let after = bench::rss_bytes(pid)?;
    let per_client = (after.saturating_sub(before)) as f64 / clients as f64;
    println!(
        "{clients} idle WebSocket clients: server RSS {:.1} MiB -> {:.1} MiB, {:.0} bytes per client (connected in {:.1} s)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per_client,
        connect_time.as_secs_f64()
    );
    drop(sockets);
    // SIGTERM first, so that a profiler wrapping the server can write its report.
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    if tokio::time::timeout(Duration::from_secs(10), server.wait()).await.is_err() {
        server.kill().await?;
    }
    Ok(())
}

/// Opens an Engine.IO WebSocket session and reads its `open` packet.
async fn connect(addr: &str, path: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    // The 101 response, then the first frame (the `open` packet, unmasked text).
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed during the handshake"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return Err(bad(&String::from_utf8_lossy(&buf[..header_end.min(buf.len())])));
    }
    loop {
        let frame = &buf[header_end..];
        if frame.len() >= 2 {
            let len = usize::from(frame[1] & 0x7f);
            let header = if len == 126 { 4 } else { 2 };
            let len = if len == 126 && frame.len() >= 4 {
                usize::from(u16::from_be_bytes([frame[2], frame[3]]))
            } else {
                len
            };
            if frame.len() >= header + len && frame.get(header) == Some(&b'0') {
                return Ok(stream);
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed before the open packet"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse<T: std::str::FromStr>(value: Option<String>) -> std::io::Result<T> {
    value.and_then(|v| v.parse().ok()).ok_or_else(|| bad("expected a number"))
}

fn bad(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_owned())
}
