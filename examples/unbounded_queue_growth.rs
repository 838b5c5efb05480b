//! Scenario 8: an unbounded queue defers a crash.
//!
//! ```text
//! cargo run --release --example unbounded_queue_growth            # the bad shape
//! cargo run --release --example unbounded_queue_growth -- --fixed # back-pressure
//! ```
//!
//! A producer enqueues 1,000 jobs a second; the consumer handles 10.
//!
//! - **Bad** (default): `tokio_doctor::queue::unbounded_channel("jobs")`. Within
//!   the 10 s queue window the doctor reports `queue_growth` for `jobs` at
//!   `examples/unbounded_queue_growth.rs:<line>`: about +990 items/s, producer
//!   1,000/s, consumer 10/s, and the seconds until the 20,000-item limit.
//! - **Fixed** (`--fixed`): `tokio_doctor::queue::channel("jobs", 100)`: the
//!   producer waits when the channel is full. No finding;
//!   `tokio_doctor_queue_saturation{queue="jobs"}` reads 1: back-pressure
//!   working, the producer runs at the consumer's pace.
//!
//! Runs for 15 seconds (`--seconds N`), printing the doctor's view every 3.
mod common;

use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(15);
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .queue_limit(20_000)
        .build()
        .expect("valid settings");
    let _running = doctor.start().expect("inside a runtime");
    let until = Instant::now() + Duration::from_secs(seconds);
    println!(
        "{} shape: producer 1000/s, consumer 10/s, {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "bounded channel of 100"
        } else {
            "unbounded channel"
        }
    );

    let producer_sent = if fixed {
        let (tx, mut rx) = tokio_doctor::queue::channel::<u64>("jobs", 100);
        tokio::spawn(async move {
            let mut tick = consumer_ticks();
            while Instant::now() < until && rx.recv().await.is_some() {
                tick.tick().await;
            }
        });
        run_producer(
            until,
            move |i| {
                let tx = tx.clone();
                async move { tx.send(i).await.is_ok() }
            },
            &doctor,
        )
        .await
    } else {
        let (tx, mut rx) = tokio_doctor::queue::unbounded_channel::<u64>("jobs");
        tokio::spawn(async move {
            let mut tick = consumer_ticks();
            while Instant::now() < until && rx.recv().await.is_some() {
                tick.tick().await;
            }
        });
        run_producer(
            until,
            move |i| {
                let ok = tx.send(i).is_ok();
                async move { ok }
            },
            &doctor,
        )
        .await
    };
    println!("\n=== what the doctor reports (producer sent {producer_sent}) ===");
    print_queue(&doctor);
}

/// The consumer takes one job every 100 ms: 10 a second.
fn consumer_ticks() -> tokio::time::Interval {
    tokio::time::interval(Duration::from_millis(100))
}

/// Offers a job every millisecond; prints the doctor's view every 3 s.
async fn run_producer<F, Fut>(until: Instant, mut send: F, doctor: &tokio_doctor::Doctor) -> u64
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut next_print = Instant::now() + Duration::from_secs(3);
    let mut sent = 0;
    while Instant::now() < until {
        tick.tick().await;
        if !send(sent).await {
            break;
        }
        sent += 1;
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(3);
            print_queue(doctor);
        }
    }
    sent
}

fn print_queue(doctor: &tokio_doctor::Doctor) {
    let text = doctor.render_prometheus();
    for l in text
        .lines()
        .filter(|l| l.contains("queue=\"jobs\"") && !l.starts_with('#'))
    {
        println!("  {l}");
    }
    common::print_findings(doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
