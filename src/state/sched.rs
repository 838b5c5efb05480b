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
//! On a virtual machine the hypervisor also takes the virtual CPU away
//! (steal time): the guest kernel sees no wait, and a 1 ms poll takes
//! 10 ms of wall time (seen here on a 2-core cloud VM, a few times a
//! minute under load). Where the thread did not sleep in the kernel during
//! the poll, its CPU clock, which leaves steal out, bounds the poll too.
//!
//! The kernel is asked only on slow paths (by the watchdog, or at the end
//! of a poll already past the threshold), never per poll. Elsewhere than
//! Linux, polls are judged on wall time alone.

use std::sync::atomic::{AtomicU64, Ordering::*};

/// What the kernel says of a thread of this process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadTimes {
    /// Nanoseconds on a CPU, to the nanosecond (the thread's CPU clock).
    /// Time the hypervisor took the virtual CPU away (steal) is not in it.
    pub(crate) on_cpu_ns: u64,
    /// Nanoseconds runnable but waiting for a CPU (accounted when the
    /// thread gets a CPU back).
    pub(crate) run_delay_ns: u64,
    /// Times the thread was switched onto a CPU: unchanged between two
    /// reads, it never left its CPU (never slept, never was preempted).
    pub(crate) switches: u64,
    /// Times it left its CPU of its own accord (slept in the kernel), where
    /// read (a dearer read, made only for notes of long polls): unchanged
    /// between two reads, it was at most preempted.
    pub(crate) sleeps: Option<u64>,
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
    switches: AtomicU64,
    /// `sleeps`, or `u64::MAX` where not read.
    sleeps: AtomicU64,
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
        self.switches.store(t.switches, Relaxed);
        self.sleeps.store(t.sleeps.unwrap_or(u64::MAX), Relaxed);
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
                switches: self.switches.load(Relaxed),
                sleeps: Some(self.sleeps.load(Relaxed)).filter(|&n| n != u64::MAX),
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
            let sleeps = voluntary_switches(tid);
            self.in_poll.write(poll, now, ThreadTimes { sleeps, ..t });
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
    /// Each note bounds it twice. On the wall clock: `wall_ns` less the
    /// thread's waits for a CPU since the note. The baseline from before
    /// the poll also counts waits just before it began (an underestimate);
    /// the note taken during the poll misses the waits before it was taken
    /// (an overestimate). On the CPU clock, where the thread never left its
    /// CPU since the note (so it never slept in a syscall, the one wait the
    /// code is blamed for): its CPU time since the note, plus the wall time
    /// until the note for a note taken during the poll. The CPU clock
    /// leaves out what the wall clock cannot: time a hypervisor took the
    /// virtual CPU away (steal), in which a 1 ms poll on a busy cloud host
    /// takes 10 ms and more. The smallest bound wins: a poll that only
    /// waited must never be blamed on the code.
    ///
    /// `watched`: the doctor is started, so its watchdog renews the notes.
    /// The thread's own first baseline counts only then: without a
    /// watchdog nothing would replace it, and a baseline also counts the
    /// waits between it and the poll's start, which from long before would
    /// hide a real stall.
    pub(crate) fn on_cpu_ns(
        &self,
        clock: &quanta::Clock,
        since: u64,
        wall_ns: u64,
        watched: bool,
    ) -> u64 {
        let Some(tid) = self.tid else { return wall_ns };
        let base = self.baseline_before(since, watched);
        let in_poll = self.in_poll.read().filter(|n| n.poll == since);
        if base.is_none() && in_poll.is_none() {
            return wall_ns;
        }
        let Some(mut now) = thread_times(tid) else {
            return wall_ns;
        };
        if in_poll.as_ref().is_some_and(|n| n.times.sleeps.is_some()) {
            now.sleeps = own_voluntary_switches();
        }
        let from_base = base.map(|n| busy_bound(wall_ns, 0, &n.times, &now));
        let from_poll = in_poll
            .map(|n| busy_bound(wall_ns, clock.delta_as_nanos(since, n.tick), &n.times, &now));
        [from_base, from_poll]
            .into_iter()
            .flatten()
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
        (until_note + on_cpu).min(running_ns)
    }
}

