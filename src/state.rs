//! The state one doctor shares between its layer (writer, hot path), its
//! monitors (lag probe, watchdog, sampler) and its exporter (readers).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::Config;
use crate::export::histogram::{OwnedHistogram, SharedHistogram, Snapshot};
use crate::export::runtime_recorder::RuntimeRecorder;
use crate::layer::sites::Sites;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Locks a mutex that may have been poisoned by a panic elsewhere: all our
/// mutex-protected data stays consistent across a panic, so never propagate.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-thread counters of one doctor. Only the owning thread writes the
/// poll fields; the watchdog and the exporter read them. Aligned so two
/// threads' shards never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct ThreadShard {
    pub(crate) polls: OwnedHistogram,
    /// Clock ticks at which the current poll began; 0 when not in a poll.
    pub(crate) poll_since: AtomicU64,
    /// Site of the outermost span of the current poll.
    pub(crate) poll_site: AtomicU32,
    /// Set when the thread exits; the sampler then folds the shard away.
    pub(crate) retired: AtomicBool,
    pub(crate) thread: String,
    /// What the kernel says of this thread, noted by the watchdog.
    pub(crate) sched: crate::monitor::sched::SchedSample,
    /// Polls past the threshold on the wall clock that mostly waited for a
    /// CPU. Written by the owning thread only.
    pub(crate) preempted: AtomicU64,
    /// Span nodes this thread created minus those it freed (a node may be
    /// freed on another thread, so one shard's count can be negative; the
    /// sum over all shards is the number alive). Owning thread writes.
    pub(crate) nodes: AtomicI64,
}

impl ThreadShard {
    fn new() -> ThreadShard {
        let t = std::thread::current();
        ThreadShard {
            polls: OwnedHistogram::default(),
            poll_since: AtomicU64::new(0),
            poll_site: AtomicU32::new(0),
            retired: AtomicBool::new(false),
            thread: t
                .name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{:?}", t.id())),
            sched: crate::monitor::sched::SchedSample::for_current_thread(),
            preempted: AtomicU64::new(0),
            nodes: AtomicI64::new(0),
        }
    }
}

/// A poll the watchdog found running past the threshold.
#[derive(Debug, Clone)]
pub(crate) struct Stall {
    pub(crate) site: u32,
    pub(crate) thread: String,
    pub(crate) running_ns: u64,
    /// Identifies the stall: the shard's address and the poll's start.
    pub(crate) identity: (usize, u64),
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) config: Config,
    pub(crate) clock: quanta::Clock,
    pub(crate) threshold_ns: u64,
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
    /// Lag per sampler interval over the last minutes, for the report page.
    pub(crate) lag_history: Mutex<crate::monitor::lag::LagHistory>,
    /// Stalls the watchdog has counted, per site.
    pub(crate) stall_counts: Mutex<std::collections::BTreeMap<u32, u64>>,
    pub(crate) runtime: RuntimeRecorder,
    /// Task monitors by route (TaskMonitorLayer, monitor_job).
    pub(crate) routes: crate::route::Routes,
    /// What the sampler keeps about each queue and peer (see the detectors).
    pub(crate) queues:
        Mutex<std::collections::BTreeMap<&'static str, crate::detect::queue_growth::QueueTrack>>,
    pub(crate) peers:
        Mutex<std::collections::BTreeMap<String, crate::detect::connection_churn::PeerTrack>>,
    /// Whether the churn sampler has run once (peers it meets later are new).
    pub(crate) peers_sampled: AtomicBool,
    /// Idle holding per resource over the last window, for the slots-lost
    /// gauge (see `detect::held_across_await`).
    pub(crate) held_windows:
        Mutex<std::collections::BTreeMap<u32, crate::detect::held_across_await::IdleWindow>>,
    pub(crate) created: std::time::Instant,
    pub(crate) started: AtomicBool,
    /// What the sampler keeps for the concurrency-shape detectors.
    pub(crate) shape: crate::detect::shape_sampler::ShapeState,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Shared {
        Shared {
            id: NEXT_ID.fetch_add(1, Relaxed),
            threshold_ns: config
                .blocking_poll_threshold
                .as_nanos()
                .min(u64::MAX as u128) as u64,
            sites: Sites::new(config.label_cap),
            config,
            clock: quanta::Clock::new(),
            shards: Mutex::new(Vec::new()),
            retired_polls: Mutex::new(Snapshot::default()),
            retired_preempted: AtomicU64::new(0),
            retired_nodes: AtomicI64::new(0),
            lag: SharedHistogram::default(),
            lag_max_ns: AtomicU64::new(0),
            lag_max_last_ns: AtomicU64::new(0),
            lag_history: Mutex::new(Default::default()),
            stall_counts: Mutex::new(Default::default()),
            runtime: RuntimeRecorder::default(),
            routes: Default::default(),
            queues: Mutex::new(Default::default()),
            peers: Mutex::new(Default::default()),
            peers_sampled: AtomicBool::new(false),
            held_windows: Mutex::new(Default::default()),
            created: std::time::Instant::now(),
            started: AtomicBool::new(false),
            shape: Default::default(),
        }
    }

    /// Called once per thread per doctor, off the hot path.
    pub(crate) fn register_thread(&self) -> Arc<ThreadShard> {
        let shard = Arc::new(ThreadShard::new());
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
            // The poll may have ended and another begun between the two
            // loads; re-read to keep the (since, site) pair consistent.
            if s.poll_since.load(Acquire) != since {
                continue;
            }
            let mut running_ns = self.clock.delta_as_nanos(since, now);
            if running_ns >= self.threshold_ns {
                running_ns = s.sched.stalled_ns(&self.clock, since, running_ns);
            }
            if running_ns >= self.threshold_ns {
                out.push(Stall {
                    site,
                    thread: s.thread.clone(),
                    running_ns,
                    identity: (Arc::as_ptr(s) as usize, since),
                });
            }
        }
        out
    }
}
