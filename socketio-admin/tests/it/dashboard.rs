//! The Admin UI protocol, side by side with the reference: the same script of npm
//! `socket.io-client` 4.8.4 clients runs against our server and against Node.js `socket.io`
//! 4.8.4 with `@socket.io/admin-ui` 0.5.1's `instrument()` (`tests/peer`), both serving the
//! same chat, and the dashboard client must receive the same events, in the same
//! order, with payloads of the same shape (keys and value types, recursively), step by step:
//! refused credentials, the dashboard's connection (`session`, `config`, `all_sockets`), the
//! server stats, a chat socket connecting, sending and receiving events, the `join`, `leave`
//! and `_disconnect` actions, and a dashboard admitted again by its session id. Then readonly mode (actions ignored) and production mode (no
//! per-socket reports), against both servers again.

use crate::admin;
use crate::support;

use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_admin::{instrument, AdminAuth, AdminMode, AdminOptions};
use socketio_server::{Config, SocketIo};

use admin::{
    chatter, dashboard, keys, next_event, reports, shape, AdminPeer, PASSWORD, PASSWORD_HASH, USERNAME,
};
use support::{Node, TestServer};

/// The events the dashboard received at each step, but `server_stats`.
type Steps = Vec<(&'static str, Vec<(String, Json)>)>;

/// Cuts the dashboard's reports into steps.
struct Recorder {
    seen: usize,
    steps: Steps,
}

impl Recorder {
    fn new() -> Self {
        Recorder { seen: 0, steps: Vec::new() }
    }

    fn step(&mut self, node: &Node, name: &'static str) {
        let all = reports(node, "admin");
        self.steps.push((name, all[self.seen..].to_vec()));
        self.seen = all.len();
    }
}

/// What one server showed the dashboard.
struct Transcript {
    steps: Steps,
    stats: Json,
    session: Json,
}

/// Our server with the chat, instrumented with `options`.
async fn rust_server(options: AdminOptions) -> TestServer {
    let io = SocketIo::new(Config::default());
    admin::chat(&io);
    let ui = instrument(&io, options).expect("instrument");
    assert_eq!(ui.namespace().name().as_ref() as &str, "/admin");
    TestServer::serve(io).await
}

/// The main script: credentials, the dashboard, a chat socket, the actions.
async fn main_script(url: &str, label: &str) -> Transcript {
    let mut alice = chatter("alice", &["r1"]);
    alice["autoConnect"] = json!(false);
    let mut node = Node::spawn(
        label,
        url,
        json!([
            dashboard("intruder", json!({ "username": USERNAME, "password": "not the password" })),
            dashboard("nobody", json!({})),
            alice,
        ]),
    );
    for client in ["intruder", "nobody"] {
        let refused = node.next(client, "connect_error").await;
        assert_eq!(refused["message"], "invalid credentials", "{label}: {client}");
    }
    node.sync("alice").await;
    drop(node);

    let mut alice = chatter("alice", &["r1"]);
    alice["autoConnect"] = json!(false);
    let mut node = Node::spawn(
        label,
        url,
        json!([dashboard("admin", json!({ "username": USERNAME, "password": PASSWORD })), alice]),
    );
    let mut rec = Recorder::new();
    node.next("admin", "connect").await;
    next_event(&mut node, "admin", "all_sockets", |_| true).await;
    rec.step(&node, "the dashboard connects");
    let session = next_event(&mut node, "admin", "session", |_| true).await;
    let stats = next_event(&mut node, "admin", "server_stats", |_| true).await;

    node.command("connect", "alice").await;
    let alice_id = node.next("alice", "connect").await["id"].as_str().expect("alice's id").to_owned();
    next_event(&mut node, "admin", "room_joined", |a| a[1] == "r1").await;
    rec.step(&node, "a chat socket connects");

    assert_eq!(node.call("alice", "ping", json!(["hi", 1])).await, json!(["ok"]));
    next_event(&mut node, "admin", "event_sent", |a| a[2][0] == "pong").await;
    rec.step(&node, "it sends an event and is sent one");

    node.emit("admin", "join", json!(["/", "r2", alice_id])).await;
    next_event(&mut node, "admin", "room_joined", |a| a[1] == "r2").await;
    rec.step(&node, "join");

    node.emit("admin", "leave", json!(["/", "r2", alice_id])).await;
    next_event(&mut node, "admin", "room_left", |a| a[1] == "r2").await;
    rec.step(&node, "leave");

    node.emit("admin", "_disconnect", json!(["/", false, alice_id])).await;
    assert_eq!(node.next("alice", "disconnect").await["reason"], "io server disconnect");
    next_event(&mut node, "admin", "room_left", |a| a[1] == "r1").await;
    rec.step(&node, "_disconnect");

    // The session id the dashboard got admits it again without the password (a reload); an
    // unknown one does not.
    let session_id = session[0].as_str().expect("a session id").to_owned();
    let mut again = Node::spawn(
        label,
        url,
        json!([
            dashboard("again", json!({ "sessionId": session_id })),
            dashboard("forged", json!({ "sessionId": "0123456789abcdef" })),
        ]),
    );
    again.next("again", "connect").await;
    next_event(&mut again, "again", "config", |_| true).await;
    assert_eq!(again.next("forged", "connect_error").await["message"], "invalid credentials", "{label}");
    again.exit().await;

    node.exit().await;
    Transcript { steps: rec.steps, stats, session }
}

/// The names and shapes of a step's events, as compared.
fn shapes(events: &[(String, Json)]) -> Vec<(String, Json)> {
    events.iter().map(|(name, args)| (name.clone(), shape(args))).collect()
}

fn assert_same_steps(ours: &Steps, reference: &Steps) {
    assert_eq!(ours.len(), reference.len());
    for ((step, our_events), (_, their_events)) in ours.iter().zip(reference) {
        let our_names: Vec<&str> = our_events.iter().map(|(n, _)| n.as_str()).collect();
        let their_names: Vec<&str> = their_events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            our_names, their_names,
            "{step}: the events differ\nours: {our_events:#?}\nreference: {their_events:#?}"
        );
        let (ours, theirs) = (shapes(our_events), shapes(their_events));
        for ((name, our_shape), (_, their_shape)) in ours.iter().zip(&theirs) {
            assert_eq!(our_shape, their_shape, "{step}: {name} has another shape");
        }
    }
}

