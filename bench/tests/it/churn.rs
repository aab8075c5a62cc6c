//! Clients that come and go over every transport, half of them vanishing by TCP reset at any
//! point of their life (mid-handshake, mid-poll, mid-upgrade, connected), leave nothing behind:
//! once the heartbeat has timed the abandoned ones out, the server holds no Engine.IO session
//! and `/` no socket.

use std::sync::Arc;
use std::time::Duration;

use bench::churn::{Options, Progress};
use socketio_server::Config;

use crate::echo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sessions_are_reclaimed() {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(200);
    let io = echo::server(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address").to_string();
    let server = io.clone();
    tokio::spawn(async move { server.serve(listener).await });

    let options = Options { duration: Duration::from_secs(60), sessions: 400, concurrency: 50, seed: 7 };
    let report = bench::churn::run(&addr, &options, Arc::new(Progress::default())).await;
    println!("{}", serde_json::to_string(&report).expect("report"));
    assert_eq!(report.sessions, 400);
    for end in [
        "graceful",
        "reset during the handshake",
        "reset with a poll pending",
        "reset during the upgrade",
        "reset once connected",
    ] {
        assert!(report.ends.contains_key(end), "no session ended by {end}: {report:?}");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (clients, sockets) = (io.engine().clients_count(), io.of("/").sockets().len());
        if clients == 0 && sockets == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "60 s after the load, {clients} Engine.IO sessions and {sockets} sockets of / remain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
