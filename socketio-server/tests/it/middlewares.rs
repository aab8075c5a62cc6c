//! Middlewares with the npm `socket.io-client` 4.8.4: connection middlewares
//! (`use_middleware` on the server or a namespace) and packet middlewares
//! (`Socket::use_middleware`).
//!
//! Pins: connection middlewares run in order, may wait, see the client's `auth` and a socket
//! that is not yet connected; a refusal reaches the client as `connect_error` with `err.message`
//! and `err.data` (none when the error has no data) and no connection handler runs; a
//! namespace's middleware refuses that namespace only, the other namespaces of the connection
//! live on. Packet middlewares run in order, each awaited, and may rewrite an event's arguments;
//! a refusal (message and data) drops the event: neither the catch-all nor the event's handlers
//! run, the socket's `on_error` handlers get `SocketError::Middleware` and its `on("error")`
//! handlers `{message, data}`.

use crate::support;

use std::time::Duration;

use serde_json::json;
use socketio_server::{Config, ConnectError, SocketError};
use support::{inbox, Log, Mode, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_middlewares_refuse_with_message_and_data() {
    let server = TestServer::start(Config::default()).await;
    let log = Log::default();
    let first = log.clone();
    server.io.use_middleware(move |socket| {
        let log = first.clone();
        async move {
            // A middleware that really waits, as a database lookup would.
            tokio::time::sleep(Duration::from_millis(5)).await;
            log.push(format!("first {} connected={}", socket.auth()["token"], socket.connected()));
            Ok(())
        }
    });
    let second = log.clone();
    server.io.use_middleware(move |socket| {
        let log = second.clone();
        async move {
            let token = socket.auth()["token"].as_str().unwrap_or_default().to_owned();
            log.push(format!("second {token}"));
            match token.as_str() {
                "good" => Ok(()),
                "nodata" => Err(ConnectError::new("no data")),
                _ => Err(ConnectError::new("not authorized").with_data(json!({"reason": "x"}))),
            }
        }
    });
    let (connections, mut connected) = inbox::<String>();
    server.io.on_connection(move |socket| {
        let _ = connections.send(socket.auth()["token"].as_str().unwrap_or_default().to_owned());
        async {}
    });

    let mut node = server.node(
        "connection_middlewares",
        json!([
            {"name": "good", "auth": {"token": "good"}, "transports": Mode::WebSocket.transports()},
            {"name": "bad", "auth": {"token": "bad"}, "transports": Mode::Polling.transports()},
            {"name": "nodata", "auth": {"token": "nodata"}, "transports": Mode::Upgrade.transports()},
        ]),
    );
    let good = server.connected(&mut node, "good").await;
    assert!(good.connected());
    let bad = node.next("bad", "connect_error").await;
    assert_eq!(bad["message"], "not authorized", "{bad}");
    assert_eq!(bad["data"], json!({"reason": "x"}), "{bad}");
    let nodata = node.next("nodata", "connect_error").await;
    assert_eq!(nodata["message"], "no data", "{nodata}");
    assert_eq!(nodata["data"], json!(null), "{nodata}");

    assert_eq!(connected.next("the connection").await, "good");
    let mut entries = log.entries();
    entries.sort();
    assert_eq!(
        entries,
        [
            r#"first "bad" connected=false"#,
            r#"first "good" connected=false"#,
            r#"first "nodata" connected=false"#,
            "second bad",
            "second good",
            "second nodata",
        ]
    );
    assert_eq!(connected.drain(), Vec::<String>::new(), "no connection handler ran for the refused");
    assert_eq!(server.io.sockets().sockets().len(), 1);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_middleware_refuses_only_its_namespace() {
    let server = TestServer::start(Config::default()).await;
    server.io.of("/admin").use_middleware(|_| async { Err(ConnectError::new("admins only")) });
    let mut node = server.node(
        "namespace_middleware",
        json!([
            {"name": "main", "manager": "m"},
            {"name": "admin", "nsp": "/admin", "manager": "m"},
        ]),
    );
    let main = server.connected(&mut node, "main").await;
    assert_eq!(node.next("admin", "connect_error").await["message"], "admins only");
    main.on("still?", |_, event| async move {
        event.reply(&"here").expect("reply");
    });
    assert_eq!(node.call("main", "still?", json!([])).await, json!(["here"]));
    assert_eq!(server.io.of("/admin").sockets().len(), 0);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_middleware_refusal_reaches_on_error_and_skips_the_handlers() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("packet_middleware", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    let log = Log::default();
    let seen = log.clone();
    socket.use_middleware(move |_, event| {
        let seen = seen.clone();
        async move {
            // A middleware that really waits: the next one and the handlers wait for it.
            tokio::time::sleep(Duration::from_millis(5)).await;
            seen.push(format!("middleware 1 {}", event.name()));
            Ok(event)
        }
    });
    let seen = log.clone();
    socket.use_middleware(move |_, event| {
        let seen = seen.clone();
        async move {
            seen.push(format!("middleware 2 {}", event.name()));
            let args = event.values().map_err(|e| ConnectError::new(e.to_string()))?;
            match event.name() {
                "forbidden" => {
                    Err(ConnectError::new(format!("blocked {}", args.len())).with_data(json!({"code": 403})))
                }
                // Rewrites the arguments: the handler sees the new ones, the ack stays.
                "allowed" => {
                    event.with_args(&("rewritten", args.len())).map_err(|e| ConnectError::new(e.to_string()))
                }
                _ => Ok(event),
            }
        }
    });
    let (errors, mut errored) = inbox::<SocketError>();
    socket.on_error(move |_, error| {
        let _ = errors.send(error.clone());
    });
    // The reference's `socket.on("error", ..)` gets the refusal too, as `{message, data}`.
    let (named, mut named_errors) = inbox::<serde_json::Value>();
    socket.on("error", move |_, event| {
        let named = named.clone();
        async move {
            let _ = named.send(event.arg::<serde_json::Value>().expect("one argument"));
        }
    });
    for name in ["forbidden", "allowed"] {
        let seen = log.clone();
        socket.on(name, move |_, event| {
            let seen = seen.clone();
            async move {
                let args = event.values().expect("arguments");
                seen.push(format!(
                    "handler {} {}",
                    event.name(),
                    serde_json::to_string(&args).expect("json")
                ));
                event.reply(&"ok").expect("reply");
            }
        });
    }
    let seen = log.clone();
    socket.on_any(move |_, event| {
        let seen = seen.clone();
        async move { seen.push(format!("any {}", event.name())) }
    });

    node.emit("a", "forbidden", json!([1, 2])).await;
    assert_eq!(node.call("a", "allowed", json!([7])).await, json!(["ok"]));
    assert_eq!(
        errored.next("the refusal").await,
        SocketError::Middleware(ConnectError::new("blocked 2").with_data(json!({"code": 403})))
    );
    assert_eq!(
        named_errors.next("the refusal").await,
        json!({"message": "blocked 2", "data": {"code": 403}})
    );
    assert_eq!(
        log.entries(),
        [
            "middleware 1 forbidden",
            "middleware 2 forbidden",
            "middleware 1 allowed",
            "middleware 2 allowed",
            "any allowed",
            r#"handler allowed ["rewritten",1]"#,
        ]
    );
    assert!(socket.connected(), "a refused packet does not disconnect");

    node.exit().await;
    server.close().await;
}
