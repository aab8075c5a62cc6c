//! The conformance runner's Socket.IO suite against this server, built by the
//! `protocol_suite` example (the suite's contract) and served in-process: every case must pass,
//! with the default parser, with Engine.IO v3 clients allowed, and with the msgpack parser.
//! The same cases pass against the Node.js reference (`conformance/tests/it/runner_against_node_reference.rs`).

use std::time::Duration;

use conformance::runner::{run, socketio, Contract, Target};
use socketio_server::Config;

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/protocol_suite.rs"]
mod protocol_suite;

async fn every_case_passes(config: Config, eio3: bool, msgpack: bool) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let io = protocol_suite::server(config);
    let serve = tokio::spawn(async move { io.serve(listener).await });

    // A generous slack: this test checks that every behaviour happens, not how fast, so a busy
    // machine cannot fail it.
    let target = Target {
        slack: Duration::from_secs(2),
        ..Target::parse_for(&format!("http://127.0.0.1:{port}"), Contract::SocketIo).expect("target")
    };
    let cases = socketio::suite(eio3, msgpack);
    let report = run(&target, &cases, None).await;
    serve.abort();

    let failures = report.failures();
    assert_eq!(report.cases.len(), cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socketio_case_passes() {
    every_case_passes(protocol_suite::config(false), false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_eio3_case_passes_with_allow_eio3() {
    every_case_passes(protocol_suite::config(true), true, false).await;
}

#[cfg(feature = "msgpack")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_msgpack_case_passes_with_the_msgpack_parser() {
    let config = Config { parser: socketio_server::ParserKind::MsgPack, ..protocol_suite::config(false) };
    every_case_passes(config, false, true).await;
}
