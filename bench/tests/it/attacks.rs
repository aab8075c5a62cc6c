//! The fast hostile-client probes of `bench::attack` against an in-process server with the
//! event contract: each must end with its expected bounded outcome (a status, a close code, a
//! closed connection), the canary client unharmed during the attack and a fresh client served
//! after it. Nothing here judges timings or memory figures, which a shared machine disturbs.

use std::time::Duration;

use bench::attack::{run, Probe, Report, Scale, Target};
use socketio_server::{Config, SocketIo};

use crate::echo;

/// Our echo example's server on 127.0.0.1 (any port), with short header and body deadlines so
/// that the slow probes see them within seconds.
async fn serve(mut config: Config) -> (SocketIo, Target) {
    config.engine.header_read_timeout = Duration::from_secs(1);
    config.engine.body_read_timeout = Duration::from_secs(1);
    let io = echo::server(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address").to_string();
    let server = io.clone();
    tokio::spawn(async move { server.serve(listener).await });
    (io, Target { addr, pid: std::process::id(), fd_limit: None, log: None })
}

/// Sizes that keep every probe to a few seconds.
fn scale() -> Scale {
    Scale {
        slowloris_connections: 10,
        slowloris_hold: Duration::from_secs(4),
        slow_bodies: 10,
        slow_body_hold: Duration::from_secs(4),
        attachment_size: 9_000,
        ..Scale::quick()
    }
}

/// Runs `probe` against a fresh server with `config`; the report, printed.
async fn attack(probe: Probe, config: Config) -> Report {
    let (io, target) = serve(config).await;
    let report = run(&target, probe, &scale()).await;
    io.close().await;
    println!("{}: {}", probe.name(), report.outcome.summary);
    report
}

fn assert_met(report: &Report) {
    assert_eq!(report.verdict(), Some(true), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_at_the_header_deadline() {
    assert_met(&attack(Probe::Slowloris, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_are_answered() {
    let report = attack(Probe::SlowBodies, Config::default()).await;
    assert!(report.outcome.summary.contains("413"), "{report:#?}");
    assert!(report.outcome.summary.contains("408"), "{report:#?}");
    assert_met(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_content_length_gets_413_before_any_body() {
    assert_met(&attack(Probe::OversizedLength, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_gets_413() {
    assert_met(&attack(Probe::ChunkedOverLimit, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_frame_lengths_near_2_to_the_64_close_the_connection() {
    assert_met(&attack(Probe::HugeFrameLength, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_namespaces_get_connect_errors() {
    assert_met(&attack(Probe::InvalidNamespaces, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ack_ids_leave_the_server_answering() {
    assert_met(&attack(Probe::UnknownAcks, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_closes_only_its_connection() {
    assert_met(&attack(Probe::DeepJson, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_event_name_leaves_the_server_answering() {
    assert_met(&attack(Probe::HugeEventName, Config::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_never_sent_close_their_connections() {
    let mut config = Config::default();
    config.engine.max_payload = 10_000;
    assert_met(&attack(Probe::MissingAttachments, config).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_disconnected_while_others_receive() {
    let mut config = Config::default();
    config.engine.max_buffered = 1 << 20;
    assert_met(&attack(Probe::StalledReader, config).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_closed_and_upgraded_session_ids_are_refused() {
    assert_met(&attack(Probe::SessionIds, Config::default()).await);
}
