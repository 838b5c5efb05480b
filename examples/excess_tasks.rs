//! Scenario 9: a million tasks instead of batches and a bounded pool.
//!
//! ```text
//! cargo run --release --example excess_tasks            # a task per item
//! cargo run --release --example excess_tasks -- --fixed # batches on 8 workers
//! ```
//!
//! 200,000 items go to a downstream that takes 50 at a time, a millisecond
//! per call.
//!
//! - **Bad** (default): `tokio_doctor::spawn` per item: 200,000 tasks alive
//!   at once. The doctor reports `excess_tasks` (and `unbounded_fanout`)
//!   for the spawn site `examples/excess_tasks.rs:<line>` with the live
//!   tasks, the peak and the spawn and completion rates, and exports
//!   `tokio_doctor_spawn_site_live_tasks` for it.
//! - **Fixed** (`--fixed`): batches of 500 items, at most 8 batches in
//!   flight (one bulk call each): 8 live tasks, no finding.
//!
//! Runs until the items are done; `--seconds` is accepted and ignored.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

const ITEMS: u64 = 200_000;

async fn process(downstream: Arc<Semaphore>, items: u64) -> u64 {
    let _slot = downstream.acquire().await.expect("open");
    tokio::time::sleep(Duration::from_millis(1)).await;
    items
}

fn live_tasks(doctor: &tokio_doctor::Doctor) -> String {
    doctor
        .render_prometheus()
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_spawn_site_live_tasks{"))
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, .. } = common::args(1);
    let doctor = common::doctor_with(Duration::from_millis(500), |b| {
        b.task_window(Duration::from_secs(2))
    });
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: {ITEMS} items, {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "batches of 500 on at most 8 tasks"
        } else {
            "a task per item"
        }
    );
    let downstream = Arc::new(Semaphore::new(50));
    let started = Instant::now();
    let mut done = 0;
    if fixed {
        let limit = Arc::new(Semaphore::new(8));
        let mut batches = tokio::task::JoinSet::new();
        let items: Vec<u64> = (0..ITEMS).collect();
        for batch in items.chunks(500) {
            let permit = limit.clone().acquire_owned().await.expect("open");
            let (downstream, n) = (downstream.clone(), batch.len() as u64);
            batches.spawn(tokio_doctor::spawn(async move {
                let _permit = permit;
                process(downstream, n).await
            }));
        }
        println!("{}", live_tasks(&doctor));
        while let Some(n) = batches.join_next().await {
            done += n.expect("batch").expect("task");
        }
    } else {
        let mut handles = Vec::with_capacity(ITEMS as usize);
        for _ in 0..ITEMS {
            handles.push(tokio_doctor::spawn(process(downstream.clone(), 1)));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("{}", live_tasks(&doctor));
        for h in handles {
            done += h.await.expect("task");
        }
    }
    println!(
        "processed {done} items in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("\n=== what the doctor reports ===");
    common::print_report(&doctor);
}
