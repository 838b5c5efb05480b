//! Scenario 3, the seed's arithmetic: a downstream that sustains 200 req/s
//! at 80 ms (16 served at once) must come out as a recommended limit of 16
//! (±20%), and a caller running 64 in flight must be told it is past the
//! knee. The callers ramp 1, 4, 16, then 64 in flight.
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_doctor::{Doctor, FindingKind, Severity};
use tracing::{info_span, Instrument};

/// The simulated downstream: 16 requests at a time, 80 ms each.
async fn inventory_get(downstream: Arc<Semaphore>) {
    let _slot = downstream.acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
}

fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains("span=\"inventory.get\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_advice_is_16_and_64_in_flight_is_past_the_knee() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .concurrency_window(Duration::from_millis(1_000))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("concurrency_advice_recommends_16_for_a_200_per_second_80_ms_downstream.rs"),
        "MARK: outbound span",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let downstream = Arc::new(Semaphore::new(16));
        let stop = Arc::new(AtomicBool::new(false));
        let mut callers = 0;
        let mut at_16 = None;
        for (level, secs) in [(1, 2.5), (4, 2.0), (16, 2.5), (64, 4.0)] {
            while callers < level {
                let (downstream, stop) = (downstream.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let span = info_span!("inventory.get", otel.kind = "client"); // MARK: outbound span
                        inventory_get(downstream.clone()).instrument(span).await;
                    }
                });
                callers += 1;
            }
            let until = Instant::now() + Duration::from_secs_f64(secs);
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if level == 16 {
                let advice = support::of_kind(&doctor, FindingKind::ConcurrencyAdvice);
                assert!(advice.is_empty(), "16 in flight is the knee: {advice:#?}");
                at_16 = gauge(
                    &doctor.render_prometheus(),
                    "tokio_doctor_concurrency_recommended",
                );
            }
        }
        let past = support::eventually(Duration::from_secs(3), || {
            support::of_kind(&doctor, FindingKind::ConcurrencyAdvice)
                .iter()
                .any(|f| f.span == "inventory.get" && f.evidence("past_knee_now") == Some(1.0))
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        let text = doctor.render_prometheus();
        let recommended = gauge(&text, "tokio_doctor_concurrency_recommended").unwrap();
        assert!(
            (12.8..=19.2).contains(&recommended),
            "16 ± 20%, got {recommended}; at 16 in flight it read {at_16:?}\n{text}"
        );
        let in_flight = gauge(&text, "tokio_doctor_concurrency_in_flight").unwrap();
        eprintln!("recommended {recommended} (at 16 in flight: {at_16:?}), in flight {in_flight}");
        assert!((40.0..=70.0).contains(&in_flight), "about 64: {in_flight}");
        let found = support::of_kind(&doctor, FindingKind::ConcurrencyAdvice);
        assert!(past, "{found:#?}");
        let f = found.iter().find(|f| f.span == "inventory.get").unwrap();
        assert_eq!(f.severity, Severity::Info, "advice, not an alarm");
        assert_eq!(f.location, format!("{}:{line}", file!()));
        assert!(f.message.contains("past the knee"), "{}", f.message);
        let max = f.evidence("max_throughput_per_second").unwrap();
        assert!((170.0..=230.0).contains(&max), "about 200/s: {max}");
        let low = f.evidence("low_load_latency_seconds").unwrap();
        assert!((0.079..=0.1).contains(&low), "about 80 ms: {low}");
        let w = f.evidence("latency_seconds").unwrap();
        assert!(w > 0.2, "queueing at 64 in flight: about 320 ms, got {w}");
    });
}
