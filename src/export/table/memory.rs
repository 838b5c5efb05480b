//! Rows of heap bytes per span (alloc feature); filled by `samples::memory`.

use super::MetricType::{Counter, Histogram};
use super::{MetricDef, Source, SITE};

/// The rows of this area, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    MetricDef {
        name: "tokio_doctor_span_allocated_bytes_total",
        kind: Counter,
        labels: SITE,
        help: "Heap bytes allocated inside closed span instances, by call site (alloc feature).",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
    MetricDef {
        name: "tokio_doctor_span_allocations_total",
        kind: Counter,
        labels: SITE,
        help: "Heap allocations inside closed span instances, by call site (alloc feature).",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
    MetricDef {
        name: "tokio_doctor_span_peak_bytes",
        kind: Histogram,
        labels: SITE,
        help: "Peak live heap bytes of each closed span instance, by call site (alloc feature). \
               Mass above 64 MiB is a result materialized instead of streamed.",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
];
