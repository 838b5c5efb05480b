//! What a route's request futures record: tokio-metrics' task monitor
//! model (requests, polls fast and slow, scheduling delay, idle time,
//! first-poll delay), counted the way the layer counts, off the clock the
//! route future already reads and into striped counters.
//!
//! tokio-metrics' `Instrumented` read `Instant::now` four times per
//! request (the route future reads the doctor's TSC clock around each poll
//! anyway), allocated the state of its waker for every request, and made a
//! dozen sequentially consistent read-modify-writes on one cache line per
//! route, which every worker serving that route contends for. Here a
//! thread writes the stripe it was given (one of [`STRIPES`], round robin),
//! so workers of a busy route seldom share a line, and a scrape sums the
//! stripes.

use std::cell::Cell;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Stripes per route: past this many threads, threads share them.
pub(crate) const STRIPES: usize = 8;

/// One thread's (or a few threads') share of a route's counters.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    instrumented: AtomicU64,
    dropped: AtomicU64,
    first_polls: AtomicU64,
    first_poll_delay_ns: AtomicU64,
    fast_polls: AtomicU64,
    fast_poll_ns: AtomicU64,
    slow_polls: AtomicU64,
    slow_poll_ns: AtomicU64,
    scheduled: AtomicU64,
    scheduled_ns: AtomicU64,
    idled: AtomicU64,
    idle_ns: AtomicU64,
}

/// The counters of one route, striped by thread.
#[derive(Debug, Default)]
pub(crate) struct RouteStats {
    stripes: [Stripe; STRIPES],
}

thread_local! {
    /// This thread's stripe, given out round robin on first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// This thread's stripe index (also where its outbound calls start
/// looking for a free slot).
#[inline]
pub(crate) fn stripe_index() -> usize {
    STRIPE
        .try_with(|s| {
            let i = s.get();
            if i != usize::MAX {
                return i;
            }
            let i = NEXT_STRIPE.fetch_add(1, Relaxed) % STRIPES;
            s.set(i);
            i
        })
        .unwrap_or(0)
}

/// A route's counters summed over its stripes, with tokio-metrics'
/// `TaskMetrics` names for what they mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RouteMetrics {
    /// Request futures created.
    pub(crate) instrumented_count: u64,
    /// Request futures dropped (finished or cancelled).
    pub(crate) dropped_count: u64,
    /// Request futures polled at least once.
    pub(crate) first_poll_count: u64,
    /// Creation to first poll, summed.
    pub(crate) total_first_poll_delay: Duration,
    /// Polls, fast and slow.
    pub(crate) total_poll_count: u64,
    /// Their time on the wall clock.
    pub(crate) total_poll_duration: Duration,
    /// Polls at least the slow-poll threshold long on the wall clock.
    pub(crate) total_slow_poll_count: u64,
    /// Their time.
    pub(crate) total_slow_poll_duration: Duration,
    /// Polls that followed a wake: the future was scheduled.
    pub(crate) total_scheduled_count: u64,
    /// Wake to poll, summed.
    pub(crate) total_scheduled_duration: Duration,
    /// Wakes that ended an idle stretch (end of a poll to its wake).
    pub(crate) total_idled_count: u64,
    /// Those stretches, summed.
    pub(crate) total_idle_duration: Duration,
}

impl RouteStats {
    #[inline]
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    /// A request future was created.
    #[inline]
    pub(crate) fn instrumented(&self) {
        self.mine().instrumented.fetch_add(1, Relaxed);
    }

    /// A request future was dropped.
    #[inline]
    pub(crate) fn dropped(&self) {
        self.mine().dropped.fetch_add(1, Relaxed);
    }

    /// A request future's first poll began `delay_ns` after its creation.
    #[inline]
    pub(crate) fn first_poll(&self, delay_ns: u64) {
        let s = self.mine();
        s.first_polls.fetch_add(1, Relaxed);
        s.first_poll_delay_ns.fetch_add(delay_ns, Relaxed);
    }

