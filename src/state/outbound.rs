//! Outbound calls, per call site: what `missing_deadline`,
//! `deadline_overrun`, the hung-call gauge and the concurrency advice read.
//!
//! Kept per site, allocated the first time a site makes an outbound call:
//! counters are atomics, the calls in flight are in lock-free slots (see
//! [`in_flight`](super::in_flight)), touched when such a span opens and
//! closes.

use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::in_flight::{InFlight, OpenCall, Ticket};

/// Upper bounds (seconds) of the outbound latency buckets: from a LAN round
/// trip to the 30 s hangs of scenario 12, so a p99 past any sane timeout is
/// still read from a bucket edge.
pub(crate) const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A latency histogram any thread may write.
#[derive(Debug, Default)]
pub(crate) struct LatencyHistogram {
    counts: [AtomicU64; 15],
    sum_ns: AtomicU64,
}

impl LatencyHistogram {
    pub(crate) fn record(&self, ns: u64) {
        let s = ns as f64 / 1e9;
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Non-cumulative counts (the last is `+Inf`) and the sum in ns.
    pub(crate) fn snapshot(&self) -> (Vec<u64>, u64) {
        (
            self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            self.sum_ns.load(Relaxed),
        )
    }
}

/// The `q` quantile (0..1) of non-cumulative bucket counts, as the upper
/// edge of the bucket it falls in (what Prometheus' histogram_quantile
/// would interpolate towards); `None` without observations. A quantile in
/// the `+Inf` bucket reads as the last finite edge.
pub(crate) fn quantile(counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(*LATENCY_BUCKETS.get(i).unwrap_or(&LATENCY_BUCKETS[13]));
        }
    }
    Some(LATENCY_BUCKETS[13])
}

/// Outbound calls of one site.
#[derive(Debug, Default)]
pub(crate) struct OutboundStats {
    /// Calls completed.
    pub(crate) calls: AtomicU64,
    /// Sum of completed calls' durations (ns): with `calls`, Little's W; over
    /// a window, the time-weighted mean in flight L.
    pub(crate) duration_ns: AtomicU64,
    /// Completed calls that had no deadline in scope.
    pub(crate) no_deadline_calls: AtomicU64,
    /// Latency of the calls without a deadline.
    pub(crate) no_deadline_latency: LatencyHistogram,
    /// Calls (any span with a deadline, not only outbound ones) that
    /// outlived the deadline in scope, and by how much in total.
    pub(crate) overruns: AtomicU64,
    pub(crate) overrun_ns: AtomicU64,
    pub(crate) worst_overrun_ns: AtomicU64,
    /// Calls in flight, with their opening time and deadline budget.
    open: InFlight,
}

/// Hashes span ids: unique small integers this crate chose to store, so
/// nothing an attacker picks; a multiply spreads them over the table.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        let h = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Outbound calls of one site that are open now and in trouble.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct OpenCalls {
    pub(crate) in_flight: usize,
    /// Open past the hang limit, with no deadline in scope.
    pub(crate) hung_without_deadline: usize,
    /// Open past the hang limit, with a deadline in scope.
    pub(crate) hung_with_deadline: usize,
    /// Open past their deadline (plus the grace) already.
    pub(crate) overrunning: usize,
    /// Age of the oldest open call, in ns.
    pub(crate) oldest_ns: u64,
}

impl OutboundStats {
    /// Call (span) `id` opened at clock ticks `at` with `deadline_ns` of
    /// budget (`u64::MAX`: none); its close hands back the ticket.
    #[inline]
    pub(crate) fn opened(&self, id: u64, at: u64, deadline_ns: u64) -> Ticket {
        self.open.opened(id, at, deadline_ns)
    }

    #[inline]
    pub(crate) fn closed(&self, ticket: Ticket, id: u64) {
        self.open.closed(ticket, id);
    }

    /// Calls in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.open.count()
    }

    /// What the calls open now say, at clock ticks `now`.
    pub(crate) fn open_calls(
        &self,
        clock: &quanta::Clock,
        now: u64,
        hang_limit_ns: u64,
        grace_ns: u64,
    ) -> OpenCalls {
        let mut out = OpenCalls::default();
        self.open.for_each(|OpenCall { at, deadline_ns }| {
            out.in_flight += 1;
            let age = clock.delta_as_nanos(at, now);
            out.oldest_ns = out.oldest_ns.max(age);
            if age >= hang_limit_ns {
                if deadline_ns == u64::MAX {
                    out.hung_without_deadline += 1;
                } else {
                    out.hung_with_deadline += 1;
                }
            }
            if deadline_ns != u64::MAX && age > deadline_ns.saturating_add(grace_ns) {
                out.overrunning += 1;
            }
        });
        out
    }
}

/// Every site with outbound calls (or deadline overruns), with what its
/// calls open now say, read at one instant under the configured limits.
pub(crate) fn sites_with_calls(
    shared: &crate::state::Shared,
) -> Vec<(&crate::state::sites::SiteMeta, &OutboundStats, OpenCalls)> {
    let hang_ns = shared.ns.hang_limit;
    let grace_ns = shared.ns.deadline_grace;
    let now = shared.clock.raw();
    shared
        .sites
        .iter()
        .filter_map(|(_, site, meta)| {
            let o = site.outbound.get()?;
            Some((
                meta,
                &**o,
                o.open_calls(&shared.clock, now, hang_ns, grace_ns),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_read_from_bucket_edges() {
        let h = LatencyHistogram::default();
        for _ in 0..98 {
            h.record(50_000_000);
        }
        h.record(30_000_000_000);
        h.record(30_000_000_000);
        let (counts, _) = h.snapshot();
        assert_eq!(quantile(&counts, 0.5), Some(0.05));
        assert_eq!(quantile(&counts, 0.99), Some(30.0));
        assert_eq!(quantile(&[0; 15], 0.99), None);
    }
}
