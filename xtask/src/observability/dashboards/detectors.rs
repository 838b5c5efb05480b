//! The Grafana dashboards: Overview and Detectors.
//!
//! Every query filters on the `job` and `instance` variables and aggregates
//! (`sum by`, `max by`), so a dashboard reads the same over one instance or
//! a fleet; counters are read only through `rate()` over `$__rate_interval`.

use serde_json::{json, Value};

/// The data source every panel and query uses: the `datasource` variable.
fn ds() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// `metric{job=~"$job", instance=~"$instance", extra}`.
pub fn sel(metric: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!("{metric}{{job=~\"$job\", instance=~\"$instance\"{extra}}}")
}

/// `rate(metric{...}[$__rate_interval])`.
pub fn rate(metric: &str, extra: &str) -> String {
    format!("rate({}[$__rate_interval])", sel(metric, extra))
}

/// A quantile of a histogram, summed over instances by `le` (and `by`).
pub fn quantile(q: &str, metric: &str, by: &str) -> String {
    let by = if by.is_empty() {
        "le".to_string()
    } else {
        format!("{by}, le")
    };
    format!(
        "histogram_quantile({q}, sum by ({by}) ({}))",
        rate(&format!("{metric}_bucket"), "")
    )
}

const LAG: &str = "tokio_doctor_event_loop_lag_seconds";
const FINDINGS: &str = "tokio_doctor_findings_total";
const EVIDENCE: &str = "tokio_doctor_finding_evidence";
const SITE_LEGEND: &str = "{{span}} {{location}}";
const KIND_SITE_LEGEND: &str = "{{kind}} {{span}} {{location}}";

#[derive(Clone, Copy, PartialEq)]
enum Viz {
    TimeSeries,
    Stat,
    Table,
}

struct Panel {
    viz: Viz,
    title: String,
    description: String,
    unit: String,
    targets: Vec<(String, String)>,
    w: u32,
    h: u32,
    /// Stat thresholds: (value, colour) steps above the green base.
    steps: Vec<(f64, &'static str)>,
    /// Table: column renames, per-column units and the sort column.
    columns: Vec<(&'static str, &'static str, &'static str)>,
    sort_by: Option<&'static str>,
    hidden: Vec<&'static str>,
}

fn panel(viz: Viz, title: &str, unit: &str, description: &str) -> Panel {
    Panel {
        viz,
        title: title.into(),
        description: description.into(),
        unit: unit.into(),
        targets: Vec::new(),
        w: 12,
        h: 8,
        steps: Vec::new(),
        columns: Vec::new(),
        sort_by: None,
        hidden: Vec::new(),
    }
}

fn timeseries(title: &str, unit: &str, description: &str) -> Panel {
    panel(Viz::TimeSeries, title, unit, description)
}

fn stat(title: &str, unit: &str, description: &str) -> Panel {
    let mut p = panel(Viz::Stat, title, unit, description);
    p.w = 4;
    p.h = 4;
    p
}

impl Panel {
    fn q(mut self, expr: impl Into<String>, legend: &str) -> Self {
        self.targets.push((expr.into(), legend.into()));
        self
    }
    fn size(mut self, w: u32, h: u32) -> Self {
        self.w = w;
        self.h = h;
        self
    }
    fn red_above(mut self, v: f64) -> Self {
        self.steps.push((v, "red"));
        self
    }
    fn orange_above(mut self, v: f64) -> Self {
        self.steps.push((v, "orange"));
        self
    }
}

enum Item {
    Row(&'static str),
    Panel(Panel),
}

/// Lays items out left to right, top to bottom, on Grafana's 24 columns.
struct Layout {
    next_id: u32,
    x: u32,
    y: u32,
    row_h: u32,
    panels: Vec<Value>,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            next_id: 1,
            x: 0,
            y: 0,
            row_h: 0,
            panels: Vec::new(),
        }
    }

    fn newline(&mut self) {
        self.y += self.row_h;
        self.x = 0;
        self.row_h = 0;
    }

    fn id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn add(&mut self, item: Item) {
        match item {
            Item::Row(title) => {
                if self.x > 0 {
                    self.newline();
                }
                let id = self.id();
                self.panels.push(json!({
                    "type": "row",
                    "id": id,
                    "title": title,
                    "collapsed": false,
                    "panels": [],
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                }));
                self.y += 1;
            }
            Item::Panel(p) => {
                if self.x + p.w > 24 {
                    self.newline();
                }
                let id = self.id();
                let grid = json!({"h": p.h, "w": p.w, "x": self.x, "y": self.y});
                self.x += p.w;
                self.row_h = self.row_h.max(p.h);
                self.panels.push(render_panel(id, grid, &p));
            }
        }
    }
}

fn render_panel(id: u32, grid: Value, p: &Panel) -> Value {
    let table = p.viz == Viz::Table;
    let targets: Vec<Value> = p
        .targets
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            let mut t = json!({
                "datasource": ds(),
                "editorMode": "code",
                "expr": expr,
                "legendFormat": if legend.is_empty() { "__auto" } else { legend },
                "refId": ((b'A' + i as u8) as char).to_string(),
                "range": !table,
                "instant": table,
            });
            if table {
                t["format"] = json!("table");
            }
            t
        })
        .collect();
    let mut steps = vec![json!({"color": "green", "value": null})];
    steps.extend(p.steps.iter().map(|(v, c)| json!({"color": c, "value": v})));
    let thresholds = json!({"mode": "absolute", "steps": steps});
    let (kind, defaults, options) = match p.viz {
        Viz::TimeSeries => (
            "timeseries",
            json!({
                "unit": p.unit,
                "min": 0,
                "color": {"mode": "palette-classic"},
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "showPoints": "never",
                    "spanNulls": false,
                    "axisSoftMin": 0,
                },
                "thresholds": thresholds,
            }),
            json!({
                "legend": {
                    "displayMode": "table",
                    "placement": "bottom",
                    "showLegend": true,
                    "calcs": ["max", "lastNotNull"],
                },
                "tooltip": {"mode": "multi", "sort": "desc"},
            }),
        ),
        Viz::Stat => (
            "stat",
            json!({
                "unit": p.unit,
                "color": {"mode": "thresholds"},
                "thresholds": thresholds,
            }),
            json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "value",
                "graphMode": "area",
                "justifyMode": "auto",
                "orientation": "auto",
                "textMode": "auto",
            }),
        ),
        Viz::Table => (
            "table",
            json!({
                "unit": p.unit,
                "color": {"mode": "thresholds"},
                "thresholds": thresholds,
                "custom": {"align": "auto", "filterable": true},
            }),
            json!({
                "showHeader": true,
                "cellHeight": "sm",
                "footer": {"show": false, "reducer": ["sum"], "fields": ""},
                "sortBy": p.sort_by.map(|c| vec![json!({"displayName": c, "desc": true})])
                    .unwrap_or_default(),
            }),
        ),
    };
    let mut out = json!({
        "type": kind,
        "id": id,
        "title": p.title,
        "description": p.description,
        "datasource": ds(),
        "gridPos": grid,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    });
    if table {
        let mut rename = serde_json::Map::new();
        let mut overrides = Vec::new();
        for (from, to, unit) in &p.columns {
            rename.insert((*from).into(), json!(to));
            overrides.push(json!({
                "matcher": {"id": "byName", "options": to},
                "properties": [{"id": "unit", "value": unit}],
            }));
        }
        let mut exclude = serde_json::Map::new();
        exclude.insert("Time".into(), json!(true));
        for h in &p.hidden {
            exclude.insert((*h).into(), json!(true));
        }
        out["fieldConfig"]["overrides"] = json!(overrides);
        out["transformations"] = json!([
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": exclude,
                "renameByName": rename,
                "indexByName": {},
            }},
        ]);
    }
    out
}

