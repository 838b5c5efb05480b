//! The dashboards import into Grafana as they are: each file is one
//! dashboard in Grafana's JSON model (schemaVersion 39, the model of
//! Grafana 10.4 and 11), with the fields and types that model's schema
//! (`kinds/dashboard`) requires, panels that fit the 24-column grid without
//! overlapping, unique panel ids and query refIds, and nothing that ties it
//! to one Grafana instance (no numeric id, no fixed data source).

use std::collections::HashSet;

use serde_json::Value;

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
    assert!(!out.is_empty());
    out
}

/// Collects schema violations with the path where they occur.
struct Check {
    errors: Vec<String>,
}

impl Check {
    fn fail(&mut self, at: &str, what: String) {
        self.errors.push(format!("{at}: {what}"));
    }
    fn string<'a>(&mut self, v: &'a Value, at: &str, key: &str) -> &'a str {
        match v.get(key).and_then(Value::as_str) {
            Some(s) => s,
            None => {
                self.fail(at, format!("{key} must be a string"));
                ""
            }
        }
    }
    fn boolean(&mut self, v: &Value, at: &str, key: &str) {
        if !v.get(key).is_some_and(Value::is_boolean) {
            self.fail(at, format!("{key} must be a boolean"));
        }
    }
    fn int_in(&mut self, v: &Value, at: &str, key: &str, lo: u64, hi: u64) -> u64 {
        match v.get(key).and_then(Value::as_u64) {
            Some(n) if (lo..=hi).contains(&n) => n,
            _ => {
                self.fail(
                    at,
                    format!(
                        "{key} must be an integer in {lo}..={hi}, got {:?}",
                        v.get(key)
                    ),
                );
                0
            }
        }
    }
    fn array<'a>(&mut self, v: &'a Value, at: &str, key: &str) -> &'a [Value] {
        match v.get(key).and_then(Value::as_array) {
            Some(a) => a,
            None => {
                self.fail(at, format!("{key} must be an array"));
                &[]
            }
        }
    }
    fn object(&mut self, v: &Value, at: &str, key: &str) {
        if !v.get(key).is_some_and(Value::is_object) {
            self.fail(at, format!("{key} must be an object"));
        }
    }
    fn one_of(&mut self, v: &Value, at: &str, key: &str, allowed: &[&str]) {
        let s = self.string(v, at, key).to_string();
        if !allowed.contains(&s.as_str()) {
            self.fail(at, format!("{key} {s:?} is not one of {allowed:?}"));
        }
    }
    fn datasource_ref(&mut self, v: &Value, at: &str) {
        let Some(ds) = v.get("datasource") else {
            return self.fail(at, "datasource missing".into());
        };
        self.string(ds, at, "type");
        self.string(ds, at, "uid");
    }
}

