//! Scenario 11, worse: slow work done inside a held scope.
//!
//! **Signal.** A span opened while a hold is open (a child of a resource
//! span, or a sibling opened after [`held`](crate::held) in the same span)
//! that takes at least the held idle threshold (default 50 ms): an HTTP
//! call or a log flush inside a transaction.
//!
//! **Quantity.** Per resource: slow inner calls, their seconds, and the
//! inner span that cost the most, named with its `file:line`.
//!
//! **Silent on.** The slow work moved after the scope, and an outbox row
//! written inside it (a fast statement).

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;

/// The fix, in one line.
pub(crate) const FIX: &str = "do the slow call after the scope ends (commit, then call), or \
    write an outbox row inside the transaction and let a background worker deliver it";

pub(crate) struct SlowWorkWhileHeld;

impl Detector for SlowWorkWhileHeld {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.held_idle_threshold.as_secs_f64();
        let secs = |ns: u64| ns as f64 / 1e9;
        let mut out = Vec::new();
        for (_, site, meta) in shared.sites.iter() {
            let Some(h) = site.held.get() else { continue };
            let inner = h.inner();
            let Some(worst) = inner.iter().max_by_key(|s| s.total_ns) else {
                continue;
            };
            let count: u64 = inner.iter().map(|s| s.count).sum();
            let total_ns: u64 = inner.iter().map(|s| s.total_ns).sum();
            let inner_meta = shared.sites.get(worst.site).meta.get().cloned();
            let (inner_span, inner_location) = inner_meta
                .map(|m| (m.span, m.location))
                .unwrap_or_else(|| ("other".into(), "other".into()));
            let f = at_site(FindingKind::SlowWorkWhileHeld, Severity::Warning, meta)
                .with_count(count)
                .with_cost_seconds(secs(total_ns))
                .with_evidence([
                    Evidence::new("slow_calls", count as f64, "count"),
                    Evidence::new("slow_seconds", secs(total_ns), "seconds"),
                    Evidence::new("inner_calls", worst.count as f64, "count"),
                    Evidence::new(
                        "inner_mean_seconds",
                        secs(worst.total_ns) / worst.count.max(1) as f64,
                        "seconds",
                    ),
                    Evidence::new("inner_worst_seconds", secs(worst.worst_ns), "seconds"),
                    Evidence::new("holds", h.holds.load(Relaxed) as f64, "count"),
                    Evidence::new("threshold_seconds", threshold, "seconds"),
                ])
                // A draft only sentence() reads: the inner span's name and
                // location; conclude() replaces it with the sentence.
                .with_message(format!("{inner_span}\u{0}{inner_location}"))
                .with_fix(FIX);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        // check() passes the inner span's name and location in `message`.
        let (inner, at) = f.message.split_once('\u{0}').unwrap_or(("?", "?"));
        format!(
            "`{inner}` ({at}) took {:.0} ms on average ({:.0} ms at worst, {} calls) while \
             holding `{}` (acquired at {}): {} slow calls inside it, {:.2} s in all.",
            ev("inner_mean_seconds") * 1e3,
            ev("inner_worst_seconds") * 1e3,
            ev("inner_calls"),
            f.span,
            f.location,
            f.count,
            ev("slow_seconds"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} resource{} held during slow work.",
            findings.len(),
            if findings.len() == 1 {
                " was"
            } else {
                "s were"
            }
        )
    }
}
