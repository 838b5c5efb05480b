//! Rows of per-route task monitors (TaskMonitorLayer, monitor_job); filled by `samples::routes`.

use super::MetricType::{Counter, Gauge};
use super::{doctor, MetricDef};

/// The rows of this area, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_route_requests_total",
        Counter,
        &["route"],
        "Requests (or job runs) started per route, from TaskMonitorLayer and monitor_job.",
    ),
    doctor(
        "tokio_doctor_route_requests_in_flight",
        Gauge,
        &["route"],
        "Requests per route started and not yet finished.",
    ),
    doctor(
        "tokio_doctor_route_polls_total",
        Counter,
        &["route"],
        "Polls of the route's request futures.",
    ),
    doctor(
        "tokio_doctor_route_poll_seconds_total",
        Counter,
        &["route"],
        "Seconds spent polling the route's futures; divided by polls it is the mean poll.",
    ),
    doctor(
        "tokio_doctor_route_slow_polls_total",
        Counter,
        &["route"],
        "Polls longer than the blocking threshold; divided by polls it is the slow-poll ratio. \
         A route with slow polls blocks the executor.",
    ),
    doctor(
        "tokio_doctor_route_slow_poll_seconds_total",
        Counter,
        &["route"],
        "Seconds spent in the route's slow polls.",
    ),
    doctor(
        "tokio_doctor_route_scheduled_total",
        Counter,
        &["route"],
        "Times the route's futures were woken and waited to be polled.",
    ),
    doctor(
        "tokio_doctor_route_scheduled_seconds_total",
        Counter,
        &["route"],
        "Seconds between wake and poll (scheduling delay); a symptom of a busy or blocked \
         executor, suffered by every route alike.",
    ),
    doctor(
        "tokio_doctor_route_idle_seconds_total",
        Counter,
        &["route"],
        "Seconds the route's futures waited on I/O or timers between polls.",
    ),
    doctor(
        "tokio_doctor_route_first_poll_delay_seconds_total",
        Counter,
        &["route"],
        "Seconds from a request's start to its first poll, summed; divide by requests.",
    ),
];
