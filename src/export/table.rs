//! The one table of every metric tokio-doctor exports.
//!
//! Names, types, labels and help texts live here and nowhere else: the
//! renderer refuses (in debug builds) to write a family that is not in
//! [`METRICS`], and a test checks that the README reference lists exactly
//! these names. All names start `tokio_doctor_`, use base units (seconds,
//! bytes) and counters end in `_total`.

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Monotonic; read it with `rate()` or `increase()`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Buckets (`_bucket{le}`), `_sum` and `_count`; read it with
    /// `histogram_quantile()` over `rate()`.
    Histogram,
}

impl MetricType {
    /// The word used on the `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Where a metric comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Measured by tokio-doctor itself; always present.
    Doctor,
    /// A tokio runtime metric read through tokio-metrics; always present.
    Runtime,
    /// A tokio runtime metric that needs `--cfg tokio_unstable`.
    RuntimeUnstable,
    /// Memory attribution: needs the `alloc` feature.
    Alloc,
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Full name, e.g. `tokio_doctor_blocking_poll_seconds_total`.
    pub name: &'static str,
    /// Prometheus type.
    pub kind: MetricType,
    /// Label names. Values come only from static call-site metadata.
    pub labels: &'static [&'static str],
    /// Help text: what it counts and what to do when it rises.
    pub help: &'static str,
    /// Where it comes from.
    pub source: Source,
    /// For runtime metrics: the tokio-metrics field it is read from.
    pub tokio_metrics_field: Option<&'static str>,
}

const SITE: &[&str] = &["span", "location"];
/// A held resource: its name and the `file:line` that acquired it.
const HELD: &[&str] = &["resource", "location"];
/// A held resource and the span that did slow work inside it.
const HELD_INNER: &[&str] = &["resource", "location", "inner_span", "inner_location"];
/// A joining span and its slowest outbound child.
const JOIN: &[&str] = &["span", "location", "child_span", "child_location"];

const fn doctor(
    name: &'static str,
    kind: MetricType,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels,
        help,
        source: Source::Doctor,
        tokio_metrics_field: None,
    }
}

const fn rt(
    field: &'static str,
    name: &'static str,
    kind: MetricType,
    unstable: bool,
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels: &[],
        help,
        source: if unstable {
            Source::RuntimeUnstable
        } else {
            Source::Runtime
        },
        tokio_metrics_field: Some(field),
    }
}

use MetricType::{Counter, Gauge, Histogram};

