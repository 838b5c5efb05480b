//! Unbounded fan-out (`join_all` or a spawn per item over the
//! whole list).
//!
//! **Signal.** One parent span with at least 1,000 (configurable) children
//! of one call site open at once, or one spawn site (`tokio_doctor::spawn`,
//! or tokio's task spans with `tokio_unstable`) with that many tasks alive.
//! They must have arrived as a list handed out at once: 512 or more opened
//! (or spawned) back to back, no gap over 200 µs (or the whole threshold,
//! when it is lower), which a loop over items does and an accept loop,
//! taking connections as clients open them, does not (see
//! `state::shape_stats::BURST_GAP_NS`). Children opened in one poll of a
//! task count as back to back whatever the gap, so a host that preempts
//! the loop does not split its list (an accept loop yields every 128
//! accepts, by tokio's budget). The peak is recorded the moment it is
//! reached, so the finding shows while the fan-out still runs.
//!
//! **Quantity.** The peak of concurrent children (or live tasks), and the
//! bound to use: the concurrency advice's recommended limit when the
//! children are outbound calls it has measured.
//!
//! **Silent on** a bounded pool over the same items (a semaphore,
//! `buffer_unordered(16)`, a fixed set of workers): its peak is the bound.
//! Silent on a server with a task (or a span) per connection from one
//! accept loop, however many connections it holds: they arrive one accept
//! at a time, not as a list.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::sites::SiteMeta;
use crate::state::Shared;

pub(crate) const FIX: &str = "bound the fan-out: stream::iter(items).map(f).buffer_unordered(n), \
    or a tokio::sync::Semaphore of n permits acquired before each call or spawn, with n sized \
    by Little's Law (downstream throughput x latency at low load; see tokio_doctor_concurrency_recommended)";

pub(crate) struct UnboundedFanout;

/// Children (or tasks) that must arrive in one run
/// (see [`Burst`](crate::state::shape_stats::Burst)) for a peak to
/// read as a list handed out at once: a run no accept loop makes, or the
/// whole peak when the threshold is lower.
pub(crate) fn burst_needed(threshold: u64) -> u64 {
    threshold.clamp(2, crate::state::shape_stats::LIST_BURST)
}

fn describe(f: &Finding, parent: Option<&SiteMeta>) -> String {
    let ev = |n| f.evidence(n);
    let peak = ev("peak_concurrent").unwrap_or(0.0);
    let mut s = if ev("live_tasks_now").is_some() {
        format!(
            "Spawn site {} had {:.0} tasks alive at once (now {:.0}): every item got its own \
             task at the same time",
            f.location,
            peak,
            ev("live_tasks_now").unwrap_or(0.0)
        )
    } else {
        let under = parent.map_or(String::new(), |p| {
            format!(" under one `{}` at {}", p.span, p.location)
        });
        format!(
            "`{}` at {} ran {:.0} at once{under} ({} parent{} over the threshold): the whole \
             list was fanned out at once",
            f.span,
            f.location,
            peak,
            f.count,
            if f.count == 1 { "" } else { "s" },
        )
    };
    match ev("suggested_bound") {
        Some(b) => s.push_str(&format!(
            "; the downstream is saturated by {b:.0} in flight (Little's Law), bound it there."
        )),
        None => s.push_str(
            "; bound it to what the downstream sustains (its throughput × latency at low load).",
        ),
    }
    s
}

impl Detector for UnboundedFanout {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.shape.fanout_threshold;
        let mut out = Vec::new();
        for (idx, site, meta) in shared.sites.iter() {
            let s = &site.shape;
            // Many at once is not enough: a server holds a task (or a
            // span) per connection, thousands of them, and that is
            // tokio's design. A fan-out hands a whole list out at once,
            // so its children arrive in a burst no accept loop makes.
            let burst = burst_needed(threshold);
            let children = s.fanout_peak.load(Relaxed);
            let children_burst = s.fanout_burst.load(Relaxed);
            let tasks = s.tasks.get().map(|t| (t.peak(), t.live(), t.burst_peak()));
            let (peak, live, count, arrived) = if children >= threshold && children_burst >= burst {
                (
                    children,
                    None,
                    s.fanout_parents.load(Relaxed).max(1),
                    children_burst,
                )
            } else if let Some((peak, live, b)) = tasks.filter(|t| t.0 >= threshold && t.2 >= burst)
            {
                (peak, Some(live), 1, b)
            } else {
                continue;
            };
            let mut evidence = vec![
                Evidence::new("peak_concurrent", peak as f64, "count"),
                Evidence::new("threshold_concurrent", threshold as f64, "count"),
                Evidence::new("peak_burst", arrived as f64, "count"),
            ];
            if let Some(live) = live {
                evidence.push(Evidence::new("live_tasks_now", live as f64, "count"));
            }
            if let Some(b) = super::concurrency_advice::recommended(windows, idx) {
                evidence.push(Evidence::new("suggested_bound", b as f64, "count"));
            }
            let mut f = at_site(FindingKind::UnboundedFanout, Severity::Warning, meta)
                .with_count(count)
                .with_peak(peak as f64)
                .with_evidence(evidence)
                .with_fix(FIX);
            let parent = (live.is_none())
                .then(|| shared.sites.get(s.fanout_parent.load(Relaxed)).meta.get())
                .flatten();
            f.message = describe(&f, parent);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        // check() wrote it already, naming the parent it knows.
        if f.message.is_empty() {
            describe(f, None)
        } else {
            f.message.clone()
        }
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let worst = findings
            .iter()
            .filter_map(|f| f.evidence("peak_concurrent"))
            .fold(0.0, f64::max);
        format!(
            "{} call site{} fanned out without a bound (up to {:.0} at once).",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            worst
        )
    }
}
