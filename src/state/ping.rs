//! The runtime's answer to a wake from outside: how long a task woken by
//! the watchdog has waited to be polled.
//!
//! The lag probe learns that the runtime is stuck only at its own timer's
//! deadline (every 10 ms by default), and only once it is late by the
//! threshold. A stall of twice the threshold on every worker is then over
//! before enough stack samples span it. So while every worker is busy (none
//! parked), the watchdog wakes a task of the doctor's at each of its ticks
//! and reads how long the wake has gone unanswered: a runtime whose workers
//! are all stuck answers never, a busy healthy one within a global-queue
//! check (about 200 µs by tokio's tuning). An idle runtime is never woken.

use std::sync::atomic::{AtomicU64, Ordering::*};

/// A wake the watchdog sent and the runtime has not answered yet.
#[derive(Debug, Default)]
pub(crate) struct Ping {
    /// Clock ticks at which the wake was sent; 0 when none is outstanding.
    sent_at: AtomicU64,
    wake: tokio::sync::Notify,
}

impl Ping {
    /// Watchdog side: sends a wake unless one is outstanding.
    pub(crate) fn send(&self, now: u64) {
        if self
            .sent_at
            .compare_exchange(0, now.max(1), AcqRel, Relaxed)
            .is_ok()
        {
            self.wake.notify_one();
        }
    }

    /// How long the outstanding wake has waited, 0 when none is.
    pub(crate) fn outstanding_ns(&self, clock: &quanta::Clock, now: u64) -> u64 {
        match self.sent_at.load(Acquire) {
            0 => 0,
            sent => clock.delta_as_nanos(sent, now),
        }
    }

    /// Runtime side: waits for the next wake and answers it.
    pub(crate) async fn answer(&self) {
        self.wake.notified().await;
        self.sent_at.store(0, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_is_outstanding_until_answered_and_one_at_a_time() {
        let clock = quanta::Clock::new();
        let ping = Ping::default();
        let t0 = clock.raw();
        assert_eq!(ping.outstanding_ns(&clock, t0), 0);
        ping.send(t0);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let waited = ping.outstanding_ns(&clock, clock.raw());
        assert!(waited >= 2_000_000, "{waited}");
        // A second send while one is outstanding keeps the first time.
        ping.send(clock.raw());
        assert!(ping.outstanding_ns(&clock, clock.raw()) >= waited);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(ping.answer());
        assert_eq!(ping.outstanding_ns(&clock, clock.raw()), 0);
    }
}
