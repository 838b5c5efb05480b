//! Held resource scopes, as the layer sees them: a guard wrapped by
//! [`held`](crate::held) is a hold from acquisition to drop, and a span
//! configured or marked as a resource is one from creation to close.
//!
//! A hold *crosses an await* when it is released in a later poll than the
//! one that acquired it: the poll running at release began after the hold
//! was acquired, so the task was suspended in between. The idle time is
//! then the time from acquisition to the start of the releasing poll, an
//! upper bound that includes the (short, in healthy async code) polls in
//! between. Spans that run inside a hold and take longer than the threshold
//! are the slow work done while holding.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::state::site_tally::{SiteTally, Tally};

/// One hold: the resource's site, when it was acquired and whether a poll
/// was running then (without one, suspension cannot be told).
///
/// A plain value, copied into the spans created inside it: opening a held
/// scope allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hold {
    pub(crate) resource: u32,
    pub(crate) opened: u64,
    pub(crate) in_poll: bool,
}

/// What the hold's span and the spans created inside it keep of it.
pub(crate) type HoldRef = Hold;

/// Most inner sites kept per resource; more fold into the `other` site.
const INNER_SITES: usize = 8;

/// Slow work done inside one resource's holds, by the inner span's site.
pub(crate) type SlowInner = Tally;

/// Per resource site.
#[derive(Debug, Default)]
pub(crate) struct HeldStats {
    /// Holds released, and their total duration.
    pub(crate) holds: AtomicU64,
    pub(crate) hold_ns: AtomicU64,
    /// Holds that crossed an await, and their idle time in total.
    pub(crate) across_await: AtomicU64,
    pub(crate) idle_ns: AtomicU64,
    pub(crate) worst_idle_ns: AtomicU64,
    /// Holds whose idle time reached the threshold.
    pub(crate) idle_over_threshold: AtomicU64,
    /// Holds open now.
    pub(crate) open: AtomicU64,
    slow_inner: SiteTally<INNER_SITES>,
}

impl HeldStats {
    /// Records a released hold; `poll_start` is the start of the poll
    /// running at release, if any.
    pub(crate) fn released(
        &self,
        hold: &Hold,
        closed: u64,
        poll_start: Option<u64>,
        clock: &quanta::Clock,
        threshold_ns: u64,
    ) {
        self.open.fetch_sub(1, Relaxed);
        self.holds.fetch_add(1, Relaxed);
        self.hold_ns
            .fetch_add(clock.delta_as_nanos(hold.opened, closed), Relaxed);
        let resumed = match poll_start {
            Some(p) if hold.in_poll && p > hold.opened => p,
            _ => return,
        };
        let idle = clock.delta_as_nanos(hold.opened, resumed);
        self.across_await.fetch_add(1, Relaxed);
        self.idle_ns.fetch_add(idle, Relaxed);
        self.worst_idle_ns.fetch_max(idle, Relaxed);
        if idle >= threshold_ns {
            self.idle_over_threshold.fetch_add(1, Relaxed);
        }
    }

    /// Records an inner span that took `ns` inside a hold (on span close,
    /// without a lock: see [`SiteTally`]).
    pub(crate) fn slow_inner(&self, site: u32, ns: u64) {
        self.slow_inner.record(site, ns);
    }

    pub(crate) fn inner(&self) -> Vec<SlowInner> {
        self.slow_inner.snapshot()
    }
}
