//! Scenario 1: independent awaits run one after another in a loop.
//!
//! ```text
//! cargo run --release --example serial_awaits            # the bad shape
//! cargo run --release --example serial_awaits -- --fixed # join_all
//! ```
//!
//! Each request loads 20 user profiles from a service that takes 50 ms per
//! call.
//!
//! - **Bad** (default): `for id in ids { out.push(fetch_profile(id).await) }`:
//!   a request takes 20 × 50 ms = 1 s. The doctor reports `serial_awaits`
//!   for the span `fetch_profile` at `examples/serial_awaits.rs:<line>`
//!   under `load_profiles`: chains of 20, and the seconds running them
//!   concurrently would have saved (about 0.95 s per request).
//! - **Fixed** (`--fixed`): `join_all(ids.map(fetch_profile))`: the calls
//!   overlap, a request takes about 50 ms, and there is no finding.
//!
//! Runs for 4 seconds (`--seconds N`).
mod common;

use std::time::{Duration, Instant};

use tracing::{info_span, Instrument};

async fn fetch_profile(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(50)).await; // the remote call
    id
}

async fn load_profiles(ids: Vec<u64>, fixed: bool) -> Vec<u64> {
    let span = |id: u64| info_span!("fetch_profile", otel.kind = "client", user.id = id);
    if fixed {
        futures_util::future::join_all(
            ids.into_iter()
                .map(|id| fetch_profile(id).instrument(span(id))),
        )
        .await
    } else {
        let mut out = Vec::new();
        for id in ids {
            out.push(fetch_profile(id).instrument(span(id)).await);
        }
        out
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let common::Args { fixed, seconds } = common::args(4);
    let doctor = common::doctor_with(Duration::from_secs(1), |b| b);
    let _running = doctor.start().expect("inside a runtime");
    println!(
        "{} shape: 20 profile fetches of 50 ms per request, {}",
        if fixed { "fixed" } else { "bad" },
        if fixed {
            "join_all"
        } else {
            "awaited one by one"
        }
    );
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut requests = 0;
    while Instant::now() < until {
        let started = Instant::now();
        load_profiles((0..20).collect(), fixed)
            .instrument(info_span!("load_profiles"))
            .await;
        requests += 1;
        println!(
            "request {requests} took {:.0} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    println!("\n=== what the doctor reports ===");
    common::print_report(&doctor);
}
