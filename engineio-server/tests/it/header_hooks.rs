//! The `initial_headers` and `headers` hooks, as a client sees them: `initial_headers` on the
//! first answer of a session only (the polling handshake, or the `101` of a WebSocket
//! handshake), `headers` on every answer including the `101` of a WebSocket handshake and of an
//! upgrade, and `headers` winning when both set the same field (the reference emits
//! `initial_headers` first, then `headers`, on the same header object).

use crate::support;

use engineio_server::{Builder, Config, Cookie};
use http::HeaderValue;
use support::{get, http, polling_handshake, ws_connect, HttpResponse, TestServer};

fn hooked(config: Config) -> Builder {
    Builder::new(config)
        .initial_headers(|_, headers| {
            headers.insert("x-initial", HeaderValue::from_static("yes"));
            headers.insert("x-both", HeaderValue::from_static("initial"));
        })
        .headers(|parts, headers| {
            headers.insert("x-every", HeaderValue::from_static("yes"));
            headers.insert("x-both", HeaderValue::from_static("every"));
            // The hook sees the request it answers.
            let transport = if parts.uri.query().is_some_and(|q| q.contains("transport=websocket")) {
                "websocket"
            } else {
                "polling"
            };
            headers.insert("x-transport", HeaderValue::from_static(transport));
        })
}

/// The hooks' fields of an answer: (`x-initial`, `x-every`, `x-both`, `x-transport`).
fn hook_fields(response: &HttpResponse) -> [Option<&str>; 4] {
    ["x-initial", "x-every", "x-both", "x-transport"].map(|name| response.header(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_answers_get_initial_headers_first_and_headers_last() {
    let server = TestServer::start_with(hooked(Config::default())).await;
    let handshake = http(server.addr, "GET", "/engine.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    assert_eq!(
        hook_fields(&handshake),
        [Some("yes"), Some("yes"), Some("every"), Some("polling")],
        "{handshake:?}"
    );

    let sid = polling_handshake(server.addr).await;
    server.engine.socket(&sid).expect("session").send_text("hi").expect("open");
    let poll = get(server.addr, &format!("EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(poll.body_text(), "4hi");
    assert_eq!(hook_fields(&poll), [None, Some("yes"), Some("every"), Some("polling")], "{poll:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_101_of_a_websocket_handshake_gets_both_hooks() {
    let server = TestServer::start_with(hooked(Config::default())).await;
    let ws = ws_connect(server.addr, "/engine.io/?EIO=4&transport=websocket").await.expect("a 101");
    assert_eq!(
        hook_fields(&ws.head),
        [Some("yes"), Some("yes"), Some("every"), Some("websocket")],
        "{:?}",
        ws.head
    );
    // The handshake's own fields are intact.
    assert_eq!(ws.head.header("upgrade"), Some("websocket"), "{:?}", ws.head);
    assert!(ws.head.has_header("sec-websocket-accept"), "{:?}", ws.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_101_of_an_upgrade_gets_headers_but_not_initial_headers() {
    let server = TestServer::start_with(hooked(Config::default())).await;
    let sid = polling_handshake(server.addr).await;
    let target = format!("/engine.io/?EIO=4&transport=websocket&sid={sid}");
    let ws = ws_connect(server.addr, &target).await.expect("a 101");
    assert_eq!(hook_fields(&ws.head), [None, Some("yes"), Some("every"), Some("websocket")], "{:?}", ws.head);
    assert!(!ws.head.has_header("set-cookie"), "{:?}", ws.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hooks_run_after_the_cookie_and_may_replace_it() {
    let config = Config { cookie: Some(Cookie::default()), ..Config::default() };
    let builder = Builder::new(config).headers(|_, headers| {
        let cookie = headers.get("set-cookie").cloned();
        if let Some(cookie) = cookie {
            headers.insert("x-cookie-seen", cookie);
            headers.insert("set-cookie", HeaderValue::from_static("replaced=1"));
        }
    });
    let server = TestServer::start_with(builder).await;
    let handshake = http(server.addr, "GET", "/engine.io/?EIO=4&transport=polling", &[], b"").await;
    let seen = handshake.header("x-cookie-seen").expect("the hook saw the cookie");
    assert!(seen.starts_with("io=") && seen.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{seen}");
    assert_eq!(handshake.header("set-cookie"), Some("replaced=1"), "{handshake:?}");
}
