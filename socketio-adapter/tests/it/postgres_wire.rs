//! Our PostgreSQL adapter's notifications against the reference's: a Node.js node
//! (`socket.io` 4.8.4 + `@socket.io/postgres-adapter` 0.5.0, `tests/postgres_peer/peer.js`)
//! and one of ours perform the same operations while the test `LISTEN`s on the namespace's
//! channel; with uids, request ids and attachment ids blanked, both send the same messages
//! (attachments read back from the table and compared decoded).

use crate::pg_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use pg_support::{config, event, value, PgNode, PostgresServer, WAIT};
use socketio_adapter::{Adapter, BroadcastOptions, Room};
use socketio_parser::msgpack::RawMsgPack;
use socketio_parser::Value;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/postgres_peer")
}

/// `npm ci` once, when `node_modules` is missing.
fn npm_ci() {
    let dir = peer_dir();
    if dir.join("node_modules/@socket.io/postgres-adapter").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status()
        .expect("run npm (Node.js and npm are needed for this test)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// A connection that listens on `channel`; its notifications come out of the receiver.
async fn listener(server: &PostgresServer, channel: &str) -> (Client, mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(&server.conninfo(), NoTls).await.expect("connect");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    client.batch_execute(&format!("LISTEN \"{channel}\"")).await.expect("LISTEN");
    (client, rx)
}

/// Blanks what differs between runs: uids, request ids, attachment ids.
fn blank(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(key.as_str(), "uid" | "requestId" | "attachmentId") {
                    *v = serde_json::Value::String("*".into());
                } else {
                    blank(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(blank),
        _ => {}
    }
}

/// A msgpack value as JSON, binary as `{"$bin": [...]}`, keys in their order.
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Binary(b) => serde_json::json!({ "$bin": b.to_vec() }),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Object(members) => {
            serde_json::Value::Object(members.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        other => serde_json::to_value(other).expect("a plain value"),
    }
}

/// Collects `count` notifications (each attachment read back and decoded), blanked, sorted.
async fn collect(client: &Client, rx: &mut mpsc::UnboundedReceiver<String>, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < count {
        let payload = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} notifications: {out:#?}", out.len()))
            .expect("listening");
        let mut json: serde_json::Value = serde_json::from_str(&payload).expect("a JSON payload");
        blank(&mut json);
        let mut line = json.to_string();
        // Heartbeats come whenever a node has been quiet: not part of the comparison.
        if line == HEARTBEAT {
            continue;
        }
        if let Some(id) = json_attachment(&payload) {
            let row = client
                .query_one("SELECT payload FROM socket_io_attachments WHERE id = $1", &[&id])
                .await
                .expect("the attachment row");
            let bytes: Vec<u8> = row.get(0);
            let raw = RawMsgPack::new(Bytes::from(bytes)).expect("msgpack");
            let mut decoded = to_json(&raw.deserialize::<Value>().expect("a msgpack value"));
            blank(&mut decoded);
            line = format!("{line} => {decoded}");
        }
        out.push(line);
    }
    out.sort();
    out
}

const HEARTBEAT: &str = r#"{"type":2,"uid":"*","nsp":"/"}"#;

fn json_attachment(payload: &str) -> Option<i64> {
    let json: serde_json::Value = serde_json::from_str(payload).ok()?;
    json.get("attachmentId")?.as_str()?.parse().ok()
}

#[tokio::test]
async fn our_messages_match_the_reference() {
    npm_ci();
    let server = PostgresServer::start();
    // Creates the attachments table before Node.js uses it.
    let ours = PgNode::start(&server.conninfo(), "/", config()).await;
    let (client, mut rx) = listener(&server, "socket.io#/").await;

    // The reference.
    let options = serde_json::json!({"host": "127.0.0.1", "port": server.port(), "user": "postgres", "database": "postgres"});
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(peer_dir().join("peer.js"))
            .arg(options.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run node")
    })
    .await
    .expect("node ran");
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    let reference = collect(&client, &mut rx, 9).await;

    // Ours: a fresh node announces itself, then the same operations.
    let node = PgNode::start(&server.conninfo(), "/", config()).await;
    let say = |json: &str, opts: &BroadcastOptions| {
        node.adapter.broadcast(&event("/", json, None), &(value(json), None), opts);
    };
    say(r#"["hello","world"]"#, &BroadcastOptions::all());
    let to_r = BroadcastOptions { except: vec![Room::from("x")], ..BroadcastOptions::to([Room::from("r")]) };
    say(r#"["ev",1,{"a":[true,null]}]"#, &to_r);
    node.adapter.add_sockets(&BroadcastOptions::to([Room::from("r")]), &[Room::from("room2")]);
    node.adapter.del_sockets(&BroadcastOptions::to([Room::from("r")]), &[Room::from("room3")]);
    node.adapter.disconnect_sockets(&BroadcastOptions::to([Room::from("s1")]), true);
    let _ = node.adapter.server_side_emit(serde_json::json!(["ping", 1])).await;
    let (payload, attachments) =
        socketio_parser::to_payload(&("bin", Bytes::from_static(&[1, 2, 255]))).expect("payload");
    let data = Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(&[1, 2, 255]))]);
    let packet = socketio_parser::Packet::event("/", payload, attachments, None);
    node.adapter.broadcast(&packet, &(data, None), &BroadcastOptions::all());
    let big = format!(r#"["big","{}"]"#, "x".repeat(9000));
    say(&big, &BroadcastOptions::all());
    let mine = collect(&client, &mut rx, 9).await;
    assert_eq!(mine, reference);
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(ours);
}
