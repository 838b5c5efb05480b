//! Scenario 5, fixed shape: the same CPU work moved to `spawn_blocking`,
//! and async code that yields often. Nothing may be reported.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::Instrument;

#[test]
fn the_same_cpu_work_in_spawn_blocking_is_not_reported() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        // Started, as in production: its watchdog keeps CPU waits caused
        // by other processes on this machine from being blamed.
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let mut handles = Vec::new();
        for _ in 0..4 {
            handles.push(tokio::spawn(
                async {
                    tokio::task::spawn_blocking(|| {
                        tracing::info_span!("hash_password")
                            .in_scope(|| support::spin_for(Duration::from_millis(50)))
                    })
                    .await
                    .unwrap()
                }
                .instrument(tracing::info_span!("handle_login")),
            ));
        }
        for h in handles {
            h.await.unwrap();
        }
        // Long-running async work that yields every ~100 µs is healthy too.
        tokio::spawn(
            async {
                for _ in 0..500 {
                    support::spin_for(Duration::from_micros(100));
                    tokio::task::yield_now().await;
                }
            }
            .instrument(tracing::info_span!("batch_with_yields")),
        )
        .await
        .unwrap();
    });

    assert_eq!(support::of_kind(&doctor, FindingKind::BlockingPoll), vec![]);
    let text = doctor.render_prometheus();
    assert!(!text.contains("kind=\"blocking_poll\""), "{text}");
    assert!(text.contains("tokio_doctor_stalled_polls 0"));
    // The layer did time the async polls: at least the batch's 500.
    assert!(doctor.report().polls > 500, "{}", doctor.report().polls);
}
