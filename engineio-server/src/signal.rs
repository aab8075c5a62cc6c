//! Waiting for the operating system to ask the process to stop.

/// Resolves when the process is asked to stop: `SIGINT` (Ctrl-C) or `SIGTERM` (what `kill`,
/// systemd and container runtimes send) on Unix, Ctrl-C elsewhere. The answer names the
/// signal, for the log line that says why the server is closing.
///
/// Both signals are caught from the first call on, so a server that awaits this and then calls
/// [`EngineIo::close`](crate::EngineIo::close) (or `SocketIo::close`) tells its clients and
/// exits normally instead of being killed mid-write.
///
/// ```no_run
/// # async fn run(server: engineio_server::EngineIo<impl engineio_server::Handler>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let serving = tokio::spawn(server.clone().serve(listener));
/// let signal = engineio_server::shutdown_signal().await?;
/// tracing::info!(signal, "shutting down");
/// server.close().await;
/// let _ = serving.await;
/// # Ok(())
/// # }
/// ```
pub async fn shutdown_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = interrupt.recv() => Ok("SIGINT"),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}
