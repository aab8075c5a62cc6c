//! A Socket.IO server refuses options that cannot work when it is built: its own and its
//! engine's, each named as the configuration spells it.

use std::time::Duration;

use socketio_server::{Config, ConnectionStateRecovery, SocketIo};

fn refused(config: Config) -> Vec<String> {
    match SocketIo::try_new(config) {
        Ok(_) => Vec::new(),
        Err(error) => error.problems().iter().map(|p| p.option.clone()).collect(),
    }
}

#[tokio::test]
async fn nonsense_options_are_refused_with_their_names() {
    assert_eq!(refused(Config::default()), Vec::<String>::new());
    let mut config = Config {
        connect_timeout: Duration::ZERO,
        max_depth: 0,
        max_binary_packet_size: Some(0),
        connection_state_recovery: Some(ConnectionStateRecovery {
            max_disconnection_duration: Duration::ZERO,
            max_packets: 0,
            ..ConnectionStateRecovery::default()
        }),
        ..Config::default()
    };
    config.engine.ping_timeout = Duration::ZERO;
    config.engine.path = "/socket.io?x".into();
    assert_eq!(
        refused(config),
        [
            "engine.path",
            "engine.ping_timeout",
            "connect_timeout",
            "max_depth",
            "max_binary_packet_size",
            "connection_state_recovery.max_disconnection_duration",
            "connection_state_recovery.max_packets",
        ]
    );
    // Unset, the binary packet limit is the engine's payload limit: one problem, named once.
    let mut config = Config::default();
    config.engine.max_payload = 0;
    assert_eq!(refused(config), ["engine.max_payload"]);
}

#[tokio::test]
async fn the_builder_returns_the_error() {
    let config = Config { connect_timeout: Duration::ZERO, ..Config::default() };
    let error = SocketIo::builder(config).try_build().expect_err("refused");
    assert_eq!(
        error.to_string(),
        "invalid configuration: `connect_timeout` is 0ns, but joining a first namespace needs at least 1 ms"
    );
}

#[tokio::test]
async fn a_busy_address_is_named() {
    let io = SocketIo::new(Config::default());
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = taken.local_addr().expect("local address");
    let error = io.listen(addr).await.expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    assert!(error.to_string().starts_with(&format!("cannot listen on {addr}: ")), "{error}");
    let error = io.listen_until(addr, std::future::pending()).await.expect_err("the port is taken");
    assert!(error.to_string().starts_with(&format!("cannot listen on {addr}: ")), "{error}");
}
