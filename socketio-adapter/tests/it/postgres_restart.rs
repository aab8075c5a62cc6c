//! PostgreSQL going away and coming back: this node's own sockets are served all along, and
//! once the database is back the adapters reconnect, listen again and the cluster works as
//! before.

use crate::pg_support;

use std::time::Duration;

use pg_support::{config, event, eventually, value, PgNode, PostgresServer};
use socketio_adapter::{Adapter, BroadcastOptions, PostgresStatus, Room};

fn say(node: &PgNode, what: &str) {
    let json = format!(r#"["{what}"]"#);
    node.adapter.broadcast(&event("/", &json, None), &(value(&json), None), &BroadcastOptions::all());
}

#[tokio::test]
async fn the_cluster_survives_a_database_restart() {
    let mut server = PostgresServer::start();
    let a = PgNode::start(&server.conninfo(), "/", config()).await;
    let b = PgNode::start(&server.conninfo(), "/", config()).await;
    a.connect("a1", &[]);
    b.connect("b1", &[]);
    eventually("a knows b", || a.adapter.nodes().len() == 1).await;
    say(&a, "before");
    eventually("b1 hears a", || b.log.received_by("b1").contains(&value(r#"["before"]"#))).await;

    server.stop();
    eventually("a sees the connection lost", || a.clients.status() != PostgresStatus::Connected).await;

    // This node's sockets are served without the database, at once, and nothing local is lost.
    say(&a, "during");
    assert!(a.log.received_by("a1").contains(&value(r#"["during"]"#)));
    a.adapter.add_sockets(&BroadcastOptions::all(), &[Room::from("while-down")]);
    assert_eq!(a.rooms_of("a1"), ["a1", "while-down"]);
    assert!(a.adapter.server_side_emit(serde_json::json!(["q"])).await.is_err());

    server.restart();
    tokio::time::timeout(Duration::from_secs(30), a.clients.connected()).await.expect("a reconnects");
    tokio::time::timeout(Duration::from_secs(30), b.clients.connected()).await.expect("b reconnects");
    assert_eq!(a.rooms_of("a1"), ["a1", "while-down"]);
    // Broadcasts work again (retried: the other node may still be listening again).
    let mut n = 0;
    eventually("b1 hears a after the restart", || {
        n += 1;
        if n % 50 == 1 {
            say(&a, "after");
        }
        b.log.received_by("b1").contains(&value(r#"["after"]"#))
    })
    .await;
    // "during" waited in a's queue and was published once a was back: whether b listened again
    // by then depends on which node reconnected first (`postgres_outage` makes that certain).
}
