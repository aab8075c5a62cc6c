//! Namespaces with the npm `socket.io-client` 4.8.4: several multiplexed on one Engine.IO
//! connection (sockets of one `Manager`), an unknown one refused, and dynamic ones created on
//! demand by `io.of_pattern` and `io.of_dynamic`.
//!
//! Pins: sockets of one manager share the Engine.IO session but have their own ids, and what is
//! sent in one namespace reaches only that namespace; `CONNECT` to a namespace nobody serves
//! gets `connect_error` "Invalid namespace" while the other namespaces of the connection live
//! on; a dynamic namespace creates a child per accepted name, once, announced to
//! `on_new_namespace`, running the parent's middlewares and connection handlers; a predicate sees
//! the client's `auth`.

use crate::support;

use serde_json::json;
use socketio_server::{Config, ConnectError};
use support::{inbox, Log, Mode, TestServer};

async fn multiplexed(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let admin_ns = server.io.of("/admin");
    let mut node = server.node(
        "multiplexed",
        json!([
            {"name": "main", "manager": "m", "transports": mode.transports()},
            {"name": "admin", "nsp": "/admin", "manager": "m", "transports": mode.transports()},
        ]),
    );
    let main = server.connected(&mut node, "main").await;
    let admin = server.connected(&mut node, "admin").await;
    assert_eq!(node.last("main", "connect")["engine"], node.last("admin", "connect")["engine"]);
    assert_eq!(main.engine_id(), admin.engine_id(), "one Engine.IO session");
    assert_ne!(main.id(), admin.id());
    assert_eq!(&**admin.nsp(), "/admin");
    mode.settle(&mut node, "m").await;

    main.emit("where", &"/").expect("emit");
    admin.emit("where", &"/admin").expect("emit");
    server.io.emit("everyone-in-main", &1).expect("broadcast");
    admin_ns.emit("everyone-in-admin", &2).expect("broadcast");
    for (client, socket) in [("main", &main), ("admin", &admin)] {
        let nsp = socket.nsp().to_string();
        socket.on("whoami", move |_, event| {
            let nsp = nsp.clone();
            async move {
                event.reply(&nsp).expect("reply");
            }
        });
        assert_eq!(node.call(client, "whoami", json!([])).await, json!([socket.nsp().to_string()]));
    }
    assert_eq!(
        node.events_of("main"),
        [("where".to_owned(), json!(["/"])), ("everyone-in-main".to_owned(), json!([1]))]
    );
    assert_eq!(
        node.events_of("admin"),
        [("where".to_owned(), json!(["/admin"])), ("everyone-in-admin".to_owned(), json!([2]))]
    );
    assert_eq!(server.io.engine().clients_count(), 1);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_multiplexed_on_one_connection_over_polling() {
    multiplexed(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_multiplexed_on_one_connection_over_websocket() {
    multiplexed(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_multiplexed_on_one_connection_over_upgrade() {
    multiplexed(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_namespace_is_refused_and_the_connection_lives_on() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node(
        "invalid_namespace",
        json!([
            {"name": "main", "manager": "m"},
            {"name": "ghost", "nsp": "/nope", "manager": "m"},
        ]),
    );
    let main = server.connected(&mut node, "main").await;
    let refused = node.next("ghost", "connect_error").await;
    assert_eq!(refused["message"], "Invalid namespace", "{refused}");
    assert_eq!(refused["data"], json!(null));

    main.on("ping?", |_, event| async move {
        event.reply(&"pong").expect("reply");
    });
    assert_eq!(node.call("main", "ping?", json!([])).await, json!(["pong"]));
    assert!(node.state("main").await["connected"].as_bool().expect("connected flag"));
    assert!(!node.state("ghost").await["connected"].as_bool().expect("connected flag"));

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_creates_child_namespaces_that_inherit_handlers() {
    let server = TestServer::start(Config::default()).await;
    let created = Log::default();
    let hook = created.clone();
    server.io.on_new_namespace(move |ns| hook.push(ns.name().to_string()));
    let parent = server.io.of_pattern(regex::Regex::new(r"^/dyn-\d+$").expect("regex"));
    let admitted = Log::default();
    let middleware_log = admitted.clone();
    parent.use_middleware(move |socket| {
        let log = middleware_log.clone();
        async move {
            log.push(socket.nsp().to_string());
            Ok(())
        }
    });
    let (connections, mut connected) = inbox::<String>();
    parent.on_connection(move |socket| {
        let _ = connections.send(socket.nsp().to_string());
        async move {
            socket.on("whoami", |socket, event| async move {
                event.reply(&socket.nsp().to_string()).expect("reply");
            });
        }
    });

    let mut node = server.node(
        "pattern_namespaces",
        json!([
            {"name": "d1", "nsp": "/dyn-1", "manager": "m"},
            {"name": "d2", "nsp": "/dyn-2", "manager": "m"},
            {"name": "bad", "nsp": "/dyn-x", "manager": "m"},
            {"name": "d1-again", "nsp": "/dyn-1"},
        ]),
    );
    for client in ["d1", "d2", "d1-again"] {
        node.next(client, "connect").await;
    }
    assert_eq!(node.next("bad", "connect_error").await["message"], "Invalid namespace");
    assert_eq!(node.call("d1", "whoami", json!([])).await, json!(["/dyn-1"]));
    assert_eq!(node.call("d2", "whoami", json!([])).await, json!(["/dyn-2"]));
    assert_eq!(node.call("d1-again", "whoami", json!([])).await, json!(["/dyn-1"]));

    let mut connections = connected.take(3, "the connections").await;
    connections.sort();
    assert_eq!(connections, ["/dyn-1", "/dyn-1", "/dyn-2"]);
    let mut admissions = admitted.entries();
    admissions.sort();
    assert_eq!(admissions, ["/dyn-1", "/dyn-1", "/dyn-2"], "the parent's middleware ran for every socket");
    let mut announced = created.entries();
    announced.sort();
    assert_eq!(announced, ["/dyn-1", "/dyn-2"], "each child is created and announced once");
    let mut children: Vec<String> = parent.children().iter().map(|ns| ns.name().to_string()).collect();
    children.sort();
    assert_eq!(children, ["/dyn-1", "/dyn-2"]);
    assert_eq!(server.io.of("/dyn-1").sockets().len(), 2);

    // Emitting on the parent reaches every child.
    parent.emit("to-children", &"hi").expect("emit");
    for client in ["d1", "d2", "d1-again"] {
        assert_eq!(node.received(client, "to-children").await["args"], json!(["hi"]));
    }

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_predicate_decides_with_the_name_query_and_auth_and_may_refuse() {
    let server = TestServer::start(Config::default()).await;
    let parent = server.io.of_dynamic(|request| async move {
        if !request.name.starts_with("/team-") {
            return Ok(false);
        }
        match (request.auth["key"].as_str(), request.query_param("region")) {
            (Some("k"), Some("eu")) => Ok(true),
            (Some("k"), region) => {
                Err(ConnectError::new("wrong region").with_data(json!({"region": region})))
            }
            _ => Ok(false),
        }
    });
    parent.on_connection(|socket| async move {
        socket.on("auth?", |socket, event| async move {
            event.reply(socket.auth()).expect("reply");
        });
    });
    let mut node = server.node(
        "predicate_namespaces",
        json!([
            {"name": "t1", "nsp": "/team-a", "auth": {"key": "k"}, "query": {"region": "eu"}},
            {"name": "t2", "nsp": "/team-b", "auth": {"key": "wrong"}, "query": {"region": "eu"}},
            {"name": "t3", "nsp": "/other", "auth": {"key": "k"}, "query": {"region": "eu"}},
            {"name": "t4", "nsp": "/team-c", "auth": {"key": "k"}, "query": {"region": "us"}},
        ]),
    );
    let socket = server.connected(&mut node, "t1").await;
    assert_eq!(&**socket.nsp(), "/team-a");
    assert_eq!(socket.auth(), &json!({"key": "k"}));
    assert_eq!(node.call("t1", "auth?", json!([])).await, json!([{"key": "k"}]));
    assert_eq!(node.next("t2", "connect_error").await["message"], "Invalid namespace");
    assert_eq!(node.next("t3", "connect_error").await["message"], "Invalid namespace");
    let refused = node.next("t4", "connect_error").await;
    assert_eq!((&refused["message"], &refused["data"]), (&json!("wrong region"), &json!({"region": "us"})));
    let children: Vec<String> = parent.children().iter().map(|ns| ns.name().to_string()).collect();
    assert_eq!(children, ["/team-a"]);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_namespace_broadcasts_joins_fetches_and_disconnects_across_its_children() {
    let server = TestServer::start(Config::default()).await;
    let parent = server.io.of_pattern(regex::Regex::new(r"^/shop-[a-z]+$").expect("regex"));
    parent.on_connection(|socket| async move {
        if socket.handshake().auth["vip"] == json!(true) {
            socket.join("vip");
        }
    });
    let mut node = server.node(
        "parent_operators",
        json!([
            {"name": "a", "nsp": "/shop-a", "auth": {"vip": true}},
            {"name": "b", "nsp": "/shop-b", "auth": {"vip": false}},
            {"name": "c", "nsp": "/shop-c", "auth": {"vip": true}},
        ]),
    );
    for client in ["a", "b", "c"] {
        node.next(client, "connect").await;
    }
    server.wait_sessions(3).await;

    parent.to("vip").emit("vip", &"hello").expect("broadcast");
    parent.except("vip").emit("others", &"hi").expect("broadcast");
    for client in ["a", "c"] {
        assert_eq!(node.received(client, "vip").await["args"], json!(["hello"]));
    }
    assert_eq!(node.received("b", "others").await["args"], json!(["hi"]));
    assert_eq!(parent.fetch_sockets().await.expect("every child").len(), 3);
    let vip = parent.to("vip").fetch_sockets().await.expect("the vip sockets");
    assert_eq!(vip.len(), 2);

    parent.except("vip").sockets_join("late");
    let late = parent.to("late").fetch_sockets().await.expect("joined");
    assert_eq!(late.len(), 1);
    parent.sockets_leave("vip");
    assert!(parent.to("vip").fetch_sockets().await.expect("left").is_empty());

    parent.to("late").disconnect_sockets(false);
    assert_eq!(node.next("b", "disconnect").await["reason"], "io server disconnect");
    assert_eq!(parent.fetch_sockets().await.expect("the rest").len(), 2);
    // Only the children's events reached the clients, each once.
    assert_eq!(node.events_of("a").len(), 1);
    assert_eq!(node.events_of("b").len(), 1);

    node.exit().await;
    server.close().await;
}
