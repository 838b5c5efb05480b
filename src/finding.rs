//! Findings: what a detector concluded, as data.
//!
//! The same [`Finding`] feeds the `tokio_doctor_findings_total` counter, the
//! `/doctor` report and the CLI, so they never disagree.

use serde::Serialize;

/// The anti-pattern a finding reports.
///
/// Each variant below is the reference for one kind of finding: the
/// **Signal** (what is measured, the default threshold and the
/// [`DoctorBuilder`](crate::DoctorBuilder) setter that changes it), the
/// **Cost** (what the finding reports: its evidence figures and what
/// [`Finding::cost_seconds`] ranks it by), what it is **Silent on** (the
/// healthy shapes that look alike and are not reported), and the **Fix**,
/// with an example program that shows the problem and, with `-- --fixed`,
/// its fix.
///
/// The string forms ([`FindingKind::as_str`]) are the `kind` label of
/// `tokio_doctor_findings_total` and are kept stable for users' dashboards
/// and alerts.
///
/// # Examples
/// ```
/// use tokio_doctor::FindingKind;
/// assert_eq!(FindingKind::BlockingPoll.as_str(), "blocking_poll");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingKind {
    /// `serial_awaits`: independent awaits run one after another in a loop.
    ///
    /// # Signal
    /// Under one parent span, 8 or more
    /// ([`serial_chain_threshold`](crate::DoctorBuilder::serial_chain_threshold))
    /// consecutive sibling spans of one call site that never overlap in
    /// time, are mostly idle (busy under half their duration, each at least
    /// 1 ms long: [`serial_min_await`](crate::DoctorBuilder::serial_min_await))
    /// and follow one another with no longer gap than their own duration,
    /// the parent awaiting nothing else in between (a consumer waiting on a
    /// queue or an interval's tick between items is not a chain). The
    /// siblings must be outbound calls (`otel.kind = "client"`, one of the
    /// outbound fields, or a name given to
    /// [`outbound_span`](crate::DoctorBuilder::outbound_span)):
    /// calls the code sends could run concurrently; reads of a peer's
    /// frames cannot. Independence cannot be proven at runtime: the finding
    /// is a candidate with its evidence.
    ///
    /// # Cost
    /// The chain length and the **avoidable seconds**: the sum of the
    /// chain's durations minus the longest, what running the calls
    /// concurrently would have saved (`avoidable_seconds`, also
    /// `tokio_doctor_serial_avoidable_seconds_total`), reported per child
    /// call site with its parent.
    ///
    /// # Silent on
    /// `join_all`, `JoinSet` and `buffer_unordered` (the siblings overlap);
    /// a parent marked `doctor.sequential = "intended"` (children that
    /// really depend on each other); a connection loop reading frames one
    /// after another (its reads wait on the peer); the loop of one worker in a pool (its
    /// parent ran beside siblings of its own call site, or is a task whose
    /// spawn site had several alive at once).
    ///
    /// # Fix
    /// Run the independent calls concurrently: `join_all` for a few,
    /// `buffer_unordered(n)` or a `JoinSet` with a bound for many. Example:
    /// `cargo run --release --example serial_awaits` (and `-- --fixed`).
    SerialAwaits,
    /// `unbounded_fanout`: thousands of concurrent children from one call
    /// site (`join_all` or a spawn per item over the whole list).
    ///
    /// # Signal
    /// A parent span with 1,000 or more
    /// ([`fanout_threshold`](crate::DoctorBuilder::fanout_threshold))
    /// children of one call site open at once (`join_all` over the whole
    /// list creates them all before polling one), or one spawn site
    /// ([`spawn`](crate::spawn), or tokio's task spans with
    /// `tokio_unstable`) with that many tasks alive. The peak is recorded
    /// the moment it is reached, so the finding shows while the fan-out
    /// still runs.
    ///
    /// # Cost
    /// The peak of concurrent children or live tasks (`peak_concurrent`)
    /// and, when the children are outbound calls whose ceiling
    /// [`ConcurrencyAdvice`](FindingKind::ConcurrencyAdvice) has measured,
    /// the bound to use (`suggested_bound`). The peak is also the gauge
    /// `tokio_doctor_finding_peak`; the count (`tokio_doctor_findings_total`)
    /// is the parents that fanned out (1 for a spawn site).
    ///
    /// # Silent on
    /// A bounded pool over the same items: a semaphore,
    /// `buffer_unordered(16)` over the same 50,000 items, or a fixed set of
    /// workers. Its peak is the bound.
    ///
    /// # Fix
    /// Bound the concurrency: `stream::iter(items).map(f).buffer_unordered(n)`,
    /// or a `Semaphore` of `n` permits acquired before each call or spawn,
    /// with `n` sized by Little's Law (downstream throughput × latency at low
    /// load: see [`ConcurrencyAdvice`](FindingKind::ConcurrencyAdvice)). Example:
    /// `cargo run --release --example unbounded_fanout` (and `-- --fixed`).
    UnboundedFanout,
    /// `concurrency_advice`: concurrency not sized by Little's Law. Advice
    /// (severity info), not an alarm.
    ///
    /// # Signal
    /// Per outbound call site (a span with `otel.kind = "client"`, or the
    /// `http.request.method`, `url.full`, `server.address`, `db.system`,
    /// `rpc.system` or `peer.service` fields, or a name given to
    /// [`outbound_span`](crate::DoctorBuilder::outbound_span)), every
    /// sample interval over a sliding window (default 5 s,
    /// [`concurrency_window`](crate::DoctorBuilder::concurrency_window)):
    /// throughput λ (calls completed per second), latency W (their mean
    /// duration) and the time-weighted mean in flight L = λ × W. Each
    /// window is filed under its level of L (powers of two), so a service
    /// that has run at several levels shows where more concurrency stopped
    /// adding throughput: λ_max, and W at the lowest level seen.
    ///
    /// # Cost
    /// The recommended limit ⌊λ_max × W at the lowest level⌋, exported for
    /// every outbound site as `tokio_doctor_concurrency_recommended` beside
    /// `tokio_doctor_concurrency_in_flight` (L). A downstream that sustains
    /// 200 req/s at 80 ms reads 16. The finding itself is made only when
    /// the caller runs **past the knee**: throughput was seen to stop
    /// rising with concurrency, and L and W are now both half again above
    /// the recommendation and the low-load latency. Evidence: throughput,
    /// latency, in flight, the recommendation and the knee.
    ///
    /// # Silent on
    /// Callers at or under the knee, and sites never seen at more than one
    /// level of concurrency (the ceiling is then unknown). Until a caller
    /// has reached the downstream's ceiling the recommendation is a lower
    /// bound.
    ///
    /// # Fix
    /// Limit the site's calls in flight to the recommendation (a
    /// `Semaphore` or `buffer_unordered(n)`): past the knee, more
    /// concurrency only adds latency. Example:
    /// `cargo run --release --example concurrency_advice` (and `-- --fixed`).
    ConcurrencyAdvice,
    /// `trivial_async`: async machinery (a task or an instrumented future)
    /// for work that never suspends.
    ///
    /// # Signal
    /// Tasks (spawned with [`spawn`](crate::spawn), or seen through
    /// tokio's task spans with `tokio_unstable`) and instrumented futures
    /// that finish in their first poll with under 50 µs of busy time
    /// ([`trivial_busy_threshold`](crate::DoctorBuilder::trivial_busy_threshold)),
    /// at 1,000 or more a second from one site
    /// ([`trivial_rate_threshold`](crate::DoctorBuilder::trivial_rate_threshold))
    /// over the task window (default 10 s,
    /// [`task_window`](crate::DoctorBuilder::task_window)), making up at
    /// least 90% of what completes there. A future that finished in its
    /// first poll was entered exactly twice (the poll, and the drop
    /// `Instrumented` enters for); a span entered once is sync code, which
    /// is the fix, not the problem.
    ///
    /// # Cost
    /// Trivial completions per second, their share, their mean busy time
    /// and mean wait to be polled, and the runtime bookkeeping they cost
    /// (estimated at about 1 µs a task, 0.2 µs a future: `overhead_seconds`).
    /// Severity info below ten times the rate threshold, warning above.
    ///
    /// # Silent on
    /// Futures that suspend (real I/O), sync code in spans, and trivial work
    /// at a low rate (a request handler called 100 times a second).
    ///
    /// # Fix
    /// Do work that never awaits inline, as a plain (sync) function: no
    /// task, no `async fn`, no span per item. For many small items spawn one
    /// task per batch (or use a fixed pool of workers), and keep async for
    /// code that really waits on I/O. Example:
    /// `cargo run --release --example trivial_async` (and `-- --fixed`).
    TrivialAsync,
    /// `blocking_poll`: CPU-bound or blocking work on a runtime worker,
    /// including a poll stuck right now.
    ///
    /// # Signal
    /// A *poll* starts when the outermost span is entered on a tokio
    /// runtime worker and ends when that span exits. A poll longer than the
    /// threshold (default 10 ms, two orders of magnitude above tokio's
    /// 10–100 µs guidance between awaits:
    /// [`blocking_poll_threshold`](crate::DoctorBuilder::blocking_poll_threshold))
    /// blocked the worker: no other task could run on it. The poll is
    /// blamed on the span with the most *self* time inside it (its time
    /// minus its child spans'), so `hash_password` is named, not the
    /// `handle_login` around it.
    ///
    /// A watchdog thread looks at every worker every 5 ms
    /// ([`watchdog_interval`](crate::DoctorBuilder::watchdog_interval)): a
    /// poll running past the threshold is reported *before it returns*, as a
    /// critical finding with `stalled_now_seconds` (and
    /// `tokio_doctor_stalled_polls`, and a warning in the log, at most one per
    /// call site a minute). On Linux it captures the stalled worker's stack
    /// and names the innermost frame of the service's own code, with the top
    /// frames as evidence (`tokio_doctor_blocking_frames_total`; turn it off
    /// with [`stack_capture(false)`](crate::DoctorBuilder::stack_capture)).
    ///
    /// With [`TaskMonitorLayer`](crate::TaskMonitorLayer) or
    /// [`Doctor::monitor_job`](crate::Doctor::monitor_job), a route or job
    /// with at least 3 slow polls making up 5% or more of its polls is a
    /// `blocking_poll` finding too, with `target: "route"`, the route as
    /// `span` and the layer's `file:line` as `location`: a service without
    /// spans still gets a diagnosis.
    ///
    /// # Cost
    /// Blocking polls (`blocking_polls`), seconds workers were blocked
    /// (`blocked_seconds`, the cost), the worst poll (`worst_poll_seconds`),
    /// self time, and how long a stalled poll has been running now.
    ///
    /// # Silent on
    /// The same work in `spawn_blocking` (blocking-pool threads never start
    /// a poll); async code that yields within the threshold; and a worker
    /// that only *waited for a CPU*: on Linux the watchdog notes each
    /// worker's scheduler statistics and a slow poll has the time its
    /// thread spent runnable-but-waiting subtracted, so a handler preempted
    /// by CPU-hungry neighbours is not blamed (those polls are counted in
    /// `tokio_doctor_preempted_polls_total`). Sleeping in a syscall
    /// (`std::thread::sleep`, sync file or network I/O, a contended
    /// `std::sync::Mutex`) is not waiting for a CPU and is reported.
    /// Scheduling delay is exported per route but never blamed on a route:
    /// every route suffers it when another blocks.
    ///
    /// # Fix
    /// Move the CPU-bound or blocking work into
    /// `tokio::task::spawn_blocking` (or a rayon pool) and `.await` its
    /// result; in long loops call `tokio::task::yield_now().await` every few
    /// hundred microseconds; use async I/O instead of blocking I/O. Example:
    /// `cargo run --release --example blocking_the_executor` (and
    /// `-- --fixed`); `cargo run --release --features axum --example
    /// slow_route` for the route view.
    BlockingPoll,
    /// `materialization`: a large result held whole in memory instead of
    /// streamed (needs the `alloc` feature).
    ///
    /// # Signal
    /// With the `alloc` feature and `alloc::TrackingAllocator` installed as
    /// the global allocator: a span instance whose peak live heap bytes
    /// reach the threshold (default 64 MiB:
    /// [`materialization_threshold`](crate::DoctorBuilder::materialization_threshold)).
    /// Bytes are attributed to the span entered on the allocating thread.
    ///
    /// # Cost
    /// The peak (`peak_bytes`) and how many instances got there
    /// (`instances`); the per-instance peaks are the
    /// `tokio_doctor_span_peak_bytes` histogram. A memory finding, so its
    /// cost in seconds is 0.
    ///
    /// # Silent on
    /// The streaming version of the same work: one record at a time peaks
    /// under a megabyte.
    ///
    /// # Fix
    /// Stream rows to the response (`axum::body::Body::from_stream`)
    /// instead of collecting them, mapping them and serializing one string.
    /// Example: `cargo run --release --features alloc --example
    /// materialized_export` (and `-- --fixed`).
    Materialization,
    /// `connection_churn`: a client per call, paying a new connection (and
    /// handshake) per request.
    ///
    /// # Signal
    /// Per peer (`host:port`), over the churn window (default 30 s:
    /// [`churn_window`](crate::DoctorBuilder::churn_window)), new
    /// connections ÷ requests ≥ 0.5 with at least 20 requests. Connections
    /// and requests are counted by `ConnectionLayer` and
    /// `OutboundRequestLayer` (the `connections` feature) or by
    /// [`connection::record_connection`](crate::connection::record_connection)
    /// and [`connection::record_request`](crate::connection::record_request).
    ///
    /// # Cost
    /// Connections per second and the handshake seconds spent
    /// (`handshake_seconds_total`, the cost).
    ///
    /// # Silent on
    /// A shared client with keep-alive: a few connections for many requests.
    ///
    /// # Fix
    /// Build one client at startup and share it (clients are cheap to
    /// clone). Example: `cargo run --release --features connections
    /// --example client_per_call` (and `-- --fixed`).
    ConnectionChurn,
    /// `queue_growth`: a queue growing without back-pressure, which defers
    /// a crash.
    ///
    /// # Signal
    /// Once per sample interval the sampler reads the depth of every queue
    /// made with [`queue::channel`](crate::queue::channel),
    /// [`queue::unbounded_channel`](crate::queue::unbounded_channel) or
    /// [`queue::watch`](crate::queue::watch). Over the queue window
    /// (default 10 s: [`queue_window`](crate::DoctorBuilder::queue_window))
    /// a least-squares line through the depths rises at least one item a
    /// second, fits well (R² ≥ 0.6: steadily, not one burst), ends above
    /// where it began, and the depth is over the floor (default 100:
    /// [`queue_depth_floor`](crate::DoctorBuilder::queue_depth_floor)).
    ///
    /// # Cost
    /// Growth per second (a producer at 1,000/s and a consumer at 10/s read
    /// +990/s), producer and consumer rates, the depth, and with
    /// [`queue_limit`](crate::DoctorBuilder::queue_limit) the seconds until
    /// the limit.
    ///
    /// # Silent on
    /// A bounded channel that is full: that is back-pressure working, shown
    /// as `tokio_doctor_queue_saturation` = 1, never as growth; and queues
    /// that drain as fast as they fill.
    ///
    /// # Fix
    /// Bound the queue ([`queue::channel`](crate::queue::channel) with a
    /// capacity) so producers wait, add consumers, or shed or batch work.
    /// Example: `cargo run --release --example unbounded_queue_growth` (and
    /// `-- --fixed`).
    QueueGrowth,
    /// `excess_tasks`: far more live tasks than useful (a task per item
    /// instead of batches on a bounded pool).
    ///
    /// # Signal
    /// Live tasks of one spawn site ([`spawn`](crate::spawn), or tokio's
    /// task spans with `tokio_unstable`) at or over 10,000
    /// ([`excess_tasks_threshold`](crate::DoctorBuilder::excess_tasks_threshold)),
    /// or spawns outrunning completions tenfold over the task window with
    /// over a tenth of the threshold alive; or the runtime's own live tasks
    /// over the threshold when no spawn site explains them.
    ///
    /// # Cost
    /// Live tasks now and at the peak, spawn and completion rates, spawns
    /// and completions in all; `tokio_doctor_spawn_site_live_tasks`,
    /// `_spawned_total` and `_completed_total` per spawn site. The count
    /// (`tokio_doctor_findings_total`) is the samples, one per sample
    /// interval, that found the tasks piled up (at least 1 once the peak
    /// crossed the threshold); the peak is `tokio_doctor_finding_peak`.
    ///
    /// # Silent on
    /// Batches on a fixed pool of workers, and many tasks that finish as
    /// fast as they are spawned.
    ///
    /// # Fix
    /// Batch the items and bound the workers (a `JoinSet` with a
    /// `Semaphore`, a bulk call per batch). Example:
    /// `cargo run --release --example excess_tasks` (and `-- --fixed`).
    ExcessTasks,
    /// `allocation_amplification`: a pipeline whose stages copy the data
    /// many times over (needs the `alloc` feature).
    ///
    /// # Signal
    /// With the `alloc` feature and `alloc::TrackingAllocator`: a span
    /// instance that allocated at least 1 MiB, held at least 1 MiB at its
    /// peak (an intermediate collection), and allocated 3× or more of what
    /// it still holds when it closes (what it keeps or returns). A
    /// `.map().collect()` per stage over 1,000,000 items fires.
    ///
    /// # Cost
    /// The worst ratio of bytes allocated to bytes kept, the instances, and
    /// bytes allocated per item where the span records a field `items`. A
    /// memory finding, so its cost in seconds is 0.
    ///
    /// # Silent on
    /// A fused single pass, which allocates about what it returns, and
    /// streaming one record at a time, which allocates a lot but never holds
    /// much.
    ///
    /// # Fix
    /// Fuse the stages into one iterator chain and collect once. Example:
    /// `cargo run --release --features alloc --example copying_pipeline`
    /// (and `-- --fixed`).
    AllocationAmplification,
    /// `held_across_await`: a held resource (a pool connection, a
    /// transaction, a permit, a lock guard) kept while its task is
    /// suspended.
    ///
    /// # Signal
    /// A hold (a guard wrapped by [`held`](crate::held) or
    /// [`HoldExt::held`](crate::HoldExt::held), a lock of
    /// [`sync`](crate::sync), or a resource span: one named by
    /// [`resource_span`](crate::DoctorBuilder::resource_span), or with a
    /// `doctor.resource` field) released in a later poll than the one that
    /// acquired it, idle for at least the held idle threshold (default
    /// 50 ms, fifty LAN database round trips:
    /// [`held_idle_threshold`](crate::DoctorBuilder::held_idle_threshold)),
    /// at least 3 times. Suspension is seen through spans: the holding task
    /// must run in a span (`#[instrument]`, a server's request span, or any
    /// task with `tokio_unstable`); without one, holds are counted and
    /// timed but not judged.
    ///
    /// # Cost
    /// Holds that crossed an await, idle seconds while held (the cost), mean
    /// and worst idle hold, and `tokio_doctor_held_slots_lost`: the pool
    /// slots the idle holding costs by Little's Law (idle seconds per second
    /// over the last 10 s: 100 req/s × 0.3 s = 30 of a 20-connection pool).
    ///
    /// # Silent on
    /// A guard held only across synchronous work (released in the poll that
    /// took it), and a transaction whose own statements keep it busy: their
    /// short suspensions stay under the threshold.
    ///
    /// # Fix
    /// Commit first, then call; or write an outbox row inside the
    /// transaction and deliver it from a background worker. Example:
    /// `cargo run --release --example held_transaction` (and `-- --fixed`).
    HeldAcrossAwait,
    /// `slow_work_while_held`: slow work done inside a held scope (an HTTP
    /// call or a log flush inside a transaction).
    ///
    /// # Signal
    /// A span opened while a hold is open (a child of a resource span, or a
    /// sibling opened after [`held`](crate::held) in the same span) that
    /// takes at least the held idle threshold (default 50 ms:
    /// [`held_idle_threshold`](crate::DoctorBuilder::held_idle_threshold)).
    /// The finding names both: "`notify_external` took 150 ms while holding
    /// `orders.tx`".
    ///
    /// # Cost
    /// Per resource: slow inner calls, their seconds (the cost), and the
    /// inner span that cost the most, named with its `file:line`.
    ///
    /// # Silent on
    /// The slow work moved after the scope, and an outbox row written
    /// inside it (a fast statement).
    ///
    /// # Fix
    /// Do the slow work outside the held scope: commit first, then call, or
    /// write an outbox row and deliver it from a background worker. Example:
    /// `cargo run --release --example held_transaction` (and `-- --fixed`).
    SlowWorkWhileHeld,
    /// `missing_deadline`: an outbound call with no deadline in scope.
    ///
    /// # Signal
    /// An outbound span (`otel.kind = "client"`, one of the OpenTelemetry
    /// client-span fields `http.request.method`, `url.full`,
    /// `server.address`, `db.system`, `rpc.system`, `peer.service`, or a
    /// name given to [`outbound_span`](crate::DoctorBuilder::outbound_span))
    /// created with no deadline in scope: no [`deadline`](crate::deadline)
    /// around it and no `timeout`, `timeout_ms`, `deadline` or `deadline_ms`
    /// field on it or an enclosing span. Critical while one of its calls
    /// hangs past the hang limit (default 10 s:
    /// [`hang_limit`](crate::DoctorBuilder::hang_limit)).
    ///
    /// # Cost
    /// Calls without a deadline and their p50 and p99 (the
    /// `tokio_doctor_missing_deadline_duration_seconds` histogram), seconds
    /// waited (the cost), calls hung now and the longest hang
    /// (`tokio_doctor_hung_calls`, `tokio_doctor_hung_call_longest_seconds`).
    /// For fan-outs, each span with two or more outbound children credits
    /// the slowest one (`tokio_doctor_join_slowest_total`), so "p99 is 30 s
    /// because of one backend" is one query.
    ///
    /// # Silent on
    /// The same calls inside [`deadline`](crate::deadline) (cancelled calls
    /// close on time), or in a span with a `timeout` or `deadline` field.
    ///
    /// # Fix
    /// Bound every external await with [`deadline`](crate::deadline) (or
    /// `tokio::time::timeout`) around the call itself. Example:
    /// `cargo run --release --example fan_out_without_deadline` (and
    /// `-- --fixed`).
    MissingDeadline,
    /// `deadline_overrun`: a call that outlived its deadline, because the
    /// deadline does not cancel it.
    ///
    /// # Signal
    /// A span that closes later than the deadline in scope when it was
    /// created plus a grace (default 50 ms, for timer ticks and the next
    /// poll: [`deadline_grace`](crate::DoctorBuilder::deadline_grace)), or
    /// an outbound call still open past it: a timeout that only stops
    /// *waiting* while the work goes on (a spawned call), or work detached
    /// from its deadline (a task spawned inside it).
    ///
    /// # Cost
    /// Overruns, seconds past the deadline in all (the cost), the worst,
    /// and calls overrunning now.
    ///
    /// # Silent on
    /// Work cancelled at its deadline: [`deadline`](crate::deadline) and
    /// `tokio::time::timeout` drop the future, and its spans close on time.
    ///
    /// # Fix
    /// Make the deadline cancel the work: keep the call inside
    /// [`deadline`](crate::deadline) or `tokio::time::timeout` instead of
    /// spawning it (or abort what you spawned when its deadline passes), and
    /// pass the remaining budget to the client (its own timeout or an abort
    /// signal). Example: `cargo run --release --example
    /// deadline_that_does_not_cancel` (and `-- --fixed`).
    DeadlineOverrun,
}

