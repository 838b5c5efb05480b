//! Pre-bucketed histograms.
//!
//! The layer records one poll duration per poll, far too often to hand each
//! value to a metrics recorder. Instead each thread owns a fixed array of
//! bucket counters that only it writes (a load and a store, no locked
//! instruction), and the exporter sums the arrays at scrape time. The
//! result is a true Prometheus histogram with fixed `le` buckets.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of the poll-duration buckets. They bracket tokio's
/// 10–100 µs guidance, the default 10 ms blocking threshold, and the
/// hundreds of milliseconds that make a service visibly stall.
pub(crate) const POLL_BUCKETS: [f64; 10] = [
    0.000_01, 0.000_1, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// Upper bounds (seconds) of the event-loop lag buckets. tokio's timer has
/// millisecond resolution, so a healthy runtime sits in the first two
/// buckets; the alert threshold (50 ms) is a bucket edge so its p99 is exact.
pub(crate) const LAG_BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

const fn nanos<const N: usize>(bounds: [f64; N]) -> [u64; N] {
    let mut out = [0u64; N];
    let mut i = 0;
    while i < N {
        out[i] = (bounds[i] * 1e9) as u64;
        i += 1;
    }
    out
}

const POLL_BOUNDS_NS: [u64; 10] = nanos(POLL_BUCKETS);
const LAG_BOUNDS_NS: [u64; 12] = nanos(LAG_BUCKETS);

/// A histogram written by one thread only.
#[derive(Debug, Default)]
pub(crate) struct OwnedHistogram {
    counts: [AtomicU64; 11],
    sum_ns: AtomicU64,
}

#[inline(always)]
fn bump(a: &AtomicU64, by: u64) {
    // Single writer: a plain load and store, no lock prefix. Readers may see
    // a value one update old, never a torn one.
    a.store(a.load(Relaxed).wrapping_add(by), Relaxed);
}

impl OwnedHistogram {
    /// Records one poll. Must be called only by the owning thread.
    #[inline(always)]
    pub(crate) fn record_owned(&self, ns: u64) {
        let mut i = 0;
        while i < POLL_BOUNDS_NS.len() && ns > POLL_BOUNDS_NS[i] {
            i += 1;
        }
        bump(&self.counts[i], 1);
        bump(&self.sum_ns, ns);
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            sum_ns: self.sum_ns.load(Relaxed),
        }
    }
}

/// A histogram any thread may write (the lag probe's).
#[derive(Debug, Default)]
pub(crate) struct SharedHistogram {
    counts: [AtomicU64; 13],
    sum_ns: AtomicU64,
}

impl SharedHistogram {
    pub(crate) fn record(&self, ns: u64) {
        let mut i = 0;
        while i < LAG_BOUNDS_NS.len() && ns > LAG_BOUNDS_NS[i] {
            i += 1;
        }
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            sum_ns: self.sum_ns.load(Relaxed),
        }
    }
}

/// Non-cumulative bucket counts (the last one is `+Inf`) and the sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) counts: Vec<u64>,
    pub(crate) sum_ns: u64,
}

impl Snapshot {
    pub(crate) fn add(&mut self, other: &Snapshot) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.wrapping_add(*b);
        }
        self.sum_ns = self.sum_ns.wrapping_add(other.sum_ns);
    }

    /// What was recorded after `earlier` was taken, `earlier` being an
    /// older snapshot of the same histogram.
    pub(crate) fn since(&self, earlier: &Snapshot) -> Snapshot {
        let mut out = self.clone();
        for (a, b) in out.counts.iter_mut().zip(&earlier.counts) {
            *a = a.wrapping_sub(*b);
        }
        out.sum_ns = out.sum_ns.wrapping_sub(earlier.sum_ns);
        out
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Upper bound of the bucket holding quantile `q` (0..=1), in seconds.
    pub(crate) fn quantile_upper_bound(&self, bounds: &[f64], q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bounds.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_bucket_whose_bound_is_not_below_them() {
        let h = OwnedHistogram::default();
        h.record_owned(5_000); // 5 µs
        h.record_owned(10_000); // exactly 10 µs: le="1e-05"
        h.record_owned(20_000_000); // 20 ms
        h.record_owned(60_000_000_000); // 60 s: +Inf
        let s = h.snapshot();
        assert_eq!(s.counts[0], 2);
        assert_eq!(s.counts[5], 1);
        assert_eq!(s.counts[10], 1);
        assert_eq!(s.count(), 4);
        assert_eq!(s.quantile_upper_bound(&POLL_BUCKETS, 0.5), Some(0.000_01));
        assert_eq!(s.quantile_upper_bound(&POLL_BUCKETS, 0.75), Some(0.05));
    }
}
