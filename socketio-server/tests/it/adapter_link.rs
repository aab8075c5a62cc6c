//! The link a namespace lends its adapter (`NamespaceLink`), driven the way a cluster adapter
//! drives it when work arrives from another node, with a real `socket.io-client` on the other
//! end: a broadcast encoded from a `Value` (binary included), a broadcast with acks whose
//! answers go back to the other node, a client answer of another node reported to one of our
//! broadcasts with acks, and server-side events with their first answer.

use crate::support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;
use socketio_server::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, MemoryAdapter, NamespaceLink, RoomEventListener,
    ServerSideAckError, SocketDetails,
};
use socketio_server::internals::EncodedPacket as Encoded;
use socketio_server::{AckError, Builder, Bytes, Config, Payload, Room, Socket, Value};
use support::{inbox, TestServer};
use tokio::sync::mpsc;

type Sink = mpsc::UnboundedSender<Result<Payload, AckError>>;
type LinkSlot = Arc<OnceLock<Arc<dyn NamespaceLink<Socket>>>>;

/// The in-memory adapter, keeping the link it is given; a broadcast with acks pretends one
/// client of another node is reached, and that it answers `"remote"`.
#[derive(Default)]
struct Linked {
    inner: MemoryAdapter<Socket>,
    link: LinkSlot,
}

impl Adapter<Socket> for Linked {
    fn init(&self, link: Arc<dyn NamespaceLink<Socket>>) {
        let _ = self.link.set(link);
    }
    fn add_socket(&self, socket: Socket, rooms: &[Room]) {
        self.inner.add_socket(socket, rooms)
    }
    fn add_all(&self, sid: &str, rooms: &[Room]) {
        self.inner.add_all(sid, rooms)
    }
    fn del(&self, sid: &str, room: &str) {
        self.inner.del(sid, room)
    }
    fn del_all(&self, sid: &str) {
        self.inner.del_all(sid)
    }
    fn socket_rooms(&self, sid: &str) -> Option<Vec<Room>> {
        self.inner.socket_rooms(sid)
    }
    fn local_socket(&self, sid: &str) -> Option<Socket> {
        self.inner.local_socket(sid)
    }
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        self.inner.local_sockets(opts)
    }
    fn local_count(&self) -> usize {
        self.inner.local_count()
    }
    fn local_rooms(&self) -> Vec<Room> {
        self.inner.local_rooms()
    }
    fn broadcast(&self, packet: &socketio_parser::Packet, encoded: &Encoded, opts: &BroadcastOptions) {
        self.inner.broadcast(packet, encoded, opts)
    }
    fn broadcast_with_ack<'a>(
        &'a self,
        packet: &'a socketio_parser::Packet,
        encoded: &'a Encoded,
        opts: &'a BroadcastOptions,
        acks: Sink,
    ) -> BoxFuture<'a, Result<usize, AdapterError>> {
        Box::pin(async move {
            let local = self.inner.broadcast_with_ack(packet, encoded, opts, acks.clone()).await?;
            if let Some(link) = self.link.get() {
                link.forward_ack(&acks, Value::from("remote"));
            }
            Ok(local + 1)
        })
    }
    fn fetch_sockets<'a>(
        &'a self,
        opts: &'a BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<SocketDetails>, AdapterError>> {
        self.inner.fetch_sockets(opts)
    }
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.add_sockets(opts, rooms)
    }
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.del_sockets(opts, rooms)
    }
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.inner.disconnect_sockets(opts, close)
    }
    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        self.inner.server_side_emit(args)
    }
    fn server_side_emit_with_ack(
        &self,
        args: serde_json::Value,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ServerSideAckError>> {
        self.inner.server_side_emit_with_ack(args, timeout)
    }
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        self.inner.server_count()
    }
    fn on_room_event(&self, listener: RoomEventListener) {
        self.inner.on_room_event(listener)
    }
    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }
}

