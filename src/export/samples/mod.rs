//! Reads the doctor's state into metric families, ready to render as text
//! or to push into a metrics-rs recorder. Runs at scrape time, off the hot
//! path.

use crate::detect::Windows;
use crate::export::table::{metric, MetricDef};
use crate::finding::Finding;
use crate::state::histogram::Snapshot;
use crate::state::{Shared, Stall};

mod calls_and_holds;
mod concurrency;
mod connections;
mod executor;
#[cfg(feature = "alloc")]
mod memory;
mod queues;
mod routes;
mod runtime;

/// A sample value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Scalar(f64),
    /// Non-cumulative counts per bucket (last is +Inf) and the sum.
    Histogram {
        bounds: &'static [f64],
        counts: Vec<u64>,
        sum: f64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Label values, in the order of the family's label names.
    pub(crate) labels: Vec<String>,
    pub(crate) value: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) def: &'static MetricDef,
    pub(crate) series: Vec<Series>,
}

struct Families(Vec<Family>);

impl Families {
    fn family(&mut self, name: &str) -> &mut Family {
        let def =
            metric(name).unwrap_or_else(|| panic!("{name} is missing from the metrics table"));
        self.0.push(Family {
            def,
            series: Vec::new(),
        });
        self.0.last_mut().expect("just pushed")
    }
}

impl Family {
    fn scalar(&mut self, labels: Vec<String>, v: f64) -> &mut Self {
        debug_assert_eq!(labels.len(), self.def.labels.len(), "{}", self.def.name);
        self.series.push(Series {
            labels,
            value: Value::Scalar(v),
        });
        self
    }
    fn histogram(&mut self, bounds: &'static [f64], snap: &Snapshot) {
        self.histogram_with(Vec::new(), bounds, snap);
    }
    fn histogram_with(&mut self, labels: Vec<String>, bounds: &'static [f64], snap: &Snapshot) {
        let mut counts = snap.counts.clone();
        counts.resize(bounds.len() + 1, 0);
        self.series.push(Series {
            labels,
            value: Value::Histogram {
                bounds,
                counts,
                sum: snap.sum_ns as f64 / 1e9,
            },
        });
    }
}

/// Collects every family the doctor exports, in table order.
pub(crate) fn collect(
    shared: &Shared,
    windows: &Windows,
    findings: &[Finding],
    stalls: &[Stall],
) -> Vec<Family> {
    let mut fams = Families(Vec::new());
    executor::collect(&mut fams, shared, findings, stalls);
    #[cfg(feature = "alloc")]
    memory::collect(&mut fams, shared);
    routes::collect(&mut fams, shared);
    calls_and_holds::collect(&mut fams, shared, windows);
    queues::collect(&mut fams, windows);
    connections::collect(&mut fams);
    concurrency::collect(&mut fams, shared, windows);
    runtime::collect(&mut fams, shared);
    fams.0
}
