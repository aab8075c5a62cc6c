//! Redis restarted under a mixed cluster (one of our nodes, one Node.js node, npm clients on
//! each): while Redis is away every node still serves its own clients, nothing sent to them is
//! lost; once Redis is back both nodes reconnect and reach each other's clients again.

use crate::cluster;
use crate::support;

use serde_json::json;
use socketio_server::adapter::AdapterError;

use cluster::{Peer, RedisServer, RustNode};
use support::node_peer::{client, connected_id, eventually};
use support::{ensure_clients, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_delivery_survives_a_redis_restart_and_the_cluster_comes_back() {
    ensure_clients();
    let mut redis = RedisServer::start();
    let r1 = RustNode::start("r1", &redis.url()).await;
    let mut peer = Peer::start(&redis.url()).await;
    r1.wait_servers(2).await;
    let mut ours =
        r1.clients("restart ours", json!([client("c1", &["red"], false), client("c2", &[], false)]));
    let mut theirs = Node::spawn("restart theirs", &peer.url(), json!([client("c3", &["red"], false)]));
    connected_id(&mut ours, "c1").await;
    connected_id(&mut ours, "c2").await;
    connected_id(&mut theirs, "c3").await;
    eventually("every socket is in its rooms", || async { r1.fetch_ids(&["red"]).await.len() == 2 }).await;
    r1.io().emit("before", &0).expect("emit");
    theirs.received("c3", "before").await;

    redis.stop();
    eventually("r1 sees the subscription lost", || async { !r1.redis.status().subscribed }).await;
    // node-redis 4 throws an uncaught EPIPE when it publishes on a connection Redis has closed
    // before it has noticed the close; so the Node.js node emits only once it knows Redis is gone
    // (its publishes are then queued until it reconnects).
    peer.wait_redis_ready(false).await;
    for i in 0..20 {
        r1.io().emit("during", &i).expect("emit");
        r1.io().to("red").emit("during-red", &i).expect("emit");
    }
    peer.run(json!({"cmd": "emit", "event": "during-node", "args": [1]})).await;
    for i in 0..20 {
        for name in ["c1", "c2"] {
            assert_eq!(ours.received(name, "during").await["args"], json!([i]));
        }
        assert_eq!(ours.received("c1", "during-red").await["args"], json!([i]));
    }
    theirs.received("c3", "during-node").await;
    assert!(matches!(r1.io().fetch_sockets().await, Err(AdapterError::Transport(_))));

    redis.restart();
    eventually("r1 subscribes again", || async {
        let status = r1.redis.status();
        status.subscribed && status.connections >= 2
    })
    .await;
    // The Node.js node resubscribes on its own.
    peer.wait_redis_ready(true).await;
    r1.wait_servers(2).await;
    r1.io().to("red").emit("after", &1).expect("emit");
    assert_eq!(theirs.received("c3", "after").await["args"], json!([1]));
    peer.run(json!({"cmd": "emit", "event": "after-node", "args": [2]})).await;
    assert_eq!(ours.received("c1", "after-node").await["args"], json!([2]));
    assert_eq!(ours.received("c2", "after-node").await["args"], json!([2]));
    assert_eq!(r1.fetch_ids(&["red"]).await.len(), 2);

    ours.exit().await;
    theirs.exit().await;
    peer.exit().await;
}
