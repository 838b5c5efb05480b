//! Settings of the concurrency-shape detectors (scenarios 1, 2, 3, 4 and
//! 9): their defaults, why, and the builder methods that change them.

use std::time::Duration;

use crate::config::invalid;
use crate::{DoctorBuilder, Error};

/// Consecutive, non-overlapping, mostly idle sibling spans of one call site
/// under one parent that make a `serial_awaits` chain. The seed's loop has
/// 100; 8 is where running them concurrently saves most of their time
/// (7/8) while a handful of deliberate steps (`connect`, `auth`, `query`)
/// stays under it.
pub const DEFAULT_SERIAL_CHAIN: u32 = 8;

/// Shortest sibling span that counts towards a `serial_awaits` chain:
/// awaits shorter than a millisecond cost little even in a long chain, and
/// tend to be in-process work rather than I/O.
pub const DEFAULT_SERIAL_MIN_AWAIT: Duration = Duration::from_millis(1);

/// Concurrently open children of one call site under one parent (or live
/// tasks of one spawn site) that make an `unbounded_fanout` finding. No
/// downstream the seed names (a database pool of 20, an API with a rate
/// limit) takes a thousand requests at once; a bounded pool is 10–100.
pub const DEFAULT_FANOUT_THRESHOLD: u64 = 1_000;

/// Sliding window over which the concurrency advice measures throughput,
/// latency and mean in flight at each outbound call site. Five seconds
/// holds hundreds of calls at the seed's 200 req/s, and is short enough
/// that a ramp of load shows several levels of concurrency.
pub const DEFAULT_CONCURRENCY_WINDOW: Duration = Duration::from_secs(5);

/// Most busy time a task (or instrumented future) may take, completing in
/// its first poll, to count as trivial. Spawning, scheduling and completing
/// a task costs about a microsecond of runtime bookkeeping; under 50 µs of
/// work (half the upper end of tokio's 10–100 µs between awaits) that
/// bookkeeping is a noticeable share, and the work never needed a task.
pub const DEFAULT_TRIVIAL_BUSY: Duration = Duration::from_micros(50);

/// Trivial completions per second from one site that make a
/// `trivial_async` finding. The seed's hot loop makes millions; a request
/// handler called 100 times a second is, as the seed says, not worth it.
pub const DEFAULT_TRIVIAL_RATE: f64 = 1_000.0;

/// Live tasks of one spawn site (or of the whole runtime) that make an
/// `excess_tasks` finding: the seed's million tasks is far above it, a
/// worker pool or a server's connections are far below.
pub const DEFAULT_EXCESS_TASKS: u64 = 10_000;

/// Window over which spawn, completion and trivial rates are measured.
/// Ten seconds at the default sample interval gives ten points.
pub const DEFAULT_TASK_WINDOW: Duration = Duration::from_secs(10);

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

/// The concurrency-shape settings.
impl DoctorBuilder {
    /// Sibling spans of one call site that must run one after another,
    /// never overlapping and mostly idle, under one parent to be a
    /// `serial_awaits` chain. Default
    /// [`DEFAULT_SERIAL_CHAIN`](crate::DEFAULT_SERIAL_CHAIN) (8).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder().serial_chain_threshold(16).build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn serial_chain_threshold(mut self, siblings: u32) -> Self {
        self.config.shape.serial_chain = siblings;
        self
    }

    /// Shortest sibling span that counts towards a serial chain. Default
    /// [`DEFAULT_SERIAL_MIN_AWAIT`](crate::DEFAULT_SERIAL_MIN_AWAIT) (1 ms).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .serial_min_await(Duration::from_millis(5))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn serial_min_await(mut self, shortest: Duration) -> Self {
        self.config.shape.serial_min_await = shortest;
        self
    }

    /// Concurrently open children of one call site under one parent, or
    /// live tasks of one spawn site, that make an `unbounded_fanout`
    /// finding. Default [`DEFAULT_FANOUT_THRESHOLD`](crate::DEFAULT_FANOUT_THRESHOLD)
    /// (1,000).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder().fanout_threshold(500).build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn fanout_threshold(mut self, children: u64) -> Self {
        self.config.shape.fanout_threshold = children;
        self
    }

    /// Sliding window of the concurrency advice (throughput, latency and
    /// mean in flight per outbound call site). Default
    /// [`DEFAULT_CONCURRENCY_WINDOW`](crate::DEFAULT_CONCURRENCY_WINDOW)
    /// (5 s); at least three sample intervals.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .concurrency_window(Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn concurrency_window(mut self, window: Duration) -> Self {
        self.config.shape.concurrency_window = window;
        self
    }

    /// Most busy time of a task or instrumented future that completes in
    /// its first poll for it to count as trivial. Default
    /// [`DEFAULT_TRIVIAL_BUSY`](crate::DEFAULT_TRIVIAL_BUSY) (50 µs).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .trivial_busy_threshold(Duration::from_micros(10))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn trivial_busy_threshold(mut self, busy: Duration) -> Self {
        self.config.shape.trivial_busy = busy;
        self
    }

    /// Trivial completions per second from one site that make a
    /// `trivial_async` finding. Default
    /// [`DEFAULT_TRIVIAL_RATE`](crate::DEFAULT_TRIVIAL_RATE) (1,000/s).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder().trivial_rate_threshold(10_000.0).build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn trivial_rate_threshold(mut self, per_second: f64) -> Self {
        self.config.shape.trivial_rate = per_second;
        self
    }

    /// Live tasks of one spawn site (or the runtime) that make an
    /// `excess_tasks` finding. Default
    /// [`DEFAULT_EXCESS_TASKS`](crate::DEFAULT_EXCESS_TASKS) (10,000).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder().excess_tasks_threshold(50_000).build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn excess_tasks_threshold(mut self, tasks: u64) -> Self {
        self.config.shape.excess_tasks = tasks;
        self
    }

    /// Window over which spawn, completion and trivial-completion rates are
    /// measured. Default [`DEFAULT_TASK_WINDOW`](crate::DEFAULT_TASK_WINDOW)
    /// (10 s); at least three sample intervals.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .task_window(Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn task_window(mut self, window: Duration) -> Self {
        self.config.shape.task_window = window;
        self
    }
}
