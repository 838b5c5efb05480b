//! Short time series the `/doctor` page draws beside a finding: a queue's
//! depth, a call site's calls in flight, a resource's pool slots held, a
//! spawn site's live tasks. One point per sampler interval, the last
//! [`TREND_POINTS`] kept.
//!
//! The detectors keep only what their own test needs (a window of
//! counters, a running peak), so the picture of "how did it get here" is
//! recorded here, by the sampler, from the same counters: nothing on the
//! hot path, one lock per interval, and a fixed size per series.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;

use serde::Serialize;

use super::Shared;

/// Points kept per series: two minutes at the default one-second interval,
/// enough to see a queue climb or a pool fill, and 2 KiB per series.
pub(crate) const TREND_POINTS: usize = 120;

/// Most series kept. Sites are capped already (`label_cap`), but only a
/// few of them ever back a finding: past this many, new sites get no chart
/// (their findings keep their figures), so memory stays bounded at about
/// half a megabyte.
pub(crate) const MAX_TRENDS: usize = 256;

/// Seconds a rate series is averaged over: a few holds' worth, as the
/// held detector's own slots-lost gauge does over its window.
pub(crate) const RATE_WINDOW_SECONDS: f64 = 5.0;

/// The growth per second of a counter, each point over the window before
/// it (or since the first point, while the window fills).
fn rates(points: &VecDeque<TrendPoint>) -> Vec<TrendPoint> {
    let mut from = 0;
    let mut out = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate().skip(1) {
        while p.uptime_seconds - points[from + 1].uptime_seconds >= RATE_WINDOW_SECONDS {
            from += 1;
        }
        let first = points[from];
        let secs = p.uptime_seconds - first.uptime_seconds;
        if secs > 0.0 {
            out.push(TrendPoint {
                uptime_seconds: p.uptime_seconds,
                value: (p.value - first.value).max(0.0) / secs,
            });
        }
        debug_assert!(from < i);
    }
    out
}

/// One point of a [`Trend`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Seconds since the doctor was built.
    pub uptime_seconds: f64,
    /// The value at (or, for a rate, over the interval ending at) that
    /// moment, in the trend's unit.
    pub value: f64,
}

/// A short time series behind one finding's chart on the `/doctor` page,
/// oldest point first.
///
/// `span` and `location` name the call site, queue or resource exactly as
/// the finding it belongs to does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// What is measured: `queue_depth`, `in_flight`, `held_slots`,
    /// `idle_held_slots` or `live_tasks`.
    pub name: &'static str,
    /// Span name (or queue name) of the finding it belongs to.
    pub span: String,
    /// `file:line` of the finding it belongs to.
    pub location: String,
    /// Unit of the values (`items`, `count`).
    pub unit: &'static str,
    /// One point per sampler interval, oldest first.
    pub points: Vec<TrendPoint>,
}

/// What a series is of: the key it is found by each interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Of {
    Queue(&'static str),
    InFlight(u32),
    Held(u32),
    IdleHeld(u32),
    LiveTasks(u32),
    RuntimeTasks,
}

impl Of {
    fn name(self) -> &'static str {
        match self {
            Of::Queue(_) => "queue_depth",
            Of::InFlight(_) => "in_flight",
            Of::Held(_) => "held_slots",
            Of::IdleHeld(_) => "idle_held_slots",
            Of::LiveTasks(_) | Of::RuntimeTasks => "live_tasks",
        }
    }

    /// Whether the series keeps a counter of busy seconds whose growth per
    /// second is drawn: by Little's law, the mean number of slots kept
    /// busy. Holds end (and add to the counter) in lumps, so the rate is
    /// taken over [`RATE_WINDOW_SECONDS`], not one interval.
    fn is_rate(self) -> bool {
        matches!(self, Of::Held(_) | Of::IdleHeld(_))
    }

    fn unit(self) -> &'static str {
        match self {
            Of::Queue(_) => "items",
            _ => "count",
        }
    }
}

#[derive(Debug)]
struct Series {
    span: String,
    location: String,
    /// Values, or for a rate series the counter it is the growth of.
    points: VecDeque<TrendPoint>,
}

/// Every series, written by the sampler once per interval and read by the
/// report.
#[derive(Debug, Default)]
pub(crate) struct Trends {
    series: BTreeMap<Of, Series>,
}

impl Trends {
    fn series(&mut self, of: Of, name: impl FnOnce() -> (String, String)) -> Option<&mut Series> {
        let full = self.series.len() >= MAX_TRENDS;
        match self.series.entry(of) {
            std::collections::btree_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(_) if full => None,
            std::collections::btree_map::Entry::Vacant(e) => {
                let (span, location) = name();
                Some(e.insert(Series {
                    span,
                    location,
                    points: VecDeque::with_capacity(TREND_POINTS),
                }))
            }
        }
    }

