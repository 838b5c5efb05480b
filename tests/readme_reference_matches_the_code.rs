//! The README's metric and environment references are generated from the
//! code's tables; this test fails when they drift. Run with
//! `UPDATE_README=1 cargo test --test readme_reference_matches_the_code`
//! to rewrite the generated blocks.

use tokio_doctor::export::{Source, METRICS};

fn metrics_block() -> String {
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

fn env_block() -> String {
    let mut out = String::from("| variable | accepts | default |\n|---|---|---|\n");
    for (var, form, default) in tokio_doctor::ENV_VARS {
        out.push_str(&format!("| `{var}` | {form} | `{default}` |\n"));
    }
    out
}

fn check(readme: &mut String, name: &str, expected: &str) -> bool {
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let (Some(b), Some(e)) = (readme.find(&begin), readme.find(&end)) else {
        panic!("README.md lacks the {begin:?} ... {end:?} markers");
    };
    let current = &readme[b + begin.len()..e];
    if current == expected {
        return true;
    }
    let replaced = format!("{}{}{}", &readme[..b + begin.len()], expected, &readme[e..]);
    *readme = replaced;
    false
}

#[test]
fn the_readme_lists_every_metric_and_variable_exactly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let mut readme = std::fs::read_to_string(path).unwrap();
    let ok_metrics = check(&mut readme, "metrics", &metrics_block());
    let ok_env = check(&mut readme, "env", &env_block());
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, &readme).unwrap();
        return;
    }
    assert!(
        ok_metrics,
        "README metric reference is stale; expected:\n{}",
        metrics_block()
    );
    assert!(
        ok_env,
        "README environment table is stale; expected:\n{}",
        env_block()
    );
}
