//! Two of our nodes on one PostgreSQL: every operation of the adapter reaches the other node,
//! messages too big for `NOTIFY` go through the attachments table, and nodes find each other
//! by heartbeats.

use crate::pg_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use pg_support::{config, event, eventually, value, PgNode, PostgresServer, Sink};
use socketio_adapter::{Adapter, BroadcastOptions, Room};
use socketio_parser::Value;

async fn pair(server: &PostgresServer) -> (PgNode, PgNode) {
    let a = PgNode::start(&server.conninfo(), "/", config()).await;
    let b = PgNode::start(&server.conninfo(), "/", config()).await;
    eventually("a and b know each other", || {
        a.adapter.nodes() == [b.adapter.uid()] && b.adapter.nodes() == [a.adapter.uid()]
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn every_operation_reaches_the_other_node() {
    let server = PostgresServer::start();
    let (a, b) = pair(&server).await;
    a.connect("a1", &["news"]);
    b.connect("b1", &["news"]);
    b.connect("b2", &["sports"]);
    assert_eq!(a.adapter.server_count().await, Ok(2));

    // Broadcast to a room, with an exception.
    let json = r#"["headline","rain"]"#;
    let opts =
        BroadcastOptions { except: vec![Room::from("b2")], ..BroadcastOptions::to([Room::from("news")]) };
    a.adapter.broadcast(&event("/", json, None), &(value(json), None), &opts);
    eventually("b1 gets the headline", || b.log.received_by("b1") == [value(json)]).await;
    assert!(b.log.received_by("b2").is_empty());
    assert_eq!(a.log.received_by("a1"), [value(json)]);

    // fetch_sockets sees both nodes' sockets, with their rooms and data.
    let sockets = a.adapter.fetch_sockets(&BroadcastOptions::to([Room::from("news")])).await.expect("fetch");
    let mut ids: Vec<String> = sockets.iter().map(|s| s.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["a1", "b1"]);
    let b1 = sockets.iter().find(|s| &*s.id == "b1").expect("b1");
    assert_eq!(b1.rooms, [Room::from("b1"), Room::from("news")]);
    assert_eq!(b1.data, serde_json::json!({"name": "b1"}));

    // sockets_join / sockets_leave / disconnect_sockets.
    a.adapter.add_sockets(&BroadcastOptions::to([Room::from("b2")]), &[Room::from("vip")]);
    eventually("b2 joins vip", || b.rooms_of("b2") == ["b2", "sports", "vip"]).await;
    a.adapter.del_sockets(&BroadcastOptions::to([Room::from("vip")]), &[Room::from("sports")]);
    eventually("b2 leaves sports", || b.rooms_of("b2") == ["b2", "vip"]).await;
    b.adapter.disconnect_sockets(&BroadcastOptions::to([Room::from("a1")]), true);
    eventually("a1 is disconnected", || a.log.disconnects() == [("a1".into(), true)]).await;

    // Server-side events, with and without answers.
    *b.log.server_side_answer.lock().expect("not poisoned") = Some(serde_json::json!("pong"));
    assert_eq!(a.adapter.server_side_emit(serde_json::json!(["hello", 1])).await, Ok(1));
    eventually("b hears hello", || b.log.server_side().contains(&vec![serde_json::json!("hello"), 1.into()]))
        .await;
    let answers =
        a.adapter.server_side_emit_with_ack(serde_json::json!(["ping"]), Duration::from_secs(5)).await;
    assert_eq!(answers, Ok(vec![serde_json::json!("pong")]));

    // A broadcast with acks counts the other node's clients and forwards their answers.
    let acks = Arc::new(Mutex::new(Vec::new()));
    let sink: Sink = {
        let acks = acks.clone();
        Arc::new(move |v| acks.lock().expect("not poisoned").push(v))
    };
    let json = r#"["ack?"]"#;
    let mut opts = BroadcastOptions::to([Room::from("news")]);
    opts.flags.timeout = Some(Duration::from_secs(5));
    let count =
        a.adapter.broadcast_with_ack(&event("/", json, Some(7)), &(value(json), Some(7)), &opts, sink).await;
    assert_eq!(count, Ok(2));
    eventually("b1 gets the question", || !b.log.sinks_of("b1").is_empty()).await;
    for answer in b.log.sinks_of("b1") {
        answer(Value::from("yes"));
    }
    eventually("a gets b1's answer", || acks.lock().expect("not poisoned").contains(&Value::from("yes")))
        .await;

    // An adapter that closes is no longer counted.
    b.adapter.close().await;
    eventually("a forgets b", || a.adapter.nodes().is_empty()).await;
    assert_eq!(a.adapter.server_count().await, Ok(1));
}

#[tokio::test]
async fn big_and_binary_messages_go_through_the_attachments_table() {
    let server = PostgresServer::start();
    let (a, b) = pair(&server).await;
    b.connect("b1", &[]);
    let big = "x".repeat(20_000);
    let json = format!(r#"["big","{big}"]"#);
    a.adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
    eventually("b1 gets the big message", || b.log.received_by("b1") == [value(&json)]).await;

    let (payload, attachments) =
        socketio_parser::to_payload(&("bin", Bytes::from_static(b"\x00\x01\xff"))).expect("payload");
    let packet = socketio_parser::Packet::event("/", payload, attachments, None);
    let data = Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(b"\x00\x01\xff"))]);
    a.adapter.broadcast(&packet, &(data.clone(), None), &BroadcastOptions::all());
    eventually("b1 gets the binary message", || b.log.received_by("b1").contains(&data)).await;

    let client = tokio_postgres_client(&server).await;
    let rows = client.query_one("SELECT count(*) FROM socket_io_attachments", &[]).await.expect("count");
    let count: i64 = rows.get(0);
    assert_eq!(count, 2, "one row per message too big or binary");
}

async fn tokio_postgres_client(server: &PostgresServer) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&server.conninfo(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}
