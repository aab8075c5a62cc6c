//! One node of the cluster example: a Socket.IO server whose namespaces share their rooms and
//! broadcasts with every other node on the same Redis, ours or Node.js ones with
//! `@socket.io/redis-adapter`.
//!
//! What a client can do (every event reaches the clients of every node):
//!
//! * on connect it gets `welcome` `{node, id}`; `auth.room` (optional) is a room it joins;
//! * `chat` `text` → everyone gets `chat` `{node, from, text}`;
//! * `join` `room`, then `say` `{room, text}` → the room's sockets get `chat` (on every node);
//! * `who` (with an ack) → the ack gets `[{id, node}]`: every socket of the cluster;
//! * `nodes` (with an ack) → the ack gets the names of every node (this one first), collected
//!   with a server-side event that each node answers.

use std::time::Duration;

use serde_json::json;
use socketio_server::adapter::{RedisAdapterConfig, RedisClients};
use socketio_server::{Config, Event, ServerSideAckError, Socket, SocketIo};
use tracing::{info, warn};

/// A node named `name`, on the Redis at `redis_url`, with the server options `config`
/// (`Config::default()`, or with `trust_proxy` behind a reverse proxy).
pub(crate) async fn node(
    name: &str,
    redis_url: &str,
    config: Config,
) -> Result<(SocketIo, RedisClients), String> {
    let redis = RedisClients::connect(redis_url, RedisAdapterConfig::default())
        .await
        .map_err(|e| format!("cannot reach Redis at {redis_url}: {e}"))?;
    let io = SocketIo::builder(config).adapter(redis.factory::<Socket>()).build();
    let node = name.to_owned();
    io.on_server_side_emit("whoami", move |_args, ack| {
        let node = node.clone();
        async move {
            if let Some(ack) = ack {
                ack.send(&node);
            }
        }
    });
    let node = name.to_owned();
    let server = io.clone();
    io.on_connection(move |socket: Socket| on_connection(server.clone(), node.clone(), socket));
    Ok((io, redis))
}

async fn on_connection(io: SocketIo, node: String, socket: Socket) {
    let _ = socket.set_data(&json!({ "node": node }));
    if let Some(room) = socket.auth()["room"].as_str() {
        socket.join(room.to_owned());
    }
    let server = io.clone();
    let name = node.clone();
    socket.on("chat", move |socket, event| {
        let (io, node) = (server.clone(), name.clone());
        async move {
            let text = event.arg::<String>().unwrap_or_default();
            let _ = io.emit("chat", &json!({ "node": node, "from": socket.id().to_string(), "text": text }));
        }
    });
    socket.on("join", |socket, event| async move {
        if let Ok(room) = event.arg::<String>() {
            socket.join(room);
            let _ = event.reply(&true);
        }
    });
    let server = io.clone();
    let name = node.clone();
    socket.on("say", move |socket, event| {
        let (io, node) = (server.clone(), name.clone());
        async move {
            let Ok(said) = event.arg::<serde_json::Value>() else { return };
            let (Some(room), Some(text)) = (said["room"].as_str(), said["text"].as_str()) else { return };
            let message = json!({ "node": node, "from": socket.id().to_string(), "text": text });
            let _ = io.to(room.to_owned()).emit("chat", &message);
        }
    });
    let server = io.clone();
    socket.on("who", move |_socket, event| who(server.clone(), event));
    let server = io.clone();
    let name = node.clone();
    socket.on("nodes", move |_socket, event| nodes(server.clone(), name.clone(), event));
    info!(id = %socket.id(), node = %node, "connected");
    let _ = socket.emit("welcome", &json!({ "node": node, "id": socket.id().to_string() }));
}

async fn who(io: SocketIo, event: Event) {
    match io.fetch_sockets().await {
        Ok(sockets) => {
            let list: Vec<_> = sockets
                .iter()
                .map(|s| {
                    let node = s.data::<serde_json::Value>().map(|d| d["node"].clone()).unwrap_or_default();
                    json!({ "id": s.id().to_string(), "node": node })
                })
                .collect();
            let _ = event.reply(&list);
        }
        Err(e) => {
            warn!(error = %e, "fetch_sockets failed");
            let _ = event.reply(&json!({ "error": e.to_string() }));
        }
    }
}

async fn nodes(io: SocketIo, node: String, event: Event) {
    let mut names = vec![serde_json::Value::String(node)];
    match io.server_side_emit_with_ack("whoami", &(), Duration::from_secs(5)).await {
        Ok(others) => names.extend(others),
        Err(ServerSideAckError::Timeout { responses, expected }) => {
            warn!(answered = responses.len(), expected, "not every node answered");
            names.extend(responses);
        }
        Err(e) => warn!(error = %e, "the other nodes could not be asked"),
    }
    let _ = event.reply(&names);
}
