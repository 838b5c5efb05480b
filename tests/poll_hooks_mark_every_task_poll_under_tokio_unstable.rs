//! Issue 16, polls without spans, `tokio_unstable` builds: tokio's task
//! poll hooks, installed with `Doctor::install_poll_hooks`, mark every task
//! poll, so a task that blocks its worker is named at its spawn
//! `file:line` though the service has no span and the doctor's layer is
//! not even installed (task spans never reach it). Tasks that yield within
//! the threshold stay silent.
#![cfg(tokio_unstable)]
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;

#[test]
fn a_task_that_blocks_its_worker_is_named_at_its_spawn_line_without_any_span() {
    let doctor = support::doctor();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    let rt = doctor.install_poll_hooks(&mut builder).build().unwrap();
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        // Unrelated load: short polls that yield.
        let load: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(async {
                    for _ in 0..200 {
                        support::spin_for(Duration::from_micros(100));
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        support::expect_none(FindingKind::BlockingPoll)
            .during(Duration::from_millis(100))
            .on_async(&doctor)
            .await;
        let line = line!() + 1;
        let stuck = tokio::spawn(async { support::spin_for(Duration::from_millis(60)) });
        stuck.await.unwrap();
        // The task's JoinHandle is woken inside its last poll, before the
        // after-poll hook ends it: for a moment the finding may still say
        // "blocking right now". Wait for the finished poll.
        let location = format!("{}:{line}", file!());
        let finished = || {
            support::of_kind(&doctor, FindingKind::BlockingPoll)
                .into_iter()
                .find(|f| f.span == "runtime.spawn" && f.location == location && f.count > 0)
        };
        assert!(
            support::eventually(Duration::from_secs(5), || finished().is_some()).await,
            "{:?}",
            doctor.findings()
        );
        let found = finished().unwrap();
        assert_eq!(found.count, 1, "{found:?}");
        let blocked = found.evidence("blocked_seconds").unwrap();
        assert!((0.05..1.0).contains(&blocked), "{blocked}");
        for h in load {
            h.await.unwrap();
        }
        assert_eq!(
            support::of_kind(&doctor, FindingKind::BlockingPoll).len(),
            1,
            "the load stayed silent: {:?}",
            doctor.findings()
        );
    });
}
