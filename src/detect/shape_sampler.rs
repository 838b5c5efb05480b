//! Sampler side of the concurrency-shape detectors: once per sample
//! interval, per outbound call site, throughput, latency and mean in
//! flight over a sliding window (the concurrency advice), and per spawn
//! site the spawn, completion and trivial-completion rates.
//!
//! State is per site (bounded by the label cap) and per window (a few
//! points), never per span or per task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use super::Windows;
use crate::state::series::Series;
use crate::state::Shared;
use crate::util::lock;

/// Buckets of mean in flight L: `[0, 1)`, then `[2^(i-1), 2^i)`.
const BUCKETS: usize = 24;
/// Observations a bucket needs before it counts.
const MIN_OBSERVATIONS: u32 = 2;
/// Calls a window needs to be an observation.
const MIN_CALLS: f64 = 5.0;
/// Throughput within this share of the best counts as at the ceiling.
const AT_CEILING: f64 = 0.85;
/// In flight and latency this far above the recommendation and the
/// low-load latency read as past the knee.
const PAST_KNEE: f64 = 1.5;
/// Spawns per completion over the task window that read as a runaway.
pub(crate) const RUNAWAY_RATIO: f64 = 10.0;
/// Growth of the runtime's live tasks between two samples, per second,
/// that reads as a list handed out at once when no spawn site is known
/// (plain `tokio::spawn` without `tokio_unstable`): a loop spawns hundreds
/// of thousands a second, an accept loop one per connection a client
/// opened, far fewer.
pub(crate) const RUNTIME_BURST_PER_SECOND: f64 = 50_000.0;

/// Tasks a spawn site must spawn in one run (see
/// [`Burst`](crate::state::shape_stats::Burst)) for its live tasks to count as
/// excess: a run no accept loop makes (or a tenth of the threshold, when
/// that is lower). A server's task per connection never gets there.
pub(crate) fn excess_burst(threshold: u64) -> u64 {
    (threshold / 10).clamp(2, crate::state::shape_stats::LIST_BURST)
}

/// What the sampler keeps for the shape detectors, per doctor.
#[derive(Debug, Default)]
pub(crate) struct ShapeState {
    /// Tasks alive in the runtime at the last sample, and the most seen.
    pub(crate) runtime_live: AtomicU64,
    pub(crate) runtime_peak: AtomicU64,
    /// Samples that found at least the `excess_tasks` threshold of tasks
    /// alive in the runtime: what a runtime-level finding counts.
    pub(crate) runtime_excess_hits: AtomicU64,
    /// The fastest growth of the runtime's live tasks between two samples
    /// (tasks per second, as f64 bits), and the last sample (seconds, live).
    pub(crate) runtime_growth_bits: AtomicU64,
    pub(crate) runtime_last: Mutex<Option<(f64, u64)>>,
    pub(crate) advice: Mutex<BTreeMap<u32, AdviceTrack>>,
    pub(crate) tasks: Mutex<BTreeMap<u32, TaskTrack>>,
}

impl ShapeState {
    /// The fastest growth of the runtime's live tasks seen, per second.
    pub(crate) fn runtime_growth(&self) -> f64 {
        f64::from_bits(self.runtime_growth_bits.load(Relaxed))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    n: u32,
    lambda: f64,
    w: f64,
}

impl Bucket {
    fn add(&mut self, lambda: f64, w: f64) {
        self.n = self.n.saturating_add(1);
        // A running mean over (at most) the last 20 observations.
        let k = self.n.min(20) as f64;
        self.lambda += (lambda - self.lambda) / k;
        self.w += (w - self.w) / k;
    }
}

/// Little's Law at one outbound call site over the last window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Throughput (calls completed per second).
    pub(crate) lambda: f64,
    /// Mean latency of the calls completed (seconds).
    pub(crate) w: f64,
    /// Time-weighted mean in flight (λ × W).
    pub(crate) l: f64,
    pub(crate) calls: f64,
}

