//! Stalls that no poll marks: a worker stuck in code that runs in no span
//! of the doctor's (a service with no instrumentation at all, or a route
//! behind `TaskMonitorLayer` only), found through the lag probe.
//!
//! The watchdog knows a poll is running only where a span marked it. When
//! none is marked but the lag probe is late by more than the threshold right
//! now, or a wake the watchdog sent a runtime with no parked worker has
//! waited a quarter threshold (`state::ping`: it learns this between two
//! deadlines of the probe; while every worker is busy it sends one every
//! quarter threshold), the runtime is stalled and nothing says where,
//! so the watchdog samples the stack of every runtime worker in no marked
//! poll, again and again while the lag lasts (every quarter threshold at
//! first, then at doubling gaps, [`MAX_SAMPLES`] at most, then it rests a
//! second). A parked worker is never interrupted, nor one that parked less
//! than a quarter threshold ago: when the host stops the whole machine for
//! a while (steal), the probe is late but the workers park as usual. All
//! due workers are asked at once and answer side by side.
//!
//! Only the runtime's lateness decides when to look. A worker that has not parked for a
//! while is no sign: a task that yields every millisecond keeps its worker
//! from parking too, and its polls, one after another at the same line of
//! the same task, would read exactly like one stuck poll. A lag past the
//! threshold means either a stuck poll or many ready tasks ahead of the
//! probe, and many tasks do not repeat on one worker three samples in a
//! row. So one stalled worker on a runtime whose other workers keep the
//! probe on time is not seen this way (spans, `tokio_unstable`'s task
//! spans or `Doctor::install_poll_hooks` mark its poll). A worker is stuck in one poll,
//! rather than busy with many polls of the same code, when across at least
//! three consecutive samples spanning half the threshold: every sample is inside
//! a task poll (`tokio::runtime::task::raw::poll` is on the stack, so a
//! parked worker never counts); the innermost frame of the service's own
//! code is the same function; and the stack bytes of the frames between
//! that function and the task poll are the same. Those caller frames stay
//! as they are while their callee runs, and hold the polled task's own
//! pointers, so the next task's poll through the same code differs there.
//! When the worker's metrics move (it parked), the run ends. Such a worker is reported as a
//! `blocking_poll` with the span `(no span)` at that frame's `file:line`,
//! once the time it was already stuck at the first sample plus the time the
//! samples span reaches the threshold.
//!
//! The blocked time is an estimate: how long the worker was already stuck
//! at the first sample (how late the probe or the wake was, or, if longer,
//! how long its progress in tokio's metrics had not moved: no park and no
//! maintenance, so 61 polls at most), plus the time the samples span. While the runtime lags,
//! each worker costs up to [`MAX_SAMPLES`] captures a second.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use super::symbols::Frame;
use super::StallSampler;
use crate::state::frames::FrameName;
use crate::state::location::Origin;
use crate::state::sites::{SiteMeta, Sites};
use crate::state::Shared;
use crate::util::lock;

/// Captures of one worker per stall at most.
pub(crate) const MAX_SAMPLES: u32 = 8;
/// Captures that must agree, spanning at least the threshold, before a
/// worker counts as stuck.
const MIN_SAMPLES: u32 = 3;
/// Captures before the gap between them starts doubling.
const EVEN_SAMPLES: u32 = 4;
/// The span name of a stall that no span marks.
pub(crate) const NO_SPAN: &str = "(no span)";
/// Least time between two log lines about the same culprit.
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What tokio's metrics say of a worker's progress. It changes whenever
/// the worker parks, and every 61 polls (its maintenance), so a worker
/// whose progress is frozen while it is not parked is inside one poll.
type Progress = (u64, u64, u128);

fn progress(handle: &tokio::runtime::Handle, worker: usize) -> Option<Progress> {
    let m = handle.metrics();
    (worker < m.num_workers()).then(|| {
        (
            m.worker_park_count(worker),
            m.worker_park_unpark_count(worker),
            m.worker_total_busy_duration(worker).as_nanos(),
        )
    })
}

/// Whether no worker of the runtime is parked (tokio: an even park/unpark
/// count is an active worker). An idle runtime is never woken.
fn every_worker_busy(handle: &tokio::runtime::Handle) -> bool {
    let m = handle.metrics();
    (0..m.num_workers()).all(|i| m.worker_park_unpark_count(i) % 2 == 0)
}

/// One worker's samples in the current stall.
struct Due {
    taken: u32,
    last_at: u64,
    gap_ns: u64,
    progress: Progress,
    /// When the watchdog first saw this progress.
    seen_at: u64,
}

