//! Per-thread shards: what one thread records of its polls, written by
//! that thread alone and read by the watchdog and the exporter.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64};

use super::histogram::OwnedHistogram;

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
    pub(crate) sched: crate::state::sched::SchedSample,
    /// Polls past the threshold on the wall clock that mostly waited for a
    /// CPU. Written by the owning thread only.
    pub(crate) preempted: AtomicU64,
    /// Span nodes this thread created minus those it freed (a node may be
    /// freed on another thread, so one shard's count can be negative; the
    /// sum over all shards is the number alive). Owning thread writes.
    pub(crate) nodes: AtomicI64,
}

impl ThreadShard {
    pub(super) fn new() -> ThreadShard {
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
            sched: crate::state::sched::SchedSample::for_current_thread(),
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
