//! [`DoctorBuilder`]: every setting of the doctor, grouped by area. Each
//! setter has its environment variable in [`ENV_VARS`](crate::ENV_VARS),
//! and [`DoctorBuilder::with_env`] lays the environment over what code set.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::state::Shared;
use crate::{Doctor, Error};

/// Configures a [`Doctor`]. Setters take `self`; [`build`](Self::build)
/// validates everything at once and says what to change.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let doctor = tokio_doctor::Doctor::builder()
///     .listen("127.0.0.1:0".parse().unwrap())
///     .blocking_poll_threshold(Duration::from_millis(20))
///     .build()?;
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DoctorBuilder {
    pub(crate) config: Config,
}

/// The endpoint, thresholds, intervals and the detectors of blocking polls,
/// queues, connections and memory.
impl DoctorBuilder {
    /// Address of the `/metrics` and `/doctor` endpoint. Default
    /// `127.0.0.1:9464` (loopback only); listening on other interfaces must
    /// be asked for explicitly, here.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = Some(addr);
        self
    }

    /// Serve no endpoint: read the doctor in-process with
    /// [`Doctor::render_prometheus`] and [`Doctor::findings`], or push into
    /// the service's recorder with [`use_global_recorder`](Self::use_global_recorder).
    pub fn no_endpoint(mut self) -> Self {
        self.config.listen = None;
        self
    }

    /// Answer only clients whose address is in `list`: comma-separated
    /// addresses or CIDR ranges, IPv4 or IPv6 (`"10.0.0.0/8, ::1"`); every
    /// other client gets `403 Forbidden`. Default: every client that can
    /// reach the address (loopback only unless [`listen`](Self::listen)
    /// says otherwise). Environment: `TOKIO_DOCTOR_ALLOW`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `allow_clients` and the accepted form
    /// when an entry is malformed or the list is empty.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .listen("0.0.0.0:9464".parse().unwrap())
    ///     .allow_clients("127.0.0.1, 10.0.0.0/8")?
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn allow_clients(mut self, list: &str) -> Result<Self, Error> {
        let parsed = crate::config::allow::AllowList::parse(list).ok_or_else(|| {
            crate::config::invalid(
                "allow_clients",
                &format!(
                    "got {list:?}, expected {}",
                    crate::config::allow::FORM.trim_end_matches(", or `any`")
                ),
            )
        })?;
        self.config.allow = Some(parsed);
        Ok(self)
    }

    /// How old a snapshot the endpoint may answer a scrape from. Scrapes
    /// within this age of the one that took it share it: the detectors run
    /// once per age however many clients scrape, so a crowd of scrapers
    /// costs the service one snapshot a second. Zero takes a snapshot per
    /// scrape (still one at a time, on the endpoint's own thread). Default
    /// [`DEFAULT_SNAPSHOT_MAX_AGE`](crate::DEFAULT_SNAPSHOT_MAX_AGE) (1 s).
    /// In-process reads ([`Doctor::render_prometheus`], [`Doctor::report`])
    /// always take a fresh one. Environment: `TOKIO_DOCTOR_SNAPSHOT_MAX_AGE`.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .snapshot_max_age(std::time::Duration::from_millis(250))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn snapshot_max_age(mut self, age: Duration) -> Self {
        self.config.snapshot_max_age = age;
        self
    }

    /// When `false`, a busy port makes [`Doctor::start`] print a warning
    /// and run without the endpoint instead of returning an error. Default
    /// `true`.
    pub fn require_endpoint(mut self, required: bool) -> Self {
        self.config.require_endpoint = required;
        self
    }

    /// A poll longer than this is a blocking poll. Default
    /// [`DEFAULT_BLOCKING_POLL_THRESHOLD`](crate::DEFAULT_BLOCKING_POLL_THRESHOLD) (10 ms).
    pub fn blocking_poll_threshold(mut self, threshold: Duration) -> Self {
        self.config.blocking_poll_threshold = threshold;
        self
    }

    /// Most label sets (call sites) any metric carries; the rest are folded
    /// into `other`. Default [`DEFAULT_LABEL_CAP`](crate::DEFAULT_LABEL_CAP).
    pub fn label_cap(mut self, cap: usize) -> Self {
        self.config.label_cap = cap;
        self
    }

    /// Interval of the event-loop lag probe. Default 10 ms.
    pub fn lag_probe_interval(mut self, interval: Duration) -> Self {
        self.config.lag_probe_interval = interval;
        self
    }

    /// Interval of the sampler (runtime metrics, recorder push). Default 1 s.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.config.sample_interval = interval;
        self
    }

    /// Interval at which the watchdog looks for stalled polls. Default 5 ms.
    pub fn watchdog_interval(mut self, interval: Duration) -> Self {
        self.config.watchdog_interval = interval;
        self
    }

    /// Also record every doctor metric into the global `metrics` recorder
    /// the service installed (for example `metrics-exporter-prometheus`), once
    /// per sample interval, so one scrape carries both. Combine with
    /// [`no_endpoint`](Self::no_endpoint). Histograms arrive as their
    /// `_bucket{le}`/`_count` counters and a `_sum` gauge.
    pub fn use_global_recorder(mut self, yes: bool) -> Self {
        self.config.use_global_recorder = yes;
        self
    }

    /// Ignore tokio's resource and waker instrumentation (present with
    /// `--cfg tokio_unstable` and tokio's `tracing` feature) by answering
    /// `Interest::never` for it. Default `true`: those callsites fire on
    /// every timer and waker operation. Turn off if another layer (such as
    /// console-subscriber) needs them.
    pub fn ignore_tokio_resource_spans(mut self, ignore: bool) -> Self {
        self.config.ignore_tokio_resource_spans = ignore;
        self
    }

    /// Window over which an unbounded queue's depth must keep rising to be
    /// a `queue_growth` finding. Default
    /// [`DEFAULT_QUEUE_WINDOW`](crate::DEFAULT_QUEUE_WINDOW) (10 s); at least
    /// three sample intervals.
    pub fn queue_window(mut self, window: Duration) -> Self {
        self.config.queue_window = window;
        self
    }

    /// Depth under which a growing queue is not reported. Default
    /// [`DEFAULT_QUEUE_DEPTH_FLOOR`](crate::DEFAULT_QUEUE_DEPTH_FLOOR).
    pub fn queue_depth_floor(mut self, floor: u64) -> Self {
        self.config.queue_depth_floor = floor;
        self
    }

    /// The depth at which a queue is in trouble (memory, latency); a growing
    /// queue's finding then says how long until it gets there. Default none.
    pub fn queue_limit(mut self, limit: u64) -> Self {
        self.config.queue_limit = Some(limit);
        self
    }

    /// Window over which new connections are compared with requests for
    /// `connection_churn`. Default
    /// [`DEFAULT_CHURN_WINDOW`](crate::DEFAULT_CHURN_WINDOW) (30 s).
    pub fn churn_window(mut self, window: Duration) -> Self {
        self.config.churn_window = window;
        self
    }

    /// Peak live heap bytes of one span instance at or above which it is a
    /// `materialization` finding (needs the `alloc` feature and
    /// its `TrackingAllocator`). Default
    /// [`DEFAULT_MATERIALIZATION_BYTES`](crate::DEFAULT_MATERIALIZATION_BYTES) (64 MiB).
    pub fn materialization_threshold(mut self, bytes: u64) -> Self {
        self.config.materialization_bytes = bytes;
        self
    }

    /// The most verbose level of span the doctor enables. Default
    /// [`DEFAULT_SPAN_LEVEL`](crate::DEFAULT_SPAN_LEVEL) (INFO):
    /// `info_span!`, `#[instrument]` (INFO unless told otherwise) and
    /// above. The doctor never enables events, nor a DEBUG or TRACE span
    /// at this default, so a library's per-request DEBUG span (tower-http's
    /// `TraceLayer`) costs nothing unless another layer wants it; what the
    /// doctor declines is declined for the doctor only (a per-layer filter),
    /// so an `fmt` layer at DEBUG still gets every DEBUG span and event.
    /// Whatever the level, the doctor enables its own spans
    /// ([`held`](crate::held()) scopes), tokio's task spans (`runtime.spawn`,
    /// TRACE, with `--cfg tokio_unstable`), spans with a `doctor.resource` or
    /// `doctor.sequential` field and spans named by
    /// [`outbound_span`](Self::outbound_span) or
    /// [`resource_span`](Self::resource_span). Widen it to time and name
    /// DEBUG or TRACE spans as blocking-poll sites and shape children.
    /// Environment: `TOKIO_DOCTOR_SPAN_LEVEL`.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .span_level(tracing::Level::DEBUG)
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn span_level(mut self, level: tracing::Level) -> Self {
        self.config.span_level = level;
        self
    }

    /// A builder with the `TOKIO_DOCTOR_*` variables applied over the
    /// defaults: [`with_env`](Self::with_env) on a new builder.
    ///
    /// # Errors
    /// As [`with_env`](Self::with_env).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::DoctorBuilder::from_env()?.build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        DoctorBuilder::default().with_env()
    }

    /// Lays the `TOKIO_DOCTOR_*` variables (see [`ENV_VARS`](crate::ENV_VARS))
    /// over what this builder was told in code: code sets the service's
    /// defaults, the environment of one deployment overrides them. Unset
    /// variables leave the setting as it is.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the variable and the form it accepts,
    /// when a value does not parse or is out of range.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .blocking_poll_threshold(Duration::from_millis(20)) // unless the environment says otherwise
    ///     .with_env()?
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn with_env(mut self) -> Result<Self, Error> {
        crate::config::apply_env(&mut self.config, |var| std::env::var(var).ok())?;
        Ok(self)
    }

    /// Validates the settings and builds the doctor.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting, when a duration is zero
    /// or the label cap is out of range.
    pub fn build(self) -> Result<Doctor, Error> {
        self.config.validate()?;
        Ok(Doctor {
            shared: Shared::for_doctor(self.config),
            detectors: Default::default(),
        })
    }
}

