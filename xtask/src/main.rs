//! tokio-doctor's generators, as `cargo run -p xtask -- COMMAND`:
//!
//! - `dashboards`: writes the Grafana dashboards and both alert rules files
//!   under `dashboards/` from `observability/`;
//! - `metrics-doc`: writes the metric table of `docs/metrics.md` and the
//!   variable table of `docs/configuration.md` from the crate's own tables.
//!
//! `--check` after either command writes nothing and fails when a file is
//! out of date (the tests in `tests/` check the same, so CI needs no xtask).

mod observability;
mod reference;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo run -p xtask -- <dashboards|metrics-doc> [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let command = args.iter().find(|a| !a.starts_with("--"));
    let result = match command.map(String::as_str) {
        Some("dashboards") => dashboards(&root(), check),
        Some("metrics-doc") => metrics_doc(&root(), check),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(stale) if stale.is_empty() => ExitCode::SUCCESS,
        Ok(stale) if check => {
            eprintln!("out of date: {stale:?}; run without --check to rewrite them");
            ExitCode::FAILURE
        }
        Ok(written) => {
            for path in written {
                println!("wrote {path}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The crate root: xtask lives one level below it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the crate")
        .to_path_buf()
}

/// Writes (or with `check` only compares) `dashboards/`; returns the files
/// that differed.
fn dashboards(root: &Path, check: bool) -> Result<Vec<String>, String> {
    let mut stale = Vec::new();
    for (path, expected) in observability::files() {
        let full = root.join(&path);
        if std::fs::read_to_string(&full).ok().as_deref() == Some(expected.as_str()) {
            continue;
        }
        if !check {
            std::fs::write(&full, &expected).map_err(|e| format!("{path}: {e}"))?;
        }
        stale.push(path);
    }
    Ok(stale)
}

/// Rewrites (or with `check` only compares) the generated tables of
/// `docs/`; returns the files that differed.
fn metrics_doc(root: &Path, check: bool) -> Result<Vec<String>, String> {
    let mut stale = Vec::new();
    for block in reference::blocks() {
        let full = root.join(block.path);
        let text = std::fs::read_to_string(&full).map_err(|e| format!("{}: {e}", block.path))?;
        let replaced = reference::replace_block(&text, block.name, &block.expected)
            .map_err(|e| format!("{} {e}", block.path))?;
        if let Some(new) = replaced {
            if !check {
                std::fs::write(&full, new).map_err(|e| format!("{}: {e}", block.path))?;
            }
            stale.push(block.path.to_string());
        }
    }
    Ok(stale)
}
