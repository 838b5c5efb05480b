//! Detectors: one file per anti-pattern, one shared trait.
//!
//! A detector reads the state the layer and monitors keep and turns it into
//! [`Finding`]s. It runs off the hot path (on a scrape, a report or the
//! sampler), so it may allocate and take locks.

#[cfg(feature = "alloc")]
pub(crate) mod allocation_amplification;
pub(crate) mod blocking_poll;
pub(crate) mod concurrency_advice;
pub(crate) mod connection_churn;
pub(crate) mod deadline_overrun;
pub(crate) mod excess_tasks;
pub(crate) mod held_across_await;
#[cfg(feature = "alloc")]
pub(crate) mod materialization;
pub(crate) mod missing_deadline;
pub(crate) mod queue_growth;
pub(crate) mod route_slow_polls;
pub(crate) mod serial_awaits;
pub(crate) mod shape_sampler;
pub(crate) mod slow_work_while_held;
pub(crate) mod trivial_async;
pub(crate) mod unbounded_fanout;
mod windows;

pub(crate) use windows::Windows;

use crate::finding::{Finding, FindingKind, Severity};
use crate::state::sites::SiteMeta;
use crate::state::Shared;

/// What every detector implements.
pub(crate) trait Detector: Send + Sync {
    /// Looks at the current state and returns one finding per call site.
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding>;
    /// One full sentence describing a single finding; `conclude` writes it
    /// into the finding's `message`. What `check` left in `message` is a
    /// draft only this detector reads (the names of an inner span, a stack).
    fn sentence(&self, finding: &Finding) -> String;
    /// One sentence summarising several findings of this detector.
    fn summary(&self, findings: &[Finding]) -> String;
}

/// A finding at a call site of the sites table, named as its labels name
/// it; most detectors report per site, so they start here.
pub(crate) fn at_site(kind: FindingKind, severity: Severity, meta: &SiteMeta) -> Finding {
    Finding::new(
        kind,
        severity,
        meta.span.clone(),
        meta.target.clone(),
        meta.location.clone(),
    )
}

/// Every detector of this build, in the spec's order.
pub(crate) fn all() -> Vec<Box<dyn Detector>> {
    let mut all: Vec<Box<dyn Detector>> = vec![
        Box::new(serial_awaits::SerialAwaits),
        Box::new(unbounded_fanout::UnboundedFanout),
        Box::new(concurrency_advice::ConcurrencyAdvice),
        Box::new(trivial_async::TrivialAsync),
        Box::new(blocking_poll::BlockingPoll),
        Box::new(route_slow_polls::RouteSlowPolls),
        Box::new(connection_churn::ConnectionChurn),
        Box::new(queue_growth::QueueGrowth),
        Box::new(excess_tasks::ExcessTasks),
        Box::new(held_across_await::HeldAcrossAwait),
        Box::new(slow_work_while_held::SlowWorkWhileHeld),
        Box::new(missing_deadline::MissingDeadline),
        Box::new(deadline_overrun::DeadlineOverrun),
    ];
    all.extend(alloc_detectors());
    all
}

/// The memory detectors (scenarios 6 and 10), with the `alloc` feature.
#[cfg(feature = "alloc")]
fn alloc_detectors() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(materialization::Materialization),
        Box::new(allocation_amplification::AllocationAmplification),
    ]
}

/// Without the `alloc` feature there is nothing to attribute.
#[cfg(not(feature = "alloc"))]
fn alloc_detectors() -> Vec<Box<dyn Detector>> {
    Vec::new()
}

/// The detectors of one doctor and the windows they keep, built once;
/// the sampler feeds the windows, a snapshot runs the detectors.
#[derive(Debug, Default)]
pub(crate) struct Detectors {
    pub(crate) windows: Windows,
}

impl Detectors {
    /// One sampler tick: every detector with a window takes its sample.
    pub(crate) fn sample(&self, shared: &Shared, handle: &tokio::runtime::Handle) {
        let w = &self.windows;
        queue_growth::sample(shared, w);
        connection_churn::sample(shared, w);
        held_across_await::sample(shared, w);
        shape_sampler::sample(shared, w, handle);
    }

    /// Runs every detector once: its findings with their sentences written
    /// in, sorted by severity then cost (highest first), and one summary
    /// per detector that found something. Two detectors may share a kind
    /// (the span and route views of `blocking_poll`), so summaries go by
    /// the detector that made the findings, never by what they say.
    pub(crate) fn conclude(&self, shared: &Shared) -> Conclusions {
        let mut findings = Vec::new();
        let mut summaries = Vec::new();
        for d in all() {
            let mut mine = d.check(shared, &self.windows);
            if mine.is_empty() {
                continue;
            }
            for f in &mut mine {
                f.message = d.sentence(f);
            }
            mine.sort_by(most_severe_and_costly_first);
            summaries.push(d.summary(&mine));
            findings.append(&mut mine);
        }
        findings.sort_by(most_severe_and_costly_first);
        Conclusions {
            findings,
            summaries,
        }
    }
}

fn most_severe_and_costly_first(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.cost_seconds.total_cmp(&a.cost_seconds))
}

/// What one run of every detector concluded.
#[derive(Debug)]
pub(crate) struct Conclusions {
    pub(crate) findings: Vec<Finding>,
    /// One sentence per detector that found something, in the detectors' order.
    pub(crate) summaries: Vec<String>,
}
