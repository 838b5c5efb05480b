//! Rows of the concurrency shape: Little's Law advice, serial awaits, spawn sites; filled by `samples::concurrency`.

use super::MetricType::{Counter, Gauge};
use super::{doctor, MetricDef, SITE};

/// The rows of this area, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_concurrency_recommended",
        Gauge,
        SITE,
        "Calls in flight each outbound call site should be limited to, by Little's Law: the \
         most throughput seen times the latency at the lowest load seen, rounded down. Shown once \
         two levels of concurrency have been seen; a lower bound until more concurrency has \
         been seen to stop adding throughput.",
    ),
    doctor(
        "tokio_doctor_concurrency_in_flight",
        Gauge,
        SITE,
        "Mean calls in flight at each outbound call site over the concurrency window \
         (time-weighted: throughput times latency). Above the recommended limit, more \
         concurrency only queues at the downstream.",
    ),
    doctor(
        "tokio_doctor_serial_avoidable_seconds_total",
        Counter,
        SITE,
        "Seconds that chains of serial awaits of this call site (8 or more siblings run one \
         after another, never overlapping, mostly idle) would have saved run concurrently.",
    ),
    doctor(
        "tokio_doctor_spawn_site_live_tasks",
        Gauge,
        SITE,
        "Tasks alive per spawn site (tokio_doctor::spawn, or tokio's task spans with \
         tokio_unstable); span is runtime.spawn and location the spawn file:line. Past \
         10,000 it is an excess_tasks finding.",
    ),
    doctor(
        "tokio_doctor_spawn_site_spawned_total",
        Counter,
        SITE,
        "Tasks spawned per spawn site; compare its rate with completions.",
    ),
    doctor(
        "tokio_doctor_spawn_site_completed_total",
        Counter,
        SITE,
        "Tasks finished (completed or dropped) per spawn site. A spawn rate far above this \
         rate piles up live tasks.",
    ),
];
