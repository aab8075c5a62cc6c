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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use cluster::{client, connected_id, eventually, RedisServer, RustNode};
use support::ensure_clients;

/// A TCP relay to Redis on 127.0.0.1 that can refuse new connections (it accepts and closes
/// them at once). Connections it relays end when Redis ends them.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Gate {
    async fn start(upstream: u16) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay on 127.0.0.1");
        let port = listener.local_addr().expect("the relay's address").port();
        let open = Arc::new(AtomicBool::new(true));
        let is_open = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut redis) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut redis).await;
                    }
                });
            }
        });
        Gate { port, open, task }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_made_during_a_redis_outage_reach_the_other_nodes_clients_in_order_once() {
    ensure_clients();
    let mut redis = RedisServer::start();
    let gate = Gate::start(redis.port()).await;
    let r1 = RustNode::start("r1", &gate.url()).await;
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
