//! Span names are code, but code can name a span anything: quotes,
//! backslashes and newlines in a name reach the labels escaped exactly as
//! the Prometheus text format requires, and `promtool check metrics`
//! (when installed) accepts the whole exposition.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

#[test]
fn quotes_backslashes_and_newlines_in_span_names_are_escaped() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        tokio::spawn(
            async { support::spin_for(Duration::from_millis(15)) }
                .instrument(tracing::info_span!("say \"hi\" C:\\dir\nnext line")),
        )
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert!(
        found
            .iter()
            .any(|f| f.span == "say \"hi\" C:\\dir\nnext line"),
        "{found:#?}"
    );
    let text = doctor.render_prometheus();
    let expected = r#"span="say \"hi\" C:\\dir\nnext line""#;
    let line = text
        .lines()
        .find(|l| l.starts_with("tokio_doctor_blocking_poll_seconds_total{") && l.contains("say"))
        .unwrap_or_else(|| panic!("no series for the span in\n{text}"));
    assert!(line.contains(expected), "{line}");
    // Every sample stays on one line: no raw newline leaked into a label.
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            l.starts_with("tokio_doctor_"),
            "a sample line that is not a metric: {l:?}"
        );
    }
    promtool_accepts(&text);
}

/// Runs `promtool check metrics` on `text` when promtool is on PATH (CI
/// installs it); skipped, with a note, elsewhere.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not found; skipping its check");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool refused the exposition: {said}"
    );
}
