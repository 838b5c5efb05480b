//! What the concurrency-shape detectors have seen of each call site:
//! serial chains, fan-out peaks, spans and tasks that never suspended, and
//! the tasks of each spawn site. Written by the layer and the spawn helper,
//! read by the detectors.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use super::Shared;

/// The gap that ends a run of arrivals. A loop over a list spawns (or
/// opens children) back to back for as long as the list lasts. An accept
/// loop spawns one task per connection; it too comes in runs, as it drains
/// the listen backlog, but a run ends whenever the backlog does. Measured
/// on a loaded 2-core host (debug build): 137 to 198 at most for 1,000
/// clients connecting as fast as they could, 861 for a loop spawning
/// 20,000 tasks (its runs broken by preemption). So a run of
/// [`LIST_BURST`] or more reads as a list handed out at once, not a server
/// taking its connections, however many it holds: the fan-out and
/// excess-task detectors require one. A heuristic with a margin of about
/// 2.5x each way. Arrivals from one task poll are one run whatever the
/// gaps, a parent's children (`layer::shape`) and a site's spawns
/// ([`Burst`]) alike: an accept loop yields every 128 accepts, by tokio's
/// budget, so only the gap decides for arrivals outside a task or across
/// its polls.
pub(crate) const BURST_GAP_NS: u64 = 200_000;
/// A run of arrivals that reads as a list handed out at once.
pub(crate) const LIST_BURST: u64 = 512;

/// Counts arrivals in runs (no gap over [`BURST_GAP_NS`], or none left
/// the task poll they came from) and keeps the longest run. Relaxed
/// atomics: a race loses a count or ends a run a little early, never more.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    last: AtomicU64,
    /// The task poll the last arrival came from (its
    /// `PollMark::task_poll`, an identity compared for equality); 0 when
    /// it came from none.
    poll: AtomicU64,
    count: AtomicU64,
    peak: AtomicU64,
}

impl Burst {
    /// One arrival at `now` (clock ticks), from task poll `poll` on this
    /// thread (`PollMark::task_poll`; 0: none).
    pub(crate) fn arrived(&self, shared: &Shared, now: u64, poll: u64) {
        let last = self.last.swap(now.max(1), Relaxed);
        self.step(shared, last, now, poll);
    }

    /// One arrival that took from `start` to `end` (clock ticks), from task
    /// poll `poll` (`PollMark::task_poll`; 0: none): the gap is measured from
    /// the end of the previous one, so time spent inside the arrival itself
    /// never ends a run.
    pub(crate) fn arrived_during(&self, shared: &Shared, start: u64, end: u64, poll: u64) {
        let last = self.last.swap(end.max(1), Relaxed);
        self.step(shared, last, start, poll);
    }

    /// Counts an arrival at `at` after the previous one's `last`: the run
    /// goes on when both came from one task poll, whatever the gap (a host
    /// that preempts a loop over a list does not split the list; an accept
    /// loop yields every 128 accepts, by tokio's budget), else when the gap
    /// is short.
    fn step(&self, shared: &Shared, last: u64, at: u64, poll: u64) {
        let same_poll = self.poll.swap(poll, Relaxed) == poll && poll != 0;
        let n = if last == 0 || (!same_poll && shared.clock.delta_as_nanos(last, at) > BURST_GAP_NS)
        {
            self.count.store(1, Relaxed);
            1
        } else {
            self.count.fetch_add(1, Relaxed) + 1
        };
        if self.peak.load(Relaxed) < n {
            self.peak.fetch_max(n, Relaxed);
        }
    }

    /// The longest run of arrivals seen.
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }
}

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
    /// Most children of this site opened under one parent within one
    /// run (see [`Burst`]): a list fanned out at once, not arrivals.
    pub(crate) fanout_burst: AtomicU64,
    /// Task spans closed, and those that completed in their first poll
    /// with tiny busy time, with their busy and waiting nanoseconds.
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
    /// Runs of spawns (see [`Burst`]), seen each way.
    pub(crate) burst: Burst,
    pub(crate) span_burst: Burst,
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

    /// The longest run of spawns.
    pub(crate) fn burst_peak(&self) -> u64 {
        self.burst.peak().max(self.span_burst.peak())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tick the doctor's clock reads as more than `ns` after `from`.
    fn later(shared: &Shared, from: u64, ns: u64) -> u64 {
        let mut t = from;
        while shared.clock.delta_as_nanos(from, t) <= ns {
            t += 1 + (t - from) / 2;
        }
        t
    }

    #[test]
    fn a_long_gap_ends_a_run_unless_both_arrivals_came_from_one_task_poll() {
        let doctor = crate::Doctor::builder().no_endpoint().build().unwrap();
        let shared = &doctor.shared;
        let t0 = shared.clock.raw();
        let gap = later(shared, t0, BURST_GAP_NS) - t0;
        // Outside any task poll: the gap decides.
        let b = Burst::default();
        b.arrived(shared, t0, 0);
        b.arrived(shared, t0 + gap / 4, 0);
        assert_eq!(b.peak(), 2);
        b.arrived(shared, t0 + gap / 4 + gap, 0);
        assert_eq!((b.peak(), b.count.load(Relaxed)), (2, 1));
        // In one poll (it began at t0): gaps do not end it.
        let b = Burst::default();
        for k in 0..5 {
            b.arrived(shared, t0 + k * gap * 3, t0);
        }
        assert_eq!(b.peak(), 5);
        // A later poll, with a gap, begins a new run.
        b.arrived(shared, t0 + 20 * gap, t0 + 19 * gap);
        assert_eq!((b.peak(), b.count.load(Relaxed)), (5, 1));
        // `arrived_during` measures from the end of the previous arrival.
        let b = Burst::default();
        b.arrived_during(shared, t0, t0 + 10 * gap, 0);
        b.arrived_during(shared, t0 + 10 * gap + gap / 2, t0 + 11 * gap, 0);
        assert_eq!(b.peak(), 2);
    }
}
