//! A task per trivial item: async machinery for work that never suspends.
//!
//! ```text
//! cargo run --release --example trivial_async            # a task per item
//! cargo run --release --example trivial_async -- --fixed # inline calls
//! ```
//!
//! A hot loop doubles numbers.
//!
//! - **Bad** (default): each item is `tokio_doctor::spawn(double(x)).await`.
//!   The doctor reports `trivial_async` for the spawn site
//!   `examples/trivial_async.rs:<line>` (hundreds of thousands of tasks a
//!   second, each finished in its first poll after well under a
//!   microsecond of work).
//! - **Fixed** (`--fixed`): no task per item: a plain `fn` called inline,
//!   and the instrumented `async fn` awaited in place (an inline future
//!   that happens not to wait costs next to nothing, so it is no finding).
//!   The loop runs orders of magnitude faster, and there is no finding.
//!
//! Runs for 3 seconds (`--seconds N`).
mod common;

use std::time::{Duration, Instant};

use tracing::{info_span, Instrument};

async fn double(x: u64) -> u64 {
    x * 2
}

fn double_sync(x: u64) -> u64 {
    x * 2
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(3);
    let doctor = common::doctor_with(Duration::from_millis(500), |b| {
        b.task_window(Duration::from_secs(2))
    });
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: doubling numbers {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "inline"
        } else {
            "with a task per item"
        }
    );
    let until = Instant::now() + Duration::from_secs(seconds);
    let (mut total, mut items) = (0u64, 0u64);
    while Instant::now() < until {
        for _ in 0..256 {
            let x = items;
            total = total.wrapping_add(if fixed {
                double_sync(x) + double(x).instrument(info_span!("double")).await
            } else {
                tokio_doctor::spawn(double(x)).await.expect("task") + double_sync(x)
            });
            items += 1;
        }
        tokio::task::yield_now().await;
    }
    println!(
        "{items} items in {seconds} s ({:.0}/s), total {total}",
        items as f64 / seconds as f64
    );
    println!("\n=== what the doctor reports ===");
    common::print_report(&doctor);
}
