//! Scenario 8: an unbounded queue fed faster than it drains is reported with
//! its growth rate; a bounded queue that blocks its producer is
//! back-pressure, shown as saturation and never as growth.
mod support;

use std::time::{Duration, Instant};

use tokio_doctor::{Doctor, FindingKind};

fn doctor() -> Doctor {
    Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .queue_window(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Sends one item per millisecond (1,000/s) until `until`.
async fn produce<F: FnMut() -> Fut, Fut: std::future::Future<Output = bool>>(
    until: Instant,
    mut send: F,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while Instant::now() < until {
        tick.tick().await;
        if !send().await {
            return;
        }
    }
}

#[test]
fn the_seeds_shape_is_reported_at_about_990_per_second() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    let line = support::line_of(
        include_str!("queue_growth_reports_an_unbounded_queue_and_not_back_pressure.rs"),
        "MARK: unbounded queue",
    );
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let started = Instant::now();
        let (tx, mut rx) = tokio_doctor::queue::unbounded_channel::<u64>("test.unbounded"); // MARK: unbounded queue
        let until = started + Duration::from_millis(3500);
        let producer = tokio::spawn(produce(until, move || {
            let ok = tx.send(1).is_ok();
            async move { ok }
        }));
        // The consumer: 10 items a second.
        let consumer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while Instant::now() < until {
                tick.tick().await;
                let _ = rx.recv().await;
            }
            rx
        });
        producer.await.unwrap();
        let rx = consumer.await.unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        let text = doctor.render_prometheus();
        let counter = |name: &str| -> f64 {
            let prefix = format!("{name}{{queue=\"test.unbounded\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse()
                .unwrap()
        };
        let true_rate = (counter("tokio_doctor_queue_enqueued_total")
            - counter("tokio_doctor_queue_dequeued_total"))
            / elapsed;
        assert!(rx.len() > 2_000, "the queue really grew: {}", rx.len());

        let found = support::of_kind(&doctor, FindingKind::QueueGrowth);
        let f = found
            .iter()
            .find(|f| f.span == "test.unbounded")
            .unwrap_or_else(|| panic!("{found:#?}"));
        assert_eq!(f.location, format!("{}:{}", file!(), line));
        let growth = f.evidence("growth_per_second").unwrap();
        assert!(
            (growth - true_rate).abs() <= 0.1 * true_rate,
            "growth {growth}/s, true {true_rate}/s"
        );
        assert!((800.0..=1100.0).contains(&growth), "about +990/s: {growth}");
        let producer = f.evidence("producer_per_second").unwrap();
        let consumer = f.evidence("consumer_per_second").unwrap();
        assert!(
            producer > 800.0 && consumer < 20.0,
            "producer {producer}/s consumer {consumer}/s"
        );
        assert!(
            f.message.contains("test.unbounded") && f.message.contains("items/s"),
            "{}",
            f.message
        );
        assert!(text.contains("tokio_doctor_queue_growth_per_second{queue=\"test.unbounded\"}"));
        assert!(
            text.contains(
                "tokio_doctor_findings_total{kind=\"queue_growth\",span=\"test.unbounded\""
            ),
            "{text}"
        );
    });
}

#[test]
fn a_full_bounded_queue_is_saturation_and_a_drained_queue_is_silent() {
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let until = Instant::now() + Duration::from_millis(3000);
        // Back-pressure: a bounded channel whose producer waits when full.
        let (tx, mut rx) = tokio_doctor::queue::channel::<u64>("test.bounded", 100);
        let producer = tokio::spawn(produce(until, move || {
            let tx = tx.clone();
            async move { tx.send(1).await.is_ok() }
        }));
        let consumer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while Instant::now() < until {
                tick.tick().await;
                let _ = rx.try_recv();
            }
            rx
        });
        // An unbounded queue whose consumer keeps up.
        let (utx, mut urx) = tokio_doctor::queue::unbounded_channel::<u64>("test.drained");
        let drained = tokio::spawn(async move { while urx.recv().await.is_some() {} });
        produce(until, move || {
            let ok = utx.send(1).is_ok();
            async move { ok }
        })
        .await;
        producer.await.unwrap();
        let _rx = consumer.await.unwrap();
        drained.await.unwrap();

        let found = support::of_kind(&doctor, FindingKind::QueueGrowth);
        assert!(
            found
                .iter()
                .all(|f| f.span != "test.bounded" && f.span != "test.drained"),
            "{found:#?}"
        );
        let text = doctor.render_prometheus();
        assert!(
            text.contains("tokio_doctor_queue_saturation{queue=\"test.bounded\"} 1"),
            "{text}"
        );
        assert!(text.contains("tokio_doctor_queue_depth{queue=\"test.bounded\"} 100"));
    });
}

#[test]
fn a_watched_queue_is_sampled_through_its_length_function() {
    use std::sync::{Arc, Mutex};
    let doctor = doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let backlog = Arc::new(Mutex::new(std::collections::VecDeque::<u32>::new()));
        let b = backlog.clone();
        let watch = tokio_doctor::queue::watch("test.watched", move || b.lock().unwrap().len());
        // Grows by 500 items every 100 ms: 5,000/s.
        for _ in 0..30 {
            backlog.lock().unwrap().extend(0..500);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let found = support::of_kind(&doctor, FindingKind::QueueGrowth);
        let f = found
            .iter()
            .find(|f| f.span == "test.watched")
            .unwrap_or_else(|| panic!("{found:#?}"));
        let growth = f.evidence("growth_per_second").unwrap();
        assert!((4_000.0..=6_000.0).contains(&growth), "{growth}");
        assert!(
            f.evidence("producer_per_second").is_none(),
            "a watched queue has no counters"
        );
        drop(watch);
        assert!(doctor
            .render_prometheus()
            .contains("tokio_doctor_queue_depth{queue=\"test.watched\"} 0"));
    });
}
