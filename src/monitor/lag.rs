//! The event-loop lag probe (its history is in `state::lag_history`).
//!
//! Like Node's `monitorEventLoopDelay`: a task asks to be woken at a
//! deadline and measures how late it actually runs. The delay is what any
//! task waiting to be scheduled pays, so it is the headline number for
//! alerts. tokio's timer has millisecond resolution, so a healthy runtime
//! reads 0–2 ms.

use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::Arc;

use crate::state::Shared;

pub(crate) async fn run(shared: Arc<Shared>) {
    let interval = shared.config.lag_probe_interval;
    loop {
        // Every worker the probe runs on gets this doctor's thread state,
        // so the watchdog can capture its stack even in a service with no
        // span at all (see `monitor::stack::unmarked`).
        crate::layer::thread_state::register_this_thread(&shared);
        let deadline = tokio::time::Instant::now() + interval;
        shared
            .lag_waiting_since
            .store(shared.clock.raw().max(1), Release);
        tokio::time::sleep_until(deadline).await;
        shared.lag_waiting_since.store(0, Release);
        let lag = tokio::time::Instant::now().saturating_duration_since(deadline);
        let ns = lag.as_nanos().min(u64::MAX as u128) as u64;
        shared.lag.record(ns);
        shared.lag_max_ns.fetch_max(ns, Relaxed);
    }
}
