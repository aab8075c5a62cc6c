//! The Admin UI on a mixed cluster: one of our nodes and a Node.js node (`socket.io` 4.8.4,
//! `@socket.io/redis-adapter` 8.3.0 and `@socket.io/admin-ui` 0.5.1's `instrument()`) on one
//! real `redis-server`. A dashboard
//! connected to one node receives the `server_stats` of both (each with its own `serverId`),
//! sees the sockets of both (`all_sockets`, `socket_connected`, `room_joined`,
//! `socket_disconnected`), and its actions reach the sockets of the other node. A dashboard on
//! the Node.js node sees our node's sockets as it sees its own (`clientId` and `transport`
//! come from the `_admin` field of their data).

use crate::admin;
use crate::cluster;
use crate::support;

use serde_json::{json, Value as Json};
use socketio_admin::{instrument, AdminAuth, AdminOptions};

use admin::{chatter, dashboard, next_event, AdminPeer};
use cluster::{RedisServer, RustNode};
use support::node_peer::connected_id;
use support::Node;

/// The socket `id` of namespace `/` in an `all_sockets` payload.
fn find<'a>(all: &'a Json, id: &str) -> &'a Json {
    all[0]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == id && s["nsp"] == "/")
        .unwrap_or_else(|| panic!("no socket {id} in {all}"))
}

/// Checks a serialized chat socket.
fn check_socket(socket: &Json, name: &str, room: &str) {
    assert_eq!(socket["clientId"].as_str().map(str::len), Some(12), "{socket}");
    assert_eq!(socket["transport"], "websocket", "{socket}");
    assert_eq!(socket["data"], json!({ "name": name }), "{socket}");
    let rooms: Vec<&str> =
        socket["rooms"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
    assert!(rooms.contains(&room) && rooms.contains(&socket["id"].as_str().unwrap_or_default()), "{socket}");
}

/// Waits until `client` has received `server_stats` from every server of `ids`.
async fn stats_from(node: &mut Node, client: &str, ids: &[&str]) {
    for id in ids {
        let stats = next_event(node, client, "server_stats", |a| a[0]["serverId"] == *id).await;
        let names: Vec<&str> = stats[0]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert!(names.contains(&"/") && names.contains(&"/admin"), "{stats}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_on_one_node_sees_and_acts_on_the_whole_cluster() {
    let redis = RedisServer::start();
    let rust = RustNode::start("rust", &redis.url()).await;
    let options = AdminOptions { server_id: Some("rust".into()), ..AdminOptions::new(AdminAuth::None) };
    instrument(rust.io(), options).expect("instrument");
    let peer = AdminPeer::start(json!({ "auth": false, "serverId": "node" }), Some(&redis.url())).await;
    rust.wait_servers(2).await;

    let mut on_rust = rust.clients("chat on rust", json!([chatter("alice", &["r1"])]));
    let alice = connected_id(&mut on_rust, "alice").await;
    let mut carol = chatter("carol", &["r3"]);
    carol["autoConnect"] = json!(false);
    let mut on_node = Node::spawn("chat on node", &peer.url(), json!([chatter("bob", &["r2"]), carol]));
    let bob = connected_id(&mut on_node, "bob").await;

    // A dashboard on our node: both nodes' stats, both nodes' sockets.
    let mut ours = rust.clients("dashboard on rust", json!([dashboard("admin", json!({}))]));
    ours.next("admin", "connect").await;
    let all = next_event(&mut ours, "admin", "all_sockets", |_| true).await;
    check_socket(find(&all, &alice), "alice", "r1");
    check_socket(find(&all, &bob), "bob", "r2");
    stats_from(&mut ours, "admin", &["rust", "node"]).await;

    // A socket connecting to the Node.js node is reported to it.
    on_node.command("connect", "carol").await;
    let carol = connected_id(&mut on_node, "carol").await;
    let connected = next_event(&mut ours, "admin", "socket_connected", |a| a[0]["id"] == carol).await;
    assert_eq!(connected[0]["nsp"], "/");
    next_event(&mut ours, "admin", "room_joined", |a| a[1] == "r3" && a[2] == carol).await;

    // Its actions reach the Node.js node's sockets.
    ours.emit("admin", "join", json!(["/", "r9", carol])).await;
    next_event(&mut ours, "admin", "room_joined", |a| a[1] == "r9" && a[2] == carol).await;
    ours.emit("admin", "_disconnect", json!(["/", false, bob])).await;
    assert_eq!(on_node.next("bob", "disconnect").await["reason"], "io server disconnect");
    let gone = next_event(&mut ours, "admin", "socket_disconnected", |a| a[1] == bob).await;
    assert_eq!(gone[2], "server namespace disconnect");

    // A dashboard on the Node.js node sees our node the same way.
    let mut theirs = Node::spawn("dashboard on node", &peer.url(), json!([dashboard("admin", json!({}))]));
    theirs.next("admin", "connect").await;
    let all = next_event(&mut theirs, "admin", "all_sockets", |_| true).await;
    check_socket(find(&all, &alice), "alice", "r1");
    check_socket(find(&all, &carol), "carol", "r3");
    stats_from(&mut theirs, "admin", &["rust", "node"]).await;
    ours.emit("admin", "leave", json!(["/", "r1", alice])).await;
    next_event(&mut theirs, "admin", "room_left", |a| a[1] == "r1" && a[2] == alice).await;
    theirs.emit("admin", "_disconnect", json!(["/", false, alice])).await;
    assert_eq!(on_rust.next("alice", "disconnect").await["reason"], "io server disconnect");
    next_event(&mut theirs, "admin", "socket_disconnected", |a| a[1] == alice).await;
    next_event(&mut ours, "admin", "socket_disconnected", |a| a[1] == alice).await;

    for node in [on_rust, on_node, ours, theirs] {
        node.exit().await;
    }
    peer.exit().await;
    rust.redis.shutdown();
}
