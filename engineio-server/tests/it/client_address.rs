//! The client's address: the connection's peer by default; with `trust_proxy`, the right-most
//! untrusted address of `X-Forwarded-For` (or `Forwarded`) when the peer is a trusted proxy, and
//! the peer itself otherwise; and behind a hyper accept loop, the `SocketAddr` it puts in the
//! request's extensions.

use crate::support;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use engineio_server::{Config, ForwardedHeader, TrustProxy};
use support::{http, TestServer};
use tower_service::Service;

const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

fn trusting(proxies: &[&str], header: ForwardedHeader) -> Config {
    let proxies = proxies.iter().map(|p| p.parse().expect("a range")).collect();
    Config { trust_proxy: Some(TrustProxy { proxies, header }), ..Config::default() }
}

/// Opens a polling session with `headers`; returns the session's client address and peer.
async fn address_of(server: &TestServer, headers: &[(&str, &str)]) -> (Option<IpAddr>, Option<SocketAddr>) {
    let response = http(server.addr, "GET", HANDSHAKE, headers, b"").await;
    assert_eq!(response.status, 200, "{response:?}");
    let body = response.body_text();
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("json");
    let sid = open["sid"].as_str().expect("sid");
    let socket = server.engine.socket(sid).expect("the session");
    (socket.handshake().address, socket.handshake().remote_addr)
}

const FORWARDED: [(&str, &str); 1] = [("X-Forwarded-For", "6.6.6.6, 203.0.113.7")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_a_trusted_peer_names_the_client() {
    let server = TestServer::start(trusting(&["127.0.0.0/8"], ForwardedHeader::XForwardedFor)).await;
    let (address, peer) = address_of(&server, &FORWARDED).await;
    assert_eq!(address, Some(ip("203.0.113.7")));
    assert_eq!(peer.map(|p| p.ip()), Some(ip("127.0.0.1")), "the peer is still known");
    // A trusted proxy in the list is skipped.
    let (address, _) = address_of(&server, &[("X-Forwarded-For", "203.0.113.7, 127.0.0.5")]).await;
    assert_eq!(address, Some(ip("203.0.113.7")));
    // Without the header: the peer.
    let (address, _) = address_of(&server, &[]).await;
    assert_eq!(address, Some(ip("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = TestServer::start(trusting(&["10.0.0.0/8", "::1"], ForwardedHeader::XForwardedFor)).await;
    let (address, _) = address_of(&server, &FORWARDED).await;
    assert_eq!(address, Some(ip("127.0.0.1")));
    // Without `trust_proxy`, the header is never read.
    let server = TestServer::start(Config::default()).await;
    let (address, _) = address_of(&server, &FORWARDED).await;
    assert_eq!(address, Some(ip("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_is_read_when_configured() {
    let server = TestServer::start(trusting(&["127.0.0.1"], ForwardedHeader::Forwarded)).await;
    let headers = [("Forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https")];
    let (address, _) = address_of(&server, &headers).await;
    assert_eq!(address, Some(ip("2001:db8::7")));
    // Only the configured header counts.
    let (address, _) = address_of(&server, &FORWARDED).await;
    assert_eq!(address, Some(ip("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hyper_accept_loop_hands_the_peer_over_as_a_socket_addr_extension() {
    let server = TestServer::start(Config::default()).await;
    let engine = server.engine.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((stream, remote)) = listener.accept().await {
            let engine = engine.clone();
            let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                let mut engine = engine.clone();
                // What the application's accept loop does, for the server to know the peer.
                req.extensions_mut().insert(remote);
                async move { Ok::<_, Infallible>(engine.call(req).await.expect("infallible")) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        }
    });
    let response = http(addr, "GET", HANDSHAKE, &[], b"").await;
    let body = response.body_text();
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("json");
    let socket = server.engine.socket(open["sid"].as_str().expect("sid")).expect("the session");
    assert_eq!(socket.handshake().address, Some(ip("127.0.0.1")));
    assert_eq!(socket.handshake().remote_addr.map(|p| p.ip()), Some(ip("127.0.0.1")));
}
