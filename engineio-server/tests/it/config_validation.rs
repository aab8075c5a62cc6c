//! A server refuses options that cannot work when it is built, naming each one, and a
//! listener that cannot be opened names its address.

use crate::support;

use std::time::Duration;

use engineio_server::{Builder, Config, Cors, EngineIo, TrustProxy};

fn refused(config: Config) -> Vec<String> {
    let (recorder, _) = support::recorder();
    match EngineIo::try_new(config, recorder) {
        Ok(_) => Vec::new(),
        Err(error) => error.problems().iter().map(|p| p.option.clone()).collect(),
    }
}

#[test]
fn nonsense_options_are_refused_with_their_names() {
    assert_eq!(refused(Config::default()), Vec::<String>::new());
    let config = Config {
        path: "engine.io".into(),
        ping_interval: Duration::ZERO,
        max_payload: 0,
        body_read_timeout: Duration::ZERO,
        header_read_timeout: Duration::from_micros(10),
        listen_backlog: 0,
        max_ws_fragments: 0,
        cors: Some(Cors { credentials: true, ..Cors::default() }),
        trust_proxy: Some(TrustProxy { proxies: Vec::new(), header: Default::default() }),
        ..Config::default()
    };
    assert_eq!(
        refused(config),
        [
            "path",
            "ping_interval",
            "max_payload",
            "body_read_timeout",
            "header_read_timeout",
            "listen_backlog",
            "max_ws_fragments",
            "cors.credentials",
            "trust_proxy.proxies",
        ]
    );
}

#[test]
fn the_builder_returns_the_error_and_new_panics_with_it() {
    let (recorder, _) = support::recorder();
    let config = Config { max_payload: 0, ..Config::default() };
    let error = Builder::new(config.clone()).try_build(recorder).err().expect("refused");
    assert_eq!(
        error.to_string(),
        "invalid configuration: `max_payload` is 0, but no request body or WebSocket message could be read"
    );
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (recorder, _) = support::recorder();
        EngineIo::new(config, recorder)
    }))
    .err()
    .expect("new panics on an invalid configuration");
    let message = panicked.downcast_ref::<String>().expect("a formatted message");
    assert_eq!(message, &error.to_string());
}

#[tokio::test]
async fn a_busy_address_is_named() {
    let (recorder, _) = support::recorder();
    let engine = EngineIo::new(Config::default(), recorder);
    let taken = engine.bind("127.0.0.1:0").await.expect("a free port");
    let addr = taken.local_addr().expect("local address");
    let error = engine.clone().listen(addr).await.expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    let message = error.to_string();
    assert!(message.starts_with(&format!("cannot listen on {addr}: ")), "{message}");
}
