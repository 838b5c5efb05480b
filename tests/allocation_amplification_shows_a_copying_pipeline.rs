//! Scenario 10: a `.map().filter().collect()` chain with three intermediate
//! vectors over 1,000,000 items allocates clearly more per item than the
//! fused single pass, and only it is reported.
#![cfg(feature = "alloc")]
mod support;

use tokio_doctor::alloc::TrackingAllocator;
use tokio_doctor::FindingKind;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

const ITEMS: u64 = 1_000_000;

#[test]
fn the_copying_chain_is_reported_and_the_fused_pass_is_not() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let (a, b) = rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        tokio::spawn(async { both_pipelines() }).await.unwrap()
    });
    check(&doctor, a, b);
}

fn both_pipelines() -> (Vec<u64>, Vec<u64>) {
    {
        let input: Vec<u64> = (0..ITEMS).collect();
        // Bad: every stage collects a new vector.
        let staged = tracing::info_span!("pipeline_staged", items = ITEMS).in_scope(|| {
            let doubled: Vec<u64> = input.iter().map(|x| x * 2).collect();
            let shifted: Vec<u64> = doubled.iter().map(|x| x + 7).collect();
            let odd_free: Vec<u64> = shifted.iter().copied().filter(|x| x % 3 != 0).collect();
            odd_free.iter().map(|x| x / 2).collect::<Vec<u64>>()
        });
        // Fixed: one pass, one output.
        let fused = tracing::info_span!("pipeline_fused", items = ITEMS).in_scope(|| {
            input
                .iter()
                .map(|x| x * 2 + 7)
                .filter(|x| x % 3 != 0)
                .map(|x| x / 2)
                .collect::<Vec<u64>>()
        });
        (staged, fused)
    }
}

fn check(doctor: &tokio_doctor::Doctor, a: Vec<u64>, b: Vec<u64>) {
    assert_eq!(a, b, "both pipelines compute the same thing");

    let found = support::of_kind(doctor, FindingKind::AllocationAmplification);
    let dump = || format!("{found:#?}\n{}", doctor.render_prometheus());
    assert!(
        found.iter().all(|f| f.span != "pipeline_fused"),
        "the fused pass is silent: {}",
        dump()
    );
    let f = found
        .iter()
        .find(|f| f.span == "pipeline_staged")
        .unwrap_or_else(|| panic!("{}", dump()));
    let per_item = f.evidence("allocated_bytes_per_item").unwrap();
    assert!(
        per_item >= 24.0,
        "three intermediate vectors of 8-byte items and more: {per_item}"
    );

    let text = doctor.render_prometheus();
    let allocated = |span: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with("tokio_doctor_span_allocated_bytes_total") && l.contains(span))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (staged, fused) = (allocated("pipeline_staged"), allocated("pipeline_fused"));
    assert!(
        staged >= 2.0 * fused,
        "clearly more: staged {staged} bytes, fused {fused} bytes"
    );
}