    /// A poll of `ns` on the wall clock; slow at `slow_ns` or more.
    #[inline]
    pub(crate) fn polled(&self, ns: u64, slow_ns: u64) {
        let s = self.mine();
        let (count, total) = if ns >= slow_ns {
            (&s.slow_polls, &s.slow_poll_ns)
        } else {
            (&s.fast_polls, &s.fast_poll_ns)
        };
        count.fetch_add(1, Relaxed);
        total.fetch_add(ns, Relaxed);
    }

    /// A poll began `scheduled_ns` after the wake that scheduled it, which
    /// came `idle_ns` after the end of the previous poll (`None`: the wake
    /// came during that poll, so the future never idled).
    #[cold]
    pub(crate) fn woken(&self, scheduled_ns: u64, idle_ns: Option<u64>) {
        let s = self.mine();
        s.scheduled.fetch_add(1, Relaxed);
        s.scheduled_ns.fetch_add(scheduled_ns, Relaxed);
        if let Some(idle) = idle_ns {
            s.idled.fetch_add(1, Relaxed);
            s.idle_ns.fetch_add(idle, Relaxed);
        }
    }

    /// The counters summed over the stripes.
    pub(crate) fn cumulative(&self) -> RouteMetrics {
        let mut m = RouteMetrics::default();
        let ns = Duration::from_nanos;
        for s in &self.stripes {
            let fast = s.fast_polls.load(Relaxed);
            let slow = s.slow_polls.load(Relaxed);
            m.instrumented_count += s.instrumented.load(Relaxed);
            m.dropped_count += s.dropped.load(Relaxed);
            m.first_poll_count += s.first_polls.load(Relaxed);
            m.total_first_poll_delay += ns(s.first_poll_delay_ns.load(Relaxed));
            m.total_poll_count += fast + slow;
            m.total_poll_duration +=
                ns(s.fast_poll_ns.load(Relaxed)) + ns(s.slow_poll_ns.load(Relaxed));
            m.total_slow_poll_count += slow;
            m.total_slow_poll_duration += ns(s.slow_poll_ns.load(Relaxed));
            m.total_scheduled_count += s.scheduled.load(Relaxed);
            m.total_scheduled_duration += ns(s.scheduled_ns.load(Relaxed));
            m.total_idled_count += s.idled.load(Relaxed);
            m.total_idle_duration += ns(s.idle_ns.load(Relaxed));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_written_by_many_threads_sum_to_every_count() {
        let stats = RouteStats::default();
        std::thread::scope(|s| {
            for _ in 0..(STRIPES * 2 + 3) {
                s.spawn(|| {
                    stats.instrumented();
                    stats.first_poll(5);
                    stats.polled(10, 100);
                    stats.polled(200, 100);
                    stats.woken(7, Some(3));
                    stats.woken(7, None);
                    stats.dropped();
                });
            }
        });
        let n = (STRIPES * 2 + 3) as u64;
        let m = stats.cumulative();
        assert_eq!(m.instrumented_count, n);
        assert_eq!(m.dropped_count, n);
        assert_eq!(m.first_poll_count, n);
        assert_eq!(m.total_first_poll_delay, Duration::from_nanos(5 * n));
        assert_eq!(m.total_poll_count, 2 * n);
        assert_eq!(m.total_poll_duration, Duration::from_nanos(210 * n));
        assert_eq!(m.total_slow_poll_count, n);
        assert_eq!(m.total_slow_poll_duration, Duration::from_nanos(200 * n));
        assert_eq!(m.total_scheduled_count, 2 * n);
        assert_eq!(m.total_scheduled_duration, Duration::from_nanos(14 * n));
        assert_eq!(m.total_idled_count, n);
        assert_eq!(m.total_idle_duration, Duration::from_nanos(3 * n));
    }
}
