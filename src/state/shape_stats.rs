//! What the concurrency-shape detectors have seen of each call site:
//! serial chains, fan-out peaks, spans and tasks that never suspended, and
//! the tasks of each spawn site. Written by the layer and the spawn helper,
//! read by the detectors.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

/// Per child site: what the shape detectors have seen of it.
#[derive(Debug, Default)]
pub(crate) struct ShapeStats {
    /// Serial chains that reached the threshold, the calls in them, their
    /// summed and avoidable (sum − longest) nanoseconds, the longest chain,
    /// and the parent site of the latest.
    pub(crate) serial_chains: AtomicU64,
    pub(crate) serial_calls: AtomicU64,
    pub(crate) serial_total_ns: AtomicU64,
    pub(crate) serial_avoidable_ns: AtomicU64,
    pub(crate) serial_longest: AtomicU64,
    pub(crate) serial_parent: AtomicU32,
    /// Most spans of this site open at once under one parent, the parent
    /// site of that peak, and parents that crossed the fan-out threshold.
    pub(crate) fanout_peak: AtomicU64,
    pub(crate) fanout_parent: AtomicU32,
    pub(crate) fanout_parents: AtomicU64,
    /// Spans closed, and those that completed in their first poll with
    /// tiny busy time, with their busy and waiting nanoseconds.
    pub(crate) closed: AtomicU64,
    pub(crate) trivial: AtomicU64,
    pub(crate) trivial_busy_ns: AtomicU64,
    pub(crate) trivial_wait_ns: AtomicU64,
    /// Made the first time the site spawns a task.
    pub(crate) tasks: OnceLock<Box<TaskStats>>,
}

impl ShapeStats {
    pub(crate) fn tasks(&self) -> &TaskStats {
        self.tasks.get_or_init(Default::default)
    }
}

/// Tasks of one spawn site, counted two ways: by
/// [`tokio_doctor::spawn`](crate::spawn), and by tokio's task spans. A task
/// may be seen both ways; readers take the larger.
#[derive(Debug, Default)]
pub(crate) struct TaskStats {
    /// Through `tokio_doctor::spawn`: spawned, finished (completed, or
    /// dropped unfinished), most alive at once, completed in their first
    /// poll with tiny busy time.
    pub(crate) spawned: AtomicU64,
    pub(crate) finished: AtomicU64,
    pub(crate) peak: AtomicU64,
    pub(crate) trivial: AtomicU64,
    pub(crate) trivial_busy_ns: AtomicU64,
    pub(crate) trivial_wait_ns: AtomicU64,
    /// Through tokio's task spans (`tokio_unstable`).
    pub(crate) span_opened: AtomicU64,
    pub(crate) span_closed: AtomicU64,
    pub(crate) span_peak: AtomicU64,
}

impl TaskStats {
    /// (spawned, finished) by the larger count: a task seen both ways
    /// counts once.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let a = (self.spawned.load(Relaxed), self.finished.load(Relaxed));
        let b = (
            self.span_opened.load(Relaxed),
            self.span_closed.load(Relaxed),
        );
        if b.0 > a.0 {
            b
        } else {
            a
        }
    }

    pub(crate) fn live(&self) -> u64 {
        let a = self
            .spawned
            .load(Relaxed)
            .saturating_sub(self.finished.load(Relaxed));
        let b = self
            .span_opened
            .load(Relaxed)
            .saturating_sub(self.span_closed.load(Relaxed));
        a.max(b)
    }

    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Relaxed).max(self.span_peak.load(Relaxed))
    }
}
