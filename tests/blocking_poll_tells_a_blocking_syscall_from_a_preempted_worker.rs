//! A poll that sleeps in a syscall blocks its worker and is reported; a
//! poll that merely waited for a CPU because the host is oversubscribed is
//! not blamed on the code.
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

#[test]
fn blocking_io_in_an_async_span_is_reported() {
    // A 20 ms threshold, not the default 10: the subject here is a syscall
    // against a wait, and a guest thread's scheduler stats cannot see the
    // host's steal. On the shared CI VM a poll of the unrelated load (2 µs
    // of work) read 11 and 15 ms in two runs of 2026-12-03, which the
    // doctor could not tell from a sleep in the kernel (docs/design.md,
    // Limitations). The 60 ms sleep is well over either, and over the
    // threshold even after the other test's spinners keep the woken
    // worker waiting for a CPU: 15 ms of such waits took a 30 ms sleep
    // under 20 ms in a local run of 2026-12-03.
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .blocking_poll_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        // Started, so the watchdog's notes discount the CPU waits that the
        // other test's spinning threads cause.
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        tokio::spawn(async {
            async { std::thread::sleep(Duration::from_millis(60)) }
                .instrument(tracing::info_span!("read_config_file"))
                .await
        })
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "read_config_file");
    // 60 ms asleep in the kernel, less any wait for a CPU after waking up
    // on a busy host; at least the 20 ms threshold by definition.
    let blocked = found[0].evidence("blocked_seconds").unwrap();
    assert!((0.02..=0.5).contains(&blocked), "{blocked}");
}

#[test]
fn short_polls_on_an_oversubscribed_host_are_not_blamed() {
    // 20 ms, as above: the subject is the run-queue wait these spinners
    // cause, which the doctor sees; the host's steal it cannot see, and on
    // the CI VM a task poll of 200 µs of work read 11 ms (2026-12-03).
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .blocking_poll_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        // Four threads spinning on a 2-core machine: the workers get
        // preempted mid-poll.
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        support::spin_for(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            tasks.push(tokio::spawn(async {
                for _ in 0..100 {
                    async {
                        support::spin_for(Duration::from_micros(200));
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    .instrument(tracing::info_span!("quick_handler"))
                    .await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for s in spinners {
            s.join().unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert!(
        found.is_empty(),
        "{found:#?}\n{}",
        doctor.render_prometheus()
    );
}
