//! Per-route executor health: task monitors by route, in tokio-metrics'
//! model.
//!
//! The layer sees spans; operators think in routes and jobs. With the
//! `middleware` feature, [`TaskMonitorLayer`](crate::TaskMonitorLayer) wraps
//! each request's future in a task monitor chosen by route
//! (axum's matched path template with the `axum` feature, or a name you
//! give; never the raw URI). [`Doctor::monitor_job`](crate::Doctor::monitor_job)
//! does the same for named background tasks. Both export
//! `tokio_doctor_route_*{route}` metrics, and a route whose polls are often
//! slower than the blocking threshold becomes a `blocking_poll` finding with
//! the route as its call site, so a service without spans still gets a
//! diagnosis.

pub(crate) mod future;
#[cfg(feature = "middleware")]
pub(crate) mod layer;
mod wake;

/// The route label of requests a namer could not place.
pub const UNMATCHED: &str = "unmatched";
pub use crate::state::routes::OTHER;
