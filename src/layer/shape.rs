//! The shape of concurrency under one parent span: serial chains of
//! siblings and concurrent fan-out, and per-site counts of tasks and of
//! spans that completed in their first poll.
//!
//! Per parent, a fixed array of [`CHILD_SITES`] runs (one per child call
//! site) lives in the parent's node, under the parent's own lock, touched
//! when a child opens or closes: memory is O(live spans). What a run
//! concludes is written into the child site's [`ShapeStats`] (atomics) as
//! soon as it crosses a threshold, so a chain or a fan-out shows while it
//! is still running, and nothing needs doing when the parent closes.

use std::sync::atomic::Ordering::Relaxed;

use crate::layer::span_node::{Closed, ParentRef};
use crate::layer::thread_state::PollMark;
use crate::state::shape_stats::BURST_GAP_NS;
use crate::state::Shared;

/// Child call sites tracked per parent. A parent with more distinct child
/// sites at once reuses a run whose children are all closed; past that,
/// the extra site is not tracked under this parent.
pub(crate) const CHILD_SITES: usize = 4;
const EMPTY: u32 = u32::MAX;

/// What the children of one site did under one parent.
#[derive(Debug, Clone, Copy)]
struct Run {
    site: u32,
    /// Children of this site open now, and the most at once.
    open: u32,
    peak: u32,
    /// The child open now has had no sibling of its site open beside it.
    clean: bool,
    /// The current chain: consecutive, non-overlapping, mostly idle.
    chain: u32,
    sum_ns: u64,
    max_ns: u64,
    /// Close time (ticks) and duration of the chain's last child, and the
    /// poll it closed in, inside its parent (none: not inside the
    /// parent, as a spawned child closes in its own task).
    last_closed: u64,
    last_ns: u64,
    last_poll: PollMark,
    /// Children opened in the current run (see [`Burst`]), when the last
    /// one opened, and the task poll it opened in (`PollMark::task_poll`;
    /// 0: none).
    burst_last: u64,
    burst: u32,
    burst_poll: u64,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            site: EMPTY,
            open: 0,
            peak: 0,
            clean: false,
            chain: 0,
            sum_ns: 0,
            max_ns: 0,
            last_closed: 0,
            last_ns: 0,
            last_poll: PollMark::NONE,
            burst_last: 0,
            burst: 0,
            burst_poll: 0,
        }
    }
}

impl Run {
    fn reset_chain(&mut self) {
        self.chain = 0;
        self.sum_ns = 0;
        self.max_ns = 0;
    }
}

/// Under the parent's lock: what its children of each site did. Made on
/// the first child, so leaf spans (most of them) carry one pointer.
#[derive(Debug, Default)]
pub(crate) struct ChildShape {
    runs: Option<Box<[Run; CHILD_SITES]>>,
}

impl ChildShape {
    fn find(&mut self, site: u32) -> Option<&mut Run> {
        self.runs.as_mut()?.iter_mut().find(|r| r.site == site)
    }

    fn find_or_claim(&mut self, site: u32) -> Option<&mut Run> {
        let runs = self.runs.get_or_insert_with(Default::default);
        let i = match runs.iter().position(|r| r.site == site) {
            Some(i) => i,
            // A free run, else one whose children are all closed (the
            // oldest chain is the one lost).
            None => {
                let i = runs
                    .iter()
                    .position(|r| r.site == EMPTY)
                    .or_else(|| runs.iter().position(|r| r.open == 0))?;
                runs[i] = Run {
                    site,
                    ..Run::default()
                };
                i
            }
        };
        Some(&mut runs[i])
    }

