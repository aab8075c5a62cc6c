//! A TCP connection whose writes can be held back, so that the `101 Switching Protocols` that
//! opens a new WebSocket session leaves in the same write as the session's open packet: one
//! system call, and one wake-up of the client, fewer per connect.
//!
//! [`EngineIo::serve`](crate::EngineIo::serve) wraps every accepted connection in a
//! [`HoldingStream`] and hands each request a [`HoldWrites`] switch; the handshake of a new
//! WebSocket session turns it on just before answering. Hyper then "writes" the `101` into the
//! stream's buffer, the upgrade unwraps the stream, and the session's first frames are written
//! after the held bytes (see `WsConn::write_first`). Nothing else ever turns the switch on, so
//! every other answer is written as hyper writes it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The switch of one connection's [`HoldingStream`], handed with each of its requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct HoldWrites(Arc<AtomicBool>);

impl HoldWrites {
    /// From now on, what is written to the connection is kept until the stream is unwrapped.
    pub(crate) fn hold(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_held(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A TCP stream that keeps its writes while its [`HoldWrites`] is on.
#[derive(Debug)]
pub(crate) struct HoldingStream {
    stream: TcpStream,
    hold: HoldWrites,
    held: Vec<u8>,
}

impl HoldingStream {
    pub(crate) fn new(stream: TcpStream) -> Self {
        HoldingStream { stream, hold: HoldWrites::default(), held: Vec::new() }
    }

    /// The switch the requests of this connection get.
    pub(crate) fn switch(&self) -> HoldWrites {
        self.hold.clone()
    }

    /// The stream, and the bytes written to it but not sent yet.
    pub(crate) fn into_parts(self) -> (TcpStream, Bytes) {
        (self.stream, Bytes::from(self.held))
    }

    /// Sends what was held (the connection is being shut down without being unwrapped).
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for HoldingStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for HoldingStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.hold.is_held() {
            this.held.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.hold.is_held() {
            let before = this.held.len();
            for buf in bufs {
                this.held.extend_from_slice(buf);
            }
            return Poll::Ready(Ok(this.held.len() - before));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.hold.is_held() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_release(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (HoldingStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("address")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (HoldingStream::new(server), client)
    }

    #[tokio::test]
    async fn writes_pass_through_until_held_then_are_kept() {
        let (mut server, mut client) = pair().await;
        server.write_all(b"first").await.expect("write");
        server.flush().await.expect("flush");
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"first");

        server.switch().hold();
        server.write_all(b"HTTP/1.1 101 ").await.expect("write");
        let slices = [IoSlice::new(b"Switching"), IoSlice::new(b" Protocols")];
        assert_eq!(server.write_vectored(&slices).await.expect("write"), 19);
        server.flush().await.expect("flush");
        let (mut stream, held) = server.into_parts();
        assert_eq!(&held[..], b"HTTP/1.1 101 Switching Protocols");
        stream.write_all(b"!").await.expect("write");
        let mut buf = [0u8; 1];
        client.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"!", "nothing held was sent");
    }

    #[tokio::test]
    async fn a_shutdown_sends_what_was_held() {
        let (mut server, mut client) = pair().await;
        server.switch().hold();
        server.write_all(b"held").await.expect("write");
        server.shutdown().await.expect("shutdown");
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, b"held");
    }
}
