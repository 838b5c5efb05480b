//! Scenario 6: an export that fetches every row, maps them into a second
//! vector and serializes one string peaks at over 64 MiB and is reported;
//! the streaming version of the same export, one record at a time, is not.
#![cfg(feature = "alloc")]
mod support;

use std::io::Write;

use tokio_doctor::alloc::TrackingAllocator;
use tokio_doctor::FindingKind;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::system();

const ROWS: u64 = 400_000;

struct Row {
    id: u64,
    name: String,
    payload: String,
}

fn fetch_row(id: u64) -> Row {
    Row {
        id,
        name: format!("customer-{id:08}"),
        payload: "x".repeat(64),
    }
}

fn to_json(r: &Row) -> String {
    format!(
        "{{\"id\":{},\"name\":\"{}\",\"payload\":\"{}\"}}",
        r.id, r.name, r.payload
    )
}

#[test]
fn a_materialized_export_is_reported_and_a_streamed_one_is_not() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        tokio::spawn(async { export_both_ways() }).await.unwrap();
    });
    check(&doctor);
}

fn export_both_ways() {
    {
        // Bad: all rows, then all mapped rows, then the whole document.
        let size = tracing::info_span!("export_materialized").in_scope(|| {
            let rows: Vec<Row> = (0..ROWS).map(fetch_row).collect();
            let mapped: Vec<String> = rows.iter().map(to_json).collect();
            let body = format!("[{}]", mapped.join(","));
            body.len()
        });
        // Fixed: one record at a time into the (here discarded) response.
        let streamed = tracing::info_span!("export_streamed").in_scope(|| {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::sink());
            let mut n = 0;
            for id in 0..ROWS {
                let s = to_json(&fetch_row(id));
                n += s.len();
                out.write_all(s.as_bytes()).unwrap();
            }
            n
        });
        assert!(size > streamed, "same data, {size} vs {streamed} bytes");
    }
}

fn check(doctor: &tokio_doctor::Doctor) {
    let found = support::of_kind(doctor, FindingKind::Materialization);
    let dump = || format!("{found:#?}\n{}", doctor.render_prometheus());
    assert!(
        found.iter().all(|f| f.span != "export_streamed"),
        "streaming is silent: {}",
        dump()
    );
    let f = found
        .iter()
        .find(|f| f.span == "export_materialized")
        .unwrap_or_else(|| panic!("{}", dump()));
    assert!(f.location.starts_with(file!()));
    let peak = f.evidence("peak_bytes").unwrap();
    assert!(peak >= 64.0 * 1024.0 * 1024.0, "{peak}");
    assert!(f.message.contains("MiB"), "{}", f.message);
    let text = doctor.render_prometheus();
    let streamed_peak: f64 = text
        .lines()
        .find(|l| l.starts_with("tokio_doctor_span_peak_bytes_sum{span=\"export_streamed\""))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        streamed_peak < 1024.0 * 1024.0,
        "streaming holds one record at a time: {streamed_peak}"
    );
}
