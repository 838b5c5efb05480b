//! Long-lived background tasks (a cache refresher, a metrics flusher, an
//! actor per shard, each a loop over a timer or a channel) live as long as
//! the service: many alive at once, for a long time, is their design, and
//! each suspends between rounds. Neither `excess_tasks` nor
//! `trivial_async` may fire on them.
mod support;

use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};
use tracing::{info_span, Instrument};

#[test]
fn timer_and_channel_loops_that_live_as_long_as_the_service_are_silent() {
    let doctor = Doctor::builder()
        .no_endpoint()
        .sample_interval(Duration::from_millis(100))
        .task_window(Duration::from_millis(1_000))
        .build()
        .unwrap();
    let rt = support::runtime(&doctor);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let _load = support::unrelated_load();
        let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut tasks = Vec::new();
        // Timer loops: wake every 10 ms, do a little, sleep again.
        for i in 0..16u64 {
            let mut stop = stop.subscribe();
            tasks.push(tokio_doctor::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            async { std::hint::black_box(i.wrapping_mul(31)); }
                                .instrument(info_span!("refresh_cache"))
                                .await;
                        }
                        _ = stop.recv() => break,
                    }
                }
            }));
        }
        // Actors: one per shard, each owning its state, fed by a channel.
        let mut inboxes = Vec::new();
        for _ in 0..64 {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(16);
            inboxes.push(tx);
            tasks.push(tokio_doctor::spawn(async move {
                let mut state = 0u64;
                while let Some(v) = rx.recv().await {
                    state = state.wrapping_add(v);
                }
                std::hint::black_box(state);
            }));
        }
        let feeder = tokio::spawn(async move {
            for round in 0..200u64 {
                for tx in &inboxes {
                    let _ = tx.send(round).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        support::expect_none(FindingKind::ExcessTasks)
            .during(Duration::from_millis(2_000))
            .on_async(&doctor)
            .await;
        support::expect_none(FindingKind::TrivialAsync)
            .on_async(&doctor)
            .await;
        let _ = stop.send(());
        feeder.await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    });
    support::expect_none(FindingKind::ExcessTasks).on(&doctor);
    support::expect_none(FindingKind::TrivialAsync).on(&doctor);
    support::expect_none(FindingKind::UnboundedFanout).on(&doctor);
}
