//! `EngineIo::listen` opens its listener with `Config::listen_backlog` (the standard library's
//! and tokio's `bind` use 128, which a burst of connects overflows), as `ss` reports it.

use std::sync::Arc;
use std::time::Duration;

use engineio_parser::{CloseReason, Data};
use engineio_server::{Config, EngineIo, Handler, Socket};

const WAIT: Duration = Duration::from_secs(10);

struct Silent;

impl Handler for Silent {
    type Connection = ();
    type Command = ();
    fn on_connection(&self, _: Arc<Socket>) {}
    fn on_message(&self, _: &mut (), _: Data) {}
    fn on_close(&self, _: (), _: CloseReason) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_uses_the_configured_backlog() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let engine = EngineIo::new(Config { listen_backlog: 700, ..Config::default() }, Silent);
    let serving = tokio::spawn(engine.clone().listen(("127.0.0.1", port)));
    let deadline = tokio::time::Instant::now() + WAIT;
    let backlog = loop {
        // For a listening socket, `ss` shows the backlog as its Send-Q.
        let out = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .expect("run ss (iproute2)");
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(send_q) = line.split_whitespace().nth(2) {
            break send_q.parse::<u32>().expect("a number");
        }
        assert!(tokio::time::Instant::now() < deadline, "no listener on port {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(backlog, 700);
    engine.close().await;
    serving.await.expect("the serving task").expect("listen returns Ok after close");
}
