//! Socket.IO 2 clients (npm `socket.io-client` 2.5.0: Engine.IO v3, Socket.IO protocol v4)
//! against a server with `config.engine.allow_eio3 = true`.
//!
//! Pins: the client is in `/` without asking (no `CONNECT` for `/` in protocol v4) over
//! long-polling, WebSocket and the upgrade; socket ids are the reference's for such clients
//! (`<engine id>` in `/`, `<nsp>#<engine id>` elsewhere) and the client agrees; events and
//! acknowledgements travel both ways, binary ones included; a namespace's query string
//! (`io(url + "/admin?token=abc")`) is the socket's `auth`; a middleware's refusal reaches the
//! client's `error` listeners as the reference sends it to such clients (the error's data, or
//! its message when it has none), an unknown namespace as `{"message": "Invalid namespace"}`.

use crate::support;

use std::time::Duration;

use serde_json::json;
use socketio_server::{Bytes, Config, ConnectError, Value};
use support::{bin, describe_all, inbox, Mode, TestServer};

fn eio3() -> Config {
    let mut config = Config::default();
    config.engine.allow_eio3 = true;
    config
}

async fn v2_main_namespace(mode: Mode) {
    let server = TestServer::start(eio3()).await;
    let (seen, mut received) = inbox::<Vec<Value>>();
    server.io.on_connection(move |socket| {
        let seen = seen.clone();
        async move {
            socket.on("hello", move |_, event| {
                let seen = seen.clone();
                async move {
                    let _ = seen.send(event.values().expect("values"));
                    let (name, n) = event.args::<(String, u32)>().expect("typed");
                    event.reply(&(format!("hi {name}"), n + 1)).expect("reply");
                }
            });
        }
    });
    let mut node =
        server.node("v2_main", json!([{"name": "a", "version": 2, "transports": mode.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let connect = node.last("a", "connect");
    assert_eq!(socket.id(), socket.engine_id(), "a v2 client's id in `/` is its Engine.IO id");
    assert_eq!(connect["id"].as_str(), Some(&**socket.id()));
    assert_eq!(socket.handshake().query_param("EIO"), Some("3"));
    assert_eq!(socket.auth(), &json!({}));
    mode.settle(&mut node, "a").await;

    assert_eq!(
        node.call("a", "hello", json!(["v2", 1, {"nested": [true, null]}])).await,
        json!(["hi v2", 2])
    );
    assert_eq!(describe_all(&received.next("hello").await), json!(["v2", 1, {"nested": [true, null]}]));

    socket.emit("welcome", &("x", 2, json!({"a": {"b": [1, 2]}}))).expect("emit");
    assert_eq!(node.received("a", "welcome").await["args"], json!(["x", 2, {"a": {"b": [1, 2]}}]));
    let response = socket
        .timeout(Duration::from_secs(10))
        .emit_with_ack("question", &("q", 3))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(response.args::<(String, u32)>().expect("typed"), ("q".to_owned(), 3));
    assert_eq!(socket.transport(), mode.final_transport());

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_over_polling() {
    v2_main_namespace(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_over_websocket() {
    v2_main_namespace(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_over_upgrade() {
    v2_main_namespace(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_namespace_query_is_the_auth() {
    let server = TestServer::start(eio3()).await;
    server.io.of("/admin").use_middleware(|socket| async move {
        match socket.auth()["token"].as_str() {
            Some("abc") => Ok(()),
            _ => Err(ConnectError::new("not authorized")),
        }
    });
    server
        .io
        .of("/data")
        .use_middleware(|_| async { Err(ConnectError::new("refused").with_data(json!({"reason": "x"}))) });
    let mut node = server.node(
        "v2_namespaces",
        json!([
            {"name": "main", "version": 2, "manager": "m"},
            {"name": "admin", "version": 2, "manager": "m", "nsp": "/admin", "nspQuery": "token=abc&x=1"},
            {"name": "intruder", "version": 2, "nsp": "/admin", "nspQuery": "token=nope"},
            {"name": "withdata", "version": 2, "manager": "m", "nsp": "/data"},
            {"name": "ghost", "version": 2, "manager": "m", "nsp": "/ghost"},
        ]),
    );
    let main = server.connected(&mut node, "main").await;
    let admin = server.connected(&mut node, "admin").await;
    assert_eq!(admin.auth(), &json!({"token": "abc", "x": "1"}));
    assert_eq!(admin.id().to_string(), format!("/admin#{}", admin.engine_id()));
    assert_eq!(node.last("admin", "connect")["id"].as_str(), Some(&**admin.id()));
    assert_eq!(main.engine_id(), admin.engine_id(), "one connection for both namespaces");

    let refused = node.next("intruder", "connect_error").await;
    assert_eq!(refused["message"], "not authorized", "{refused}");
    let refused = node.next("withdata", "connect_error").await;
    assert_eq!(
        refused["message"],
        json!({"reason": "x"}),
        "only the data, as the reference sends it: {refused}"
    );
    let unknown = node.next("ghost", "connect_error").await;
    assert_eq!(unknown["message"], json!({"message": "Invalid namespace"}), "{unknown}");

    admin.emit("admin-only", &1).expect("emit");
    main.emit("main-only", &2).expect("emit");
    assert_eq!(node.received("admin", "admin-only").await["args"], json!([1]));
    assert_eq!(node.received("main", "main-only").await["args"], json!([2]));
    assert_eq!(server.io.of("/admin").sockets().len(), 1);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_binary_both_ways() {
    let server = TestServer::start(eio3()).await;
    let mut node = server.node("v2_binary", json!([{"name": "a", "version": 2}]));
    let socket = server.connected(&mut node, "a").await;
    let (seen, mut received) = inbox::<Vec<Value>>();
    socket.on("upload", move |_, event| {
        let seen = seen.clone();
        async move {
            let _ = seen.send(event.values().expect("values"));
            event.reply(&(Bytes::from_static(b"\x0a\x0b"), "ok")).expect("binary reply");
        }
    });
    let ack = node.call("a", "upload", json!([bin(&[1, 2]), {"deep": [bin(&[3])]}, "text"])).await;
    assert_eq!(
        describe_all(&received.next("the upload").await),
        json!([bin(&[1, 2]), {"deep": [bin(&[3])]}, "text"])
    );
    assert_eq!(ack, json!([bin(&[0x0a, 0x0b]), "ok"]));

    socket.emit("download", &(Bytes::from_static(b"\xff"), "x")).expect("emit");
    assert_eq!(node.received("a", "download").await["args"], json!([bin(&[0xff]), "x"]));
    let response = socket
        .timeout(Duration::from_secs(10))
        .emit_with_ack("roundtrip", &(Bytes::from_static(b"\x07"),))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(response.args::<(Bytes,)>().expect("typed"), (Bytes::from_static(b"\x07"),));

    node.exit().await;
    server.close().await;
}
