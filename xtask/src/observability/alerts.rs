//! The alerts, written once and rendered twice: as a Prometheus rules file
//! (for Prometheus, Grafana's data-source-managed alerts and the Mimir and
//! Thanos rulers) and as a Grafana-managed alerting provisioning file.
//!
//! Each expression keeps only the series that should alert and its value is
//! positive when it does, so Grafana's condition is simply "A > 0" on the
//! same PromQL.

use super::{yaml_block, yaml_str};

pub const PROMETHEUS_FILE: &str = "tokio-doctor.rules.yml";
pub const GRAFANA_FILE: &str = "grafana-alerting.yml";
/// Where every runbook link points: a section of the alert runbook,
/// `docs/alerts.md`, per alert.
pub const RUNBOOK_BASE: &str =
    "https://github.com/tokio-doctor/tokio-doctor/blob/main/docs/alerts.md#alert-";
/// The Grafana data source UID the provisioning file queries.
pub const GRAFANA_DATASOURCE_UID: &str = "prometheus";

pub struct Alert {
    pub name: &'static str,
    /// Grafana rule UID (at most 40 characters).
    pub uid: &'static str,
    pub expr: &'static str,
    /// How long the condition must hold; "0s" fires at once.
    pub for_: &'static str,
    pub severity: &'static str,
    pub summary: &'static str,
    /// `VALUE` stands for the alert's value in each dialect's template.
    pub description: &'static str,
}

impl Alert {
    pub fn runbook(&self) -> String {
        format!("{RUNBOOK_BASE}{}", self.name.to_ascii_lowercase())
    }
}

/// Every alert tokio-doctor ships.
pub fn all() -> Vec<Alert> {
    vec![
        Alert {
            name: "TokioDoctorEventLoopLagHigh",
            uid: "tokio-doctor-event-loop-lag-high",
            expr: "histogram_quantile(0.99,\n  sum by (job, instance, le) (rate(tokio_doctor_event_loop_lag_seconds_bucket[5m]))\n) > 0.05",
            for_: "5m",
            severity: "critical",
            summary: "Event-loop lag p99 of {{ $labels.instance }} is over 50 ms",
            description: "Tasks on {{ $labels.instance }} (job {{ $labels.job }}) wait {{ VALUE | humanizeDuration }} (p99) before they run: something blocks the runtime's workers. The call site is the top blocking_poll finding: see TokioDoctorBlockingPoll, open http://{{ $labels.instance }}/doctor or run `tokio-doctor {{ $labels.instance }}`.",
        },
        Alert {
            name: "TokioDoctorExecutorStalled",
            uid: "tokio-doctor-executor-stalled",
            expr: "max by (job, instance, span, location) (tokio_doctor_stalled_poll_seconds) > 1",
            for_: "0s",
            severity: "critical",
            summary: "{{ $labels.span }} at {{ $labels.location }} is stalling a runtime worker now",
            description: "A poll of `{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} has been running for {{ VALUE | humanizeDuration }} without yielding: its worker runs no other task until it returns.",
        },
        Alert {
            name: "TokioDoctorBlockingPoll",
            uid: "tokio-doctor-blocking-poll",
            expr: "sum by (job, instance, span, location) (rate(tokio_doctor_blocking_poll_seconds_total[5m])) > 0.05",
            for_: "10m",
            severity: "warning",
            summary: "{{ $labels.span }} at {{ $labels.location }} blocks the executor",
            description: "`{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} keeps runtime workers blocked {{ VALUE | humanizePercentage }} of the time (in worker-seconds per second) with CPU-bound or blocking work.",
        },
        Alert {
            name: "TokioDoctorQueueGrowing",
            uid: "tokio-doctor-queue-growing",
            expr: "(max by (job, instance, queue) (tokio_doctor_queue_growth_per_second) > 0)\nand on (job, instance, queue)\n(max by (job, instance, queue) (tokio_doctor_queue_depth) > 100)",
            for_: "10m",
            severity: "warning",
            summary: "Queue {{ $labels.queue }} on {{ $labels.instance }} keeps growing",
            description: "Queue `{{ $labels.queue }}` on {{ $labels.instance }} has grown by {{ printf \"%.1f\" VALUE }} items per second for 10 minutes and holds over 100: its producers outrun its consumers and nothing pushes back, so it ends in running out of memory.",
        },
        Alert {
            name: "TokioDoctorTaskExplosion",
            uid: "tokio-doctor-task-explosion",
            expr: "(sum by (job, instance, span, location) (rate(tokio_doctor_findings_total{kind=\"excess_tasks\"}[5m])) > 0)\nor on (job, instance)\n(max by (job, instance) (tokio_doctor_runtime_live_tasks) > 10000)",
            for_: "5m",
            severity: "warning",
            summary: "Too many tasks on {{ $labels.instance }}",
            description: "{{ if $labels.span }}Spawn site `{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} keeps far more tasks alive than useful (excess_tasks findings).{{ else }}{{ $labels.instance }} has {{ VALUE | humanize }} live tasks, over 10,000; the spawn site is in its excess_tasks findings.{{ end }}",
        },
        Alert {
            name: "TokioDoctorHeldResourceCostsPoolSlots",
            uid: "tokio-doctor-held-resource-pool-slots",
            expr: "sum by (job, instance, kind, span, location) (rate(tokio_doctor_findings_total{kind=~\"held_across_await|slow_work_while_held\"}[5m])) > 0",
            for_: "10m",
            severity: "warning",
            summary: "{{ $labels.span }} at {{ $labels.location }} holds a resource across an await",
            description: "`{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} keeps a connection, lock or transaction held while it awaits unrelated work ({{ $labels.kind }}, {{ printf \"%.2f\" VALUE }} findings per second): by Little's Law that costs pool slots and queues every other request.",
        },
        Alert {
            name: "TokioDoctorMissingDeadline",
            uid: "tokio-doctor-missing-deadline",
            expr: "sum by (job, instance, span, location) (rate(tokio_doctor_findings_total{kind=\"missing_deadline\"}[5m])) > 0",
            for_: "15m",
            severity: "warning",
            summary: "{{ $labels.span }} at {{ $labels.location }} calls out without a deadline",
            description: "`{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} makes outbound calls with no deadline in scope ({{ printf \"%.2f\" VALUE }} findings per second): one hung dependency will hold its tasks and connections for as long as it hangs.",
        },
        Alert {
            name: "TokioDoctorHungCalls",
            uid: "tokio-doctor-hung-calls",
            expr: "max by (job, instance, span, location) (tokio_doctor_hung_calls) > 0",
            for_: "2m",
            severity: "critical",
            summary: "Calls from {{ $labels.span }} at {{ $labels.location }} are hanging",
            description: "{{ printf \"%.0f\" VALUE }} outbound calls of `{{ $labels.span }}` at {{ $labels.location }} on {{ $labels.instance }} have been open longer than the hang limit: nothing cancels them, so they keep their tasks and connections (see its missing_deadline or deadline_overrun finding).",
        },
    ]
}