/// A server whose `/` adapter is [`Linked`]; answers its link.
async fn linked_server() -> (TestServer, Arc<dyn NamespaceLink<Socket>>) {
    let links: Arc<Mutex<Vec<LinkSlot>>> = Arc::default();
    let kept = links.clone();
    let io = Builder::new(Config::default())
        .adapter(move |_name| {
            let adapter = Linked::default();
            kept.lock().expect("lock").push(adapter.link.clone());
            Arc::new(adapter) as Arc<dyn Adapter<Socket>>
        })
        .build();
    let server = TestServer::serve(io).await;
    let link = links.lock().expect("lock")[0].get().cloned().expect("init gave the adapter its link");
    (server, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_serves_what_comes_from_other_nodes() {
    let (server, link) = linked_server().await;
    assert_eq!(link.name(), "/");
    let mut node = server.node("link", json!([{"name": "a", "transports": ["websocket"]}]));
    let socket = server.connected(&mut node, "a").await;

    // A broadcast from another node, binary included, delivered to this node's sockets.
    let data = Value::Array(vec![
        Value::from("remote news"),
        Value::from("hi"),
        Value::Binary(Bytes::from_static(b"\x01\x02")),
    ]);
    let encoded = link.encode_event(&data, None).expect("encodes");
    server.io.sockets().adapter().broadcast(
        &socketio_parser::Packet::disconnect("/"),
        &encoded,
        &BroadcastOptions::all(),
    );
    let got = node.received("a", "remote news").await;
    assert_eq!(got["args"], json!(["hi", {"$bin": "0102"}]));
    assert_eq!(link.encode_event(&Value::from("not an array"), None).map(|_| ()), None);

    // A broadcast with acks another node asked for: each client's first answer goes back.
    let (answers, mut answers_rx) = inbox();
    let sink = link.ack_sink(Box::new(move |answer| {
        let _ = answers.send(answer);
    }));
    let id = link.next_ack_id();
    let encoded = link
        .encode_event(&Value::Array(vec![Value::from("ask"), Value::from(7)]), Some(id))
        .expect("encodes");
    // What the cluster adapter does with it: a local broadcast with acks into the sink.
    let reached = server.io.sockets().adapter().local_sockets(&BroadcastOptions::all());
    assert_eq!(reached, std::slice::from_ref(&socket));
    for s in &reached {
        socketio_server::adapter::LocalSocket::send(s, &encoded, &Default::default(), Some(&sink));
    }
    drop(sink);
    assert_eq!(answers_rx.next("the client's answer").await, Value::from(7));

    // Our broadcast with acks, with one client on "another node" answering through the link.
    let responses =
        server.io.timeout(Duration::from_secs(5)).emit_with_ack("ask", &3).await.expect("every answer");
    let mut firsts: Vec<Value> = responses.iter().map(|r| r.values().expect("values")[0].clone()).collect();
    firsts.sort_by_key(|v| v.as_str().is_some());
    assert_eq!(firsts, [Value::from(3), Value::from("remote")]);

    // Server-side events from another node: every handler runs, the first answer goes back.
    let (calls, mut calls_rx) = inbox();
    for n in [1, 2] {
        let calls = calls.clone();
        server.io.on_server_side_emit("sum", move |args, ack| {
            let calls = calls.clone();
            async move {
                let total: i64 = args.iter().filter_map(serde_json::Value::as_i64).sum();
                if let Some(ack) = ack {
                    let _ = calls.send((n, ack.send(&(total * n)), ack.answered()));
                }
            }
        });
    }
    let (reply, mut reply_rx) = inbox();
    link.server_side_event(
        vec![json!("sum"), json!(20), json!(1)],
        Some(Box::new(move |answer| {
            let _ = reply.send(answer);
        })),
    );
    assert_eq!(reply_rx.next("the answer").await, json!(21));
    let mut seen = calls_rx.take(2, "both handlers").await;
    seen.sort();
    assert_eq!(seen, [(1, true, true), (2, false, true)], "only the first answer is sent");
    // Other events, and malformed ones, reach no handler.
    link.server_side_event(vec![json!("other"), json!(1)], None);
    link.server_side_event(vec![json!(3)], None);
    link.server_side_event(Vec::new(), None);

    node.exit().await;
    server.close().await;
}
