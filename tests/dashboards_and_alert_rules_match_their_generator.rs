//! The files under `dashboards/` are what users import, and they are
//! written by the generator in `xtask/src/observability/`: this test fails
//! when one drifts from it (a hand edit, or a generator change not written
//! out). Run `cargo run -p xtask -- dashboards` to rewrite them
//! (`UPDATE_DASHBOARDS=1` on this test does the same).
//!
//! The generator is included by path, not as a dependency, so the test
//! build compiles nothing new.
#[path = "../xtask/src/observability/mod.rs"]
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
        "{stale:?} differ from what xtask/src/observability/ writes; \
         run `cargo run -p xtask -- dashboards` to rewrite them"
    );
}
