//! The findings bridge of the route middleware: a route (or monitored job)
//! whose polls are often longer than the blocking threshold is a
//! `blocking_poll` finding with the route as its call site, so a service
//! without spans still gets a diagnosis.
//!
//! Scheduling delay is exported per route but never blamed on a route: it
//! is what every route suffers when *another* one blocks.

use super::blocking_poll::FIX;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;

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
                let ratio = m.slow_poll_ratio();
                // A NaN ratio (no polls) is not a finding.
                if m.total_slow_poll_count < MIN_SLOW_POLLS
                    || ratio.is_nan()
                    || ratio < MIN_SLOW_POLL_RATIO
                {
                    return None;
                }
                let f = Finding {
                    kind: FindingKind::BlockingPoll,
                    severity: Severity::Warning,
                    span: route,
                    target: "route".to_string(),
                    location: r.location.clone(),
                    count: m.total_slow_poll_count,
                    cost_seconds: m.total_slow_poll_duration.as_secs_f64(),
                    evidence: vec![
                        Evidence::new("blocking_polls", m.total_slow_poll_count as f64, "count"),
                        Evidence::new(
                            "blocked_seconds",
                            m.total_slow_poll_duration.as_secs_f64(),
                            "seconds",
                        ),
                        Evidence::new("slow_poll_ratio", ratio, "ratio"),
                        Evidence::new(
                            "mean_slow_poll_seconds",
                            m.mean_slow_poll_duration().as_secs_f64(),
                            "seconds",
                        ),
                        Evidence::new("requests", m.instrumented_count as f64, "count"),
                        Evidence::new("threshold_seconds", threshold, "seconds"),
                    ],
                    message: String::new(),
                    fix: FIX.to_string(),
                };
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
