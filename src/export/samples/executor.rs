//! Fills the executor rows: findings, blocking polls, stalls, lag, call
//! sites and the endpoint's snapshots.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::Families;
use crate::finding::Finding;
use crate::state::histogram::{LAG_BUCKETS, POLL_BUCKETS};
use crate::state::{Shared, Stall};

pub(super) fn collect(
    fams: &mut Families,
    shared: &Shared,
    findings: &[Finding],
    stalls: &[Stall],
) {
    let secs = |ns: u64| ns as f64 / 1e9;
    fams.family("tokio_doctor_build_info")
        .scalar(vec![env!("CARGO_PKG_VERSION").into()], 1.0);

    let f = fams.family("tokio_doctor_findings_total");
    for finding in findings {
        let labels = vec![
            finding.kind.as_str().into(),
            finding.span.clone(),
            finding.location.clone(),
        ];
        f.scalar(labels, finding.count as f64);
    }

    let f = fams.family("tokio_doctor_finding_peak");
    for finding in findings {
        if let Some(peak) = finding.peak {
            let labels = vec![
                finding.kind.as_str().into(),
                finding.span.clone(),
                finding.location.clone(),
            ];
            f.scalar(labels, peak);
        }
    }

    let f = fams.family("tokio_doctor_finding_cost_seconds");
    for finding in findings {
        let labels = vec![
            finding.kind.as_str().into(),
            finding.span.clone(),
            finding.location.clone(),
        ];
        f.scalar(labels, finding.cost_seconds);
    }
    let f = fams.family("tokio_doctor_finding_evidence");
    for finding in findings {
        for e in &finding.evidence {
            let labels = vec![
                finding.kind.as_str().into(),
                finding.span.clone(),
                finding.location.clone(),
                e.name.into(),
            ];
            f.scalar(labels, e.value);
        }
    }

    let mut blocked = Vec::new();
    for (_, site, meta) in shared.sites.iter() {
        let polls = site.blocking.polls.load(Relaxed);
        if polls > 0 {
            let labels = vec![meta.span.clone(), meta.location.clone()];
            blocked.push((
                labels,
                site.blocking.total_ns.load(Relaxed),
                site.blocking.worst_ns.load(Relaxed),
            ));
        }
    }
    let f = fams.family("tokio_doctor_blocking_poll_seconds_total");
    for (labels, total, _) in &blocked {
        f.scalar(labels.clone(), secs(*total));
    }
    let f = fams.family("tokio_doctor_blocking_poll_worst_seconds");
    for (labels, _, worst) in &blocked {
        f.scalar(labels.clone(), secs(*worst));
    }

    fams.family("tokio_doctor_poll_duration_seconds")
        .histogram(&POLL_BUCKETS, &shared.poll_histogram());

    fams.family("tokio_doctor_stalled_polls")
        .scalar(vec![], stalls.len() as f64);
    let mut by_site: BTreeMap<u32, u64> = BTreeMap::new();
    for s in stalls {
        let e = by_site.entry(s.site).or_default();
        *e = (*e).max(s.running_ns);
    }
    let f = fams.family("tokio_doctor_stalled_poll_seconds");
    for (site, ns) in by_site {
        if let Some(meta) = shared.sites.get(site).meta.get() {
            f.scalar(vec![meta.span.clone(), meta.location.clone()], secs(ns));
        }
    }

    fams.family("tokio_doctor_preempted_polls_total")
        .scalar(vec![], shared.preempted_polls() as f64);
    let f = fams.family("tokio_doctor_stalls_total");
    for (site, n) in crate::util::lock(&shared.stall_counts).iter() {
        if let Some(meta) = shared.sites.get(*site).meta.get() {
            f.scalar(vec![meta.span.clone(), meta.location.clone()], *n as f64);
        }
    }

    let f = fams.family("tokio_doctor_blocking_frames_total");
    for (site, function, frame_location, n) in shared.frames.counts() {
        if let Some(meta) = shared.sites.get(site).meta.get() {
            let labels = vec![
                meta.span.clone(),
                meta.location.clone(),
                function,
                frame_location,
            ];
            f.scalar(labels, n as f64);
        }
    }

    fams.family("tokio_doctor_event_loop_lag_seconds")
        .histogram(&LAG_BUCKETS, &shared.lag.snapshot());
    let lag_max = shared
        .lag_max_last_ns
        .load(Relaxed)
        .max(shared.lag_max_ns.load(Relaxed));
    fams.family("tokio_doctor_event_loop_lag_max_seconds")
        .scalar(vec![], secs(lag_max));
    fams.family("tokio_doctor_live_spans")
        .scalar(vec![], shared.live_spans().max(0) as f64);
    fams.family("tokio_doctor_call_sites")
        .scalar(vec![], shared.sites.iter().count().saturating_sub(1) as f64);
    fams.family("tokio_doctor_labels_folded_total")
        .scalar(vec![], shared.sites.folded.load(Relaxed) as f64);
    fams.family("tokio_doctor_endpoint_snapshots_total")
        .scalar(vec![], shared.endpoint_snapshots.load(Relaxed) as f64);
}
