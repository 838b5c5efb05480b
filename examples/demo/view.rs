//! The demo's terminal view: findings grouped by kind, each with its call
//! site, what it cost and the figures that matter for that kind, and the
//! kind's fix once; and the final report, sorted by cost, whose first line
//! says what to fix first.
//!
//! It reads only the public report API (`Doctor::report`, `Finding`), so it
//! is what any service could print.
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio_doctor::{Finding, FindingKind};

/// Clears the screen and moves home: the live view redraws in place.
const CLEAR_HOME: &str = "\x1b[2J\x1b[H";

/// What a kind means, in a few words.
fn title(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::BlockingPoll => "CPU or blocking work on a runtime worker",
        FindingKind::SerialAwaits => "independent awaits run one after another",
        FindingKind::UnboundedFanout => "thousands in flight at once from one site",
        FindingKind::ConcurrencyAdvice => "more in flight than the downstream can serve",
        FindingKind::TrivialAsync => "tasks for work that never suspends",
        FindingKind::QueueGrowth => "an unbounded queue growing",
        FindingKind::ExcessTasks => "far more live tasks than useful",
        FindingKind::HeldAcrossAwait => "a pooled resource held idle across an await",
        FindingKind::SlowWorkWhileHeld => "slow work done while holding a resource",
        FindingKind::MissingDeadline => "outbound calls with no deadline",
        FindingKind::DeadlineOverrun => "a deadline that stops the wait, not the work",
        FindingKind::ConnectionChurn => "a new connection per request",
        FindingKind::Materialization => "a whole result held in memory",
        FindingKind::AllocationAmplification => "data copied many times over",
        _ => "",
    }
}

/// Where: the route for the route middleware's findings, else span and
/// `file:line`.
pub fn site(f: &Finding) -> String {
    if f.target == "route" {
        format!("route {}", f.span)
    } else {
        format!("{} at {}", f.span, f.location)
    }
}

fn cost(f: &Finding) -> String {
    if f.cost_seconds > 0.0 {
        format!("{:.2} s", f.cost_seconds)
    } else {
        String::new()
    }
}

/// The figures that matter for this kind, from the finding's evidence;
/// a figure that is zero or absent is left out rather than shown as 0.
fn figures(f: &Finding) -> String {
    let ev = |n: &str| f.evidence(n).unwrap_or(0.0);
    let ms = |n: &str| ev(n) * 1e3;
    let mut out = Vec::<String>::new();
    let mut add = |cond: bool, s: String| {
        if cond {
            out.push(s);
        }
    };
    match f.kind {
        FindingKind::BlockingPoll if f.target == "route" => {
            add(true, format!("{:.0} slow polls", ev("blocking_polls")));
            add(
                ev("slow_poll_ratio") > 0.0,
                format!("{:.0}% of its polls", ev("slow_poll_ratio") * 100.0),
            );
        }
        FindingKind::BlockingPoll => {
            add(true, format!("{:.0} polls blocked", ev("blocking_polls")));
            add(
                ev("worst_poll_seconds") > 0.0,
                format!("worst {:.1} ms", ms("worst_poll_seconds")),
            );
            add(
                ev("stalled_now_seconds") > 0.0,
                format!("stalled now {:.1} s", ev("stalled_now_seconds")),
            );
        }
        FindingKind::SerialAwaits => {
            add(true, format!("{:.0} calls in chains", ev("calls")));
            add(
                ev("longest_chain") > 0.0,
                format!("longest {:.0}", ev("longest_chain")),
            );
            add(true, format!("{:.2} s avoidable", ev("avoidable_seconds")));
        }
        FindingKind::UnboundedFanout => {
            add(true, format!("peak {:.0} at once", ev("peak_concurrent")));
            add(
                ev("suggested_bound") > 0.0,
                format!("bound it to {:.0}", ev("suggested_bound")),
            );
        }
        FindingKind::ConcurrencyAdvice => {
            add(true, format!("in flight {:.0}", ev("in_flight")));
            add(
                true,
                format!("recommended {:.0}", ev("recommended_concurrency")),
            );
            add(
                ev("latency_seconds") > 0.0,
                format!(
                    "latency {:.0} ms (at low load {:.0} ms)",
                    ms("latency_seconds"),
                    ms("low_load_latency_seconds")
                ),
            );
        }
        FindingKind::TrivialAsync => {
            add(
                true,
                format!(
                    "{:.0}/s finished in their first poll",
                    ev("trivial_per_second")
                ),
            );
            add(
                ev("mean_busy_seconds") > 0.0,
                format!("{:.2} µs of work each", ev("mean_busy_seconds") * 1e6),
            );
        }
        FindingKind::QueueGrowth => {
            add(true, format!("+{:.0} items/s", ev("growth_per_second")));
            add(true, format!("depth {:.0}", ev("depth")));
            add(
                ev("producer_per_second") > 0.0,
                format!(
                    "in {:.0}/s, out {:.0}/s",
                    ev("producer_per_second"),
                    ev("consumer_per_second")
                ),
            );
            add(
                ev("seconds_to_limit") > 0.0,
                format!("full in {:.0} s", ev("seconds_to_limit")),
            );
        }
        FindingKind::ExcessTasks => {
            add(
                true,
                format!("peak {:.0} live tasks", ev("peak_live_tasks")),
            );
            add(
                ev("live_tasks") > 0.0,
                format!("{:.0} now", ev("live_tasks")),
            );
        }
        FindingKind::HeldAcrossAwait => {
            add(
                true,
                format!("{:.0} holds idle across an await", ev("holds_across_await")),
            );
            add(
                ev("idle_seconds") > 0.0,
                format!("{:.1} s idle", ev("idle_seconds")),
            );
            add(
                ev("slots_lost") > 0.0,
                format!("{:.1} pool slots lost", ev("slots_lost")),
            );
        }
        FindingKind::SlowWorkWhileHeld => {
            add(true, format!("{:.0} slow calls inside", ev("slow_calls")));
            add(
                ev("inner_worst_seconds") > 0.0,
                format!("worst {:.0} ms", ms("inner_worst_seconds")),
            );
        }
        FindingKind::MissingDeadline => {
            add(true, format!("{:.0} calls", ev("calls_without_deadline")));
            add(
                ev("p99_seconds") > 0.0,
                format!("p99 ≤ {:.3} s", ev("p99_seconds")),
            );
            add(
                ev("hung_now") > 0.0,
                format!(
                    "{:.0} hanging now ({:.1} s)",
                    ev("hung_now"),
                    ev("longest_hang_seconds")
                ),
            );
        }
        FindingKind::DeadlineOverrun => {
            add(true, format!("{:.0} overruns", ev("overruns")));
            add(
                ev("overrun_seconds") > 0.0,
                format!("{:.1} s past their deadlines", ev("overrun_seconds")),
            );
        }
        FindingKind::ConnectionChurn => {
            add(
                ev("new_connections_per_request") > 0.0,
                format!(
                    "{:.2} new connections per request",
                    ev("new_connections_per_request")
                ),
            );
            add(
                ev("handshake_seconds_total") > 0.0,
                format!("{:.2} s of handshakes", ev("handshake_seconds_total")),
            );
        }
        _ => add(true, f.message.clone()),
    }
    out.join(", ")
}

