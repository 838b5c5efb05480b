//! Scenario 11: a transaction that awaits an unrelated 150 ms HTTP call is
//! reported as held across an await, with the slots it costs and the slow
//! call named; the fixed code (the call moved after the transaction) and a
//! guard held only across synchronous work stay silent.
mod support;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_doctor::{Doctor, FindingKind};
use tracing::Instrument;

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .resource_span("db.transaction")
        .build()
        .unwrap()
}

/// One statement on the transaction's own connection: a couple of ms.
async fn db_execute(statement: &'static str) {
    tokio::time::sleep(Duration::from_millis(2))
        .instrument(tracing::info_span!(
            "db.query",
            db.system = "postgresql",
            statement
        ))
        .await;
}

/// The unrelated external call: 150 ms.
async fn notify_external() {
    tokio::time::sleep(Duration::from_millis(150))
        .instrument(tracing::info_span!("notify_external", otel.kind = "client"))
        .await;
}

async fn place_order(pool: Arc<Semaphore>, fixed: bool) {
    let conn = pool.acquire().await.unwrap();
    let tx = tokio_doctor::held("orders.tx", conn); // MARK: acquire
    db_execute("insert into orders").await;
    if !fixed {
        notify_external().await;
    }
    db_execute("update inventory").await;
    drop(tx);
    if fixed {
        notify_external().await;
    }
}

async fn requests(fixed: bool) {
    let pool = Arc::new(Semaphore::new(20));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(
            place_order(pool, fixed).instrument(tracing::info_span!("handle_order")),
        ));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[test]
fn a_slow_call_inside_a_transaction_is_held_across_await_and_named() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("held_across_await_names_the_resource_and_the_slow_call_inside_it.rs"),
        "MARK: acquire",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        requests(false).await;
        let found = support::eventually(Duration::from_secs(3), || {
            !support::of_kind(&doctor, FindingKind::HeldAcrossAwait).is_empty()
        })
        .await;
        assert!(found, "no held_across_await: {:#?}", doctor.findings());
        // Let the sampler see the idle holding for the slots gauge.
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let held = support::of_kind(&doctor, FindingKind::HeldAcrossAwait);
    let f = held
        .iter()
        .find(|f| f.span == "orders.tx")
        .expect("orders.tx");
    assert!(
        f.location.ends_with(&format!(
            "held_across_await_names_the_resource_and_the_slow_call_inside_it.rs:{line}"
        )),
        "{}",
        f.location
    );
    assert!(f.count >= 10, "{f:#?}");
    let mean = f.evidence("mean_idle_seconds").unwrap();
    assert!((0.14..0.6).contains(&mean), "idle per hold ~150 ms: {f:#?}");
    assert!(f.evidence("slots_lost").unwrap() > 0.0, "{f:#?}");

    let slow = support::of_kind(&doctor, FindingKind::SlowWorkWhileHeld);
    let s = slow
        .iter()
        .find(|f| f.span == "orders.tx")
        .expect("slow work");
    assert!(s.message.contains("`notify_external`"), "{}", s.message);
    assert!(s.message.contains("`orders.tx`"), "{}", s.message);
    assert_eq!(s.evidence("inner_calls"), Some(12.0), "{s:#?}");
    // The transaction's own statements are not slow work.
    let text = doctor.render_prometheus();
    assert!(!text.contains("inner_span=\"db.query\""), "{text}");
    assert!(
        text.lines().any(
            |l| l.starts_with("tokio_doctor_held_slots_lost{resource=\"orders.tx\"")
                && !l.ends_with(" 0")
        ),
        "{text}"
    );
}

#[test]
fn the_call_moved_after_the_transaction_and_a_guard_held_over_sync_work_are_silent() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        requests(true).await;
        // A guard held only across synchronous work, in a span.
        let cache = Arc::new(tokio_doctor::sync::Mutex::named("cache", Vec::new()));
        for i in 0..20u32 {
            let cache = cache.clone();
            tokio::spawn(
                async move {
                    let mut g = cache.lock().await;
                    g.push(i);
                    support::spin_for(Duration::from_micros(200));
                    drop(g);
                    tokio::time::sleep(Duration::from_millis(60)).await;
                }
                .instrument(tracing::info_span!("update_cache")),
            )
            .await
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let text = doctor.render_prometheus();
    for kind in [FindingKind::HeldAcrossAwait, FindingKind::SlowWorkWhileHeld] {
        assert!(
            support::of_kind(&doctor, kind).is_empty(),
            "{kind}: {:#?}",
            doctor.findings()
        );
    }
    // The holds were seen, and counted, all the same.
    assert!(
        text.contains("tokio_doctor_held_total{resource=\"orders.tx\""),
        "{text}"
    );
    assert!(
        text.contains("tokio_doctor_held_total{resource=\"cache\""),
        "{text}"
    );
}

#[test]
fn a_configured_transaction_span_is_a_resource_without_code_changes() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            tasks.push(tokio::spawn(
                async {
                    async {
                        db_execute("insert").await;
                        notify_external().await;
                        db_execute("update").await;
                    }
                    .instrument(tracing::info_span!("db.transaction"))
                    .await
                }
                .instrument(tracing::info_span!("handle_order")),
            ));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let held = support::of_kind(&doctor, FindingKind::HeldAcrossAwait);
    assert!(
        held.iter()
            .any(|f| f.span == "db.transaction" && f.count >= 3),
        "{:#?}",
        doctor.findings()
    );
    let slow = support::of_kind(&doctor, FindingKind::SlowWorkWhileHeld);
    assert!(
        slow.iter()
            .any(|f| f.span == "db.transaction" && f.message.contains("`notify_external`")),
        "{slow:#?}"
    );
}
