//! The watchdog: a plain thread (so a fully blocked runtime cannot stop it)
//! that notes each worker's scheduler stats, looks for polls still running
//! past the threshold, counts each stall once, captures the stalled
//! worker's stack where it can (see `monitor::stack`), and logs the stall
//! while it is happening, naming the culprit frame (once a minute per call
//! site at most, so a site that blocks on every request does not flood the
//! log). Where no poll is marked but the lag probe is late right now, it
//! samples the workers' stacks instead (see `monitor::stack::unmarked`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::state::{Shared, Stall};
use crate::util::lock;

/// Least time between two log lines about stalls at the same call site.
const LOG_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn spawn(
    shared: &Arc<Shared>,
    stop: Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
) -> std::io::Result<()> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let interval = shared.config.watchdog_interval;
    std::thread::Builder::new()
        .name("tokio-doctor-watchdog".into())
        .spawn(move || {
            let mut seen: HashSet<(usize, u64)> = HashSet::new();
            let mut logged: HashMap<u32, Instant> = HashMap::new();
            let mut stacks = Stacks::default();
            #[cfg(not(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )))]
            let _ = &handle;
            #[cfg(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            ))]
            let mut unmarked = crate::monitor::stack::unmarked::Unmarked::default();
            // The full look runs every `interval`; between two, the unmarked
            // sampler may ask for a nearer look while the runtime lags (its
            // samples of a stall must span the threshold before it ends).
            let mut full_due = Instant::now() + interval;
            let mut nap = interval;
            while !stop.load(Relaxed) {
                std::thread::sleep(nap);
                let Some(shared) = weak.upgrade() else { return };
                if Instant::now() >= full_due {
                    let crossing = full_look(&shared, &mut seen, &mut logged, &mut stacks);
                    full_due = Instant::now() + crossing.map_or(interval, |c| c.min(interval));
                }
                #[allow(unused_mut)]
                let mut soon = interval;
                #[cfg(all(
                    target_os = "linux",
                    any(target_arch = "x86_64", target_arch = "aarch64")
                ))]
                if let Some(ns) = unmarked.tick(&shared, &handle) {
                    soon = soon.min(Duration::from_nanos(ns));
                }
                nap = full_due
                    .saturating_duration_since(Instant::now())
                    .min(soon)
                    .max(MIN_NAP);
            }
        })?;
    Ok(())
}

/// The shortest sleep between two looks: a look that is due now still
/// leaves the CPU to the workers for a moment.
const MIN_NAP: Duration = Duration::from_micros(200);

/// The watchdog's look every interval: notes each thread's scheduler stats,
/// counts and logs the marked stalls running now, and captures their stacks
/// where due. Returns how soon a marked poll running now reaches the
/// threshold, where that is before the next look would come.
fn full_look(
    shared: &Arc<Shared>,
    seen: &mut HashSet<(usize, u64)>,
    logged: &mut HashMap<u32, Instant>,
    stacks: &mut Stacks,
) -> Option<Duration> {
    shared.sample_threads();
    let stalls = shared.running_stalls();
    // Forget stalls whose poll has ended; a stall that dips under
    // the threshold for one look and comes back is still one stall.
    let current = shared.current_polls();
    let crossing = next_crossing(shared, &current);
    seen.retain(|id| current.contains(id));
    stacks.forget_ended(shared, &current);
    for s in &stalls {
        let new = seen.insert(s.identity);
        if new {
            *lock(&shared.stall_counts).entry(s.site).or_default() += 1;
        }
        let due = new && logged.get(&s.site).is_none_or(|t| t.elapsed() >= LOG_EVERY);
        let log = due
            .then(|| shared.sites.get(s.site).meta.get())
            .flatten()
            .map(|meta| {
                logged.insert(s.site, Instant::now());
                Log {
                    span: meta.span.clone(),
                    location: meta.location.clone(),
                    thread: s.thread.clone(),
                    running_ms: s.running_ns / 1_000_000,
                }
            });
        // With a capture, the stacks thread logs once it has
        // named the culprit; without one, log now.
        if let Some(log) = stacks.sample(shared, s, log) {
            tracing::warn!(
                target: "tokio_doctor",
                span = %log.span,
                location = %log.location,
                thread = %log.thread,
                running_ms = log.running_ms,
                "a poll is blocking a runtime worker right now (see /doctor)"
            );
        }
    }
    crossing
}

