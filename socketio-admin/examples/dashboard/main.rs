//! A Socket.IO server instrumented for the Admin UI, serving the dashboard itself.
//!
//! ```sh
//! # the dashboard's files, from the npm package
//! npm install --prefix /tmp/admin-ui @socket.io/admin-ui@0.5.1
//! cargo run -p socketio-admin --example dashboard -- /tmp/admin-ui/node_modules/@socket.io/admin-ui/ui/dist
//! # open http://127.0.0.1:3000/admin/, server URL http://127.0.0.1:3000, admin / changeit
//! ```
//!
//! Without a folder, the server allows the hosted dashboard (<https://admin.socket.io>) by
//! CORS instead: open it and give it the same URL and credentials. The namespace `/` echoes
//! `ping` as `pong`, so that clients give the dashboard something to show.

mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use socketio_admin::{instrument, AdminAuth, AdminOptions};
use socketio_server::engine::{Cors, CorsOrigin};
use socketio_server::{Config, Socket, SocketIo, Spread};
use tokio::net::TcpListener;
use tracing::{error, info};

/// The hosted dashboard's origin.
const HOSTED: &str = "https://admin.socket.io";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();
    match run(std::env::args_os().nth(1).map(PathBuf::from)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(dist: Option<PathBuf>) -> Result<(), String> {
    let mut config = Config::default();
    if dist.is_none() {
        let origin = CorsOrigin::List(vec![HOSTED.to_owned()]);
        config.engine.cors = Some(Cors { origin, credentials: true, ..Cors::default() });
    }
    let io = SocketIo::new(config);
    io.on_connection(|socket: Socket| async move {
        socket.on("ping", |socket, event| async move {
            let _ = socket.emit("pong", &Spread(event.values().unwrap_or_default()));
        });
    });
    let auth = AdminAuth::basic(ui::USERNAME, ui::PASSWORD_HASH);
    let admin = instrument(&io, AdminOptions::new(auth)).map_err(|e| e.to_string())?;
    let router = match &dist {
        Some(dist) => ui::routes(axum::Router::new(), dist.clone()),
        None => axum::Router::new(),
    };
    let app = router.layer(io.layer());
    let listener = TcpListener::bind("127.0.0.1:3000").await.map_err(|e| format!("cannot listen: {e}"))?;
    match dist {
        Some(_) => info!("the dashboard is on http://127.0.0.1:3000/admin/"),
        None => info!("open {} and connect it to http://127.0.0.1:3000", HOSTED),
    }
    info!(namespace = %admin.namespace().name(), username = ui::USERNAME, password = ui::PASSWORD, "dashboards log in");
    let shutdown = async move {
        let _ = socketio_server::shutdown_signal().await;
        io.close().await;
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| e.to_string())
}
