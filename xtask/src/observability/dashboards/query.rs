//! PromQL helpers and the metric names the panels share: every query
//! filters on the `job` and `instance` variables.

use serde_json::{json, Value};

/// The data source every panel and query uses: the `datasource` variable.
pub(super) fn ds() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// `metric{job=~"$job", instance=~"$instance", extra}`.
pub(super) fn sel(metric: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!("{metric}{{job=~\"$job\", instance=~\"$instance\"{extra}}}")
}

/// `rate(metric{...}[$__rate_interval])`.
pub(super) fn rate(metric: &str, extra: &str) -> String {
    format!("rate({}[$__rate_interval])", sel(metric, extra))
}

/// A quantile of a histogram, summed over instances by `le` (and `by`).
pub(super) fn quantile(q: &str, metric: &str, by: &str) -> String {
    let by = if by.is_empty() {
        "le".to_string()
    } else {
        format!("{by}, le")
    };
    format!(
        "histogram_quantile({q}, sum by ({by}) ({}))",
        rate(&format!("{metric}_bucket"), "")
    )
}

pub(super) const LAG: &str = "tokio_doctor_event_loop_lag_seconds";
pub(super) const FINDINGS: &str = "tokio_doctor_findings_total";
pub(super) const EVIDENCE: &str = "tokio_doctor_finding_evidence";
pub(super) const SITE_LEGEND: &str = "{{span}} {{location}}";
pub(super) const KIND_SITE_LEGEND: &str = "{{kind}} {{span}} {{location}}";
