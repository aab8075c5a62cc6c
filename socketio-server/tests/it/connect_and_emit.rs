//! Connecting to `/` with the npm `socket.io-client` 4.8.4 over long-polling, WebSocket and
//! polling upgraded to WebSocket, and emitting both ways with several arguments.
//!
//! Pins: the client's `socket.id` is the server socket's id, 20 characters and not the Engine.IO
//! session id (which both sides agree on); the server's handshake holds the client's `auth`,
//! query, headers, address, `issued`, `time`, `url` and `xdomain`; the server sees the upgrade;
//! strings, numbers, booleans, null and nested objects travel both ways, read typed with
//! `event.args::<(..)>()` and untyped with `event.values()`; a tuple spreads into several
//! arguments, a `Vec` is one array argument and `()` is no argument.

use crate::support;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use socketio_server::{Config, Socket, Value};
use support::{describe_all, epoch_millis, inbox, Mode, TestServer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    tags: Vec<String>,
    address: Address,
}

/// What the `greet` handler read.
#[derive(Debug)]
struct Greeting {
    typed: (String, u32, Profile),
    untyped: Vec<Value>,
    transport: &'static str,
}

async fn connect_and_emit(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let (sockets, mut connections) = inbox::<Socket>();
    let (upgrades, mut upgraded) = inbox::<String>();
    let (greetings, mut greeted) = inbox::<Greeting>();
    server.io.on_connection(move |socket| {
        let upgrades = upgrades.clone();
        let greetings = greetings.clone();
        let _ = sockets.send(socket.clone());
        async move {
            socket.on_upgrade(move |socket| {
                let _ = upgrades.send(socket.transport().to_owned());
            });
            socket.on("greet", move |socket, event| {
                let greetings = greetings.clone();
                async move {
                    let typed = event.args::<(String, u32, Profile)>().expect("typed arguments");
                    let untyped = event.values().expect("untyped arguments");
                    let mut profile = typed.2.clone();
                    profile.tags.push("seen".to_owned());
                    event.reply(&(format!("hi {}", typed.0), typed.1 + 1, &profile)).expect("reply");
                    let _ = greetings.send(Greeting { typed, untyped, transport: socket.transport() });
                }
            });
        }
    });

    let before = epoch_millis();
    let mut node = server.node(
        "connect_and_emit",
        json!([{
            "name": "a", "transports": mode.transports(), "auth": {"token": "abc", "n": 1},
            "query": {"room": "lobby"}, "extraHeaders": {"x-test": "yes"},
        }]),
    );
    let socket = connections.next("the connection").await;
    let connect = node.next("a", "connect").await;
    let after = epoch_millis();

    // Ids: the client's socket.id is the server socket's, not the Engine.IO session id.
    assert_eq!(connect["id"].as_str(), Some(&**socket.id()));
    assert_eq!(socket.id().len(), 20, "{:?}", socket.id());
    assert_eq!(connect["engine"].as_str(), Some(&**socket.engine_id()));
    assert_ne!(socket.id(), socket.engine_id());
    assert_eq!(&**socket.nsp(), "/");
    assert!(socket.connected());
    if mode != Mode::Upgrade {
        // (An upgrade may complete before the client's `connect`.)
        assert_eq!(connect["transport"], mode.first_transport());
    }

    // The handshake.
    let handshake = socket.handshake();
    assert_eq!(handshake.auth, json!({"token": "abc", "n": 1}));
    assert_eq!(socket.auth(), &json!({"token": "abc", "n": 1}));
    assert_eq!(handshake.query_param("room"), Some("lobby"));
    assert_eq!(handshake.query_param("EIO"), Some("4"));
    assert_eq!(handshake.query_param("transport"), Some(mode.first_transport()));
    assert_eq!(handshake.headers.get("x-test").map(|v| v.as_bytes()), Some(&b"yes"[..]));
    assert_eq!(handshake.address, "127.0.0.1");
    assert!(!handshake.xdomain, "node sends no Origin header");
    assert!(!handshake.secure);
    assert!(
        (before..=after).contains(&handshake.issued),
        "issued {} not in {before}..={after}",
        handshake.issued
    );
    assert!(handshake.time.ends_with("GMT+0000 (Coordinated Universal Time)"), "{}", handshake.time);
    assert!(handshake.url.starts_with("/socket.io/?"), "{}", handshake.url);
    assert!(handshake.url.contains("room=lobby"), "{}", handshake.url);
    let json = handshake.to_json();
    assert_eq!(json["auth"], json!({"token": "abc", "n": 1}));
    assert_eq!(json["query"]["room"], "lobby");
    assert_eq!(json["headers"]["x-test"], "yes");

    mode.settle(&mut node, "a").await;

    // Server to client: a tuple spreads into several arguments.
    let nested = json!({"a": {"b": [1, 2, {"c": "d"}]}, "e": "é€😀"});
    socket.emit("welcome", &("hello", 42, &nested, 1.5, true, Json::Null)).expect("emit welcome");
    socket.emit("list", &vec![1, 2, 3]).expect("emit a Vec");
    socket.emit("nothing", &()).expect("emit no argument");
    assert_eq!(node.received("a", "welcome").await["args"], json!(["hello", 42, nested, 1.5, true, null]));
    assert_eq!(node.received("a", "list").await["args"], json!([[1, 2, 3]]));
    assert_eq!(node.received("a", "nothing").await["args"], json!([]));

    // Client to server, typed and untyped, with the answer back.
    let profile = json!({"name": "Ada", "tags": ["x", "y"], "address": {"city": "Paris", "zip": null}});
    let answer = node.call("a", "greet", json!(["Ada", 41, profile])).await;
    let greeting = greeted.next("the greeting").await;
    assert_eq!(
        greeting.typed,
        (
            "Ada".to_owned(),
            41,
            Profile {
                name: "Ada".into(),
                tags: vec!["x".into(), "y".into()],
                address: Address { city: "Paris".into(), zip: None }
            }
        )
    );
    assert_eq!(describe_all(&greeting.untyped), json!(["Ada", 41, profile]));
    assert_eq!(greeting.untyped[0].as_str(), Some("Ada"));
    assert_eq!(greeting.untyped[1].as_u64(), Some(41));
    assert_eq!(
        greeting.untyped[2].get("address").and_then(|a| a.get("city")).and_then(Value::as_str),
        Some("Paris")
    );
    assert_eq!(greeting.transport, mode.final_transport());
    assert_eq!(
        answer,
        json!(["hi Ada", 42, {"name": "Ada", "tags": ["x", "y", "seen"], "address": {"city": "Paris", "zip": null}}])
    );

    // The upgrade was seen by the socket, once, and only when there was one.
    assert_eq!(socket.transport(), mode.final_transport());
    let seen_upgrades = upgraded.drain();
    let expected: Vec<String> = if mode == Mode::Upgrade { vec!["websocket".into()] } else { vec![] };
    assert_eq!(seen_upgrades, expected);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_emit_over_polling() {
    connect_and_emit(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_emit_over_websocket() {
    connect_and_emit(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_emit_over_upgrade() {
    connect_and_emit(Mode::Upgrade).await;
}

/// Several clients get distinct ids; a client's `auth` defaults to an empty object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_its_own_socket_id() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node(
        "distinct_ids",
        json!([
            {"name": "a", "transports": Mode::WebSocket.transports()},
            {"name": "b", "transports": Mode::Polling.transports()},
            {"name": "c"},
        ]),
    );
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let socket = server.connected(&mut node, name).await;
        assert_eq!(socket.auth(), &json!({}));
        ids.push(socket.id().clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(server.io.sockets().sockets().len(), 3);
    node.exit().await;
    server.close().await;
}