/// Findings grouped by kind (the costliest kind first), one line per call
/// site, the fix once per kind.
fn grouped(findings: &[Finding], out: &mut String) {
    let mut kinds: Vec<(FindingKind, f64)> = Vec::new();
    for f in findings {
        match kinds.iter_mut().find(|(k, _)| *k == f.kind) {
            Some((_, c)) => *c += f.cost_seconds,
            None => kinds.push((f.kind, f.cost_seconds)),
        }
    }
    kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (kind, _) in kinds {
        let of_kind: Vec<&Finding> = findings.iter().filter(|f| f.kind == kind).collect();
        let _ = writeln!(out, "\n{kind}: {}", title(kind));
        for f in &of_kind {
            let _ = writeln!(out, "  {:<52} {:>8}  {}", site(f), cost(f), figures(f));
        }
        let _ = writeln!(out, "  fix: {}", of_kind[0].fix);
    }
}

/// One refresh of the live view.
pub fn live(
    doctor: &tokio_doctor::Doctor,
    elapsed: Duration,
    paths: &[&str],
    counts: &crate::load::Counts,
    header: &str,
    tty: bool,
) {
    let report = doctor.report();
    let mut out = String::new();
    // A terminal gets the whole screen redrawn; a log (CI) gets a block
    // appended, the header having been printed once at the start.
    if tty {
        out.push_str(CLEAR_HOME);
        let _ = writeln!(out, "{header}");
    } else {
        out.push('\n');
    }
    let traffic: Vec<String> = paths
        .iter()
        .zip(counts.iter())
        .map(|(p, c)| format!("{p} {}", c.load(Relaxed)))
        .collect();
    let lag = &report.event_loop_lag;
    let _ = writeln!(
        out,
        "[{:>3} s] requests: {}\n        event-loop lag p99 ≤ {} ms, max {:.1} ms",
        elapsed.as_secs(),
        traffic.join(", "),
        lag.p99_seconds
            .map_or("-".into(), |s| format!("{:.0}", s * 1e3)),
        lag.max_seconds * 1e3,
    );
    if report.findings.is_empty() {
        let _ = writeln!(out, "\n  no findings yet");
    } else {
        grouped(&report.findings, &mut out);
    }
    print!("{out}");
}

/// The final report: what to fix first, then every finding by cost.
/// Returns the number of distinct kinds.
pub fn final_report(doctor: &tokio_doctor::Doctor, served: u64, routes: usize) -> usize {
    let mut findings = doctor.findings();
    findings.sort_by(|a, b| {
        b.cost_seconds
            .total_cmp(&a.cost_seconds)
            .then(b.severity.cmp(&a.severity))
    });
    let mut out = String::from("\n=== final report ===\n");
    let Some(first) = findings.first() else {
        let _ = writeln!(
            out,
            "No findings: {routes} routes served {served} requests and the doctor found nothing to fix."
        );
        print!("{out}");
        return 0;
    };
    let mut kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
    kinds.sort();
    kinds.dedup();
    let _ = writeln!(
        out,
        "Fix first: {} ({}), {}; it cost {:.2} s. {}",
        site(first),
        first.kind,
        title(first.kind),
        first.cost_seconds,
        first.fix
    );
    let _ = writeln!(
        out,
        "{} findings of {} kinds over {served} requests, costliest first:",
        findings.len(),
        kinds.len()
    );
    for (i, f) in findings.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {:<21} {:<52} {:>8}  {}",
            i + 1,
            f.kind.as_str(),
            site(f),
            cost(f),
            figures(f)
        );
    }
    let _ = writeln!(out, "\nIn full, with the fix:");
    for f in &findings {
        let _ = writeln!(out, "- {}\n  fix: {}", f.message, f.fix);
    }
    print!("{out}");
    kinds.len()
}
