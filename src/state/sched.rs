//! How long a thread waited for a CPU: Linux's per-thread scheduler stats.
//!
//! A poll can look slow on the wall clock because the OS took the CPU away
//! (more runnable threads than cores), not because the code blocked. The
//! watchdog notes each worker's scheduler stats: while it is idle or early
//! in a poll that has run for over a millisecond. When a poll ends past the
//! threshold, the time the thread spent waiting for a CPU since that note is
//! subtracted, so a handler preempted by its `spawn_blocking` neighbours is
//! not blamed. A blocking syscall (`std::thread::sleep`, sync file I/O) is
//! not waiting for a CPU, so it is still reported.
//!
//! The kernel is asked only on slow paths (by the watchdog, or at the end
//! of a poll already past the threshold), never per poll. Elsewhere than
//! Linux, polls are judged on wall time alone.

use std::sync::atomic::{AtomicU64, Ordering::*};

/// What the kernel says of a thread of this process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadTimes {
    /// Nanoseconds on a CPU (accounted at context switches and ticks).
    pub(crate) on_cpu_ns: u64,
    /// Nanoseconds runnable but waiting for a CPU (accounted when the
    /// thread gets a CPU back).
    pub(crate) run_delay_ns: u64,
}

/// Polls younger than this are not worth a look: they cannot matter yet.
const LONG_POLL_NS: u64 = 1_000_000;
/// Age after which a thread's note is renewed, whatever it is doing: a
/// /proc read per thread every 20 ms at most.
const REFRESH_NS: u64 = 20_000_000;
/// Baselines kept per thread: the latest one taken before a poll began
/// must still be there when the poll ends, so a poll is fully corrected up
/// to about `(BASES - 1) * REFRESH_NS` of wall time (60 ms): a poll with
/// 2 ms of work on a core shared by seven runnable threads takes 15-40 ms.
const BASES: usize = 4;
/// The `poll` of a thread's own first baseline (see
/// [`SchedSample::first_baseline`]): no poll's `poll_since` is this.
const REGISTERED: u64 = u64::MAX;
/// On-CPU time is accounted at scheduler ticks (4 ms at HZ=250).
const TICK_NS: u64 = 4_000_000;

/// One note of a thread's scheduler stats, behind a sequence lock (odd
/// while being written) so a reader never mixes two notes.
#[derive(Debug, Default)]
struct NoteCell {
    seq: AtomicU64,
    /// `poll_since` of the poll running when the note was taken; 0 if idle.
    poll: AtomicU64,
    tick: AtomicU64,
    on_cpu_ns: AtomicU64,
    run_delay_ns: AtomicU64,
}

struct Note {
    poll: u64,
    tick: u64,
    times: ThreadTimes,
}

impl NoteCell {
    fn write(&self, poll: u64, tick: u64, t: ThreadTimes) {
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq.wrapping_add(1), Release);
        self.poll.store(poll, Relaxed);
        self.tick.store(tick, Relaxed);
        self.on_cpu_ns.store(t.on_cpu_ns, Relaxed);
        self.run_delay_ns.store(t.run_delay_ns, Relaxed);
        self.seq.store(seq.wrapping_add(2), Release);
    }

    fn read(&self) -> Option<Note> {
        let before = self.seq.load(Acquire);
        if before % 2 == 1 || before == 0 {
            return None;
        }
        let note = Note {
            poll: self.poll.load(Relaxed),
            tick: self.tick.load(Relaxed),
            times: ThreadTimes {
                on_cpu_ns: self.on_cpu_ns.load(Relaxed),
                run_delay_ns: self.run_delay_ns.load(Relaxed),
            },
        };
        std::sync::atomic::fence(Acquire);
        (self.seq.load(Relaxed) == before).then_some(note)
    }
}

/// The watchdog's notes of one worker thread: baselines renewed every
/// [`REFRESH_NS`] whatever the thread is doing (the [`BASES`] latest are
/// kept, so a poll that began before the newest ones still has one from
/// before it), and the first note of a long poll.
#[derive(Debug, Default)]
pub(crate) struct SchedSample {
    tid: Option<i32>,
    bases: [NoteCell; BASES],
    /// Which of `bases` was written last.
    newest: std::sync::atomic::AtomicUsize,
    in_poll: NoteCell,
}

