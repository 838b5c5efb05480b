//! The ground floor: what one doctor has recorded. The layer (hot path)
//! and the monitors (lag probe, watchdog, sampler) write it; the detectors
//! and export read it. Nothing here imports from `layer`, `monitor`,
//! `detect` or `export`.
//!
//! - [`sites`]: call sites, their ids and per-site stats ([`outbound`],
//!   [`held`], [`joins`], [`shape_stats`]);
//! - [`shard`]: per-thread shards of poll timings;
//! - [`histogram`]: the lock-free histograms behind them;
//! - [`sched`]: what the kernel says of each worker thread;
//! - [`ping`]: how long the watchdog's wake of a busy runtime waits;
//! - [`lag_history`] and [`series`]: short time series the sampler keeps;
//! - [`routes`]: the task monitors of routes and jobs;
//! - [`runtime_samples`]: tokio's runtime metrics as tokio-metrics reported them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};

use crate::config::nanos::Nanos;
use crate::config::Config;
use crate::util::lock;

pub(crate) mod frames;
pub(crate) mod held;
pub(crate) mod histogram;
pub(crate) mod in_flight;
pub(crate) mod joins;
pub(crate) mod lag_history;
pub(crate) mod location;
pub(crate) mod outbound;
pub(crate) mod ping;
pub(crate) mod route_stats;
pub(crate) mod routes;
pub(crate) mod runtime_samples;
pub(crate) mod sched;
pub(crate) mod series;
pub(crate) mod shape_stats;
pub(crate) mod shard;
pub(crate) mod site_tally;
pub(crate) mod sites;
pub(crate) mod trends;

