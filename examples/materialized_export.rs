//! Scenario 6: materializing a large result instead of streaming it.
//! Needs the `alloc` feature.
//!
//! ```text
//! cargo run --release --features alloc --example materialized_export            # bad
//! cargo run --release --features alloc --example materialized_export -- --fixed # streamed
//! ```
//!
//! An "export" of 500,000 rows. **Bad**: fetch all rows into a vector, map
//! them into a second vector, join them into one JSON string. The doctor
//! reports `materialization` for `export_events` at
//! `examples/materialized_export.rs:<line>` with its peak heap (well over
//! the 64 MiB threshold). **Fixed** (`--fixed`): each row is fetched,
//! serialized and written out on its own; peak heap stays under a megabyte
//! and nothing is reported. Both print the span's peak from the
//! `tokio_doctor_span_peak_bytes` histogram.
mod common;

use std::io::Write;

use tokio_doctor::alloc::TrackingAllocator;
use tracing_subscriber::prelude::*;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

const ROWS: u64 = 500_000;

fn fetch_row(id: u64) -> (u64, String) {
    (id, format!("event-{id:08}-{}", "p".repeat(60)))
}

fn to_json((id, body): &(u64, String)) -> String {
    format!("{{\"id\":{id},\"body\":\"{body}\"}}")
}

fn main() {
    let fixed = common::args(1).fixed;
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .expect("valid settings");
    tracing_subscriber::registry().with(doctor.layer()).init();
    let bytes = tracing::info_span!("export_events").in_scope(|| {
        if fixed {
            let mut out = std::io::BufWriter::new(std::io::sink());
            let mut n = 0;
            for id in 0..ROWS {
                let line = to_json(&fetch_row(id));
                n += line.len();
                let _ = out.write_all(line.as_bytes());
            }
            n
        } else {
            let rows: Vec<(u64, String)> = (0..ROWS).map(fetch_row).collect();
            let mapped: Vec<String> = rows.iter().map(to_json).collect();
            format!("[{}]", mapped.join(",")).len()
        }
    });
    println!(
        "{} shape: exported {bytes} bytes",
        if fixed {
            "fixed (streamed)"
        } else {
            "bad (materialized)"
        }
    );
    for l in doctor
        .render_prometheus()
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_span_peak_bytes_sum"))
    {
        println!("  {l}");
    }
    common::print_findings(&doctor);
    for f in doctor.findings() {
        println!("  {}\n  fix: {}", f.message, f.fix);
    }
}
