//! The short history of event-loop lag that the report page draws: one
//! point per sampler interval, a fixed number of points.

use std::collections::VecDeque;

use serde::Serialize;

use super::histogram::{Snapshot, LAG_BUCKETS};

/// Points of lag history kept, one per sampler interval: ten minutes at the
/// default 1 s, the "last minutes" an operator looks at on the report page
/// when asking "did it just start?". Each point is 40 bytes, so the history
/// is a fixed 24 KiB however long the service runs.
pub(crate) const LAG_HISTORY_POINTS: usize = 600;

/// The event-loop lag of one sampler interval (one second by default): a
/// point of the "last minutes" chart on the `/doctor` page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagPoint {
    /// Seconds since the doctor was built, at the end of the interval.
    pub uptime_seconds: f64,
    /// 99th percentile lag of the interval's probe samples, in seconds
    /// (upper bound of its bucket); `None` when the probe took no sample
    /// (a runtime blocked for the whole interval, or before it started).
    pub p99_seconds: Option<f64>,
    /// Largest lag of the interval, in seconds.
    pub max_seconds: f64,
    /// Probe samples taken in the interval.
    pub samples: u64,
}

/// A ring of per-interval lag figures, written by the sampler once per
/// interval and read by the report.
#[derive(Debug)]
pub(crate) struct LagHistory {
    points: VecDeque<LagPoint>,
    /// The probe's histogram at the previous interval, to take differences.
    last: Snapshot,
}

impl Default for LagHistory {
    fn default() -> Self {
        LagHistory {
            points: VecDeque::with_capacity(LAG_HISTORY_POINTS),
            last: Snapshot::default(),
        }
    }
}

impl LagHistory {
    /// Adds the interval that ends now: `total` is the probe's histogram
    /// since start, `max_ns` the largest lag of the interval.
    pub(crate) fn record(&mut self, uptime_seconds: f64, total: Snapshot, max_ns: u64) {
        let interval = total.since(&self.last);
        self.last = total;
        if self.points.len() == LAG_HISTORY_POINTS {
            self.points.pop_front();
        }
        self.points.push_back(LagPoint {
            uptime_seconds,
            p99_seconds: interval.quantile_upper_bound(&LAG_BUCKETS, 0.99),
            max_seconds: max_ns as f64 / 1e9,
            samples: interval.count(),
        });
    }

    /// The points, oldest first.
    pub(crate) fn points(&self) -> Vec<LagPoint> {
        self.points.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::histogram::SharedHistogram;

    #[test]
    fn the_history_keeps_per_interval_figures_and_a_bounded_number_of_points() {
        let probe = SharedHistogram::default();
        let mut history = LagHistory::default();
        for _ in 0..100 {
            probe.record(1_000_000); // 1 ms
        }
        history.record(1.0, probe.snapshot(), 1_000_000);
        for _ in 0..100 {
            probe.record(80_000_000); // 80 ms: a blocked executor
        }
        history.record(2.0, probe.snapshot(), 80_000_000);
        let points = history.points();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].p99_seconds, Some(0.001));
        // The second interval is judged on its own samples only.
        assert_eq!(points[1].p99_seconds, Some(0.1));
        assert_eq!((points[1].samples, points[1].max_seconds), (100, 0.08));

        for i in 0..LAG_HISTORY_POINTS + 10 {
            history.record(3.0 + i as f64, probe.snapshot(), 0);
        }
        let points = history.points();
        assert_eq!(points.len(), LAG_HISTORY_POINTS);
        assert_eq!(points.last().unwrap().samples, 0);
        assert_eq!(points.last().unwrap().p99_seconds, None);
        assert!(
            points[0].uptime_seconds > 2.0,
            "the oldest points were dropped"
        );
    }
}
