//! Scenario 11: a held resource kept while its task is suspended.
//!
//! **Signal.** A hold (a guard wrapped by [`held`](crate::held), a lock of
//! [`sync`](crate::sync), or a resource span such as a configured
//! `db.transaction`) released in a later poll than the one that acquired
//! it, idle for at least the held idle threshold (default 50 ms).
//!
//! **Quantity.** Holds that crossed an await, idle seconds while held, the
//! worst idle hold, and the pool slots that idle holding costs by Little's
//! Law (idle seconds per second over the last window).
//!
//! **Silent on.** A guard held only across synchronous work (released in
//! the poll that took it), and a transaction whose own statements keep it
//! busy: their short suspensions stay under the threshold.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;
use crate::util::lock;

/// Least number of idle holds before a resource is judged: one slow hold
/// can be an outlier; three is a habit.
pub(crate) const MIN_IDLE_HOLDS: u64 = 3;
/// Window of the slots-lost gauge: long enough to smooth the releases of a
/// few requests per second, short enough to follow a deploy.
pub(crate) const SLOTS_WINDOW: Duration = Duration::from_secs(10);

/// The fix, in one line.
pub(crate) const FIX: &str = "release the resource before awaiting unrelated work: commit the \
    transaction (or drop the guard) first and do the slow call after it, or write an outbox row \
    inside it and deliver from a background worker";

/// Idle holding time of one resource at each sample, over the window.
#[derive(Debug, Default)]
pub(crate) struct IdleWindow {
    samples: VecDeque<(f64, u64)>,
}

impl IdleWindow {
    /// Idle seconds per second over the window: the slots lost.
    pub(crate) fn slots_lost(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, i0)), Some(&(t1, i1))) if t1 > t0 => {
                i1.saturating_sub(i0) as f64 / 1e9 / (t1 - t0)
            }
            _ => 0.0,
        }
    }
}

/// Sampler side: notes each resource's idle total.
pub(crate) fn sample(shared: &Shared, windows: &Windows) {
    let now = shared.created.elapsed().as_secs_f64();
    let mut idle = lock(&windows.held);
    for (idx, site, _) in shared.sites.iter() {
        let Some(held) = site.held.get() else {
            continue;
        };
        let w = idle.entry(idx).or_default();
        w.samples.push_back((now, held.idle_ns.load(Relaxed)));
        while w
            .samples
            .front()
            .is_some_and(|&(t, _)| now - t > SLOTS_WINDOW.as_secs_f64())
        {
            w.samples.pop_front();
        }
    }
}

/// Slots lost by each resource site, as last sampled.
pub(crate) fn slots_lost(windows: &Windows) -> BTreeMap<u32, f64> {
    lock(&windows.held)
        .iter()
        .map(|(&idx, w)| (idx, w.slots_lost()))
        .collect()
}

pub(crate) struct HeldAcrossAwait;

impl Detector for HeldAcrossAwait {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.held_idle_threshold.as_secs_f64();
        let slots = slots_lost(windows);
        let secs = |ns: u64| ns as f64 / 1e9;
        let mut out = Vec::new();
        for (idx, site, meta) in shared.sites.iter() {
            let Some(h) = site.held.get() else { continue };
            let idle_holds = h.idle_over_threshold.load(Relaxed);
            if idle_holds < MIN_IDLE_HOLDS {
                continue;
            }
            let across = h.across_await.load(Relaxed);
            let idle_ns = h.idle_ns.load(Relaxed);
            let f = at_site(FindingKind::HeldAcrossAwait, Severity::Warning, meta)
                .with_count(idle_holds)
                .with_cost_seconds(secs(idle_ns))
                .with_evidence([
                    Evidence::new("holds", h.holds.load(Relaxed) as f64, "count"),
                    Evidence::new("holds_across_await", across as f64, "count"),
                    Evidence::new("idle_holds", idle_holds as f64, "count"),
                    Evidence::new("idle_seconds", secs(idle_ns), "seconds"),
                    Evidence::new(
                        "mean_idle_seconds",
                        secs(idle_ns) / across.max(1) as f64,
                        "seconds",
                    ),
                    Evidence::new(
                        "worst_idle_seconds",
                        secs(h.worst_idle_ns.load(Relaxed)),
                        "seconds",
                    ),
                    Evidence::new(
                        "slots_lost",
                        slots.get(&idx).copied().unwrap_or(0.0),
                        "count",
                    ),
                    Evidence::new("threshold_seconds", threshold, "seconds"),
                ])
                .with_fix(FIX);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        format!(
            "`{}` (acquired at {}) stayed held while its task was suspended: {} holds idle over \
             {:.0} ms, {:.2} s idle in all, {:.0} ms on average and {:.0} ms at worst; by \
             Little's Law this idle holding costs {:.1} pool slots.",
            f.span,
            f.location,
            f.count,
            ev("threshold_seconds") * 1e3,
            ev("idle_seconds"),
            ev("mean_idle_seconds") * 1e3,
            ev("worst_idle_seconds") * 1e3,
            ev("slots_lost"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let slots: f64 = findings
            .iter()
            .map(|f| f.evidence("slots_lost").unwrap_or(0.0))
            .sum();
        format!(
            "{} resource{} held across awaits, costing {:.1} pool slots.",
            findings.len(),
            if findings.len() == 1 { " is" } else { "s are" },
            slots
        )
    }
}
