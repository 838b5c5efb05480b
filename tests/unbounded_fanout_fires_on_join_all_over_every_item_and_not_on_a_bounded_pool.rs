//! Scenario 2: `join_all` over a 50,000-item import opens 50,000 database
//! writes at once, and a spawn per item keeps thousands of tasks alive:
//! both are reported with their peak. The same 50,000 items through
//! `buffer_unordered(16)` or a semaphore of 16, and a fixed pool of 16
//! workers, are silent.
mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio_doctor::FindingKind;
use tracing::{info_span, Instrument};

const ITEMS: u64 = 50_000;

/// A database pool of 20 connections: each insert waits for one.
async fn insert(pool: Arc<Semaphore>, item: u64) -> u64 {
    let _conn = pool.acquire().await.unwrap();
    tokio::task::yield_now().await;
    item
}

#[test]
fn join_all_over_every_item_and_a_spawn_per_item_are_unbounded() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let source = include_str!(
        "unbounded_fanout_fires_on_join_all_over_every_item_and_not_on_a_bounded_pool.rs"
    );
    let insert_line = support::line_of(source, "MARK: insert span");
    let spawn_line = support::line_of(source, "MARK: spawn per item");
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let pool = Arc::new(Semaphore::new(20));
        let p = pool.clone();
        tokio::spawn(
            async move {
                let writes = (0..ITEMS).map(|i| {
                    let span = info_span!("db.insert", db.system = "postgresql"); // MARK: insert span
                    insert(p.clone(), i).instrument(span)
                });
                futures_util::future::join_all(writes).await
            }
            .instrument(info_span!("import")),
        )
        .await
        .unwrap();
        // The join over 50,000 items is one long poll, which the watchdog
        // captures; the first capture of a process reads the binary's debug
        // info for tens of milliseconds of CPU. Let that finish, so on a
        // 2-core host it does not preempt the spawning loop below and split
        // its back-to-back spawns (what makes them a list).
        tokio::time::sleep(Duration::from_millis(500)).await;
        // A handler (a task) spawning per item, in one of its polls: a
        // run of spawns however often the host preempts the loop.
        tokio::spawn(async {
            let handles: Vec<_> = (0..2_000)
                .map(|i| {
                    let work = async move {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        i
                    };
                    tokio_doctor::spawn(work) // MARK: spawn per item
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    let found = support::of_kind(&doctor, FindingKind::UnboundedFanout);
    let f = found
        .iter()
        .find(|f| f.span == "db.insert")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(f.location, format!("{}:{insert_line}", file!()));
    assert_eq!(f.evidence("peak_concurrent"), Some(ITEMS as f64));
    assert_eq!(f.count, 1, "one parent fanned out");
    assert!(
        f.message.contains("import") && f.message.contains("50000 at once"),
        "{}",
        f.message
    );
    assert!(f.fix.contains("buffer_unordered"), "{}", f.fix);

    let spawn_site = format!("{}:{spawn_line}", file!());
    let f = found
        .iter()
        .find(|f| f.location == spawn_site)
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(f.span, "runtime.spawn");
    let peak = f.evidence("peak_concurrent").unwrap();
    assert!((1_000.0..=2_000.0).contains(&peak), "{peak}");
    assert_eq!(f.evidence("live_tasks_now"), Some(0.0));
    let text = doctor.render_prometheus();
    assert!(
        text.contains(&format!(
            "tokio_doctor_spawn_site_spawned_total{{span=\"runtime.spawn\",location=\"{spawn_site}\"}} 2000"
        )),
        "{text}"
    );
}

#[test]
fn the_same_items_through_a_bounded_pool_are_silent() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let pool = Arc::new(Semaphore::new(20));
        let p = pool.clone();
        let buffered = tokio::spawn(
            async move {
                futures_util::stream::iter(0..ITEMS)
                    .map(|i| {
                        insert(p.clone(), i)
                            .instrument(info_span!("db.insert_buffered", db.system = "postgresql"))
                    })
                    .buffer_unordered(16)
                    .count()
                    .await
            }
            .instrument(info_span!("import_buffered")),
        );
        let p = pool.clone();
        let limited = tokio::spawn(
            async move {
                let limit = Arc::new(Semaphore::new(16));
                let writes = (0..ITEMS).map(|i| {
                    let (limit, p) = (limit.clone(), p.clone());
                    async move {
                        let _permit = limit.acquire().await.unwrap();
                        insert(p, i)
                            .instrument(info_span!("db.insert_limited", db.system = "postgresql"))
                            .await
                    }
                });
                futures_util::future::join_all(writes).await.len()
            }
            .instrument(info_span!("import_limited")),
        );
        // A fixed pool of 16 workers over 2,000 items.
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let next = next.clone();
                tokio_doctor::spawn(async move {
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 2_000 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        assert_eq!(buffered.await.unwrap(), ITEMS as usize);
        assert_eq!(limited.await.unwrap(), ITEMS as usize);
        for w in workers {
            w.await.unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::UnboundedFanout);
    assert!(found.is_empty(), "{found:#?}");
    let serial = support::of_kind(&doctor, FindingKind::SerialAwaits);
    assert!(
        serial.is_empty(),
        "pool workers are not serial awaits: {serial:#?}"
    );
}
