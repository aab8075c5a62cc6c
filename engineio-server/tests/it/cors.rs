//! CORS as a browser meets it: a configured origin gets its preflight answered and its
//! handshake marked allowed; another origin gets no `Access-Control-Allow-Origin`; and without
//! CORS configured no CORS header is ever sent (CVE-2020-28481).

use crate::support;

use engineio_server::{Config, Cors, CorsOrigin, OriginPattern, OriginPredicate};
use support::{http, TestServer};

const ORIGIN: &str = "http://example.com";

fn cors_config() -> Config {
    Config {
        cors: Some(Cors {
            origin: CorsOrigin::List(vec![ORIGIN.to_owned()]),
            credentials: true,
            ..Cors::default()
        }),
        ..Config::default()
    }
}

fn preflight_headers(origin: &str) -> [(&str, &str); 3] {
    [
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_and_handshake_from_the_allowed_origin() {
    let server = TestServer::start(cors_config()).await;
    let target = "/engine.io/?EIO=4&transport=polling";

    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(ORIGIN), b"").await;
    assert_eq!(preflight.status, 204, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some(ORIGIN), "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-credentials"), Some("true"), "{preflight:?}");
    let methods = preflight.header("access-control-allow-methods").expect("allowed methods");
    assert!(methods.split(',').any(|m| m.trim() == "POST"), "{methods}");
    let headers = preflight.header("access-control-allow-headers").expect("allowed headers");
    assert!(headers.split(',').any(|h| h.trim().eq_ignore_ascii_case("content-type")), "{headers}");
    assert_eq!(server.engine.clients_count(), 0, "a preflight opens no session");

    let handshake = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    assert!(handshake.body_text().starts_with("0{\"sid\""), "{handshake:?}");
    assert_eq!(handshake.header("access-control-allow-origin"), Some(ORIGIN), "{handshake:?}");
    assert_eq!(handshake.header("access-control-allow-credentials"), Some("true"), "{handshake:?}");

    // Error answers carry the headers too, so the page can read them.
    let error =
        http(server.addr, "GET", "/engine.io/?EIO=4&transport=polling&sid=x", &[("Origin", ORIGIN)], b"")
            .await;
    assert_eq!(error.status, 400, "{error:?}");
    assert_eq!(error.header("access-control-allow-origin"), Some(ORIGIN), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_origin_is_not_allowed() {
    let server = TestServer::start(cors_config()).await;
    let target = "/engine.io/?EIO=4&transport=polling";
    let other = "http://evil.example";

    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(other), b"").await;
    assert!(!preflight.has_header("access-control-allow-origin"), "{preflight:?}");
    let handshake = http(server.addr, "GET", target, &[("Origin", other)], b"").await;
    assert!(!handshake.has_header("access-control-allow-origin"), "{handshake:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cors_configured_no_cors_header_is_sent() {
    let server = TestServer::start(Config::default()).await;
    let target = "/engine.io/?EIO=4&transport=polling";

    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(ORIGIN), b"").await;
    let handshake = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    for response in [&preflight, &handshake] {
        let cors: Vec<_> = response
            .headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "no CORS header without CORS configured: {response:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_fields_replace_those_of_the_headers_hook_but_vary_adds_up() {
    let builder = engineio_server::Builder::new(cors_config()).headers(|_, headers| {
        headers.insert("access-control-allow-origin", http::HeaderValue::from_static("hook"));
        headers.insert("vary", http::HeaderValue::from_static("Accept"));
    });
    let server = TestServer::start_with(builder).await;
    let target = "/engine.io/?EIO=4&transport=polling";
    let handshake = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
    assert_eq!(handshake.header("access-control-allow-origin"), Some(ORIGIN), "{handshake:?}");
    let vary: Vec<&str> = handshake
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, ["Accept", "Origin"], "{handshake:?}");

    // A preflight asking for headers, with none configured, is allowed them.
    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(ORIGIN), b"").await;
    assert_eq!(preflight.header("access-control-allow-headers"), Some("content-type"), "{preflight:?}");
    let vary: Vec<&str> = preflight
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, ["Origin", "Access-Control-Request-Headers"], "{preflight:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_paths_get_404() {
    let server = TestServer::start(cors_config()).await;
    for target in ["/", "/engine.iox?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=polling"] {
        let response = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
        assert_eq!((response.status, response.body_text().as_str()), (404, "Not Found"), "{target}");
        assert!(!response.has_header("access-control-allow-origin"), "{response:?}");
    }
    // The server's path without its trailing slash is served.
    let handshake = http(server.addr, "GET", "/engine.io?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
}

/// The `Access-Control-Allow-Origin` of a handshake and of a preflight from `origin`.
async fn allowed_origin(server: &TestServer, origin: &str) -> [Option<String>; 2] {
    let target = "/engine.io/?EIO=4&transport=polling";
    let handshake = http(server.addr, "GET", target, &[("Origin", origin)], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(origin), b"").await;
    assert_eq!(preflight.status, 204, "{preflight:?}");
    [&handshake, &preflight].map(|r| r.header("access-control-allow-origin").map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_allowed_by_a_subdomain_pattern() {
    let pattern = OriginPattern::new("https://*.example.com").expect("a valid pattern");
    let config = Config {
        cors: Some(Cors { origin: CorsOrigin::Patterns(vec![pattern]), ..Cors::default() }),
        ..Config::default()
    };
    let server = TestServer::start(config).await;
    let allowed = "https://app.example.com";
    assert_eq!(allowed_origin(&server, allowed).await, [Some(allowed.to_owned()), Some(allowed.to_owned())]);
    for refused in ["https://example.com", "https://app.example.com.evil.net", "http://app.example.com"] {
        assert_eq!(allowed_origin(&server, refused).await, [None, None], "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_allowed_by_a_predicate() {
    let predicate = OriginPredicate::new(|origin| origin.starts_with("http://localhost:"));
    let config = Config {
        cors: Some(Cors { origin: CorsOrigin::Predicate(predicate), credentials: true, ..Cors::default() }),
        ..Config::default()
    };
    let server = TestServer::start(config).await;
    let allowed = "http://localhost:5173";
    assert_eq!(allowed_origin(&server, allowed).await, [Some(allowed.to_owned()), Some(allowed.to_owned())]);
    assert_eq!(allowed_origin(&server, "http://example.com").await, [None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_headers_are_listed_on_answers_and_preflights() {
    let config = Config {
        cors: Some(Cors {
            exposed_headers: vec!["x-request-id".into(), "x-total".into()],
            ..cors_config().cors.expect("configured")
        }),
        ..Config::default()
    };
    let builder = engineio_server::Builder::new(config).headers(|_, headers| {
        headers.insert("x-request-id", http::HeaderValue::from_static("42"));
    });
    let server = TestServer::start_with(builder).await;
    let target = "/engine.io/?EIO=4&transport=polling";
    let handshake = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
    assert_eq!(
        handshake.header("access-control-expose-headers"),
        Some("x-request-id,x-total"),
        "{handshake:?}"
    );
    assert_eq!(handshake.header("x-request-id"), Some("42"), "{handshake:?}");
    let preflight = http(server.addr, "OPTIONS", target, &preflight_headers(ORIGIN), b"").await;
    assert_eq!(
        preflight.header("access-control-expose-headers"),
        Some("x-request-id,x-total"),
        "{preflight:?}"
    );
    // Without exposed headers, none is listed.
    let server = TestServer::start(cors_config()).await;
    let handshake = http(server.addr, "GET", target, &[("Origin", ORIGIN)], b"").await;
    assert!(!handshake.has_header("access-control-expose-headers"), "{handshake:?}");
}
