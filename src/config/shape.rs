//! Settings of the concurrency-shape detectors (serial awaits, fan-out,
//! concurrency advice, trivial async and excess tasks).

use std::time::Duration;

use super::defaults::*;
use crate::config::invalid;
use crate::Error;

/// The shape detectors' settings, part of the doctor's configuration.
#[derive(Debug, Clone)]
pub(crate) struct ShapeConfig {
    pub(crate) serial_chain: u32,
    pub(crate) serial_min_await: Duration,
    pub(crate) fanout_threshold: u64,
    pub(crate) concurrency_window: Duration,
    pub(crate) trivial_busy: Duration,
    pub(crate) trivial_rate: f64,
    pub(crate) excess_tasks: u64,
    pub(crate) task_window: Duration,
}

impl Default for ShapeConfig {
    fn default() -> Self {
        ShapeConfig {
            serial_chain: DEFAULT_SERIAL_CHAIN,
            serial_min_await: DEFAULT_SERIAL_MIN_AWAIT,
            fanout_threshold: DEFAULT_FANOUT_THRESHOLD,
            concurrency_window: DEFAULT_CONCURRENCY_WINDOW,
            trivial_busy: DEFAULT_TRIVIAL_BUSY,
            trivial_rate: DEFAULT_TRIVIAL_RATE,
            excess_tasks: DEFAULT_EXCESS_TASKS,
            task_window: DEFAULT_TASK_WINDOW,
        }
    }
}

impl ShapeConfig {
    pub(crate) fn validate(&self, sample_interval: Duration) -> Result<(), Error> {
        if self.serial_chain < 2 {
            return Err(invalid("serial_chain_threshold", "must be at least 2"));
        }
        if self.fanout_threshold < 2 {
            return Err(invalid("fanout_threshold", "must be at least 2"));
        }
        if self.excess_tasks == 0 {
            return Err(invalid(
                "excess_tasks_threshold",
                "must be greater than zero",
            ));
        }
        if !(self.trivial_rate.is_finite() && self.trivial_rate > 0.0) {
            return Err(invalid(
                "trivial_rate_threshold",
                "must be a positive number of completions per second",
            ));
        }
        for (setting, window) in [
            ("concurrency_window", self.concurrency_window),
            ("task_window", self.task_window),
        ] {
            if window < sample_interval * 3 {
                return Err(invalid(
                    setting,
                    "must be at least three sample intervals (the default sample interval is 1s)",
                ));
            }
        }
        Ok(())
    }
}
