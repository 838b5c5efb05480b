//! Fills the rows of held resources, outbound calls, deadlines and joins.

use std::sync::atomic::Ordering::Relaxed;

use super::Families;
use crate::state::held::HeldStats;
use crate::state::histogram::Snapshot;
use crate::state::outbound::LATENCY_BUCKETS;
use crate::state::Shared;

pub(super) fn collect(fams: &mut Families, shared: &Shared, windows: &crate::detect::Windows) {
    let secs = |ns: u64| ns as f64 / 1e9;
    let name_of = |idx: u32| {
        shared
            .sites
            .get(idx)
            .meta
            .get()
            .map(|m| (m.span.clone(), m.location.clone()))
            .unwrap_or_else(|| ("other".into(), "other".into()))
    };
    let slots = crate::detect::held_across_await::slots_lost(windows);
    let held: Vec<_> = shared
        .sites
        .iter()
        .filter_map(|(idx, site, meta)| {
            let h = site.held.get()?;
            Some((idx, vec![meta.span.clone(), meta.location.clone()], h))
        })
        .collect();
    type Read = fn(&HeldStats) -> f64;
    let counters: [(&str, Read); 4] = [
        ("tokio_doctor_held_total", |h| h.holds.load(Relaxed) as f64),
        ("tokio_doctor_held_seconds_total", |h| {
            h.hold_ns.load(Relaxed) as f64 / 1e9
        }),
        ("tokio_doctor_held_across_await_total", |h| {
            h.across_await.load(Relaxed) as f64
        }),
        ("tokio_doctor_held_idle_seconds_total", |h| {
            h.idle_ns.load(Relaxed) as f64 / 1e9
        }),
    ];
    for (name, read) in counters {
        let f = fams.family(name);
        for (_, labels, h) in &held {
            f.scalar(labels.clone(), read(h));
        }
    }
    let f = fams.family("tokio_doctor_held_slots_lost");
    for (idx, labels, _) in &held {
        f.scalar(labels.clone(), slots.get(idx).copied().unwrap_or(0.0));
    }
    let f = fams.family("tokio_doctor_held_open");
    for (_, labels, h) in &held {
        f.scalar(labels.clone(), h.open.load(Relaxed) as f64);
    }
    let inner: Vec<_> = held
        .iter()
        .flat_map(|(_, labels, h)| {
            h.inner().into_iter().map(move |s| {
                let (span, loc) = name_of(s.site);
                let mut l = labels.clone();
                l.extend([span, loc]);
                (l, s)
            })
        })
        .collect();
    let f = fams.family("tokio_doctor_held_slow_work_total");
    for (labels, s) in &inner {
        f.scalar(labels.clone(), s.count as f64);
    }
    let f = fams.family("tokio_doctor_held_slow_work_seconds_total");
    for (labels, s) in &inner {
        f.scalar(labels.clone(), secs(s.total_ns));
    }

    let outbound: Vec<_> = crate::state::outbound::sites_with_calls(shared)
        .into_iter()
        .map(|(meta, o, open)| (vec![meta.span.clone(), meta.location.clone()], o, open))
        .collect();
    let f = fams.family("tokio_doctor_outbound_calls_total");
    for (labels, o, _) in &outbound {
        f.scalar(labels.clone(), o.calls.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_outbound_seconds_total");
    for (labels, o, _) in &outbound {
        f.scalar(labels.clone(), secs(o.duration_ns.load(Relaxed)));
    }
    let f = fams.family("tokio_doctor_outbound_in_flight");
    for (labels, _, open) in &outbound {
        f.scalar(labels.clone(), open.in_flight as f64);
    }
    let f = fams.family("tokio_doctor_missing_deadline_calls_total");
    for (labels, o, _) in &outbound {
        f.scalar(labels.clone(), o.no_deadline_calls.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_missing_deadline_duration_seconds");
    for (labels, o, _) in &outbound {
        let (counts, sum_ns) = o.no_deadline_latency.snapshot();
        f.histogram_with(
            labels.clone(),
            &LATENCY_BUCKETS,
            &Snapshot { counts, sum_ns },
        );
    }
    let f = fams.family("tokio_doctor_deadline_overruns_total");
    for (labels, o, _) in &outbound {
        f.scalar(labels.clone(), o.overruns.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_deadline_overrun_seconds_total");
    for (labels, o, _) in &outbound {
        f.scalar(labels.clone(), secs(o.overrun_ns.load(Relaxed)));
    }
    let f = fams.family("tokio_doctor_hung_calls");
    for (labels, _, open) in &outbound {
        let hung = open.hung_with_deadline + open.hung_without_deadline;
        f.scalar(labels.clone(), hung as f64);
    }
    let f = fams.family("tokio_doctor_hung_call_longest_seconds");
    for (labels, _, open) in &outbound {
        let hung = open.hung_with_deadline + open.hung_without_deadline > 0;
        f.scalar(
            labels.clone(),
            if hung { secs(open.oldest_ns) } else { 0.0 },
        );
    }

    let joins: Vec<_> = shared
        .sites
        .iter()
        .filter_map(|(_, site, meta)| Some((meta, site.joins.get()?.snapshot())))
        .flat_map(|(meta, slowest)| {
            slowest.into_iter().map(move |(child, n, ns)| {
                let (span, loc) = name_of(child);
                (
                    vec![meta.span.clone(), meta.location.clone(), span, loc],
                    n,
                    ns,
                )
            })
        })
        .collect();
    let f = fams.family("tokio_doctor_join_slowest_total");
    for (labels, n, _) in &joins {
        f.scalar(labels.clone(), *n as f64);
    }
    let f = fams.family("tokio_doctor_join_slowest_seconds_total");
    for (labels, _, ns) in &joins {
        f.scalar(labels.clone(), secs(*ns));
    }
}
