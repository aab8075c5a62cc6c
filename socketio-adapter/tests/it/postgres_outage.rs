//! A short PostgreSQL outage loses no broadcast: what node A publishes while the database is
//! down waits in its bounded queue and reaches node B's sockets once the database is back, in
//! order and once. What needs its publication confirmed or every node's answer fails at once
//! instead of waiting, and what overflows the queue is dropped (the oldest) and counted.
//!
//! `NOTIFY` only reaches the sessions listening when it is sent, and after a restart every node
//! reconnects on its own backoff. So that the check does not depend on which node happens to
//! come back first, node A reaches the database through a [`Gate`] (a TCP relay of the test)
//! that stays shut after the restart until node B listens again: the order in which a real
//! cluster usually comes back, made certain.

use crate::pg_support;

use std::time::Duration;

use crate::gate::Gate;

use pg_support::{config, event, eventually, value, PgNode, PostgresServer, WAIT};
use socketio_adapter::{
    Adapter, AdapterError, BroadcastOptions, PostgresAdapterConfig, PostgresStatus, QueueLimits,
    ServerSideAckError,
};
use socketio_parser::Value;

fn say(node: &PgNode, what: &str) {
    let json = format!(r#"["{what}"]"#);
    node.adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
}

fn said(what: &str) -> Value {
    value(&format!(r#"["{what}"]"#))
}

/// Node A behind a gate, node B straight on the database, one socket each, and a broadcast
/// from A heard by B's socket.
async fn cluster(server: &PostgresServer, a_config: PostgresAdapterConfig) -> (Gate, PgNode, PgNode) {
    let gate = Gate::start(server.port()).await;
    let conninfo = format!("host=127.0.0.1 port={} user=postgres dbname=postgres", gate.port);
    let a = PgNode::start(&conninfo, "/", a_config).await;
    let b = PgNode::start(&server.conninfo(), "/", config()).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    eventually("a knows b", || a.adapter.nodes().len() == 1).await;
    say(&a, "before");
    eventually("b1 hears a before the outage", || b.log.received_by("b1") == [said("before")]).await;
    (gate, a, b)
}

/// Stops the database and waits until both nodes have noticed.
async fn stop(server: &mut PostgresServer, gate: &Gate, a: &PgNode, b: &PgNode) {
    gate.set_open(false);
    server.stop();
    eventually("a sees the connection lost", || a.clients.status() != PostgresStatus::Connected).await;
    eventually("b sees the connection lost", || b.clients.status() != PostgresStatus::Connected).await;
}

/// Restarts the database, waits until node B listens again, then lets node A reconnect.
async fn restart(server: &mut PostgresServer, gate: &Gate, b: &PgNode) {
    server.restart();
    // `Connected` comes once every channel is listened to again.
    tokio::time::timeout(WAIT, b.clients.connected()).await.expect("b reconnects");
    gate.set_open(true);
}

#[tokio::test]
async fn broadcasts_made_during_an_outage_reach_the_other_node_in_order_once() {
    let mut server = PostgresServer::start();
    let (gate, a, b) = cluster(&server, config()).await;

    stop(&mut server, &gate, &a, &b).await;
    for i in 0..20 {
        say(&a, &format!("m{i}"));
    }
    // This node's own socket has them at once; the others wait in the queue (with the
    // heartbeats due meanwhile).
    assert_eq!(a.log.received_by("a1").len(), 21);
    eventually("the 20 broadcasts are queued", || a.clients.queued_publishes() >= 20).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    restart(&mut server, &gate, &b).await;

    eventually("b1 hears the 20 broadcasts", || b.log.received_by("b1").len() >= 21).await;
    // Published after the queue, so heard after it: once this arrives, any duplicate of the
    // queued broadcasts would have arrived too.
    say(&a, "after");
    eventually("b1 hears a after the outage", || b.log.received_by("b1").contains(&said("after"))).await;
    let mut expected = vec![said("before")];
    expected.extend((0..20).map(|i| said(&format!("m{i}"))));
    expected.push(said("after"));
    assert_eq!(b.log.received_by("b1"), expected);
    assert_eq!(a.adapter.dropped_publishes(), 0);
    assert_eq!(a.clients.queued_publishes(), 0);
}

#[tokio::test]
async fn requests_that_need_every_node_fail_at_once_during_an_outage() {
    let mut server = PostgresServer::start();
    // Far longer than the bounded waits below: an answer within them did not wait for it.
    let patient = config()
        .with_requests_timeout(Duration::from_secs(120))
        .with_heartbeat(Duration::from_secs(60), Duration::from_secs(120));
    let (gate, a, b) = cluster(&server, patient).await;

    stop(&mut server, &gate, &a, &b).await;
    let all = BroadcastOptions::all();
    let fetched = tokio::time::timeout(WAIT, a.adapter.fetch_sockets(&all)).await;
    assert!(
        matches!(&fetched, Ok(Err(AdapterError::Transport(_)))),
        "fetch_sockets during the outage: {fetched:?}"
    );
    let emitted = tokio::time::timeout(WAIT, a.adapter.server_side_emit(serde_json::json!(["q"]))).await;
    assert!(matches!(emitted, Ok(Err(AdapterError::Transport(_)))), "server_side_emit: {emitted:?}");
    let asked = tokio::time::timeout(
        WAIT,
        a.adapter.server_side_emit_with_ack(serde_json::json!(["q"]), Duration::from_secs(120)),
    )
    .await;
    assert!(
        matches!(asked, Ok(Err(ServerSideAckError::Adapter(AdapterError::Transport(_))))),
        "server_side_emit_with_ack: {asked:?}"
    );
    // None of them was queued.
    assert_eq!(a.clients.queued_publishes(), 0);
}

#[tokio::test]
async fn past_the_queue_limit_the_oldest_broadcasts_are_dropped_and_counted() {
    let mut server = PostgresServer::start();
    // No heartbeat falls due during the outage, so the queue holds broadcasts only.
    let small = config()
        .with_heartbeat(Duration::from_secs(60), Duration::from_secs(120))
        .with_publish_queue(QueueLimits::new(5, 1024 * 1024, Duration::from_secs(60)));
    let (gate, a, b) = cluster(&server, small).await;

    stop(&mut server, &gate, &a, &b).await;
    for i in 0..20 {
        say(&a, &format!("m{i}"));
    }
    eventually("15 broadcasts are dropped", || a.adapter.dropped_publishes() == 15).await;
    assert_eq!(a.clients.queued_publishes(), 5);
    restart(&mut server, &gate, &b).await;
    // Said any earlier, "after" could still meet the full queue and push out the oldest.
    eventually("a publishes its queue", || a.clients.queued_publishes() == 0).await;

    say(&a, "after");
    eventually("b1 hears a after the outage", || b.log.received_by("b1").contains(&said("after"))).await;
    // The most recent five, in order: one gap, where the outage began.
    let mut expected = vec![said("before")];
    expected.extend((15..20).map(|i| said(&format!("m{i}"))));
    expected.push(said("after"));
    assert_eq!(b.log.received_by("b1"), expected);
    assert_eq!(a.adapter.dropped_publishes(), 15);
    assert_eq!(a.clients.dropped_publishes(), 15);
}
