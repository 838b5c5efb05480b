//! Scenario 10: functional pipelines that copy the data N times.
//! Needs the `alloc` feature.
//!
//! ```text
//! cargo run --release --features alloc --example copying_pipeline            # bad
//! cargo run --release --features alloc --example copying_pipeline -- --fixed # fused
//! ```
//!
//! 1,000,000 prices go through three stages. **Bad**: each stage collects a
//! new `Vec`. The doctor reports `allocation_amplification` for
//! `reprice_catalog` at `examples/copying_pipeline.rs:<line>`: several times
//! the bytes it keeps, and the bytes allocated per item (the span records
//! `items`). **Fixed** (`--fixed`): one fused iterator chain, one `collect`,
//! allocating about what it returns; nothing is reported.
mod common;

use tokio_doctor::alloc::TrackingAllocator;
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

const ITEMS: u64 = 1_000_000;

fn main() {
    let fixed = common::args(1).fixed;
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let prices: Vec<u64> = (0..ITEMS).map(|i| 100 + i % 900).collect();
    let out = tracing::info_span!("reprice_catalog", items = ITEMS).in_scope(|| {
        if fixed {
            prices
                .iter()
                .map(|p| p * 110 / 100)
                .filter(|p| p % 7 != 0)
                .map(|p| p - 1)
                .collect::<Vec<u64>>()
        } else {
            let taxed: Vec<u64> = prices.iter().map(|p| p * 110 / 100).collect();
            let kept: Vec<u64> = taxed.into_iter().filter(|p| p % 7 != 0).collect();
            let rounded: Vec<u64> = kept.iter().map(|p| p - 1).collect();
            rounded.to_vec()
        }
    });
    println!(
        "{} shape: {} prices out",
        if fixed {
            "fixed (fused)"
        } else {
            "bad (staged)"
        },
        out.len()
    );
    for l in doctor
        .render_prometheus()
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_span_allocated_bytes_total"))
    {
        println!("  {l}");
    }
    common::print_findings(&doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
