//! Fills the queue rows.

use std::sync::atomic::Ordering::Relaxed;

use super::Families;

pub(super) fn collect(fams: &mut Families, windows: &crate::detect::Windows) {
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
    for (name, growth) in crate::detect::queue_growth::growth_by_queue(windows) {
        f.scalar(vec![name.into()], growth);
    }
    let f = fams.family("tokio_doctor_queue_saturation");
    for q in &queues {
        if let Some(cap) = q.capacity.filter(|c| *c > 0) {
            f.scalar(vec![q.name.into()], q.depth() as f64 / cap as f64);
        }
    }
}
