//! tower integration: [`EngineIoLayer`] mounts the server in front of another service (an axum
//! router, a hyper service), which keeps every request outside the server's path; and
//! [`EngineIo`] itself is a `Service` that answers 404 outside its path. Both read the client's
//! address from the request's extensions, see [`remote_addr`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::server::{BoxFuture, EngineIo, Handler, ResponseBody};

/// The peer address of a request served through [`EngineIoLayer`] or the [`EngineIo`]
/// `Service`, from the request's extensions, read in this order:
///
/// 1. `axum::extract::ConnectInfo<SocketAddr>` (with the crate's `axum` feature), which axum
///    adds when the application is served with
///    `into_make_service_with_connect_info::<SocketAddr>()`;
/// 2. a `std::net::SocketAddr`, which a hyper accept loop adds itself
///    (`req.extensions_mut().insert(remote)` in its `service_fn`).
///
/// `None` when neither is there. With [`trust_proxy`](crate::Config::trust_proxy), the address
/// a trusted proxy forwarded replaces it in [`Handshake::address`](crate::Handshake::address).
pub fn remote_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(remote)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*remote);
    }
    extensions.get::<SocketAddr>().copied()
}

impl<H, B> Service<Request<B>> for EngineIo<H>
where
    H: Handler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.clone();
        Box::pin(async move {
            if engine.matches(req.uri().path()) {
                let remote = remote_addr(req.extensions());
                Ok(engine.handle(req, remote).await)
            } else {
                Ok(crate::http_util::to_http(engineio_parser::http::HttpResponse::not_found()))
            }
        })
    }
}

/// A tower `Layer` that serves Engine.IO under the server's path and passes every other request
/// to the wrapped service.
pub struct EngineIoLayer<H: Handler> {
    engine: EngineIo<H>,
}

impl<H: Handler> EngineIoLayer<H> {
    /// A layer for `engine`.
    pub fn new(engine: EngineIo<H>) -> Self {
        EngineIoLayer { engine }
    }
}

impl<H: Handler> Clone for EngineIoLayer<H> {
    fn clone(&self) -> Self {
        EngineIoLayer { engine: self.engine.clone() }
    }
}

impl<H: Handler, S> Layer<S> for EngineIoLayer<H> {
    type Service = EngineIoService<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineIoService { engine: self.engine.clone(), inner }
    }
}

/// The service [`EngineIoLayer`] makes: Engine.IO under its path, `S` for the rest.
pub struct EngineIoService<H: Handler, S> {
    engine: EngineIo<H>,
    inner: S,
}

impl<H: Handler, S: Clone> Clone for EngineIoService<H, S> {
    fn clone(&self) -> Self {
        EngineIoService { engine: self.engine.clone(), inner: self.inner.clone() }
    }
}

impl<H, S, B, ResBody> Service<Request<B>> for EngineIoService<H, S>
where
    H: Handler,
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Either<ResponseBody, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.engine.matches(req.uri().path()) {
            let engine = self.engine.clone();
            Box::pin(async move {
                let remote = remote_addr(req.extensions());
                Ok(engine.handle(req, remote).await.map(Either::Left))
            })
        } else {
            let future = self.inner.call(req);
            Box::pin(async move { future.await.map(|response| response.map(Either::Right)) })
        }
    }
}
