//! With `--cfg tokio_unstable`, tokio's own task spans (`runtime.spawn`)
//! let the doctor time tasks that carry no user span, and name their spawn
//! location. On stable builds this file is empty: the behaviour does not
//! exist there (see the README's table of modes).
#![cfg(tokio_unstable)]
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;

#[test]
fn a_blocking_task_without_spans_is_named_by_its_spawn_location() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let spawn_line = support::line_of(
        include_str!("task_spans_time_tasks_that_carry_no_user_span.rs"),
        "MARK: spawn site",
    );
    rt.block_on(async {
        // Started, as in production: its watchdog keeps CPU waits caused
        // by other processes on this machine from being blamed.
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        for _ in 0..3 {
            let task = tokio::spawn(async { support::spin_for(Duration::from_millis(40)) }); // MARK: spawn site
            task.await.unwrap();
        }
        // The fixed shape: the same work on the blocking pool.
        for _ in 0..3 {
            tokio::task::spawn_blocking(|| support::spin_for(Duration::from_millis(40)))
                .await
                .unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "runtime.spawn");
    assert_eq!(found[0].location, format!("{}:{}", file!(), spawn_line));
    assert_eq!(found[0].count, 3);
}

#[test]
fn a_user_span_inside_a_task_span_still_takes_the_blame() {
    use tracing::Instrument;
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        tokio::spawn(async {
            async { support::spin_for(Duration::from_millis(40)) }
                .instrument(tracing::info_span!("render_pdf"))
                .await
        })
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "render_pdf");
}