fn check_dashboard(d: &Value, c: &mut Check) {
    let at = "dashboard";
    c.int_in(d, at, "schemaVersion", 39, 41);
    if c.string(d, at, "title").is_empty() {
        c.fail(at, "empty title".into());
    }
    let uid = c.string(d, at, "uid").to_string();
    if uid.is_empty()
        || uid.len() > 40
        || !uid
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        c.fail(at, format!("uid {uid:?} must be 1-40 of [A-Za-z0-9_-]"));
    }
    if !d["id"].is_null() {
        c.fail(
            at,
            "id must be null: ids belong to one Grafana instance".into(),
        );
    }
    c.boolean(d, at, "editable");
    c.boolean(d, at, "liveNow");
    c.int_in(d, at, "graphTooltip", 0, 2);
    c.int_in(d, at, "fiscalYearStartMonth", 0, 11);
    c.int_in(d, at, "version", 0, u64::MAX);
    c.one_of(d, at, "timezone", &["browser", "utc", ""]);
    c.string(d, at, "refresh");
    c.string(d, at, "weekStart");
    c.object(d, at, "time");
    c.string(&d["time"], "time", "from");
    c.string(&d["time"], "time", "to");
    c.object(d, at, "timepicker");
    for t in c.array(d, at, "tags").to_vec() {
        if !t.is_string() {
            c.fail("tags", format!("{t} is not a string"));
        }
    }
    for (i, l) in c.array(d, at, "links").to_vec().iter().enumerate() {
        let at = format!("links[{i}]");
        c.string(l, &at, "title");
        c.one_of(l, &at, "type", &["link", "dashboards"]);
        c.boolean(l, &at, "asDropdown");
        c.boolean(l, &at, "includeVars");
        c.boolean(l, &at, "keepTime");
        c.boolean(l, &at, "targetBlank");
    }
    for (i, r) in c.array(d, at, "__requires").to_vec().iter().enumerate() {
        let at = format!("__requires[{i}]");
        c.one_of(r, &at, "type", &["grafana", "datasource", "panel"]);
        c.string(r, &at, "id");
        c.string(r, &at, "name");
        c.string(r, &at, "version");
    }
    c.object(d, at, "annotations");
    for (i, a) in c
        .array(&d["annotations"], "annotations", "list")
        .to_vec()
        .iter()
        .enumerate()
    {
        let at = format!("annotations.list[{i}]");
        c.string(a, &at, "name");
        c.boolean(a, &at, "enable");
        c.boolean(a, &at, "hide");
        c.string(a, &at, "iconColor");
        c.datasource_ref(a, &at);
    }
    c.object(d, at, "templating");
    let mut names = HashSet::new();
    for (i, v) in c
        .array(&d["templating"], "templating", "list")
        .to_vec()
        .iter()
        .enumerate()
    {
        let at = format!("templating.list[{i}]");
        let name = c.string(v, &at, "name").to_string();
        if !names.insert(name.clone()) {
            c.fail(&at, format!("variable {name} twice"));
        }
        c.one_of(
            v,
            &at,
            "type",
            &[
                "query",
                "adhoc",
                "constant",
                "datasource",
                "interval",
                "textbox",
                "custom",
                "system",
            ],
        );
        c.int_in(v, &at, "hide", 0, 2);
        c.int_in(v, &at, "refresh", 0, 2);
        c.boolean(v, &at, "multi");
        c.boolean(v, &at, "includeAll");
        c.object(v, &at, "current");
        c.array(v, &at, "options");
        if v["type"] == "query" {
            c.datasource_ref(v, &at);
            c.string(v, &at, "definition");
        }
    }
    check_panels(c.array(d, at, "panels").to_vec().as_slice(), c);
}

