//! The per-thread half of the layer: a fixed-size stack of entered spans and
//! a small cache from span id to site.
//!
//! Everything here is owned by one thread, so enter and exit touch no shared
//! cache line except the thread's own shard, allocate nothing and take no
//! lock. State is kept per doctor (a process may run several, as tests do).

use std::cell::RefCell;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Weak};

use crate::state::sites::OTHER;
use crate::state::{Shared, ThreadShard};

/// Deepest span nesting tracked per thread. Deeper frames are not timed
/// (their time still counts in the frames below them).
const MAX_DEPTH: usize = 48;
/// Entries in the id → site cache (direct-mapped).
const CACHE: usize = 512;
/// Doctors that can have state on one thread at once.
const SLOTS: usize = 4;
const NO_ROOT: usize = usize::MAX;
/// The site of a span the doctor declined but another layer enabled: its
/// enters and exits are skipped, as if it did not exist.
pub(crate) const IGNORED: u32 = u32::MAX;

#[derive(Clone, Copy, Default)]
struct Frame {
    id: u64,
    site: u32,
    reentrant: bool,
    start: u64,
    child_ns: u64,
}

/// Which poll a thread is in: the enter of the outermost span entered on
/// it now (clock ticks, to two ticks), which on a runtime worker is the
/// task's poll and in `block_on` the main future's, and whether it is a
/// task's. Two marks that agree mean nothing on this thread returned
/// `Pending` in between; two enters, on one thread or two, never share a
/// tick. One word, so the span path carries it at no extra cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PollMark(u64);

impl PollMark {
    /// In no poll: no span is entered on the thread.
    pub(crate) const NONE: PollMark = PollMark(0);

    /// Whether a span is entered on the thread.
    #[inline(always)]
    pub(crate) fn is_some(self) -> bool {
        self != Self::NONE
    }

    /// The task poll this is, where it is one (on a runtime worker):
    /// nonzero and the same for every mark of that poll; else 0. A span
    /// entered in `block_on` for a whole program is no task poll.
    #[inline(always)]
    pub(crate) fn task_poll(self) -> u64 {
        if self.0 & 1 == 1 {
            self.0
        } else {
            0
        }
    }
}

pub(crate) struct ThreadState {
    owner: u64,
    owner_ref: Weak<Shared>,
    shard: Arc<ThreadShard>,
    stack: [Frame; MAX_DEPTH],
    depth: usize,
    /// Stack index of the frame that began the current poll, if any.
    poll_root: usize,
    blame_site: u32,
    blame_self_ns: u64,
    cache: [CacheEntry; CACHE],
    /// This stack holds every span the registry's stack holds on this
    /// thread but the declined ones and those entered past [`MAX_DEPTH`],
    /// in the same order (poll frames aside). Cleared for good by the first
    /// exit out of order, after which it may not.
    mirrors_registry: bool,
}

/// A span seen on this thread: its site, and the time it spent entered
/// here (read once, when it closes, by the shape detectors).
#[derive(Clone, Copy, Default)]
struct CacheEntry {
    id: u64,
    site: u32,
    enters: u32,
    busy_ns: u64,
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        self.shard.poll_since.store(0, Release);
        self.shard.retired.store(true, Release);
    }
}

/// What the layer needs to know about a finished poll that crossed the
/// blocking threshold (the rare, slow path).
pub(crate) struct SlowPoll {
    pub(crate) elapsed_ns: u64,
    pub(crate) site: u32,
    pub(crate) self_ns: u64,
}

impl ThreadState {
    fn new(shared: &Arc<Shared>) -> ThreadState {
        ThreadState {
            owner: shared.id,
            owner_ref: Arc::downgrade(shared),
            shard: shared.register_thread(),
            stack: [Frame::default(); MAX_DEPTH],
            depth: 0,
            poll_root: NO_ROOT,
            blame_site: OTHER,
            blame_self_ns: 0,
            cache: [CacheEntry::default(); CACHE],
            mirrors_registry: true,
        }
    }

    #[inline(always)]
    fn cache_slot(id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as usize & (CACHE - 1)
    }

