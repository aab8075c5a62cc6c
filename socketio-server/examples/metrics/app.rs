//! The server of the `metrics` example, shared with `tests/metrics.rs`: a Socket.IO chat
//! mounted in an axum router that also answers `GET /metrics` with every metric of the
//! process in the Prometheus text format.

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use socketio_server::{Config, SocketIo};

/// Installs the process's metrics recorder, a Prometheus one. It must come before the server
/// takes its first connection (the server registers its handles on first use), and there is one
/// per process: a second call fails.
pub(crate) fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new().install_recorder()
}

/// The Socket.IO server: every `chat` message goes to every other client of `/`, and the
/// sender's ack gets `"ok"`.
pub(crate) fn socketio() -> SocketIo {
    let io = SocketIo::new(Config::default());
    io.on_connection(|socket| async move {
        socket.on("chat", |socket, event| async move {
            let text: String = event.arg().unwrap_or_default();
            let _ = socket.broadcast().emit("chat", &text);
            let _ = event.reply(&"ok");
        });
    });
    io
}

/// The HTTP application: `GET /metrics` renders `metrics`, and the Socket.IO layer serves
/// `/socket.io/`.
pub(crate) fn router(io: &SocketIo, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    // Histograms are folded into their summaries on upkeep: do it before reading.
                    metrics.run_upkeep();
                    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render())
                }
            }),
        )
        .layer(io.layer())
}
