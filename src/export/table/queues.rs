//! Rows of watched queues; filled by `samples::queues`.

use super::MetricType::{Counter, Gauge};
use super::{doctor, MetricDef};

/// The rows of this area, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_queue_depth",
        Gauge,
        &["queue"],
        "Items waiting in each watched queue (tokio_doctor::queue channels and watch()).",
    ),
    doctor(
        "tokio_doctor_queue_enqueued_total",
        Counter,
        &["queue"],
        "Items sent into each watched channel; rate() is the producer rate.",
    ),
    doctor(
        "tokio_doctor_queue_dequeued_total",
        Counter,
        &["queue"],
        "Items received from each watched channel; rate() is the consumer rate.",
    ),
    doctor(
        "tokio_doctor_queue_growth_per_second",
        Gauge,
        &["queue"],
        "Least-squares slope of the queue's depth over the queue window, in items per second. \
         Sustained growth on an unbounded queue is a crash deferred: bound it.",
    ),
    doctor(
        "tokio_doctor_queue_saturation",
        Gauge,
        &["queue"],
        "Depth over capacity of each bounded channel (1 = full: producers wait, which is \
         back-pressure working).",
    ),
];
