//! Scenario 12, the other half: a deadline that stops the wait but not the
//! work.
//!
//! ```text
//! cargo run --release --example deadline_that_does_not_cancel            # the bad shape
//! cargo run --release --example deadline_that_does_not_cancel -- --fixed # it cancels
//! ```
//!
//! 20 requests a second each call a backend that answers in 20 ms, but one
//! call in five takes 1 s. Every request has a 200 ms budget.
//!
//! - **Bad** (default): the call is spawned and the request waits for its
//!   handle under `tokio_doctor::deadline(200 ms)`. The wait times out, the
//!   call runs on for the full second, holding its task (and, for real, a
//!   connection). The doctor reports `deadline_overrun` for `inventory.get`
//!   at `examples/deadline_that_does_not_cancel.rs:<line>`: overruns, seconds
//!   past the deadline (about 0.8 s each) and calls overrunning now.
//! - **Fixed** (`--fixed`): the deadline wraps the call itself, so on expiry
//!   the call's future is dropped. No finding.
//!
//! Runs for 10 seconds (`--seconds N`), printing the doctor's view every 3.
mod common;

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// The backend call: 20 ms, or 1 s when `slow`.
async fn inventory_get(slow: bool) {
    let span = tracing::info_span!("inventory.get", otel.kind = "client");
    let ms = if slow { 1_000 } else { 20 };
    tokio::time::sleep(Duration::from_millis(ms))
        .instrument(span)
        .await;
}

async fn handle(i: u64, fixed: bool) {
    let budget = Duration::from_millis(200);
    let slow = i % 5 == 0;
    if fixed {
        let _ = tokio_doctor::deadline(budget, inventory_get(slow)).await;
    } else {
        // The span is created here, inside the deadline; the call then runs
        // in a task of its own that nothing aborts.
        let _ = tokio_doctor::deadline(budget, async move {
            let call = tokio::time::sleep(Duration::from_millis(if slow { 1_000 } else { 20 }))
                .instrument(tracing::info_span!("inventory.get", otel.kind = "client"));
            tokio::spawn(call).await
        })
        .await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(10);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: 20 requests/s, 200 ms budget, 1 call in 5 takes 1 s, {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "the deadline wraps the call"
        } else {
            "the call is spawned and only the wait is bounded"
        }
    );
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut next_print = started + Duration::from_secs(3);
    let mut i = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        tokio::spawn(handle(i, fixed).instrument(tracing::info_span!("request")));
        i += 1;
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(3);
            println!(
                "\n[{:>4.1} s] {i} requests",
                started.elapsed().as_secs_f64()
            );
            common::print_findings(&doctor);
        }
    }
    // Let the last slow calls finish, so their overruns are counted.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    println!("\n=== what the doctor reports ===");
    common::print_findings(&doctor);
    for f in doctor
        .findings()
        .into_iter()
        .filter(|f| f.kind == tokio_doctor::FindingKind::DeadlineOverrun)
    {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
