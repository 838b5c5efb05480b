//! The committed dashboards follow the rules of Grafana's dashboard-linter,
//! checked as ordinary tests over the JSON users import: a datasource
//! variable used by every panel and query, `job` and `instance` variables
//! that every query filters on, a title, description and unit on every
//! panel, counters read only through `rate()`/`increase()` over
//! `$__rate_interval`, aggregations that stay meaningful over many
//! instances, and only metric names and finding kinds that exist.

use serde_json::Value;
use tokio_doctor::export::{MetricType, METRICS};
use tokio_doctor::FindingKind;

/// Metrics that detectors still being built will export (named by their
/// issues), so the dashboards can show them the day they land.
const COMING: &[(&str, MetricType)] = &[
    ("tokio_doctor_queue_depth", MetricType::Gauge),
    ("tokio_doctor_queue_growth_per_second", MetricType::Gauge),
    ("tokio_doctor_queue_enqueued_total", MetricType::Counter),
    ("tokio_doctor_queue_dequeued_total", MetricType::Counter),
    ("tokio_doctor_queue_saturation", MetricType::Gauge),
    ("tokio_doctor_connections_opened_total", MetricType::Counter),
    ("tokio_doctor_outbound_requests_total", MetricType::Counter),
    ("tokio_doctor_concurrency_recommended", MetricType::Gauge),
    ("tokio_doctor_concurrency_in_flight", MetricType::Gauge),
];

/// Grafana unit ids the dashboards may use.
const UNITS: &[&str] = &[
    "s",
    "ops",
    "short",
    "percentunit",
    "bytes",
    "suffix: items/s",
    "reqps",
    "Bps",
];

const AGGREGATIONS: &[&str] = &[
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "quantile", "group",
];

fn dashboards() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 2, "the overview and detectors dashboards");
    out
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn metric_type(name: &str) -> Option<MetricType> {
    for m in METRICS {
        if m.name == name {
            return Some(m.kind);
        }
        if m.kind == MetricType::Histogram {
            for suffix in ["_bucket", "_count", "_sum"] {
                if name.strip_suffix(suffix) == Some(m.name) {
                    return Some(MetricType::Counter);
                }
            }
        }
    }
    COMING.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A metric selector found in an expression.
struct Selector {
    name: String,
    start: usize,
    end: usize,
    matchers: String,
}

fn selectors(expr: &str) -> Vec<Selector> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = expr[i..].find("tokio_doctor_") {
        let start = i + off;
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        if start > 0 && word(b[start - 1]) {
            i = start + 1;
            continue;
        }
        let mut end = start;
        while end < b.len() && word(b[end]) {
            end += 1;
        }
        let name = expr[start..end].to_string();
        let mut matchers = String::new();
        if b.get(end) == Some(&b'{') {
            let close = expr[end..].find('}').expect("closed matchers") + end;
            matchers = expr[end + 1..close].to_string();
            end = close + 1;
        }
        out.push(Selector {
            name,
            start,
            end,
            matchers,
        });
        i = end;
    }
    out
}

/// The word just before byte `pos` (skipping spaces).
fn word_before(expr: &str, pos: usize) -> &str {
    let s = expr[..pos].trim_end();
    let start = s
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    &s[start..]
}

/// For each `(` enclosing `pos`, innermost first: the function or
/// aggregation it belongs to, and its `by (...)` labels if any.
fn enclosing_calls(expr: &str, pos: usize) -> Vec<(String, String)> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    for i in (0..pos).rev() {
        match b[i] {
            b')' => depth += 1,
            b'(' if depth > 0 => depth -= 1,
            b'(' => {
                let before = expr[..i].trim_end();
                if before.ends_with(')') {
                    // `agg by (labels) (` : find the clause's opening paren.
                    let close = before.len() - 1;
                    let open = before[..close].rfind('(').unwrap();
                    let labels = before[open + 1..close].to_string();
                    let kw = word_before(expr, open);
                    let agg = if kw == "by" || kw == "without" {
                        let kw_start = expr[..open].trim_end().len() - kw.len();
                        word_before(expr, kw_start).to_string()
                    } else {
                        kw.to_string()
                    };
                    out.push((agg, labels));
                } else {
                    out.push((word_before(expr, i).to_string(), String::new()));
                }
            }
            _ => {}
        }
    }
    out
}

