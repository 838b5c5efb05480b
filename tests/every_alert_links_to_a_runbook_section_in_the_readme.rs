//! The two alert files ship the same alerts, and every alert's runbook link
//! points at a section of the alert runbook, `docs/alerts.md`
//! (`### Alert: NAME`), that says how to fix it in Rust, so the page an
//! operator opens from the pager exists. (The file name predates the
//! runbook's move out of the README.)

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Values of `key: value` lines (YAML scalars, quotes removed).
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().trim_start_matches("- ").strip_prefix(key))
        .map(|v| v.trim().trim_matches('"').to_string())
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn both_alert_files_have_the_same_alerts_and_each_runbook_is_a_runbook_section_with_a_fix() {
    let prometheus = read("dashboards/tokio-doctor.rules.yml");
    let grafana = read("dashboards/grafana-alerting.yml");
    let names = values(&prometheus, "alert:");
    assert!(names.len() >= 7, "{names:?}");
    assert_eq!(
        values(&grafana, "title:"),
        names,
        "the same alerts, in the same order"
    );
    let runbooks = values(&prometheus, "runbook_url:");
    assert_eq!(values(&grafana, "runbook_url:"), runbooks);
    assert_eq!(runbooks.len(), names.len());
    for what in ["summary:", "description:"] {
        assert_eq!(values(&prometheus, what).len(), names.len(), "{what}");
        assert_eq!(values(&grafana, what).len(), names.len(), "{what}");
    }

    let runbook = read("docs/alerts.md");
    let sections: Vec<(String, String)> = runbook
        .split("\n### ")
        .skip(1)
        .map(|s| {
            let (heading, body) = s.split_once('\n').unwrap();
            let body = body.split("\n## ").next().unwrap();
            (anchor(heading), body.to_string())
        })
        .collect();
    for (name, url) in names.iter().zip(&runbooks) {
        let (base, fragment) = url.split_once('#').unwrap();
        assert_eq!(
            base, "https://github.com/tokio-doctor/tokio-doctor/blob/main/docs/alerts.md",
            "{url}"
        );
        assert_eq!(fragment, format!("alert-{}", name.to_lowercase()));
        let (_, body) = sections
            .iter()
            .find(|(a, _)| a == fragment)
            .unwrap_or_else(|| {
                panic!("docs/alerts.md has no `### Alert: {name}` section for {url}")
            });
        assert!(
            body.contains("```rust") || body.contains("](#alert-"),
            "the {name} section shows the fix in Rust (or links the section that does)"
        );
        assert!(
            runbook.contains(&format!("[{name}](#{fragment})")),
            "the alerts table lists {name}"
        );
    }
}
