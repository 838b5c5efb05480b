//! Fills the runtime rows from what tokio-metrics reported.

use std::sync::atomic::Ordering::Relaxed;

use super::Families;
use crate::export::table::MetricType;
use crate::state::histogram::{Snapshot, POLL_BUCKETS};
use crate::state::Shared;

pub(super) fn collect(fams: &mut Families, shared: &Shared) {
    let runtime = &shared.runtime;
    let mut cells = runtime.cells();
    cells.sort_by_key(|c| c.metric);
    for cell in cells {
        let def = &crate::export::METRICS[cell.metric];
        let f = fams.family(def.name);
        match def.kind {
            MetricType::Counter => {
                f.scalar(vec![], cell.counter.load(Relaxed) as f64 * cell.scale);
            }
            MetricType::Gauge => {
                f.scalar(
                    vec![],
                    f64::from_bits(cell.gauge_bits.load(Relaxed)) * cell.scale,
                );
            }
            MetricType::Histogram => {
                let snap = Snapshot {
                    counts: cell.buckets.iter().map(|b| b.load(Relaxed)).collect(),
                    sum_ns: cell.sum.load(Relaxed),
                };
                f.histogram(&POLL_BUCKETS, &snap);
            }
        }
    }
}
