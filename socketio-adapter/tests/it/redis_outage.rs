//! A short Redis outage loses no broadcast: what node A publishes while Redis is down waits in
//! its bounded queue and reaches node B's sockets once Redis is back, in order and once. What
//! needs every node's answer fails at once instead of waiting, and what overflows the queue is
//! dropped (the oldest), counted and logged at `warn`.
//!
//! Pub/sub only reaches the nodes subscribed when a message is published, and after a restart
//! every node reconnects on its own backoff. So that the check does not depend on which node
//! happens to come back first, node A reaches Redis through a [`Gate`] (a TCP relay of the test)
//! that stays shut after the restart until node B has subscribed again: the order in which a
//! real cluster usually comes back, made certain.

use crate::support;

use std::time::Duration;

use crate::gate::Gate;

use socketio_adapter::{
    Adapter, AdapterError, BroadcastOptions, QueueLimits, RedisAdapterConfig, ServerSideAckError,
};
use socketio_parser::Value;
use support::{event, eventually, value, CapturedLogs, RedisServer, TestNode, WAIT};
use tracing::Level;

fn config() -> RedisAdapterConfig {
    RedisAdapterConfig::default()
        .with_requests_timeout(Duration::from_secs(1))
        .with_reconnect_delays(Duration::from_millis(50), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_secs(1))
}

fn say(node: &TestNode, what: &str) {
    let json = format!(r#"["{what}"]"#);
    node.adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
}

fn said(what: &str) -> Value {
    value(&format!(r#"["{what}"]"#))
}

/// Node A behind a gate, node B straight on Redis, one socket each, and a broadcast from A
/// heard by B's socket.
async fn cluster(redis: &RedisServer, a_config: RedisAdapterConfig) -> (Gate, TestNode, TestNode) {
    let gate = Gate::start(redis.port()).await;
    let a = TestNode::start(&format!("redis://127.0.0.1:{}/", gate.port), "/", a_config).await;
    let b = TestNode::start(&redis.url(), "/", config()).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    say(&a, "before");
    eventually("b1 hears a before the outage", || b.log.received_by("b1") == [said("before")]).await;
    (gate, a, b)
}

/// Stops Redis and waits until node A has noticed.
async fn stop(redis: &mut RedisServer, gate: &Gate, a: &TestNode) {
    gate.set_open(false);
    redis.stop();
    eventually("a sees the subscription lost", || !a.clients.status().subscribed).await;
}

/// Restarts Redis, waits until node B has subscribed again, then lets node A reconnect.
async fn restart(redis: &mut RedisServer, gate: &Gate, b: &TestNode) {
    redis.restart();
    eventually("b subscribes again", || b.clients.status().connections >= 2).await;
    tokio::time::timeout(WAIT, b.adapter.ready()).await.expect("b's subscriptions are back");
    gate.set_open(true);
}

#[tokio::test]
async fn broadcasts_made_during_an_outage_reach_the_other_node_in_order_once() {
    let mut redis = RedisServer::start();
    let (gate, a, b) = cluster(&redis, config()).await;

    stop(&mut redis, &gate, &a).await;
    for i in 0..20 {
        say(&a, &format!("m{i}"));
    }
    // This node's own socket has them at once; the others wait in the queue.
    assert_eq!(a.log.received_by("a1").len(), 21);
    eventually("the 20 broadcasts are queued", || a.clients.queued_publishes() == 20).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    restart(&mut redis, &gate, &b).await;

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
    let mut redis = RedisServer::start();
    // Far longer than the bounded waits below: an answer within them did not wait for it.
    let patient = config().with_requests_timeout(Duration::from_secs(120));
    let (gate, a, _b) = cluster(&redis, patient).await;

    stop(&mut redis, &gate, &a).await;
    let all = BroadcastOptions::all();
    let fetched = tokio::time::timeout(WAIT, a.adapter.fetch_sockets(&all)).await;
    assert!(
        matches!(&fetched, Ok(Err(AdapterError::Transport(_)))),
        "fetch_sockets during the outage: {fetched:?}"
    );
    let rooms = tokio::time::timeout(WAIT, a.adapter.all_rooms()).await;
    assert!(matches!(rooms, Ok(Err(_))), "all_rooms during the outage");
    let count = tokio::time::timeout(WAIT, a.adapter.server_count()).await;
    assert!(matches!(count, Ok(Err(AdapterError::Transport(_)))), "server_count: {count:?}");
    let emitted = tokio::time::timeout(
        WAIT,
        a.adapter.server_side_emit_with_ack(serde_json::json!(["q"]), Duration::from_secs(120)),
    )
    .await;
    assert!(
        matches!(emitted, Ok(Err(ServerSideAckError::Adapter(AdapterError::Transport(_))))),
        "server_side_emit_with_ack: {emitted:?}"
    );
    // None of them was queued.
    assert_eq!(a.clients.queued_publishes(), 0);
}

#[tokio::test]
async fn past_the_queue_limit_the_oldest_broadcasts_are_dropped_counted_and_logged_at_warn() {
    let (logs, _capturing) = CapturedLogs::start();
    let mut redis = RedisServer::start();
    let small = config().with_publish_queue(QueueLimits::new(5, 1024 * 1024, Duration::from_secs(60)));
    let (gate, a, b) = cluster(&redis, small).await;

    stop(&mut redis, &gate, &a).await;
    for i in 0..20 {
        say(&a, &format!("m{i}"));
    }
    eventually("15 broadcasts are dropped", || a.adapter.dropped_publishes() == 15).await;
    assert_eq!(a.clients.queued_publishes(), 5);
    restart(&mut redis, &gate, &b).await;
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

    // Every drop was logged at `warn` by the adapter, with how many and which limit.
    let warned: Vec<_> = logs
        .at(Level::WARN)
        .into_iter()
        .filter(|e| e.target.starts_with("socketio_adapter") && e.message.contains("queued messages dropped"))
        .collect();
    let counted = |name: &str| -> u64 {
        warned.iter().map(|e| e.field(name).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)).sum()
    };
    assert_eq!(counted("dropped"), 15, "{warned:#?}");
    assert_eq!(counted("over_count"), 15, "dropped over the message limit: {warned:#?}");
    assert!(warned.iter().all(|e| e.message.contains("redis adapter")), "{warned:#?}");
}
