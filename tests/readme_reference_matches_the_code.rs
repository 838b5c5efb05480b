//! The metric reference (`docs/metrics.md`) and the environment table
//! (`docs/configuration.md`) are generated from the code's tables; this
//! test fails when they drift. Run `cargo run -p xtask -- metrics-doc` to
//! rewrite the generated blocks (`UPDATE_README=1` on this test does the
//! same).
//!
//! The generator is included by path, so the test build needs no xtask.
#[path = "../xtask/src/reference.rs"]
mod reference;

#[test]
fn the_docs_list_every_metric_and_variable_exactly() {
    let root = env!("CARGO_MANIFEST_DIR");
    let update = std::env::var_os("UPDATE_README").is_some();
    let mut stale = Vec::new();
    for block in reference::blocks() {
        let full = format!("{root}/{}", block.path);
        let text = std::fs::read_to_string(&full).unwrap();
        let replaced = reference::replace_block(&text, block.name, &block.expected)
            .unwrap_or_else(|e| panic!("{} {e}", block.path));
        let Some(new) = replaced else { continue };
        if update {
            std::fs::write(&full, new).unwrap();
        } else {
            stale.push(format!(
                "{} ({} block); expected:\n{}",
                block.path, block.name, block.expected
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "generated reference out of date; run `{}` to rewrite it:\n{}",
        reference::REGENERATE,
        stale.join("\n")
    );
}
