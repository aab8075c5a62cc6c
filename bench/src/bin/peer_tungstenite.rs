//! The practical floor of the server benchmark: a bare WebSocket server on tokio-tungstenite,
//! with no Engine.IO or Socket.IO on top. A message whose first byte is `b` is sent to every
//! connected client (each gets a clone of the same message); any other message is echoed.
//!
//! ```text
//! cargo run --release -p bench --bin peer_tungstenite -- --port 3000 [--read-buffer BYTES]
//! ```
//!
//! `--read-buffer` sets tungstenite's per-connection read buffer (its default is 128 KiB, which
//! costs every connection and every read; the benchmark runs both the default and 4 KiB).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Clients = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = bench::port_arg()?;
    let mut args = std::env::args().skip_while(|a| a != "--read-buffer").skip(1);
    let read_buffer = args.next().and_then(|n| n.parse().ok());
    let config =
        read_buffer.map_or_else(WebSocketConfig::default, |n| WebSocketConfig::default().read_buffer_size(n));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("tokio-tungstenite floor listening on 127.0.0.1:{port}");
    let clients: Clients = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let (clients, id) = (clients.clone(), ids.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            serve(stream, id, clients, config).await;
        });
    }
}

/// One task per connection that owns the WebSocket: what arrives is echoed on the spot or
/// cloned into every client's channel; what a channel delivers is written.
async fn serve(stream: TcpStream, id: u64, clients: Clients, config: WebSocketConfig) {
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else { return };
    let (tx, mut rx) = mpsc::unbounded_channel();
    clients.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if message.clone().into_data().first() == Some(&b'b') {
                        let clients = clients.lock().unwrap_or_else(|e| e.into_inner());
                        for client in clients.values() {
                            let _ = client.send(message.clone());
                        }
                    } else if ws.send(message).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            Some(message) = rx.recv() => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
    clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
}
