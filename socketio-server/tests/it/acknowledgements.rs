//! Acknowledgements both ways with the npm `socket.io-client` 4.8.4.
//!
//! Pins: a client's acknowledgement is answered once, however often the handler replies (the
//! wire carries one ACK packet); `socket.timeout(d).emit_with_ack` resolves to the client's
//! answer as an `AckResponse`, and to `AckError::Timeout` when the client does not answer; the
//! client's own `socket.timeout(ms).emit` gets `operation has timed out` when the server does
//! not answer and the answer when it does; an acknowledgement still awaited when the client
//! leaves fails with `AckError::Disconnected`; 200 acknowledgements in flight at once, answered in
//! another order than they were asked, each reach the emit they belong to, in both directions.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::{AckError, AckSender, Config};
use support::{inbox, Mode, TestServer};
use tokio::task::JoinSet;

async fn answered_once(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("answered_once", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let (replies, mut replied) = inbox::<Vec<bool>>();
    socket.on("double", move |_, event| {
        let replies = replies.clone();
        async move {
            let ack = event.ack().expect("the client awaits an acknowledgement").clone();
            let first = event.reply(&"first").is_ok();
            let second = event.reply(&"second").is_ok();
            let third = ack.send(&"third").is_ok();
            let _ = replies.send(vec![first, second, third]);
        }
    });
    socket.on("sync", |_, event| async move {
        event.reply(&"synced").expect("reply");
    });

    assert_eq!(node.call("a", "double", json!([])).await, json!(["first"]));
    assert_eq!(
        replied.next("the replies").await,
        [true, true, true],
        "later replies are ignored, not errors"
    );
    // Anything the server sent for `double` arrived before the answer to `sync`.
    assert_eq!(node.call("a", "sync", json!([])).await, json!(["synced"]));
    let acks: Vec<Json> =
        node.wire("a").await.into_iter().filter(|m| m.as_str().is_some_and(|m| m.starts_with('3'))).collect();
    assert_eq!(acks, [json!(r#"30["first"]"#), json!(r#"31["synced"]"#)]);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_ack_is_answered_once_over_polling() {
    answered_once(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_ack_is_answered_once_over_websocket() {
    answered_once(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_emit_with_ack_resolves_to_the_answer_or_times_out() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node(
        "server_acks",
        json!([{"name": "a", "answers": {"sum": {"reply": [3, {"ok": true}]}, "ignored": "silent"}}]),
    );
    let socket = server.connected(&mut node, "a").await;

    let response = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack("sum", &(1, 2))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(response.args::<(u32, Json)>().expect("typed answer"), (3, json!({"ok": true})));
    assert_eq!(response.values().expect("untyped answer").len(), 2);
    assert_eq!(node.received("a", "sum").await["args"], json!([1, 2]));

    // Without a deadline: the client echoes.
    let echo = socket.emit_with_ack("echo", &("x", 1)).expect("emit").await.expect("the client answers");
    assert_eq!(echo.args::<(String, u32)>().expect("typed answer"), ("x".to_owned(), 1));

    // No answer: the deadline fires.
    let outcome =
        socket.timeout(Duration::from_millis(200)).emit_with_ack("ignored", &()).expect("emit").await;
    assert_eq!(outcome, Err(AckError::Timeout));
    assert!(node.received("a", "ignored").await["ack"].as_bool().expect("ack flag"));

    // The socket works on after a timed-out acknowledgement.
    let again = socket.timeout(Duration::from_secs(5)).emit_with_ack("echo", &"again").expect("emit").await;
    assert_eq!(again.expect("answered").arg::<String>().expect("string"), "again");

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_timeout_emit_gets_the_answer_or_operation_has_timed_out() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("client_timeout", json!([{"name": "a"}]));
    let socket = server.connected(&mut node, "a").await;
    let (heard, mut heard_rx) = inbox::<String>();
    socket.on("ignored", move |_, event| {
        let heard = heard.clone();
        async move {
            // Heard, never answered.
            let _ = heard.send(event.name().to_owned());
        }
    });
    socket.on("answered", |_, event| async move {
        let n: u32 = event.arg().expect("a number");
        event.reply(&(n * 10)).expect("reply");
    });

    let ack = node.call_with("a", "ignored", json!([1]), Some(200)).await;
    assert_eq!(ack["err"], "operation has timed out", "{ack}");
    assert_eq!(heard_rx.next("the unanswered event").await, "ignored");

    let ack = node.call_with("a", "answered", json!([7]), Some(5000)).await;
    assert_eq!(ack["err"], Json::Null, "{ack}");
    assert_eq!(ack["args"], json!([70]));

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_ack_fails_when_the_client_leaves() {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("ack_disconnected", json!([{"name": "a", "answers": {"never": "silent"}}]));
    let socket = server.connected(&mut node, "a").await;
    let (gone, mut left) = inbox::<()>();
    socket.on_disconnect(move |_, _| {
        let _ = gone.send(());
        async {}
    });
    // No deadline: only the disconnection ends the wait.
    let pending = socket.emit_with_ack("never", &()).expect("emit");
    node.received("a", "never").await;
    node.command("disconnect", "a").await;
    let outcome = tokio::time::timeout(support::WAIT, pending).await.expect("the wait ends");
    assert_eq!(outcome, Err(AckError::Disconnected));
    left.next("the disconnection").await;
    assert_eq!(
        socket.emit_with_ack("late", &()).map(drop),
        Err(socketio_server::EmitError::Disconnected),
        "a disconnected socket refuses new emits"
    );
    node.exit().await;
    server.close().await;
}

/// `AckResponse::arg` is documented as "the first argument read as `T`", like `Event::arg`,
/// which ignores the arguments after the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_response_arg_reads_the_first_of_several_arguments() {
    let server = TestServer::start(Config::default()).await;
    let mut node =
        server.node("ack_arg", json!([{"name": "a", "answers": {"sum": {"reply": [3, {"ok": true}]}}}]));
    let socket = server.connected(&mut node, "a").await;
    let response = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack("sum", &(1, 2))
        .expect("emit")
        .await
        .expect("the client answers");
    assert_eq!(response.arg::<u32>().expect("the first argument"), 3);
    node.exit().await;
    server.close().await;
}

/// A fixed permutation of `0..n` (a multiplicative walk), so that answers go out in an order
/// unrelated to the order of the questions.
fn scrambled(n: usize) -> Vec<usize> {
    let order: Vec<usize> = (0..n).map(|i| (i * 7919 + 13) % n).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert!(sorted.into_iter().eq(0..n), "7919 is prime to n");
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_client_acks_answered_out_of_order() {
    const N: usize = 200;
    let server = TestServer::start(Config::default()).await;
    let mut node =
        server.node("client_acks_200", json!([{"name": "a", "transports": Mode::WebSocket.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let pending: Arc<Mutex<Vec<(u64, AckSender)>>> = Arc::default();
    socket.on("job", move |_, event| {
        let pending = pending.clone();
        async move {
            let n: u64 = event.arg().expect("a number");
            let ack = event.ack().expect("an acknowledgement").clone();
            let all = {
                let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                pending.push((n, ack));
                if pending.len() < N {
                    return;
                }
                std::mem::take(&mut *pending)
            };
            // Every question is in: answer them from tasks of their own, in a scrambled order.
            let mut all: Vec<Option<(u64, AckSender)>> = all.into_iter().map(Some).collect();
            for i in scrambled(N) {
                let (n, ack) = all[i].take().expect("each answered once");
                tokio::spawn(async move { ack.send(&(n * 2, format!("job {n}"))).expect("answer") });
            }
        }
    });

    let results = node.emit_many("a", "job", N, true).await;
    let expected: Vec<Json> = (0..N).map(|n| json!([n * 2, format!("job {n}")])).collect();
    assert_eq!(results, Json::Array(expected));

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_server_acks_answered_out_of_order() {
    const N: u64 = 200;
    let server = TestServer::start(Config::default()).await;
    // The client keeps every question until the 200th, then answers them last first.
    let mut node = server.node("server_acks_200", json!([{"name": "a", "answers": {"job": {"hold": N}}}]));
    let socket = server.connected(&mut node, "a").await;

    let mut jobs = JoinSet::new();
    for n in 0..N {
        let ack =
            socket.timeout(Duration::from_secs(10)).emit_with_ack("job", &(n, "payload")).expect("emit");
        jobs.spawn(async move { (n, ack.await) });
    }
    let mut answered = Vec::new();
    while let Some(joined) = jobs.join_next().await {
        let (n, response) = joined.expect("the task");
        let response = response.unwrap_or_else(|e| panic!("job {n} got no answer: {e}"));
        assert_eq!(response.args::<(u64, String)>().expect("the echo"), (n, "payload".to_owned()));
        answered.push(n);
    }
    answered.sort_unstable();
    assert_eq!(answered, (0..N).collect::<Vec<_>>());
    // The client did get them all, in order.
    node.sync("a").await;
    let received: Vec<Json> = node
        .events_of("a")
        .into_iter()
        .filter(|(name, _)| name == "job")
        .map(|(_, args)| args[0].clone())
        .collect();
    assert_eq!(received, (0..N).map(|n| json!(n)).collect::<Vec<_>>());

    node.exit().await;
    server.close().await;
}
