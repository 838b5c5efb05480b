//! A task per item instead of batches and a bounded pool.
//!
//! **Signal.** Spawns outrunning completions at one spawn site
//! ([`tokio_doctor::spawn`](crate::spawn), or tokio's task spans with
//! `tokio_unstable`): live tasks at or over the threshold (default
//! 10,000), or spawns outrunning completions tenfold over the task window
//! with over a tenth of the threshold alive; either way the tasks must
//! have been handed out as a list, 512 or more spawned back to back (an
//! accept loop's runs were measured under 200). Or, when no spawn site explains them,
//! the runtime's own live tasks over the threshold after growing at
//! 50,000 a second or more between two samples.
//!
//! **Not connections.** A task per connection from one accept loop is
//! tokio's design: long-lived, mostly idle, and spawned one accept at a
//! time as clients connect, so a server holding 20,000 connections never
//! makes the burst a loop over items does.
//!
//! **Quantity.** Live tasks now and at the peak, spawn and completion
//! rates when the tasks piled up, spawns and completions in all, and the
//! longest run of spawns. The finding's `count` (the counter
//! `tokio_doctor_findings_total`) is the number of samples, one per sample
//! interval, that found the tasks piled up (at least the threshold alive,
//! or spawns outrunning completions tenfold), at least 1 once the peak
//! crossed the threshold: it only grows, so `increase()` says how long a
//! site stayed piled up. The peak itself is the gauge
//! `tokio_doctor_finding_peak`.
//!
//! **Silent on** a fixed pool of workers over batches, on many tasks that
//! finish as fast as they are spawned, and on a task per connection.

use std::sync::atomic::Ordering::Relaxed;

use super::at_site;
use super::shape_sampler::{excess_burst, RUNTIME_BURST_PER_SECOND};
use super::Detector;
use super::Windows;
use crate::finding::{Evidence, Finding, FindingKind, Severity};
use crate::state::Shared;
use crate::util::lock;

pub(crate) const FIX: &str = "process items in batches on a fixed pool of workers (a JoinSet \
    of n tasks, or a Semaphore of n permits acquired before each spawn) instead of a task per \
    item: each live task holds its future, its captures and scheduler state";

pub(crate) struct ExcessTasks;

impl Detector for ExcessTasks {
    fn check(&self, shared: &Shared, windows: &Windows) -> Vec<Finding> {
        let threshold = shared.config.shape.excess_tasks;
        let tracks = lock(&windows.shape.tasks);
        let mut out = Vec::new();
        for (idx, site, meta) in shared.sites.iter() {
            let Some(t) = site.shape.tasks.get() else {
                continue;
            };
            let peak = t.peak();
            let track = tracks.get(&idx);
            let runaway = track.map_or(0, |tr| tr.runaway_hits);
            let hits = track.map_or(0, |tr| tr.excess_hits);
            let burst = t.burst_peak();
            if (peak < threshold || burst < excess_burst(threshold)) && runaway == 0 {
                continue;
            }
            let (spawned, finished) = t.counts();
            // The rates when the most tasks were alive, or when spawns
            // outran completions the most: what piled them up.
            let rates = track
                .map(|tr| {
                    if runaway > 0 {
                        tr.runaway_best
                    } else {
                        tr.at_peak
                    }
                })
                .unwrap_or_default();
            let f = at_site(FindingKind::ExcessTasks, Severity::Warning, meta)
                // At least one once the finding shows: the peak may have
                // come and gone between two samples.
                .with_count(hits.max(1))
                .with_peak(peak as f64)
                .with_evidence([
                    Evidence::new("live_tasks", t.live() as f64, "count"),
                    Evidence::new("peak_live_tasks", peak as f64, "count"),
                    Evidence::new("spawned_per_second", rates.spawned, "1/second"),
                    Evidence::new("completed_per_second", rates.finished, "1/second"),
                    Evidence::new("spawned", spawned as f64, "count"),
                    Evidence::new("completed", finished as f64, "count"),
                    Evidence::new("threshold_tasks", threshold as f64, "count"),
                    Evidence::new("peak_burst", burst as f64, "count"),
                ])
                .with_fix(FIX);
            out.push(f);
        }
        let runtime_peak = windows.shape.runtime_peak.load(Relaxed);
        let growth = windows.shape.runtime_growth();
        if out.is_empty() && runtime_peak >= threshold && growth >= RUNTIME_BURST_PER_SECOND {
            let live = windows.shape.runtime_live.load(Relaxed);
            let f = Finding::new(
                FindingKind::ExcessTasks,
                Severity::Warning,
                "runtime",
                "runtime",
                "runtime",
            )
            .with_count(windows.shape.runtime_excess_hits.load(Relaxed).max(1))
            .with_peak(runtime_peak as f64)
            .with_evidence([
                Evidence::new("live_tasks", live as f64, "count"),
                Evidence::new("peak_live_tasks", runtime_peak as f64, "count"),
                Evidence::new("threshold_tasks", threshold as f64, "count"),
                Evidence::new("peak_growth_per_second", growth, "1/second"),
            ])
            .with_fix(FIX);
            out.push(f);
        }
        out
    }

    fn sentence(&self, f: &Finding) -> String {
        let ev = |n| f.evidence(n).unwrap_or(0.0);
        // The runtime-wide finding has no spawn site, so no spawn counts.
        if f.evidence("spawned").is_none() {
            return format!(
                "The runtime had up to {:.0} tasks alive at once (now {:.0}, threshold {:.0}); \
                 spawn with tokio_doctor::spawn (or build with --cfg tokio_unstable) to name the \
                 spawn site.",
                ev("peak_live_tasks"),
                ev("live_tasks"),
                ev("threshold_tasks")
            );
        }
        format!(
            "Spawn site {} had up to {:.0} tasks alive at once (now {:.0}, threshold {:.0}), \
             spawning {:.0}/s while {:.0}/s completed ({:.0} spawned, {:.0} completed in all).",
            f.location,
            ev("peak_live_tasks"),
            ev("live_tasks"),
            ev("threshold_tasks"),
            ev("spawned_per_second"),
            ev("completed_per_second"),
            ev("spawned"),
            ev("completed"),
        )
    }

    fn summary(&self, findings: &[Finding]) -> String {
        let peak = findings
            .iter()
            .filter_map(|f| f.evidence("peak_live_tasks"))
            .fold(0.0, f64::max);
        format!(
            "{} spawn site{} kept far more tasks alive than useful (up to {:.0}).",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            peak
        )
    }
}
