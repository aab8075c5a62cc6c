//! Event listeners of a socket, driven by the npm `socket.io-client` 4.8.4: `on`, `once`, `off`,
//! `on_any`, `prepend_any`, `off_any`, `on_any_outgoing` and `off_any_outgoing`.
//!
//! Pins: catch-all handlers run before the event's own, a prepended one first; several handlers
//! of one event run in registration order; `once` runs for the next such event only; `off`
//! removes every handler of an event and `off_any` every catch-all one; an event nobody listens
//! to is dropped without harm; a client event named `error` reaches `on("error")` handlers; `on_any_outgoing` sees the socket's own emits and the broadcasts
//! that reach it (name and arguments) but not acknowledgements.

use crate::support;

use serde_json::json;
use socketio_server::{Config, Value};
use support::{describe_all, Log, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_all_once_and_off() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("listeners", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    let log = Log::default();

    let l = log.clone();
    socket.on_any(move |_, event| {
        let l = l.clone();
        async move { l.push(format!("any {}", event.name())) }
    });
    let l = log.clone();
    socket.prepend_any(move |_, event| {
        let l = l.clone();
        async move { l.push(format!("prepended any {}", event.name())) }
    });
    for tag in ["first", "second"] {
        let l = log.clone();
        socket.on("ev", move |_, event| {
            let l = l.clone();
            async move { l.push(format!("{tag} ev {}", event.arg::<u32>().expect("a number"))) }
        });
    }
    let l = log.clone();
    socket.once("one", move |_, event| {
        let l = l.clone();
        async move { l.push(format!("once {}", event.arg::<u32>().expect("a number"))) }
    });
    socket.on("sync", |_, event| async move {
        event.reply(&()).expect("reply");
    });
    // `error` is not reserved: the client's event reaches the socket's `error` listeners.
    let l = log.clone();
    socket.on("error", move |_, event| {
        let l = l.clone();
        async move { l.push(format!("error {}", event.arg::<String>().expect("a string"))) }
    });

    node.emit("a", "ev", json!([1])).await;
    node.emit("a", "one", json!([2])).await;
    node.emit("a", "one", json!([3])).await;
    node.emit("a", "nobody-listens", json!([4])).await;
    node.emit("a", "error", json!(["oops"])).await;
    node.call("a", "sync", json!([])).await;
    assert_eq!(
        log.entries(),
        [
            "prepended any ev",
            "any ev",
            "first ev 1",
            "second ev 1",
            "prepended any one",
            "any one",
            "once 2",
            "prepended any one",
            "any one",
            "prepended any nobody-listens",
            "any nobody-listens",
            "prepended any error",
            "any error",
            "error oops",
            "prepended any sync",
            "any sync",
        ]
    );

    socket.off("ev");
    socket.off_any();
    let l = log.clone();
    socket.on("after", move |_, event| {
        let l = l.clone();
        async move { l.push(format!("after {}", event.arg::<u32>().expect("a number"))) }
    });
    let before = log.entries().len();
    node.emit("a", "ev", json!([5])).await;
    node.emit("a", "after", json!([6])).await;
    node.call("a", "sync", json!([])).await;
    assert_eq!(log.entries()[before..], ["after 6"]);
    assert!(socket.connected());

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_outgoing_sees_emits_and_broadcasts_but_not_acks() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("outgoing", json!([{"name": "a"}, {"name": "b"}]));
    let socket = server.connected(&mut node, "a").await;
    let other = server.connected(&mut node, "b").await;
    let log = Log::default();
    let l = log.clone();
    socket.on_any_outgoing(move |_, name, payload| {
        let args: Vec<Value> = socketio_parser::from_args(payload).expect("the arguments");
        l.push(format!("{name} {}", describe_all(&args)));
    });
    socket.on("question", |_, event| async move {
        event.reply(&"answer").expect("reply");
    });

    socket.emit("direct", &("x", 1)).expect("emit");
    server.io.emit("to-everyone", &2).expect("broadcast");
    other.broadcast().emit("from-b", &3).expect("broadcast");
    other.emit("only-b", &4).expect("emit");
    assert_eq!(node.call("a", "question", json!([])).await, json!(["answer"]));
    node.received("a", "from-b").await;
    assert_eq!(log.entries(), [r#"direct ["x",1]"#, "to-everyone [2]", "from-b [3]"]);

    socket.off_any_outgoing();
    socket.emit("unseen", &()).expect("emit");
    node.received("a", "unseen").await;
    assert_eq!(log.entries().len(), 3);

    node.exit().await;
    server.close().await;
}
