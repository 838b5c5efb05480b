//! Scenario 6: materializing a large result instead of streaming it.
//!
//! **Signal.** With the `alloc` feature and `TrackingAllocator`: a span
//! instance whose peak live heap bytes reach the threshold (default
//! 64 MiB). **Quantity.** The peak, how many instances got there.
//! **Silent on** the streaming version of the same work: it holds one
//! record at a time.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;

pub(crate) const FIX: &str = "stream the result instead of collecting it: iterate rows from the \
    database cursor (or a Stream) and write each record to the response body as it comes, \
    e.g. with axum::body::Body::from_stream; never hold all rows, all mapped rows and the whole \
    serialized payload at once";

pub(crate) struct Materialization;

impl Detector for Materialization {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.materialization_bytes;
        shared
            .sites
            .iter()
            .filter(|(_, site, _)| site.alloc.materialized.load(Relaxed) > 0)
            .map(|(_, site, meta)| {
                let a = &site.alloc;
                let instances = a.instances.load(Relaxed);
                at_site(FindingKind::Materialization, Severity::Warning, meta)
                    .with_count(a.materialized.load(Relaxed))
                    .with_evidence([
                        Evidence::new("peak_bytes", a.max_peak.load(Relaxed) as f64, "bytes"),
                        Evidence::new(
                            "mean_peak_bytes",
                            a.peak_sum.load(Relaxed) as f64 / instances.max(1) as f64,
                            "bytes",
                        ),
                        Evidence::new("instances", instances as f64, "count"),
                        Evidence::new("threshold_bytes", threshold as f64, "bytes"),
                    ])
                    .with_fix(FIX)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let mib = |n: &str| f.evidence(n).unwrap_or(0.0) / (1024.0 * 1024.0);
        format!(
            "`{}` at {} held up to {:.1} MiB of heap at once ({} of {:.0} instances over {:.0} MiB): \
             it materializes its whole result instead of streaming it.",
            f.span,
            f.location,
            mib("peak_bytes"),
            f.count,
            f.evidence("instances").unwrap_or(0.0),
            mib("threshold_bytes")
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} call site{} materialized large results in memory.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )
    }
}
