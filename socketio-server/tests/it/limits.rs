//! Size and volume with the npm `socket.io-client` 4.8.4: large payloads, the `max_payload`
//! and attachment limits, and many emits in a row.
//!
//! Pins: 500 KB strings and buffers travel both ways intact over long-polling and WebSocket;
//! a WebSocket message over `config.engine.max_payload` closes only the client that sent it
//! (server `transport error`, client `transport close`) and a long-polling one is refused with
//! 413 (client `transport error`), while another client keeps working; a packet announcing 11
//! attachments (over the reference's limit of 10) is an invalid packet that closes its
//! connection after the socket's `on_error` heard of it; 1 000 emits in a row arrive in order,
//! both ways, over long-polling, WebSocket and across the upgrade.

use crate::support;

use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};
use socketio_server::{Bytes, Config, DisconnectReason, SocketError};
use support::{big_binary, big_summary, big_text, inbox, Mode, TestServer};

const BIG: usize = 500_000;

async fn large_payloads(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("large_payloads", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let (uploads, mut uploaded) = inbox::<bool>();
    let text_uploads = uploads.clone();
    socket.on("text", move |_, event| {
        let uploads = text_uploads.clone();
        async move {
            let text: String = event.arg().expect("a string");
            let _ = uploads.send(text == big_text(BIG));
            event.reply(&text).expect("echo");
        }
    });
    socket.on("binary", move |_, event| {
        let uploads = uploads.clone();
        async move {
            let data: Bytes = event.arg().expect("a buffer");
            let _ = uploads.send(data == big_binary(BIG));
            event.reply(&data).expect("echo");
        }
    });

    let text = node.call("a", "text", json!([{"$big": "text", "len": BIG}])).await;
    assert!(uploaded.next("the text upload").await, "the server got the 500 KB string intact");
    assert_eq!(text, json!([big_summary("text", big_text(BIG).as_bytes())]));
    let binary = node.call("a", "binary", json!([{"$big": "bin", "len": BIG}])).await;
    assert!(uploaded.next("the binary upload").await, "the server got the 500 KB buffer intact");
    assert_eq!(binary, json!([big_summary("bin", &big_binary(BIG))]));

    socket.emit("download", &(big_text(BIG), big_binary(BIG))).expect("emit");
    let event = node.received("a", "download").await;
    assert_eq!(
        event["args"],
        json!([big_summary("text", big_text(BIG).as_bytes()), big_summary("bin", &big_binary(BIG))])
    );

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_over_polling() {
    large_payloads(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_over_websocket() {
    large_payloads(Mode::WebSocket).await;
}

async fn oversized_message(mode: Mode) {
    let mut config = Config::default();
    config.engine.max_payload = 10_000;
    let server = TestServer::start(config).await;
    let mut node = server.node(
        "oversized",
        json!([
            {"name": "big", "transports": mode.transports()},
            {"name": "bystander", "transports": mode.transports()},
        ]),
    );
    let big = server.connected(&mut node, "big").await;
    let bystander = server.connected(&mut node, "bystander").await;
    let (reasons, mut disconnected) = inbox::<DisconnectReason>();
    big.on_disconnect(move |_, reason| {
        let _ = reasons.send(reason);
        async {}
    });
    let (heard, mut heard_rx) = inbox::<String>();
    for socket in [&big, &bystander] {
        let heard = heard.clone();
        socket.on("msg", move |socket, event| {
            let heard = heard.clone();
            async move {
                let _ =
                    heard.send(format!("{} {}", socket.id(), event.arg::<String>().map_or(0, |s| s.len())));
                event.reply(&"ok").expect("reply");
            }
        });
    }

    assert_eq!(node.call("big", "msg", json!(["small"])).await, json!(["ok"]));
    node.emit("big", "msg", json!([{"$big": "text", "len": 20_000}])).await;
    let gone = node.next("big", "disconnect").await;
    if mode == Mode::WebSocket {
        assert_eq!(gone["reason"], "transport close", "closed with 1009: {gone}");
        assert_eq!(disconnected.next("big's disconnection").await, DisconnectReason::TransportError);
    } else {
        // The POST is refused with 413; the session itself ends later, on its heartbeat.
        assert_eq!(gone["reason"], "transport error", "{gone}");
    }
    for _ in 0..3 {
        assert_eq!(node.call("bystander", "msg", json!(["still here"])).await, json!(["ok"]));
    }
    let heard = heard_rx.drain();
    assert_eq!(
        heard,
        [
            format!("{} 5", big.id()),
            format!("{} 10", bystander.id()),
            format!("{} 10", bystander.id()),
            format!("{} 10", bystander.id()),
        ],
        "the oversized message reached no handler"
    );
    assert!(bystander.connected());

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_ends_only_its_client_over_polling() {
    oversized_message(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_ends_only_its_client_over_websocket() {
    oversized_message(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_attachments_close_the_connection() {
    let server = TestServer::start(Config::default()).await;
    let mut node =
        server.node("eleven_attachments", json!([{"name": "a", "transports": Mode::WebSocket.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let (errors, mut errored) = inbox::<String>();
    socket.on_error(move |_, error| {
        let _ = errors.send(match error {
            SocketError::Decode(e) => format!("decode: {e}"),
            other => format!("other: {other}"),
        });
    });
    let (reasons, mut disconnected) = inbox::<DisconnectReason>();
    socket.on_disconnect(move |_, reason| {
        let _ = reasons.send(reason);
        async {}
    });
    let handled = support::Log::default();
    let log = handled.clone();
    socket.on_any(move |_, event| {
        log.push(event.name().to_owned());
        async {}
    });

    let args: Vec<Json> = (0..11u8).map(|i| support::bin(&[i])).collect();
    node.emit("a", "many", json!(args)).await;
    let error = errored.next("the decode error").await;
    assert!(error.starts_with("decode: "), "{error}");
    assert_eq!(disconnected.next("the disconnection").await, DisconnectReason::ForcedClose);
    assert_eq!(node.next("a", "disconnect").await["reason"], "transport close");
    assert_eq!(handled.entries(), Vec::<String>::new(), "the invalid packet reached no handler");

    node.exit().await;
    server.close().await;
}

async fn ordered_emits(mode: Mode) {
    const N: usize = 1000;
    let server = TestServer::start(Config::default()).await;
    let mut node = server.node("ordered", json!([{"name": "a", "transports": mode.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    let order: Arc<Mutex<Vec<u64>>> = Arc::default();
    let record = order.clone();
    socket.on("seq", move |_, event| {
        let record = record.clone();
        async move {
            record.lock().unwrap_or_else(|e| e.into_inner()).push(event.arg().expect("a number"));
        }
    });
    socket.on("done", |_, event| async move {
        event.reply(&()).expect("reply");
    });

    // Both directions at once, starting before any upgrade completes.
    for i in 0..N {
        socket.emit("seq", &i).expect("emit");
    }
    socket.emit("end", &()).expect("emit");
    node.emit_many("a", "seq", N, false).await;
    node.call("a", "done", json!([])).await;
    let received = order.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(received, (0..N as u64).collect::<Vec<_>>(), "client to server");

    node.received("a", "end").await;
    let sent: Vec<Json> = node
        .events_of("a")
        .into_iter()
        .filter(|(name, _)| name == "seq")
        .map(|(_, args)| args[0].clone())
        .collect();
    assert_eq!(sent, (0..N).map(|i| json!(i)).collect::<Vec<_>>(), "server to client");

    if mode == Mode::Upgrade {
        mode.settle(&mut node, "a").await;
    }
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_emits_arrive_in_order_over_polling() {
    ordered_emits(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_emits_arrive_in_order_over_websocket() {
    ordered_emits(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_emits_arrive_in_order_over_upgrade() {
    ordered_emits(Mode::Upgrade).await;
}
