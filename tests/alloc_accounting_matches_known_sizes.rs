//! The tracking allocator attributes exactly the bytes a span allocates,
//! and memory freed on another thread does not corrupt the accounting.
#![cfg(feature = "alloc")]
mod support;

use tokio_doctor::alloc::TrackingAllocator;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

fn series(text: &str, name: &str, span: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("span=\"{span}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("{name} for {span}:\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn a_span_is_charged_what_it_allocates_and_its_peak() {
    use tracing_subscriber::prelude::*;
    let doctor = support::doctor();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    // Allocate something first so the allocator knows it is installed.
    drop(Box::new([0u8; 64]));
    let (kept, sent) = tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("known_sizes").in_scope(|| {
            let a = vec![1u8; 1_000_000];
            let b = vec![2u8; 2_000_000];
            let c = vec![3u8; 500_000]; // peak: 3,500,000 live
            drop(a); // live: 2,500,000
            (b, c) // kept beyond the span's close: retained
        })
    });
    // Freed on another thread, outside any span: nothing to corrupt.
    std::thread::spawn(move || drop(sent)).join().unwrap();
    let text = doctor.render_prometheus();
    let allocated = series(
        &text,
        "tokio_doctor_span_allocated_bytes_total",
        "known_sizes",
    );
    assert!(
        (3_500_000.0..=3_520_000.0).contains(&allocated),
        "1,000,000 + 2,000,000 + 500,000 bytes (and a little of tracing's): {allocated}"
    );
    let allocations = series(&text, "tokio_doctor_span_allocations_total", "known_sizes");
    assert!((3.0..=20.0).contains(&allocations), "{allocations}");
    let peak_sum = series(&text, "tokio_doctor_span_peak_bytes_sum", "known_sizes");
    assert!(
        (3_500_000.0..=3_520_000.0).contains(&peak_sum),
        "all three live at once: {peak_sum}"
    );
    assert!(text.contains("tokio_doctor_span_peak_bytes_bucket{span=\"known_sizes\""));
    drop(kept);
    // Nothing here is big enough to be a finding.
    assert!(doctor.findings().is_empty(), "{:#?}", doctor.findings());
}