/// How long a worker that used up its samples while the runtime still lags
/// rests before it is sampled again: bounds what a runtime that lags for
/// minutes pays to [`MAX_SAMPLES`] captures per worker per rest.
const REST_NS: u64 = 1_000_000_000;

/// Watchdog side: when to sample which worker.
#[derive(Default)]
pub(crate) struct Unmarked {
    /// Per worker shard (its address).
    due: HashMap<usize, Due>,
}

impl Unmarked {
    /// One look, once per watchdog tick: while the runtime lags, samples the
    /// workers that are due; ends every worker's run once it does not.
    /// Returns how soon (ns) it wants the next look, where that is sooner
    /// than the watchdog's interval may be: while a wake waits or the
    /// runtime lags.
    pub(crate) fn tick(
        &mut self,
        shared: &Arc<Shared>,
        handle: &tokio::runtime::Handle,
    ) -> Option<u64> {
        if !shared.config.stack_capture {
            return None;
        }
        let threshold = shared.ns.blocking_poll_threshold;
        let gap = threshold / 4;
        let now = shared.clock.raw();
        // Between two deadlines of the lag probe, a wake of a runtime whose
        // workers are all busy says as much: unanswered for a quarter
        // threshold, every worker has been in a poll (or a row of polls)
        // that long. Sampling starts then, so that a stall of twice the
        // threshold is still running when three samples a quarter threshold
        // apart have seen it.
        let waiting_ns = shared.ping.outstanding_ns(&shared.clock, now);
        let mut soon: Option<u64> = None;
        let mut want = |ns: u64| soon = Some(soon.map_or(ns, |s| s.min(ns)));
        if waiting_ns == 0 && every_worker_busy(handle) {
            shared.ping.send(now);
            // Answered at once, as on a busy healthy runtime, the next wake
            // goes a quarter threshold later, not a whole interval: a stall
            // that began just after it is then found in time. Looks this
            // often only while every worker is busy.
            want(gap);
        }
        let probe_late_ns = shared.lag_late_ns();
        let late_ns = probe_late_ns.max(waiting_ns);
        let lagging = late_ns >= threshold || waiting_ns >= gap;
        if !lagging {
            if waiting_ns > 0 {
                want(gap - waiting_ns);
            }
            if probe_late_ns > 0 {
                want(threshold - probe_late_ns);
            }
        }
        let workers = shared.unmarked_workers();
        self.due.retain(|key, d| {
            let keep = workers.iter().any(|w| Arc::as_ptr(w) as usize == *key);
            if !keep && d.taken > 0 {
                // A marked poll began there, or the thread is gone.
                super::unmarked_ended(shared, *key);
            }
            keep
        });
        let fresh = |p| Due {
            taken: 0,
            last_at: 0,
            gap_ns: gap,
            progress: p,
            seen_at: now,
        };
        let mut picked = Vec::new();
        for w in workers {
            let key = Arc::as_ptr(&w) as usize;
            let Some(p) = w.worker.and_then(|i| progress(handle, i)) else {
                continue;
            };
            let d = self.due.entry(key).or_insert_with(|| fresh(p));
            if d.progress != p {
                // The worker parked: what it was in has ended.
                if d.taken > 0 {
                    super::unmarked_ended(shared, key);
                }
                *d = fresh(p);
            }
            if !lagging {
                if d.taken > 0 {
                    super::unmarked_ended(shared, key);
                    d.taken = 0;
                    d.gap_ns = gap;
                }
                continue;
            }
            if p.1 % 2 == 1 {
                // Parked (an odd park/unpark count): in no poll at all.
                continue;
            }
            if d.taken == 0 {
                // A worker is sampled only once it has gone a quarter
                // threshold without parking: a runtime late because the
                // host stopped the whole machine for a while (steal) has
                // workers that park as usual, and they are never
                // interrupted.
                // No sooner look is asked for it: a worker that keeps
                // parking would have the watchdog look every quarter
                // threshold for as long as the runtime lags.
                let seen_ns = shared.clock.delta_as_nanos(d.seen_at, now);
                if seen_ns < gap {
                    continue;
                }
            }
            if d.taken >= MAX_SAMPLES {
                let rested = shared.clock.delta_as_nanos(d.last_at, now);
                if rested < REST_NS {
                    continue;
                }
                super::unmarked_ended(shared, key);
                d.taken = 0;
                d.gap_ns = gap;
            }
            if d.taken > 0 {
                let since = shared.clock.delta_as_nanos(d.last_at, now);
                if since < d.gap_ns {
                    want(d.gap_ns - since);
                    continue;
                }
            }
            picked.push((key, w));
        }
        // Every due worker is asked first and all answer side by side: one
        // that waits for a CPU does not hold back the others' samples.
        let asked: Vec<_> = picked
            .iter()
            .map(|(key, w)| (*key, w, super::request(w)))
            .collect();
        for (key, w, asked) in asked {
            let Some(raw) = asked.and_then(super::collect) else {
                continue;
            };
            if w.poll_since.load(std::sync::atomic::Ordering::Acquire) != 0 {
                // A marked poll began before the signal landed: the marked
                // watchdog owns that one, and this copy is not unmarked.
                continue;
            }
            let Some(d) = self.due.get_mut(&key) else {
                continue;
            };
            // When it answered: the samples' span is timed from their
            // copies, not from when they were asked for.
            let at = shared.clock.raw();
            d.taken += 1;
            d.last_at = at;
            if d.taken >= EVEN_SAMPLES {
                d.gap_ns = d.gap_ns.saturating_mul(2);
            }
            if d.taken < MAX_SAMPLES {
                want(d.gap_ns);
            }
            // How long it has been stuck, as far as is known without its
            // stack: the runtime's wait, or the time since its progress last
            // moved (no park and no maintenance since, so 61 polls at most),
            // whichever is longer.
            let frozen_ns = shared.clock.delta_as_nanos(d.seen_at, at);
            let stuck_ns = late_ns.max(frozen_ns);
            super::submit_unmarked(shared, key, w.thread.clone(), at, stuck_ns, raw);
        }
        soon
    }
}

