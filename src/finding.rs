//! Findings: what a detector concluded, as data.
//!
//! The same [`Finding`] feeds the `tokio_doctor_findings_total` counter, the
//! `/doctor` report and the CLI, so they never disagree.

use serde::Serialize;

/// The anti-pattern a finding reports: the spec's table of scenarios.
///
/// The string forms ([`FindingKind::as_str`]) are the `kind` label of
/// `tokio_doctor_findings_total` and are kept stable for users' dashboards
/// and alerts.
///
/// # Examples
/// ```
/// use tokio_doctor::FindingKind;
/// assert_eq!(FindingKind::BlockingPoll.as_str(), "blocking_poll");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingKind {
    /// Scenario 1: independent awaits run one after another.
    SerialAwaits,
    /// Scenario 2: thousands of concurrent children from one site.
    UnboundedFanout,
    /// Scenario 3: concurrency not sized by Little's Law (advice, not alarm).
    ConcurrencyAdvice,
    /// Scenarios 4 and 9: async machinery for work that never suspends.
    TrivialAsync,
    /// Scenario 5: a poll that blocks the executor.
    BlockingPoll,
    /// Scenario 6: a large result materialized instead of streamed.
    Materialization,
    /// Scenario 7: a new connection per request.
    ConnectionChurn,
    /// Scenario 8: a queue growing without back-pressure.
    QueueGrowth,
    /// Scenario 9: far more live tasks than useful.
    ExcessTasks,
    /// Scenario 10: pipelines copying the data many times.
    AllocationAmplification,
    /// Scenario 11: a held resource kept across an `.await`.
    HeldAcrossAwait,
    /// Scenario 11: slow work done while holding a resource.
    SlowWorkWhileHeld,
    /// Scenario 12: an outbound call with no deadline in scope.
    MissingDeadline,
    /// Scenario 12: a call that outlived its deadline.
    DeadlineOverrun,
}

impl FindingKind {
    /// Every kind, in the spec's order.
    pub const ALL: [FindingKind; 14] = [
        FindingKind::SerialAwaits,
        FindingKind::UnboundedFanout,
        FindingKind::ConcurrencyAdvice,
        FindingKind::TrivialAsync,
        FindingKind::BlockingPoll,
        FindingKind::Materialization,
        FindingKind::ConnectionChurn,
        FindingKind::QueueGrowth,
        FindingKind::ExcessTasks,
        FindingKind::AllocationAmplification,
        FindingKind::HeldAcrossAwait,
        FindingKind::SlowWorkWhileHeld,
        FindingKind::MissingDeadline,
        FindingKind::DeadlineOverrun,
    ];

    /// The stable label value, e.g. `"blocking_poll"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::SerialAwaits => "serial_awaits",
            FindingKind::UnboundedFanout => "unbounded_fanout",
            FindingKind::ConcurrencyAdvice => "concurrency_advice",
            FindingKind::TrivialAsync => "trivial_async",
            FindingKind::BlockingPoll => "blocking_poll",
            FindingKind::Materialization => "materialization",
            FindingKind::ConnectionChurn => "connection_churn",
            FindingKind::QueueGrowth => "queue_growth",
            FindingKind::ExcessTasks => "excess_tasks",
            FindingKind::AllocationAmplification => "allocation_amplification",
            FindingKind::HeldAcrossAwait => "held_across_await",
            FindingKind::SlowWorkWhileHeld => "slow_work_while_held",
            FindingKind::MissingDeadline => "missing_deadline",
            FindingKind::DeadlineOverrun => "deadline_overrun",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgently a finding needs a person.
///
/// # Examples
/// ```
/// use tokio_doctor::Severity;
/// assert!(Severity::Critical > Severity::Warning);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Advice: worth a look when tuning.
    Info,
    /// Costing latency or capacity now.
    Warning,
    /// Stalling the service now.
    Critical,
}

/// One measured figure backing a finding.
///
/// # Examples
/// ```
/// let e = tokio_doctor::Evidence::new("blocked_seconds", 0.25, "seconds");
/// assert_eq!(e.value, 0.25);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What was measured, in snake_case, ending with its unit when it has
    /// one (`blocked_seconds`, `peak_bytes`; a bare count otherwise), so
    /// the `evidence` label of `tokio_doctor_finding_evidence` says its unit.
    pub name: &'static str,
    /// The value, in `unit`.
    pub value: f64,
    /// Base unit of `value` (`seconds`, `bytes`, `count`, ...).
    pub unit: &'static str,
}

impl Evidence {
    /// Creates a figure.
    pub fn new(name: &'static str, value: f64, unit: &'static str) -> Evidence {
        Evidence { name, value, unit }
    }
}

/// A diagnosis: which anti-pattern, where in the code, what it costs, and
/// how to fix it.
///
/// # Examples
/// ```
/// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
/// for f in doctor.findings() {
///     println!("{} at {}: {}", f.kind, f.location, f.message);
/// }
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The anti-pattern.
    pub kind: FindingKind,
    /// How urgent it is.
    pub severity: Severity,
    /// Span name of the call site (or `runtime.spawn` for a task span).
    pub span: String,
    /// Target (module path) of the call site.
    pub target: String,
    /// `file:line` of the call site (or spawn location).
    pub location: String,
    /// How many times it was observed since the doctor started.
    pub count: u64,
    /// What it cost, in seconds; findings are ranked by it.
    pub cost_seconds: f64,
    /// The figures behind the finding.
    pub evidence: Vec<Evidence>,
    /// One full sentence saying what happened, where, and what it cost.
    pub message: String,
    /// One line saying how to fix it.
    pub fix: String,
}

impl Finding {
    /// The value of the named evidence figure, if present.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::*;
    /// # let f = Finding { kind: FindingKind::BlockingPoll, severity: Severity::Warning,
    /// #   span: "s".into(), target: "t".into(), location: "l".into(), count: 1,
    /// #   cost_seconds: 0.1, evidence: vec![Evidence::new("worst_poll_seconds", 0.1, "seconds")],
    /// #   message: String::new(), fix: String::new() };
    /// assert_eq!(f.evidence("worst_poll_seconds"), Some(0.1));
    /// ```
    pub fn evidence(&self, name: &str) -> Option<f64> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value)
    }
}