/// Every problem with one expression of a panel.
fn lint_expr(expr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let sels = selectors(expr);
    if sels.is_empty() {
        problems.push("reads no tokio_doctor_ metric".into());
    }
    for s in &sels {
        let n = &s.name;
        let Some(kind) = metric_type(n) else {
            problems.push(format!("{n} is not a tokio-doctor metric"));
            continue;
        };
        for needed in ["job=~\"$job\"", "instance=~\"$instance\""] {
            if !s.matchers.contains(needed) {
                problems.push(format!("{n} is not filtered by {needed}"));
            }
        }
        let calls = enclosing_calls(expr, s.start);
        let func = calls.first().map(|c| c.0.as_str()).unwrap_or("");
        let range = expr[s.end..].starts_with('[');
        match kind {
            MetricType::Counter
                if !(func == "rate" || func == "increase")
                    || !expr[s.end..].starts_with("[$__rate_interval])") =>
            {
                problems.push(format!(
                    "counter {n} is read other than rate/increase(...[$__rate_interval])"
                ));
            }
            MetricType::Counter => {}
            _ if range || func == "rate" || func == "increase" || func == "irate" => {
                problems.push(format!("gauge {n} is read as a counter"));
            }
            _ => {}
        }
        let agg = calls
            .iter()
            .find(|(f, _)| AGGREGATIONS.contains(&f.as_str()));
        match agg {
            None => problems.push(format!(
                "{n} is not aggregated (sum/max by ...): one line per instance does not scale"
            )),
            Some((_, by)) if n.ends_with("_bucket") => {
                let has_le = by.split(',').any(|l| l.trim() == "le");
                if !has_le || !calls.iter().any(|(f, _)| f == "histogram_quantile") {
                    problems.push(format!(
                        "{n} must be read as histogram_quantile(q, sum by (le) (rate(...)))"
                    ));
                }
            }
            _ => {}
        }
        // Finding kinds named in a matcher must exist.
        for m in s.matchers.split(", ") {
            if let Some(v) = m
                .strip_prefix("kind=~\"")
                .or_else(|| m.strip_prefix("kind!~\""))
                .or_else(|| m.strip_prefix("kind=\""))
            {
                for k in v.trim_end_matches('"').split('|') {
                    if !FindingKind::ALL.iter().any(|f| f.as_str() == k) {
                        problems.push(format!("{k} is not a finding kind"));
                    }
                }
            }
        }
    }
    // Ranges only over $__rate_interval.
    let mut rest = expr;
    while let Some(i) = rest.find('[') {
        let close = rest[i..].find(']').map(|j| i + j).unwrap_or(rest.len() - 1);
        if &rest[i..=close] != "[$__rate_interval]" {
            problems.push(format!(
                "range {} is not [$__rate_interval]",
                &rest[i..=close]
            ));
        }
        rest = &rest[close + 1..];
    }
    // Only the dashboard's own variables.
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        let var: String = rest[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !["job", "instance", "__rate_interval"].contains(&var.as_str()) {
            problems.push(format!("uses ${var}"));
        }
        rest = &rest[i + 1..];
    }
    problems
}

#[test]
fn the_linter_itself_catches_what_it_is_for() {
    let ok = "sum by (span) (rate(tokio_doctor_stalls_total{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval]))";
    assert_eq!(lint_expr(ok), Vec::<String>::new());
    let cases = [
        ("tokio_doctor_stalls_total{job=~\"$job\", instance=~\"$instance\"}", "counter"),
        ("sum(rate(tokio_doctor_stalls_total{job=~\"$job\", instance=~\"$instance\"}[5m]))", "range [5m]"),
        ("sum(tokio_doctor_stalls_total{job=~\"$job\"})", "instance"),
        ("rate(tokio_doctor_stalls_total{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval])", "not aggregated"),
        ("sum(rate(tokio_doctor_stalled_polls{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval]))", "gauge"),
        ("sum(tokio_doctor_nonsense{job=~\"$job\", instance=~\"$instance\"})", "not a tokio-doctor metric"),
        ("histogram_quantile(0.99, sum(rate(tokio_doctor_event_loop_lag_seconds_bucket{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval])))", "sum by (le)"),
        ("sum(rate(tokio_doctor_findings_total{job=~\"$job\", instance=~\"$instance\", kind=\"blocking_pol\"}[$__rate_interval]))", "blocking_pol is not a finding kind"),
        ("sum(rate(tokio_doctor_stalls_total{job=~\"$job\", instance=~\"$instance\"}[$__interval]))", "uses $__interval"),
    ];
    for (expr, says) in cases {
        let problems = lint_expr(expr);
        assert!(
            problems.iter().any(|p| p.contains(says)),
            "{expr}: expected a problem saying {says:?}, got {problems:?}"
        );
    }
}

#[test]
fn metrics_still_to_come_keep_the_type_the_dashboards_expect() {
    for (name, kind) in COMING {
        if let Some(m) = METRICS.iter().find(|m| m.name == *name) {
            assert_eq!(m.kind, *kind, "{name} landed with another type");
        }
    }
}

