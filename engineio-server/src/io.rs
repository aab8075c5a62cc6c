//! The byte streams the server drives.

use tokio::io::{AsyncRead, AsyncWrite};

/// A connection the server can drive: a TCP stream, a TLS stream, an upgraded hyper connection.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxedIo = Box<dyn Io>;