impl FindingKind {
    /// Every kind, in the order of the variants.
    pub const ALL: [FindingKind; 14] = [
        FindingKind::SerialAwaits,
        FindingKind::UnboundedFanout,
        FindingKind::ConcurrencyAdvice,
        FindingKind::TrivialAsync,
        FindingKind::BlockingPoll,
        FindingKind::Materialization,
        FindingKind::ConnectionChurn,
        FindingKind::QueueGrowth,
        FindingKind::ExcessTasks,
        FindingKind::AllocationAmplification,
        FindingKind::HeldAcrossAwait,
        FindingKind::SlowWorkWhileHeld,
        FindingKind::MissingDeadline,
        FindingKind::DeadlineOverrun,
    ];

    /// The stable label value, e.g. `"blocking_poll"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingKind::SerialAwaits => "serial_awaits",
            FindingKind::UnboundedFanout => "unbounded_fanout",
            FindingKind::ConcurrencyAdvice => "concurrency_advice",
            FindingKind::TrivialAsync => "trivial_async",
            FindingKind::BlockingPoll => "blocking_poll",
            FindingKind::Materialization => "materialization",
            FindingKind::ConnectionChurn => "connection_churn",
            FindingKind::QueueGrowth => "queue_growth",
            FindingKind::ExcessTasks => "excess_tasks",
            FindingKind::AllocationAmplification => "allocation_amplification",
            FindingKind::HeldAcrossAwait => "held_across_await",
            FindingKind::SlowWorkWhileHeld => "slow_work_while_held",
            FindingKind::MissingDeadline => "missing_deadline",
            FindingKind::DeadlineOverrun => "deadline_overrun",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgently a finding needs a person.
///
/// # Examples
/// ```
/// use tokio_doctor::Severity;
/// assert!(Severity::Critical > Severity::Warning);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Advice: worth a look when tuning.
    Info,
    /// Costing latency or capacity now.
    Warning,
    /// Stalling the service now.
    Critical,
}