use histogram::{SharedHistogram, Snapshot};
use runtime_samples::RuntimeRecorder;
pub(crate) use shard::{Stall, ThreadShard};
use sites::Sites;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) config: Config,
    /// The durations of `config` the hot path compares with, in
    /// nanoseconds, derived from it once here (see `config::nanos`).
    pub(crate) ns: Nanos,
    pub(crate) clock: quanta::Clock,
    pub(crate) sites: Sites,
    shards: Mutex<Vec<Arc<ThreadShard>>>,
    /// Polls of threads that have exited, so their counts are never lost.
    retired_polls: Mutex<Snapshot>,
    retired_preempted: AtomicU64,
    retired_nodes: AtomicI64,
    pub(crate) lag: SharedHistogram,
    /// Largest lag seen since the last scrape, in nanoseconds.
    pub(crate) lag_max_ns: AtomicU64,
    pub(crate) lag_max_last_ns: AtomicU64,
    /// Clock ticks at which the lag probe began waiting for its timer; 0
    /// while it runs. How late it is *now* tells the watchdog the runtime
    /// is stalled even where no poll is marked (see `lag_late_ns`).
    pub(crate) lag_waiting_since: AtomicU64,
    /// The watchdog's wake of a busy runtime, and how long it waits.
    pub(crate) ping: ping::Ping,
    /// Lag per sampler interval over the last minutes, for the report page.
    pub(crate) lag_history: Mutex<lag_history::LagHistory>,
    /// Culprit frames of stalls, from the watchdog's stack captures.
    pub(crate) frames: frames::BlockingFrames,
    /// Queue depths, calls in flight, slots held and live tasks over the
    /// last minutes, for the report page's charts.
    pub(crate) trends: Mutex<trends::Trends>,
    /// Stalls the watchdog has counted, per site.
    pub(crate) stall_counts: Mutex<std::collections::BTreeMap<u32, u64>>,
    /// Snapshots the endpoint has taken: concurrent scrapes share one.
    pub(crate) endpoint_snapshots: AtomicU64,
    pub(crate) runtime: RuntimeRecorder,
    /// Task monitors by route (TaskMonitorLayer, monitor_job).
    pub(crate) routes: routes::Routes,
    pub(crate) created: std::time::Instant,
    pub(crate) started: AtomicBool,
    /// The doctor's layers alive (`Doctor::layer` makes one per call). The
    /// per-thread state is the doctor's, fed by all of them: with more than
    /// one, its span stack may mix two subscribers' spans.
    pub(crate) layers: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub(crate) fn new(config: Config, runtime_metric: runtime_samples::ResolveField) -> Shared {
        Shared {
            id: NEXT_ID.fetch_add(1, Relaxed),
            ns: Nanos::of(&config),
            sites: Sites::new(config.label_cap),
            frames: frames::BlockingFrames::new(config.label_cap),
            config,
            clock: quanta::Clock::new(),
            shards: Mutex::new(Vec::new()),
            retired_polls: Mutex::new(Snapshot::default()),
            retired_preempted: AtomicU64::new(0),
            retired_nodes: AtomicI64::new(0),
            lag: SharedHistogram::default(),
            lag_max_ns: AtomicU64::new(0),
            lag_max_last_ns: AtomicU64::new(0),
            lag_waiting_since: AtomicU64::new(0),
            ping: Default::default(),
            lag_history: Mutex::new(Default::default()),
            trends: Mutex::new(Default::default()),
            stall_counts: Mutex::new(Default::default()),
            endpoint_snapshots: AtomicU64::new(0),
            runtime: RuntimeRecorder::new(runtime_metric),
            routes: Default::default(),
            created: std::time::Instant::now(),
            started: AtomicBool::new(false),
            layers: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Called once per thread per doctor, off the hot path.
    pub(crate) fn register_thread(&self) -> Arc<ThreadShard> {
        let shard = Arc::new(ThreadShard::new(self.config.stack_capture));
        shard.sched.first_baseline(&self.clock);
        lock(&self.shards).push(shard.clone());
        shard
    }

    /// Folds the counts of exited threads into one total and forgets their
    /// shards, so memory stays bounded by live threads.
    pub(crate) fn retire_exited_threads(&self) {
        let mut shards = lock(&self.shards);
        let mut retired = lock(&self.retired_polls);
        shards.retain(|s| {
            if s.retired.load(Acquire) {
                retired.add(&s.polls.snapshot());
                self.retired_preempted
                    .fetch_add(s.preempted.load(Relaxed), Relaxed);
                self.retired_nodes.fetch_add(s.nodes.load(Relaxed), Relaxed);
                false
            } else {
                true
            }
        });
    }

    /// Poll-duration histogram over all threads, exited ones included.
    pub(crate) fn poll_histogram(&self) -> Snapshot {
        let mut total = lock(&self.retired_polls).clone();
        for s in lock(&self.shards).iter() {
            total.add(&s.polls.snapshot());
        }
        total
    }

    /// Watchdog side: notes what the kernel says of each worker, so a slow
    /// poll can later be told from a preempted one (see `monitor::sched`).
    pub(crate) fn sample_threads(&self) {
        let now = self.clock.raw();
        for s in lock(&self.shards).iter() {
            s.sched.sample(&self.clock, s.poll_since.load(Acquire), now);
        }
    }

    /// Identities of the polls running now, as [`Stall::identity`] names them.
    pub(crate) fn current_polls(&self) -> std::collections::HashSet<(usize, u64)> {
        lock(&self.shards)
            .iter()
            .filter_map(|s| {
                let since = s.poll_since.load(Acquire);
                (since != 0).then_some((Arc::as_ptr(s) as usize, since))
            })
            .collect()
    }

    /// Span nodes alive now (created and not yet closed), over all threads.
    pub(crate) fn live_spans(&self) -> i64 {
        let live: i64 = lock(&self.shards)
            .iter()
            .map(|s| s.nodes.load(Relaxed))
            .sum();
        live + self.retired_nodes.load(Relaxed)
    }

    /// Polls that looked slow only because the OS preempted the worker.
    pub(crate) fn preempted_polls(&self) -> u64 {
        let live: u64 = lock(&self.shards)
            .iter()
            .map(|s| s.preempted.load(Relaxed))
            .sum();
        live + self.retired_preempted.load(Relaxed)
    }

    /// How far past its timer the lag probe is right now (0 when it is on
    /// time or not waiting): the runtime's lag before the probe can measure
    /// it, so a stall is seen while it lasts.
    pub(crate) fn lag_late_ns(&self) -> u64 {
        let since = self.lag_waiting_since.load(Acquire);
        if since == 0 {
            return 0;
        }
        let waited = self.clock.delta_as_nanos(since, self.clock.raw());
        let interval = self.config.lag_probe_interval.as_nanos() as u64;
        waited.saturating_sub(interval)
    }

    /// The shards of runtime workers that are in no marked poll: where a
    /// stall without a span could be.
    pub(crate) fn unmarked_workers(&self) -> Vec<Arc<ThreadShard>> {
        lock(&self.shards)
            .iter()
            .filter(|s| {
                s.worker.is_some()
                    && s.tid > 0
                    && s.capture.is_some()
                    && !s.retired.load(Acquire)
                    && s.poll_since.load(Acquire) == 0
            })
            .cloned()
            .collect()
    }

    /// Polls running past the threshold right now, read from the shards.
    pub(crate) fn running_stalls(&self) -> Vec<Stall> {
        let now = self.clock.raw();
        let mut out = Vec::new();
        for s in lock(&self.shards).iter() {
            let since = s.poll_since.load(Acquire);
            if since == 0 {
                continue;
            }
            let site = s.poll_site.load(Relaxed);
            if self.sites.get(site).blocking.own.load(Relaxed) {
                continue; // The doctor's own monitor (see `Sites::note_spawn_file`).
            }
            // The poll may have ended and another begun between the two
            // loads; re-read to keep the (since, site) pair consistent.
            if s.poll_since.load(Acquire) != since {
                continue;
            }
            let mut running_ns = self.clock.delta_as_nanos(since, now);
            if running_ns >= self.ns.blocking_poll_threshold {
                running_ns = s.sched.stalled_ns(&self.clock, since, running_ns);
            }
            if running_ns >= self.ns.blocking_poll_threshold {
                out.push(Stall {
                    site,
                    thread: s.thread.clone(),
                    running_ns,
                    identity: (Arc::as_ptr(s) as usize, since),
                    shard: s.clone(),
                });
            }
        }
        out
    }
}
