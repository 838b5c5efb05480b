//! Every default, with the reason for its value. Each is also re-exported
//! at the crate root (`tokio_doctor::DEFAULT_LISTEN` and so on).
//!
//! # Examples
//! ```
//! assert_eq!(
//!     tokio_doctor::defaults::DEFAULT_BLOCKING_POLL_THRESHOLD,
//!     std::time::Duration::from_millis(10),
//! );
//! ```

use std::time::Duration;

/// Default address of the `/metrics` and `/doctor` endpoint: loopback only, so
/// nothing is exposed beyond the host unless the user asks for it. 9464 is the
/// port OpenTelemetry's Prometheus exporter uses, which scrapers often allow.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Default age up to which the endpoint answers a scrape from the snapshot
/// it took for an earlier one. Prometheus scrapes every 15 s or more, so one
/// second never shows it stale data, while a crowd of scrapers (a dashboard
/// refreshed by many people, a misconfigured scraper, a hostile client)
/// costs one snapshot a second, not one each.
pub const DEFAULT_SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);

/// Default most verbose span level the doctor enables: INFO, the level of
/// `#[instrument]` and `info_span!`, which services use for the spans they
/// mean to be seen. DEBUG and TRACE spans (tower-http's per-request span,
/// libraries' internals) stay off unless another layer wants them or
/// `span_level` widens this; the doctor's own helper spans and tokio's task
/// spans (TRACE) are enabled whatever the level.
pub const DEFAULT_SPAN_LEVEL: tracing::Level = tracing::Level::INFO;

/// Default threshold above which a poll counts as blocking the executor.
///
/// tokio's guidance is 10–100 µs between `.await`s; 10 ms is two orders of
/// magnitude above that, so a poll this long is certainly a bug and not
/// noise from a busy machine, and it is the shortest delay an operator
/// notices in a request's latency.
pub const DEFAULT_BLOCKING_POLL_THRESHOLD: Duration = Duration::from_millis(10);

/// Default cap on the label sets of any one metric (distinct call sites).
/// Past the cap, new call sites are folded into `span="other"`. 1,000 keeps
/// a scrape under about a megabyte while covering any service we know of.
pub const DEFAULT_LABEL_CAP: usize = 1_000;

/// Default interval between two event-loop lag probes. 10 ms gives 100
/// samples a second: enough for a p99 per scrape, cheap enough to ignore.
pub const DEFAULT_LAG_PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// Default interval of the sampler that reads runtime metrics. Alerts look
/// at minutes of data; one sample a second keeps them responsive (tokio-metrics'
/// own default is 30 s, too slow for a "stalled now" alert).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Default interval at which the watchdog thread looks for polls that are
/// still running: half the default threshold. A marked poll that will pass
/// the threshold before the next look gets an extra look at the moment it
/// does, so its stall is seen (and its stack captured) at the threshold.
pub const DEFAULT_WATCHDOG_INTERVAL: Duration = Duration::from_millis(5);

/// Default window over which a queue's depth must keep rising to count as
/// growth. Ten seconds at one sample a second gives ten points: enough for a
/// least-squares slope, short enough to warn long before memory runs out.
pub const DEFAULT_QUEUE_WINDOW: Duration = Duration::from_secs(10);

/// Default depth below which a growing queue is not reported: a queue of a
/// few hundred items is a burst, not a leak.
pub const DEFAULT_QUEUE_DEPTH_FLOOR: u64 = 100;

/// Default window over which new connections are compared with requests.
/// Thirty seconds holds twenty requests even at under one a second, enough
/// to tell a client per call from a shared one.
pub const DEFAULT_CHURN_WINDOW: Duration = Duration::from_secs(30);

/// Default peak of live heap bytes in one span instance that counts as
/// materializing a result (with the `alloc` feature). An export that
/// collects a whole table holds gigabytes; 64 MiB is well above what any request should hold at
/// once and far below what takes a service down.
pub const DEFAULT_MATERIALIZATION_BYTES: u64 = 64 << 20;

/// A hold (see [`held`](crate::held())) idle this long across an await is a
/// `held_across_await` finding, and a span inside a hold that takes this
/// long is `slow_work_while_held`. 50 ms is fifty LAN database round trips:
/// no transaction's own statements should leave it idle that long, while
/// an external call made inside the transaction (hundreds of ms) is far over.
pub const DEFAULT_HELD_IDLE_THRESHOLD: Duration = Duration::from_millis(50);

/// An outbound call open this long is *hung*. A backend that stops
/// answering holds a call until the OS gives up (minutes); 10 s is past any interactive timeout, so a call still open
/// then has no working deadline.
pub const DEFAULT_HANG_LIMIT: Duration = Duration::from_secs(10);

/// How far past its deadline a span may close before it is an overrun.
/// tokio's timer fires on millisecond ticks and the cancelled future is
/// dropped at its next poll; 50 ms covers that on a loaded runtime.
pub const DEFAULT_DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// Consecutive, non-overlapping, mostly idle sibling spans of one call site
/// under one parent that make a `serial_awaits` chain. A loop over a list
/// of ids makes dozens to hundreds; 8 is where running them concurrently saves most of their time
/// (7/8) while a handful of deliberate steps (`connect`, `auth`, `query`)
/// stays under it.
pub const DEFAULT_SERIAL_CHAIN: u32 = 8;

/// Shortest sibling span that counts towards a `serial_awaits` chain:
/// awaits shorter than a millisecond cost little even in a long chain, and
/// tend to be in-process work rather than I/O.
pub const DEFAULT_SERIAL_MIN_AWAIT: Duration = Duration::from_millis(1);

/// Concurrently open children of one call site under one parent (or live
/// tasks of one spawn site) that make an `unbounded_fanout` finding. No
/// usual downstream (a database pool of 20, an API with a rate limit) takes a thousand requests at once; a bounded pool is 10–100.
pub const DEFAULT_FANOUT_THRESHOLD: u64 = 1_000;

/// Sliding window over which the concurrency advice measures throughput,
/// latency and mean in flight at each outbound call site. Five seconds
/// holds a thousand calls at 200 req/s, and is short enough
/// that a ramp of load shows several levels of concurrency.
pub const DEFAULT_CONCURRENCY_WINDOW: Duration = Duration::from_secs(5);

/// Most busy time a task (or instrumented future) may take, completing in
/// its first poll, to count as trivial. Spawning, scheduling and completing
/// a task costs about a microsecond of runtime bookkeeping; under 50 µs of
/// work (half the upper end of tokio's 10–100 µs between awaits) that
/// bookkeeping is a noticeable share, and the work never needed a task.
pub const DEFAULT_TRIVIAL_BUSY: Duration = Duration::from_micros(50);

/// Trivial completions per second from one site that make a
/// `trivial_async` finding. A hot loop that spawns per item makes millions;
/// a handler called 100 times a second costs too little to be worth a finding.
pub const DEFAULT_TRIVIAL_RATE: f64 = 1_000.0;

/// Live tasks of one spawn site (or of the whole runtime) that make an
/// `excess_tasks` finding: a task per item of a million-row job is far
/// above it, a worker pool is far below.
pub const DEFAULT_EXCESS_TASKS: u64 = 10_000;

/// Window over which spawn, completion and trivial rates are measured.
/// Ten seconds at the default sample interval gives ten points.
pub const DEFAULT_TASK_WINDOW: Duration = Duration::from_secs(10);
