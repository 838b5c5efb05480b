//! Rows of the doctor itself, findings, blocking polls and stalls, event-loop lag, call sites; filled by `samples::executor`.

use super::MetricType::{Counter, Gauge, Histogram};
use super::{doctor, MetricDef, SITE};

/// The rows of this area, in render order.
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
        "Anti-patterns observed, by finding kind and call site: occurrences, which only grow, \
         for every kind (what one occurrence is: the kind's reference). A rising rate means \
         the pattern is happening now; see /doctor for the evidence and the fix.",
    ),
    doctor(
        "tokio_doctor_finding_peak",
        Gauge,
        &["kind", "span", "location"],
        "The highest level a finding reached, for kinds measured by a level rather than by \
         events (most live tasks for excess_tasks, most concurrent children for \
         unbounded_fanout); absent for the others. Beside findings_total, never in it.",
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
         CPU (the OS preempted it: more runnable threads than cores; or a hypervisor took the \
         virtual CPU away: steal time). Not blamed on the code; a rising rate means the host \
         is oversubscribed.",
    ),
    doctor(
        "tokio_doctor_stalls_total",
        Counter,
        SITE,
        "Polls the watchdog caught running past the blocking threshold, counted once per \
         stall while it was still running.",
    ),
    doctor(
        "tokio_doctor_blocking_frames_total",
        Counter,
        &["span", "location", "function", "frame_location"],
        "Stalls the watchdog caught, by the frame of the service's own code the stalled \
         worker's stack was in (the culprit: function without generics, frame_location its \
         file:line, or unknown without line tables), and the span or route it was blamed on. \
         Linux only; capped by the label cap with function=\"other\".",
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
];
