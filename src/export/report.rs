//! The report behind `/doctor`: findings ranked by cost, with the lag and
//! its history over the last minutes.

use serde::Serialize;

pub use crate::state::lag_history::LagPoint;
pub use crate::state::trends::{Trend, TrendPoint};

use crate::detect::Conclusions;
use crate::finding::Finding;
use crate::state::histogram::LAG_BUCKETS;
use crate::state::Shared;

/// Event-loop lag figures from the lag probe's histogram (bucket upper
/// bounds, so p50/p99 are "at most").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagSummary {
    /// Median lag, in seconds (upper bound of its bucket).
    pub p50_seconds: Option<f64>,
    /// 99th percentile lag, in seconds (upper bound of its bucket).
    pub p99_seconds: Option<f64>,
    /// Largest lag in the last sampler interval, in seconds.
    pub max_seconds: f64,
    /// Probe samples taken since start.
    pub samples: u64,
}

/// Everything `/doctor` shows: what [`crate::Doctor::report`] returns.
///
/// # Examples
/// ```
/// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
/// let report = doctor.report();
/// assert!(report.findings.is_empty());
/// println!("{}", serde_json::to_string_pretty(&report).unwrap());
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// tokio-doctor's version.
    pub version: &'static str,
    /// Seconds since the doctor was built.
    pub uptime_seconds: f64,
    /// Findings, most severe and most costly first.
    pub findings: Vec<Finding>,
    /// One sentence per finding kind present.
    pub summary: Vec<String>,
    /// What the doctor cannot see and why, said once each (e.g. a
    /// `TaskMonitorLayer` around the whole app, which names no route).
    pub notes: Vec<String>,
    /// The event-loop lag.
    pub event_loop_lag: LagSummary,
    /// Polls running past the blocking threshold right now.
    pub stalled_polls: usize,
    /// Polls timed since start.
    pub polls: u64,
    /// The lag over the last minutes, one point per sampler interval,
    /// oldest first: ten minutes at the default one-second interval.
    pub lag_history: Vec<LagPoint>,
    /// The short time series the findings' charts draw (a queue's depth,
    /// calls in flight, pool slots held, live tasks), one point per
    /// sampler interval over the last two minutes: only those named like
    /// a finding (same `span` and `location`), in the order of the
    /// findings.
    pub trends: Vec<Trend>,
}

/// The report of `findings`, with `stalled` polls running past the
/// threshold now (both from one [`Snapshot`](super::snapshot::Snapshot)).
pub(crate) fn build(shared: &Shared, concluded: Conclusions, stalled: usize) -> Report {
    let Conclusions {
        findings,
        summaries,
    } = concluded;
    let lag = shared.lag.snapshot();
    let max_ns = shared
        .lag_max_last_ns
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(shared.lag_max_ns.load(std::sync::atomic::Ordering::Relaxed));
    Report {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: shared.created.elapsed().as_secs_f64(),
        summary: summaries,
        notes: shared.routes.notes(),
        event_loop_lag: LagSummary {
            p50_seconds: lag.quantile_upper_bound(&LAG_BUCKETS, 0.5),
            p99_seconds: lag.quantile_upper_bound(&LAG_BUCKETS, 0.99),
            max_seconds: max_ns as f64 / 1e9,
            samples: lag.count(),
        },
        stalled_polls: stalled,
        polls: shared.poll_histogram().count(),
        lag_history: crate::util::lock(&shared.lag_history).points(),
        trends: trends_of(shared, &findings),
        findings,
    }
}

/// The trends of the findings' call sites, each once, in findings order.
fn trends_of(shared: &Shared, findings: &[Finding]) -> Vec<Trend> {
    let trends = crate::util::lock(&shared.trends);
    let mut seen = std::collections::HashSet::new();
    findings
        .iter()
        .filter(|f| seen.insert((f.span.as_str(), f.location.as_str())))
        .flat_map(|f| trends.of(&f.span, &f.location))
        .collect()
}
