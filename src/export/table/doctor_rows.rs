//! Rows of the doctor's own metrics: findings, blocking polls and stalls,
//! lag, call sites, queues, connections, the concurrency shape, routes and
//! memory attribution.

use super::MetricType::{Counter, Gauge, Histogram};
use super::{doctor, MetricDef, Source, SITE};

/// The rows of this part, in render order.
pub(super) const ROWS: &[MetricDef] = &[
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
        "tokio_doctor_endpoint_snapshots_total",
        Counter,
        &[],
        "Snapshots the /metrics and /doctor endpoint took (every detector run once). Scrapes \
         within the snapshot max age (default 1s) share one, so this grows at most once per \
         age however many scrapers there are.",
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
];
