//! Rows of outbound connections and requests per peer; filled by `samples::connections`.

use super::MetricType::Counter;
use super::{doctor, MetricDef};

/// The rows of this area, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_connections_opened_total",
        Counter,
        &["peer"],
        "New outbound connections per peer (host:port), counted by ConnectionLayer or \
         record_connection. Compare its rate with the request rate.",
    ),
    doctor(
        "tokio_doctor_outbound_requests_total",
        Counter,
        &["peer"],
        "Outbound requests per peer (host:port), counted by OutboundRequestLayer or \
         record_request.",
    ),
    doctor(
        "tokio_doctor_connect_seconds_total",
        Counter,
        &["peer"],
        "Seconds spent establishing outbound connections (TCP and TLS handshakes) per peer.",
    ),
];
