//! The `tokio-doctor` CLI reads a running doctor's report: it prints the
//! findings with their call site, exits 1 when one reaches `--fail-on`, and
//! exits 2 with a clear message on bad usage or an unreachable service.
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};
use tracing::Instrument;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokio-doctor"))
        .args(args)
        .output()
        .expect("run the tokio-doctor binary")
}

fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_prints_the_blocking_call_site_and_gates_on_its_severity() {
    let doctor = Doctor::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .sample_interval(Duration::from_millis(100))
        // The CLI is run right after the finding appears: a snapshot per
        // scrape, not one shared for a second.
        .snapshot_max_age(Duration::ZERO)
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async { doctor.start() }).unwrap();
    let addr = running.local_addr().unwrap().to_string();

    // A clean service: the report is printed and even --fail-on info passes.
    let (code, out, err) = text(&cli(&[&addr, "--fail-on", "info"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("no findings") && out.contains("event-loop lag"),
        "{out}"
    );

    // A handler that blocks its worker for 30 ms: a warning finding.
    let line = line!() + 4;
    rt.block_on(async {
        tokio::spawn(
            async { support::spin_for(Duration::from_millis(30)) }
                .instrument(tracing::info_span!("cli_blocking_handler")),
        )
        .await
        .unwrap();
    });
    assert_eq!(
        support::of_kind(&doctor, FindingKind::BlockingPoll).len(),
        1
    );
    let location = format!("{}:{line}", file!());

    let (code, out, err) = text(&cli(&[&addr]));
    assert_eq!(
        code, 0,
        "without --fail-on the report alone decides nothing: {err}"
    );
    assert!(out.contains("cli_blocking_handler"), "{out}");
    assert!(out.contains(&location), "{location} in {out}");
    assert!(
        out.contains("[warning] blocking_poll") && out.contains("fix: move"),
        "{out}"
    );

    let (code, _, err) = text(&cli(&[&format!("http://{addr}"), "--fail-on", "warning"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 finding at or above warning"), "{err}");
    let (code, _, err) = text(&cli(&[&addr, "--fail-on", "critical"]));
    assert_eq!(code, 0, "the finding is a warning, not critical: {err}");

    let (code, out, _) = text(&cli(&[&addr, "--json", "--fail-on", "info"]));
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(report["findings"][0]["span"], "cli_blocking_handler");
    assert_eq!(report["findings"][0]["location"], location.as_str());

    // The path may be given; /doctor answers JSON to the CLI's Accept header.
    let (code, out, _) = text(&cli(&[&format!("http://{addr}/doctor"), "--json"]));
    assert_eq!(code, 0);
    assert!(out.contains("cli_blocking_handler"));
    // A path that is not a report is a clear error.
    let (code, _, err) = text(&cli(&[&format!("{addr}/nope")]));
    assert_eq!(code, 2);
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = text(&cli(&[&format!("{addr}/metrics")]));
    assert_eq!(code, 2);
    assert!(
        err.contains("did not answer with a tokio-doctor report"),
        "{err}"
    );
    drop(running);
}

#[test]
fn bad_usage_and_an_unreachable_service_exit_2_with_a_clear_message() {
    let (code, out, _) = text(&cli(&["--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("--fail-on") && out.contains("exit status"));

    for (args, says) in [
        (vec!["--fail-on", "loud"], "unknown severity \"loud\""),
        (vec!["--fail-on"], "--fail-on needs a severity"),
        (vec!["--frobnicate"], "unknown option"),
        (vec!["localhost"], "expected HOST:PORT"),
        (vec!["https://127.0.0.1:9464"], "only plain http://"),
        (vec!["a:1", "b:2"], "give one address"),
        (vec!["--timeout", "-1"], "--timeout"),
    ] {
        let (code, _, err) = text(&cli(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, out, err) = text(&cli(&[&format!("127.0.0.1:{port}"), "--timeout", "2"]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{port}")) && err.contains("running"),
        "{err}"
    );
}
