//! The event-loop lag probe (its history is in `state::lag_history`).
//!
//! Like Node's `monitorEventLoopDelay`: a task asks to be woken at a
//! deadline and measures how late it actually runs. The delay is what any
//! task waiting to be scheduled pays, so it is the headline number for
//! alerts. tokio's timer has millisecond resolution, so a healthy runtime
//! reads 0–2 ms.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::state::Shared;

pub(crate) async fn run(shared: Arc<Shared>) {
    let interval = shared.config.lag_probe_interval;
    loop {
        let deadline = tokio::time::Instant::now() + interval;
        tokio::time::sleep_until(deadline).await;
        let lag = tokio::time::Instant::now().saturating_duration_since(deadline);
        let ns = lag.as_nanos().min(u64::MAX as u128) as u64;
        shared.lag.record(ns);
        shared.lag_max_ns.fetch_max(ns, Relaxed);
    }
}
