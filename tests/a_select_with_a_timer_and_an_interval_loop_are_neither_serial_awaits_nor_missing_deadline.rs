//! A `select!` racing a call against a timer bounds the call as surely as
//! a deadline, and a `tokio::time::interval` loop runs its rounds one after
//! another by design. Neither is `serial_awaits`; a call raced against a
//! timer is not `missing_deadline` once its span names the bound
//! (`timeout_ms`): the doctor cannot see the other branch of a `select!`.
mod support;

use std::time::Duration;

use tokio_doctor::FindingKind;
use tracing::{info_span, Instrument};

/// An outbound call (a client span) that takes 3 ms.
async fn call_downstream() -> u32 {
    tokio::time::sleep(Duration::from_millis(3)).await;
    7
}

#[test]
fn an_interval_loop_of_outbound_calls_is_not_serial_awaits() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        async {
            // A health probe every 10 ms: one call per tick, rounds apart.
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for _ in 0..40 {
                tick.tick().await;
                let span = info_span!("probe", otel.kind = "client", timeout_ms = 50u64);
                std::hint::black_box(call_downstream().instrument(span).await);
            }
        }
        .instrument(info_span!("health_loop"))
        .await;
    });
    support::expect_none(FindingKind::SerialAwaits).on(&doctor);
    support::expect_none(FindingKind::MissingDeadline).on(&doctor);
}

/// The same loop where each call fills most of the period, as a slow host
/// makes a 3 ms call take 7: the gaps between calls are shorter than the
/// calls, but the loop still waits on its timer between them.
#[test]
fn an_interval_loop_whose_calls_fill_most_of_the_period_is_not_serial_awaits() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let health = tokio::spawn(
            async {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                for _ in 0..40 {
                    tick.tick().await;
                    let span = info_span!("probe", otel.kind = "client", timeout_ms = 50u64);
                    tokio::time::sleep(Duration::from_millis(6))
                        .instrument(span)
                        .await;
                }
            }
            .instrument(info_span!("health_loop")),
        );
        health.await.unwrap();
    });
    support::expect_none(FindingKind::SerialAwaits).on(&doctor);
}

#[test]
fn a_select_racing_each_call_against_a_timer_is_silent() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
        let producer = tokio::spawn(async move {
            for i in 0..40 {
                tx.send(i).await.unwrap();
                tokio::time::sleep(Duration::from_millis(8)).await;
            }
        });
        async {
            // The idiomatic consumer: wait for work or a flush timer,
            // whichever comes first, forever.
            let mut flush = tokio::time::interval(Duration::from_millis(20));
            let mut got = 0;
            while got < 40 {
                tokio::select! {
                    Some(_) = rx.recv() => {
                        got += 1;
                        // The call raced against its own timer; the span
                        // names the bound, since the doctor cannot see
                        // the other branch of a select.
                        let span = info_span!("store", otel.kind = "client", timeout_ms = 50u64);
                        tokio::select! {
                            r = call_downstream().instrument(span) => { std::hint::black_box(r); }
                            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                        }
                    }
                    _ = flush.tick() => {
                        async {}.instrument(info_span!("flush")).await;
                    }
                }
            }
        }
        .instrument(info_span!("consumer"))
        .await;
        producer.await.unwrap();
    });
    support::expect_none(FindingKind::SerialAwaits).on(&doctor);
    support::expect_none(FindingKind::MissingDeadline).on(&doctor);
}
