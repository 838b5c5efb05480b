//! Scenario 12: a deadline that does not cancel.
//!
//! **Signal.** A span that closes later than the deadline in scope when it
//! was created (plus a grace, default 50 ms, for timer ticks and the next
//! poll), or an outbound call still open past it: a timeout that only stops
//! *waiting* (the work goes on), or work detached from its deadline (a task
//! spawned inside it).
//!
//! **Quantity.** Overruns, seconds past the deadline in all, the worst, and
//! calls overrunning now.
//!
//! **Silent on.** Work cancelled at its deadline: `tokio_doctor::deadline`
//! and `tokio::time::timeout` drop the future, and its spans close on time.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::outbound::sites_with_calls;
use crate::state::Shared;

/// The fix, in one line.
pub(crate) const FIX: &str = "make the deadline cancel the work: keep the call inside \
    tokio_doctor::deadline / tokio::time::timeout instead of spawning it, and pass the \
    remaining budget to the client (its own timeout or an abort signal)";

pub(crate) struct DeadlineOverrun;

impl Detector for DeadlineOverrun {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let secs = |ns: u64| ns as f64 / 1e9;
        let mut out = Vec::new();
        for (meta, o, open) in sites_with_calls(shared) {
            let overruns = o.overruns.load(Relaxed);
            if overruns == 0 && open.overrunning == 0 {
                continue;
            }
            let over_ns = o.overrun_ns.load(Relaxed);
            let f = at_site(FindingKind::DeadlineOverrun, Severity::Warning, meta)
                .with_count(overruns + open.overrunning as u64)
                .with_cost_seconds(secs(over_ns))
                .with_evidence([
                    Evidence::new("overruns", overruns as f64, "count"),
                    Evidence::new("overrun_seconds", secs(over_ns), "seconds"),
                    Evidence::new(
                        "worst_overrun_seconds",
                        secs(o.worst_overrun_ns.load(Relaxed)),
                        "seconds",
                    ),
                    Evidence::new("overrunning_now", open.overrunning as f64, "count"),
                    Evidence::new(
                        "grace_seconds",
                        shared.config.deadline_grace.as_secs_f64(),
                        "seconds",
                    ),
                ])
                .with_fix(FIX);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        format!(
            "`{}` ({}) outlived its deadline {} times, {:.2} s past it in all and {:.0} ms at \
             worst ({} still running past it): the deadline stops the wait, not the work.",
            f.span,
            f.location,
            ev("overruns"),
            ev("overrun_seconds"),
            ev("worst_overrun_seconds") * 1e3,
            ev("overrunning_now"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} call site{} outlived {} deadline.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            if findings.len() == 1 { "its" } else { "their" }
        )
    }
}
