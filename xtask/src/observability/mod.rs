//! Dashboards and alert rules as code: the one source of the JSON and YAML
//! files under `dashboards/` that users import. `cargo run -p xtask --
//! dashboards` writes them; the test
//! `dashboards_and_alert_rules_match_their_generator` (which includes this
//! module by path, so the test build needs no xtask dependency) fails when a
//! committed file differs from what this code writes.
// The test uses only `files()`; xtask's binary uses the rest.
#![allow(dead_code)]

pub mod alerts;
pub mod dashboards;

/// Where the generated files live, relative to the crate root.
pub const DIR: &str = "dashboards";

/// Every generated file: (path relative to the crate root, contents).
pub fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, dashboard) in dashboards::all() {
        let mut text = serde_json::to_string_pretty(&dashboard).expect("dashboard JSON");
        text.push('\n');
        out.push((format!("{DIR}/{name}"), text));
    }
    out.push((
        format!("{DIR}/{}", alerts::PROMETHEUS_FILE),
        alerts::prometheus_rules(),
    ));
    out.push((
        format!("{DIR}/{}", alerts::GRAFANA_FILE),
        alerts::grafana_provisioning(),
    ));
    out
}

/// A string as a YAML double-quoted scalar (JSON's escapes are YAML's).
pub fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A multi-line YAML block scalar (`|-`), each line indented by `indent`.
pub fn yaml_block(s: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("|-\n");
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}
