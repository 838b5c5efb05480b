//! Scenario 12: a fan-out whose members have no deadline.
//!
//! ```text
//! cargo run --release --example fan_out_without_deadline            # the bad shape
//! cargo run --release --example fan_out_without_deadline -- --fixed # deadlines
//! ```
//!
//! 20 requests a second; each waits for three backends with `join!`. svcA
//! and svcB answer in 20 ms; svcC answers in 20 ms but one call in ten
//! hangs for 5 s.
//!
//! - **Bad** (default): no deadline. The request's p99 is svcC's hang. The
//!   doctor reports `missing_deadline` for the three call sites with their
//!   p99, critical while a call hangs past the hang limit (2 s here), and
//!   `tokio_doctor_join_slowest_seconds_total` shows `svc_c` setting almost
//!   all of the requests' latency.
//! - **Fixed** (`--fixed`): each call inside `tokio_doctor::deadline(200 ms)`,
//!   which cancels the hung call. No finding; the p99 is capped near 200 ms.
//!
//! Runs for 12 seconds (`--seconds N`), printing the doctor's view every 3.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

async fn backend(name: &'static str, hang: bool) {
    let ms = if hang { 5_000 } else { 20 };
    let span = match name {
        "svc_a" => tracing::info_span!("svc_a", otel.kind = "client", peer.service = "svcA"),
        "svc_b" => tracing::info_span!("svc_b", otel.kind = "client", peer.service = "svcB"),
        _ => tracing::info_span!("svc_c", otel.kind = "client", peer.service = "svcC"),
    };
    tokio::time::sleep(Duration::from_millis(ms))
        .instrument(span)
        .await;
}

async fn handle(i: u64, fixed: bool) {
    let hang = i % 10 == 0;
    if fixed {
        let limit = Duration::from_millis(200);
        let _ = tokio::join!(
            tokio_doctor::deadline(limit, backend("svc_a", false)),
            tokio_doctor::deadline(limit, backend("svc_b", false)),
            tokio_doctor::deadline(limit, backend("svc_c", hang)),
        );
    } else {
        tokio::join!(
            backend("svc_a", false),
            backend("svc_b", false),
            backend("svc_c", hang)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(12);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .hang_limit(Duration::from_secs(2))
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: 20 requests/s, join of svcA, svcB, svcC (1 in 10 svcC calls hangs 5 s), {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "each call inside tokio_doctor::deadline(200 ms)"
        } else {
            "no deadline"
        }
    );
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut next_print = started + Duration::from_secs(3);
    let mut i = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        let record = latencies.clone();
        tokio::spawn(
            async move {
                let t = Instant::now();
                handle(i, fixed).await;
                record.lock().unwrap().push(t.elapsed());
            }
            .instrument(tracing::info_span!("fan_out")),
        );
        i += 1;
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(3);
            print_view(&doctor, &latencies, started);
        }
    }
    println!("\n=== what the doctor reports ===");
    print_view(&doctor, &latencies, started);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}

fn print_view(doctor: &tokio_doctor::Doctor, latencies: &Mutex<Vec<Duration>>, started: Instant) {
    let mut l = latencies.lock().unwrap().clone();
    l.sort();
    let p = |q: f64| {
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "\n[{:>4.1} s] requests done {}, p50 {:.0} ms, p99 {:.0} ms",
        started.elapsed().as_secs_f64(),
        l.len(),
        p(0.5),
        p(0.99)
    );
    let text = doctor.render_prometheus();
    for line in text.lines().filter(|x| {
        x.starts_with("tokio_doctor_join_slowest_seconds_total{")
            || (x.starts_with("tokio_doctor_hung_calls{") && !x.ends_with(" 0"))
    }) {
        println!("  {line}");
    }
    common::print_findings(doctor);
}