/// One measured figure backing a finding.
///
/// # Examples
/// ```
/// let e = tokio_doctor::Evidence::new("blocked_seconds", 0.25, "seconds");
/// assert_eq!(e.value, 0.25);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What was measured, in snake_case, ending with its unit when it has
    /// one (`blocked_seconds`, `peak_bytes`; a bare count otherwise), so
    /// the `evidence` label of `tokio_doctor_finding_evidence` says its unit.
    pub name: &'static str,
    /// The value, in `unit`.
    pub value: f64,
    /// Base unit of `value` (`seconds`, `bytes`, `count`, ...).
    pub unit: &'static str,
}

impl Evidence {
    /// Creates a figure.
    pub fn new(name: &'static str, value: f64, unit: &'static str) -> Evidence {
        Evidence { name, value, unit }
    }
}

/// A diagnosis: which anti-pattern, where in the code, what it costs, and
/// how to fix it.
///
/// # Examples
/// ```
/// let doctor = tokio_doctor::Doctor::builder().no_endpoint().build()?;
/// for f in doctor.findings() {
///     println!("{} at {}: {}", f.kind, f.location, f.message);
/// }
/// # Ok::<(), tokio_doctor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The anti-pattern.
    pub kind: FindingKind,
    /// How urgent it is.
    pub severity: Severity,
    /// Span name of the call site (or `runtime.spawn` for a task span).
    pub span: String,
    /// Target (module path) of the call site.
    pub target: String,
    /// `file:line` of the call site (or spawn location).
    pub location: String,
    /// How many times it was observed since the doctor started: for every
    /// kind a count of occurrences that never decreases (exported as the
    /// counter `tokio_doctor_findings_total`; each kind's reference says
    /// what one occurrence is).
    pub count: u64,
    /// The highest level the pattern reached, for kinds whose size is a
    /// level rather than a number of events (the most live tasks for
    /// `excess_tasks`, the most concurrent children for
    /// `unbounded_fanout`); `None` for the others. Exported beside the
    /// counter as the gauge `tokio_doctor_finding_peak`, so `rate()` over
    /// the counter never mixes occurrences with a peak.
    pub peak: Option<f64>,
    /// What it cost, in seconds; findings are ranked by it.
    pub cost_seconds: f64,
    /// The figures behind the finding.
    pub evidence: Vec<Evidence>,
    /// One full sentence saying what happened, where, and what it cost.
    pub message: String,
    /// One line saying how to fix it.
    pub fix: String,
}

