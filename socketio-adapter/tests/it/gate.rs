//! A TCP relay on 127.0.0.1 in front of a server (Redis, PostgreSQL) that can refuse new
//! connections: the outage tests keep one node away from the server after a restart until
//! the others are back, so that the order in which nodes reconnect is the test's choice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The relay. While closed it accepts new connections and closes them at once; connections it
/// relays end when the server ends them.
pub(crate) struct Gate {
    /// The port clients connect to instead of the server's.
    pub(crate) port: u16,
    open: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Gate {
    /// A relay to the server on `upstream`, open.
    pub(crate) async fn start(upstream: u16) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay on 127.0.0.1");
        let port = listener.local_addr().expect("the relay's address").port();
        let open = Arc::new(AtomicBool::new(true));
        let is_open = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Gate { port, open, task }
    }

    /// Opens or closes the relay to new connections.
    pub(crate) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}
