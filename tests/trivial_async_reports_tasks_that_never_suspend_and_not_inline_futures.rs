//! A hot loop that spawns a task per trivial item is reported with its rate
//! and site (through `tokio_doctor::spawn`, and through tokio's task spans
//! with `tokio_unstable`); the same work as a plain function (in a span or
//! not), an instrumented `async fn` awaited inline, and tasks that really
//! wait, are silent.
mod support;

use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, FindingKind};
use tracing::{info_span, Instrument};

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap()
}

async fn double(x: u64) -> u64 {
    x * 2
}

fn double_sync(x: u64) -> u64 {
    x * 2
}

/// Runs `step` in a loop for `secs`, yielding every 64 steps so the loop
/// itself does not block its worker.
async fn for_secs<F: std::future::Future<Output = u64>>(
    secs: f64,
    mut step: impl FnMut(u64) -> F,
) -> u64 {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let (mut total, mut i) = (0u64, 0u64);
    while Instant::now() < until {
        total = total.wrapping_add(step(i).await);
        i += 1;
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    total
}

#[test]
fn a_task_per_trivial_item_is_reported_with_its_rate() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let tasks = tokio::spawn(for_secs(2.5, |x| async move {
            tokio_doctor::spawn(double(x)).await.unwrap() // MARK: trivial spawn
        }));
        let plain = tokio::spawn(for_secs(2.5, |x| async move {
            tokio::spawn(double(x)).await.unwrap() // MARK: plain trivial spawn
        }));
        tasks.await.unwrap();
        plain.await.unwrap();
    });
    let t = support::expect(FindingKind::TrivialAsync)
        .at("MARK: trivial spawn")
        .on(&doctor);
    let spawn_site = t.location.clone();
    assert_eq!(t.span, "runtime.spawn");
    assert_eq!(t.evidence("tasks"), Some(1.0));
    let rate = t.evidence("trivial_per_second").unwrap();
    assert!(rate >= 1_000.0, "{rate}");
    assert!(t.evidence("trivial_share").unwrap() >= 0.9);
    assert!(
        t.message.contains(&spawn_site) && t.message.contains("tasks/s"),
        "{}",
        t.message
    );
    assert!(t.cost_seconds > 0.0);
    assert!(t.fix.contains("sync"), "{}", t.fix);
    assert!(doctor.render_prometheus().contains(&format!(
        "tokio_doctor_findings_total{{kind=\"trivial_async\",span=\"runtime.spawn\",location=\"{spawn_site}\"}}"
    )));
    if cfg!(tokio_unstable) {
        // tokio's task spans name the site of a plain `tokio::spawn`.
        let p = support::expect(FindingKind::TrivialAsync)
            .at("MARK: plain trivial spawn")
            .on(&doctor);
        assert_eq!(p.evidence("tasks"), Some(1.0));
        assert!(p.evidence("trivial_per_second").unwrap() >= 1_000.0);
    }
}

#[test]
fn sync_functions_and_tasks_that_wait_are_silent() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        // The fix: a plain function, in a span or not.
        let plain = tokio::spawn(for_secs(2.5, |x| async move {
            let a = double_sync(x);
            a + info_span!("double_sync").in_scope(|| double_sync(x))
        }));
        // An instrumented `async fn` awaited inline: no task, no
        // scheduling, next to no cost, however often it does not wait.
        let inline = tokio::spawn(for_secs(2.5, |x| {
            double(x).instrument(info_span!("double"))
        }));
        // Tasks that really wait on a timer, many a second.
        let waiting = tokio::spawn(for_secs(2.5, |x| async move {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    tokio_doctor::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        x + i
                    })
                })
                .collect();
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            total
        }));
        // One task per batch of 1,000 items, computed inline and written
        // with one bulk call.
        let batches = tokio::spawn(for_secs(2.5, |x| async move {
            tokio_doctor::spawn(async move {
                let sum = (x..x + 1_000).map(double_sync).sum::<u64>();
                tokio::time::sleep(Duration::from_millis(1)).await;
                sum
            })
            .await
            .unwrap()
        }));
        plain.await.unwrap();
        inline.await.unwrap();
        waiting.await.unwrap();
        batches.await.unwrap();
    });
    support::expect_none(FindingKind::TrivialAsync).on(&doctor);
}