/// What of `wall_ns` a poll kept its thread busy, bounded from one note
/// (`note`, taken `until_note` ns into the poll, 0 for a baseline from
/// before it) and the thread's times `now` at the poll's end: the wall
/// time less the waits for a CPU since the note; and, where the thread
/// never slept since the note, the time until the note plus the CPU time
/// since (steal, which the wall time holds, is not in it; nor are waits
/// for a CPU). Whether it slept: its sleeps where both reads have them,
/// else any switch off its CPU.
fn busy_bound(wall_ns: u64, until_note: u64, note: &ThreadTimes, now: &ThreadTimes) -> u64 {
    let on_wall = wall_ns.saturating_sub(now.run_delay_ns.saturating_sub(note.run_delay_ns));
    let may_have_slept = match (note.sleeps, now.sleeps) {
        (Some(a), Some(b)) => a != b,
        _ => note.switches != now.switches,
    };
    if may_have_slept {
        return on_wall;
    }
    let on_cpu = until_note.saturating_add(now.on_cpu_ns.saturating_sub(note.on_cpu_ns));
    on_wall.min(on_cpu)
}

/// The calling thread's id, as `/proc` names it.
#[cfg(target_os = "linux")]
fn current_tid() -> Option<i32> {
    // SAFETY: gettid has no preconditions and cannot fail.
    Some(unsafe { libc::syscall(libc::SYS_gettid) } as i32)
}

/// Times of thread `tid` of this process: its CPU clock (exact, where
/// `/proc`'s figure is only brought up to date at ticks and switches), and
/// its waits and switches from `/proc/self/task/<tid>/schedstat`.
#[cfg(target_os = "linux")]
fn thread_times(tid: i32) -> Option<ThreadTimes> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut f = s.split_whitespace();
    let _stale_on_cpu = f.next()?;
    let run_delay_ns = f.next()?.parse().ok()?;
    let switches = f.next()?.parse().ok()?;
    Some(ThreadTimes {
        on_cpu_ns: thread_cpu_ns(tid)?,
        run_delay_ns,
        switches,
        sleeps: None,
    })
}

/// Thread `tid`'s voluntary context switches, from its `status` file;
/// `None` while it sleeps in the kernel: a sleep it is in now was counted
/// when it began, so no later count would show it.
#[cfg(target_os = "linux")]
fn voluntary_switches(tid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    let field = |name: &str| s.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let state = field("State:")?;
    if state.starts_with('S') || state.starts_with('D') {
        return None;
    }
    field("voluntary_ctxt_switches:")?.parse().ok()
}

/// The calling thread's voluntary context switches: the count its `status`
/// file shows, without reading a file.
#[cfg(target_os = "linux")]
fn own_voluntary_switches() -> Option<u64> {
    // SAFETY: an all-zero rusage is valid; a valid out pointer.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_THREAD is Linux's, for the calling thread.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) } != 0 {
        return None;
    }
    Some(u.ru_nvcsw as u64)
}