/// Building a finding: [`Finding::new`] names what and where, the `with_*`
/// methods add what was measured. Every field a detector leaves out keeps
/// the value of "nothing seen": a count of 0, no peak, no cost, no evidence,
/// no message and no fix.
///
/// # Examples
/// ```
/// use tokio_doctor::{Evidence, Finding, FindingKind, Severity};
/// let f = Finding::new(
///     FindingKind::BlockingPoll,
///     Severity::Warning,
///     "hash_password",
///     "shop::auth",
///     "src/auth.rs:42",
/// )
/// .with_count(3)
/// .with_cost_seconds(0.25)
/// .with_evidence([Evidence::new("blocked_seconds", 0.25, "seconds")])
/// .with_fix("move the hashing into tokio::task::spawn_blocking");
/// assert_eq!(f.evidence("blocked_seconds"), Some(0.25));
/// assert_eq!(f.peak, None);
/// ```
impl Finding {
    /// A finding of `kind` at a call site: its span name, target (module
    /// path) and `file:line`, with nothing measured yet.
    ///
    /// # Examples
    /// ```
    /// use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::QueueGrowth, Severity::Info, "jobs", "queue", "a.rs:7");
    /// assert_eq!((f.count, f.cost_seconds), (0, 0.0));
    /// assert!(f.evidence.is_empty() && f.message.is_empty() && f.fix.is_empty());
    /// ```
    pub fn new(
        kind: FindingKind,
        severity: Severity,
        span: impl Into<String>,
        target: impl Into<String>,
        location: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            severity,
            span: span.into(),
            target: target.into(),
            location: location.into(),
            count: 0,
            peak: None,
            cost_seconds: 0.0,
            evidence: Vec::new(),
            message: String::new(),
            fix: String::new(),
        }
    }

    /// Sets [`count`](Finding::count): how many times it was observed.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::SerialAwaits, Severity::Warning, "s", "t", "l")
    ///     .with_count(4);
    /// assert_eq!(f.count, 4);
    /// ```
    #[must_use]
    pub fn with_count(mut self, count: u64) -> Finding {
        self.count = count;
        self
    }

    /// Sets [`peak`](Finding::peak): the highest level reached, for kinds
    /// measured by a level (live tasks, concurrent children).
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::ExcessTasks, Severity::Warning, "s", "t", "l")
    ///     .with_peak(20_000.0);
    /// assert_eq!(f.peak, Some(20_000.0));
    /// ```
    #[must_use]
    pub fn with_peak(mut self, peak: f64) -> Finding {
        self.peak = Some(peak);
        self
    }

    /// Sets [`cost_seconds`](Finding::cost_seconds): what it cost, which
    /// findings are ranked by.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::HeldAcrossAwait, Severity::Warning, "s", "t", "l")
    ///     .with_cost_seconds(1.5);
    /// assert_eq!(f.cost_seconds, 1.5);
    /// ```
    #[must_use]
    pub fn with_cost_seconds(mut self, seconds: f64) -> Finding {
        self.cost_seconds = seconds;
        self
    }

    /// Adds figures to [`evidence`](Finding::evidence), after those already
    /// there. Takes anything that yields figures: a `Vec`, an array, or an
    /// `Option` for a figure measured only sometimes.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Evidence, Finding, FindingKind, Severity};
    /// let bound: Option<f64> = None;
    /// let f = Finding::new(FindingKind::UnboundedFanout, Severity::Warning, "s", "t", "l")
    ///     .with_evidence(vec![Evidence::new("peak_concurrent", 5000.0, "count")])
    ///     .with_evidence(bound.map(|b| Evidence::new("suggested_bound", b, "count")));
    /// assert_eq!(f.evidence.len(), 1);
    /// ```
    #[must_use]
    pub fn with_evidence(mut self, figures: impl IntoIterator<Item = Evidence>) -> Finding {
        self.evidence.extend(figures);
        self
    }

    /// Sets [`message`](Finding::message), the sentence saying what happened.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::MissingDeadline, Severity::Warning, "s", "t", "l")
    ///     .with_message("`s` at l has no deadline.");
    /// assert_eq!(f.message, "`s` at l has no deadline.");
    /// ```
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Finding {
        self.message = message.into();
        self
    }

    /// Sets [`fix`](Finding::fix), the line saying how to fix it.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::{Finding, FindingKind, Severity};
    /// let f = Finding::new(FindingKind::ConnectionChurn, Severity::Info, "s", "t", "l")
    ///     .with_fix("share one client");
    /// assert_eq!(f.fix, "share one client");
    /// ```
    #[must_use]
    pub fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }
}

/// Reading a finding.
impl Finding {
    /// The value of the named evidence figure, if present.
    ///
    /// # Examples
    /// ```
    /// # use tokio_doctor::*;
    /// # let f = Finding::new(FindingKind::BlockingPoll, Severity::Warning, "s", "t", "l")
    /// #     .with_evidence([Evidence::new("worst_poll_seconds", 0.1, "seconds")]);
    /// assert_eq!(f.evidence("worst_poll_seconds"), Some(0.1));
    /// ```
    pub fn evidence(&self, name: &str) -> Option<f64> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value)
    }
}
