//! Fills the route rows.

use super::Families;
use crate::state::route_stats::RouteMetrics;
use crate::state::Shared;

pub(super) fn collect(fams: &mut Families, shared: &Shared) {
    let routes: Vec<(String, RouteMetrics)> = shared
        .routes
        .all()
        .into_iter()
        .map(|(name, r)| (name, r.monitor.cumulative()))
        .collect();
    type Get = fn(&RouteMetrics) -> f64;
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
