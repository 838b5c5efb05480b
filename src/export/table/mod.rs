//! The one table of every metric tokio-doctor exports.
//!
//! Names, types, labels and help texts live here and nowhere else: the
//! renderer refuses (in debug builds) to write a family that is not in
//! [`METRICS`], and a test checks that docs/metrics.md (made by `cargo run -p xtask -- metrics-doc`) lists exactly
//! these names. All names start `tokio_doctor_`, use base units (seconds,
//! bytes) and counters end in `_total`.

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Monotonic; read it with `rate()` or `increase()`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Buckets (`_bucket{le}`), `_sum` and `_count`; read it with
    /// `histogram_quantile()` over `rate()`.
    Histogram,
}

impl MetricType {
    /// The word used on the `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Where a metric comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Measured by tokio-doctor itself; always present.
    Doctor,
    /// A tokio runtime metric read through tokio-metrics; always present.
    Runtime,
    /// A tokio runtime metric that needs `--cfg tokio_unstable`.
    RuntimeUnstable,
    /// Memory attribution: needs the `alloc` feature.
    Alloc,
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Full name, e.g. `tokio_doctor_blocking_poll_seconds_total`.
    pub name: &'static str,
    /// Prometheus type.
    pub kind: MetricType,
    /// Label names. Values come only from static call-site metadata.
    pub labels: &'static [&'static str],
    /// Help text: what it counts and what to do when it rises.
    pub help: &'static str,
    /// Where it comes from.
    pub source: Source,
    /// For runtime metrics: the tokio-metrics field it is read from.
    pub tokio_metrics_field: Option<&'static str>,
}

const SITE: &[&str] = &["span", "location"];
/// A held resource: its name and the `file:line` that acquired it.
const HELD: &[&str] = &["resource", "location"];
/// A held resource and the span that did slow work inside it.
const HELD_INNER: &[&str] = &["resource", "location", "inner_span", "inner_location"];
/// A joining span and its slowest outbound child.
const JOIN: &[&str] = &["span", "location", "child_span", "child_location"];

const fn doctor(
    name: &'static str,
    kind: MetricType,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels,
        help,
        source: Source::Doctor,
        tokio_metrics_field: None,
    }
}

const fn rt(
    field: &'static str,
    name: &'static str,
    kind: MetricType,
    unstable: bool,
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels: &[],
        help,
        source: if unstable {
            Source::RuntimeUnstable
        } else {
            Source::Runtime
        },
        tokio_metrics_field: Some(field),
    }
}

mod calls_and_holds;
mod concurrency;
mod connections;
mod executor;
mod memory;
mod queues;
mod routes;
mod runtime;

use MetricType::Gauge;

/// Every metric family, in the order they are rendered.
///
/// # Examples
/// ```
/// let m = tokio_doctor::export::metric("tokio_doctor_findings_total").unwrap();
/// assert_eq!(m.labels, &["kind", "span", "location"]);
/// ```
pub const METRICS: &[MetricDef] = &ALL;

/// The areas, in render order; each fills its rows in the file of the
/// same name under `samples/`.
const AREAS: &[&[MetricDef]] = &[
    executor::ROWS,
    queues::ROWS,
    connections::ROWS,
    concurrency::ROWS,
    routes::ROWS,
    memory::ROWS,
    calls_and_holds::ROWS,
    runtime::ROWS,
];

const ALL: [MetricDef; total(AREAS)] = concat(AREAS);

const fn total(parts: &[&[MetricDef]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

/// The parts of the table, one after another, checked at compile time to
/// fill the array exactly.
const fn concat<const N: usize>(parts: &[&[MetricDef]]) -> [MetricDef; N] {
    let mut out = [doctor("", Gauge, &[], ""); N];
    let mut k = 0;
    let mut i = 0;
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "the parts fill the table exactly");
    out
}

/// Looks a metric up by name.
///
/// # Examples
/// ```
/// assert!(tokio_doctor::export::metric("tokio_doctor_event_loop_lag_seconds").is_some());
/// assert!(tokio_doctor::export::metric("nope").is_none());
/// ```
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// The runtime metric read from a tokio-metrics field, if exported: its
/// index in [`METRICS`] and the factor from tokio-metrics' microseconds to
/// seconds (1 for counts).
pub(crate) fn runtime_metric(field: &str) -> Option<(usize, f64)> {
    let i = METRICS
        .iter()
        .position(|m| m.tokio_metrics_field == Some(field))?;
    let scale = if METRICS[i].name.contains("seconds") {
        1e-6
    } else {
        1.0
    };
    Some((i, scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("tokio_doctor_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == MetricType::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            for unit in ["milli", "micro", "nano", "percent", "kilo", "mega"] {
                assert!(!m.name.contains(unit), "{} is not in base units", m.name);
            }
            assert!(!m.help.is_empty() && !m.help.contains('\n'), "{}", m.name);
            for l in m.labels {
                assert!(!l.starts_with("__") && *l != "le", "{} label {l}", m.name);
            }
        }
    }
}
