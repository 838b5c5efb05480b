//! Scenario 1: independent awaits run one after another in a loop.
//!
//! **Signal.** Under one parent span, at least 8 (configurable) consecutive
//! sibling spans of one call site that never overlap in time, are mostly
//! idle (busy under half their duration, at least 1 ms long) and follow
//! one another with no longer gap than their own duration, the parent
//! awaiting nothing else in between where the layer can see it (a consumer
//! waiting on a queue or a timer between items is not a chain: a sibling
//! that closed inside an enter of the parent must be followed within that
//! same enter, before the parent returns `Pending`). The siblings must be
//! outbound calls (a client span: `otel.kind = "client"`, one of the
//! outbound fields, or a configured outbound name): calls the code sends
//! could run concurrently, while a loop reading frames from a peer, one
//! after another, waits on what the peer sends next and cannot.
//! Independence cannot be proven at runtime: this is a candidate with its
//! evidence.
//!
//! **Quantity.** Chain length, and avoidable seconds: the sum of the
//! chain's durations minus the longest, what running them concurrently
//! would have saved.
//!
//! **Silent on.** `join_all`, `JoinSet`, `buffer_unordered` (siblings
//! overlap), a parent marked `doctor.sequential = "intended"`, a
//! connection loop reading frames (its reads are not outbound), and the
//! loop of one worker in a pool (its parent ran beside siblings of its own
//! site, or is a task whose spawn site had several alive at once).

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::sites::{Site, SiteMeta};
use crate::state::Shared;

pub(crate) const FIX: &str = "run the independent calls concurrently and join once: \
    futures::future::join_all, a JoinSet, or stream::iter(..).buffer_unordered(n) to bound \
    them; if each call needs the previous one's result, mark the parent span with \
    doctor.sequential = \"intended\"";

pub(crate) struct SerialAwaits;

/// Whether the serial chains of `site` are a finding: it chained, and its
/// spans are outbound calls. A chain of waits that are not calls (reading
/// a peer's frames, a timer's ticks) depends on something the code does
/// not send, so running it concurrently is no fix.
pub(crate) fn reported(site: &Site) -> bool {
    site.shape.serial_chains.load(Relaxed) > 0
        && site
            .outbound
            .get()
            .is_some_and(|o| o.calls.load(Relaxed) > 0)
}

fn describe(f: &Finding, parent: Option<&SiteMeta>) -> String {
    let ev = |n| f.evidence(n).unwrap_or(0.0);
    let under = parent.map_or(String::new(), |p| {
        format!(" under `{}` at {}", p.span, p.location)
    });
    format!(
        "`{}` at {} ran in chains of up to {:.0} calls one after another{under}, never \
         overlapping and mostly idle ({} chain{}, {:.0} calls, {:.3} s in all): running them \
         concurrently would have saved {:.3} s.",
        f.span,
        f.location,
        ev("longest_chain"),
        f.count,
        if f.count == 1 { "" } else { "s" },
        ev("calls"),
        ev("serial_seconds"),
        ev("avoidable_seconds"),
    )
}

impl Detector for SerialAwaits {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        shared
            .sites
            .iter()
            .filter(|(_, site, _)| reported(site))
            .map(|(_, site, meta)| {
                let s = &site.shape;
                let secs = |ns: u64| ns as f64 / 1e9;
                let calls = s.serial_calls.load(Relaxed);
                let total = s.serial_total_ns.load(Relaxed);
                let avoidable = secs(s.serial_avoidable_ns.load(Relaxed));
                let mut f = at_site(FindingKind::SerialAwaits, Severity::Warning, meta)
                    .with_count(s.serial_chains.load(Relaxed))
                    .with_cost_seconds(avoidable)
                    .with_evidence([
                        Evidence::new(
                            "longest_chain",
                            s.serial_longest.load(Relaxed) as f64,
                            "count",
                        ),
                        Evidence::new("calls", calls as f64, "count"),
                        Evidence::new("avoidable_seconds", avoidable, "seconds"),
                        Evidence::new("serial_seconds", secs(total), "seconds"),
                        Evidence::new(
                            "mean_call_seconds",
                            secs(total) / calls.max(1) as f64,
                            "seconds",
                        ),
                        Evidence::new(
                            "threshold_chain",
                            shared.config.shape.serial_chain as f64,
                            "count",
                        ),
                    ])
                    .with_fix(FIX);
                let parent = shared.sites.get(s.serial_parent.load(Relaxed)).meta.get();
                f.message = describe(&f, parent);
                f
            })
            .collect()
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
        let total: f64 = findings.iter().map(|f| f.cost_seconds).sum();
        format!(
            "{} call site{} awaited independent calls one after another; {:.3} s could have \
             been saved by running them concurrently.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            total
        )
    }
}
