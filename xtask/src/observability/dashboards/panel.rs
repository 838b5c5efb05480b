//! The panel model, its layout on Grafana's 24-column grid, the template
//! variables and the dashboard frame, plus the panels both dashboards use.

use serde_json::{json, Value};

use super::query::*;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Viz {
    TimeSeries,
    Stat,
    Table,
}

pub(super) struct Panel {
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
    pub(super) columns: Vec<(&'static str, &'static str, &'static str)>,
    pub(super) sort_by: Option<&'static str>,
    hidden: Vec<&'static str>,
}

pub(super) fn panel(viz: Viz, title: &str, unit: &str, description: &str) -> Panel {
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

pub(super) fn timeseries(title: &str, unit: &str, description: &str) -> Panel {
    panel(Viz::TimeSeries, title, unit, description)
}

pub(super) fn stat(title: &str, unit: &str, description: &str) -> Panel {
    let mut p = panel(Viz::Stat, title, unit, description);
    p.w = 4;
    p.h = 4;
    p
}

impl Panel {
    pub(super) fn q(mut self, expr: impl Into<String>, legend: &str) -> Self {
        self.targets.push((expr.into(), legend.into()));
        self
    }
    pub(super) fn size(mut self, w: u32, h: u32) -> Self {
        self.w = w;
        self.h = h;
        self
    }
    pub(super) fn red_above(mut self, v: f64) -> Self {
        self.steps.push((v, "red"));
        self
    }
    pub(super) fn orange_above(mut self, v: f64) -> Self {
        self.steps.push((v, "orange"));
        self
    }
}

pub(super) enum Item {
    Row(&'static str),
    Panel(Panel),
}

/// Lays items out left to right, top to bottom, on Grafana's 24 columns.
pub(super) struct Layout {
    next_id: u32,
    x: u32,
    y: u32,
    row_h: u32,
    panels: Vec<Value>,
}

impl Layout {
    pub(super) fn new() -> Layout {
        Layout {
            next_id: 1,
            x: 0,
            y: 0,
            row_h: 0,
            panels: Vec::new(),
        }
    }

    pub(super) fn newline(&mut self) {
        self.y += self.row_h;
        self.x = 0;
        self.row_h = 0;
    }

    pub(super) fn id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(super) fn add(&mut self, item: Item) {
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

pub(super) fn render_panel(id: u32, grid: Value, p: &Panel) -> Value {
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

pub(super) fn variables() -> Value {
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

pub(super) fn dashboard(uid: &str, title: &str, description: &str, items: Vec<Item>) -> Value {
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

pub(super) fn findings_by_site(kinds: &str) -> Panel {
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

pub(super) fn evidence(
    kinds: &str,
    title: &str,
    unit: &str,
    pattern: &str,
    description: &str,
) -> Panel {
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