/// Thread `tid`'s CPU clock: Linux's clock id of a thread's scheduler
/// clock is its id, complemented, shifted by three, with the per-thread
/// and scheduler bits (what `pthread_getcpuclockid` returns).
#[cfg(target_os = "linux")]
fn thread_cpu_ns(tid: i32) -> Option<u64> {
    const CPUCLOCK_PERTHREAD_SCHED: libc::clockid_t = 4 | 2;
    let id = ((!tid) << 3) | CPUCLOCK_PERTHREAD_SCHED;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer; a clock id of a thread that has exited
    // fails with EINVAL, which is handled.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
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
fn voluntary_switches(_tid: i32) -> Option<u64> {
    None
}

#[cfg(not(target_os = "linux"))]
fn own_voluntary_switches() -> Option<u64> {
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
        // Run for a while first.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        assert!(thread_times(tid).unwrap().on_cpu_ns > 0);
        assert_eq!(is_blocked_in_kernel(tid), Some(false));
    }

    fn times(on_cpu_ms: u64, run_delay_ms: u64, switches: u64) -> ThreadTimes {
        ThreadTimes {
            on_cpu_ns: on_cpu_ms * 1_000_000,
            run_delay_ns: run_delay_ms * 1_000_000,
            switches,
            sleeps: None,
        }
    }

    fn with_sleeps(t: ThreadTimes, sleeps: u64) -> ThreadTimes {
        ThreadTimes {
            sleeps: Some(sleeps),
            ..t
        }
    }

    /// Preempted and robbed by the hypervisor in the same poll: where the
    /// voluntary switches show it never slept, its CPU time still judges
    /// it, though it left its CPU.
    #[test]
    fn a_preempted_poll_that_never_slept_is_judged_on_its_cpu_time() {
        let ms = 1_000_000;
        let note = with_sleeps(times(100, 40, 7), 3);
        // 1 ms of work, 4 ms waiting for a CPU, 9 ms stolen.
        let now = with_sleeps(times(101, 44, 8), 3);
        assert_eq!(busy_bound(14 * ms, 0, &note, &now), ms);
        // The same switches with a sleep among them: the wall clock judges.
        let slept = with_sleeps(times(101, 44, 8), 4);
        assert_eq!(busy_bound(14 * ms, 0, &note, &slept), 10 * ms);
        // Only one side read: any switch counts as a possible sleep.
        assert_eq!(busy_bound(14 * ms, 0, &times(100, 40, 7), &now), 10 * ms);
    }

    /// A note taken while the thread sleeps has no sleeps count: the sleep
    /// it is in was counted when it began, and it would look awake.
    #[test]
    fn a_sleeping_thread_has_no_sleeps_count() {
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            tx.send(current_tid().unwrap()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        let tid = rx.recv().unwrap();
        let mut asleep = false;
        for _ in 0..25 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            if is_blocked_in_kernel(tid) == Some(true) {
                asleep = voluntary_switches(tid).is_none();
                break;
            }
        }
        worker.join().unwrap();
        assert!(asleep, "a sleeping thread's count was read");
    }

    #[test]
    fn this_threads_voluntary_switches_read_the_same_both_ways() {
        let tid = current_tid().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let (a, b) = (
            voluntary_switches(tid).unwrap(),
            own_voluntary_switches().unwrap(),
        );
        assert!(a > 0 && b >= a && b - a <= 1, "{a} {b}");
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(own_voluntary_switches().unwrap() > b, "a sleep is counted");
    }

    /// A poll with 1 ms of work whose virtual CPU the hypervisor took away
    /// for 11 ms: the wall clock says 12 ms, none of it a wait the kernel
    /// saw, and the thread never left its CPU. Its CPU time judges it.
    #[test]
    fn steal_time_is_not_blamed_on_a_poll_that_never_left_its_cpu() {
        let ms = 1_000_000;
        let note = times(100, 40, 7);
        assert_eq!(busy_bound(12 * ms, 0, &note, &times(101, 40, 7)), ms);
        // A note taken 2 ms into the poll: those 2 ms count in full.
        assert_eq!(
            busy_bound(12 * ms, 2 * ms, &note, &times(101, 40, 7)),
            3 * ms
        );
    }

    /// A poll that slept in a syscall left its CPU: its CPU time says
    /// nothing of the sleep, so the wall time less the waits for a CPU
    /// judges it, and the sleep is blamed.
    #[test]
    fn a_poll_that_slept_is_judged_on_the_wall_clock() {
        let ms = 1_000_000;
        let note = times(100, 40, 7);
        // 20 ms of sleep, 1 ms of work, 3 ms waiting for a CPU after.
        assert_eq!(busy_bound(24 * ms, 0, &note, &times(101, 43, 9)), 21 * ms);
        // Preempted and nothing else: only the work is left.
        assert_eq!(busy_bound(24 * ms, 0, &note, &times(101, 63, 8)), ms);
    }

    /// The CPU clock of another thread of this process, read by its id,
    /// is exact: it has the CPU time that thread burnt just now.
    #[test]
    fn another_threads_cpu_clock_is_read_by_its_id() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            tx.send(current_tid().unwrap()).unwrap();
            let own = || {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: a valid clock id and out pointer.
                unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
                ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
            };
            let start = own();
            while own() - start < 5_000_000 {
                std::hint::spin_loop();
            }
            // Stay alive, parked, until the reader is done.
            done_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        let mut cpu = 0;
        for _ in 0..200 {
            cpu = thread_times(tid).unwrap().on_cpu_ns;
            if cpu >= 5_000_000 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        done_tx.send(()).unwrap();
        worker.join().unwrap();
        assert!(cpu >= 5_000_000, "{cpu}");
        // `join` returns when the thread clears its tid word, before the
        // kernel has released the task: its clock may read a little longer.
        let gone = (0..200).any(|_| {
            let gone = thread_cpu_ns(tid).is_none();
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            gone
        });
        assert!(gone, "an exited thread has no clock");
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
        assert_eq!(
            s.on_cpu_ns(&clock, since, 10_000_000_000, false),
            10_000_000_000
        );
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
        let on_cpu = s.on_cpu_ns(&clock, since, 20_000_000, false);
        assert!(on_cpu > 15_000_000, "{on_cpu}");
    }
}
