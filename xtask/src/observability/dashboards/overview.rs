//! The Overview dashboard: lag, findings, the top call sites, the runtime.

use serde_json::Value;

use super::panel::*;
use super::query::*;

pub(super) fn overview() -> Value {
    let busy = format!(
        "sum({}) / sum({})",
        rate("tokio_doctor_runtime_busy_duration_seconds_total", ""),
        sel("tokio_doctor_runtime_workers", "")
    );
    let busy_by_instance = format!(
        "sum by (instance) ({}) / sum by (instance) ({})",
        rate("tokio_doctor_runtime_busy_duration_seconds_total", ""),
        sel("tokio_doctor_runtime_workers", "")
    );
    let mut top = panel(
        Viz::Table,
        "Top offending call sites",
        "short",
        "Every call site with a finding: its kind, span and file:line, how often it happens \
         now (findings per second over the rate interval, summed over the selected instances) \
         and what it has cost since each instance started (summed). Ranked by cost; the \
         evidence table below and each instance's /doctor page have the figures and the fix.",
    )
    .q(
        format!("sum by (kind, span, location) ({})", rate(FINDINGS, "")),
        "",
    )
    .q(
        format!(
            "sum by (kind, span, location) ({})",
            sel("tokio_doctor_finding_cost_seconds", "")
        ),
        "",
    )
    .size(24, 8);
    top.columns = vec![
        ("Value #A", "findings per second", "ops"),
        ("Value #B", "cost since start", "s"),
    ];
    top.sort_by = Some("cost since start");
    let mut evidence_table = panel(
        Viz::Table,
        "Evidence of each finding",
        "short",
        "Every evidence figure of every finding (blocked seconds, worst poll, ...), the \
         largest value any selected instance reports. A figure's name ends with its unit: \
         _seconds are seconds, _bytes are bytes, anything else is a count.",
    )
    .q(
        format!(
            "max by (kind, span, location, evidence) ({})",
            sel(EVIDENCE, "")
        ),
        "",
    )
    .size(24, 8);
    evidence_table.columns = vec![("Value", "value", "short")];

    let items =
        vec![
        Item::Row("Now"),
        Item::Panel(
            stat(
                "Event-loop lag p99",
                "s",
                "99th percentile of how late the lag probe was woken, over the rate interval, \
                 across the selected instances: the delay every task waits before it runs. \
                 Red above 50 ms, the alert threshold.",
            )
            .q(quantile("0.99", LAG, ""), "p99")
            .orange_above(0.025)
            .red_above(0.05),
        ),
        Item::Panel(
            stat(
                "Findings per second",
                "ops",
                "All findings of every kind, per second, summed over the selected instances. \
                 Zero is healthy.",
            )
            .q(format!("sum({})", rate(FINDINGS, "")), "findings")
            .red_above(0.001),
        ),
        Item::Panel(
            stat(
                "Stalled polls now",
                "short",
                "Polls running past the blocking threshold right now, summed over the selected \
                 instances: a worker that is blocked or spinning at this moment.",
            )
            .q(
                format!("sum({})", sel("tokio_doctor_stalled_polls", "")),
                "stalled",
            )
            .red_above(1.0),
        ),
        Item::Panel(
            stat(
                "Runtime workers",
                "short",
                "Worker threads of the tokio runtimes, summed over the selected instances.",
            )
            .q(
                format!("sum({})", sel("tokio_doctor_runtime_workers", "")),
                "workers",
            ),
        ),
        Item::Panel(
            stat(
                "Busy share",
                "percentunit",
                "Share of the workers' time spent running tasks, over the rate interval: busy \
                 seconds of all selected instances divided by their workers. Near 100% the \
                 runtime cannot take more load.",
            )
            .q(busy.clone(), "busy")
            .orange_above(0.7)
            .red_above(0.9),
        ),
        Item::Panel(
            stat(
                "Live tasks",
                "short",
                "Tasks alive in the runtimes, summed over the selected instances. It must follow \
                 load; growth with uptime is a task leak or a task explosion.",
            )
            .q(
                format!("sum({})", sel("tokio_doctor_runtime_live_tasks", "")),
                "tasks",
            ),
        ),
        Item::Row("Event-loop lag and findings"),
        Item::Panel(
            timeseries(
                "Event-loop lag",
                "s",
                "How late the lag probe was woken: p50 and p99 from the lag histogram (summed \
                 over the selected instances by bucket, over the rate interval) and the largest \
                 lag of the last sampler interval on any instance. A healthy runtime reads \
                 0-2 ms; the alert fires on a p99 over 50 ms for 5 minutes.",
            )
            .q(quantile("0.5", LAG, ""), "p50")
            .q(quantile("0.99", LAG, ""), "p99")
            .q(
                format!("max({})", sel("tokio_doctor_event_loop_lag_max_seconds", "")),
                "max",
            ),
        ),
        Item::Panel(
            timeseries(
                "Findings per second, by kind",
                "ops",
                "Findings per second of each kind, summed over the selected instances and call \
                 sites. The table below names the call sites.",
            )
            .q(
                format!("sum by (kind) ({})", rate(FINDINGS, "")),
                "{{kind}}",
            ),
        ),
        Item::Panel(top),
        Item::Panel(evidence_table),
        Item::Row("Runtime"),
        Item::Panel(
            timeseries(
                "Busy share, by instance",
                "percentunit",
                "Busy seconds per second of each instance's workers divided by its worker count: \
                 how close each runtime is to saturation.",
            )
            .q(busy_by_instance, "{{instance}}")
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Live tasks, by instance",
                "short",
                "Tasks alive in each instance's runtime. It must follow load; growth with \
                 uptime is a task leak or a task explosion.",
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
        Item::Panel(
            timeseries(
                "Global queue depth, by instance",
                "short",
                "Tasks waiting in each runtime's global (injection) queue. Sustained depth means \
                 the workers cannot keep up.",
            )
            .q(
                format!(
                    "sum by (instance) ({})",
                    sel("tokio_doctor_runtime_global_queue_depth", "")
                ),
                "{{instance}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Runtime workers, by instance",
                "short",
                "Worker threads of each instance's runtime.",
            )
            .q(
                format!(
                    "sum by (instance) ({})",
                    sel("tokio_doctor_runtime_workers", "")
                ),
                "{{instance}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Stalled polls now, by instance",
                "short",
                "Polls running past the blocking threshold at each scrape, by instance.",
            )
            .q(
                format!(
                    "sum by (instance) ({})",
                    sel("tokio_doctor_stalled_polls", "")
                ),
                "{{instance}}",
            )
            .size(8, 8),
        ),
        Item::Panel(
            timeseries(
                "Poll duration p99",
                "s",
                "99th percentile of poll durations inside spans on runtime workers, over the \
                 rate interval, across the selected instances. tokio's guidance is 10-100 \
                 microseconds between awaits; above 10 ms a poll blocks the executor.",
            )
            .q(
                quantile("0.99", "tokio_doctor_poll_duration_seconds", ""),
                "p99",
            )
            .size(8, 8),
        ),
    ];
    dashboard(
        "tokio-doctor-overview",
        "tokio-doctor / Overview",
        "Event-loop lag, findings by kind and call site, and the tokio runtime, from \
         tokio-doctor's metrics.",
        items,
    )
}