/// The advice for one outbound call site.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Advice {
    /// `floor(λ_max × W_low)`.
    pub(crate) recommended: u64,
    pub(crate) lambda_max: f64,
    pub(crate) w_low: f64,
    /// Least mean in flight seen at the throughput ceiling.
    pub(crate) knee_in_flight: f64,
    /// More concurrency than the knee was seen and added no throughput:
    /// the ceiling is measured, not a lower bound.
    pub(crate) saturated: bool,
    pub(crate) now: Window,
    pub(crate) past_knee: bool,
}

/// Per outbound call site: the window's points and the throughput and
/// latency seen at each level of concurrency.
#[derive(Debug)]
pub(crate) struct AdviceTrack {
    /// (calls completed, their summed duration in ns).
    series: Series<2>,
    buckets: [Bucket; BUCKETS],
    pub(crate) advice: Option<Advice>,
    /// Calls in flight at the last sample.
    pub(crate) in_flight_now: usize,
    /// Samples at which the caller was past the knee.
    pub(crate) past_knee_samples: u64,
    /// The latest window, advice or not.
    pub(crate) last: Option<Window>,
}

fn bucket_of(l: f64) -> usize {
    if l < 1.0 {
        0
    } else {
        (l.log2().floor() as usize + 1).min(BUCKETS - 1)
    }
}

impl AdviceTrack {
    fn new(points: usize) -> AdviceTrack {
        AdviceTrack {
            series: Series::new(points),
            buckets: [Bucket::default(); BUCKETS],
            advice: None,
            in_flight_now: 0,
            past_knee_samples: 0,
            last: None,
        }
    }

    fn observe(&mut self, t: f64, calls: f64, duration_ns: f64, window: f64) {
        self.series.push(t, [calls, duration_ns]);
        let pts = self.series.window(window);
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            return;
        };
        let secs = last.0 - first.0;
        let dc = last.1[0] - first.1[0];
        if secs < 0.5 * window || dc < MIN_CALLS {
            return;
        }
        let dur = (last.1[1] - first.1[1]) / 1e9;
        let now = Window {
            lambda: dc / secs,
            w: dur / dc,
            l: dur / secs,
            calls: dc,
        };
        self.buckets[bucket_of(now.l)].add(now.lambda, now.w);
        self.last = Some(now);
        self.advice = self.advise(now);
        if self.advice.is_some_and(|a| a.past_knee) {
            self.past_knee_samples += 1;
        }
    }

    fn advise(&self, now: Window) -> Option<Advice> {
        let seen = || {
            self.buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.n >= MIN_OBSERVATIONS)
        };
        // One level of concurrency says nothing about the curve (λ × W is
        // then just the L it ran at): wait for two.
        if seen().count() < 2 {
            return None;
        }
        let lambda_max = seen().map(|(_, b)| b.lambda).fold(0.0, f64::max);
        let (_, low) = seen().next()?;
        let w_low = low.w;
        if lambda_max <= 0.0 || w_low <= 0.0 {
            return None;
        }
        let recommended = ((lambda_max * w_low).floor() as u64).max(1);
        let (knee, _) = seen().find(|(_, b)| b.lambda >= AT_CEILING * lambda_max)?;
        let saturated = seen().any(|(i, _)| i > knee);
        let knee_in_flight = if knee == 0 {
            0.0
        } else {
            (1u64 << (knee - 1)) as f64
        };
        let past_knee =
            saturated && now.l > PAST_KNEE * recommended as f64 && now.w > PAST_KNEE * w_low;
        Some(Advice {
            recommended,
            lambda_max,
            w_low,
            knee_in_flight,
            saturated,
            now,
            past_knee,
        })
    }
}

/// Rates of one spawn site (or site of instrumented futures) over the task
/// window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TaskRates {
    pub(crate) spawned: f64,
    pub(crate) finished: f64,
    pub(crate) trivial: f64,
    /// Trivial completions over all completions.
    pub(crate) trivial_share: f64,
}