impl SchedSample {
    pub(crate) fn for_current_thread() -> SchedSample {
        SchedSample {
            tid: current_tid(),
            ..SchedSample::default()
        }
    }

    /// The kernel's id of the thread, where known.
    pub(crate) fn tid(&self) -> Option<i32> {
        self.tid
    }

    /// Watchdog side. `poll` is the thread's current `poll_since` (0 when
    /// idle).
    pub(crate) fn sample(&self, clock: &quanta::Clock, poll: u64, now: u64) {
        let Some(tid) = self.tid else { return };
        let long_poll = poll != 0 && clock.delta_as_nanos(poll, now) >= LONG_POLL_NS;
        let note_poll = long_poll && self.in_poll.poll.load(Relaxed) != poll;
        let newest = self.newest.load(Relaxed);
        let renew_base = self.bases[newest]
            .read()
            .is_none_or(|n| clock.delta_as_nanos(n.tick, now) >= REFRESH_NS);
        if !note_poll && !renew_base {
            return;
        }
        let Some(t) = thread_times(tid) else { return };
        if note_poll {
            self.in_poll.write(poll, now, t);
        }
        if renew_base {
            self.push_base(poll, now, t);
        }
    }

    /// Writes a baseline over the oldest one; the newer ones stay readable.
    fn push_base(&self, poll: u64, tick: u64, t: ThreadTimes) {
        let next = (self.newest.load(Relaxed) + 1) % BASES;
        self.bases[next].write(poll, tick, t);
        self.newest.store(next, Relaxed);
    }

    /// The thread's own first baseline, taken when it registers (once per
    /// thread, off the hot path). It stands in for the watchdog's notes
    /// until the watchdog's first one, which a watchdog starved on a busy
    /// host may take tens of milliseconds to make: without any note from
    /// before a poll, the poll is judged on its wall time, and a poll that
    /// only waited for a CPU is blamed. It is used only while the doctor
    /// is started (see [`on_cpu_ns`](Self::on_cpu_ns)).
    pub(crate) fn first_baseline(&self, clock: &quanta::Clock) {
        let Some(tid) = self.tid else { return };
        let Some(t) = thread_times(tid) else { return };
        self.push_base(REGISTERED, clock.raw(), t);
    }

    /// Worker side, at the end of a poll past the threshold: of `wall_ns`,
    /// the part the thread was not waiting for a CPU.
    ///
    /// The baseline from before the poll also counts waits just before it
    /// began (an underestimate); the note taken during the poll misses the
    /// waits before it was taken (an overestimate). The smaller wins: a
    /// preempted poll must never be blamed on the code.
    ///
    /// `watched`: the doctor is started, so its watchdog renews the notes.
    /// The thread's own first baseline counts only then: without a
    /// watchdog nothing would replace it, and a baseline also counts the
    /// waits between it and the poll's start, which from long before would
    /// hide a real stall.
    pub(crate) fn on_cpu_ns(&self, since: u64, wall_ns: u64, watched: bool) -> u64 {
        let Some(tid) = self.tid else { return wall_ns };
        let base = self.baseline_before(since, watched);
        let in_poll = self.in_poll.read().filter(|n| n.poll == since);
        if base.is_none() && in_poll.is_none() {
            return wall_ns;
        }
        let Some(now) = thread_times(tid) else {
            return wall_ns;
        };
        [base, in_poll]
            .into_iter()
            .flatten()
            .map(|n| wall_ns.saturating_sub(now.run_delay_ns.saturating_sub(n.times.run_delay_ns)))
            .min()
            .unwrap_or(wall_ns)
    }

    /// The latest baseline taken before a poll that began at `since`; the
    /// thread's own first one only when `watched` (see
    /// [`on_cpu_ns`](Self::on_cpu_ns)).
    fn baseline_before(&self, since: u64, watched: bool) -> Option<Note> {
        self.bases
            .iter()
            .filter_map(NoteCell::read)
            .filter(|n| n.tick <= since && (watched || n.poll != REGISTERED))
            .max_by_key(|n| n.tick)
    }