    #[inline(always)]
    pub(crate) fn enter(&mut self, id: u64, now: u64, site_of: impl FnOnce() -> u32) {
        if self.depth == MAX_DEPTH {
            return;
        }
        let slot = Self::cache_slot(id);
        let entry = &mut self.cache[slot];
        let site = if entry.id == id {
            entry.enters = entry.enters.wrapping_add(1);
            entry.site
        } else {
            let site = site_of();
            *entry = CacheEntry {
                id,
                site,
                enters: 1,
                busy_ns: 0,
            };
            site
        };
        if site == IGNORED {
            return;
        }
        self.push(id, now, site);
    }

    /// The span the registry calls current on this thread (the innermost
    /// entered, not re-entered), read from this thread's own stack without
    /// asking the registry: `Some(None)` when none is entered, `None` when
    /// this stack may not mirror the registry's (see `mirrors_registry`).
    /// Valid only for the subscriber whose layer alone feeds this state,
    /// and only while no span the doctor declined was ever entered (this
    /// stack skips them; the registry may call one current).
    #[inline]
    pub(crate) fn registry_current(&self) -> Option<Option<u64>> {
        // A full stack may have dropped enters: while one of those spans
        // is entered, every frame below it is too (exits in order), so the
        // stack is still full.
        if !self.mirrors_registry || self.depth == MAX_DEPTH {
            return None;
        }
        let top = self.stack[..self.depth]
            .iter()
            .rev()
            .find(|f| !f.reentrant && !PollFrame::is_poll_frame(f.id));
        Some(top.map(|f| f.id))
    }

    /// The poll running on this thread, for a span created or closed here
    /// (see [`PollMark`]).
    #[inline(always)]
    pub(crate) fn poll_mark(&self) -> PollMark {
        if self.depth == 0 {
            return PollMark::NONE;
        }
        PollMark(self.stack[0].start & !1 | (self.poll_root != NO_ROOT) as u64)
    }

    /// [`Self::poll_mark`] where span `parent` is the innermost span
    /// entered here, as a closing span's parent is when the span closed
    /// inside it (not in a task of its own); else none.
    #[inline(always)]
    pub(crate) fn poll_mark_under(&self, parent: u64) -> PollMark {
        match self.depth.checked_sub(1) {
            Some(top) if self.stack[top].id == parent => self.poll_mark(),
            _ => PollMark::NONE,
        }
    }

    /// Pushes the frame of `id` at `site` (the stack has room).
    #[inline(always)]
    fn push(&mut self, id: u64, now: u64, site: u32) {
        // Re-entering a span already entered on this thread: only the
        // outermost enter is timed.
        let reentrant = self.stack[..self.depth].iter().any(|f| f.id == id);
        if self.poll_root == NO_ROOT && tokio::runtime::worker_index().is_some() {
            // The outermost span entered on a runtime worker begins a poll.
            // Blocking-pool and foreign threads never start one, so work
            // moved to `spawn_blocking` is (rightly) never blamed.
            self.poll_root = self.depth;
            self.blame_site = site;
            self.blame_self_ns = 0;
            self.shard.poll_site.store(site, Relaxed);
            self.shard.poll_since.store(now.max(1), Release);
        } else if self.poll_root != NO_ROOT && !reentrant {
            // The watchdog blames a poll that is still running on the
            // innermost span entered so far.
            self.shard.poll_site.store(site, Relaxed);
        }
        self.stack[self.depth] = Frame {
            id,
            site,
            reentrant,
            start: now,
            child_ns: 0,
        };
        self.depth += 1;
    }

    /// Pops `id` (and, if exits came out of order, the frames above it).
    /// Returns the finished poll when it crossed `threshold_ns`.
    #[inline(always)]
    pub(crate) fn exit(
        &mut self,
        id: u64,
        now: u64,
        clock: &quanta::Clock,
        threshold_ns: u64,
    ) -> Option<SlowPoll> {
        let pos = self.stack[..self.depth].iter().rposition(|f| f.id == id)?;
        let mut slow = None;
        if pos + 1 != self.depth {
            slow = self.exit_out_of_order(pos + 1, now, clock, threshold_ns);
        }
        self.pop(now, clock, threshold_ns).or(slow)
    }

    /// Exits out of order: the frames above `depth` are popped first (their
    /// spans exit later, unseen), where the registry pops the exiting span
    /// alone; from now on this stack no longer mirrors the registry's.
    #[cold]
    #[inline(never)]
    fn exit_out_of_order(
        &mut self,
        depth: usize,
        now: u64,
        clock: &quanta::Clock,
        threshold_ns: u64,
    ) -> Option<SlowPoll> {
        self.mirrors_registry = false;
        let mut slow = None;
        while self.depth > depth {
            slow = self.pop(now, clock, threshold_ns).or(slow);
        }
        slow
    }

