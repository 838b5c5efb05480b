//! Connection accounting: a client built per call pays a handshake per
//! call.
//!
//! Every new outbound connection and every outbound request is counted per
//! peer (`host:port`). With the `connections` feature, `ConnectionLayer`
//! counts connections and connect time for any tower connector
//! (`Service<http::Uri>`, such as hyper-util's `HttpConnector`), and
//! `OutboundRequestLayer` counts requests for any tower HTTP client.
//! Other clients can call [`record_connection`] and [`record_request`].
//!
//! A started doctor compares the two over its churn window: new
//! connections ÷ requests ≥ 0.5 with at least 20 requests is a
//! `connection_churn` finding. A shared client with keep-alive opens a
//! handful of connections for thousands of requests and stays silent.

#[cfg(feature = "connections")]
mod layer;
pub(crate) mod registry;

#[cfg(feature = "connections")]
#[cfg_attr(docsrs, doc(cfg(feature = "connections")))]
pub use layer::{
    ConnectFuture, ConnectionLayer, ConnectionService, OutboundRequestLayer, OutboundRequestService,
};
pub use registry::{record_connection, record_request};
