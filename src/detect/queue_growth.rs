//! Scenario 8: an unbounded queue growing without back-pressure.
//!
//! **Signal.** Once per sample interval the sampler reads every watched
//! queue's depth; over the queue window (default 10 s) a least-squares line
//! through the depths has a slope of at least one item a second, fits well
//! (R² ≥ 0.6: rising *steadily*, not a burst), ends higher than it began,
//! and the depth is over the floor (default 100).
//!
//! **Quantity.** Growth per second, producer and consumer rates, and the
//! time until the configured limit is reached.
//!
//! **Silent on.** Bounded channels: full is back-pressure working, shown as
//! `tokio_doctor_queue_saturation`; queues that drain as fast as they fill.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::queue::registry::{self, QueueStats};
use crate::state::series::{fit, Series};
use crate::state::Shared;
use crate::util::lock;

/// Least slope, in items per second, that counts as growth.
pub(crate) const MIN_GROWTH_PER_SECOND: f64 = 1.0;
/// Least R² of the fit: the depth must rise steadily, not in one burst.
pub(crate) const MIN_FIT: f64 = 0.6;

pub(crate) const FIX: &str = "bound the queue (tokio_doctor::queue::channel(name, capacity)) so \
    producers wait when consumers fall behind (back-pressure), add consumers, or shed/batch \
    work; an unbounded queue only defers the crash";

/// What the sampler keeps about one queue, per doctor.
#[derive(Debug)]
pub(crate) struct QueueTrack {
    stats: Arc<QueueStats>,
    /// (depth, enqueued, dequeued) over time.
    series: Series<3>,
    growing_checks: u64,
    pub(crate) growth: Option<Growth>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Growth {
    pub(crate) per_second: f64,
    fit: f64,
    depth: f64,
    first_depth: f64,
    producer_per_second: Option<f64>,
    consumer_per_second: Option<f64>,
}

impl Growth {
    fn is_growing(&self, floor: u64) -> bool {
        self.per_second >= MIN_GROWTH_PER_SECOND
            && self.fit >= MIN_FIT
            && self.depth > self.first_depth
            && self.depth >= floor as f64
    }
}

/// Sampler side: reads every queue and updates the doctor's tracks.
pub(crate) fn sample(shared: &Shared, windows: &Windows) {
    let t = shared.created.elapsed().as_secs_f64();
    let cfg = &shared.config;
    let window = cfg.queue_window.as_secs_f64();
    let points = (window / cfg.sample_interval.as_secs_f64()).ceil() as usize + 2;
    let mut tracks = lock(&windows.queues);
    for q in registry::all() {
        let track = tracks.entry(q.name).or_insert_with(|| QueueTrack {
            stats: q.clone(),
            series: Series::new(points),
            growing_checks: 0,
            growth: None,
        });
        let depth = q.depth() as f64;
        track.series.push(
            t,
            [
                depth,
                q.enqueued.load(Relaxed) as f64,
                q.dequeued.load(Relaxed) as f64,
            ],
        );
        track.growth = evaluate(&track.series, window, q.is_watched());
        if q.capacity.is_none()
            && track
                .growth
                .is_some_and(|g| g.is_growing(cfg.queue_depth_floor))
        {
            track.growing_checks += 1;
        }
    }
}

fn evaluate(series: &Series<3>, window: f64, watched: bool) -> Option<Growth> {
    let pts = series.window(window);
    // At least 80% of the window covered, and 4 points.
    let (first, last) = (pts.first()?, pts.last()?);
    let span = last.0 - first.0;
    if pts.len() < 4 || span < 0.8 * window {
        return None;
    }
    let depth: Vec<(f64, f64)> = pts.iter().map(|(t, v)| (*t, v[0])).collect();
    let (per_second, fit) = fit(&depth)?;
    let rate = |i: usize| (!watched).then(|| (last.1[i] - first.1[i]) / span);
    Some(Growth {
        per_second,
        fit,
        depth: last.1[0],
        first_depth: first.1[0],
        producer_per_second: rate(1),
        consumer_per_second: rate(2),
    })
}

pub(crate) struct QueueGrowth;

impl Detector for QueueGrowth {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let cfg = &shared.config;
        let tracks = lock(&windows.queues);
        tracks
            .values()
            .filter(|t| t.growing_checks > 0)
            .map(|t| {
                let g = t.growth;
                let growing = g.is_some_and(|g| g.is_growing(cfg.queue_depth_floor));
                let per_second = g.map_or(0.0, |g| g.per_second);
                let depth = t.stats.depth() as f64;
                let mut evidence = vec![
                    Evidence::new("growth_per_second", per_second, "items/second"),
                    Evidence::new("depth", depth, "items"),
                    Evidence::new("growing_now", if growing { 1.0 } else { 0.0 }, "bool"),
                    Evidence::new("window_seconds", cfg.queue_window.as_secs_f64(), "seconds"),
                ];
                if let Some(p) = g.and_then(|g| g.producer_per_second) {
                    evidence.push(Evidence::new("producer_per_second", p, "items/second"));
                }
                if let Some(c) = g.and_then(|g| g.consumer_per_second) {
                    evidence.push(Evidence::new("consumer_per_second", c, "items/second"));
                }
                let mut severity = if growing {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                if let (Some(limit), true) = (cfg.queue_limit, growing && per_second > 0.0) {
                    let secs = (limit as f64 - depth).max(0.0) / per_second;
                    evidence.push(Evidence::new("seconds_to_limit", secs, "seconds"));
                    if secs < 300.0 {
                        severity = Severity::Critical;
                    }
                }
                Finding::new(
                    FindingKind::QueueGrowth,
                    severity,
                    t.stats.name,
                    "queue",
                    t.stats.location.clone(),
                )
                .with_count(t.growing_checks)
                .with_cost_seconds(t.growing_checks as f64 * cfg.sample_interval.as_secs_f64())
                .with_evidence(evidence)
                .with_fix(FIX)
            })
            .collect()
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n);
        let mut s = if ev("growing_now") == Some(1.0) {
            format!(
                "Queue `{}` (created at {}) is growing by {:.0} items/s over the last {:.0} s, to {:.0} items",
                f.span,
                f.location,
                ev("growth_per_second").unwrap_or(0.0),
                ev("window_seconds").unwrap_or(0.0),
                ev("depth").unwrap_or(0.0)
            )
        } else {
            format!(
                "Queue `{}` (created at {}) grew steadily for {:.0} s earlier and now holds {:.0} items",
                f.span,
                f.location,
                f.cost_seconds,
                ev("depth").unwrap_or(0.0)
            )
        };
        if let (Some(p), Some(c)) = (ev("producer_per_second"), ev("consumer_per_second")) {
            s.push_str(&format!(" (producer {p:.0}/s, consumer {c:.0}/s)"));
        }
        if let Some(secs) = ev("seconds_to_limit") {
            s.push_str(&format!(
                "; at this rate it reaches its limit in {secs:.0} s"
            ));
        }
        s.push('.');
        s
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let growing = findings
            .iter()
            .filter(|f| f.evidence("growing_now") == Some(1.0))
            .count();
        format!(
            "{} queue{} grew without back-pressure ({} growing now).",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            growing
        )
    }
}

/// For the exporter: (name, growth per second) of every tracked queue.
pub(crate) fn growth_by_queue(windows: &Windows) -> Vec<(&'static str, f64)> {
    lock(&windows.queues)
        .iter()
        .map(|(n, t)| (*n, t.growth.map_or(0.0, |g| g.per_second)))
        .collect()
}
