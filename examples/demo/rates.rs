//! `/rates` (with the `connections` feature): the currency rates of an
//! internal service, fetched with a new HTTP client per call (bad: a TCP
//! connection and handshake per request, `connection_churn`) or with one
//! client built at startup (fixed: kept-alive connections).
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower_layer::Layer;
use tower_service::Service;

type Http = tokio_doctor::connection::OutboundRequestService<
    Client<tokio_doctor::connection::ConnectionService<HttpConnector>, Empty<Bytes>>,
>;

fn new_client() -> Http {
    let connector = tokio_doctor::ConnectionLayer::new().layer(HttpConnector::new());
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    tokio_doctor::OutboundRequestLayer::new().layer(client)
}

/// The rates client of the shop.
pub struct Rates {
    shared: Option<Http>,
    url: String,
}

impl Rates {
    /// `fixed`: one client for every call.
    pub fn new(fixed: bool, service: SocketAddr) -> Rates {
        Rates {
            shared: fixed.then(new_client),
            url: format!("http://{service}/internal/rates"),
        }
    }

    /// One call to the rates service, bounded at 1 s.
    pub async fn get(&self) -> String {
        // Bad: a client (and so a connection pool) per call.
        let mut client = self.shared.clone().unwrap_or_else(new_client);
        let call = async {
            std::future::poll_fn(|cx| client.poll_ready(cx))
                .await
                .ok()?;
            let req = http::Request::get(&self.url).body(Empty::new()).ok()?;
            let resp = client.call(req).await.ok()?;
            let body = resp.into_body().collect().await.ok()?.to_bytes();
            Some(String::from_utf8_lossy(&body).into_owned())
        };
        tokio_doctor::deadline(Duration::from_secs(1), call)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "rates unavailable\n".into())
    }
}