    /// Pops the top frame (the stack is not empty); the finished poll when
    /// it began the poll and crossed `threshold_ns`.
    #[inline(always)]
    fn pop(&mut self, now: u64, clock: &quanta::Clock, threshold_ns: u64) -> Option<SlowPoll> {
        self.depth -= 1;
        let f = self.stack[self.depth];
        let elapsed = clock.delta_as_nanos(f.start, now);
        if !f.reentrant {
            let entry = &mut self.cache[Self::cache_slot(f.id)];
            if entry.id == f.id {
                entry.busy_ns = entry.busy_ns.wrapping_add(elapsed);
            }
            let self_ns = elapsed.saturating_sub(f.child_ns);
            if self_ns > self.blame_self_ns {
                self.blame_self_ns = self_ns;
                self.blame_site = f.site;
            }
            if self.depth > 0 {
                let parent = &mut self.stack[self.depth - 1];
                parent.child_ns = parent.child_ns.saturating_add(elapsed);
                if self.poll_root != NO_ROOT && self.depth > self.poll_root {
                    self.shard.poll_site.store(parent.site, Relaxed);
                }
            }
        }
        if self.depth == self.poll_root {
            self.poll_root = NO_ROOT;
            self.shard.poll_since.store(0, Release);
            self.shard.polls.record_owned(elapsed);
            if elapsed >= threshold_ns {
                return self.slow_poll(clock, f.start.max(1), elapsed, threshold_ns);
            }
        }
        None
    }
}

/// Frames that are no span but mark a poll: a task poll seen through
/// tokio's poll hooks, a task spawned by `tokio_doctor::spawn`, and a
/// request's poll through `TaskMonitorLayer`. No span has these ids (the
/// registry's are small slab indices); each kind has its own, so a request
/// polled inside a hooked task poll nests in it.
#[derive(Clone, Copy)]
pub(crate) enum PollFrame {
    /// A task poll, through tokio's poll hooks (`tokio_unstable`).
    #[cfg(tokio_unstable)]
    Task = -2,
    /// A request's poll through `TaskMonitorLayer`'s future, or a job's
    /// through `Doctor::monitor_job`'s.
    Route = -3,
    /// A poll of a task spawned by `tokio_doctor::spawn`.
    Spawned = -4,
}

impl PollFrame {
    fn id(self) -> u64 {
        self as i64 as u64
    }

    /// Whether a frame's id is a poll frame's, not a span's.
    #[inline(always)]
    fn is_poll_frame(id: u64) -> bool {
        id >= PollFrame::Spawned.id()
    }
}

impl ThreadState {
    /// A poll that no span marks begins, at `site` (the task's spawn
    /// location, the request's route). Spans entered during it nest inside.
    /// Its frame takes no entry in the span cache: its id is the same for
    /// every task (so it would be of no use) and an entry would evict a
    /// span's.
    #[inline]
    pub(crate) fn enter_poll(&mut self, frame: PollFrame, now: u64, site: u32) {
        if self.depth < MAX_DEPTH {
            self.push(frame.id(), now, site);
        }
    }

    /// That poll ends; the finished poll when it crossed `threshold_ns`.
    #[inline]
    pub(crate) fn exit_poll(
        &mut self,
        frame: PollFrame,
        now: u64,
        clock: &quanta::Clock,
        threshold_ns: u64,
    ) -> Option<SlowPoll> {
        self.exit(frame.id(), now, clock, threshold_ns)
    }
}

impl ThreadState {
    /// What this thread saw of span `id` (time entered, times entered), and
    /// forgets it: called when the span closes, so a reused id starts clean.
    pub(crate) fn take_span(&mut self, id: u64) -> Option<(u64, u32)> {
        let entry = &mut self.cache[Self::cache_slot(id)];
        if entry.id != id {
            return None;
        }
        let seen = (entry.busy_ns, entry.enters);
        *entry = CacheEntry::default();
        Some(seen)
    }

