//! A server process at its file descriptor limit (the echo example under `prlimit --nofile`)
//! turns new connections away at once instead of leaving them hanging in the listen backlog,
//! says so in its log, and serves again by itself once descriptors are free.

use crate::process;

use std::time::Duration;

use process::{Example, KeepAlive, Start, WAIT};
use tokio::time::Instant;

/// The process's descriptor limit: a handful go to the runtime, the listener and the spare.
const LIMIT: usize = 64;

/// Opens a long-polling session on a new keep-alive connection; `None` when the server closed
/// the connection without answering.
async fn handshake(example: &Example) -> Option<KeepAlive> {
    let mut connection = KeepAlive::connect(example.addr).await;
    let response = connection.request("GET", "/socket.io/?EIO=4&transport=polling", "").await?;
    assert_eq!(response.status, 200, "{response:?}");
    Some(connection)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed_at_once_and_serving_resumes() {
    let limit = format!("--nofile={LIMIT}:{LIMIT}");
    let example = Example::start(Start {
        name: "echo",
        wrapper: &["prlimit", &limit, "--"],
        env: &[("RUST_LOG", "engineio_server=info")],
        ..Start::default()
    })
    .await;

    // Each session holds its keep-alive connection, and so a descriptor of the server's. Past
    // the limit, a connection is closed without an answer (a hang would fail the handshake's
    // bounded wait).
    let mut held = Vec::new();
    let mut turned_away = 0;
    for _ in 0..LIMIT + 16 {
        match handshake(&example).await {
            Some(connection) => held.push(connection),
            None => turned_away += 1,
        }
    }
    assert!(held.len() < LIMIT, "{} connections were served with a limit of {LIMIT}", held.len());
    assert!(turned_away >= 16, "only {turned_away} connections were turned away");
    example.wait_output("out of file descriptors").await;

    // Descriptors come free: new clients are served again, without a restart.
    held.truncate(held.len() / 2);
    let deadline = Instant::now() + WAIT;
    let recovered = loop {
        if let Some(connection) = handshake(&example).await {
            break connection;
        }
        assert!(Instant::now() < deadline, "no connection was served again within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(recovered);
    example.wait_output("file descriptors available again").await;
}
