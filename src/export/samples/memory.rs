//! Fills the memory rows (alloc feature).

use std::sync::atomic::Ordering::Relaxed;

use super::{Families, Series, Value};
use crate::state::histogram::Snapshot;
use crate::state::Shared;

pub(super) fn collect(fams: &mut Families, shared: &Shared) {
    let sites: Vec<_> = shared
        .sites
        .iter()
        .filter(|(_, s, _)| s.alloc.instances.load(Relaxed) > 0)
        .map(|(_, s, m)| (vec![m.span.clone(), m.location.clone()], &s.alloc))
        .collect();
    let f = fams.family("tokio_doctor_span_allocated_bytes_total");
    for (labels, a) in &sites {
        f.scalar(labels.clone(), a.allocated.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_span_allocations_total");
    for (labels, a) in &sites {
        f.scalar(labels.clone(), a.allocations.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_span_peak_bytes");
    for (labels, a) in &sites {
        // Snapshot's sum is in nanoseconds, for time histograms; this one
        // counts bytes, so its sum is set directly below.
        let snap = Snapshot {
            counts: a.peak_buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_ns: 0,
        };
        f.histogram_with(labels.clone(), &crate::alloc::PEAK_BUCKETS, &snap);
        if let Some(Series {
            value: Value::Histogram { sum, .. },
            ..
        }) = f.series.last_mut()
        {
            *sum = a.peak_sum.load(Relaxed) as f64;
        }
    }
}
