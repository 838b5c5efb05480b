//! Which picture each finding kind gets: its evidence (and its trends, when
//! the sampler kept one for its call site) drawn where a chart reads faster
//! than the figures, which stay in the table beside it.
//!
//! A chart whose figures are missing is left out rather than drawn empty:
//! detectors add some figures only when they know them (a suggested bound,
//! producer rates).

use super::chart::{bars, serial_timeline, share, trend, Bar, Limit, Line, Tone};
use crate::export::report::Trend;
use crate::finding::{Finding, FindingKind};

fn bar(label: &str, value: Option<f64>, tone: Tone) -> Option<Bar<'_>> {
    value.map(|value| Bar { label, value, tone })
}

fn limit(label: &str, value: Option<f64>) -> Option<Limit<'_>> {
    value.map(|value| Limit { label, value })
}

/// Bars from the figures present.
fn some_bars(
    out: &mut String,
    caption: &str,
    unit: &str,
    rows: &[Option<Bar<'_>>],
    lim: Option<Limit<'_>>,
) {
    let rows: Vec<Bar<'_>> = rows.iter().flatten().copied().collect();
    bars(out, caption, unit, &rows, lim);
}

/// The charts of finding `f`, whose call site's trends are `trends`, in a
/// service up `uptime` seconds.
pub(super) fn charts(f: &Finding, trends: &[&Trend], uptime: f64, out: &mut String) {
    let ev = |n: &str| f.evidence(n);
    let series = |name: &str| {
        trends
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.points.as_slice())
    };
    let line = |legend, name, tone| {
        series(name).map(|points| Line {
            legend,
            points,
            tone,
        })
    };
    use Tone::{Bad, Good, Plain};
    match f.kind {
        FindingKind::BlockingPoll if f.target == "route" => {
            some_bars(
                out,
                "slow polls of this route vs the threshold",
                "seconds",
                &[bar("mean slow poll", ev("mean_slow_poll_seconds"), Bad)],
                limit("threshold", ev("threshold_seconds")),
            );
            if let Some(r) = ev("slow_poll_ratio") {
                share(out, "polls over the threshold", "slow polls", r, Bad);
            }
        }
        FindingKind::BlockingPoll => {
            some_bars(
                out,
                "the longest poll vs the blocking threshold",
                "seconds",
                &[
                    bar("worst poll", ev("worst_poll_seconds"), Bad),
                    bar(
                        "stalled now",
                        ev("stalled_now_seconds").filter(|s| *s > 0.0),
                        Bad,
                    ),
                ],
                limit("threshold", ev("threshold_seconds")),
            );
            if let Some(b) = ev("blocked_seconds").filter(|_| uptime > 0.0) {
                share(
                    out,
                    "a runtime worker's time spent blocked here, since start",
                    "blocked",
                    b / uptime,
                    Bad,
                );
            }
        }
        FindingKind::SerialAwaits => {
            if let (Some(chain), Some(each)) = (ev("longest_chain"), ev("mean_call_seconds")) {
                serial_timeline(out, chain, each);
            }
        }
        FindingKind::UnboundedFanout => {
            some_bars(
                out,
                "children at once vs what the downstream sustains",
                "count",
                &[
                    bar("peak at once", ev("peak_concurrent"), Bad),
                    bar("bound it to", ev("suggested_bound"), Good),
                ],
                limit("threshold", ev("threshold_concurrent")),
            );
            tasks_trend(
                out,
                line("live tasks", "live_tasks", Bad),
                ev("threshold_concurrent"),
            );
        }
        FindingKind::ConcurrencyAdvice => {
            let lim = limit("recommended", ev("recommended_concurrency"));
            match line("in flight", "in_flight", Bad) {
                Some(l) => trend(
                    out,
                    "calls in flight vs the recommended limit",
                    "count",
                    &[l],
                    lim,
                ),
                None => some_bars(
                    out,
                    "calls in flight vs the recommended limit",
                    "count",
                    &[bar("in flight", ev("in_flight"), Bad)],
                    lim,
                ),
            }
            some_bars(
                out,
                "latency now vs at low load: the extra is queueing",
                "seconds",
                &[
                    bar("now", ev("latency_seconds"), Bad),
                    bar("at low load", ev("low_load_latency_seconds"), Good),
                ],
                None,
            );
            some_bars(
                out,
                "throughput: more in flight adds none",
                "calls/second",
                &[
                    bar("now", ev("throughput_per_second"), Plain),
                    bar("best seen", ev("max_throughput_per_second"), Good),
                ],
                None,
            );
        }
        FindingKind::TrivialAsync => {
            if let Some(s) = ev("trivial_share") {
                share(
                    out,
                    "completions that never waited on anything",
                    "never waited",
                    s,
                    Bad,
                );
            }
            some_bars(
                out,
                "mean time per future: running vs waiting",
                "seconds",
                &[
                    bar("running", ev("mean_busy_seconds"), Plain),
                    bar("waiting", ev("mean_wait_seconds"), Plain),
                ],
                None,
            );
        }
        FindingKind::Materialization => some_bars(
            out,
            "memory held at once vs the threshold",
            "bytes",
            &[
                bar("largest", ev("peak_bytes"), Bad),
                bar("typical", ev("mean_peak_bytes"), Plain),
            ],
            limit("threshold", ev("threshold_bytes")),
        ),
        FindingKind::ConnectionChurn => {
            some_bars(
                out,
                "new connections per request (a pool reuses: ≈ 0)",
                "count",
                &[bar("opened", ev("new_connections_per_request"), Bad)],
                limit("one each", Some(1.0)),
            );
        }
        FindingKind::QueueGrowth => {
            if let Some(l) = line("depth", "queue_depth", Bad) {
                trend(
                    out,
                    "queue depth: rising, not draining",
                    "items",
                    &[l],
                    None,
                );
            }
            some_bars(
                out,
                "items in vs out: the gap is the growth",
                "items/second",
                &[
                    bar("produced", ev("producer_per_second"), Bad),
                    bar("consumed", ev("consumer_per_second"), Good),
                    bar("growth", ev("growth_per_second"), Bad),
                ],
                None,
            );
        }
        FindingKind::ExcessTasks => {
            if !tasks_trend(
                out,
                line("live tasks", "live_tasks", Bad),
                ev("threshold_tasks"),
            ) {
                some_bars(
                    out,
                    "live tasks vs the threshold",
                    "count",
                    &[
                        bar("live now", ev("live_tasks"), Bad),
                        bar("peak", ev("peak_live_tasks"), Bad),
                    ],
                    limit("threshold", ev("threshold_tasks")),
                );
            }
            some_bars(
                out,
                "spawned vs completed",
                "1/second",
                &[
                    bar("spawned", ev("spawned_per_second"), Bad),
                    bar("completed", ev("completed_per_second"), Good),
                ],
                None,
            );
        }
        FindingKind::AllocationAmplification => some_bars(
            out,
            "bytes allocated vs kept, per run",
            "bytes",
            &[
                bar("allocated", ev("allocated_bytes_per_instance"), Bad),
                bar("kept", ev("retained_bytes_per_instance"), Good),
            ],
            None,
        ),
        FindingKind::HeldAcrossAwait | FindingKind::SlowWorkWhileHeld => {
            let lines: Vec<Line<'_>> = [
                line("held", "held_slots", Plain),
                line("idle while held", "idle_held_slots", Bad),
            ]
            .into_iter()
            .flatten()
            .collect();
            trend(out, "pool slots held, and held idle", "count", &lines, None);
            if f.kind == FindingKind::HeldAcrossAwait {
                some_bars(
                    out,
                    "idle time per hold vs the threshold",
                    "seconds",
                    &[
                        bar("typical", ev("mean_idle_seconds"), Bad),
                        bar("worst", ev("worst_idle_seconds"), Bad),
                    ],
                    limit("threshold", ev("threshold_seconds")),
                );
            } else {
                some_bars(
                    out,
                    "the slow call made while holding vs the threshold",
                    "seconds",
                    &[
                        bar("typical", ev("inner_mean_seconds"), Bad),
                        bar("worst", ev("inner_worst_seconds"), Bad),
                    ],
                    limit("threshold", ev("threshold_seconds")),
                );
            }
        }
        FindingKind::MissingDeadline => {
            some_bars(
                out,
                "call latency: the tail has no bound",
                "seconds",
                &[
                    bar("p50", ev("p50_seconds"), Plain),
                    bar("p99", ev("p99_seconds"), Bad),
                    bar(
                        "longest hang",
                        ev("longest_hang_seconds").filter(|s| *s > 0.0),
                        Bad,
                    ),
                ],
                None,
            );
            if let Some(l) = line("in flight", "in_flight", Bad) {
                trend(
                    out,
                    "calls in flight: hung calls pile up",
                    "count",
                    &[l],
                    None,
                );
            }
        }
        FindingKind::DeadlineOverrun => {
            let mean = match (ev("overrun_seconds"), ev("overruns")) {
                (Some(s), Some(n)) if n > 0.0 => Some(s / n),
                _ => None,
            };
            some_bars(
                out,
                "time past the deadline vs the grace",
                "seconds",
                &[
                    bar("typical", mean, Bad),
                    bar("worst", ev("worst_overrun_seconds"), Bad),
                ],
                limit("grace", ev("grace_seconds")),
            );
        }
    }
}

/// The live-tasks trend `line` of a spawn site against `threshold`;
/// whether one was drawn.
fn tasks_trend(out: &mut String, line: Option<Line<'_>>, threshold: Option<f64>) -> bool {
    let Some(l) = line else {
        return false;
    };
    trend(
        out,
        "live tasks vs the threshold",
        "count",
        &[l],
        limit("threshold", threshold),
    );
    true
}
