//! The doctor enables its own helpers' spans and tokio's task spans (TRACE,
//! with `--cfg tokio_unstable`) whatever its span level: narrowed to ERROR,
//! where every INFO span of the service is declined, `held()` still makes a
//! `held_across_await` finding and a task without spans is still named by
//! its spawn location. (The doctor sees a poll only through a span it
//! enables: on stable builds the task's span must be at the level.)
mod support;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_doctor::{Doctor, FindingKind};
use tracing::{Instrument, Level};

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .span_level(Level::ERROR)
        .build()
        .unwrap()
}

#[test]
fn held_still_reports_a_guard_held_across_a_slow_await() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let pool = Arc::new(Semaphore::new(20));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(
                async move {
                    let conn = pool.acquire().await.unwrap();
                    let tx = tokio_doctor::held("orders.tx", conn);
                    tokio::time::sleep(Duration::from_millis(150))
                        .instrument(tracing::info_span!("notify_external"))
                        .await;
                    drop(tx);
                }
                // The doctor sees polls through the spans it enables: an
                // ERROR span here, as the request's span at this level.
                .instrument(tracing::error_span!("handle_order")),
            ));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let found = support::eventually(Duration::from_secs(3), || {
            !support::of_kind(&doctor, FindingKind::HeldAcrossAwait).is_empty()
        })
        .await;
        assert!(found, "no held_across_await: {:#?}", doctor.findings());
    });
    let held = support::of_kind(&doctor, FindingKind::HeldAcrossAwait);
    let f = held
        .iter()
        .find(|f| f.span == "orders.tx")
        .expect("orders.tx");
    assert!(f.count >= 10, "{f:#?}");
    // The INFO span inside it was declined: it is no site.
    let text = doctor.render_prometheus();
    assert!(!text.contains("notify_external"), "{text}");
}

#[cfg(tokio_unstable)]
#[test]
fn a_task_without_spans_is_still_named_by_its_spawn_location() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let spawn_line = support::line_of(
        include_str!(
            "the_doctors_helper_spans_and_tokio_task_spans_reach_it_whatever_the_span_level.rs"
        ),
        "MARK: spawn site",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        for _ in 0..3 {
            let task = tokio::spawn(async { support::spin_for(Duration::from_millis(40)) }); // MARK: spawn site
            task.await.unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::BlockingPoll);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].span, "runtime.spawn");
    assert_eq!(found[0].location, format!("{}:{}", file!(), spawn_line));
}
