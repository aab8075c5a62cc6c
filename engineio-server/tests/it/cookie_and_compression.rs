//! The session cookie and the compression of polling responses, as a client sees them: the
//! `cookie` option puts a `Set-Cookie` with the sid on a session's first answer only; a poll's
//! payload of at least the threshold is gzip- or deflate-compressed as `Accept-Encoding` allows,
//! and `http_compression: None` turns that off.

use crate::support;

use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use engineio_parser::Packet;
use engineio_server::{Config, Cookie, HttpCompression};
use support::{get, http, polling_handshake, TestServer};

const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

fn sid_of(body: &str) -> String {
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("open packet")).expect("json");
    open["sid"].as_str().expect("sid").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_carries_the_sid_on_the_first_answer_only() {
    let server = TestServer::start(Config { cookie: Some(Cookie::default()), ..Config::default() }).await;
    let handshake = http(server.addr, "GET", HANDSHAKE, &[], b"").await;
    let sid = sid_of(&handshake.body_text());
    let expected = format!("io={sid}; Path=/; HttpOnly; SameSite=Lax");
    assert_eq!(handshake.header("set-cookie"), Some(expected.as_str()), "{handshake:?}");
    server.engine.socket(&sid).expect("session").send(Packet::message("hi")).expect("open");
    let poll = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(poll.body_text(), "4hi");
    assert!(!poll.has_header("set-cookie"), "{poll:?}");

    let custom = Cookie {
        name: "sid".into(),
        path: "/x".into(),
        http_only: false,
        same_site: None,
        secure: true,
        max_age: Some(Duration::from_secs(3600)),
        ..Cookie::default()
    };
    let server = TestServer::start(Config { cookie: Some(custom), ..Config::default() }).await;
    let handshake = http(server.addr, "GET", HANDSHAKE, &[], b"").await;
    let expected = format!("sid={}; Max-Age=3600; Path=/x; Secure", sid_of(&handshake.body_text()));
    assert_eq!(handshake.header("set-cookie"), Some(expected.as_str()), "{handshake:?}");

    let server = TestServer::start(Config::default()).await;
    let handshake = http(server.addr, "GET", HANDSHAKE, &[], b"").await;
    assert!(!handshake.has_header("set-cookie"), "no cookie unless configured: {handshake:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_carries_domain_and_expires_as_the_cookie_package_writes_them() {
    let cookie = Cookie {
        domain: Some("example.com".into()),
        // 2015-10-21 07:28:00.750 UTC: the fraction is dropped.
        expires: Some(UNIX_EPOCH + Duration::from_millis(1_445_412_480_750)),
        max_age: Some(Duration::from_secs(600)),
        secure: true,
        same_site: Some("Strict".into()),
        ..Cookie::default()
    };
    let server = TestServer::start(Config { cookie: Some(cookie), ..Config::default() }).await;
    let handshake = http(server.addr, "GET", HANDSHAKE, &[], b"").await;
    let expected = format!(
        "io={}; Max-Age=600; Domain=example.com; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; \
         HttpOnly; Secure; SameSite=Strict",
        sid_of(&handshake.body_text())
    );
    assert_eq!(handshake.header("set-cookie"), Some(expected.as_str()), "{handshake:?}");
}

fn inflate(encoding: &str, body: &[u8]) -> String {
    let mut out = String::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(body).read_to_string(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(body).read_to_string(&mut out),
        other => panic!("unexpected encoding {other}"),
    }
    .expect("a valid compressed body");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_are_compressed_as_the_client_accepts() {
    let server = TestServer::start(Config::default()).await;
    let sid = polling_handshake(server.addr).await;
    let socket = server.engine.socket(&sid).expect("session");
    let target = format!("{HANDSHAKE}&sid={sid}");
    let big = "x".repeat(2000);
    let cases = [
        ("gzip, deflate", Some("gzip")),
        ("deflate", Some("deflate")),
        ("gzip;q=0, deflate", Some("deflate")),
        ("*", Some("gzip")),
        ("br", None),
        ("identity", None),
    ];
    for (accept, encoding) in cases {
        socket.send(Packet::message(big.as_str())).expect("open");
        let poll = http(server.addr, "GET", &target, &[("Accept-Encoding", accept)], b"").await;
        assert_eq!(poll.status, 200, "{poll:?}");
        assert_eq!(poll.header("content-encoding"), encoding, "{accept}: {poll:?}");
        assert_eq!(poll.header("content-type"), Some("text/plain; charset=UTF-8"), "{poll:?}");
        let body = match encoding {
            Some(encoding) => inflate(encoding, &poll.body),
            None => poll.body_text(),
        };
        assert_eq!(body, format!("4{big}"), "{accept}");
    }
    // Under the 1 024-byte threshold: as it is.
    socket.send(Packet::message("x".repeat(1022).as_str())).expect("open");
    let small = http(server.addr, "GET", &target, &[("Accept-Encoding", "gzip")], b"").await;
    assert!(!small.has_header("content-encoding"), "{small:?}");
    assert_eq!(small.body.len(), 1023);
    socket.send(Packet::message("x".repeat(1023).as_str())).expect("open");
    let at_threshold = http(server.addr, "GET", &target, &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!(at_threshold.header("content-encoding"), Some("gzip"), "{at_threshold:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_follows_its_option() {
    let server = TestServer::start(Config { http_compression: None, ..Config::default() }).await;
    let sid = polling_handshake(server.addr).await;
    let target = format!("{HANDSHAKE}&sid={sid}");
    server
        .engine
        .socket(&sid)
        .expect("session")
        .send(Packet::message("x".repeat(5000).as_str()))
        .expect("open");
    let poll = http(server.addr, "GET", &target, &[("Accept-Encoding", "gzip")], b"").await;
    assert!(!poll.has_header("content-encoding"), "{poll:?}");
    assert_eq!(poll.body.len(), 5001);

    let config = Config { http_compression: Some(HttpCompression { threshold: 10 }), ..Config::default() };
    let server = TestServer::start(config).await;
    let sid = polling_handshake(server.addr).await;
    let target = format!("{HANDSHAKE}&sid={sid}");
    server
        .engine
        .socket(&sid)
        .expect("session")
        .send(Packet::message("x".repeat(20).as_str()))
        .expect("open");
    let poll = http(server.addr, "GET", &target, &[("Accept-Encoding", "deflate")], b"").await;
    assert_eq!(poll.header("content-encoding"), Some("deflate"), "{poll:?}");
    assert_eq!(inflate("deflate", &poll.body), format!("4{}", "x".repeat(20)));
    // A POST's `ok` is never compressed.
    let ok = http(
        server.addr,
        "POST",
        &target,
        &[("Content-Type", "text/plain;charset=UTF-8"), ("Accept-Encoding", "deflate")],
        b"4hello, over the threshold",
    )
    .await;
    assert_eq!((ok.body_text().as_str(), ok.header("content-encoding")), ("ok", None), "{ok:?}");
}