/// Where a sample is: the index of the innermost frame of the service's own
/// code and of the task poll it is in; `None` when the sample is not in a
/// task poll (a parked or searching worker) or no frame of the service's
/// code is on the stack.
pub(crate) fn poll_culprit(frames: &[(Frame, u64)]) -> Option<(usize, usize)> {
    let poll = frames.iter().position(|(f, _)| {
        f.function.starts_with("tokio::runtime::task::raw::poll")
            || f.function
                .starts_with("tokio::runtime::task::harness::Harness::poll")
    })?;
    let culprit = frames[..poll]
        .iter()
        .position(|(f, _)| f.origin == Origin::Service)?;
    Some((culprit, poll))
}

/// One capture of a worker in no marked poll, as the stacks thread gets it.
pub(crate) struct Sample {
    /// The doctor's id and the worker's shard address.
    pub(crate) worker: (u64, usize),
    pub(crate) thread: String,
    /// Clock ticks at which it was taken.
    pub(crate) at: u64,
    /// How late the lag probe was then.
    pub(crate) late_ns: u64,
    pub(crate) raw: super::Raw,
}

/// One worker's run of samples in the same culprit function, in the same
/// poll. The run is told by the symbol table's names
/// ([`name_by_symbols`](super::name_by_symbols)); its samples are named
/// with their inlined frames and `file:line` only once they agree on a
/// stall, so samples that never do (a busy worker the host delayed) never
/// build the DWARF index.
pub(crate) struct Run {
    /// The innermost function of the service's own, by its symbol.
    function: String,
    /// The stack bytes between the culprit and the task poll: the frames
    /// that call the culprit, which stay as they are while it runs and
    /// differ from one task's poll to the next (they hold the task's
    /// pointers). Equal hashes mean one poll still running, not another
    /// task's poll through the same code.
    callers: u64,
    first_at: u64,
    late_ns: u64,
    samples: u32,
    sampler: StallSampler,
    site: Option<u32>,
    recorded_ns: u64,
    /// The return addresses of the samples taken before the run agreed on
    /// a stall, named fully once it does ([`MAX_SAMPLES`] at most).
    pending: Vec<Vec<(u64, u64)>>,
}

/// Stacks-thread side: every worker's current run, and when each culprit
/// was last logged.
#[derive(Default)]
pub(crate) struct Runs {
    runs: HashMap<(u64, usize), Run>,
    logged: HashMap<(u64, u32), Instant>,
}

