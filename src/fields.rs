//! The span fields a service writes for the doctor, and the OpenTelemetry
//! fields it reads. Only field *names* and a few values (a deadline, the
//! `otel.kind`, whether a chain is intended) are read; values never become
//! labels.
//!
//! # Examples
//! ```
//! use tokio_doctor::fields;
//! // A chain of awaits that really depend on each other:
//! let span = tracing::info_span!("migrate", doctor.sequential = "intended");
//! assert_eq!(fields::SEQUENTIAL_FIELD, "doctor.sequential");
//! // A span the doctor treats as a held resource, and one with a deadline:
//! let tx = tracing::info_span!("tx", doctor.resource = "orders.tx");
//! let call = tracing::info_span!("fetch", timeout_ms = 250);
//! # drop((span, tx, call));
//! ```

/// Span field that marks a chain of sequential children as intended, so
/// `serial_awaits` leaves it alone: `doctor.sequential = "intended"`.
pub const SEQUENTIAL_FIELD: &str = "doctor.sequential";
/// Span field that declares a span a held resource scope (its value is the
/// resource name): `doctor.resource = "orders.tx"`.
pub const RESOURCE_FIELD: &str = "doctor.resource";
/// Span fields whose value is a deadline in milliseconds, or a duration
/// string such as `"250ms"`, for the span and everything inside it.
pub const DEADLINE_FIELDS: &[&str] = &["timeout", "timeout_ms", "deadline", "deadline_ms"];
/// OpenTelemetry fields that make a span an outbound (client) call, beside
/// `otel.kind = "client"`.
pub const OUTBOUND_FIELDS: &[&str] = &[
    "http.request.method",
    "url.full",
    "server.address",
    "db.system",
    "db.system.name",
    "rpc.system",
    "peer.service",
];
