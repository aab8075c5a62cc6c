//! What a Node.js server ported line by line relies on, with the npm `socket.io-client` 4.8.4:
//! the socket's own events through `on` (`disconnecting`, `disconnect`), names a server socket
//! never emits refused at registration, joins made by connection middlewares, a null argument,
//! doubles and member order kept exactly, binary arguments that are not text, listener handles
//! and the listener queries, and a closed server that serves again.

use crate::support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value as Json};
use socketio_server::{Bytes, Config, ListenerError, Socket, Spread, Value};
use support::{hex, inbox, Log, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_disconnecting_reach_on_handlers_with_the_reason() {
    let server = TestServer::start(Config::default()).await;
    let log = Log::default();
    let (sockets, mut connections) = inbox::<Socket>();
    let seen = log.clone();
    server.io.on_connection(move |socket| {
        let seen = seen.clone();
        let _ = sockets.send(socket.clone());
        async move {
            socket.join("lobby");
            let at_disconnecting = seen.clone();
            // The Node guides' `socket.on("disconnecting", (reason) => ..)`: still in its rooms.
            socket.on("disconnecting", move |socket, event| {
                let seen = at_disconnecting.clone();
                async move {
                    let reason: String = event.arg().expect("the reason");
                    let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                    seen.push(format!("disconnecting {reason} in {}", rooms.len()));
                }
            });
            let at_disconnect = seen.clone();
            socket.on_disconnect(move |_, reason| {
                let seen = at_disconnect.clone();
                async move { seen.push(format!("on_disconnect {reason}")) }
            });
            let at_disconnect = seen.clone();
            socket.on("disconnect", move |socket, event| {
                let seen = at_disconnect.clone();
                async move {
                    let reason: String = event.arg().expect("the reason");
                    seen.push(format!("disconnect {reason} connected={}", socket.connected()));
                }
            });
            let once = seen.clone();
            socket.once("disconnect", move |_, event| {
                let seen = once.clone();
                async move { seen.push(format!("once {}", event.arg::<String>().expect("the reason"))) }
            });
        }
    });
    let mut node = server.node("lifecycle_on", json!([{"name": "a"}]));
    node.next("a", "connect").await;
    let socket = connections.next("the connection").await;
    assert_eq!(socket.event_names(), ["disconnecting", "disconnect"]);
    assert_eq!(socket.listener_count("disconnect"), 3, "on, once and on_disconnect");
    node.command("disconnect", "a").await;
    server.wait_sessions(0).await;
    assert_eq!(
        log.entries(),
        [
            "disconnecting client namespace disconnect in 2",
            "on_disconnect client namespace disconnect",
            "disconnect client namespace disconnect connected=false",
            "once client namespace disconnect",
        ]
    );
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_a_server_socket_never_emits_are_refused_at_registration() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("never_emitted", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    for name in ["connect", "connect_error", "newListener", "removeListener"] {
        let refused = socket.try_on(name, |_, _| async {}).expect_err("refused");
        assert_eq!(refused, ListenerError::NeverEmitted(name.to_owned()));
        assert_eq!(
            refused.to_string(),
            format!("a server socket never emits \"{name}\": its handler could never run")
        );
        let panicked = catch_unwind(AssertUnwindSafe(|| socket.on(name, |_, _| async {})));
        assert!(panicked.is_err(), "on({name}) panics");
    }
    assert!(socket.event_names().is_empty(), "nothing was added");
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_joined_in_a_connection_middleware_are_kept() {
    let server = TestServer::start(Config::default()).await;
    server.io.use_middleware(|socket| async move {
        socket.join(["vip", "temporary"]);
        let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        assert_eq!(rooms, ["vip", "temporary"], "the middleware sees its joins");
        Ok(())
    });
    server.io.use_middleware(|socket| async move {
        socket.leave("temporary");
        Ok(())
    });
    let (rooms, mut joined) = inbox::<Vec<String>>();
    server.io.on_connection(move |socket| {
        let _ = rooms.send(socket.rooms().iter().map(|r| r.to_string()).collect());
        async {}
    });
    let mut node = server.node("middleware_joins", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    assert_eq!(joined.next("the rooms at connection").await, [socket.id().to_string(), "vip".to_owned()]);
    server.io.to("vip").emit("vip only", &"welcome").expect("broadcast");
    assert_eq!(node.received("a", "vip only").await["args"], json!(["welcome"]));
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_argument_is_sent_as_null() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("null_argument", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    socket.emit("value null", &Value::Null).expect("emit");
    socket.emit("json null", &serde_json::Value::Null).expect("emit");
    socket.emit("none", &()).expect("emit");
    assert_eq!(node.received("a", "value null").await["args"], json!([null]));
    assert_eq!(node.received("a", "json null").await["args"], json!([null]));
    assert_eq!(node.received("a", "none").await["args"], json!([]));
    node.exit().await;
    server.close().await;
}

/// 20 000 doubles from a fixed seed: random bit patterns and decimals like `Math.random() * k`.
fn doubles(count: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let value = if out.len() % 2 == 0 {
            f64::from_bits(state)
        } else {
            (state >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((state % 11) as i32)
        };
        // JSON has no NaN or infinity, and `JSON.stringify(-0)` is `0`.
        if value.is_finite() && value != 0.0 {
            out.push(value);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_doubles_come_back_unchanged_through_typed_and_value_handlers() {
    let server = TestServer::start(Config::default()).await;
    server.io.on_connection(|socket| async move {
        socket.on("typed", |_, event| async move {
            let numbers: Vec<f64> = event.arg().expect("an array of doubles");
            event.reply(&(numbers,)).expect("reply");
        });
        socket.on("values", |_, event| async move {
            let values = event.values().expect("values");
            event.reply(&Spread(values)).expect("reply");
        });
    });
    let mut node = server.node("doubles", json!([{"name": "a"}]));
    node.next("a", "connect").await;
    let sent = doubles(20_000);
    let mut changed = 0;
    for chunk in sent.chunks(2_000) {
        for event in ["typed", "values"] {
            let answer = node.call("a", event, json!([chunk])).await;
            let back: Vec<f64> = serde_json::from_value(answer[0].clone()).expect("doubles back");
            assert_eq!(back.len(), chunk.len());
            changed += chunk.iter().zip(&back).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        }
    }
    assert_eq!(changed, 0, "doubles changed by the round trips");
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_members_keep_their_order_in_auth_data_and_arguments() {
    let server = TestServer::start(Config::default()).await;
    let (auths, mut auth) = inbox::<String>();
    server.io.on_connection(move |socket| {
        let _ = auths.send(socket.auth().to_string());
        async move {
            socket.on("echo json", |socket, event| async move {
                let (object,): (Json,) = event.args().expect("an object");
                socket.set_data(&object).expect("data");
                event.reply(&(socket.data_json(),)).expect("reply");
            });
            socket.on("echo values", |_, event| async move {
                event.reply(&Spread(event.values().expect("values"))).expect("reply");
            });
        }
    });
    let object = r#"{"b":1,"a":{"d":1,"c":2},"z":[{"y":0,"x":1}]}"#;
    let mut node = server.node(
        "member_order",
        json!([{"name": "a", "auth": serde_json::from_str::<Json>(object).expect("json")}]),
    );
    node.next("a", "connect").await;
    assert_eq!(auth.next("the auth").await, object);
    for event in ["echo json", "echo values"] {
        let answer =
            node.call("a", event, json!([serde_json::from_str::<Json>(object).expect("json")])).await;
        assert_eq!(answer[0].to_string(), object, "{event}");
    }
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_argument_is_not_read_as_text() {
    let server = TestServer::start(Config::default()).await;
    let (reads, mut read) = inbox::<(String, Option<Vec<u8>>)>();
    server.io.on_connection(move |socket| {
        let reads = reads.clone();
        async move {
            socket.on("upload", move |_, event| {
                let reads = reads.clone();
                async move {
                    let text = event.arg::<String>().map_err(|e| e.to_string());
                    let bytes = event.arg::<Bytes>().ok().map(|b| b.to_vec());
                    let _ = reads.send((format!("{text:?}"), bytes));
                }
            });
        }
    });
    let mut node = server.node("binary_not_text", json!([{"name": "a"}]));
    node.next("a", "connect").await;
    node.emit("a", "upload", json!([{"$bin": hex(b"hello")}])).await;
    let (text, bytes) = read.next("the upload").await;
    assert_eq!(text, r#"Err("JSON payload: invalid type: byte array, expected a string")"#);
    assert_eq!(bytes.as_deref(), Some(&b"hello"[..]));
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_handles_remove_one_handler_and_the_queries_list_them() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("listener_handles", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    let log = Log::default();
    let handler = |label: &'static str| {
        let log = log.clone();
        move |_: Socket, event: socketio_server::Event| {
            let log = log.clone();
            async move {
                log.push(format!("{label} {}", event.name()));
                event.reply(&label).ok();
            }
        }
    };
    let first = socket.on("ping", handler("first"));
    let _second = socket.on("ping", handler("second"));
    let any_a = socket.on_any(handler("any a"));
    let any_b = socket.prepend_any(handler("any b"));
    let out_a = socket.on_any_outgoing(|_, _, _| {});
    let out_b = socket.prepend_any_outgoing(|_, _, _| {});
    assert_eq!(socket.event_names(), ["ping"]);
    assert_eq!(socket.listeners_any().len(), 2);
    assert_eq!(socket.listeners_any_outgoing().len(), 2);

    // `call` waits for the ack, which the last handler to reply sends first: handlers ran.
    assert_eq!(node.call("a", "ping", json!([])).await, json!(["any b"]));
    assert!(socket.remove_listener(&first));
    assert!(!socket.remove_listener(&first), "gone already");
    assert!(socket.remove_listener(&any_a));
    assert_eq!(node.call("a", "ping", json!([])).await, json!(["any b"]));
    assert_eq!(
        log.entries(),
        ["any b ping", "any a ping", "first ping", "second ping", "any b ping", "second ping"]
    );
    assert_eq!(socket.listeners_any().len(), 1);
    assert!(socket.remove_listener(&out_b));
    assert_eq!(socket.listeners_any_outgoing().len(), 1);
    assert!(socket.remove_listener(&out_a));
    assert!(socket.remove_listener(&any_b));

    socket.on("a", handler("a"));
    socket.on_disconnect(|_, _| async {});
    socket.on_error(|_, _| {});
    assert_eq!(socket.event_names(), ["ping", "a", "disconnect", "error"]);
    socket.off("ping");
    assert_eq!(socket.event_names(), ["a", "disconnect", "error"]);
    socket.remove_all_listeners();
    assert!(socket.event_names().is_empty());
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_server_serves_again() {
    let server = TestServer::start(Config::default()).await;
    let io = server.io.clone();
    io.on_connection(|socket| async move {
        socket.on("hello", |_, event| async move {
            event.reply(&"again").ok();
        });
    });
    let mut node = server.node("before_close", json!([{"name": "a"}]));
    node.next("a", "connect").await;
    node.exit().await;
    server.close().await;

    // The same server on a fresh listener: it takes connections again, with its handlers.
    let server = TestServer::serve(io.clone()).await;
    let mut node = server.node("after_close", json!([{"name": "a"}]));
    node.next("a", "connect").await;
    assert_eq!(node.call("a", "hello", json!([])).await, json!(["again"]));
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_all_sockets_and_disconnected_as_in_the_reference() {
    let server = TestServer::start(Config::default()).await;
    let (states, mut state) = inbox::<(bool, bool)>();
    server.io.use_middleware(move |socket| {
        let _ = states.send((socket.connected(), socket.disconnected()));
        async { Ok(()) }
    });
    let mut node = server.node("send_and_all_sockets", json!([{"name": "a"}, {"name": "b"}]));
    let a = server.connected(&mut node, "a").await;
    let b = server.connected(&mut node, "b").await;
    assert_eq!(state.next("in the middleware").await, (false, true));
    assert_eq!((a.connected(), a.disconnected()), (true, false));

    // `send` is an emit of `message`, from a socket, an operator, a namespace and the server.
    a.send(&"one").expect("send");
    server.io.to(b.id().clone()).send(&("two", 2)).expect("send");
    server.io.sockets().send(&()).expect("send");
    server.io.send(&"all").expect("send");
    assert_eq!(node.received("a", "message").await["args"], json!(["one"]));
    assert_eq!(node.received("b", "message").await["args"], json!(["two", 2]));
    assert_eq!(node.received("a", "message").await["args"], json!([]));
    assert_eq!(node.received("a", "message").await["args"], json!(["all"]));

    let mut ids = vec![a.id().clone(), b.id().clone()];
    ids.sort();
    assert_eq!(server.io.all_sockets().await.expect("all sockets"), ids);
    a.join("room");
    assert_eq!(server.io.to("room").all_sockets().await.expect("in the room"), [a.id().clone()]);

    let (gone, mut left) = inbox::<()>();
    a.on_disconnect(move |_, _| {
        let _ = gone.send(());
        async {}
    });
    node.command("disconnect", "a").await;
    left.next("a's disconnection on the server").await;
    assert_eq!(server.io.all_sockets().await.expect("all sockets"), [b.id().clone()]);
    assert!(a.disconnected());
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_auth_typed_state_and_handlers_that_own_their_state() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Auth {
        token: String,
        level: u8,
    }
    #[derive(Clone, Debug, PartialEq)]
    struct Session {
        user: String,
        hits: u32,
    }
    let server = TestServer::start(Config::default()).await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    server.io.on_connection_with(counter.clone(), |counter, socket| async move {
        let auth = socket.auth_as::<Auth>().expect("typed auth");
        assert!(socket.auth_as::<(u8, u8)>().is_err(), "an object is not a pair");
        socket.set_state(Session { user: auth.token.clone(), hits: 0 });
        socket.on_with("hit", counter, |counter, socket, event| async move {
            let total = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let hits = socket.with_state(|s: &mut Session| {
                s.hits += 1;
                s.hits
            });
            let session = socket.state::<Session>().expect("the state");
            event.reply(&(session.user, hits, total)).expect("reply");
        });
    });
    let mut node = server.node(
        "typed_state",
        json!([{"name": "a", "auth": {"token": "ada", "level": 3}}, {"name": "b", "auth": {"token": "bob", "level": 1}}]),
    );
    node.next("a", "connect").await;
    node.next("b", "connect").await;
    assert_eq!(node.call("a", "hit", json!([])).await, json!(["ada", 1, 1]));
    assert_eq!(node.call("a", "hit", json!([])).await, json!(["ada", 2, 2]));
    assert_eq!(node.call("b", "hit", json!([])).await, json!(["bob", 1, 3]));
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 3);
    node.exit().await;
    server.close().await;
}
