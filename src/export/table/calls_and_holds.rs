//! Rows of held resources, outbound calls, deadlines and joins; filled by
//! `samples::calls_and_holds`.

use super::MetricType::{Counter, Gauge, Histogram};
use super::{doctor, MetricDef, HELD, HELD_INNER, JOIN, SITE};

/// The rows of this part, in render order.
pub(super) const ROWS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_held_total",
        Counter,
        HELD,
        "Held resource scopes released (held(), the sync locks, resource spans), by resource \
         name and the file:line that acquired it.",
    ),
    doctor(
        "tokio_doctor_held_seconds_total",
        Counter,
        HELD,
        "Seconds resources were held in all. rate() is the mean number held at once.",
    ),
    doctor(
        "tokio_doctor_held_across_await_total",
        Counter,
        HELD,
        "Holds released in a later poll than the one that acquired them: the task was \
         suspended while holding.",
    ),
    doctor(
        "tokio_doctor_held_idle_seconds_total",
        Counter,
        HELD,
        "Seconds resources were held while their task was suspended. By Little's Law, rate() \
         is the pool slots this idle holding costs.",
    ),
    doctor(
        "tokio_doctor_held_slots_lost",
        Gauge,
        HELD,
        "Pool slots (connections, permits, locks) held by suspended tasks, averaged over the \
         last held window: idle holding rate x idle time per hold (Little's Law). Compare with \
         the pool size.",
    ),
    doctor("tokio_doctor_held_open", Gauge, HELD, "Holds open now."),
    doctor(
        "tokio_doctor_held_slow_work_total",
        Counter,
        HELD_INNER,
        "Spans that ran inside a hold for longer than the held idle threshold, by resource and \
         inner span. Move that work out of the scope, or write an outbox row instead.",
    ),
    doctor(
        "tokio_doctor_held_slow_work_seconds_total",
        Counter,
        HELD_INNER,
        "Seconds of slow work done inside holds, by resource and inner span.",
    ),
    doctor(
        "tokio_doctor_outbound_calls_total",
        Counter,
        SITE,
        "Outbound calls completed (spans with otel.kind=client, http.request.method, url.full, \
         server.address, db.system, rpc.system or peer.service, or configured names).",
    ),
    doctor(
        "tokio_doctor_outbound_seconds_total",
        Counter,
        SITE,
        "Seconds spent in completed outbound calls. rate() is the mean in flight (Little's L); \
         divided by calls, the mean latency W.",
    ),
    doctor(
        "tokio_doctor_outbound_in_flight",
        Gauge,
        SITE,
        "Outbound calls open now.",
    ),
    doctor(
        "tokio_doctor_missing_deadline_calls_total",
        Counter,
        SITE,
        "Outbound calls completed with no deadline in scope (no tokio_doctor::deadline, no \
         timeout field on the span or an enclosing one).",
    ),
    doctor(
        "tokio_doctor_missing_deadline_duration_seconds",
        Histogram,
        SITE,
        "Latency of outbound calls with no deadline in scope. Its p99 is what one slow \
         dependency costs every caller.",
    ),
    doctor(
        "tokio_doctor_deadline_overruns_total",
        Counter,
        SITE,
        "Spans that closed later than their deadline (plus the grace): a timeout that did not \
         cancel, or work detached from its deadline.",
    ),
    doctor(
        "tokio_doctor_deadline_overrun_seconds_total",
        Counter,
        SITE,
        "Seconds spans ran past their deadline.",
    ),
    doctor(
        "tokio_doctor_hung_calls",
        Gauge,
        SITE,
        "Outbound calls open longer than the hang limit, now.",
    ),
    doctor(
        "tokio_doctor_hung_call_longest_seconds",
        Gauge,
        SITE,
        "How long the oldest outbound call of the site has been open, while one is past the \
         hang limit.",
    ),
    doctor(
        "tokio_doctor_join_slowest_total",
        Counter,
        JOIN,
        "Joins (a span with two or more outbound children) whose slowest child was this one. \
         The child that sets a fan-out's latency.",
    ),
    doctor(
        "tokio_doctor_join_slowest_seconds_total",
        Counter,
        JOIN,
        "Seconds of join latency set by this slowest child.",
    ),
];
