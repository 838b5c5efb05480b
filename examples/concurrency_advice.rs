//! Scenario 3: sizing concurrency by Little's Law.
//!
//! ```text
//! cargo run --release --example concurrency_advice            # ends at 64 in flight
//! cargo run --release --example concurrency_advice -- --fixed # stays at the limit
//! ```
//!
//! A downstream sustains 200 req/s at 80 ms a call (16 served at once). The
//! caller ramps its concurrency 1, 2, 4, 8, 16, one and a half seconds
//! each, so the doctor sees throughput rise and then stop rising.
//!
//! - **Bad** (default): the caller then runs 64 in flight. The doctor
//!   exports `tokio_doctor_concurrency_recommended{span="inventory.get"}`
//!   = 16 (200/s × 0.08 s) beside `tokio_doctor_concurrency_in_flight`
//!   ≈ 64, and a `concurrency_advice` finding (info) says the caller is past
//!   the knee: latency about 320 ms for the same 200/s.
//! - **Fixed** (`--fixed`): the caller stays at 16 (a semaphore sized by the
//!   recommendation): the same throughput at 80 ms, no finding.
//!
//! Runs for 14 seconds (`--seconds N`, at least 10), printing both gauges
//! every second.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tracing::{info_span, Instrument};

/// The downstream: 16 at a time, 80 ms each.
async fn inventory_get(downstream: Arc<Semaphore>) {
    let _slot = downstream.acquire().await.expect("open");
    tokio::time::sleep(Duration::from_millis(80)).await;
}

fn gauges(doctor: &tokio_doctor::Doctor) -> String {
    let text = doctor.render_prometheus();
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("inventory.get"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or("-".to_string(), |v| format!("{v:.1}"))
    };
    format!(
        "in flight {} | recommended {}",
        read("tokio_doctor_concurrency_in_flight"),
        read("tokio_doctor_concurrency_recommended")
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(14);
    let seconds = seconds.max(10);
    let doctor = common::doctor_with(Duration::from_millis(250), |b| {
        b.concurrency_window(Duration::from_secs(1))
    });
    let _running = doctor.start().expect("inside a runtime");
    let downstream = Arc::new(Semaphore::new(16));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut callers = 0;
    let last = if fixed { 16 } else { 64 };
    let ramp = [(1, 1.5), (2, 1.5), (4, 1.5), (8, 1.5), (16, 1.5)];
    let rest = seconds as f64 - 7.5;
    for (level, secs) in ramp.into_iter().chain([(last, rest)]) {
        while callers < level {
            let (downstream, stop) = (downstream.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let span = info_span!("inventory.get", otel.kind = "client");
                    inventory_get(downstream.clone()).instrument(span).await;
                }
            });
            callers += 1;
        }
        let until = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!(
                "t={:>4.1}s callers {callers:>2} | {}",
                started.elapsed().as_secs_f64(),
                gauges(&doctor)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    println!("\n=== what the doctor reports ===");
    common::print_report(&doctor);
}
