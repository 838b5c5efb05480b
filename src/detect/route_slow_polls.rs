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
//! if it waited for a CPU (`helpers::route::future`), as is a monitored
//! job.

use std::sync::atomic::Ordering::Relaxed;

use super::blocking_poll::FIX;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::route_stats::RouteMetrics;
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
    fn of(r: &Route, m: &RouteMetrics) -> SlowPolls {
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
        // Requests whose polls are marked (`TaskMonitorLayer`): the one
        // stalled right now, by the route's site.
        let mut stalled: std::collections::HashMap<u32, u64> = Default::default();
        for s in shared.running_stalls() {
            let e = stalled.entry(s.site).or_default();
            *e = (*e).max(s.running_ns);
        }
        shared
            .routes
            .all()
            .into_iter()
            .filter_map(|(route, r)| {
                let m = r.monitor.cumulative();
                let p = SlowPolls::of(&r, &m);
                let ratio = p.ratio();
                let site = r.polls.marks.get().map(|m| m.site);
                let stalled_ns = site.and_then(|s| stalled.get(&s)).copied().unwrap_or(0);
                // A NaN ratio (no polls) is not a finding.
                let slow = p.slow >= MIN_SLOW_POLLS && ratio >= MIN_SLOW_POLL_RATIO;
                if !slow && stalled_ns == 0 {
                    return None;
                }
                let severity = if stalled_ns > 0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let mut f = Finding::new(
                    FindingKind::BlockingPoll,
                    severity,
                    route,
                    "route",
                    r.location.clone(),
                )
                .with_count(p.slow)
                .with_cost_seconds(p.slow_seconds + stalled_ns as f64 / 1e9)
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
                    Evidence::new("stalled_now_seconds", stalled_ns as f64 / 1e9, "seconds"),
                ])
                .with_fix(FIX);
                // What the watchdog's captures of the route's stalls say.
                if let Some((stack, stalls)) = site.and_then(|s| shared.frames.for_site(s)) {
                    super::blocking_poll::stack_sentence(&mut f, &stack, stalls);
                }
                Some(f)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        let mut s = Vec::new();
        if ev("slow_poll_ratio") >= MIN_SLOW_POLL_RATIO && f.count >= MIN_SLOW_POLLS {
            s.push(format!(
                "Route `{}` (monitored at {}) blocked a runtime worker in {:.0}% of its polls: {} \
                 polls over {:.1} ms, {:.3} s in all.",
                f.span,
                f.location,
                ev("slow_poll_ratio") * 100.0,
                f.count,
                ev("threshold_seconds") * 1e3,
                ev("blocked_seconds")
            ));
        }
        let stalled = ev("stalled_now_seconds");
        if stalled > 0.0 {
            s.push(format!(
                "A request of route `{}` (monitored at {}) is blocking a runtime worker right now: \
                 its poll has been running for {stalled:.3} s.",
                f.span, f.location
            ));
        }
        // check() left what the stack captures say.
        if !f.message.is_empty() {
            s.push(f.message.clone());
        }
        s.join(" ")
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} route{} blocked the executor.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )
    }
}
