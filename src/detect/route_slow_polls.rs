//! The findings bridge of the route middleware: a route (or monitored job)
//! whose polls are often longer than the blocking threshold is a
//! `blocking_poll` finding with the route as its call site, so a service
//! without spans still gets a diagnosis.
//!
//! Scheduling delay is exported per route but never blamed on a route: it
//! is what every route suffers when *another* one blocks.
//!
//! A route behind [`TaskMonitorLayer`](crate::TaskMonitorLayer) is judged
//! on the same corrected time as the span view: a poll counts as slow only
//! if the worker spent the threshold on a CPU or blocked in a syscall, not
//! if it waited for a CPU (`helpers::route::future`). A monitored job has
//! only tokio-metrics' wall-clock count.

use std::sync::atomic::Ordering::Relaxed;

use super::blocking_poll::FIX;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::routes::Route;
use crate::state::Shared;

/// What the detector judges a route on.
struct SlowPolls {
    slow: u64,
    slow_seconds: f64,
    preempted: u64,
    polls: u64,
}

impl SlowPolls {
    fn of(r: &Route, m: &tokio_metrics::TaskMetrics) -> SlowPolls {
        if r.polls.judged.load(Relaxed) {
            SlowPolls {
                slow: r.polls.slow.load(Relaxed),
                slow_seconds: r.polls.slow_ns.load(Relaxed) as f64 / 1e9,
                preempted: r.polls.preempted.load(Relaxed),
                polls: m.total_poll_count,
            }
        } else {
            SlowPolls {
                slow: m.total_slow_poll_count,
                slow_seconds: m.total_slow_poll_duration.as_secs_f64(),
                preempted: 0,
                polls: m.total_poll_count,
            }
        }
    }

    /// NaN when there were no polls.
    fn ratio(&self) -> f64 {
        self.slow as f64 / self.polls as f64
    }
}

/// Least share of a route's polls that must be slow. A route that blocks
/// does so on most requests; 5% keeps a rare preempted poll from blaming
/// a healthy route.
pub(crate) const MIN_SLOW_POLL_RATIO: f64 = 0.05;
/// Least number of slow polls before a route is judged.
pub(crate) const MIN_SLOW_POLLS: u64 = 3;

pub(crate) struct RouteSlowPolls;

impl Detector for RouteSlowPolls {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.blocking_poll_threshold.as_secs_f64();
        shared
            .routes
            .all()
            .into_iter()
            .filter_map(|(route, r)| {
                let m = r.monitor.cumulative();
                let p = SlowPolls::of(&r, &m);
                let ratio = p.ratio();
                // A NaN ratio (no polls) is not a finding.
                if p.slow < MIN_SLOW_POLLS || ratio.is_nan() || ratio < MIN_SLOW_POLL_RATIO {
                    return None;
                }
                let f = Finding::new(
                    FindingKind::BlockingPoll,
                    Severity::Warning,
                    route,
                    "route",
                    r.location.clone(),
                )
                .with_count(p.slow)
                .with_cost_seconds(p.slow_seconds)
                .with_evidence([
                    Evidence::new("blocking_polls", p.slow as f64, "count"),
                    Evidence::new("blocked_seconds", p.slow_seconds, "seconds"),
                    Evidence::new("slow_poll_ratio", ratio, "ratio"),
                    Evidence::new(
                        "mean_slow_poll_seconds",
                        p.slow_seconds / p.slow as f64,
                        "seconds",
                    ),
                    Evidence::new("preempted_polls", p.preempted as f64, "count"),
                    Evidence::new("requests", m.instrumented_count as f64, "count"),
                    Evidence::new("threshold_seconds", threshold, "seconds"),
                ])
                .with_fix(FIX);
                Some(f)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        format!(
            "Route `{}` (monitored at {}) blocked a runtime worker in {:.0}% of its polls: {} polls \
             over {:.1} ms, {:.3} s in all.",
            f.span,
            f.location,
            ev("slow_poll_ratio") * 100.0,
            f.count,
            ev("threshold_seconds") * 1e3,
            ev("blocked_seconds")
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} route{} blocked the executor.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )
    }
}
