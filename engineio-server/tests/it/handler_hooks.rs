//! The handler's own deadline and values posted from other tasks reach the session's task.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engineio_parser::{CloseReason, Data};
use engineio_server::{Config, EngineIo, Handler, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `timer` once its deadline passes, and `post:N` for every `u32` posted to it.
struct Hooks {
    sockets: Mutex<Vec<Arc<Socket<u32>>>>,
}

struct Conn {
    socket: Arc<Socket<u32>>,
    deadline: Option<Instant>,
}

impl Handler for Hooks {
    type Connection = Conn;
    type Command = u32;

    fn on_connection(&self, socket: Arc<Socket<u32>>) -> Conn {
        self.sockets.lock().expect("not poisoned").push(socket.clone());
        Conn { socket, deadline: Some(Instant::now() + Duration::from_millis(50)) }
    }

    fn on_message(&self, _conn: &mut Conn, _data: Data) {}

    fn on_close(&self, _conn: Conn, _reason: CloseReason) {}

    fn poll_timeout(&self, conn: &mut Conn) -> Option<Instant> {
        conn.deadline
    }

    fn on_timeout(&self, conn: &mut Conn, now: Instant) {
        if conn.deadline.is_some_and(|at| at <= now) {
            conn.deadline = None;
            let _ = conn.socket.send_text("timer");
        }
    }

    fn on_command(&self, conn: &mut Conn, n: u32) {
        let _ = conn.socket.send_text(format!("post:{n}"));
    }
}

/// Reads one unmasked server text frame (payload under 126 bytes).
async fn server_text(stream: &mut TcpStream) -> String {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.expect("frame header");
    let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.expect("payload");
    String::from_utf8(payload).expect("UTF-8")
}

/// A server with [`Hooks`], and a WebSocket session on it past its open packet.
async fn start() -> (EngineIo<Hooks>, TcpStream) {
    let engine = EngineIo::new(Config::default(), Hooks { sockets: Mutex::new(Vec::new()) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(engine.clone().serve(listener));

    let mut ws = TcpStream::connect(addr).await.expect("connects");
    ws.write_all(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("writes");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        ws.read_exact(&mut byte).await.expect("reads");
        head.push(byte[0]);
    }
    let limit = Duration::from_secs(10);
    let open = tokio::time::timeout(limit, server_text(&mut ws)).await.expect("in time");
    assert!(open.starts_with("0{"), "{open}");
    (engine, ws)
}

#[tokio::test]
async fn deadlines_and_posts_run_in_the_session_task() {
    let (engine, mut ws) = start().await;
    let limit = Duration::from_secs(10);
    // The handler's deadline fires on its own.
    assert_eq!(tokio::time::timeout(limit, server_text(&mut ws)).await.expect("in time"), "4timer");
    // A value posted from this task reaches the handler inside the session's task.
    let socket = engine.handler().sockets.lock().expect("not poisoned")[0].clone();
    socket.post(7u32).expect("open");
    assert_eq!(tokio::time::timeout(limit, server_text(&mut ws)).await.expect("in time"), "4post:7");
}

/// Packets pushed from tasks on other worker threads while the session task runs, parks and
/// wakes: none is left waiting in the inbox (the session takes its inbox before it waits, and a
/// push wakes it only while it is parked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_pushed_from_other_threads_all_arrive() {
    let (engine, mut ws) = start().await;
    let limit = Duration::from_secs(10);
    let socket = engine.handler().sockets.lock().expect("not poisoned")[0].clone();

    const TASKS: u32 = 8;
    const EACH: u32 = 250;
    for task in 0..TASKS {
        let socket = socket.clone();
        tokio::spawn(async move {
            for n in 0..EACH {
                if n % 2 == 0 {
                    let _ = socket.send_text(format!("{task}"));
                } else {
                    let _ = socket.post(task);
                }
                tokio::task::yield_now().await;
            }
        });
    }
    let mut per_task = vec![0u32; TASKS as usize];
    // The handler's timer may fire meanwhile: its packet does not count.
    while per_task.iter().sum::<u32>() < TASKS * EACH {
        let text = tokio::time::timeout(limit, server_text(&mut ws)).await.expect("every packet arrives");
        if text == "4timer" {
            continue;
        }
        let number = text.strip_prefix("4post:").or_else(|| text.strip_prefix('4')).expect("a message");
        let task: usize = number.parse().expect("a task number");
        per_task[task] += 1;
    }
    assert!(per_task.iter().all(|&n| n == EACH), "{per_task:?}");
}