/// Per site: counters over the task window and what they showed.
#[derive(Debug)]
pub(crate) struct TaskTrack {
    /// (spawned, finished, trivial, closed).
    series: Series<4>,
    pub(crate) rates: Option<TaskRates>,
    /// Samples at which trivial completions ran over the rate threshold,
    /// and the highest such rate.
    pub(crate) trivial_hits: u64,
    pub(crate) trivial_best: TaskRates,
    /// Samples at which spawns outran completions by [`RUNAWAY_RATIO`]
    /// with many tasks alive, and the highest spawn rate then.
    pub(crate) runaway_hits: u64,
    pub(crate) runaway_best: TaskRates,
    /// Samples that found at least the `excess_tasks` threshold alive
    /// (tasks handed out as a list), or a runaway: the occurrences an
    /// `excess_tasks` finding counts, which never decrease.
    pub(crate) excess_hits: u64,
    /// The most live tasks a sample saw, and the rates at that sample.
    pub(crate) peak_live: u64,
    pub(crate) at_peak: TaskRates,
}

impl TaskTrack {
    fn observe(&mut self, t: f64, v: [f64; 4], window: f64) -> Option<TaskRates> {
        self.series.push(t, v);
        let pts = self.series.window(window);
        let (first, last) = (pts.first()?, pts.last()?);
        let secs = last.0 - first.0;
        if secs < 0.5 * window {
            return None;
        }
        let rate = |i: usize| (last.1[i] - first.1[i]).max(0.0) / secs;
        let closed = rate(3);
        let rates = TaskRates {
            spawned: rate(0),
            finished: rate(1),
            trivial: rate(2),
            trivial_share: if closed > 0.0 {
                (rate(2) / closed).min(1.0)
            } else {
                0.0
            },
        };
        self.rates = Some(rates);
        Some(rates)
    }
}

