//! tower layers that count connections (for connectors) and requests (for
//! HTTP clients) per peer.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;

use super::registry::{connection_at, peer_of, request_at};

/// A tower [`Layer`] for connectors (`Service<http::Uri>`): counts every
/// new connection and its connect time per peer
/// (`tokio_doctor_connections_opened_total{peer}`).
///
/// Works with any `Service<http::Uri>` connector, such as hyper-util's
/// `HttpConnector` (and `hyper-rustls`/`hyper-tls` wrappers around it).
/// reqwest's `connector_layer` hands its layers a reqwest-specific request
/// type rather than an `http::Uri`, so for reqwest count with
/// [`record_connection`](crate::connection::record_connection) instead.
/// Requires the `connections` feature.
///
/// # Examples
/// ```
/// use hyper_util::client::legacy::{connect::HttpConnector, Client};
/// use hyper_util::rt::TokioExecutor;
/// use tower_layer::Layer;
///
/// let connector = tokio_doctor::ConnectionLayer::new().layer(HttpConnector::new());
/// let client = Client::builder(TokioExecutor::new())
///     .build::<_, http_body_util::Empty<bytes::Bytes>>(connector);
/// // Count requests too, for the churn ratio:
/// let client = tokio_doctor::OutboundRequestLayer::new().layer(client);
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLayer {
    location: &'static Location<'static>,
}

impl ConnectionLayer {
    /// A layer whose findings name the caller's `file:line` as the place
    /// the client is built.
    #[track_caller]
    pub fn new() -> Self {
        ConnectionLayer {
            location: Location::caller(),
        }
    }
}

impl Default for ConnectionLayer {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ConnectionLayer {
    type Service = ConnectionService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConnectionService {
            inner,
            location: self.location,
        }
    }
}

/// The connector service [`ConnectionLayer`] produces.
#[derive(Debug, Clone)]
pub struct ConnectionService<S> {
    inner: S,
    location: &'static Location<'static>,
}

impl<S> Service<http::Uri> for ConnectionService<S>
where
    S: Service<http::Uri>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ConnectFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let peer = peer_of(uri.scheme_str(), uri.host(), uri.port_u16());
        ConnectFuture {
            inner: self.inner.call(uri),
            peer,
            started: Instant::now(),
            location: self.location,
        }
    }
}

/// The future of one connection attempt; counts it when it succeeds.
#[derive(Debug)]
pub struct ConnectFuture<F> {
    inner: F,
    peer: String,
    started: Instant,
    location: &'static Location<'static>,
}

impl<F, T, E> Future for ConnectFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `self` and no other field is pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let out = inner.poll(cx);
        if let Poll::Ready(Ok(_)) = &out {
            connection_at(&this.peer, this.started.elapsed(), this.location);
        }
        out
    }
}

/// A tower [`Layer`] for HTTP clients (`Service<http::Request<B>>`, such as
/// hyper-util's legacy `Client`): counts requests per peer
/// (`tokio_doctor_outbound_requests_total{peer}`), the denominator of the
/// churn ratio. Requires the `connections` feature.
///
/// See [`ConnectionLayer`] for an example with hyper-util's client.
#[derive(Debug, Clone, Copy)]
pub struct OutboundRequestLayer {
    location: &'static Location<'static>,
}

impl OutboundRequestLayer {
    /// A layer whose findings name the caller's `file:line`.
    #[track_caller]
    pub fn new() -> Self {
        OutboundRequestLayer {
            location: Location::caller(),
        }
    }
}

impl Default for OutboundRequestLayer {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for OutboundRequestLayer {
    type Service = OutboundRequestService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OutboundRequestService {
            inner,
            location: self.location,
        }
    }
}

/// The client service [`OutboundRequestLayer`] produces.
#[derive(Debug, Clone)]
pub struct OutboundRequestService<S> {
    inner: S,
    location: &'static Location<'static>,
}

impl<S, B> Service<http::Request<B>> for OutboundRequestService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let uri = req.uri();
        request_at(
            &peer_of(uri.scheme_str(), uri.host(), uri.port_u16()),
            self.location,
        );
        self.inner.call(req)
    }
}
