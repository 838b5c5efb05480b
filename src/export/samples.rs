//! Reads the doctor's state into metric families, ready to render as text
//! or to push into a metrics-rs recorder. Runs at scrape time, off the hot
//! path.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use crate::export::table::{metric, MetricDef, MetricType};
use crate::finding::Finding;
use crate::state::histogram::{Snapshot, LAG_BUCKETS, POLL_BUCKETS};
use crate::state::{Shared, Stall};

mod held_deadline;

/// A sample value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Scalar(f64),
    /// Non-cumulative counts per bucket (last is +Inf) and the sum.
    Histogram {
        bounds: &'static [f64],
        counts: Vec<u64>,
        sum: f64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Label values, in the order of the family's label names.
    pub(crate) labels: Vec<String>,
    pub(crate) value: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) def: &'static MetricDef,
    pub(crate) series: Vec<Series>,
}

struct Families(Vec<Family>);

impl Families {
    fn family(&mut self, name: &str) -> &mut Family {
        let def =
            metric(name).unwrap_or_else(|| panic!("{name} is missing from the metrics table"));
        self.0.push(Family {
            def,
            series: Vec::new(),
        });
        self.0.last_mut().expect("just pushed")
    }
}

impl Family {
    fn scalar(&mut self, labels: Vec<String>, v: f64) -> &mut Self {
        debug_assert_eq!(labels.len(), self.def.labels.len(), "{}", self.def.name);
        self.series.push(Series {
            labels,
            value: Value::Scalar(v),
        });
        self
    }
    fn histogram(&mut self, bounds: &'static [f64], snap: &Snapshot) {
        self.histogram_with(Vec::new(), bounds, snap);
    }
    fn histogram_with(&mut self, labels: Vec<String>, bounds: &'static [f64], snap: &Snapshot) {
        let mut counts = snap.counts.clone();
        counts.resize(bounds.len() + 1, 0);
        self.series.push(Series {
            labels,
            value: Value::Histogram {
                bounds,
                counts,
                sum: snap.sum_ns as f64 / 1e9,
            },
        });
    }
}

