//! Fills the concurrency-shape rows.

use std::sync::atomic::Ordering::Relaxed;

use super::Families;
use crate::state::Shared;

pub(super) fn collect(fams: &mut Families, shared: &Shared, windows: &crate::detect::Windows) {
    let site_labels = |site: u32| {
        shared
            .sites
            .get(site)
            .meta
            .get()
            .map(|m| vec![m.span.clone(), m.location.clone()])
    };
    let advice = crate::detect::concurrency_advice::advice_by_site(windows);
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
        if crate::detect::serial_awaits::reported(site) {
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