/// How soon the first of the marked polls running now (`current`) reaches
/// the threshold, if it does before the next look: the look then comes as
/// it does, so a stall of twice the threshold is captured while it still
/// runs rather than up to an interval later (the capture itself may wait
/// milliseconds for a worker that waits for a CPU). Only polls already past
/// the threshold less one interval ask for it: a healthy service's polls
/// never do.
fn next_crossing(shared: &Shared, current: &HashSet<(usize, u64)>) -> Option<Duration> {
    let threshold = shared.ns.blocking_poll_threshold;
    let interval = shared.config.watchdog_interval.as_nanos() as u64;
    let now = shared.clock.raw();
    current
        .iter()
        .map(|&(_, since)| shared.clock.delta_as_nanos(since, now))
        .filter(|&running| running < threshold && running.saturating_add(interval) > threshold)
        .map(|running| threshold - running)
        .min()
        .map(Duration::from_nanos)
}

/// What the watchdog would log of a new stall.
struct Log {
    span: String,
    location: String,
    thread: String,
    running_ms: u64,
}

/// When to capture each stall running now: at 1x, 2x, 4x ... the threshold.
#[derive(Default)]
struct Stacks {
    /// Per stall: captures taken, and the running time the next is due at.
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    due: HashMap<(usize, u64), (u32, u64)>,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
impl Stacks {
    /// Takes a capture of `s` if one is due and hands it, with `log`, to the
    /// stacks thread; returns `log` when it is not handed on.
    fn sample(&mut self, shared: &Arc<Shared>, s: &Stall, log: Option<Log>) -> Option<Log> {
        use crate::monitor::stack;
        if !shared.config.stack_capture {
            return log;
        }
        let (taken, next) = self
            .due
            .entry(s.identity)
            .or_insert((0, shared.ns.blocking_poll_threshold));
        if *taken >= stack::MAX_SAMPLES || s.running_ns < *next {
            return log;
        }
        *taken += 1;
        *next = next.saturating_mul(2);
        let Some(raw) = stack::capture(&s.shard) else {
            return log;
        };
        if !s.still_running() {
            // The poll ended (or left the blamed span) between the look and
            // the signal: the copy shows whatever the worker did next, such
            // as the connection writing the response, not the stall.
            return log;
        }
        let to_thread = log.as_ref().map(|l| stack::Log {
            span: l.span.clone(),
            location: l.location.clone(),
            thread: l.thread.clone(),
            running_ms: l.running_ms,
        });
        let handed = stack::submit(shared, s.identity, s.site, raw, to_thread);
        if *taken >= stack::MAX_SAMPLES {
            stack::ended(shared, s.identity);
        }
        if handed {
            None
        } else {
            log
        }
    }

    /// Tells the stacks thread which stalls ended, to count each once.
    fn forget_ended(&mut self, shared: &Arc<Shared>, current: &HashSet<(usize, u64)>) {
        self.due.retain(|id, (taken, _)| {
            if current.contains(id) {
                return true;
            }
            if *taken > 0 && *taken < crate::monitor::stack::MAX_SAMPLES {
                crate::monitor::stack::ended(shared, *id);
            }
            false
        });
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
impl Stacks {
    fn sample(&mut self, _shared: &Arc<Shared>, _s: &Stall, log: Option<Log>) -> Option<Log> {
        log
    }

    fn forget_ended(&mut self, _shared: &Arc<Shared>, _current: &HashSet<(usize, u64)>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A look comes when a running poll reaches the threshold only for a
    /// poll that would reach it before the next regular look: not for one
    /// that has just begun, nor for one already past it (its captures
    /// have their own times).
    #[test]
    fn only_a_poll_about_to_reach_the_threshold_brings_the_next_look_forward() {
        let doctor = crate::Doctor::builder()
            .no_endpoint()
            .blocking_poll_threshold(Duration::from_millis(200))
            .watchdog_interval(Duration::from_millis(100))
            .build()
            .unwrap();
        let shared = &doctor.shared;
        let c = &shared.clock;
        let past = c.raw();
        std::thread::sleep(Duration::from_millis(60));
        let near = c.raw();
        std::thread::sleep(Duration::from_millis(150));
        let new = c.raw();
        let polls = |since: &[u64]| -> HashSet<(usize, u64)> {
            since.iter().enumerate().map(|(i, &s)| (i, s)).collect()
        };
        // Running 210 ms and more, past the threshold; 0 ms, under it by
        // more than an interval.
        assert_eq!(next_crossing(shared, &polls(&[past])), None);
        assert_eq!(next_crossing(shared, &polls(&[new])), None);
        // Running 150 ms (up to 50 ms more on a slow machine): the
        // threshold comes before the next look.
        let running = Duration::from_nanos(c.delta_as_nanos(near, c.raw()));
        let soon = next_crossing(shared, &polls(&[past, near, new])).expect("a crossing");
        assert!(soon <= Duration::from_millis(200) - Duration::from_millis(150));
        assert!(
            soon + running >= Duration::from_millis(190),
            "{soon:?} {running:?}"
        );
    }
}