/// Collects every family the doctor exports, in table order.
pub(crate) fn collect(shared: &Shared, findings: &[Finding], stalls: &[Stall]) -> Vec<Family> {
    let runtime = &shared.runtime;
    let secs = |ns: u64| ns as f64 / 1e9;
    let mut fams = Families(Vec::new());
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
    for (site, n) in crate::lock::lock(&shared.stall_counts).iter() {
        if let Some(meta) = shared.sites.get(*site).meta.get() {
            f.scalar(vec![meta.span.clone(), meta.location.clone()], *n as f64);
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

    #[cfg(feature = "alloc")]
    alloc_families(&mut fams, shared);
    route_families(&mut fams, shared);
    held_deadline::collect(&mut fams, shared);
    queue_families(&mut fams, shared);
    peer_families(&mut fams);
    shape_families(&mut fams, shared);

    let mut cells = runtime.cells();
    cells.sort_by_key(|c| c.metric);
    for cell in cells {
        let def = &crate::export::METRICS[cell.metric];
        let f = fams.family(def.name);
        match def.kind {
            MetricType::Counter => {
                f.scalar(vec![], cell.counter.load(Relaxed) as f64 * cell.scale);
            }
            MetricType::Gauge => {
                f.scalar(
                    vec![],
                    f64::from_bits(cell.gauge_bits.load(Relaxed)) * cell.scale,
                );
            }
            MetricType::Histogram => {
                let snap = Snapshot {
                    counts: cell.buckets.iter().map(|b| b.load(Relaxed)).collect(),
                    sum_ns: cell.sum.load(Relaxed),
                };
                f.histogram(&POLL_BUCKETS, &snap);
            }
        }
    }
    fams.0
}

fn queue_families(fams: &mut Families, shared: &Shared) {
    let queues = crate::queue::registry::all();
    let f = fams.family("tokio_doctor_queue_depth");
    for q in &queues {
        f.scalar(vec![q.name.into()], q.depth() as f64);
    }
    let f = fams.family("tokio_doctor_queue_enqueued_total");
    for q in queues.iter().filter(|q| !q.is_watched()) {
        f.scalar(vec![q.name.into()], q.enqueued.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_queue_dequeued_total");
    for q in queues.iter().filter(|q| !q.is_watched()) {
        f.scalar(vec![q.name.into()], q.dequeued.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_queue_growth_per_second");
    for (name, growth) in crate::detect::queue_growth::growth_by_queue(shared) {
        f.scalar(vec![name.into()], growth);
    }
    let f = fams.family("tokio_doctor_queue_saturation");
    for q in &queues {
        if let Some(cap) = q.capacity.filter(|c| *c > 0) {
            f.scalar(vec![q.name.into()], q.depth() as f64 / cap as f64);
        }
    }
}

fn peer_families(fams: &mut Families) {
    let peers = crate::connection::registry::all();
    let f = fams.family("tokio_doctor_connections_opened_total");
    for p in &peers {
        f.scalar(vec![p.peer.clone()], p.connections.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_outbound_requests_total");
    for p in &peers {
        f.scalar(vec![p.peer.clone()], p.requests.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_connect_seconds_total");
    for p in &peers {
        f.scalar(
            vec![p.peer.clone()],
            p.connect_ns.load(Relaxed) as f64 / 1e9,
        );
    }
}

fn shape_families(fams: &mut Families, shared: &Shared) {
    let site_labels = |site: u32| {
        shared
            .sites
            .get(site)
            .meta
            .get()
            .map(|m| vec![m.span.clone(), m.location.clone()])
    };
    let advice = crate::detect::concurrency_advice::advice_by_site(shared);
    let f = fams.family("tokio_doctor_concurrency_recommended");
    for (site, a, _) in &advice {
        if let (Some(labels), Some(a)) = (site_labels(*site), a) {
            f.scalar(labels, a.recommended as f64);
        }
    }
    let f = fams.family("tokio_doctor_concurrency_in_flight");
    for (site, _, l) in &advice {
        if let Some(labels) = site_labels(*site) {
            f.scalar(labels, *l);
        }
    }
    let f = fams.family("tokio_doctor_serial_avoidable_seconds_total");
    for (_, site, meta) in shared.sites.iter() {
        if site.shape.serial_chains.load(Relaxed) > 0 {
            let ns = site.shape.serial_avoidable_ns.load(Relaxed);
            f.scalar(
                vec![meta.span.clone(), meta.location.clone()],
                ns as f64 / 1e9,
            );
        }
    }
    let tasks: Vec<_> = shared
        .sites
        .iter()
        .filter_map(|(_, s, m)| {
            let t = s.shape.tasks.get()?;
            let (spawned, finished) = t.counts();
            Some((
                vec![m.span.clone(), m.location.clone()],
                t.live(),
                spawned,
                finished,
            ))
        })
        .collect();
    let f = fams.family("tokio_doctor_spawn_site_live_tasks");
    for (labels, live, _, _) in &tasks {
        f.scalar(labels.clone(), *live as f64);
    }
    let f = fams.family("tokio_doctor_spawn_site_spawned_total");
    for (labels, _, spawned, _) in &tasks {
        f.scalar(labels.clone(), *spawned as f64);
    }
    let f = fams.family("tokio_doctor_spawn_site_completed_total");
    for (labels, _, _, finished) in &tasks {
        f.scalar(labels.clone(), *finished as f64);
    }
}

fn route_families(fams: &mut Families, shared: &Shared) {
    let routes: Vec<(String, tokio_metrics::TaskMetrics)> = shared
        .routes
        .all()
        .into_iter()
        .map(|(name, r)| (name, r.monitor.cumulative()))
        .collect();
    type Get = fn(&tokio_metrics::TaskMetrics) -> f64;
    let families: [(&str, Get); 10] = [
        ("tokio_doctor_route_requests_total", |m| {
            m.instrumented_count as f64
        }),
        ("tokio_doctor_route_requests_in_flight", |m| {
            m.instrumented_count.saturating_sub(m.dropped_count) as f64
        }),
        ("tokio_doctor_route_polls_total", |m| {
            m.total_poll_count as f64
        }),
        ("tokio_doctor_route_poll_seconds_total", |m| {
            m.total_poll_duration.as_secs_f64()
        }),
        ("tokio_doctor_route_slow_polls_total", |m| {
            m.total_slow_poll_count as f64
        }),
        ("tokio_doctor_route_slow_poll_seconds_total", |m| {
            m.total_slow_poll_duration.as_secs_f64()
        }),
        ("tokio_doctor_route_scheduled_total", |m| {
            m.total_scheduled_count as f64
        }),
        ("tokio_doctor_route_scheduled_seconds_total", |m| {
            m.total_scheduled_duration.as_secs_f64()
        }),
        ("tokio_doctor_route_idle_seconds_total", |m| {
            m.total_idle_duration.as_secs_f64()
        }),
        ("tokio_doctor_route_first_poll_delay_seconds_total", |m| {
            m.total_first_poll_delay.as_secs_f64()
        }),
    ];
    for (name, get) in families {
        let f = fams.family(name);
        for (route, m) in &routes {
            f.scalar(vec![route.clone()], get(m));
        }
    }
}

#[cfg(feature = "alloc")]
fn alloc_families(fams: &mut Families, shared: &Shared) {
    let sites: Vec<_> = shared
        .sites
        .iter()
        .filter(|(_, s, _)| s.alloc.instances.load(Relaxed) > 0)
        .map(|(_, s, m)| (vec![m.span.clone(), m.location.clone()], &s.alloc))
        .collect();
    let f = fams.family("tokio_doctor_span_allocated_bytes_total");
    for (labels, a) in &sites {
        f.scalar(labels.clone(), a.allocated.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_span_allocations_total");
    for (labels, a) in &sites {
        f.scalar(labels.clone(), a.allocations.load(Relaxed) as f64);
    }
    let f = fams.family("tokio_doctor_span_peak_bytes");
    for (labels, a) in &sites {
        // Snapshot's sum is in nanoseconds, for time histograms; this one
        // counts bytes, so its sum is set directly below.
        let snap = Snapshot {
            counts: a.peak_buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_ns: 0,
        };
        f.histogram_with(labels.clone(), &crate::alloc::PEAK_BUCKETS, &snap);
        if let Some(Series {
            value: Value::Histogram { sum, .. },
            ..
        }) = f.series.last_mut()
        {
            *sum = a.peak_sum.load(Relaxed) as f64;
        }
    }
}