/// Once per sample interval.
pub(crate) fn sample(shared: &Shared, windows: &Windows, handle: &tokio::runtime::Handle) {
    let cfg = &shared.config;
    let t = shared.created.elapsed().as_secs_f64();
    let interval = cfg.sample_interval.as_secs_f64();
    let st = &windows.shape;
    let live = handle.metrics().num_alive_tasks() as u64;
    st.runtime_live.store(live, Relaxed);
    st.runtime_peak.fetch_max(live, Relaxed);
    if live >= cfg.shape.excess_tasks {
        st.runtime_excess_hits.fetch_add(1, Relaxed);
    }
    if let Some((t0, live0)) = lock(&st.runtime_last).replace((t, live)) {
        if t > t0 && live > live0 {
            let growth = (live - live0) as f64 / (t - t0);
            if growth > st.runtime_growth() {
                st.runtime_growth_bits.store(growth.to_bits(), Relaxed);
            }
        }
    }

    let window = cfg.shape.concurrency_window.as_secs_f64();
    let points = (window / interval).ceil() as usize + 2;
    let mut advice = lock(&st.advice);
    for (idx, site, _) in shared.sites.iter() {
        let Some(o) = site.outbound.get() else {
            continue;
        };
        let track = advice
            .entry(idx)
            .or_insert_with(|| AdviceTrack::new(points));
        track.in_flight_now = o.in_flight();
        track.observe(
            t,
            o.calls.load(Relaxed) as f64,
            o.duration_ns.load(Relaxed) as f64,
            window,
        );
    }
    drop(advice);

    let window = cfg.shape.task_window.as_secs_f64();
    let points = (window / interval).ceil() as usize + 2;
    let mut tasks = lock(&st.tasks);
    for (idx, site, _) in shared.sites.iter() {
        let s = &site.shape;
        let (spawned, finished, wrapped_trivial) = s.tasks.get().map_or((0, 0, 0), |t| {
            let (sp, fi) = t.counts();
            (sp, fi, t.trivial.load(Relaxed))
        });
        let trivial = s.trivial.load(Relaxed).max(wrapped_trivial);
        if spawned == 0 && trivial == 0 && !tasks.contains_key(&idx) {
            continue;
        }
        let closed = s.closed.load(Relaxed).max(finished);
        let track = tasks.entry(idx).or_insert_with(|| TaskTrack {
            series: Series::new(points),
            rates: None,
            trivial_hits: 0,
            trivial_best: TaskRates::default(),
            runaway_hits: 0,
            runaway_best: TaskRates::default(),
            excess_hits: 0,
            peak_live: 0,
            at_peak: TaskRates::default(),
        });
        let v = [
            spawned as f64,
            finished as f64,
            trivial as f64,
            closed as f64,
        ];
        let Some(r) = track.observe(t, v, window) else {
            continue;
        };
        if r.trivial >= cfg.shape.trivial_rate && r.trivial_share >= 0.9 {
            track.trivial_hits += 1;
            if r.trivial > track.trivial_best.trivial {
                track.trivial_best = r;
            }
        }
        let live = s.tasks.get().map_or(0, |t| t.live());
        // `>`, not `>=`: the rates that piled the tasks up are those of
        // the sample that first reached the peak, not of later samples
        // that found the same tasks still alive (spawning 0/s).
        if live > 0 && live > track.peak_live {
            track.peak_live = live;
            track.at_peak = r;
        }
        let burst = s.tasks.get().map_or(0, |t| t.burst_peak());
        let listed = burst >= excess_burst(cfg.shape.excess_tasks);
        let runaway = r.spawned >= RUNAWAY_RATIO * r.finished.max(1.0)
            && live >= (cfg.shape.excess_tasks / 10).max(1)
            && listed;
        if runaway {
            track.runaway_hits += 1;
            if r.spawned > track.runaway_best.spawned {
                track.runaway_best = r;
            }
        }
        if runaway || (listed && live >= cfg.shape.excess_tasks) {
            track.excess_hits += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A downstream that serves 16 at a time in 80 ms (200 req/s), seen
    /// by a caller at `l` in flight for `secs`, one sample a second.
    fn run(
        track: &mut AdviceTrack,
        t: &mut f64,
        calls: &mut f64,
        dur: &mut f64,
        l: f64,
        secs: u32,
    ) {
        let w = if l <= 16.0 { 0.08 } else { 0.08 * l / 16.0 };
        for _ in 0..secs {
            *t += 1.0;
            let lambda = l / w;
            *calls += lambda;
            *dur += lambda * w * 1e9;
            track.observe(*t, *calls, *dur, 3.0);
        }
    }

    #[test]
    fn littles_law_finds_the_knee_of_a_200_per_second_downstream() {
        let mut track = AdviceTrack::new(8);
        let (mut t, mut calls, mut dur) = (0.0, 0.0, 0.0);
        for l in [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] {
            run(&mut track, &mut t, &mut calls, &mut dur, l, 8);
        }
        let a = track.advice.unwrap();
        assert_eq!(a.recommended, 16, "{a:?}");
        assert!(a.saturated && a.past_knee, "32 in flight is past it: {a:?}");
        run(&mut track, &mut t, &mut calls, &mut dur, 16.0, 8);
        let a = track.advice.unwrap();
        assert!(a.saturated && !a.past_knee, "16 is the knee: {a:?}");
        run(&mut track, &mut t, &mut calls, &mut dur, 64.0, 8);
        let a = track.advice.unwrap();
        assert!(a.past_knee, "{a:?}");
        assert_eq!(a.recommended, 16, "{a:?}");
    }

    #[test]
    fn one_level_of_load_gives_no_advice() {
        let mut track = AdviceTrack::new(8);
        let (mut t, mut calls, mut dur) = (0.0, 0.0, 0.0);
        run(&mut track, &mut t, &mut calls, &mut dur, 64.0, 8);
        assert!(track.advice.is_none(), "{:?}", track.advice);
        run(&mut track, &mut t, &mut calls, &mut dur, 32.0, 8);
        // Throughput did not rise from 32 to 64, but latency was never seen
        // at low load: the advice is the lowest load seen, not 16.
        let a = track.advice.unwrap();
        assert!(a.recommended >= 32 && !a.past_knee, "{a:?}");
    }
}
