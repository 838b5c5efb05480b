//! The generated tables of `docs/`: the metric reference (from
//! `tokio_doctor::export::METRICS`) in `docs/metrics.md` and the
//! environment variables (from `tokio_doctor::ENV_VARS`) in
//! `docs/configuration.md`. Each sits between `<!-- NAME:begin -->` and
//! `<!-- NAME:end -->` markers so the prose around it stays hand-written.
//!
//! `cargo run -p xtask -- metrics-doc` rewrites the tables; the test
//! `readme_reference_matches_the_code` includes this module by path and
//! fails when a committed table differs.
// The test and the binary each use part of this module.
#![allow(dead_code)]

use tokio_doctor::export::{Source, METRICS};

/// The command that rewrites the tables, for error messages.
pub const REGENERATE: &str = "cargo run -p xtask -- metrics-doc";

/// A generated block: the file it lives in (relative to the crate root),
/// its marker name and its expected contents.
pub struct Block {
    /// File relative to the crate root.
    pub path: &'static str,
    /// Marker name: `<!-- NAME:begin -->`.
    pub name: &'static str,
    /// What belongs between the markers.
    pub expected: String,
}

/// Every generated block.
pub fn blocks() -> Vec<Block> {
    vec![
        Block {
            path: "docs/metrics.md",
            name: "metrics",
            expected: metrics_block(),
        },
        Block {
            path: "docs/configuration.md",
            name: "env",
            expected: env_block(),
        },
    ]
}

/// The metric table: one row per entry of `METRICS`, in its order.
pub fn metrics_block() -> String {
    let mut out = String::from("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for m in METRICS {
        let labels = if m.labels.is_empty() {
            "-".to_string()
        } else {
            m.labels.join(", ")
        };
        let needs = match m.source {
            Source::RuntimeUnstable => " *(tokio_unstable)*",
            Source::Alloc => " *(alloc feature)*",
            _ => "",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {}{} |\n",
            m.name,
            m.kind.as_str(),
            labels,
            m.help.replace('|', "\\|"),
            needs
        ));
    }
    out
}

/// The variable table: one row per entry of `ENV_VARS`, in its order.
pub fn env_block() -> String {
    let mut out = String::from("| variable | accepts | default |\n|---|---|---|\n");
    for (var, form, default) in tokio_doctor::ENV_VARS {
        out.push_str(&format!("| `{var}` | {form} | `{default}` |\n"));
    }
    out
}

/// `text` with the block `name` replaced by `expected`: `Ok(None)` when it
/// already matches, `Err` when the markers are missing.
pub fn replace_block(text: &str, name: &str, expected: &str) -> Result<Option<String>, String> {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        return Err(format!("lacks the {begin:?} ... {end:?} markers"));
    };
    if &text[b + begin.len()..e] == expected {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}{}{}",
        &text[..b + begin.len()],
        expected,
        &text[e..]
    )))
}