/// The held-resource and deadline settings.
impl DoctorBuilder {
    /// Treats every span named `name` as a held resource scope, from its
    /// creation to its close (for example `"db.transaction"` from a database
    /// library), so code that already emits such spans needs no change. A
    /// span with a `doctor.resource` field is one too, whatever its name.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .resource_span("db.transaction")
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn resource_span(mut self, name: impl Into<String>) -> Self {
        self.config.resource_span_names.push(name.into());
        self
    }

    /// Treats every span named `name` as an outbound call, beside the spans
    /// OpenTelemetry's fields mark as clients (`otel.kind = "client"`,
    /// `http.request.method`, `url.full`, `server.address`, `db.system`,
    /// `rpc.system`, `peer.service`).
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .outbound_span("fetch_profile")
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn outbound_span(mut self, name: impl Into<String>) -> Self {
        self.config.outbound_span_names.push(name.into());
        self
    }

    /// Idle time across an await at or above which a hold is reported
    /// (`held_across_await`), and duration at or above which a span inside a
    /// hold is slow work (`slow_work_while_held`). Default
    /// [`DEFAULT_HELD_IDLE_THRESHOLD`](crate::DEFAULT_HELD_IDLE_THRESHOLD)
    /// (50 ms).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .held_idle_threshold(Duration::from_millis(20))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn held_idle_threshold(mut self, threshold: Duration) -> Self {
        self.config.held_idle_threshold = threshold;
        self
    }

    /// How long an outbound call may stay open before it counts as hung
    /// (`tokio_doctor_hung_calls`, and a critical `missing_deadline` while
    /// it hangs). Default [`DEFAULT_HANG_LIMIT`](crate::DEFAULT_HANG_LIMIT)
    /// (10 s).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .hang_limit(Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn hang_limit(mut self, limit: Duration) -> Self {
        self.config.hang_limit = limit;
        self
    }

    /// How far past its deadline a span may close before it is a
    /// `deadline_overrun`. Default
    /// [`DEFAULT_DEADLINE_GRACE`](crate::DEFAULT_DEADLINE_GRACE) (50 ms).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .deadline_grace(Duration::from_millis(20))
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn deadline_grace(mut self, grace: Duration) -> Self {
        self.config.deadline_grace = grace;
        self
    }

    /// Whether every span gets a node: the per-span state (a few hundred
    /// nanoseconds per span created and closed, never per poll) that the
    /// concurrency-shape, held-resource and deadline detectors read. Default
    /// `true`. Turn it off for a service that creates spans by the million
    /// per second and can do without `serial_awaits`, `unbounded_fanout`,
    /// the concurrency advice, `trivial_async` of instrumented futures,
    /// `slow_work_while_held` inside resource spans and the deadline
    /// findings; tokio's task spans and `held()` scopes keep theirs.
    ///
    /// # Examples
    /// ```
    /// let doctor = tokio_doctor::Doctor::builder()
    ///     .no_endpoint()
    ///     .span_nodes(false)
    ///     .build()?;
    /// # Ok::<(), tokio_doctor::Error>(())
    /// ```
    pub fn span_nodes(mut self, on: bool) -> Self {
        self.config.span_nodes = on;
        self
    }

    /// Whether the watchdog captures the stack of a worker whose poll runs
    /// past the threshold, to name the exact frame it is stuck in (the
    /// `blocking_poll` finding's culprit and
    /// `tokio_doctor_blocking_frames_total`). On by default on Linux
    /// (x86_64, aarch64); a no-op elsewhere. The worker is interrupted with
    /// a real-time signal whose handler only copies its registers and up to
    /// 64 KiB of stack (`SA_RESTART`; an existing handler of that signal is
    /// chained); nothing of it runs while no poll is stalled. Each runtime
    /// worker the doctor sees keeps a 64 KiB buffer for the copy (other
    /// threads none). Where no span marks a poll, the workers are sampled
    /// while the event-loop lag probe is late past the threshold, and one
    /// stuck in a single poll is reported under the span `(no span)`. Turn
    /// it off where no signal may ever be sent to the service's threads.
    pub fn stack_capture(mut self, on: bool) -> Self {
        self.config.stack_capture = on;
        self
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
