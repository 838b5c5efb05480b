//! The Detectors dashboard: one row per detector with its evidence.

use serde_json::Value;

use super::panel::*;
use super::query::*;

pub(super) fn detectors() -> Value {
    let held = "held_across_await|slow_work_while_held";
    let deadline = "missing_deadline|deadline_overrun";
    let serial = "serial_awaits";
    let fanout = "unbounded_fanout|concurrency_advice";
    let queue = "queue_growth";
    let churn = "connection_churn";
    let tasks = "excess_tasks|trivial_async";
    let memory = "materialization|allocation_amplification";
    let items = vec![
        Item::Row("blocking_poll: CPU or blocking work on the executor"),
        Item::Panel(
            timeseries(
                "Blocked seconds per second, by call site",
                "s",
                "Seconds per second that runtime workers spent in polls longer than the \
                 blocking threshold, blamed on the span with the most self time, summed over \
                 the selected instances. 1 s/s is one worker lost entirely.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_blocking_poll_seconds_total", "")
                ),
                SITE_LEGEND,
            ),
        ),
        Item::Panel(
            timeseries(
                "Worst blocking poll, by call site",
                "s",
                "The longest single blocking poll each call site has made since its instance \
                 started, the largest over the selected instances.",
            )
            .q(
                format!(
                    "max by (span, location) ({})",
                    sel("tokio_doctor_blocking_poll_worst_seconds", "")
                ),
                SITE_LEGEND,
            ),
        ),
        Item::Panel(
            timeseries(
                "Stalls caught while running, per second",
                "ops",
                "Polls the watchdog caught running past the blocking threshold (before they \
                 returned), per second, by call site, summed over the selected instances.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_stalls_total", "")
                ),
                SITE_LEGEND,
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Stalled polls: how long they have run",
                "s",
                "For each poll stalled at the moment of a scrape, how long it had been \
                 running, by call site; the longest over the selected instances. A line that \
                 keeps rising is a hung worker.",
            )
            .q(
                format!(
                    "max by (span, location) ({})",
                    sel("tokio_doctor_stalled_poll_seconds", "")
                ),
                SITE_LEGEND,
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Preempted polls per second",
                "ops",
                "Polls that looked slow only because the OS preempted their worker (more \
                 runnable threads than cores), summed over the selected instances. Not blamed \
                 on the code; a rising rate means the host is oversubscribed.",
            )
            .q(
                format!("sum({})", rate("tokio_doctor_preempted_polls_total", "")),
                "preempted",
            )
            .size(8, 8),
        ),
        Item::Row("held_across_await, slow_work_while_held: a resource held across an await"),
        Item::Panel(findings_by_site(held).size(8, 8)),
        Item::Panel(
            timeseries(
                "Pool slots lost to idle holding, by resource",
                "short",
                "Connections, locks or permits held by suspended tasks: idle holding seconds \
                 per second over the last window (Little's Law), by resource and the \
                 file:line that acquired it, summed over the selected instances. Compare with \
                 the pool size: 9 of a 20-connection pool is a pool half gone.",
            )
            .q(
                format!(
                    "sum by (resource, location) ({})",
                    sel("tokio_doctor_held_slots_lost", "")
                ),
                "{{resource}} {{location}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Slow work inside holds, seconds per second",
                "s",
                "Seconds per second spent in spans slower than the held idle threshold that \
                 ran inside a hold, by resource and inner span, summed over the selected \
                 instances: the work to move out of the transaction.",
            )
            .q(
                format!(
                    "sum by (resource, inner_span, inner_location) ({})",
                    rate("tokio_doctor_held_slow_work_seconds_total", "")
                ),
                "{{inner_span}} {{inner_location}} in {{resource}}",
            )
            .size(8, 8),
        ),
        Item::Row(
            "missing_deadline, deadline_overrun: outbound calls without a deadline, hung calls",
        ),
        Item::Panel(findings_by_site(deadline).size(6, 8)),
        Item::Panel(
            timeseries(
                "p99 of calls without a deadline",
                "s",
                "99th percentile latency of outbound calls made with no deadline in scope, by \
                 call site, over the rate interval, across the selected instances: what one \
                 slow dependency costs every caller.",
            )
            .q(
                quantile(
                    "0.99",
                    "tokio_doctor_missing_deadline_duration_seconds",
                    "span, location",
                ),
                SITE_LEGEND,
            )
            .size(6, 8),
        ),
        Item::Panel(
            timeseries(
                "Hung calls now",
                "short",
                "Outbound calls open longer than the hang limit at each scrape, by call site, \
                 summed over the selected instances. A line that stays up is a dependency \
                 hanging with nothing to cancel the calls.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    sel("tokio_doctor_hung_calls", "")
                ),
                SITE_LEGEND,
            )
            .size(6, 8),
        ),
        Item::Panel(
            timeseries(
                "Which child sets each join's latency",
                "s",
                "Seconds per second of join latency set by each slowest outbound child: when a \
                 span waits for several calls, the one that finished last. p99 is 30 s because \
                 of svcC reads here as svcC's line.",
            )
            .q(
                format!(
                    "sum by (span, child_span, child_location) ({})",
                    rate("tokio_doctor_join_slowest_seconds_total", "")
                ),
                "{{span}} waits on {{child_span}} {{child_location}}",
            )
            .size(6, 8),
        ),
        Item::Row("serial_awaits: independent awaits run one after another"),
        Item::Panel(findings_by_site(serial).size(8, 8)),
        Item::Panel(
            evidence(
                serial,
                "Avoidable seconds",
                "s",
                "seconds",
                "Seconds a chain of serial awaits could save by running concurrently (sum of \
                 the durations minus the longest), by call site.",
            )
            .size(8, 8),
        ),
        Item::Panel(
            evidence(
                serial,
                "Chain length",
                "short",
                "count",
                "How many awaits ran one after another under one parent, by call site.",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Avoidable seconds per second, by call site",
                "s",
                "Seconds per second that serial chains of each call site would have saved run \
                 concurrently (sum of each chain's durations minus its longest), summed over \
                 the selected instances: the latency a join_all would give back.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_serial_avoidable_seconds_total", "")
                ),
                SITE_LEGEND,
            )
            .size(24, 6),
        ),
        Item::Row("unbounded_fanout, concurrency: fan-out peaks and Little's Law"),
        Item::Panel(findings_by_site(fanout).size(8, 8)),
        Item::Panel(
            evidence(
                fanout,
                "Fan-out peaks",
                "short",
                "count",
                "Peak concurrent children of one parent or spawn site, and the suggested bound, \
                 by call site.",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "In flight vs recommended concurrency",
                "short",
                "Mean calls in flight at each outbound call site against the limit Little's \
                 Law recommends (throughput at the knee times latency at low load), the \
                 largest over the selected instances, since the limit applies per instance. \
                 In flight above recommended only grows queues.",
            )
            .q(
                format!(
                    "max by (span, location) ({})",
                    sel("tokio_doctor_concurrency_in_flight", "")
                ),
                "in flight {{span}} {{location}}",
            )
            .q(
                format!(
                    "max by (span, location) ({})",
                    sel("tokio_doctor_concurrency_recommended", "")
                ),
                "recommended {{span}} {{location}}",
            )
            .size(8, 8),
        ),
        Item::Row("queue_growth: queues without back-pressure"),
        Item::Panel(
            timeseries(
                "Queue depth",
                "short",
                "Items waiting in each watched queue, summed over the selected instances.",
            )
            .q(
                format!("sum by (queue) ({})", sel("tokio_doctor_queue_depth", "")),
                "{{queue}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Queue growth",
                "suffix: items/s",
                "How fast each queue's depth rises (the detector's regression slope), summed \
                 over the selected instances. Sustained growth above zero ends in running out \
                 of memory; bound the queue.",
            )
            .q(
                format!(
                    "sum by (queue) ({})",
                    sel("tokio_doctor_queue_growth_per_second", "")
                ),
                "{{queue}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Enqueued vs dequeued per second",
                "suffix: items/s",
                "Producer and consumer rates of each queue, summed over the selected \
                 instances: the gap is the growth.",
            )
            .q(
                format!(
                    "sum by (queue) ({})",
                    rate("tokio_doctor_queue_enqueued_total", "")
                ),
                "enqueued {{queue}}",
            )
            .q(
                format!(
                    "sum by (queue) ({})",
                    rate("tokio_doctor_queue_dequeued_total", "")
                ),
                "dequeued {{queue}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Queue saturation",
                "percentunit",
                "Depth over capacity of each bounded queue, the highest over the selected \
                 instances. A full bounded queue blocking its producer is back-pressure \
                 working, not an anomaly.",
            )
            .q(
                format!(
                    "max by (queue) ({})",
                    sel("tokio_doctor_queue_saturation", "")
                ),
                "{{queue}}",
            ),
        ),
        Item::Panel(findings_by_site(queue)),
        Item::Row("connection_churn: a new connection per request"),
        Item::Panel(
            timeseries(
                "New connections per request, by peer",
                "percentunit",
                "Connections opened divided by requests sent, per peer, summed over the \
                 selected instances. Near 100% means no connection reuse; a pooled client \
                 reads near 0%.",
            )
            .q(
                format!(
                    "sum by (peer) ({}) / sum by (peer) ({})",
                    rate("tokio_doctor_connections_opened_total", ""),
                    rate("tokio_doctor_outbound_requests_total", "")
                ),
                "{{peer}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Connections and requests per second, by peer",
                "ops",
                "Connections opened and requests sent per second to each peer, summed over the \
                 selected instances.",
            )
            .q(
                format!(
                    "sum by (peer) ({})",
                    rate("tokio_doctor_connections_opened_total", "")
                ),
                "connections {{peer}}",
            )
            .q(
                format!(
                    "sum by (peer) ({})",
                    rate("tokio_doctor_outbound_requests_total", "")
                ),
                "requests {{peer}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            evidence(
                churn,
                "Handshake seconds wasted",
                "s",
                "seconds",
                "Seconds spent on connection handshakes a reused connection would have saved, \
                 by call site.",
            )
            .size(8, 8),
        ),
        Item::Row("excess_tasks, trivial_async: tasks"),
        Item::Panel(
            timeseries(
                "Live tasks, by instance",
                "short",
                "Tasks alive in each instance's runtime. Past 10,000 the task explosion alert \
                 fires.",
            )
            .q(
                format!(
                    "sum by (instance) ({})",
                    sel("tokio_doctor_runtime_live_tasks", "")
                ),
                "{{instance}}",
            )
            .size(8, 8),
        ),
        Item::Panel(findings_by_site(tasks).size(8, 8)),
        Item::Panel(
            evidence(
                tasks,
                "Live tasks and spawn rates, by spawn site",
                "short",
                "count",
                "Live tasks per spawn site, spawn and completion counts, trivial tasks per \
                 site.",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Live tasks, by spawn site",
                "short",
                "Tasks alive per spawn site (tokio_doctor::spawn, or tokio's task spans with \
                 tokio_unstable), summed over the selected instances. A site that climbs into \
                 the thousands spawns a task per item.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    sel("tokio_doctor_spawn_site_live_tasks", "")
                ),
                SITE_LEGEND,
            )
            .size(12, 8),
        ),
        Item::Panel(
            timeseries(
                "Spawned vs completed per second, by spawn site",
                "ops",
                "Tasks spawned and finished per second at each spawn site, summed over the \
                 selected instances: spawns well above completions pile up live tasks.",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_spawn_site_spawned_total", "")
                ),
                "spawned {{location}}",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_spawn_site_completed_total", "")
                ),
                "completed {{location}}",
            )
            .size(12, 8),
        ),
        Item::Row("Routes and jobs: TaskMonitorLayer and monitor_job"),
        Item::Panel(
            timeseries(
                "Slow-poll ratio by route",
                "percentunit",
                "Share of each route's (or job's) polls longer than the blocking threshold, over \
                 the selected instances. A route that blocks the executor reads high; the \
                 others only suffer its scheduling delay.",
            )
            .q(
                format!(
                    "sum by (route) ({}) / sum by (route) ({})",
                    rate("tokio_doctor_route_slow_polls_total", ""),
                    rate("tokio_doctor_route_polls_total", "")
                ),
                "{{route}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Requests per second by route",
                "reqps",
                "Requests (or job runs) started per second per route, summed over the selected \
                 instances.",
            )
            .q(
                format!(
                    "sum by (route) ({})",
                    rate("tokio_doctor_route_requests_total", "")
                ),
                "{{route}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Mean scheduling delay by route",
                "s",
                "Mean time from wake to poll of each route's futures, over the selected \
                 instances: what a blocked or busy executor costs every route.",
            )
            .q(
                format!(
                    "sum by (route) ({}) / sum by (route) ({})",
                    rate("tokio_doctor_route_scheduled_seconds_total", ""),
                    rate("tokio_doctor_route_scheduled_total", "")
                ),
                "{{route}}",
            )
            .size(8, 8),
        ),
        Item::Row("materialization, allocation_amplification: memory per span"),
        Item::Panel(
            timeseries(
                "Peak heap per span instance (p99)",
                "bytes",
                "99th percentile of the peak live heap bytes of each call site's span \
                 instances, over the selected instances (alloc feature). Above 64 MiB a result \
                 is materialized instead of streamed.",
            )
            .q(
                format!(
                    "histogram_quantile(0.99, sum by (le, span, location) ({}))",
                    rate("tokio_doctor_span_peak_bytes_bucket", "")
                ),
                "{{span}} {{location}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Heap bytes allocated per second by span",
                "Bps",
                "Bytes allocated inside each call site's spans per second, summed over the \
                 selected instances (alloc feature).",
            )
            .q(
                format!(
                    "sum by (span, location) ({})",
                    rate("tokio_doctor_span_allocated_bytes_total", "")
                ),
                "{{span}} {{location}}",
            )
            .size(8, 8),
        ),
        Item::Panel(findings_by_site(memory)),
        Item::Panel(evidence(
            memory,
            "Memory per span",
            "bytes",
            "bytes",
            "Peak live heap bytes per span instance and bytes allocated per byte kept, by call \
             site (needs the allocation-tracking feature).",
        )),
        Item::Row("Findings of every kind"),
        Item::Panel(
            timeseries(
                "All findings per second, by kind and call site",
                "ops",
                "Rate of findings of every kind, summed over the selected instances, by kind \
                 and call site (span and file:line): the detectors above in one view.",
            )
            .q(
                format!("sum by (kind, span, location) ({})", rate(FINDINGS, "")),
                KIND_SITE_LEGEND,
            )
            .size(24, 8),
        ),
    ];
    dashboard(
        "tokio-doctor-detectors",
        "tokio-doctor / Detectors",
        "One row per tokio-doctor detector with its evidence metrics, by call site.",
        items,
    )
}
