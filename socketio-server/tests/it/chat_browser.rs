//! The chat example in real browsers: the example's server runs in-process on 127.0.0.1, and
//! `tests/browser/chat.js` drives two headless Chromium pages through it with Playwright.
//!
//! The pages join with nicknames and see each other's join notices; one types and the other
//! sees the typing indicator, then the message; the sender sees the server's ack tick. One page
//! stays on long-polling (`?transport=polling`) and chats with the other, which upgrades to
//! WebSocket (the transports are read in the pages). Both move to another channel; one page
//! loses its network and shows itself reconnecting, then connected again; one leaves and the
//! other sees it go. A screenshot is kept at `target/artifacts/chat.png`.
//!
//! On a phone (`tests/browser/phone.js`: one page at 390×844, touch): nicknames of spaces only
//! or too long are refused under the field without connecting, one the server refuses shows the
//! server's message; a real one joins. Every control (the channel form, the people, the Leave
//! button, the composer) is on screen once the "Channels & people" panel is open, with no
//! sideways scrolling; joining a channel and leaving work. Screenshot:
//! `target/artifacts/chat-phone.png`.
//!
//! Needs Node.js with npm, and Debian's Chromium at `/usr/bin/chromium`: when it is missing
//! and the test runs as root, it installs `chromium` and `chromium-driver` with apt-get
//! (Playwright's own browser download does not work here); otherwise it fails and says what
//! to install. `playwright-core` comes from `tests/browser/package-lock.json`, the page's
//! `socket.io-client` from the example's.
//!
//! Every wait is bounded: Playwright's per-step timeouts and the script's own watchdog in
//! node, [`NODE_LIMIT`] here (node is asked to stop, then killed), `browser::APT_LIMIT` for the
//! install.

use crate::browser;
use crate::chat;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::time::timeout;

use browser::{artifacts_dir, browser_dir, ensure_chromium, run_node};

/// How long the whole node run may take (its own watchdog gives up after 120 s).
const NODE_LIMIT: Duration = Duration::from_secs(150);

/// One browser run at a time: the tests of this file would otherwise share the machine's cores
/// between two Chromiums.
static ONE_BROWSER: Mutex<()> = Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_over_websocket_and_long_polling() {
    let _browser = ONE_BROWSER.lock().await;
    if let Err(reason) = ensure_chromium().await {
        panic!("{reason}");
    }
    let installs = tokio::task::spawn_blocking(|| {
        conformance::npm::ensure_installed(&browser_dir())?;
        chat::install_client()
    });
    let dist = match installs.await.expect("the npm installs ran") {
        Ok(dist) => dist,
        Err(reason) => panic!("{reason}"),
    };

    let (io, app) = chat::app(dist);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create target/artifacts");
    let screenshot = artifacts.join("chat.png");
    let _ = std::fs::remove_file(&screenshot);

    let run = run_node("chat.js", &[url.as_ref(), screenshot.as_os_str()], NODE_LIMIT).await;

    // What the pages reported, checked here too.
    let result = run.result();
    assert_eq!(result["transports"]["alice"], "websocket", "the default page upgraded to WebSocket");
    assert_eq!(result["transports"]["bob"], "polling", "the `?transport=polling` page stayed on polling");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000, "the screenshot is a PNG");

    let _ = timeout(Duration::from_secs(10), io.close()).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_page_on_a_phone_refuses_a_blank_nickname_and_fits_the_screen() {
    let _browser = ONE_BROWSER.lock().await;
    if let Err(reason) = ensure_chromium().await {
        panic!("{reason}");
    }
    let installs = tokio::task::spawn_blocking(|| {
        conformance::npm::ensure_installed(&browser_dir())?;
        chat::install_client()
    });
    let dist = match installs.await.expect("the npm installs ran") {
        Ok(dist) => dist,
        Err(reason) => panic!("{reason}"),
    };

    let (io, app) = chat::app(dist);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create target/artifacts");
    let screenshot = artifacts.join("chat-phone.png");
    let _ = std::fs::remove_file(&screenshot);

    let run = run_node("phone.js", &[url.as_ref(), screenshot.as_os_str()], NODE_LIMIT).await;

    let result = run.result();
    assert_eq!(result["viewport"]["width"], 390, "the page was a phone's width");
    for control in ["#channel-input", "#channel-form button", "#users", "#leave", "#message"] {
        let right = result["boxes"][control]["x"].as_f64().expect("a box")
            + result["boxes"][control]["width"].as_f64().expect("a box");
        assert!(right <= 390.0, "{control} ends at {right}, past the screen's edge");
    }
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000, "the screenshot is a PNG");

    let _ = timeout(Duration::from_secs(10), io.close()).await;
    server.abort();
}