#[test]
fn every_dashboard_has_a_datasource_variable_and_job_and_instance_variables() {
    for (file, d) in dashboards() {
        let vars = d["templating"]["list"].as_array().unwrap();
        let var = |name: &str| {
            vars.iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("{file}: no ${name} variable"))
        };
        let ds = var("datasource");
        assert_eq!(ds["type"], "datasource", "{file}");
        assert_eq!(ds["query"], "prometheus", "{file}");
        for name in ["job", "instance"] {
            let v = var(name);
            assert_eq!(v["type"], "query", "{file} ${name}");
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{file} ${name}");
            assert_eq!(v["includeAll"], true, "{file} ${name}");
            assert_eq!(v["multi"], true, "{file} ${name}");
            assert_eq!(
                v["allValue"], ".*",
                "{file} ${name}: All must match every value"
            );
            let q = v["definition"].as_str().unwrap();
            assert!(
                q.starts_with("label_values(tokio_doctor_build_info"),
                "{file}: {q}"
            );
            assert_eq!(v["query"]["query"], q, "{file} ${name}");
        }
        assert!(
            var("instance")["definition"]
                .as_str()
                .unwrap()
                .contains("job=~\"$job\""),
            "{file}: instances follow the chosen job"
        );
    }
}

#[test]
fn every_panel_has_a_title_a_description_a_unit_and_the_datasource_variable() {
    for (file, d) in dashboards() {
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{file}: a panel without a title: {p}");
            if p["type"] == "row" {
                continue;
            }
            let description = p["description"].as_str().unwrap_or("");
            assert!(
                description.len() >= 40 && description.ends_with('.'),
                "{file} / {title}: describe what the panel shows, in sentences"
            );
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(UNITS.contains(&unit), "{file} / {title}: unit {unit:?}");
            for o in p["fieldConfig"]["overrides"].as_array().unwrap() {
                for prop in o["properties"].as_array().unwrap() {
                    if prop["id"] == "unit" {
                        let u = prop["value"].as_str().unwrap();
                        assert!(UNITS.contains(&u), "{file} / {title}: unit {u:?}");
                    }
                }
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file} / {title}");
            assert_eq!(p["datasource"]["type"], "prometheus", "{file} / {title}");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file} / {title}: no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file} / {title}");
            }
        }
    }
}

#[test]
fn every_query_filters_by_job_and_instance_reads_counters_through_rate_and_aggregates() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (file, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap();
                for problem in lint_expr(expr) {
                    problems.push(format!("{file} / {}: {problem}\n    {expr}", p["title"]));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} queries");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_overview_shows_what_an_operator_looks_at_first() {
    let d = dashboards()
        .into_iter()
        .find(|(f, _)| f.contains("overview"))
        .unwrap()
        .1;
    let exprs: Vec<String> = panels(&d)
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    let has = |s: &str| exprs.iter().any(|e| e.contains(s));
    for q in ["0.5", "0.99"] {
        assert!(has(&format!(
            "histogram_quantile({q}, sum by (le) (rate(tokio_doctor_event_loop_lag_seconds_bucket"
        )));
    }
    for m in [
        "tokio_doctor_event_loop_lag_max_seconds",
        "sum by (kind) (rate(tokio_doctor_findings_total",
        "sum by (kind, span, location) (rate(tokio_doctor_findings_total",
        "tokio_doctor_finding_evidence",
        "tokio_doctor_runtime_workers",
        "tokio_doctor_runtime_busy_duration_seconds_total",
        "tokio_doctor_runtime_live_tasks",
        "tokio_doctor_runtime_global_queue_depth",
        "tokio_doctor_stalled_polls",
    ] {
        assert!(has(m), "the overview lacks {m}");
    }
    let table = panels(&d)
        .into_iter()
        .find(|p| p["title"] == "Top offending call sites")
        .expect("the top call sites table");
    assert_eq!(table["type"], "table");
}

#[test]
fn the_detectors_dashboard_has_a_row_per_detector() {
    let d = dashboards()
        .into_iter()
        .find(|(f, _)| f.contains("detectors"))
        .unwrap()
        .1;
    let rows: Vec<String> = panels(&d)
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect();
    for kind in FindingKind::ALL {
        let k = kind.as_str();
        let shown = match kind {
            FindingKind::ConcurrencyAdvice => "concurrency",
            _ => k,
        };
        assert!(
            rows.iter().any(|r| r.contains(shown)),
            "no row for {k} in {rows:?}"
        );
    }
}
