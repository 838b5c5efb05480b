//! Scenario 10: functional pipelines that copy the data N times.
//!
//! **Signal.** With the `alloc` feature and `TrackingAllocator`: a span
//! instance that allocated at least 1 MiB, held at least 1 MiB at its peak
//! (an intermediate collection), and allocated at least 3× the bytes it
//! still holds when it closes (what it keeps or returns). **Quantity.**
//! The worst ratio, and bytes allocated per item where the span records a
//! field `items`. **Silent on** a fused single pass, which allocates about
//! what it returns, and on streaming one record at a time, which allocates
//! a lot but never holds much.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::Detector;
use super::Windows;
use crate::alloc::AMPLIFICATION_RATIO;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;

pub(crate) const FIX: &str = "fuse the stages into one pass (chain iterator adapters and collect \
    once, or fold into the output directly) instead of collecting an intermediate Vec per \
    .map()/.filter() stage; reserve the output's capacity when its size is known";

pub(crate) struct AllocationAmplification;

impl Detector for AllocationAmplification {
    fn check(&self, shared: &Shared, _windows: &Windows) -> Vec<Finding> {
        shared
            .sites
            .iter()
            .filter(|(_, site, _)| site.alloc.amplified.load(Relaxed) > 0)
            .map(|(_, site, meta)| {
                let a = &site.alloc;
                let amplified = a.amplified.load(Relaxed);
                let allocated = a.amplified_allocated.load(Relaxed);
                let items = a.amplified_items.load(Relaxed);
                let mut evidence = vec![
                    Evidence::new(
                        "worst_allocated_per_retained",
                        a.worst_amplification_milli.load(Relaxed) as f64 / 1000.0,
                        "ratio",
                    ),
                    Evidence::new(
                        "allocated_bytes_per_instance",
                        allocated as f64 / amplified.max(1) as f64,
                        "bytes",
                    ),
                    Evidence::new(
                        "retained_bytes_per_instance",
                        a.amplified_retained.load(Relaxed) as f64 / amplified.max(1) as f64,
                        "bytes",
                    ),
                    Evidence::new("instances", a.instances.load(Relaxed) as f64, "count"),
                ];
                if items > 0 {
                    evidence.push(Evidence::new(
                        "allocated_bytes_per_item",
                        allocated as f64 / items as f64,
                        "bytes",
                    ));
                }
                at_site(FindingKind::AllocationAmplification, Severity::Info, meta)
                    .with_count(amplified)
                    .with_evidence(evidence)
                    .with_fix(FIX)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let mib = |n: &str| f.evidence(n).unwrap_or(0.0) / (1024.0 * 1024.0);
        let mut s = format!(
            "`{}` at {} allocated {:.1} MiB per instance but kept only {:.1} MiB ({} instance{} \
             at {AMPLIFICATION_RATIO}x or more)",
            f.span,
            f.location,
            mib("allocated_bytes_per_instance"),
            mib("retained_bytes_per_instance"),
            f.count,
            if f.count == 1 { "" } else { "s" },
        );
        if let Some(per_item) = f.evidence("allocated_bytes_per_item") {
            s.push_str(&format!(", {per_item:.0} bytes per item"));
        }
        s.push_str(": its stages copy the data over and over.");
        s
    }

    fn summary(&self, findings: &[Finding]) -> String {
        format!(
            "{} call site{} copied their data many times over.",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        )
    }
}
