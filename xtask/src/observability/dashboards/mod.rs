//! The Grafana dashboards: Overview and Detectors.
//!
//! Every query filters on the `job` and `instance` variables and aggregates
//! (`sum by`, `max by`), so a dashboard reads the same over one instance or
//! a fleet; counters are read only through `rate()` over `$__rate_interval`.
//!
//! Split by what each file holds: `query` the PromQL helpers and names,
//! `panel` the panel model, the layout on Grafana's grid and the dashboard
//! frame, `overview` and `detectors` the two dashboards.

mod detectors;
mod overview;
mod panel;
mod query;

use serde_json::Value;

/// Every dashboard: (file name, JSON).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("tokio-doctor-overview.json", overview::overview()),
        ("tokio-doctor-detectors.json", detectors::detectors()),
    ]
}