    /// Notes `value` of `of` at `t`.
    fn gauge(&mut self, of: Of, t: f64, value: f64, name: impl FnOnce() -> (String, String)) {
        if let Some(s) = self.series(of, name) {
            s.push(t, value);
        }
    }

    /// Notes the nanosecond counter `total`; read back as its growth per
    /// second (see [`Of::is_rate`]).
    fn counter_ns(&mut self, of: Of, t: f64, total: u64, name: impl FnOnce() -> (String, String)) {
        if let Some(s) = self.series(of, name) {
            s.push(t, total as f64 / 1e9);
        }
    }

    /// The series named `(span, location)`, oldest point first.
    pub(crate) fn of(&self, span: &str, location: &str) -> Vec<Trend> {
        self.series
            .iter()
            .filter(|(_, s)| s.span == span && s.location == location && s.points.len() >= 2)
            .map(|(of, s)| Trend {
                name: of.name(),
                span: s.span.clone(),
                location: s.location.clone(),
                unit: of.unit(),
                points: if of.is_rate() {
                    rates(&s.points)
                } else {
                    s.points.iter().copied().collect()
                },
            })
            .collect()
    }
}

impl Series {
    fn push(&mut self, uptime_seconds: f64, value: f64) {
        if self.points.len() == TREND_POINTS {
            self.points.pop_front();
        }
        self.points.push_back(TrendPoint {
            uptime_seconds,
            value,
        });
    }
}

/// Sampler side: one point per series, from the counters the detectors
/// read; `runtime_live` is the runtime's live tasks the sampler just read.
pub(crate) fn sample(shared: &Shared, runtime_live: u64) {
    let t = shared.created.elapsed().as_secs_f64();
    let queues: Vec<_> = crate::queue::registry::all();
    let mut trends = crate::util::lock(&shared.trends);
    // As the runtime-wide excess-tasks finding names it.
    let live = runtime_live as f64;
    trends.gauge(Of::RuntimeTasks, t, live, || {
        ("runtime".to_string(), "runtime".to_string())
    });
    for q in &queues {
        trends.gauge(Of::Queue(q.name), t, q.depth() as f64, || {
            (q.name.to_string(), q.location.clone())
        });
    }
    for (idx, site, meta) in shared.sites.iter() {
        let name = || (meta.span.clone(), meta.location.clone());
        if let Some(o) = site.outbound.get() {
            trends.gauge(Of::InFlight(idx), t, o.in_flight() as f64, name);
        }
        if let Some(h) = site.held.get() {
            trends.counter_ns(Of::Held(idx), t, h.hold_ns.load(Relaxed), name);
            trends.counter_ns(Of::IdleHeld(idx), t, h.idle_ns.load(Relaxed), name);
        }
        if let Some(tasks) = site.shape.tasks.get() {
            trends.gauge(Of::LiveTasks(idx), t, tasks.live() as f64, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> (String, String) {
        ("orders.tx".into(), "src/shop.rs:12".into())
    }

    #[test]
    fn a_series_keeps_its_last_points_and_is_found_by_its_finding_name() {
        let mut trends = Trends::default();
        for i in 0..TREND_POINTS + 30 {
            trends.gauge(Of::Queue("events"), i as f64, i as f64 * 2.0, name);
        }
        let found = trends.of("orders.tx", "src/shop.rs:12");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "queue_depth");
        assert_eq!(found[0].points.len(), TREND_POINTS);
        assert_eq!(found[0].points[0].uptime_seconds, 30.0);
        assert_eq!(found[0].points.last().unwrap().value, 298.0);
        assert!(trends.of("orders.tx", "src/shop.rs:13").is_empty());
    }

    #[test]
    fn held_slots_are_busy_seconds_per_second_over_the_rate_window() {
        let mut trends = Trends::default();
        // 2.5 s of holding per second, added in lumps every other second.
        for i in 0..20u64 {
            let total = (i / 2) * 5_000_000_000;
            trends.counter_ns(Of::Held(3), i as f64, total, name);
        }
        let t = &trends.of("orders.tx", "src/shop.rs:12")[0];
        assert_eq!(t.name, "held_slots");
        assert_eq!(t.points.len(), 19, "the first sample only starts the rate");
        // Once the window is full the lumps average out to 2.5 slots.
        for p in &t.points[5..] {
            assert!((p.value - 2.5).abs() <= 0.5, "{p:?}");
        }
    }

    #[test]
    fn the_number_of_series_is_bounded() {
        let mut trends = Trends::default();
        for i in 0..(MAX_TRENDS as u32 + 10) {
            trends.gauge(Of::LiveTasks(i), 0.0, 1.0, name);
        }
        assert_eq!(trends.series.len(), MAX_TRENDS);
    }
}
