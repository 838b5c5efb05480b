//! Scenario 2: unbounded fan-out over a 50,000-item import.
//!
//! ```text
//! cargo run --release --example unbounded_fanout            # join_all over every item
//! cargo run --release --example unbounded_fanout -- --fixed # buffer_unordered(16)
//! ```
//!
//! Each item is one insert into a database whose pool has 20 connections
//! (a semaphore) and takes about a millisecond.
//!
//! - **Bad** (default): `join_all(items.map(insert))` opens 50,000 inserts at
//!   once; 49,980 wait for a connection. The doctor reports
//!   `unbounded_fanout` for the span `db.insert` at
//!   `examples/unbounded_fanout.rs:<line>` under `import`: 50,000 at once.
//! - **Fixed** (`--fixed`): `stream::iter(items).map(insert).buffer_unordered(16)`:
//!   at most 16 in flight, the same total time, no finding.
//!
//! One import (a few seconds); `--seconds` is accepted and ignored.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tracing::{info_span, Instrument};

const ITEMS: u64 = 50_000;

async fn insert(pool: Arc<Semaphore>, item: u64) -> u64 {
    let _conn = pool.acquire().await.expect("pool open");
    tokio::time::sleep(Duration::from_millis(1)).await;
    item
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, .. } = common::args(1);
    let doctor = common::doctor_with(Duration::from_secs(1), |b| b);
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: {ITEMS} inserts through a pool of 20 connections, {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "buffer_unordered(16)"
        } else {
            "join_all over every item"
        }
    );
    let pool = Arc::new(Semaphore::new(20));
    let started = Instant::now();
    let span = || info_span!("db.insert", db.system = "postgresql");
    let done = async {
        if fixed {
            futures_util::stream::iter(0..ITEMS)
                .map(|i| insert(pool.clone(), i).instrument(span()))
                .buffer_unordered(16)
                .count()
                .await
        } else {
            futures_util::future::join_all(
                (0..ITEMS).map(|i| insert(pool.clone(), i).instrument(span())),
            )
            .await
            .len()
        }
    }
    .instrument(info_span!("import"))
    .await;
    println!(
        "imported {done} items in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("\n=== what the doctor reports ===");
    common::print_report(&doctor);
}
