//! Scenario 12: outbound calls with no deadline in scope.
//!
//! **Signal.** An outbound span (OpenTelemetry `otel.kind = "client"`,
//! `http.request.method`, `url.full`, `server.address`, `db.system`,
//! `rpc.system`, `peer.service`, or a configured name) created with no
//! deadline in scope: no [`deadline`](crate::deadline) around it and no
//! `timeout`/`deadline` field on it or an enclosing span. A call of such a
//! site open past the hang limit makes it critical while it hangs.
//!
//! **Quantity.** Calls without a deadline, their p50 and p99 (from the
//! latency histogram), calls hung now and the longest hang.
//!
//! **Silent on.** The same calls inside `tokio_doctor::deadline`, or with a
//! `timeout_ms` field.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::outbound::quantile;
use crate::state::outbound::sites_with_calls;
use crate::state::Shared;

/// The fix, in one line.
pub(crate) const FIX: &str = "bound the call with tokio_doctor::deadline(dur, fut) (or \
    tokio::time::timeout) so it is cancelled and its connection released, sized from the \
    caller's own budget";

pub(crate) struct MissingDeadline;

impl Detector for MissingDeadline {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let secs = |ns: u64| ns as f64 / 1e9;
        let mut out = Vec::new();
        for (meta, o, open) in sites_with_calls(shared) {
            let calls = o.no_deadline_calls.load(Relaxed);
            if calls == 0 && open.hung_without_deadline == 0 {
                continue;
            }
            let (counts, sum_ns) = o.no_deadline_latency.snapshot();
            let severity = if open.hung_without_deadline > 0 {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let f = at_site(FindingKind::MissingDeadline, severity, meta)
                .with_count(calls + open.hung_without_deadline as u64)
                .with_cost_seconds(secs(sum_ns))
                .with_evidence([
                    Evidence::new("calls_without_deadline", calls as f64, "count"),
                    Evidence::new(
                        "p50_seconds",
                        quantile(&counts, 0.5).unwrap_or(0.0),
                        "seconds",
                    ),
                    Evidence::new(
                        "p99_seconds",
                        quantile(&counts, 0.99).unwrap_or(0.0),
                        "seconds",
                    ),
                    Evidence::new("waited_seconds", secs(sum_ns), "seconds"),
                    Evidence::new("hung_now", open.hung_without_deadline as f64, "count"),
                    Evidence::new(
                        "longest_hang_seconds",
                        if open.hung_without_deadline > 0 {
                            secs(open.oldest_ns)
                        } else {
                            0.0
                        },
                        "seconds",
                    ),
                    Evidence::new("in_flight", open.in_flight as f64, "count"),
                ])
                .with_fix(FIX);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        let hung = ev("hung_now");
        let hang = if hung > 0.0 {
            format!(
                "; {hung} hanging now, the longest for {:.1} s",
                ev("longest_hang_seconds")
            )
        } else {
            String::new()
        };
        format!(
            "Outbound `{}` ({}) ran {} calls with no deadline in scope: p50 ≤ {} s, p99 ≤ {} s{hang}.",
            f.span,
            f.location,
            ev("calls_without_deadline"),
            ev("p50_seconds"),
            ev("p99_seconds"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} outbound call site{} without a deadline.",
            findings.len(),
            if findings.len() == 1 {
                " runs"
            } else {
                "s run"
            }
        )
    }
}
