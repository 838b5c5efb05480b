//! Scenario 9: a task per item keeps 20,000 tasks alive from one spawn
//! site: reported with its live tasks and spawn rate, and exported per
//! site. The same items in batches on a fixed pool of 8 workers are silent.
mod support;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_doctor::{Doctor, FindingKind};

const ITEMS: u64 = 20_000;

/// One test at a time: each keeps 20,000 tasks alive on its own runtime,
/// and three at once on a 2-core host starve each other's samplers.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap()
}

/// Holds every task until the test has seen what it looks for (a day's
/// backlog the downstream has not reached yet), then lets them all go.
async fn queued(gate: Arc<Semaphore>, downstream: Arc<Semaphore>) -> u64 {
    gate.acquire().await.unwrap().forget();
    process(downstream, 1).await
}

/// A downstream that takes 50 at a time, 1 ms each.
async fn process(downstream: Arc<Semaphore>, items: u64) -> u64 {
    let _slot = downstream.acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    items
}

#[test]
fn a_task_per_item_is_reported_with_its_live_tasks() {
    let _serial = one_at_a_time();
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("excess_tasks_reports_a_task_per_item_and_not_a_worker_pool.rs"),
        "MARK: task per item",
    );
    let site = format!("{}:{line}", file!());
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let downstream = Arc::new(Semaphore::new(50));
        let gate = Arc::new(Semaphore::new(0));
        let mut handles = Vec::new();
        for _ in 0..ITEMS {
            let task = queued(gate.clone(), downstream.clone());
            handles.push(tokio_doctor::spawn(task)); // MARK: task per item
        }
        let seen = support::eventually(Duration::from_secs(5), || {
            !support::of_kind(&doctor, FindingKind::ExcessTasks).is_empty()
        })
        .await;
        assert!(seen, "reported while the tasks are alive");
        let text = doctor.render_prometheus();
        let live = text
            .lines()
            .find(|l| {
                l.starts_with("tokio_doctor_spawn_site_live_tasks{")
                    && l.contains(&format!("location=\"{site}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{text}"));
        assert!(live > 1_000.0, "{live}");
        gate.add_permits(ITEMS as usize);
        for h in handles {
            h.await.unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::ExcessTasks);
    let f = found
        .iter()
        .find(|f| f.location == site)
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(f.span, "runtime.spawn");
    let peak = f.evidence("peak_live_tasks").unwrap();
    assert_eq!(peak, ITEMS as f64, "all alive at once, held at the gate");
    assert_eq!(f.evidence("spawned"), Some(ITEMS as f64));
    assert_eq!(f.evidence("completed"), Some(ITEMS as f64));
    assert!(f.message.contains(&site), "{}", f.message);
    assert!(f.fix.contains("batches"), "{}", f.fix);
    assert!(
        found.iter().all(|f| f.location != "runtime"),
        "the site explains it: {found:#?}"
    );
}

#[test]
fn batches_on_a_fixed_pool_of_workers_are_silent() {
    let _serial = one_at_a_time();
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let downstream = Arc::new(Semaphore::new(50));
        let items: Vec<u64> = (0..ITEMS).collect();
        let limit = Arc::new(Semaphore::new(8));
        let mut batches = tokio::task::JoinSet::new();
        for batch in items.chunks(500) {
            let permit = limit.clone().acquire_owned().await.unwrap();
            let (downstream, n) = (downstream.clone(), batch.len() as u64);
            let task = async move {
                let _permit = permit;
                process(downstream, n).await
            };
            batches.spawn(tokio_doctor::spawn(task));
        }
        let mut done = 0;
        while let Some(n) = batches.join_next().await {
            done += n.unwrap().unwrap();
        }
        assert_eq!(done, ITEMS);
    });
    let found = support::of_kind(&doctor, FindingKind::ExcessTasks);
    assert!(found.is_empty(), "{found:#?}");
    let fanout = support::of_kind(&doctor, FindingKind::UnboundedFanout);
    assert!(fanout.is_empty(), "{fanout:#?}");
}

#[test]
fn plain_tokio_spawn_is_seen_by_its_task_spans_or_in_the_runtime_count() {
    let _serial = one_at_a_time();
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("excess_tasks_reports_a_task_per_item_and_not_a_worker_pool.rs"),
        "MARK: plain spawn",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let downstream = Arc::new(Semaphore::new(50));
        let gate = Arc::new(Semaphore::new(0));
        let handles: Vec<_> = (0..ITEMS)
            .map(|_| tokio::spawn(queued(gate.clone(), downstream.clone()))) // MARK: plain spawn
            .collect();
        let seen = support::eventually(Duration::from_secs(5), || {
            !support::of_kind(&doctor, FindingKind::ExcessTasks).is_empty()
        })
        .await;
        assert!(seen, "reported while the tasks are alive");
        gate.add_permits(ITEMS as usize);
        for h in handles {
            h.await.unwrap();
        }
    });
    let found = support::of_kind(&doctor, FindingKind::ExcessTasks);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    if cfg!(tokio_unstable) {
        // tokio's task spans name the spawn site.
        assert_eq!(f.location, format!("{}:{line}", file!()));
    } else {
        assert_eq!(f.location, "runtime");
        assert!(f.message.contains("tokio_doctor::spawn"), "{}", f.message);
    }
    assert!(f.evidence("peak_live_tasks").unwrap() >= 10_000.0);
}
