//! Scenario 5, bad shape: a 50 ms CPU loop inside an async request handler.
mod support;

use std::time::Duration;

use tokio_doctor::{FindingKind, Severity};
use tracing::Instrument;

#[test]
fn a_cpu_loop_in_an_async_span_is_blamed_on_the_innermost_span_with_its_file_and_line() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let hash_line = support::line_of(
        include_str!("blocking_poll_names_the_inner_span_and_its_line.rs"),
        "MARK: hash span",
    );
    support::run(&rt, async {
        // Started, as in production: its watchdog keeps CPU waits caused
        // by other processes on this machine from being blamed.
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let mut handles = Vec::new();
        for _ in 0..4 {
            handles.push(tokio::spawn(
                async {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let hashed = async { support::spin_for(Duration::from_millis(50)) }
                        .instrument(tracing::info_span!("hash_password")) // MARK: hash span
                        .await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    hashed
                }
                .instrument(tracing::info_span!("handle_login")),
            ));
        }
        for h in handles {
            h.await.unwrap();
        }
    });

    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "exactly the CPU loop is blamed: {found:#?}");
    let f = &found[0];
    assert_eq!(f.span, "hash_password", "the inner span, not the handler");
    let expected = format!("{}:{}", file!(), hash_line);
    assert_eq!(f.location, expected);
    assert_eq!(f.count, 4);
    assert_eq!(f.severity, Severity::Warning);
    let blocked = f.evidence("blocked_seconds").unwrap();
    // Each poll spins for 50 ms of wall time; what counts is the time its
    // worker was not merely waiting for a CPU (on a busy CI host, less than
    // 50 ms), and each counted poll is at least the 10 ms threshold.
    assert!(
        (0.04..=0.5).contains(&blocked),
        "4 polls of up to 50 ms, got {blocked}"
    );
    let worst = f.evidence("worst_poll_seconds").unwrap();
    assert!((0.01..=0.5).contains(&worst), "{worst}");
    assert!(
        f.message.contains("hash_password") && f.message.contains(&expected),
        "{}",
        f.message
    );
    assert!(f.fix.contains("spawn_blocking"));

    let text = doctor.render_prometheus();
    let series = format!(
        "tokio_doctor_findings_total{{kind=\"blocking_poll\",span=\"hash_password\",location=\"{expected}\"}} 4"
    );
    assert!(text.contains(&series), "{text}");
    assert!(text.contains(&format!(
        "tokio_doctor_blocking_poll_seconds_total{{span=\"hash_password\",location=\"{expected}\"}}"
    )));
    let slow_polls = text
        .lines()
        .find(|l| l.starts_with("tokio_doctor_poll_duration_seconds_bucket{le=\"0.01\"}"))
        .unwrap();
    let count = text
        .lines()
        .find(|l| l.starts_with("tokio_doctor_poll_duration_seconds_count"))
        .unwrap();
    let at = |l: &str| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        at(count) - at(slow_polls),
        4,
        "4 polls above 10 ms in the histogram"
    );
}
