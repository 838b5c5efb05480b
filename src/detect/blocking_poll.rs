//! Scenario 5: CPU work blocking the executor.
//!
//! **Signal.** A poll (the outermost span entered on a runtime worker, up to
//! its exit) that runs longer than the threshold. The layer blames the span
//! with the most *self* time inside that poll, so a slow helper called from
//! a request handler is named, not the handler. The watchdog and each
//! scrape also look at polls that are *still running* past the threshold,
//! so a worker stuck in a loop is reported before it returns.
//!
//! **Quantity.** Blocking polls, total seconds a worker was blocked, the
//! worst poll, and how long a stalled poll has been running now.
//!
//! **Silent on.** The same work in `spawn_blocking` (blocking-pool threads
//! never start a poll), and on async code that yields within the threshold.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::frames::StallStack;
use crate::state::Shared;

/// The fix, in one line.
pub(crate) const FIX: &str =
    "move the CPU-bound or blocking work into tokio::task::spawn_blocking \
    (or a rayon pool) and .await its result; in long loops call \
    tokio::task::yield_now().await every few hundred microseconds";

pub(crate) struct BlockingPoll;

#[derive(Default)]
struct Acc {
    polls: u64,
    total_ns: u64,
    worst_ns: u64,
    self_ns: u64,
    stalled_ns: u64,
}

impl Detector for BlockingPoll {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let mut by_site: BTreeMap<u32, Acc> = BTreeMap::new();
        // A route's site (its requests' polls are marked there) is the
        // route view's: its slow polls and stalls are that finding's, and
        // one finding per (kind, span, location) keeps the labels unique
        // (a task span around a request blames the route's frame).
        let routes = shared.routes.marked_sites();
        for (idx, site, _) in shared.sites.iter() {
            if routes.contains(&idx) {
                continue;
            }
            let polls = site.blocking.polls.load(Relaxed);
            if polls > 0 {
                let acc = by_site.entry(idx).or_default();
                acc.polls = polls;
                acc.total_ns = site.blocking.total_ns.load(Relaxed);
                acc.worst_ns = site.blocking.worst_ns.load(Relaxed);
                acc.self_ns = site.blocking.self_ns.load(Relaxed);
            }
        }
        for stall in shared.running_stalls() {
            if routes.contains(&stall.site) {
                continue;
            }
            let acc = by_site.entry(stall.site).or_default();
            acc.stalled_ns = acc.stalled_ns.max(stall.running_ns);
        }
        by_site
            .into_iter()
            .filter_map(|(idx, acc)| {
                let meta = shared.sites.get(idx).meta.get()?;
                let secs = |ns: u64| ns as f64 / 1e9;
                let severity = if acc.stalled_ns > 0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let mut f = at_site(FindingKind::BlockingPoll, severity, meta)
                    .with_count(acc.polls)
                    .with_cost_seconds(secs(acc.total_ns) + secs(acc.stalled_ns))
                    .with_evidence([
                        Evidence::new("blocking_polls", acc.polls as f64, "count"),
                        Evidence::new("blocked_seconds", secs(acc.total_ns), "seconds"),
                        Evidence::new("worst_poll_seconds", secs(acc.worst_ns), "seconds"),
                        Evidence::new("self_seconds", secs(acc.self_ns), "seconds"),
                        Evidence::new("stalled_now_seconds", secs(acc.stalled_ns), "seconds"),
                        Evidence::new(
                            "threshold_seconds",
                            shared.config.blocking_poll_threshold.as_secs_f64(),
                            "seconds",
                        ),
                    ])
                    .with_fix(FIX);
                if let Some((stack, stalls)) = shared.frames.for_site(idx) {
                    stack_sentence(&mut f, &stack, stalls);
                }
                Some(f)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        let mut s = String::new();
        if f.count > 0 {
            s = format!(
                "`{}` at {} blocked a runtime worker {} time{} for {:.3} s in all \
                 (worst poll {:.1} ms, threshold {:.1} ms): no other task could run on that \
                 worker meanwhile.",
                f.span,
                f.location,
                f.count,
                if f.count == 1 { "" } else { "s" },
                ev("blocked_seconds"),
                ev("worst_poll_seconds") * 1e3,
                ev("threshold_seconds") * 1e3,
            );
        }
        let stalled = ev("stalled_now_seconds");
        if stalled > 0.0 {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!(
                "`{}` at {} is blocking a runtime worker right now: its poll has been running \
                 for {:.3} s.",
                f.span, f.location, stalled
            ));
        }
        // check() left what the stack captures say; it follows, or leads
        // when the blamed span is a dependency's (tower-http's `request`):
        // the frame in the service's own code is what its reader can fix.
        if f.message.is_empty() {
            s
        } else if s.is_empty() {
            f.message.clone()
        } else if crate::state::location::is_dependency_location(&f.location)
            && f.message.contains(CULPRIT_SAYS)
        {
            format!("{} {s}", f.message)
        } else {
            format!("{s} {}", f.message)
        }
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let total: f64 = findings.iter().map(|f| f.cost_seconds).sum();
        let worst = findings
            .iter()
            .max_by(|a, b| a.cost_seconds.total_cmp(&b.cost_seconds));
        match worst {
            Some(w) => format!(
                "{} call site{} blocked the executor for {:.3} s in all; the worst is `{}` at {}.",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" },
                total,
                w.span,
                w.location
            ),
            None => "No poll blocked the executor.".to_string(),
        }
    }
}