/// Every metric family, in the order they are rendered.
///
/// # Examples
/// ```
/// let m = tokio_doctor::export::metric("tokio_doctor_findings_total").unwrap();
/// assert_eq!(m.labels, &["kind", "span", "location"]);
/// ```
pub const METRICS: &[MetricDef] = &[
    doctor(
        "tokio_doctor_build_info",
        Gauge,
        &["version"],
        "Always 1; the version label says which tokio-doctor is running.",
    ),
    doctor(
        "tokio_doctor_findings_total",
        Counter,
        &["kind", "span", "location"],
        "Anti-patterns observed, by finding kind and call site. A rising rate means the \
         pattern is happening now; see /doctor for the evidence and the fix.",
    ),
    doctor(
        "tokio_doctor_finding_cost_seconds",
        Gauge,
        &["kind", "span", "location"],
        "What each finding has cost since start, in seconds (blocked, idle while held, \
         avoidable, ...): the figure /doctor ranks findings by. Compare call sites with topk().",
    ),
    doctor(
        "tokio_doctor_finding_evidence",
        Gauge,
        &["kind", "span", "location", "evidence"],
        "Every evidence figure of every finding, as /doctor shows it, in the base unit its \
         name ends with (_seconds, _bytes; a count otherwise). One series per figure of a \
         finding, so it is bounded by the label cap times a handful.",
    ),
    doctor(
        "tokio_doctor_blocking_poll_seconds_total",
        Counter,
        SITE,
        "Seconds runtime workers spent in polls longer than the blocking threshold, blamed on \
         the span with the most self time. rate() is the share of a worker lost to blocking.",
    ),
    doctor(
        "tokio_doctor_blocking_poll_worst_seconds",
        Gauge,
        SITE,
        "Longest single blocking poll seen at each call site since start.",
    ),
    doctor(
        "tokio_doctor_poll_duration_seconds",
        Histogram,
        &[],
        "Duration of every poll that entered a span on a runtime worker. tokio's guidance is \
         10-100 microseconds between awaits; mass above 0.01 s blocks the executor.",
    ),
    doctor(
        "tokio_doctor_stalled_polls",
        Gauge,
        &[],
        "Polls running past the blocking threshold right now (a hung or spinning worker).",
    ),
    doctor(
        "tokio_doctor_stalled_poll_seconds",
        Gauge,
        SITE,
        "How long each poll that is stalled right now has been running, by call site.",
    ),
    doctor(
        "tokio_doctor_preempted_polls_total",
        Counter,
        &[],
        "Polls past the blocking threshold on the wall clock whose worker mostly waited for a \
         CPU (the OS preempted it: more runnable threads than cores). Not blamed on the code; \
         a rising rate means the host is oversubscribed.",
    ),
    doctor(
        "tokio_doctor_stalls_total",
        Counter,
        SITE,
        "Polls the watchdog caught running past the blocking threshold, counted once per \
         stall while it was still running.",
    ),
    doctor(
        "tokio_doctor_event_loop_lag_seconds",
        Histogram,
        &[],
        "How late the lag probe was woken after its timer fired: the delay every task sees \
         before it runs. Page on a p99 over 0.05 s.",
    ),
    doctor(
        "tokio_doctor_event_loop_lag_max_seconds",
        Gauge,
        &[],
        "Largest event-loop lag in the last sampler interval (one second by default).",
    ),
    doctor(
        "tokio_doctor_live_spans",
        Gauge,
        &[],
        "Spans the doctor holds state for: every span open now (its node is freed when it closes). It \
         must follow load, not grow with uptime.",
    ),
    doctor(
        "tokio_doctor_call_sites",
        Gauge,
        &[],
        "Distinct call sites with their own label set (at most the label cap, plus other).",
    ),
    doctor(
        "tokio_doctor_labels_folded_total",
        Counter,
        &[],
        "Call sites folded into span=\"other\" because the label cap was reached. Raise the \
         cap if this grows.",
    ),
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
    doctor(
        "tokio_doctor_connections_opened_total",
        Counter,
        &["peer"],
        "New outbound connections per peer (host:port), counted by ConnectionLayer or \
         record_connection. Compare its rate with the request rate.",
    ),
    doctor(
        "tokio_doctor_outbound_requests_total",
        Counter,
        &["peer"],
        "Outbound requests per peer (host:port), counted by OutboundRequestLayer or \
         record_request.",
    ),
    doctor(
        "tokio_doctor_connect_seconds_total",
        Counter,
        &["peer"],
        "Seconds spent establishing outbound connections (TCP and TLS handshakes) per peer.",
    ),
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
    MetricDef {
        name: "tokio_doctor_span_allocated_bytes_total",
        kind: Counter,
        labels: SITE,
        help: "Heap bytes allocated inside closed span instances, by call site (alloc feature).",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
    MetricDef {
        name: "tokio_doctor_span_allocations_total",
        kind: Counter,
        labels: SITE,
        help: "Heap allocations inside closed span instances, by call site (alloc feature).",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
    MetricDef {
        name: "tokio_doctor_span_peak_bytes",
        kind: Histogram,
        labels: SITE,
        help: "Peak live heap bytes of each closed span instance, by call site (alloc feature). \
               Mass above 64 MiB is a result materialized instead of streamed.",
        source: Source::Alloc,
        tokio_metrics_field: None,
    },
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
    doctor(
        "tokio_doctor_held_open",
        Gauge,
        HELD,
        "Holds open now.",
    ),
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
    rt(
        "workers_count",
        "tokio_doctor_runtime_workers",
        Gauge,
        false,
        "Worker threads of the runtime (tokio-metrics workers_count).",
    ),
    rt(
        "live_tasks_count",
        "tokio_doctor_runtime_live_tasks",
        Gauge,
        false,
        "Tasks alive in the runtime.",
    ),
    rt(
        "global_queue_depth",
        "tokio_doctor_runtime_global_queue_depth",
        Gauge,
        false,
        "Tasks waiting in the runtime's global (injection) queue. Sustained depth means the \
         workers cannot keep up.",
    ),
    rt(
        "busy_ratio",
        "tokio_doctor_runtime_busy_ratio",
        Gauge,
        false,
        "Busy time of all workers over elapsed time in the last interval, summed over \
         workers (0 to workers_count); divide by workers_count for the mean busy share.",
    ),
    rt(
        "total_busy_duration",
        "tokio_doctor_runtime_busy_duration_seconds_total",
        Counter,
        false,
        "Seconds all workers spent busy.",
    ),
    rt(
        "max_busy_duration",
        "tokio_doctor_runtime_max_busy_duration_seconds_total",
        Counter,
        false,
        "Per interval, the busy seconds of the busiest worker, accumulated.",
    ),
    rt(
        "min_busy_duration",
        "tokio_doctor_runtime_min_busy_duration_seconds_total",
        Counter,
        false,
        "Per interval, the busy seconds of the least busy worker, accumulated.",
    ),
    rt(
        "total_park_count",
        "tokio_doctor_runtime_parks",
        Gauge,
        false,
        "Times workers parked in the last interval.",
    ),
    rt(
        "max_park_count",
        "tokio_doctor_runtime_max_parks",
        Gauge,
        false,
        "Most parks of one worker in the last interval.",
    ),
    rt(
        "min_park_count",
        "tokio_doctor_runtime_min_parks",
        Gauge,
        false,
        "Fewest parks of one worker in the last interval.",
    ),
    rt(
        "mean_poll_duration",
        "tokio_doctor_runtime_mean_poll_duration_seconds",
        Gauge,
        true,
        "Mean task poll duration in the last interval.",
    ),
    rt(
        "mean_poll_duration_worker_min",
        "tokio_doctor_runtime_mean_poll_duration_worker_min_seconds",
        Gauge,
        true,
        "Mean poll duration of the worker with the lowest mean.",
    ),
    rt(
        "mean_poll_duration_worker_max",
        "tokio_doctor_runtime_mean_poll_duration_worker_max_seconds",
        Gauge,
        true,
        "Mean poll duration of the worker with the highest mean.",
    ),
    rt(
        "poll_time_histogram",
        "tokio_doctor_runtime_poll_time_seconds",
        Histogram,
        true,
        "Task poll durations from tokio's own histogram (needs \
         Builder::enable_metrics_poll_time_histogram).",
    ),
    rt(
        "total_noop_count",
        "tokio_doctor_runtime_noop_count_total",
        Counter,
        true,
        "Times workers unparked and found no work.",
    ),
    rt(
        "max_noop_count",
        "tokio_doctor_runtime_max_noop_count_total",
        Counter,
        true,
        "Per interval, the most no-op unparks of one worker, accumulated.",
    ),
    rt(
        "min_noop_count",
        "tokio_doctor_runtime_min_noop_count_total",
        Counter,
        true,
        "Per interval, the fewest no-op unparks of one worker, accumulated.",
    ),
    rt(
        "total_steal_count",
        "tokio_doctor_runtime_steal_count_total",
        Counter,
        true,
        "Tasks stolen between workers.",
    ),
    rt(
        "max_steal_count",
        "tokio_doctor_runtime_max_steal_count_total",
        Counter,
        true,
        "Per interval, the most tasks stolen by one worker, accumulated.",
    ),
    rt(
        "min_steal_count",
        "tokio_doctor_runtime_min_steal_count_total",
        Counter,
        true,
        "Per interval, the fewest tasks stolen by one worker, accumulated.",
    ),
    rt(
        "total_steal_operations",
        "tokio_doctor_runtime_steal_operations_total",
        Counter,
        true,
        "Steal operations between workers.",
    ),
    rt(
        "max_steal_operations",
        "tokio_doctor_runtime_max_steal_operations_total",
        Counter,
        true,
        "Per interval, the most steal operations of one worker, accumulated.",
    ),
    rt(
        "min_steal_operations",
        "tokio_doctor_runtime_min_steal_operations_total",
        Counter,
        true,
        "Per interval, the fewest steal operations of one worker, accumulated.",
    ),
    rt(
        "num_remote_schedules",
        "tokio_doctor_runtime_remote_schedules_total",
        Counter,
        true,
        "Tasks scheduled from outside the runtime.",
    ),
    rt(
        "total_local_schedule_count",
        "tokio_doctor_runtime_local_schedule_count_total",
        Counter,
        true,
        "Tasks scheduled from worker threads.",
    ),
    rt(
        "max_local_schedule_count",
        "tokio_doctor_runtime_max_local_schedule_count_total",
        Counter,
        true,
        "Per interval, the most local schedules of one worker, accumulated.",
    ),
    rt(
        "min_local_schedule_count",
        "tokio_doctor_runtime_min_local_schedule_count_total",
        Counter,
        true,
        "Per interval, the fewest local schedules of one worker, accumulated.",
    ),
    rt(
        "total_overflow_count",
        "tokio_doctor_runtime_overflow_count_total",
        Counter,
        true,
        "Times a worker's local queue overflowed into the global queue.",
    ),
    rt(
        "max_overflow_count",
        "tokio_doctor_runtime_max_overflow_count_total",
        Counter,
        true,
        "Per interval, the most overflows of one worker, accumulated.",
    ),
    rt(
        "min_overflow_count",
        "tokio_doctor_runtime_min_overflow_count_total",
        Counter,
        true,
        "Per interval, the fewest overflows of one worker, accumulated.",
    ),
    rt(
        "total_polls_count",
        "tokio_doctor_runtime_polls_count_total",
        Counter,
        true,
        "Task polls by all workers.",
    ),
    rt(
        "max_polls_count",
        "tokio_doctor_runtime_max_polls_count_total",
        Counter,
        true,
        "Per interval, the most polls of one worker, accumulated.",
    ),
    rt(
        "min_polls_count",
        "tokio_doctor_runtime_min_polls_count_total",
        Counter,
        true,
        "Per interval, the fewest polls of one worker, accumulated.",
    ),
    rt(
        "total_local_queue_depth",
        "tokio_doctor_runtime_total_local_queue_depth",
        Gauge,
        true,
        "Tasks in all workers' local queues.",
    ),
    rt(
        "max_local_queue_depth",
        "tokio_doctor_runtime_max_local_queue_depth",
        Gauge,
        true,
        "Deepest local queue of one worker.",
    ),
    rt(
        "min_local_queue_depth",
        "tokio_doctor_runtime_min_local_queue_depth",
        Gauge,
        true,
        "Shallowest local queue of one worker.",
    ),
    rt(
        "blocking_queue_depth",
        "tokio_doctor_runtime_blocking_queue_depth",
        Gauge,
        true,
        "Closures waiting for a blocking-pool thread.",
    ),
    rt(
        "blocking_threads_count",
        "tokio_doctor_runtime_blocking_threads",
        Gauge,
        true,
        "Threads in the blocking pool.",
    ),
    rt(
        "idle_blocking_threads_count",
        "tokio_doctor_runtime_idle_blocking_threads",
        Gauge,
        true,
        "Idle threads in the blocking pool.",
    ),
    rt(
        "budget_forced_yield_count",
        "tokio_doctor_runtime_budget_forced_yield_count_total",
        Counter,
        true,
        "Times a task was forced to yield after exhausting its coop budget.",
    ),
    rt(
        "io_driver_ready_count",
        "tokio_doctor_runtime_io_driver_ready_count_total",
        Counter,
        true,
        "Ready events processed by the I/O driver.",
    ),
    rt(
        "mean_polls_per_park",
        "tokio_doctor_runtime_mean_polls_per_park",
        Gauge,
        true,
        "Task polls per park that did work, in the last interval.",
    ),
];

/// Looks a metric up by name.
///
/// # Examples
/// ```
/// assert!(tokio_doctor::export::metric("tokio_doctor_event_loop_lag_seconds").is_some());
/// assert!(tokio_doctor::export::metric("nope").is_none());
/// ```
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// The runtime metric read from a tokio-metrics field, if exported.
pub(crate) fn runtime_metric(field: &str) -> Option<&'static MetricDef> {
    METRICS
        .iter()
        .find(|m| m.tokio_metrics_field == Some(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("tokio_doctor_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == MetricType::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            for unit in ["milli", "micro", "nano", "percent", "kilo", "mega"] {
                assert!(!m.name.contains(unit), "{} is not in base units", m.name);
            }
            assert!(!m.help.is_empty() && !m.help.contains('\n'), "{}", m.name);
            for l in m.labels {
                assert!(!l.starts_with("__") && *l != "le", "{} label {l}", m.name);
            }
        }
    }
}
