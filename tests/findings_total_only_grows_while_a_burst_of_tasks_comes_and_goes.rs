//! `tokio_doctor_findings_total` is a counter for every kind: occurrences
//! that never decrease. For `excess_tasks` it used to be the peak of live
//! tasks, which is a level; the peak is now the gauge
//! `tokio_doctor_finding_peak` beside it. Scraped over and over while a
//! burst of tasks per item piles up and drains, twice.
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_doctor::{Doctor, FindingKind};

const ITEMS: usize = 12_000;

/// `(findings_total, finding_peak)` of each `excess_tasks` series.
fn scrape(doctor: &Doctor) -> HashMap<String, (f64, Option<f64>)> {
    let text = doctor.render_prometheus();
    let mut out: HashMap<String, (f64, Option<f64>)> = HashMap::new();
    for l in text.lines() {
        let (name, rest) = match l.split_once('{') {
            Some(x) => x,
            None => continue,
        };
        let counter = name == "tokio_doctor_findings_total";
        if !rest.starts_with("kind=\"excess_tasks\"")
            || !(counter || name == "tokio_doctor_finding_peak")
        {
            continue;
        }
        let (labels, value) = rest.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap();
        let e = out.entry(labels.to_string()).or_insert((f64::NAN, None));
        if counter {
            e.0 = value;
        } else {
            e.1 = Some(value);
        }
    }
    out
}

#[test]
fn findings_total_never_decreases_and_the_peak_is_a_gauge_beside_it() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let scrapes = rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let mut scrapes = Vec::new();
        for _ in 0..2 {
            // A burst of a task per item, held until it is seen piled up.
            let gate = Arc::new(Semaphore::new(0));
            let mut handles = Vec::with_capacity(ITEMS);
            for _ in 0..ITEMS {
                let gate = gate.clone();
                handles.push(tokio_doctor::spawn(async move {
                    gate.acquire().await.unwrap().forget();
                }));
            }
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1_500) {
                scrapes.push(scrape(&doctor));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // It drains; keep scraping while the live tasks fall to 0.
            gate.add_permits(ITEMS);
            for h in handles {
                h.await.unwrap();
            }
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(700) {
                scrapes.push(scrape(&doctor));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        scrapes
    });

    let last = scrapes.last().unwrap();
    assert_eq!(last.len(), 1, "one excess_tasks series: {last:#?}");
    let (total, peak) = last.values().next().unwrap();
    assert_eq!(
        *peak,
        Some(ITEMS as f64),
        "the peak of live tasks is the gauge beside the counter"
    );
    assert!(
        *total >= 1.0 && *total < ITEMS as f64,
        "the counter counts occurrences, not tasks: {total}"
    );
    let mut before: HashMap<&String, f64> = HashMap::new();
    for (i, s) in scrapes.iter().enumerate() {
        for (series, (total, _)) in s {
            if let Some(prev) = before.get(series) {
                assert!(
                    total >= prev,
                    "scrape {i}: {series} went from {prev} to {total}"
                );
            }
            before.insert(series, *total);
        }
        // Once a series appeared, it never goes away (a vanished series
        // reads as a counter reset).
        for series in before.keys() {
            assert!(s.contains_key(*series), "scrape {i}: {series} vanished");
        }
    }
    let f = support::expect(FindingKind::ExcessTasks).on(&doctor);
    assert_eq!(f.count as f64, *total);
}