fn check_panels(panels: &[Value], c: &mut Check) {
    let mut ids = HashSet::new();
    let mut cells: HashSet<(u64, u64)> = HashSet::new();
    for (i, p) in panels.iter().enumerate() {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        let at = format!("panels[{i}] {title:?}");
        let kind = c.string(p, &at, "type").to_string();
        let id = c.int_in(p, &at, "id", 1, u32::MAX as u64);
        if !ids.insert(id) {
            c.fail(&at, format!("id {id} used twice"));
        }
        c.string(p, &at, "title");
        c.object(p, &at, "gridPos");
        let g = &p["gridPos"];
        let w = c.int_in(g, &at, "w", 1, 24);
        let h = c.int_in(g, &at, "h", 1, 100);
        let x = c.int_in(g, &at, "x", 0, 23);
        let y = c.int_in(g, &at, "y", 0, 10_000);
        if x + w > 24 {
            c.fail(&at, format!("x {x} + w {w} is past the 24 columns"));
        }
        for cx in x..x + w {
            for cy in y..y + h {
                if !cells.insert((cx, cy)) {
                    c.fail(&at, format!("overlaps another panel at ({cx}, {cy})"));
                }
            }
        }
        if kind == "row" {
            c.boolean(p, &at, "collapsed");
            if p["collapsed"] == false && !c.array(p, &at, "panels").is_empty() {
                c.fail(&at, "an open row keeps its panels at the top level".into());
            }
            continue;
        }
        if !["timeseries", "stat", "table"].contains(&kind.as_str()) {
            c.fail(
                &at,
                format!("panel type {kind} is not one the dashboards require"),
            );
        }
        c.datasource_ref(p, &at);
        c.string(p, &at, "description");
        c.object(p, &at, "options");
        c.object(p, &at, "fieldConfig");
        c.object(&p["fieldConfig"], &at, "defaults");
        for (j, o) in c
            .array(&p["fieldConfig"], &at, "overrides")
            .to_vec()
            .iter()
            .enumerate()
        {
            let at = format!("{at} overrides[{j}]");
            c.object(o, &at, "matcher");
            c.string(&o["matcher"], &at, "id");
            for prop in c.array(o, &at, "properties").to_vec() {
                c.string(&prop, &at, "id");
                if prop.get("value").is_none() {
                    c.fail(&at, "a property without a value".into());
                }
            }
        }
        if let Some(ts) = p.get("transformations") {
            for t in ts.as_array().cloned().unwrap_or_default() {
                c.string(&t, &at, "id");
                c.object(&t, &at, "options");
            }
        }
        let mut refs = HashSet::new();
        for (j, t) in c.array(p, &at, "targets").to_vec().iter().enumerate() {
            let at = format!("{at} targets[{j}]");
            let r = c.string(t, &at, "refId").to_string();
            if r.is_empty() || !refs.insert(r.clone()) {
                c.fail(&at, format!("refId {r:?} empty or used twice"));
            }
            c.datasource_ref(t, &at);
            c.string(t, &at, "expr");
            c.boolean(t, &at, "instant");
            c.boolean(t, &at, "range");
        }
    }
}

#[test]
fn every_dashboard_is_grafana_dashboard_json_that_imports_as_it_is() {
    for (file, d) in dashboards() {
        let mut c = Check { errors: Vec::new() };
        check_dashboard(&d, &mut c);
        assert!(c.errors.is_empty(), "{file}:\n{}", c.errors.join("\n"));
    }
}

#[test]
fn the_schema_check_refuses_what_grafana_would_refuse() {
    let (_, good) = dashboards().remove(0);
    type Breakage = Box<dyn Fn(&mut Value)>;
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "schemaVersion",
            Box::new(|d| d["schemaVersion"] = "39".into()),
        ),
        ("uid", Box::new(|d| d["uid"] = "x".repeat(41).into())),
        ("id must be null", Box::new(|d| d["id"] = 7.into())),
        ("graphTooltip", Box::new(|d| d["graphTooltip"] = 3.into())),
        (
            "past the 24 columns",
            Box::new(|d| d["panels"][1]["gridPos"]["x"] = 20.into()),
        ),
        (
            "overlaps",
            Box::new(|d| d["panels"][2]["gridPos"] = d["panels"][1]["gridPos"].clone()),
        ),
        (
            "used twice",
            Box::new(|d| d["panels"][2]["id"] = d["panels"][1]["id"].clone()),
        ),
        (
            "refId",
            Box::new(|d| d["panels"][1]["targets"][0]["refId"] = "".into()),
        ),
        (
            "datasource missing",
            Box::new(|d| {
                d["panels"][1].as_object_mut().unwrap().remove("datasource");
            }),
        ),
        (
            "type",
            Box::new(|d| d["templating"]["list"][0]["type"] = "nonsense".into()),
        ),
    ];
    for (says, breakage) in breakages {
        let mut bad = good.clone();
        breakage(&mut bad);
        let mut c = Check { errors: Vec::new() };
        check_dashboard(&bad, &mut c);
        assert!(
            c.errors.iter().any(|e| e.contains(says)),
            "breaking {says} went unnoticed: {:?}",
            c.errors
        );
    }
}
