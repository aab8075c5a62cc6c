//! The Socket.IO Admin UI's own dashboard in a real browser: the chat example's server,
//! instrumented, serves the dashboard of the npm package `@socket.io/admin-ui` (`ui/dist`)
//! under `/admin/` as the `dashboard` example does; `socketio-server/tests/browser/admin.js`
//! drives headless Chromium with Playwright. A chat page joins; the dashboard logs in to the chat server with the demo's
//! credentials, lists the chat's socket, its `#general` room and the server, then disconnects
//! the chat's client: the chat page says the server ended its connection (`io server
//! disconnect`, as with the reference, whose disconnection is the server's too) and reconnects
//! by itself, and the dashboard lists the new socket. A screenshot of the dashboard is kept at
//! `target/artifacts/admin-ui.png`.
//!
//! Needs what `socketio-server`'s `chat_browser.rs` needs (Node.js with npm, Debian's
//! Chromium, installed when missing and running as root) and shares its harness
//! (`socketio-server/tests/browser/mod.rs`).

use crate::admin::peer_dir;
use crate::browser;
use crate::chat;
use crate::ui;

use std::time::Duration;

use socketio_admin::{instrument, AdminAuth, AdminOptions};
use tokio::net::TcpListener;
use tokio::time::timeout;

use browser::{artifacts_dir, browser_dir, ensure_chromium, run_node};

/// How long the whole node run may take (its own watchdog gives up after 120 s).
const NODE_LIMIT: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_watches_and_disconnects_a_chat_page() {
    if let Err(reason) = ensure_chromium().await {
        panic!("{reason}");
    }
    // Playwright; the dashboard's files and the browser client, from the peer's packages.
    let installs = tokio::task::spawn_blocking(|| {
        conformance::npm::ensure_installed(&browser_dir())?;
        conformance::npm::ensure_installed(&peer_dir())
    });
    if let Err(reason) = installs.await.expect("the npm installs ran") {
        panic!("{reason}");
    }
    let modules = peer_dir().join("node_modules");
    let (io, page) = chat::page(modules.join("socket.io-client").join("dist"));
    let auth = AdminAuth::basic(ui::USERNAME, ui::PASSWORD_HASH);
    let options = AdminOptions { server_id: Some("chat".into()), ..AdminOptions::new(auth) };
    instrument(&io, options).expect("instrument the chat");
    let dist = modules.join("@socket.io").join("admin-ui").join("ui").join("dist");
    let app = ui::routes(page, dist).layer(io.layer());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create target/artifacts");
    let screenshot = artifacts.join("admin-ui.png");
    let _ = std::fs::remove_file(&screenshot);

    let args = [url.as_ref(), screenshot.as_os_str(), ui::USERNAME.as_ref(), ui::PASSWORD.as_ref()];
    let run = run_node("admin.js", &args, NODE_LIMIT).await;

    let result = run.result();
    assert_ne!(result["first"]["id"], result["second"]["id"], "the chat page came back with a new socket");
    assert_ne!(result["first"]["engine"], result["second"]["engine"], "and a new connection");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000, "the screenshot is a PNG");
    // The dashboard was a socket of the admin namespace.
    assert!(io.namespaces().iter().any(|ns| &**ns.name() == "/admin"));

    let _ = timeout(Duration::from_secs(10), io.close()).await;
    server.abort();
}