    /// Notes span `id`, just created here at `site`, so that its first
    /// enter on this thread finds its site without asking the node table
    /// (a lock) or the registry. Only into a free entry or one no span was
    /// entered under yet: what this thread counted of a live span is never
    /// evicted by a span that may never be entered here.
    #[inline]
    pub(crate) fn note_new_span(&mut self, id: u64, site: u32) {
        let entry = &mut self.cache[Self::cache_slot(id)];
        if entry.enters == 0 {
            *entry = CacheEntry {
                id,
                site,
                enters: 0,
                busy_ns: 0,
            };
        }
    }

    /// Clock ticks at which the poll running on this thread began, if a
    /// poll is running (a span was entered on a runtime worker).
    pub(crate) fn poll_start(&self) -> Option<u64> {
        (self.poll_root != NO_ROOT).then(|| self.stack[self.poll_root].start)
    }

    /// Counts a span node created (`+1`) or freed (`-1`) by this thread, in
    /// the thread's own shard: no shared line is written per span.
    pub(crate) fn count_node(&self, delta: i64) {
        let n = &self.shard.nodes;
        n.store(n.load(Relaxed).wrapping_add(delta), Relaxed);
    }

    /// Whether this state's doctor is started (its watchdog renews the
    /// scheduler notes). Slow path only: it upgrades a weak reference.
    fn watched(&self) -> bool {
        self.owner_ref
            .upgrade()
            .is_some_and(|s| s.started.load(Relaxed))
    }

    /// A poll past the threshold on the wall clock: keep it if the thread
    /// was on a CPU (or blocked in a syscall) for at least the threshold.
    #[cold]
    fn slow_poll(
        &self,
        clock: &quanta::Clock,
        since: u64,
        wall_ns: u64,
        threshold_ns: u64,
    ) -> Option<SlowPoll> {
        let on_cpu = self
            .shard
            .sched
            .on_cpu_ns(clock, since, wall_ns, self.watched());
        if on_cpu < threshold_ns {
            let p = &self.shard.preempted;
            p.store(p.load(Relaxed) + 1, Relaxed);
            return None;
        }
        Some(SlowPoll {
            elapsed_ns: on_cpu,
            site: self.blame_site,
            self_ns: self.blame_self_ns.min(on_cpu),
        })
    }
}

struct Slots([Option<Box<ThreadState>>; SLOTS]);

thread_local! {
    static STATES: RefCell<Slots> = const { RefCell::new(Slots([None, None, None, None])) };
}

/// Runs `f` on this thread's state for `shared` (whose id is `owner`, passed
/// apart so the hot path never reads a line of `Shared` that other threads
/// write), creating it on first use.
/// Never panics: if the state is unavailable (thread teardown, re-entrancy
/// from inside a callback) the event is skipped.
#[inline(always)]
pub(crate) fn with_state<R>(
    owner: u64,
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut ThreadState) -> R,
) -> Option<R> {
    STATES
        .try_with(|cell| {
            let mut slots = cell.try_borrow_mut().ok()?;
            let slots = &mut slots.0;
            if let Some(Some(st)) = slots
                .iter_mut()
                .find(|s| matches!(s, Some(st) if st.owner == owner))
            {
                return Some(f(st));
            }
            claim_slot(slots, shared).map(f)
        })
        .ok()
        .flatten()
}

/// Gives this thread its state (and shard) for `shared` if it has none:
/// how a runtime worker that enters no span becomes visible to the
/// watchdog. A thread-local lookup once it exists.
pub(crate) fn register_this_thread(shared: &Arc<Shared>) {
    with_state(shared.id, shared, |_| ());
}

/// [`with_state`] only where this thread already has state for the doctor
/// `owner` (made by a span, the lag probe or a poll hook): what a caller
/// that holds no `Arc<Shared>` uses.
#[inline]
pub(crate) fn with_existing_state<R>(
    owner: u64,
    f: impl FnOnce(&mut ThreadState) -> R,
) -> Option<R> {
    STATES
        .try_with(|cell| {
            let mut slots = cell.try_borrow_mut().ok()?;
            let st = slots.0.iter_mut().flatten().find(|st| st.owner == owner)?;
            Some(f(st))
        })
        .ok()
        .flatten()
}

