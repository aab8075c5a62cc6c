//! A plain Engine.IO echo server: every message comes back as it came (text as text, binary as
//! binary). This is the server the official Engine.IO protocol suite drives.
//!
//! ```sh
//! cargo run -p engineio-server --example engineio_echo -- --port 3000 --ping-interval 300 --ping-timeout 200
//! ```
//!
//! Flags: `--port N` (3000), `--host ADDR` (127.0.0.1), `--path P` (`/engine.io/`),
//! `--ping-interval MS` (25000), `--ping-timeout MS` (20000), `--max-payload BYTES` (1000000),
//! `--allow-eio3`, `--cors ORIGIN` (repeatable; `*` for any), `--no-upgrades`, `--per-message-deflate`,
//! `--transports polling,websocket`. SIGINT or SIGTERM closes every session before the process
//! exits.

use std::sync::Arc;
use std::time::Duration;

use engineio_server::{
    CloseReason, Config, Cors, CorsOrigin, Data, EngineIo, Handler, Packet, Socket, Transports,
};

struct Echo;

impl Handler for Echo {
    type Connection = Arc<Socket>;
    type Command = ();

    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        socket
    }

    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = socket.send(Packet::message_data(data));
    }

    fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
}

fn main() -> std::io::Result<()> {
    let mut config = Config::default();
    let mut host = "127.0.0.1".to_owned();
    let mut port = 3000u16;
    let mut origins: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| invalid(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--port" => port = value()?.parse().map_err(|_| invalid("--port takes a number"))?,
            "--host" => host = value()?,
            "--path" => config.path = value()?,
            "--ping-interval" => config.ping_interval = millis(&value()?)?,
            "--ping-timeout" => config.ping_timeout = millis(&value()?)?,
            "--max-payload" => {
                config.max_payload = value()?.parse().map_err(|_| invalid("--max-payload takes a number"))?
            }
            "--allow-eio3" => config.allow_eio3 = true,
            "--no-upgrades" => config.allow_upgrades = false,
            "--per-message-deflate" => {
                config.per_message_deflate = Some(engineio_server::ws::DeflateConfig::default())
            }
            "--cors" => origins.push(value()?),
            "--transports" => {
                let list = value()?;
                config.transports = Transports {
                    polling: list.split(',').any(|t| t == "polling"),
                    websocket: list.split(',').any(|t| t == "websocket"),
                };
            }
            other => return Err(invalid(&format!("unknown flag {other}"))),
        }
    }
    if !origins.is_empty() {
        let origin =
            if origins.iter().any(|o| o == "*") { CorsOrigin::Any } else { CorsOrigin::List(origins) };
        config.cors = Some(Cors { origin, ..Cors::default() });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let path = config.normalized_path();
        let server = EngineIo::try_new(config, Echo).map_err(|e| invalid(&e.to_string()))?;
        let listener = server.bind((host.as_str(), port)).await?;
        eprintln!("engine.io echo server on http://{}{path}", listener.local_addr()?);
        server
            .serve_until(listener, async {
                match engineio_server::shutdown_signal().await {
                    Ok(signal) => eprintln!("{signal}: closing"),
                    Err(e) => eprintln!("cannot wait for a signal ({e}): closing"),
                }
            })
            .await
    })
}

fn millis(value: &str) -> std::io::Result<Duration> {
    value.parse().map(Duration::from_millis).map_err(|_| invalid("durations are in milliseconds"))
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_owned())
}