fn check_stats(stats: &Json, server_id: &str) {
    assert_eq!(stats[0]["serverId"], server_id);
    let stats = &stats[0];
    assert_eq!(
        keys(stats),
        [
            "aggregatedEvents",
            "clientsCount",
            "hostname",
            "namespaces",
            "pid",
            "pollingClientsCount",
            "serverId",
            "uptime"
        ]
    );
    let names: Vec<&str> =
        stats["namespaces"].as_array().into_iter().flatten().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["/", "/admin"], "{stats}");
    for ns in stats["namespaces"].as_array().into_iter().flatten() {
        assert_eq!(keys(ns), ["name", "socketsCount"]);
    }
    for event in stats["aggregatedEvents"].as_array().into_iter().flatten() {
        let k = keys(event);
        assert!(
            k == ["count", "timestamp", "type"] || k == ["count", "subType", "timestamp", "type"],
            "{event}"
        );
        let kind = event["type"].as_str().unwrap_or_default();
        assert!(
            ["rawConnection", "rawDisconnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"]
                .contains(&kind),
            "{event}"
        );
    }
    assert!(stats["uptime"].as_f64().is_some_and(|u| u >= 0.0) && stats["pid"].as_u64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_sees_what_the_reference_shows_it() {
    let reference = AdminPeer::start(
        json!({ "auth": { "type": "basic", "username": USERNAME, "password": PASSWORD_HASH }, "serverId": "node" }),
        None,
    )
    .await;
    let options = AdminOptions {
        server_id: Some("rust".into()),
        ..AdminOptions::new(AdminAuth::basic(USERNAME, PASSWORD_HASH))
    };
    let server = rust_server(options).await;

    let theirs = main_script(&reference.url(), "reference").await;
    let ours = main_script(&server.url(), "ours").await;

    // What the script sees of our server, checked in itself.
    let connect = &ours.steps[0].1;
    let names: Vec<&str> = connect.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["session", "room_joined", "socket_connected", "config", "all_sockets"]);
    assert!(ours.session[0]
        .as_str()
        .is_some_and(|s| s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit())));
    let features = json!([{ "supportedFeatures": [
        "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"
    ] }]);
    assert_eq!(connect[3].1, features);
    let chat = &ours.steps[1].1;
    let names: Vec<&str> = chat.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["room_joined", "socket_connected", "socket_updated", "room_joined"]);
    let socket = &chat[1].1[0];
    assert_eq!(socket["nsp"], "/");
    assert_eq!(socket["transport"], "websocket");
    assert_eq!(socket["clientId"].as_str().map(str::len), Some(12));
    assert_eq!(socket["data"], json!({}), "the data a connection handler sets comes with socket_updated");
    assert_eq!(chat[2].1[0]["data"], json!({ "name": "alice" }));
    assert_eq!(socket["handshake"]["address"], "127.0.0.1");
    assert!(
        chat[1].1[1].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "an ISO date: {chat:?}"
    );
    let events = &ours.steps[2].1;
    assert_eq!(
        events[0],
        ("event_received".to_owned(), json!(["/", socket["id"], ["ping", "hi", 1], events[0].1[3]]))
    );
    assert_eq!(
        events[1],
        ("event_sent".to_owned(), json!(["/", socket["id"], ["pong", "hi", 1], events[1].1[3]]))
    );
    let gone = &ours.steps[5].1;
    let names: Vec<&str> = gone.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["socket_disconnected", "room_left", "room_left"]);
    assert_eq!(gone[0].1[2], "server namespace disconnect");
    check_stats(&ours.stats, "rust");
    check_stats(&theirs.stats, "node");

    // And the same as the reference, step by step.
    assert_same_steps(&ours.steps, &theirs.steps);
    assert_eq!(shape(&ours.stats[0]["namespaces"]), shape(&theirs.stats[0]["namespaces"]));
    assert_eq!(ours.steps[0].1[3], theirs.steps[0].1[3], "the same config");

    reference.exit().await;
    server.close().await;
}

