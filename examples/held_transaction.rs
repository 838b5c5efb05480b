//! Scenario 11: `await` on unrelated slow work while holding a transaction.
//!
//! ```text
//! cargo run --release --example held_transaction            # the bad shape
//! cargo run --release --example held_transaction -- --fixed # call after commit
//! ```
//!
//! 100 orders a second, each in a transaction on a pool of 20 connections
//! (a semaphore standing in for the pool). Each transaction runs two 2 ms
//! statements; each order also notifies an external service (300 ms).
//!
//! - **Bad** (default): the notification runs inside the transaction. By
//!   Little's Law the holding needs 100 × 0.3 = 30 connections of 20: the
//!   pool runs dry and orders queue. The doctor reports `held_across_await`
//!   for `orders.tx` at `examples/held_transaction.rs:<line>` with the pool
//!   slots the idle holding costs (`tokio_doctor_held_slots_lost`, about
//!   20: the whole pool), and `slow_work_while_held` naming
//!   `notify_external`.
//! - **Fixed** (`--fixed`): commit first, then notify. The transaction holds
//!   its connection for about 5 ms; no held finding, slots lost under 1.
//!   (Both shapes also show `missing_deadline` for the calls: none of them
//!   has a deadline, which is scenario 12's business.)
//!
//! Runs for 12 seconds (`--seconds N`), printing the doctor's view every 3.
mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

async fn db_execute(statement: &'static str) {
    tokio::time::sleep(Duration::from_millis(2))
        .instrument(tracing::info_span!(
            "db.query",
            db.system = "postgresql",
            statement
        ))
        .await;
}

async fn notify_external() {
    tokio::time::sleep(Duration::from_millis(300))
        .instrument(tracing::info_span!("notify_external", otel.kind = "client"))
        .await;
}

async fn place_order(pool: Arc<Semaphore>, fixed: bool) {
    let conn = pool.acquire().await.expect("pool open");
    let tx = tokio_doctor::held("orders.tx", conn); // the transaction's connection
    db_execute("insert into orders").await;
    if !fixed {
        notify_external().await; // 300 ms, connection idle but held
    }
    db_execute("update inventory").await;
    drop(tx); // commit: the connection goes back to the pool
    if fixed {
        notify_external().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(12);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: 100 orders/s, pool of 20, notify_external (300 ms) {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "after the commit"
        } else {
            "inside the transaction"
        }
    );
    let pool = Arc::new(Semaphore::new(20));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut next_print = started + Duration::from_secs(3);
    let mut sent = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        let (pool, finished) = (pool.clone(), done.clone());
        tokio::spawn(
            async move {
                place_order(pool, fixed).await;
                finished.fetch_add(1, Relaxed);
            }
            .instrument(tracing::info_span!("handle_order")),
        );
        sent += 1;
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(3);
            print_view(&doctor, sent, done.load(Relaxed), started);
        }
    }
    println!("\n=== what the doctor reports ===");
    print_view(&doctor, sent, done.load(Relaxed), started);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}

fn print_view(doctor: &tokio_doctor::Doctor, sent: u64, done: u64, started: Instant) {
    println!(
        "\n[{:>4.1} s] orders sent {sent}, completed {done}, waiting {}",
        started.elapsed().as_secs_f64(),
        sent - done
    );
    let text = doctor.render_prometheus();
    for l in text.lines().filter(|l| {
        l.starts_with("tokio_doctor_held_slots_lost{resource=\"orders.tx\"")
            || l.starts_with("tokio_doctor_held_open{resource=\"orders.tx\"")
    }) {
        println!("  {l}");
    }
    common::print_findings(doctor);
}
