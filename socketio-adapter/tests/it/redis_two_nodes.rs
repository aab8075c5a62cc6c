//! Two of our nodes on one real `redis-server`: every operation reaches the other node's
//! sockets, every request collects the other node's answers, and a node that never answers
//! makes requests time out with what did arrive.

#![allow(clippy::unwrap_used)]

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio_adapter::{
    Adapter, AdapterError, BroadcastOptions, RedisAdapterConfig, RequestError, RequestKind, Room,
    ServerSideAckError,
};
use socketio_parser::Value;
use support::{event, eventually, raw_subscriber, value, RedisServer, Sink, TestNode};

async fn two_nodes(redis: &RedisServer, config: RedisAdapterConfig) -> (TestNode, TestNode) {
    let a = TestNode::start(&redis.url(), "/", config.clone()).await;
    let b = TestNode::start(&redis.url(), "/", config).await;
    (a, b)
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|r| Room::from(*r)).collect()
}

#[tokio::test]
async fn broadcasts_reach_both_nodes() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    a.connect("a1", &["news"]);
    b.connect("b1", &["news"]);
    b.connect("b2", &["news", "muted"]);
    b.connect("b3", &[]);
    let packet = event("/", r#"["hi"]"#, None);
    let encoded = (value(r#"["hi"]"#), None);

    a.adapter.broadcast(&packet, &encoded, &BroadcastOptions::all());
    let mut news = BroadcastOptions::to(rooms(&["news"]));
    news.except = rooms(&["muted"]);
    let news_packet = event("/", r#"["news"]"#, None);
    a.adapter.broadcast(&news_packet, &(value(r#"["news"]"#), None), &news);
    let mut local = BroadcastOptions::all();
    local.flags.local = true;
    a.adapter.broadcast(&event("/", r#"["local"]"#, None), &(value(r#"["local"]"#), None), &local);
    // A marker after them all: once it is in, the others are too (one publisher, one
    // subscription, both in order).
    a.adapter.broadcast(
        &event("/", r#"["marker"]"#, None),
        &(value(r#"["marker"]"#), None),
        &BroadcastOptions::all(),
    );
    eventually("the marker reaches b", || b.log.received_by("b3").contains(&value(r#"["marker"]"#))).await;

    let (hi, news, marker) = (value(r#"["hi"]"#), value(r#"["news"]"#), value(r#"["marker"]"#));
    assert_eq!(a.log.received_by("a1"), [hi.clone(), news.clone(), value(r#"["local"]"#), marker.clone()]);
    assert_eq!(b.log.received_by("b1"), [hi.clone(), news, marker.clone()]);
    assert_eq!(b.log.received_by("b2"), [hi.clone(), marker.clone()]);
    assert_eq!(b.log.received_by("b3"), [hi, marker]);
}

#[tokio::test]
async fn binary_data_and_flags_cross_nodes() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    b.connect("b1", &[]);
    let (json, attachments) =
        socketio_parser::to_payload(&("file", bytes::Bytes::from_static(b"\x00\x01\x02"), 2.5)).unwrap();
    let packet = socketio_parser::Packet::event("/", json, attachments, None);
    let mut opts = BroadcastOptions::all();
    opts.flags.volatile = true;
    opts.flags.compress = Some(false);
    a.adapter.broadcast(&packet, &(Value::Null, None), &opts);
    eventually("b1 gets the file", || !b.log.received_by("b1").is_empty()).await;
    let delivery = &b.log.deliveries()[0];
    assert_eq!(
        delivery.data,
        Value::Array(vec![
            "file".into(),
            Value::Binary(bytes::Bytes::from_static(b"\x00\x01\x02")),
            2.5.into()
        ])
    );
    assert!(delivery.flags.volatile);
    assert_eq!(delivery.flags.compress, Some(false));
}

#[tokio::test]
async fn joins_leaves_and_disconnects_reach_the_other_node() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    a.connect("a1", &["r"]);
    b.connect("b1", &["r"]);
    b.connect("b2", &[]);

    a.adapter.add_sockets(&BroadcastOptions::to(rooms(&["r"])), &rooms(&["joined", "also"]));
    // Applied here at once, there when the request arrives.
    assert_eq!(a.rooms_of("a1"), ["a1", "also", "joined", "r"]);
    eventually("b1 joins", || b.rooms_of("b1").contains(&"joined".to_owned())).await;
    assert_eq!(b.rooms_of("b1"), ["also", "b1", "joined", "r"]);
    assert_eq!(b.rooms_of("b2"), ["b2"]);

    a.adapter.del_sockets(&BroadcastOptions::to(rooms(&["joined"])), &rooms(&["also"]));
    eventually("b1 leaves", || !b.rooms_of("b1").contains(&"also".to_owned())).await;
    assert_eq!(a.rooms_of("a1"), ["a1", "joined", "r"]);

    let mut except = BroadcastOptions::all();
    except.except = rooms(&["joined"]);
    a.adapter.disconnect_sockets(&except, true);
    eventually("b2 is disconnected", || !b.log.disconnects().is_empty()).await;
    assert_eq!(b.log.disconnects(), [("b2".into(), true)]);
    assert!(a.log.disconnects().is_empty());

    // `local` stays here.
    let mut local = BroadcastOptions::all();
    local.flags.local = true;
    a.adapter.add_sockets(&local, &rooms(&["here"]));
    b.adapter.add_sockets(&BroadcastOptions::all(), &rooms(&["marker"]));
    eventually("the marker comes to a", || a.rooms_of("a1").contains(&"marker".to_owned())).await;
    assert!(!b.rooms_of("b1").contains(&"here".to_owned()));
}

#[tokio::test]
async fn fetch_sockets_and_all_rooms_collect_both_nodes() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    a.connect("a1", &["r"]);
    b.connect("b1", &["r"]);
    b.connect("b2", &["other"]);

    let sockets = a.adapter.fetch_sockets(&BroadcastOptions::to(rooms(&["r"]))).await.unwrap();
    let ids: Vec<&str> = sockets.iter().map(|s| &*s.id).collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert_eq!(sockets[1].rooms, rooms(&["b1", "r"]));
    assert_eq!(sockets[1].data, serde_json::json!({"name": "b1"}));
    assert_eq!(sockets[1].handshake, serde_json::json!({"url": "/socket.io/?sid=b1"}));

    let mut local = BroadcastOptions::all();
    local.flags.local = true;
    assert_eq!(a.adapter.fetch_sockets(&local).await.unwrap().len(), 1);

    let mut all = b.adapter.all_rooms().await.unwrap();
    all.sort();
    assert_eq!(all, rooms(&["a1", "b1", "b2", "other", "r"]));
}

#[tokio::test]
async fn server_side_events_with_and_without_acks() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    *b.log.server_side_answer.lock().unwrap() = Some(serde_json::json!({"from": "b"}));
    assert_eq!(a.adapter.server_count().await, Ok(2));

    assert_eq!(a.adapter.server_side_emit(serde_json::json!(["hello", 1])).await, Ok(1));
    eventually("b hears it", || !b.log.server_side().is_empty()).await;
    assert_eq!(b.log.server_side(), [vec![serde_json::json!("hello"), serde_json::json!(1)]]);
    assert!(a.log.server_side().is_empty());

    let answers = a
        .adapter
        .server_side_emit_with_ack(serde_json::json!(["question"]), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(answers, [serde_json::json!({"from": "b"})]);
    assert_eq!(
        a.adapter.server_side_emit(serde_json::json!("not an array")).await,
        Err(AdapterError::Unsupported("server-side event arguments must be an array"))
    );
}

#[tokio::test]
async fn broadcasts_with_acks_count_and_collect_both_nodes() {
    let redis = RedisServer::start();
    let (a, b) = two_nodes(&redis, RedisAdapterConfig::default()).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    b.connect("b2", &[]);
    let answers = Arc::new(Mutex::new(Vec::new()));
    let sink: Sink = {
        let answers = answers.clone();
        Arc::new(move |v| answers.lock().unwrap().push(v))
    };
    let mut opts = BroadcastOptions::all();
    opts.flags.timeout = Some(Duration::from_secs(5));
    let packet = event("/", r#"["ask"]"#, Some(7));
    let expected = a.adapter.broadcast_with_ack(&packet, &(value(r#"["ask"]"#), Some(7)), &opts, sink).await;
    assert_eq!(expected, Ok(3));

    // b's clients got the packet with b's own ack ids; their answers travel back to a's sink.
    let remote = b.log.deliveries();
    assert_eq!(remote.len(), 2);
    assert!(remote.iter().all(|d| d.data == value(r#"["ask"]"#) && d.ack_id.is_some()));
    for (delivery, answer) in remote.iter().zip(["b1 says yes", "b2 says yes"]) {
        (delivery.sink.as_ref().unwrap())(Value::from(answer));
    }
    let local = a.log.deliveries();
    assert_eq!(local[0].ack_id, Some(7));
    (local[0].sink.as_ref().unwrap())(Value::from("a1 says yes"));
    eventually("three answers", || answers.lock().unwrap().len() == 3).await;
    let mut got: Vec<String> =
        answers.lock().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    got.sort();
    assert_eq!(got, ["a1 says yes", "b1 says yes", "b2 says yes"]);
}

#[tokio::test]
async fn namespaces_do_not_mix() {
    let redis = RedisServer::start();
    let a = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    let admin = TestNode::with_clients(a.clients.clone(), "/admin").await;
    let b_admin = TestNode::start(&redis.url(), "/admin", RedisAdapterConfig::default()).await;
    admin.connect("x1", &[]);
    b_admin.connect("y1", &[]);
    a.connect("z1", &[]);

    a.adapter.broadcast(
        &event("/", r#"["main"]"#, None),
        &(value(r#"["main"]"#), None),
        &BroadcastOptions::all(),
    );
    b_admin.adapter.broadcast(
        &event("/admin", r#"["admin"]"#, None),
        &(value(r#"["admin"]"#), None),
        &BroadcastOptions::all(),
    );
    eventually("x1 gets the /admin broadcast", || !admin.log.received_by("x1").is_empty()).await;
    assert_eq!(admin.log.received_by("x1"), [value(r#"["admin"]"#)]);
    assert_eq!(a.log.received_by("z1"), [value(r#"["main"]"#)]);
    assert_eq!(a.adapter.server_count().await, Ok(1));
    assert_eq!(admin.adapter.server_count().await, Ok(2));

    // Closing an adapter unsubscribes it: the other namespace's adapter keeps its own.
    admin.adapter.close().await;
    assert_eq!(b_admin.adapter.server_count().await, Ok(1));
    assert_eq!(a.adapter.server_count().await, Ok(1));
}

/// A node that subscribes to the request channel but never answers: requests wait for it
/// until their timeout, then give what arrived.
#[tokio::test]
async fn requests_time_out_with_partial_results() {
    let redis = RedisServer::start();
    let config = RedisAdapterConfig::default().with_requests_timeout(Duration::from_millis(300));
    let (a, b) = two_nodes(&redis, config).await;
    let _silent = raw_subscriber(&redis.url(), &["socket.io-request#/#"], &[]).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    *b.log.server_side_answer.lock().unwrap() = Some(serde_json::json!("b"));

    let Err(RequestError::Timeout(timeout)) = a.adapter.fetch_sockets_partial(&BroadcastOptions::all()).await
    else {
        panic!("fetch_sockets times out")
    };
    assert_eq!((timeout.kind, timeout.received, timeout.expected), (RequestKind::FetchSockets, 2, 3));
    assert_eq!(timeout.to_string(), "timeout reached while waiting for fetchSockets response");
    let ids: Vec<&str> = timeout.partial.iter().map(|s| &*s.id).collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert_eq!(
        a.adapter.fetch_sockets(&BroadcastOptions::all()).await,
        Err(AdapterError::Timeout { received: 2, expected: 3 })
    );

    let Err(RequestError::Timeout(timeout)) = a.adapter.all_rooms().await else {
        panic!("all_rooms times out")
    };
    assert_eq!(timeout.to_string(), "timeout reached while waiting for allRooms response");
    let mut partial = timeout.partial.clone();
    partial.sort();
    assert_eq!(partial, rooms(&["a1", "b1"]));

    let Err(RequestError::Timeout(timeout)) = a
        .adapter
        .server_side_emit_with_ack_partial(serde_json::json!(["q"]), Duration::from_millis(300))
        .await
    else {
        panic!("server_side_emit_with_ack times out")
    };
    assert_eq!(timeout.to_string(), "timeout reached: only 1 responses received out of 2");
    assert_eq!(timeout.partial, [serde_json::json!("b")]);
    // Through the adapter trait, the answers that arrived come with the error.
    let answered =
        a.adapter.server_side_emit_with_ack(serde_json::json!(["q"]), Duration::from_millis(300)).await;
    let expected = ServerSideAckError::Timeout { responses: vec![serde_json::json!("b")], expected: 2 };
    assert_eq!(answered.as_ref().map_err(ToString::to_string), Err(expected.to_string()));
    assert_eq!(answered, Err(expected));

    let sink: Sink = Arc::new(|_| {});
    let mut opts = BroadcastOptions::all();
    opts.flags.timeout = Some(Duration::from_millis(300));
    let counted = a
        .adapter
        .broadcast_with_ack(&event("/", r#"["x"]"#, Some(1)), &(value(r#"["x"]"#), Some(1)), &opts, sink)
        .await;
    assert_eq!(counted, Err(AdapterError::Timeout { received: 1, expected: 2 }));
}