    /// A child of `site` opened at `now` (clock ticks) under `parent`,
    /// in the poll `poll` on this thread. Runs of arrivals go by the task
    /// poll alone ([`PollMark::task_poll`]): in `block_on` a span entered
    /// for the whole program would make every spawn one run.
    pub(crate) fn child_opened(
        &mut self,
        shared: &Shared,
        parent: &ParentRef<'_>,
        site: u32,
        now: u64,
        poll: PollMark,
    ) {
        let Some(r) = self.find_or_claim(site) else {
            return;
        };
        if r.open > 0 {
            // Overlapping siblings: whatever this is, it is not serial.
            r.reset_chain();
            r.clean = false;
        } else {
            r.clean = true;
            // A loop that waits on something else between its children
            // (a queue, a timer) is a consumer, not a chain of fetches. A
            // child that closed inside its parent, in a poll, must be
            // followed in that same poll: a loop that returned `Pending`
            // between its children waited on something else, however short
            // the wait (a 10 ms interval around calls the host slowed to
            // 7 ms). A spawned child closes in its own task's poll, where
            // only the gap tells. In every case the gap must not exceed the
            // last child's own duration.
            if r.chain > 0
                && ((r.last_poll.is_some() && r.last_poll != poll)
                    || shared.clock.delta_as_nanos(r.last_closed, now) > r.last_ns)
            {
                r.reset_chain();
            }
        }
        r.open += 1;
        // Children opened in one poll of a task are one list handed out at
        // once, however long the host kept the worker from its CPU between
        // two of them (an accept loop yields every 128 accepts, by tokio's
        // budget); across polls, or outside a task, the gap decides.
        let task_poll = poll.task_poll();
        let same_poll = task_poll != 0 && r.burst_poll == task_poll;
        if r.burst == 0
            || (!same_poll && shared.clock.delta_as_nanos(r.burst_last, now) > BURST_GAP_NS)
        {
            r.burst = 0;
        }
        r.burst_last = now;
        r.burst_poll = task_poll;
        r.burst += 1;
        if r.burst >= 2 {
            let stats = &shared.sites.get(site).shape;
            if stats.fanout_burst.load(Relaxed) < r.burst as u64 {
                stats.fanout_burst.fetch_max(r.burst as u64, Relaxed);
            }
        }
        if r.open > r.peak {
            r.peak = r.open;
            if r.peak >= 2 {
                let stats = &shared.sites.get(site).shape;
                let peak = r.peak as u64;
                if stats.fanout_peak.load(Relaxed) < peak {
                    stats.fanout_peak.fetch_max(peak, Relaxed);
                    stats.fanout_parent.store(parent.site, Relaxed);
                }
                if peak == shared.config.shape.fanout_threshold {
                    stats.fanout_parents.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// A child closed under `parent`.
    pub(crate) fn child_closed(
        &mut self,
        shared: &Shared,
        parent: &ParentRef<'_>,
        closed: &Closed,
    ) {
        let Some(r) = self.find(closed.site) else {
            return;
        };
        r.open = r.open.saturating_sub(1);
        if r.open > 0 {
            r.clean = false;
            return;
        }
        let cfg = &shared.config.shape;
        let idle = closed.duration_ns >= shared.ns.serial_min_await
            && closed.busy_ns.saturating_mul(2) < closed.duration_ns;
        if !r.clean || !idle || parent.sequential_intended {
            r.reset_chain();
            return;
        }
        let d = closed.duration_ns;
        let before = r.sum_ns - r.max_ns;
        r.chain += 1;
        r.sum_ns += d;
        r.max_ns = r.max_ns.max(d);
        r.last_closed = closed.closed;
        r.last_ns = d;
        r.last_poll = closed.poll;
        if r.chain < cfg.serial_chain || is_pool_worker(shared, parent.site) {
            return;
        }
        let stats = &shared.sites.get(closed.site).shape;
        let avoidable = r.sum_ns - r.max_ns;
        if r.chain == cfg.serial_chain {
            stats.serial_chains.fetch_add(1, Relaxed);
            stats.serial_calls.fetch_add(r.chain as u64, Relaxed);
            stats.serial_total_ns.fetch_add(r.sum_ns, Relaxed);
            stats.serial_avoidable_ns.fetch_add(avoidable, Relaxed);
            stats.serial_parent.store(parent.site, Relaxed);
        } else {
            stats.serial_calls.fetch_add(1, Relaxed);
            stats.serial_total_ns.fetch_add(d, Relaxed);
            stats
                .serial_avoidable_ns
                .fetch_add(avoidable - before, Relaxed);
        }
        stats.serial_longest.fetch_max(r.chain as u64, Relaxed);
    }
}

/// Whether spans of `site` are one worker of a pool: instances of it ran
/// side by side under one parent, or it is a task spawned from a site that
/// had several alive at once. A worker's serial loop is the bounded pool
/// of scenario 2 working as meant, not scenario 1.
fn is_pool_worker(shared: &Shared, site: u32) -> bool {
    let s = &shared.sites.get(site).shape;
    s.fanout_peak.load(Relaxed) >= 2
        || s.tasks
            .get()
            .is_some_and(|t| t.span_peak.load(Relaxed) >= 2 || t.peak.load(Relaxed) >= 2)
}

/// A span of `site` was created (`task`: one of tokio's task spans, as its
/// callsite's class says): counts tokio's task spans per spawn site.
#[inline(always)]
pub(crate) fn span_opened(shared: &Shared, site: u32, task: bool, now: u64, poll: u64) {
    if task {
        task_span_opened(shared, site, now, poll);
    }
}

#[inline(never)]
fn task_span_opened(shared: &Shared, site: u32, now: u64, poll: u64) {
    let t = shared.sites.get(site).shape.tasks();
    t.span_burst.arrived(shared, now, poll);
    let live =
        (t.span_opened.fetch_add(1, Relaxed) + 1).saturating_sub(t.span_closed.load(Relaxed));
    if t.span_peak.load(Relaxed) < live {
        t.span_peak.fetch_max(live, Relaxed);
    }
}

/// A span closed (`task`: one of tokio's task spans): counts task spans'
/// closes and trivial completions per spawn site; nothing for other spans.
#[inline(always)]
pub(crate) fn span_closed(shared: &Shared, closed: &Closed, task: bool) {
    // Only task sites read their spans' closes (the share of trivial
    // tasks): any other span's close writes no shared line here.
    if task {
        task_span_closed(shared, closed);
    }
}

#[inline(never)]
fn task_span_closed(shared: &Shared, closed: &Closed) {
    let stats = &shared.sites.get(closed.site).shape;
    stats.tasks().span_closed.fetch_add(1, Relaxed);
    stats.closed.fetch_add(1, Relaxed);
    // A task span (tokio's task spans are instrumented futures) that
    // completed in its first poll was entered twice: the poll, and the
    // drop that `Instrumented` enters the span for. Only tasks count: an
    // inline `#[instrument]`ed future awaited in place costs next to
    // nothing when it happens not to wait (a buffered write with room),
    // and making it sync would be wrong advice for code that does I/O.
    if closed.enters == 2 && closed.busy_ns <= shared.ns.trivial_busy {
        stats.trivial.fetch_add(1, Relaxed);
        stats.trivial_busy_ns.fetch_add(closed.busy_ns, Relaxed);
        stats
            .trivial_wait_ns
            .fetch_add(closed.duration_ns.saturating_sub(closed.busy_ns), Relaxed);
    }
}
