//! Cost of `TrackingAllocator` per allocation, in one run.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --features alloc --bin alloc-overhead
//! ```
//!
//! Allocates and frees 64-byte blocks in a loop: straight through `System`
//! (the baseline), through the tracking wrapper outside any span (one
//! thread-local read), and inside a span the doctor attributes bytes to
//! (plus three relaxed atomic updates). Median of 7 rounds of 5,000,000
//! allocation/free pairs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

use tokio_doctor::alloc::TrackingAllocator;
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

const PAIRS: u64 = 5_000_000;

fn run(a: &dyn GlobalAlloc) -> f64 {
    let layout = Layout::from_size_align(64, 8).unwrap();
    let start = Instant::now();
    for _ in 0..PAIRS {
        // SAFETY: a valid non-zero layout; the block is freed with it at once.
        unsafe {
            let p = a.alloc(layout);
            std::hint::black_box(p);
            a.dealloc(p, layout);
        }
    }
    start.elapsed().as_nanos() as f64 / PAIRS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .unwrap();
    tracing_subscriber::registry().with(doctor.layer()).init();
    let (mut base, mut outside, mut inside) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        base.push(run(&System));
        outside.push(run(&ALLOC));
        inside.push(tracing::info_span!("alloc_bench").in_scope(|| run(&ALLOC)));
    }
    let (b, o, i) = (median(base), median(outside), median(inside));
    println!("TrackingAllocator, 64-byte alloc+free pairs, 7 rounds x {PAIRS}, medians");
    println!("| allocator | ns per alloc+free | added | allocations/s (millions) |");
    println!("|---|---:|---:|---:|");
    for (name, v) in [
        ("System (baseline)", b),
        ("TrackingAllocator, outside spans", o),
        ("TrackingAllocator, inside a span", i),
    ] {
        println!("| {name} | {v:.1} | {:+.1} | {:.1} |", v - b, 1e3 / v);
    }
}