impl Runs {
    /// Notes one sample of `worker` (its return addresses, as
    /// [`unwind`](super::unwind) gives them), taken at clock tick `at` while
    /// the lag probe was `late_ns` late.
    pub(crate) fn sample(&mut self, shared: &Arc<Shared>, s: &Sample, addrs: Vec<(u64, u64)>) {
        let Sample {
            worker,
            ref thread,
            at,
            late_ns,
            ref raw,
        } = *s;
        let by_symbols = super::name_by_symbols(&addrs);
        let Some((at_culprit, at_poll)) = poll_culprit(&by_symbols) else {
            self.end(shared, worker);
            return;
        };
        let callers = super::stack_hash(raw, by_symbols[at_culprit].1, by_symbols[at_poll].1);
        let function = &by_symbols[at_culprit].0.function;
        if self
            .runs
            .get(&worker)
            .is_some_and(|r| r.function != *function || r.callers != callers)
        {
            self.end(shared, worker);
        }
        let run = self.runs.entry(worker).or_insert_with(|| Run {
            function: function.clone(),
            callers,
            first_at: at,
            late_ns,
            samples: 0,
            sampler: StallSampler::new(0),
            site: None,
            recorded_ns: 0,
            pending: Vec::new(),
        });
        run.samples += 1;
        let spanned_ns = shared.clock.delta_as_nanos(run.first_at, at);
        let threshold = shared.ns.blocking_poll_threshold;
        let blocked_ns = run.late_ns.saturating_add(spanned_ns);
        if run.samples < MIN_SAMPLES || spanned_ns < threshold / 2 || blocked_ns < threshold {
            if run.pending.len() < MAX_SAMPLES as usize {
                run.pending.push(addrs);
            }
            return;
        }
        // The samples agree on a stall: from here on they are named with
        // their inlined frames and `file:line`, the earlier ones too, and
        // the culprit is the innermost frame of the service's own by those
        // names (an inlined function of the service's, where there is one).
        let frames = super::name_fully(&addrs);
        let Some((at_culprit, _)) = poll_culprit(&frames) else {
            // Only the symbol's path said it was the service's code; its
            // line tables say otherwise. No culprit to name.
            return;
        };
        let culprit = frames[at_culprit].0.clone();
        for earlier in std::mem::take(&mut run.pending) {
            let named = super::name_fully(&earlier).into_iter().map(|(f, _)| f);
            run.sampler.add(Some(named.collect()));
        }
        let verdict = run
            .sampler
            .add(Some(frames.into_iter().map(|(f, _)| f).collect()));
        let new = run.site.is_none();
        let site = *run.site.get_or_insert_with(|| site_of(shared, &culprit));
        run.sampler.site = site;
        let b = &shared.sites.get(site).blocking;
        if new {
            b.polls.fetch_add(1, Relaxed);
            *lock(&shared.stall_counts).entry(site).or_default() += 1;
        }
        let more = blocked_ns.saturating_sub(run.recorded_ns);
        run.recorded_ns = run.recorded_ns.max(blocked_ns);
        b.total_ns.fetch_add(more, Relaxed);
        b.self_ns.fetch_add(more, Relaxed);
        b.worst_ns.fetch_max(blocked_ns, Relaxed);
        if let Some(v) = verdict {
            shared.frames.set_live(site, v);
        }
        let due = self
            .logged
            .get(&(shared.id, site))
            .is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if new && due {
            self.logged.insert((shared.id, site), Instant::now());
            let name = FrameName {
                function: culprit.function.clone(),
                location: culprit.location.clone(),
            };
            tracing::warn!(
                target: "tokio_doctor",
                span = NO_SPAN,
                location = %culprit.location,
                thread = %thread,
                running_ms = blocked_ns / 1_000_000,
                culprit = %name,
                "a poll in no span is blocking a runtime worker right now (see /doctor)"
            );
        }
    }

    /// The worker's run is over: its verdict is counted once.
    pub(crate) fn end(&mut self, shared: &Arc<Shared>, worker: (u64, usize)) {
        let Some(mut run) = self.runs.remove(&worker) else {
            return;
        };
        if let (Some(site), Some(v)) = (run.site, run.sampler.settle()) {
            shared.frames.settle(site, v);
        }
    }
}

/// The site a stall in no span is reported at: `(no span)` at the culprit
/// frame's location, with the culprit's module as its target.
fn site_of(shared: &Shared, culprit: &Frame) -> u32 {
    let key = Sites::location_key(&culprit.location, 0, crate::util::fnv1a(NO_SPAN.bytes()));
    shared.sites.intern(key, || SiteMeta {
        span: NO_SPAN.to_string(),
        target: culprit
            .function
            .rsplit_once("::")
            .map_or(culprit.function.as_str(), |(module, _)| module)
            .trim_start_matches('<')
            .to_string(),
        location: culprit.location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::every_worker_busy;
    use std::time::{Duration, Instant};

    /// The watchdog wakes a runtime only while none of its workers is
    /// parked: an idle service is never woken.
    #[test]
    fn only_a_runtime_with_no_parked_worker_is_woken() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!every_worker_busy(&handle), "idle workers are parked");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for _ in 0..2 {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let start = Instant::now();
        let mut busy = false;
        while !busy && start.elapsed() < Duration::from_secs(5) {
            busy = every_worker_busy(&handle);
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(busy, "two spinning tasks keep both workers busy");
        std::thread::sleep(Duration::from_millis(100));
        assert!(!every_worker_busy(&handle), "parked again once they end");
    }
}