fn variables() -> Value {
    let query_var = |name: &str, label: &str, query: &str| {
        json!({
            "name": name,
            "label": label,
            "type": "query",
            "datasource": ds(),
            "definition": query,
            "query": {"query": query, "refId": format!("{name}-values")},
            "refresh": 2,
            "regex": "",
            "sort": 1,
            "includeAll": true,
            "multi": true,
            "allValue": ".*",
            "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
            "options": [],
            "hide": 0,
        })
    };
    json!({"list": [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "regex": "",
            "refresh": 1,
            "includeAll": false,
            "multi": false,
            "current": {},
            "options": [],
            "hide": 0,
        },
        query_var("job", "Job", "label_values(tokio_doctor_build_info, job)"),
        query_var(
            "instance",
            "Instance",
            "label_values(tokio_doctor_build_info{job=~\"$job\"}, instance)",
        ),
    ]})
}

fn dashboard(uid: &str, title: &str, description: &str, items: Vec<Item>) -> Value {
    let mut layout = Layout::new();
    for item in items {
        layout.add(item);
    }
    json!({
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "table", "name": "Table", "version": ""},
        ],
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "description": description,
        "editable": true,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": [{
            "title": "tokio-doctor",
            "type": "dashboards",
            "tags": ["tokio-doctor"],
            "asDropdown": false,
            "includeVars": true,
            "keepTime": true,
            "icon": "external link",
            "targetBlank": false,
            "tooltip": "",
            "url": "",
        }],
        "liveNow": false,
        "panels": layout.panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["tokio-doctor", "tokio", "rust"],
        "templating": variables(),
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    })
}

/// Every dashboard: (file name, JSON).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("tokio-doctor-overview.json", overview()),
        ("tokio-doctor-detectors.json", detectors()),
    ]
}

fn findings_by_site(kinds: &str) -> Panel {
    timeseries(
        &format!("Findings per second: {}", kinds.replace('|', ", ")),
        "ops",
        &format!(
            "Rate of findings of kind {kinds}, summed over the selected instances, by call \
             site (span and file:line). A rising rate means the pattern is happening now; the \
             service's /doctor page has the evidence and the fix."
        ),
    )
    .q(
        format!(
            "sum by (kind, span, location) ({})",
            rate(FINDINGS, &format!("kind=~\"{kinds}\""))
        ),
        KIND_SITE_LEGEND,
    )
}

fn evidence(kinds: &str, title: &str, unit: &str, pattern: &str, description: &str) -> Panel {
    let matcher = match pattern {
        "count" => "evidence!~\".+_(seconds|bytes)\"".to_string(),
        suffix => format!("evidence=~\".+_{suffix}\""),
    };
    timeseries(
        title,
        unit,
        &format!(
            "{description} From tokio_doctor_finding_evidence (kind {kinds}): each figure of \
             each finding, as /doctor shows it; the largest value any selected instance reports."
        ),
    )
    .q(
        format!(
            "max by (kind, span, location, evidence) ({})",
            sel(EVIDENCE, &format!("kind=~\"{kinds}\", {matcher}"))
        ),
        "{{evidence}} {{span}} {{location}}",
    )
}

fn overview() -> Value {
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

fn detectors() -> Value {
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
