//! The Engine.IO conformance runner against this workspace's `engineio-server`, started
//! in-process with the contract's settings: every case must pass.

use std::sync::Arc;
use std::time::Duration;

use conformance::runner::{engineio, run, Target};
use engineio_parser::{CloseReason, Data, Packet, PacketType};
use engineio_server::{Config, EngineIo, Handler, Socket};

struct EchoHandler;

impl Handler for EchoHandler {
    type Connection = Arc<Socket>;
    type Command = ();

    fn on_connection(&self, socket: Arc<Socket>) -> Arc<Socket> {
        socket
    }

    fn on_message(&self, socket: &mut Arc<Socket>, data: Data) {
        let _ = socket.send(Packet { kind: PacketType::Message, data });
    }

    fn on_close(&self, _socket: Arc<Socket>, _reason: CloseReason) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engineio_case_passes_against_our_echo_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let config = Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let server = tokio::spawn(EngineIo::new(config, EchoHandler).serve(listener));

    // A generous slack: this test checks that every behaviour happens, not how fast, so a busy
    // machine cannot fail it.
    let target = Target {
        slack: std::time::Duration::from_secs(2),
        ..Target::parse(&format!("http://127.0.0.1:{port}")).expect("target")
    };
    let cases = engineio::cases();
    let report = run(&target, &cases, None).await;
    server.abort();

    let failures = report.failures();
    assert_eq!(report.cases.len(), cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