/// How the stack sentence names a culprit in the service's own code.
const CULPRIT_SAYS: &str = "puts the culprit in the service's own code:";

/// Adds what the stack captures of this site's stalls say: the culprit
/// frame, the innermost frame and the top of the stack, to the sentence and
/// as evidence.
pub(crate) fn stack_sentence(f: &mut Finding, stack: &StallStack, stalls: u64) {
    f.evidence.push(Evidence::new(
        "stack_samples",
        stack.samples as f64,
        "count",
    ));
    f.evidence.push(Evidence::new(
        "culprit_samples",
        stack.agreeing as f64,
        "count",
    ));
    let when = if stalls == 0 {
        "The stalled worker's stack".to_string()
    } else {
        format!(
            "The stack of {stalls} stall{} caught while running",
            if stalls == 1 { "" } else { "s" }
        )
    };
    let mut s = match &stack.culprit {
        Some(c) => format!(
            "{when} {CULPRIT_SAYS} {c} ({} of {} capture{} there).",
            stack.agreeing,
            stack.samples,
            if stack.samples == 1 { "" } else { "s" }
        ),
        None => format!("{when} holds no frame of the service's own code."),
    };
    if let Some(i) = &stack.innermost {
        if stack.culprit.as_ref() != Some(i) {
            s.push_str(&format!(" Innermost frame: {i}."));
        }
    }
    if !stack.top.is_empty() {
        let top: Vec<String> = stack.top.iter().map(ToString::to_string).collect();
        s.push_str(&format!(" Top of the stack: {}.", top.join(" <- ")));
    }
    if f.message.is_empty() {
        f.message = s;
    } else {
        f.message.push(' ');
        f.message.push_str(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(location: &str) -> Finding {
        let mut f = Finding::new(
            FindingKind::BlockingPoll,
            Severity::Warning,
            "request",
            "tower_http::trace",
            location,
        )
        .with_count(3)
        .with_evidence([
            Evidence::new("blocked_seconds", 0.06, "seconds"),
            Evidence::new("worst_poll_seconds", 0.02, "seconds"),
            Evidence::new("threshold_seconds", 0.01, "seconds"),
        ]);
        let stack = StallStack {
            culprit: Some(crate::state::frames::FrameName {
                function: "shop::hash_password".into(),
                location: "src/shop.rs:108".into(),
            }),
            innermost: None,
            top: Vec::new(),
            agreeing: 2,
            samples: 3,
        };
        stack_sentence(&mut f, &stack, 1);
        f
    }

    #[test]
    fn a_dependency_span_leads_with_the_culprit_in_the_services_code() {
        let f = finding("tower-http-0.6.11/src/trace/make_span.rs:109");
        let s = BlockingPoll.sentence(&f);
        assert!(
            s.starts_with("The stack of 1 stall caught while running puts the culprit"),
            "{s}"
        );
        assert!(
            s.find("shop::hash_password") < s.find("`request` at"),
            "{s}"
        );
    }

    #[test]
    fn the_services_own_span_comes_first() {
        let f = finding("src/shop.rs:100");
        let s = BlockingPoll.sentence(&f);
        assert!(s.starts_with("`request` at src/shop.rs:100 blocked"), "{s}");
        assert!(s.contains("shop::hash_password"), "{s}");
    }
}
