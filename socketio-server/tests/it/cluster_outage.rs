//! A short Redis outage under two of our nodes, an npm `socket.io-client` on the second: the 20
//! broadcasts the first node makes while Redis is down reach the client once Redis is back, in
//! order and once each, as they would from a Node.js node whose Redis client queues them.
//!
//! Pub/sub only reaches the nodes subscribed when a message is published, and after a restart
//! every node reconnects on its own backoff. So that the check does not depend on which node
//! happens to come back first, r1 reaches Redis through a [`Gate`] (a TCP relay of the test) that
//! stays shut after the restart until r2 has subscribed again.

use crate::cluster;
use crate::support;

use std::time::Duration;

use crate::gate::Gate;

use serde_json::json;

use cluster::{RedisServer, RustNode};
use support::ensure_clients;
use support::node_peer::{client, connected_id, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_made_during_a_redis_outage_reach_the_other_nodes_clients_in_order_once() {
    ensure_clients();
    let mut redis = RedisServer::start();
    let gate = Gate::start(redis.port()).await;
    let r1 = RustNode::start("r1", &format!("redis://127.0.0.1:{}/", gate.port)).await;
    let r2 = RustNode::start("r2", &redis.url()).await;
    r1.wait_servers(2).await;
    let mut clients = r2.clients("outage", json!([client("c1", &[], false)]));
    connected_id(&mut clients, "c1").await;
    r1.io().emit("before", &0).expect("emit");
    clients.received("c1", "before").await;

    gate.set_open(false);
    redis.stop();
    eventually("r1 sees the subscription lost", || async { !r1.redis.status().subscribed }).await;
    for i in 0..20 {
        r1.io().emit("during", &i).expect("emit");
    }
    eventually("r1 queues the 20 broadcasts", || async { r1.redis.queued_publishes() == 20 }).await;
    // An outage of about three seconds (a pause for the scenario; nothing measures it).
    tokio::time::sleep(Duration::from_secs(3)).await;

    redis.restart();
    eventually("r2 subscribes again", || async {
        let status = r2.redis.status();
        status.subscribed && status.connections >= 2
    })
    .await;
    gate.set_open(true);
    for i in 0..20 {
        assert_eq!(clients.received("c1", "during").await["args"], json!([i]));
    }
    // Sent after the queue, so received after it: once it is here, any duplicate of the queued
    // broadcasts would be here too.
    r1.io().emit("after", &1).expect("emit");
    clients.received("c1", "after").await;
    let mut expected = vec![("before".to_owned(), json!([0]))];
    expected.extend((0..20).map(|i| ("during".to_owned(), json!([i]))));
    expected.push(("after".to_owned(), json!([1])));
    assert_eq!(clients.events_of("c1"), expected);
    assert_eq!(r1.redis.dropped_publishes(), 0);
    assert_eq!(r1.redis.queued_publishes(), 0);

    clients.exit().await;
}
