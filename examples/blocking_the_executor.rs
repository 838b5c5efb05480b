//! Scenario 5: CPU work blocking the executor.
//!
//! ```text
//! cargo run --release --example blocking_the_executor            # the bad shape
//! cargo run --release --example blocking_the_executor -- --fixed # the fix
//! ```
//!
//! A service handles "login" requests that hash a password for 25 ms.
//!
//! - **Bad** (default): the hash runs inside the async handler, on a runtime
//!   worker. The doctor reports a `blocking_poll` finding for the span
//!   `hash_password` at `examples/blocking_the_executor.rs:<line>`, with the
//!   number of blocking polls, the seconds the workers were blocked and the
//!   worst poll; `tokio_doctor_event_loop_lag_seconds` rises, and so does the
//!   latency of the unrelated `/health` task beside it.
//! - **Fixed** (`--fixed`): the same hash in `spawn_blocking`. No finding
//!   for `hash_password`; event-loop lag stays within a few milliseconds.
//!   On a 2-core host `handle_login` can rarely show one or two polls just
//!   over the threshold: `spawn_blocking` itself sleeps on its pool's lock
//!   when a pool thread holding it was preempted. That is time the worker
//!   really could not run tasks, so the doctor does not hide it.
//!
//! Runs for 6 seconds (`--seconds N` to change), printing the doctor's view
//! every 2 seconds.
mod common;

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

const HASH_COST: Duration = Duration::from_millis(25);

async fn login(fixed: bool) -> u64 {
    if fixed {
        tokio::task::spawn_blocking(|| {
            tracing::info_span!("hash_password").in_scope(|| common::expensive_hash(HASH_COST))
        })
        .await
        .unwrap_or(0)
    } else {
        async { common::expensive_hash(HASH_COST) }
            .instrument(tracing::info_span!("hash_password"))
            .await
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(6);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: hashing {} ms per login {}",
        if fixed { "fixed" } else { "bad" },
        HASH_COST.as_millis(),
        if fixed {
            "in spawn_blocking"
        } else {
            "on a runtime worker"
        }
    );

    // An unrelated health check: its latency shows what blocking costs others.
    let health = tokio::spawn(async {
        let mut worst = Duration::ZERO;
        loop {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_millis(10)).await;
            worst = worst.max(t.elapsed().saturating_sub(Duration::from_millis(10)));
            if t.elapsed() > Duration::from_secs(3600) {
                return worst;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut next_print = Instant::now() + Duration::from_secs(2);
    let mut logins = tokio::task::JoinSet::new();
    while Instant::now() < deadline {
        // Four logins every 100 ms: 40 requests a second, one core's worth
        // of hashing, so the fixed shape does not oversubscribe 2 cores.
        for _ in 0..4 {
            logins.spawn(
                async move { login(fixed).await }.instrument(tracing::info_span!("handle_login")),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        while logins.try_join_next().is_some() {}
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(2);
            common::print_findings(&doctor);
        }
    }
    while logins.join_next().await.is_some() {}
    health.abort();
    println!("\n=== what the doctor reports ===");
    common::print_findings(&doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
