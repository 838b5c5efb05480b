//! A task per trivial item: async machinery for work that never suspends.
//!
//! **Signal.** Tasks (spawned with [`tokio_doctor::spawn`](crate::spawn),
//! or seen through tokio's task spans with `tokio_unstable`) that complete
//! in their first poll with under 50 µs (configurable) of busy time, at
//! 1,000 per second or more from one site over the task window, making up
//! at least 90% of what completes there. A task costs an allocation, a
//! trip through the scheduler and its bookkeeping (about 1 µs) whatever it
//! does; for work that never waits that is all overhead.
//!
//! **Not futures.** An inline `async fn` (instrumented or not) awaited in
//! place costs next to nothing when it happens not to wait: no
//! allocation, no scheduling. A request handler that awaits a write to a
//! buffered socket finishes in its first poll whenever the buffer has
//! room, and telling its author to make socket I/O synchronous would be
//! wrong. So spans that are not tasks never count, however fast they
//! complete.
//!
//! **Quantity.** Trivial completions per second, their share, their mean
//! busy time and mean wait to be polled, and an estimate of the runtime
//! bookkeeping they cost (about 1 µs per task).
//!
//! **Silent on** tasks that suspend (real I/O), inline futures, sync code
//! in spans, and trivial tasks at a low rate.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;
use crate::util::lock;

/// Estimated runtime cost of spawning, scheduling and completing a task
/// beyond its own work (tokio, release build, one core of a 2-core VM).
pub(crate) const TASK_OVERHEAD_SECONDS: f64 = 1e-6;

pub(crate) const FIX: &str = "do work that never awaits inline in the caller, as a plain \
    (sync) function or an async fn awaited in place, not a task per item; for many small items \
    spawn one task per batch (or use a fixed pool of workers), and keep tasks for work that \
    really waits on I/O";

pub(crate) struct TrivialAsync;

impl Detector for TrivialAsync {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let tracks = lock(&windows.shape.tasks);
        let cfg = &shared.config.shape;
        tracks
            .iter()
            .filter(|(_, t)| t.trivial_hits > 0)
            .filter_map(|(idx, t)| {
                let site = shared.sites.get(*idx);
                let meta = site.meta.get()?;
                let s = &site.shape;
                let wrapped = s.tasks.get().map(|t| {
                    (
                        t.trivial.load(Relaxed),
                        t.trivial_busy_ns.load(Relaxed),
                        t.trivial_wait_ns.load(Relaxed),
                    )
                });
                let spans = (
                    s.trivial.load(Relaxed),
                    s.trivial_busy_ns.load(Relaxed),
                    s.trivial_wait_ns.load(Relaxed),
                );
                let (n, busy, wait) = match wrapped {
                    Some(w) if w.0 >= spans.0 => w,
                    _ => spans,
                };
                // Only tasks count (see the module doc); the evidence
                // stays for dashboards that read it.
                let tasks = s.tasks.get().is_some_and(|t| t.counts().0 > 0);
                let per = TASK_OVERHEAD_SECONDS;
                let best = t.trivial_best;
                let now = t.rates.unwrap_or_default();
                let over = now.trivial >= cfg.trivial_rate && now.trivial_share >= 0.9;
                let mean = |ns: u64| ns as f64 / 1e9 / n.max(1) as f64;
                let severity = if best.trivial >= 10.0 * cfg.trivial_rate {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                let f = at_site(FindingKind::TrivialAsync, severity, meta)
                    .with_count(n)
                    .with_cost_seconds(n as f64 * per)
                    .with_evidence([
                        Evidence::new("trivial_per_second", best.trivial, "1/second"),
                        Evidence::new("trivial_per_second_now", now.trivial, "1/second"),
                        Evidence::new("trivial_share", best.trivial_share, "ratio"),
                        Evidence::new("trivial_now", f64::from(u8::from(over)), "bool"),
                        Evidence::new("tasks", f64::from(u8::from(tasks)), "bool"),
                        Evidence::new("mean_busy_seconds", mean(busy), "seconds"),
                        Evidence::new("mean_wait_seconds", mean(wait), "seconds"),
                        Evidence::new("overhead_seconds", n as f64 * per, "seconds"),
                    ])
                    .with_fix(FIX);
                Some(f)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        let what = if ev("tasks") == 1.0 {
            format!("Spawn site {} spawned", f.location)
        } else {
            format!("`{}` at {} ran", f.span, f.location)
        };
        let unit = if ev("tasks") == 1.0 {
            "tasks"
        } else {
            "futures"
        };
        format!(
            "{what} up to {:.0} {unit}/s that finished in their first poll after {:.2} µs of \
             work on average ({:.0}% of them; {} in all): async machinery for work that never \
             waits, costing about {:.3} s of runtime bookkeeping and {:.2} µs of waiting to be \
             polled each.",
            ev("trivial_per_second"),
            ev("mean_busy_seconds") * 1e6,
            ev("trivial_share") * 100.0,
            f.count,
            ev("overhead_seconds"),
            ev("mean_wait_seconds") * 1e6,
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let rate: f64 = findings
            .iter()
            .map(|f| f.evidence("trivial_per_second").unwrap_or(0.0))
            .sum();
        format!(
            "{} site{} ran trivial work as tasks or futures (up to {:.0}/s in all).",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            rate
        )
    }
}