/// The Prometheus rules file.
pub fn prometheus_rules() -> String {
    let mut out = String::from(
        "# tokio-doctor alerts for Prometheus, Grafana data-source-managed alerts and the\n\
         # Mimir/Thanos rulers. Generated by xtask/src/observability/alerts.rs: edit it there,\n\
         # then run cargo run -p xtask -- dashboards\n\
         # Tested by tokio-doctor.rules.test.yml (promtool test rules).\n\
         groups:\n  - name: tokio-doctor\n    rules:\n",
    );
    for a in all() {
        out.push_str(&format!("      - alert: {}\n", a.name));
        out.push_str(&format!("        expr: {}\n", yaml_block(a.expr, 10)));
        if a.for_ != "0s" {
            out.push_str(&format!("        for: {}\n", a.for_));
        }
        out.push_str(&format!(
            "        labels:\n          severity: {}\n",
            a.severity
        ));
        out.push_str("        annotations:\n");
        out.push_str(&format!("          summary: {}\n", yaml_str(a.summary)));
        out.push_str(&format!(
            "          description: {}\n",
            yaml_str(&a.description.replace("VALUE", "$value"))
        ));
        out.push_str(&format!(
            "          runbook_url: {}\n",
            yaml_str(&a.runbook())
        ));
    }
    out
}

/// The Grafana-managed alerting provisioning file: the same alerts.
pub fn grafana_provisioning() -> String {
    let mut out = format!(
        "# tokio-doctor alerts as Grafana-managed alert rules (file provisioning: put it in\n\
         # provisioning/alerting/). The same alerts as {PROMETHEUS_FILE}; set datasourceUid to\n\
         # the UID of your Prometheus data source (here: {GRAFANA_DATASOURCE_UID}).\n\
         # Generated by xtask/src/observability/alerts.rs: edit it there, then run\n\
         # cargo run -p xtask -- dashboards\n\
         apiVersion: 1\ngroups:\n  - orgId: 1\n    name: tokio-doctor\n    folder: tokio-doctor\n    \
         interval: 1m\n    rules:\n"
    );
    for a in all() {
        assert!(a.uid.len() <= 40, "{} is too long for a Grafana UID", a.uid);
        out.push_str(&format!("      - uid: {}\n", a.uid));
        out.push_str(&format!("        title: {}\n", a.name));
        out.push_str("        condition: C\n        data:\n");
        out.push_str(&format!(
            "          - refId: A\n            relativeTimeRange:\n              from: 600\n              \
             to: 0\n            datasourceUid: {GRAFANA_DATASOURCE_UID}\n            model:\n              \
             refId: A\n              datasource:\n                type: prometheus\n                \
             uid: {GRAFANA_DATASOURCE_UID}\n              editorMode: code\n              \
             expr: {}\n              instant: true\n              range: false\n              \
             intervalMs: 1000\n              maxDataPoints: 43200\n",
            yaml_block(a.expr, 16)
        ));
        out.push_str(
            "          - refId: C\n            relativeTimeRange:\n              from: 0\n              \
             to: 0\n            datasourceUid: __expr__\n            model:\n              refId: C\n              \
             type: threshold\n              expression: A\n              datasource:\n                \
             type: __expr__\n                uid: __expr__\n              conditions:\n                \
             - evaluator:\n                    type: gt\n                    params:\n                      \
             - 0\n",
        );
        out.push_str(&format!(
            "        noDataState: OK\n        execErrState: Error\n        for: {}\n",
            a.for_
        ));
        out.push_str(&format!(
            "        labels:\n          severity: {}\n",
            a.severity
        ));
        out.push_str("        annotations:\n");
        out.push_str(&format!("          summary: {}\n", yaml_str(a.summary)));
        out.push_str(&format!(
            "          description: {}\n",
            yaml_str(&a.description.replace("VALUE", "$values.A.Value"))
        ));
        out.push_str(&format!(
            "          runbook_url: {}\n",
            yaml_str(&a.runbook())
        ));
        out.push_str("        isPaused: false\n");
    }
    out
}