#[cold]
fn claim_slot<'a>(
    slots: &'a mut [Option<Box<ThreadState>>; SLOTS],
    shared: &Arc<Shared>,
) -> Option<&'a mut ThreadState> {
    // Free the state of doctors that have been dropped.
    for s in slots.iter_mut() {
        if s.as_ref()
            .is_some_and(|st| st.owner_ref.strong_count() == 0)
        {
            *s = None;
        }
    }
    let free = slots.iter_mut().find(|s| s.is_none())?;
    *free = Some(Box::new(ThreadState::new(shared)));
    free.as_deref_mut()
}

/// Of `wall_ns` of a poll that began at clock tick `since` on this thread,
/// the part the thread was not waiting for a CPU, from this thread's shard
/// of the doctor `owner` (see `SchedSample::on_cpu_ns`): how a route's
/// future, which is no span, is judged on the span view's corrected time.
/// `wall_ns` when this thread keeps no state for that doctor (there are no
/// notes to judge by). Slow path only: it reads `/proc`.
#[cold]
pub(crate) fn on_cpu_ns(owner: u64, clock: &quanta::Clock, since: u64, wall_ns: u64) -> u64 {
    STATES
        .try_with(|cell| {
            let slots = cell.try_borrow().ok()?;
            let st = slots.0.iter().flatten().find(|st| st.owner == owner)?;
            Some(
                st.shard
                    .sched
                    .on_cpu_ns(clock, since, wall_ns, st.watched()),
            )
        })
        .ok()
        .flatten()
        .unwrap_or(wall_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (Arc<Shared>, Box<ThreadState>) {
        let doctor = crate::Doctor::builder().no_endpoint().build().unwrap();
        let shared = doctor.shared.clone();
        let st = Box::new(ThreadState::new(&shared));
        (shared, st)
    }

    /// The registry's current span is the innermost entered that is not a
    /// re-enter, whatever poll frames lie above it.
    #[test]
    fn the_current_span_is_read_from_the_stack_until_an_exit_comes_out_of_order() {
        let (shared, mut st) = state();
        let clock = shared.clock.clone();
        let t = clock.raw();
        assert_eq!(st.registry_current(), Some(None));
        st.enter(5, t, || 1);
        st.enter_poll(PollFrame::Route, t, 2);
        assert_eq!(st.registry_current(), Some(Some(5)));
        st.enter(7, t, || 1);
        st.enter(5, t, || 1);
        assert_eq!(
            st.registry_current(),
            Some(Some(7)),
            "5 again is a re-enter"
        );
        st.exit(5, t, &clock, u64::MAX);
        st.exit(7, t, &clock, u64::MAX);
        st.exit_poll(PollFrame::Route, t, &clock, u64::MAX);
        assert_eq!(st.registry_current(), Some(Some(5)));
        st.enter(9, t, || 1);
        // 5 exits before 9: the registry keeps 9 entered, this stack not.
        st.exit(5, t, &clock, u64::MAX);
        assert_eq!(st.depth, 0);
        assert_eq!(st.registry_current(), None);
        st.enter(11, t, || 1);
        assert_eq!(st.registry_current(), None, "for good");
    }

    /// A poll mark stays while the outermost span stays entered, whatever
    /// enters and exits happen inside it, and changes with its next enter;
    /// off a runtime worker it is no task poll. Under a parent that is not
    /// the innermost span entered (a child closing in its own task), none.
    #[test]
    fn a_poll_mark_lasts_as_long_as_the_outermost_enter() {
        let (shared, mut st) = state();
        let clock = shared.clock.clone();
        assert!(!st.poll_mark().is_some());
        let t = clock.raw() | 2;
        st.enter(5, t, || 1);
        let mark = st.poll_mark();
        assert!(mark.is_some());
        assert_eq!(mark.task_poll(), 0, "a test thread is no runtime worker");
        st.enter(7, t + 10, || 1);
        assert_eq!(st.poll_mark(), mark);
        assert_eq!(st.poll_mark_under(7), mark);
        assert_eq!(st.poll_mark_under(5), PollMark::NONE, "5 is not innermost");
        st.exit(7, t + 20, &clock, u64::MAX);
        assert_eq!(st.poll_mark_under(5), mark);
        st.exit(5, t + 30, &clock, u64::MAX);
        assert_eq!(st.poll_mark(), PollMark::NONE);
        st.enter(5, t + 40, || 1);
        assert!(st.poll_mark().is_some());
        assert_ne!(st.poll_mark(), mark, "a new enter is a new poll");
    }
}