/// A dashboard without credentials; a chat socket pings (which the dashboard sees in
/// development mode); the dashboard asks for a join and a disconnection with the connection.
/// Returns the dashboard's events and the chat socket's.
async fn quiet_script(url: &str, label: &str) -> (Vec<(String, Json)>, Node) {
    let mut alice = chatter("alice", &["r1"]);
    alice["autoConnect"] = json!(false);
    let mut node = Node::spawn(label, url, json!([dashboard("admin", json!({})), alice]));
    node.next("admin", "connect").await;
    next_event(&mut node, "admin", "config", |_| true).await;
    node.command("connect", "alice").await;
    let alice_id = node.next("alice", "connect").await["id"].as_str().expect("alice's id").to_owned();
    assert_eq!(node.call("alice", "ping", json!([])).await, json!(["ok"]));
    node.emit("admin", "join", json!(["/", "r2", alice_id])).await;
    node.emit("admin", "_disconnect", json!(["/", true, alice_id])).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Two stats: every report of the steps above is in.
    next_event(&mut node, "admin", "server_stats", |_| true).await;
    next_event(&mut node, "admin", "server_stats", |_| true).await;
    node.sync("admin").await;
    (reports(&node, "admin"), node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_mode_ignores_the_actions() {
    let reference = AdminPeer::start(json!({ "auth": false, "readonly": true }), None).await;
    let options = AdminOptions { readonly: true, ..AdminOptions::new(AdminAuth::None) };
    let server = rust_server(options).await;
    for (url, label) in [(reference.url(), "reference"), (server.url(), "ours")] {
        let (events, mut node) = quiet_script(&url, label).await;
        let config = events.iter().find(|(n, _)| n == "config").map(|(_, a)| a.clone());
        assert_eq!(
            config,
            Some(json!([{ "supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"] }])),
            "{label}"
        );
        assert!(
            !events.iter().any(|(n, a)| n == "room_joined" && a[1] == "r2"),
            "{label}: a readonly server joined a room for the dashboard: {events:?}"
        );
        assert!(!events.iter().any(|(n, _)| n == "socket_disconnected"), "{label}: {events:?}");
        assert!(events.iter().any(|(n, a)| n == "event_received" && a[2][0] == "ping"), "{label}");
        assert_eq!(node.state("alice").await["connected"], true, "{label}");
        node.exit().await;
    }
    let ours = server.io.of("/").sockets();
    assert!(ours.iter().all(|s| !s.rooms().iter().any(|r| &**r == "r2")));
    reference.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_reports_only_the_counts() {
    let reference = AdminPeer::start(json!({ "auth": false, "mode": "production" }), None).await;
    let options = AdminOptions { mode: AdminMode::Production, ..AdminOptions::new(AdminAuth::None) };
    let server = rust_server(options).await;
    for (url, label) in [(reference.url(), "reference"), (server.url(), "ours")] {
        let (events, mut node) = quiet_script(&url, label).await;
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["config"], "{label}: only the config, and the stats");
        let features = json!([{ "supportedFeatures": [
            "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"
        ] }]);
        assert_eq!(events[0].1, features, "{label}");
        // The actions work: alice was disconnected with her connection (and the script's
        // clients do not reconnect).
        assert_eq!(node.state("alice").await["connected"], false, "{label}");
        let kinds: std::collections::BTreeSet<String> = node
            .events_of("admin")
            .iter()
            .filter(|(n, _)| n == "server_stats")
            .flat_map(|(_, a)| a[0]["aggregatedEvents"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["type"].as_str().map(str::to_owned))
            .collect();
        for kind in ["rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut", "rawDisconnection"] {
            assert!(kinds.contains(kind), "{label}: no {kind} in the aggregated events: {kinds:?}");
        }
        node.exit().await;
    }
    reference.exit().await;
    server.close().await;
}
