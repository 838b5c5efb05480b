//! Export: the metrics table, Prometheus text, the global-recorder bridge,
//! the `/doctor` report and the HTTP endpoint that serves them.

pub(crate) mod http;
mod page;
pub(crate) mod push;
pub(crate) mod report;
pub(crate) mod samples;
pub(crate) mod snapshot;
mod table;
pub(crate) mod text;

pub use report::{LagPoint, LagSummary, Report, Trend, TrendPoint};
pub(crate) use table::runtime_metric;
pub use table::{metric, MetricDef, MetricType, Source, METRICS};

use crate::detect::Detectors;
use crate::state::Shared;

pub(crate) fn render_prometheus(shared: &Shared, detectors: &Detectors) -> String {
    snapshot::Snapshot::take(shared, detectors).prometheus_text()
}

pub(crate) fn push_to_global_recorder(shared: &Shared, detectors: &Detectors) {
    push::push(&snapshot::Snapshot::take(shared, detectors).families);
}

pub(crate) fn report(shared: &Shared, detectors: &Detectors) -> Report {
    snapshot::Snapshot::take(shared, detectors).report
}
