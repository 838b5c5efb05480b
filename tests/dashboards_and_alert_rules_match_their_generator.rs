//! The files under `dashboards/` are what users import, and they are
//! written by `tests/observability/`: this test fails when one drifts from
//! its generator. Run with
//! `UPDATE_DASHBOARDS=1 cargo test --test dashboards_and_alert_rules_match_their_generator`
//! to rewrite them.
mod observability;

#[test]
fn the_committed_dashboards_and_alert_rules_are_what_the_generator_writes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let update = std::env::var_os("UPDATE_DASHBOARDS").is_some();
    let mut stale = Vec::new();
    for (path, expected) in observability::files() {
        let full = format!("{root}/{path}");
        let current = std::fs::read_to_string(&full).unwrap_or_default();
        if current == expected {
            continue;
        }
        if update {
            std::fs::write(&full, &expected).unwrap();
        } else {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from tests/observability/; run \
         UPDATE_DASHBOARDS=1 cargo test --test dashboards_and_alert_rules_match_their_generator"
    );
}