    /// Of `running_ns` of a poll still running since `since`, the part that
    /// counts as a stall: all of it while the thread sleeps in a syscall;
    /// else the time until the poll's note plus the on-CPU time since, so a
    /// worker merely waiting for a CPU is not a stall.
    pub(crate) fn stalled_ns(&self, clock: &quanta::Clock, since: u64, running_ns: u64) -> u64 {
        let Some(tid) = self.tid else {
            return running_ns;
        };
        let Some(note) = self.in_poll.read().filter(|n| n.poll == since) else {
            return running_ns;
        };
        if is_blocked_in_kernel(tid).unwrap_or(true) {
            return running_ns;
        }
        let Some(now) = thread_times(tid) else {
            return running_ns;
        };
        let until_note = clock.delta_as_nanos(since, note.tick);
        let on_cpu = now.on_cpu_ns.saturating_sub(note.times.on_cpu_ns);
        (until_note + on_cpu + TICK_NS).min(running_ns)
    }
}

/// The calling thread's id, as `/proc` names it.
#[cfg(target_os = "linux")]
fn current_tid() -> Option<i32> {
    // SAFETY: gettid has no preconditions and cannot fail.
    Some(unsafe { libc::syscall(libc::SYS_gettid) } as i32)
}

/// Times of thread `tid` of this process, from `/proc/self/task/<tid>/schedstat`.
#[cfg(target_os = "linux")]
fn thread_times(tid: i32) -> Option<ThreadTimes> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut f = s.split_whitespace();
    let on_cpu_ns = f.next()?.parse().ok()?;
    let run_delay_ns = f.next()?.parse().ok()?;
    Some(ThreadTimes {
        on_cpu_ns,
        run_delay_ns,
    })
}

/// Whether thread `tid` sleeps in the kernel (state `S` or `D`): blocked in
/// a syscall rather than running or waiting for a CPU.
#[cfg(target_os = "linux")]
fn is_blocked_in_kernel(tid: i32) -> Option<bool> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    let state = s[s.rfind(')')? + 1..].split_whitespace().next()?;
    Some(matches!(state, "S" | "D"))
}

#[cfg(not(target_os = "linux"))]
fn current_tid() -> Option<i32> {
    None
}

#[cfg(not(target_os = "linux"))]
fn thread_times(_tid: i32) -> Option<ThreadTimes> {
    None
}

#[cfg(not(target_os = "linux"))]
fn is_blocked_in_kernel(_tid: i32) -> Option<bool> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_reports_this_thread_as_running() {
        let tid = current_tid().unwrap();
        // On-CPU time is accounted at ticks: run for a few first.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        assert!(thread_times(tid).unwrap().on_cpu_ns > 0);
        assert_eq!(is_blocked_in_kernel(tid), Some(false));
    }

    /// A thread's own first baseline judges its polls while the doctor is
    /// started, and not otherwise.
    #[test]
    fn the_first_baseline_counts_only_while_watched() {
        let clock = quanta::Clock::new();
        let s = SchedSample::for_current_thread();
        s.first_baseline(&clock);
        let since = clock.raw();
        let base = s.baseline_before(since, true).expect("the first baseline");
        assert_eq!(base.poll, REGISTERED);
        assert!(base.tick <= since);
        assert!(
            s.baseline_before(since, false).is_none(),
            "not without a watchdog"
        );
        // With no note at all to judge by, a poll is judged on its wall time.
        assert_eq!(s.on_cpu_ns(since, 10_000_000_000, false), 10_000_000_000);
    }

    #[test]
    fn a_note_taken_before_a_poll_is_its_baseline() {
        let clock = quanta::Clock::new();
        let s = SchedSample::for_current_thread();
        assert!(s.bases.iter().all(|b| b.read().is_none()), "no note yet");
        let t0 = clock.raw();
        s.sample(&clock, 0, t0);
        let since = clock.raw().max(t0 + 1);
        assert!(s
            .bases
            .iter()
            .any(|b| b.read().is_some_and(|n| n.tick <= since)));
        // Waiting in a syscall is not waiting for a CPU.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let on_cpu = s.on_cpu_ns(since, 20_000_000, false);
        assert!(on_cpu > 15_000_000, "{on_cpu}");
    }
}
