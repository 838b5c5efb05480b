//! Dropping a runtime whose tasks still hold open (and, on blocking
//! threads, entered) spans: nothing panics, every per-span state is freed,
//! and the doctor stays readable.
mod support;

use std::time::Duration;

use tracing::Instrument;

fn live_spans(doctor: &tokio_doctor::Doctor) -> String {
    let text = doctor.render_prometheus();
    text.lines()
        .find(|l| l.starts_with("tokio_doctor_live_spans "))
        .unwrap()
        .to_string()
}

#[test]
fn shutting_down_with_spans_open_leaks_nothing() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    let running = rt.block_on(async {
        let running = doctor.start().unwrap();
        for i in 0..200 {
            // Tasks parked forever inside their spans (and, with
            // tokio_unstable, inside tokio's task spans, which carry state).
            tokio::spawn(std::future::pending::<()>().instrument(tracing::info_span!("parked", i)));
        }
        // A blocking thread inside an entered span when the runtime goes.
        tokio::task::spawn_blocking(|| {
            tracing::info_span!("blocking_inside").in_scope(|| {
                std::thread::sleep(Duration::from_millis(300));
            })
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        running
    });
    // The runtime goes first, with the doctor still running on it.
    rt.rt.shutdown_timeout(Duration::from_millis(20));
    drop(running);
    // The blocking thread finishes on its own and leaves its span.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(live_spans(&doctor), "tokio_doctor_live_spans 0");
    // Still readable, and nothing was blamed on the parked tasks.
    assert!(doctor.report().findings.is_empty());
}
