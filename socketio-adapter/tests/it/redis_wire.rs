//! The Redis adapter on the wire, against a real `redis-server`: what it publishes is the bytes
//! the reference publishes, and what the reference (or `@socket.io/redis-emitter`) publishes is
//! understood and answered as the reference answers it.

#![allow(clippy::unwrap_used)]

use crate::support;

use socketio_adapter::{Adapter, BroadcastOptions, RedisAdapterConfig, Room};
use socketio_parser::Value;
use support::{event, eventually, next_message, publish, raw, raw_subscriber, value, RedisServer, TestNode};

/// `io.emit("hello", "world")` as observed from the reference, after its 6-character uid.
const HELLO_WORLD_TAIL: &[u8] =
    b"\x83\xa4type\x02\xa4data\x92\xa5hello\xa5world\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80";

fn with_uid(uid: &str, tail: &[u8]) -> Vec<u8> {
    [b"\x93\xa6", uid.as_bytes(), tail].concat()
}

#[tokio::test]
async fn a_broadcast_is_published_in_the_reference_bytes() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    let mut sub = raw_subscriber(&redis.url(), &[], &["socket.io#/#*"]).await;
    let packet = event("/", r#"["hello","world"]"#, None);
    let encoded = (value(r#"["hello","world"]"#), None);

    node.adapter.broadcast(&packet, &encoded, &BroadcastOptions::all());
    let (channel, bytes) = next_message(&mut sub).await;
    assert_eq!(channel, "socket.io#/#");
    assert_eq!(bytes, with_uid(node.adapter.uid(), HELLO_WORLD_TAIL));

    // One room: the room's channel.
    node.adapter.broadcast(&packet, &encoded, &BroadcastOptions::to([Room::from("room1")]));
    let (channel, bytes) = next_message(&mut sub).await;
    assert_eq!(channel, "socket.io#/#room1#");
    let tail = b"\x83\xa4type\x02\xa4data\x92\xa5hello\xa5world\xa3nsp\xa1/\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80";
    assert_eq!(bytes, with_uid(node.adapter.uid(), tail));

    // `local` is not published: the next message is the one after it.
    let mut local = BroadcastOptions::all();
    local.flags.local = true;
    node.adapter.broadcast(&packet, &encoded, &local);
    let mut except = BroadcastOptions::to([Room::from("a"), Room::from("b")]);
    except.except = vec![Room::from("c")];
    except.flags.volatile = true;
    node.adapter.broadcast(&packet, &encoded, &except);
    let (channel, bytes) = next_message(&mut sub).await;
    assert_eq!(channel, "socket.io#/#");
    let tail = b"\x83\xa4type\x02\xa4data\x92\xa5hello\xa5world\xa3nsp\xa1/\x83\xa5rooms\x92\xa1a\xa1b\xa6except\x91\xa1c\xa5flags\x81\xa8volatile\xc3";
    assert_eq!(bytes, with_uid(node.adapter.uid(), tail));
}

#[tokio::test]
async fn the_reference_broadcast_reaches_our_sockets() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    node.connect("s1", &[]);
    let mut conn = raw(&redis.url()).await;

    // Another namespace, and our own uid: ignored.
    let other_nsp =
        [b"\x93\xa6", &b"2CNaxZ"[..], b"\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa6/admin\x80"].concat();
    publish(&mut conn, "socket.io#/#", &other_nsp).await;
    publish(&mut conn, "socket.io#/#", &with_uid(node.adapter.uid(), HELLO_WORLD_TAIL)).await;
    // The channel of a room without sockets here: not even decoded, as the reference does (its
    // options would reach every socket).
    publish(&mut conn, "socket.io#/#nobody#", &with_uid("2CNaxZ", HELLO_WORLD_TAIL)).await;

    publish(&mut conn, "socket.io#/#", &with_uid("2CNaxZ", HELLO_WORLD_TAIL)).await;
    eventually("s1 gets the broadcast", || !node.log.received_by("s1").is_empty()).await;
    assert_eq!(node.log.received_by("s1"), [value(r#"["hello","world"]"#)]);
    assert_eq!(node.log.deliveries()[0].ack_id, None);
}

#[tokio::test]
async fn the_emitter_drives_our_node() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    node.connect("a", &["r"]);
    node.connect("b", &["r", "x"]);
    node.connect("c", &[]);
    let mut conn = raw(&redis.url()).await;

    // `emitter.to("r").except("x").emit("news", 1, <bin>)`: keys in the emitter's order.
    let mut msg =
        b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x93\xa4news\x01\xc4\x02\xde\xad\xa3nsp\xa1/".to_vec();
    msg.extend_from_slice(b"\x83\xa5rooms\x91\xa1r\xa5flags\x80\xa6except\x91\xa1x");
    publish(&mut conn, "socket.io#/#r#", &msg).await;
    eventually("a gets the emitter's broadcast", || !node.log.received_by("a").is_empty()).await;
    let news =
        Value::Array(vec!["news".into(), 1u64.into(), Value::Binary(bytes::Bytes::from_static(b"\xde\xad"))]);
    assert_eq!(node.log.received_by("a"), [news]);

    // `socketsJoin`, `socketsLeave`, `disconnectSockets`, `serverSideEmit`: JSON, no uid.
    let request = |s: &str| s.as_bytes().to_vec();
    publish(
        &mut conn,
        "socket.io-request#/#",
        &request(r#"{"type":2,"opts":{"rooms":["r"],"except":[]},"rooms":["joined"]}"#),
    )
    .await;
    publish(
        &mut conn,
        "socket.io-request#/#",
        &request(r#"{"type":3,"opts":{"rooms":["x"],"except":[]},"rooms":["r"]}"#),
    )
    .await;
    publish(
        &mut conn,
        "socket.io-request#/#",
        &request(r#"{"type":4,"opts":{"rooms":["c"],"except":[]},"close":true}"#),
    )
    .await;
    publish(
        &mut conn,
        "socket.io-request#/#",
        &request(r#"{"uid":"emitter","type":6,"data":["ping",{"n":1}]}"#),
    )
    .await;
    eventually("the server-side event arrives", || !node.log.server_side().is_empty()).await;
    assert_eq!(node.log.server_side(), [vec![serde_json::json!("ping"), serde_json::json!({"n": 1})]]);
    assert_eq!(node.rooms_of("a"), ["a", "joined", "r"]);
    assert_eq!(node.rooms_of("b"), ["b", "joined", "x"]);
    assert_eq!(node.log.disconnects(), [("c".into(), true)]);
}

#[tokio::test]
async fn requests_are_answered_as_the_reference_answers_them() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    node.connect("a", &["r"]);
    node.connect("b", &["r", "x"]);
    node.connect("c", &[]);
    *node.log.server_side_answer.lock().unwrap() = Some(serde_json::json!("pong"));
    let mut responses = raw_subscriber(&redis.url(), &["socket.io-response#/#"], &[]).await;
    let mut conn = raw(&redis.url()).await;
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();

    publish(&mut conn, "socket.io-request#/#", br#"{"uid":"other","requestId":"r0","type":0,"rooms":["r"]}"#)
        .await;
    assert_eq!(text(next_message(&mut responses).await.1), r#"{"requestId":"r0","sockets":["a","b"]}"#);

    publish(&mut conn, "socket.io-request#/#", br#"{"uid":"other","requestId":"r1","type":1}"#).await;
    let answer: serde_json::Value = serde_json::from_slice(&next_message(&mut responses).await.1).unwrap();
    assert_eq!(answer["requestId"], "r1");
    let mut rooms: Vec<&str> =
        answer["rooms"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    rooms.sort_unstable();
    assert_eq!(rooms, ["a", "b", "c", "r", "x"]);

    // The legacy one-socket form is answered with `{requestId}`.
    publish(
        &mut conn,
        "socket.io-request#/#",
        br#"{"uid":"other","requestId":"r2","type":2,"sid":"c","room":"solo"}"#,
    )
    .await;
    assert_eq!(text(next_message(&mut responses).await.1), r#"{"requestId":"r2"}"#);
    assert_eq!(node.rooms_of("c"), ["c", "solo"]);

    publish(
        &mut conn,
        "socket.io-request#/#",
        br#"{"uid":"other","requestId":"r3","type":5,"opts":{"rooms":["r"],"except":["x"]}}"#,
    )
    .await;
    assert_eq!(
        text(next_message(&mut responses).await.1),
        r#"{"requestId":"r3","sockets":[{"id":"a","handshake":{"url":"/socket.io/?sid=a"},"rooms":["a","r"],"data":{"name":"a"}}]}"#
    );

    publish(
        &mut conn,
        "socket.io-request#/#",
        br#"{"uid":"other","requestId":"r4","type":6,"data":["ping"]}"#,
    )
    .await;
    assert_eq!(text(next_message(&mut responses).await.1), r#"{"type":6,"requestId":"r4","data":"pong"}"#);

    // A broadcast with acks (msgpack): the client count, then each client's ack.
    let mut request = b"\x85\xa3uid\xa5other\xa9requestId\xa2r5\xa4type\x07".to_vec();
    request.extend_from_slice(b"\xa6packet\x83\xa4type\x02\xa4data\x91\xa3ask\xa3nsp\xa1/");
    request.extend_from_slice(
        b"\xa4opts\x83\xa5rooms\x91\xa1r\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x03\xe8",
    );
    publish(&mut conn, "socket.io-request#/#", &request).await;
    assert_eq!(text(next_message(&mut responses).await.1), r#"{"type":8,"requestId":"r5","clientCount":2}"#);
    let asked: Vec<_> = node.log.deliveries().into_iter().filter(|d| d.data == value(r#"["ask"]"#)).collect();
    assert_eq!(asked.len(), 2);
    assert!(asked
        .iter()
        .all(|d| d.ack_id.is_some() && d.flags.timeout == Some(std::time::Duration::from_secs(1))));
    (asked[0].sink.as_ref().unwrap())(Value::from("yes"));
    assert_eq!(next_message(&mut responses).await.1, b"\x83\xa4type\x09\xa9requestId\xa2r5\xa6packet\xa3yes");

    // Our own requests are not answered by us.
    let own = format!(r#"{{"uid":"{}","requestId":"r6","type":1}}"#, node.adapter.uid());
    publish(&mut conn, "socket.io-request#/#", own.as_bytes()).await;
    publish(&mut conn, "socket.io-request#/#", br#"{"uid":"other","requestId":"r7","type":0,"rooms":["x"]}"#)
        .await;
    assert_eq!(text(next_message(&mut responses).await.1), r#"{"requestId":"r7","sockets":["b"]}"#);
}

#[tokio::test]
async fn answers_go_to_the_requesters_channel_when_configured() {
    let redis = RedisServer::start();
    let config = RedisAdapterConfig::default().with_publish_on_specific_response_channel(true);
    let node = TestNode::start(&redis.url(), "/", config).await;
    node.connect("a", &[]);
    let mut responses = raw_subscriber(&redis.url(), &[], &["socket.io-response#/#*"]).await;
    let mut conn = raw(&redis.url()).await;
    publish(&mut conn, "socket.io-request#/#", br#"{"uid":"other","requestId":"r0","type":0,"rooms":[]}"#)
        .await;
    let (channel, bytes) = next_message(&mut responses).await;
    assert_eq!(channel, "socket.io-response#/#other#");
    assert_eq!(bytes, br#"{"requestId":"r0","sockets":["a"]}"#);
}

#[tokio::test]
async fn malformed_messages_are_ignored() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    node.connect("a", &[]);
    let mut conn = raw(&redis.url()).await;
    let garbage: [&[u8]; 9] = [
        b"",
        b"{",
        b"{\"type\":7}",
        b"{\"type\":6,\"data\":\"not an array\"}",
        b"\x93",
        b"\x93\xa1x\x83\xa4type\x02\xa4data\xa1s\xa3nsp\xa1/\x80",
        b"\xc1\xc1\xc1",
        b"\xdd\xff\xff\xff\xff",
        b"[1,2,3]",
    ];
    for channel in ["socket.io#/#", "socket.io#/#a#", "socket.io-request#/#", "socket.io-response#/#"] {
        for bytes in garbage {
            publish(&mut conn, channel, bytes).await;
        }
    }
    publish(&mut conn, "socket.io-request#/#", br#"{"uid":"other","type":6,"data":["still here"]}"#).await;
    eventually("the node still reads requests", || !node.log.server_side().is_empty()).await;
    assert!(node.log.deliveries().is_empty());
    assert_eq!(node.rooms_of("a"), ["a"]);
}

#[tokio::test]
async fn the_server_count_is_the_request_channels_subscriber_count() {
    let redis = RedisServer::start();
    let node = TestNode::start(&redis.url(), "/", RedisAdapterConfig::default()).await;
    assert_eq!(node.adapter.server_count().await, Ok(1));
    let _other = raw_subscriber(&redis.url(), &["socket.io-request#/#"], &[]).await;
    assert_eq!(node.adapter.server_count().await, Ok(2));
    // Another namespace's subscribers do not count.
    let _admin = raw_subscriber(&redis.url(), &["socket.io-request#/admin#"], &[]).await;
    assert_eq!(node.adapter.server_count().await, Ok(2));
}
