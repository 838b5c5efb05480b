//! What a stack capture costs: the time a stalled worker is interrupted,
//! and the doctor's own CPU time per capture, in one run.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin capture-cost
//! ```
//!
//! A multi-thread runtime (2 workers) with the doctor's layer runs a task
//! that stalls its worker inside a span for `--stall-ms` (default 200),
//! spinning on the clock and adding up every gap of 2 µs to 1 ms between
//! two consecutive reads: a capture's signal handler (it copies up to
//! 64 KiB of stack) shows there as a gap, a preemption (a time slice) does
//! not. The watchdog captures each stall
//! at 1x, 2x, 4x ... the threshold (5 captures in a 200 ms stall at the
//! default 10 ms). Rounds alternate stack capture on and off, `--stalls N`
//! stalls per round (default 10), `--rounds N` (default 5); the gap time
//! that capture adds, divided by the captures taken, is what one capture
//! costs the worker (medians of rounds). The watchdog's and the stacks
//! thread's CPU time (`/proc/self/task/*/schedstat`) per capture is the
//! doctor's side: the first capture of a process, which reads the binary's
//! debug info, apart from the rest. With nothing stalled, nothing of this
//! runs (the poll bench, `poll-overhead`, shows the per-poll cost, which
//! capture does not change).

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

struct Options {
    rounds: usize,
    stalls: usize,
    stall: Duration,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 5,
        stalls: 10,
        stall: Duration::from_millis(200),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--rounds" => o.rounds = value() as usize,
            "--stalls" => o.stalls = value() as usize,
            "--stall-ms" => o.stall = Duration::from_millis(value()),
            other => {
                panic!("unknown argument {other}; options: --rounds N --stalls N --stall-ms N")
            }
        }
    }
    o
}

/// Nanoseconds on a CPU of this process's threads whose name starts with
/// `prefix` (the kernel keeps 15 bytes of a thread's name).
fn thread_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with(prefix))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Spins for `d`, returning the time lost in gaps of 2 µs to 1 ms between
/// consecutive clock reads: a capture's handler takes microseconds, while
/// a preemption by another process takes a time slice (milliseconds) and
/// would drown it.
#[inline(never)]
fn stall(d: Duration) -> Duration {
    let start = Instant::now();
    let mut prev = start;
    let mut lost = Duration::ZERO;
    while prev - start < d {
        let now = Instant::now();
        let gap = now - prev;
        if gap > Duration::from_micros(2) && gap < Duration::from_millis(1) {
            lost += gap;
        }
        prev = now;
    }
    lost
}

/// Captures a stall of `d` gets: at 1x, 2x, 4x ... the threshold, 6 at most.
fn captures_per_stall(d: Duration, threshold: Duration) -> u32 {
    (0..6).filter(|k| threshold * (1 << k) < d).count() as u32
}

struct Round {
    lost_per_stall: Duration,
    doctor_cpu_ns: u64,
}

fn round(o: &Options, capture: bool) -> Round {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .stack_capture(capture)
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()));
    let for_threads = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cpu0 = thread_cpu_ns("tokio-doctor-wa") + thread_cpu_ns("tokio-doctor-st");
        let mut lost = Duration::ZERO;
        for _ in 0..o.stalls {
            let d = o.stall;
            lost += tokio::spawn(async move { stall(d) }.instrument(tracing::info_span!("stall")))
                .await
                .unwrap();
            // Let the stacks thread name the captures before the next.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let cpu1 = thread_cpu_ns("tokio-doctor-wa") + thread_cpu_ns("tokio-doctor-st");
        Round {
            lost_per_stall: lost / o.stalls as u32,
            doctor_cpu_ns: cpu1.saturating_sub(cpu0),
        }
    })
}

/// The watchdog's CPU time per second while every worker is busy with
/// short polls (50 us each, yielding between: healthy, nothing stalls) for
/// `secs`: with capture on, it sends the runtime a wake every quarter
/// threshold then, to learn at once when the runtime stops answering.
fn busy_watchdog_cpu_ms_per_s(capture: bool, secs: u64) -> f64 {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .stack_capture(capture)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cpu0 = thread_cpu_ns("tokio-doctor-wa");
        let until = Instant::now() + Duration::from_secs(secs);
        let busy: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(50) {
                            std::hint::spin_loop();
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for b in busy {
            b.await.unwrap();
        }
        let cpu1 = thread_cpu_ns("tokio-doctor-wa");
        cpu1.saturating_sub(cpu0) as f64 / 1e6 / secs as f64
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let o = options();
    let threshold = tokio_doctor::defaults::DEFAULT_BLOCKING_POLL_THRESHOLD;
    let per_stall = captures_per_stall(o.stall, threshold);
    // The first capture of the process reads the binary's debug info.
    let first = round(
        &Options {
            rounds: 1,
            stalls: 1,
            stall: o.stall,
        },
        true,
    );
    println!(
        "first stall of the process ({per_stall} captures, debug info read): doctor CPU {:.1} ms",
        first.doctor_cpu_ns as f64 / 1e6
    );
    let (mut added, mut cpu_on, mut cpu_off) = (Vec::new(), Vec::new(), Vec::new());
    let (mut busy_on, mut busy_off) = (Vec::new(), Vec::new());
    for r in 0..o.rounds {
        busy_on.push(busy_watchdog_cpu_ms_per_s(true, 2));
        busy_off.push(busy_watchdog_cpu_ms_per_s(false, 2));
        let (on, off) = if r % 2 == 0 {
            let on = round(&o, true);
            (on, round(&o, false))
        } else {
            let off = round(&o, false);
            (round(&o, true), off)
        };
        let us = (on.lost_per_stall.as_secs_f64() - off.lost_per_stall.as_secs_f64()) * 1e6
            / per_stall as f64;
        let captures = (o.stalls as u32 * per_stall) as f64;
        eprintln!(
            "round {}: lost per stall on {:.1} us, off {:.1} us; doctor CPU on {:.2} ms, off {:.2} ms",
            r + 1,
            on.lost_per_stall.as_secs_f64() * 1e6,
            off.lost_per_stall.as_secs_f64() * 1e6,
            on.doctor_cpu_ns as f64 / 1e6,
            off.doctor_cpu_ns as f64 / 1e6
        );
        added.push(us);
        cpu_on.push(on.doctor_cpu_ns.saturating_sub(off.doctor_cpu_ns) as f64 / captures / 1e3);
        cpu_off.push(off.doctor_cpu_ns as f64 / 1e6);
    }
    println!(
        "| {} stalls of {} ms per round, {} rounds, {per_stall} captures per stall (medians) | value |",
        o.stalls,
        o.stall.as_millis(),
        o.rounds
    );
    println!("|---|---:|");
    println!(
        "| worker time lost per capture (signal, 64 KiB copy, return) | {:.1} us |",
        median(added)
    );
    println!(
        "| watchdog + stacks thread CPU per capture (unwind, symbolize; on minus off) | {:.1} us |",
        median(cpu_on)
    );
    println!(
        "| watchdog CPU per round with capture off (its own looks, {} stalls) | {:.2} ms |",
        o.stalls,
        median(cpu_off)
    );
    println!(
        "| watchdog CPU per second, every worker busy with 50 us polls, nothing stalled: capture on / off | {:.2} / {:.2} ms |",
        median(busy_on),
        median(busy_off)
    );
}
