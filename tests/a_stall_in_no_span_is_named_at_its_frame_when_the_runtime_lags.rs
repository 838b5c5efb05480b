//! Issue 16, polls without spans: a service with no instrumentation at all
//! (no span, no `TaskMonitorLayer`, no helper) whose workers get stuck in
//! its own code. Only the lag probe sees the runtime fall behind; the
//! watchdog then samples the workers' stacks and names the function they
//! are stuck in, at its `file:line`, under the span `(no span)`. Busy
//! workers running many short polls, and the same work in
//! `spawn_blocking`, stay silent. Linux only (a no-op elsewhere).
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_doctor::{Doctor, FindingKind};

/// The span a stall is reported under: none marks the poll on stable
/// tokio; with `tokio_unstable`, tokio's task spans (the dev-dependency
/// turns on tokio's `tracing` feature) mark it at the spawn `file:line`,
/// and the watchdog captures it as a marked stall.
#[cfg(not(tokio_unstable))]
const SPAN: &str = "(no span)";
#[cfg(tokio_unstable)]
const SPAN: &str = "runtime.spawn";

/// This crate's path prefix, as demangled function names start.
const CRATE: &str = module_path!();

const CRUNCH_FIRST: u32 = line!();
/// The service's own function, stuck for `ms` of CPU time without yielding.
#[inline(never)]
fn crunch(ms: u64) -> u64 {
    let mut input: Vec<u64> = (0..20_000).rev().collect();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        input.sort_unstable();
        input.reverse();
    }
    std::hint::black_box(input[0])
}
const CRUNCH_LAST: u32 = line!();

/// Healthy traffic with no span: many short tasks that yield.
fn plain_load(stop: &Arc<AtomicBool>) {
    for i in 0..8u64 {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut x = i;
                for k in 0..2_000u64 {
                    x = x.wrapping_mul(31).wrapping_add(k);
                }
                std::hint::black_box(x);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
}

/// The `(no span)` culprit line of `function`, from the frames counter.
fn culprit_line(doctor: &Doctor, function: &str) -> Option<u32> {
    let text = doctor.render_prometheus();
    let needle = format!("span=\"{SPAN}\",location=\"tests/{}.rs:", module_path!());
    let function = format!(
        "function=\"{CRATE}::{function}\",frame_location=\"{}:",
        file!()
    );
    let line = text
        .lines()
        .filter(|l| l.starts_with("tokio_doctor_blocking_frames_total{"))
        .find(|l| l.contains(&needle) && l.contains(&function))?;
    let at = line.find(&function)? + function.len();
    line[at..].split('"').next()?.parse().ok()
}

#[test]
fn workers_stuck_in_code_without_a_span_are_named_at_the_line() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        plain_load(&stop);
        // Long enough for the lag probe to visit the workers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let found = support::eventually(Duration::from_secs(10), || {
            culprit_line(&doctor, "crunch").is_some()
        });
        let stall = async {
            // Every worker stuck at once, a few times over: the runtime
            // lags, and nothing but the probe can tell.
            for _ in 0..4 {
                let stuck: Vec<_> = (0..2)
                    .map(|_| tokio::spawn(async { crunch(120) }))
                    .collect();
                for h in stuck {
                    h.await.unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let (ok, ()) = tokio::join!(found, stall);
        stop.store(true, Ordering::Relaxed);
        assert!(ok, "{}", doctor.render_prometheus());
        let line = culprit_line(&doctor, "crunch").unwrap();
        assert!(
            (CRUNCH_FIRST..=CRUNCH_LAST).contains(&line),
            "line {line} is not in crunch ({CRUNCH_FIRST}..={CRUNCH_LAST})"
        );
        let finding = support::of_kind(&doctor, FindingKind::BlockingPoll)
            .into_iter()
            .find(|f| f.span == SPAN)
            .expect("a blocking_poll finding in no span of the service's");
        assert!(
            finding.location.starts_with(&format!("{}:", file!())),
            "the finding is at the frame's location: {finding:?}"
        );
        assert!(finding.count >= 1, "{finding:?}");
        assert!(
            finding.message.contains("crunch"),
            "the sentence names the culprit: {}",
            finding.message
        );
    });
}

#[test]
fn busy_workers_with_short_polls_and_spawn_blocking_stay_silent() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        plain_load(&stop);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Both workers busy for two seconds with polls of about a
        // millisecond each, all in the same function, yielding between.
        let busy: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(async {
                    let until = std::time::Instant::now() + Duration::from_secs(2);
                    while std::time::Instant::now() < until {
                        crunch(1);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        // And the stalling work where it belongs.
        let offloaded = tokio::task::spawn_blocking(|| crunch(400));
        for h in busy {
            h.await.unwrap();
        }
        offloaded.await.unwrap();
        stop.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let text = doctor.render_prometheus();
        assert!(
            !text.contains("span=\"(no span)\""),
            "nothing was stuck: {text}"
        );
        assert!(
            support::of_kind(&doctor, FindingKind::BlockingPoll).is_empty(),
            "{:?}",
            doctor.findings()
        );
    });
}

/// Burns `us` microseconds of wall time in one call.
#[inline(never)]
fn short_work(us: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_micros(us) {
        for k in 0..100u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(k);
        }
    }
    std::hint::black_box(x)
}

#[test]
fn an_overloaded_runtime_of_short_polls_lags_but_names_no_stall() {
    let doctor = support::doctor();
    let rt = support::runtime(&doctor);
    support::run(&rt, async {
        let _running = doctor.start().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Far more ready tasks than the workers can run: every poll is
        // 100 us (tokio's guidance), all in the same function, and the
        // lag probe waits behind hundreds of them.
        let tasks: Vec<_> = (0..600)
            .map(|_| {
                tokio::spawn(async {
                    let until = std::time::Instant::now() + Duration::from_millis(1500);
                    while std::time::Instant::now() < until {
                        short_work(100);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in tasks {
            h.await.unwrap();
        }
        // The runtime did lag past the threshold, so the workers were
        // sampled: the silence below is a judgement, not an idle watchdog.
        let lag_p99 = doctor.report().event_loop_lag.p99_seconds.unwrap_or(0.0);
        assert!(lag_p99 > 0.01, "the overload lagged: p99 {lag_p99} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let text = doctor.render_prometheus();
        assert!(
            !text.contains("span=\"(no span)\""),
            "short polls are no stall (lag p99 {lag_p99} s): {text}"
        );
    });
}
