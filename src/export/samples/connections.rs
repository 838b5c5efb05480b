//! Fills the connection rows.

use std::sync::atomic::Ordering::Relaxed;

use super::Families;

pub(super) fn collect(fams: &mut Families) {
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
