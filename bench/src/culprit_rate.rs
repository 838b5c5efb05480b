//! How many stalls get their culprit named at a `file:line`: the share of
//! stalls for which the doctor's stack captures name the service's own
//! function, in each way a stall can be seen.
//!
//! ```text
//! cargo run --release -p tokio-doctor-bench --bin culprit-rate
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release -p tokio-doctor-bench --bin culprit-rate
//! ```
//!
//! A multi-thread runtime (2 workers) with unrelated load (short polls in
//! spans) runs `--stalls N` stalls (default 20) of `--stall-ms` each
//! (default 20: twice the default threshold), 150 ms apart, in a function
//! of this file, `hash_password`, that the stalling code calls:
//!
//! - `span`: the stalling task runs in a span of its own (the poll is
//!   marked; the watchdog captures it while it runs);
//! - `no span`: the stalling task has no span (stable tokio: seen only
//!   while the lag probe is late, see `monitor::stack::unmarked`; with
//!   `tokio_unstable`, tokio's task spans mark it);
//! - `no span, both workers`: two such tasks at once, so the runtime lags;
//! - `tokio_doctor::spawn`: no span, the task spawned by the doctor's
//!   `spawn`, which marks its polls;
//! - `monitor_job`: no span, the task wrapped in `Doctor::monitor_job`,
//!   which marks its polls too;
//! - `poll hooks` (`tokio_unstable` only): no span, no doctor layer, tokio's
//!   poll hooks installed with `Doctor::install_poll_hooks`.
//!
//! A stall counts as named when `tokio_doctor_blocking_frames_total` counts
//! it with `function` ending in `hash_password` and a `frame_location` in
//! this file. The release profile keeps line tables (`debug = 1`).

use std::time::{Duration, Instant};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// The service's own function: `d` of CPU work without yielding.
#[inline(never)]
fn hash_password(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        for k in 0..1_000u64 {
            x = x.rotate_left(7) ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    std::hint::black_box(x)
}

#[inline(never)]
fn login(d: Duration) -> u64 {
    hash_password(d) ^ 1
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Span,
    NoSpan,
    NoSpanBoth,
    DoctorSpawn,
    MonitorJob,
    #[cfg(tokio_unstable)]
    PollHooks,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Span => "span",
            Mode::NoSpan => "no span",
            Mode::NoSpanBoth => "no span, both workers",
            Mode::DoctorSpawn => "no span, tokio_doctor::spawn",
            Mode::MonitorJob => "no span, monitor_job",
            #[cfg(tokio_unstable)]
            Mode::PollHooks => "poll hooks, no layer",
        }
    }
}

/// Stalls named with the culprit at a line of this file.
fn named(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("tokio_doctor_blocking_frames_total{"))
        .filter(|l| {
            l.contains("hash_password\",frame_location=\"")
                && l.contains(&format!("frame_location=\"{}:", file!()))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0
}

fn run(mode: Mode, stalls: usize, stall: Duration) -> (f64, f64) {
    let doctor = tokio_doctor::Doctor::builder()
        .no_endpoint()
        .build()
        .unwrap();
    let layer = {
        #[cfg(tokio_unstable)]
        {
            mode != Mode::PollHooks
        }
        #[cfg(not(tokio_unstable))]
        {
            true
        }
    };
    let dispatch = if layer {
        tracing::Dispatch::new(tracing_subscriber::registry().with(doctor.layer()))
    } else {
        tracing::Dispatch::none()
    };
    let for_threads = dispatch.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        });
    #[cfg(tokio_unstable)]
    if mode == Mode::PollHooks {
        doctor.install_poll_hooks(&mut builder);
    }
    let rt = builder.build().unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(async {
        let _running = doctor.start().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for _ in 0..4 {
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    async { hash_chunk() }
                        .instrument(tracing::info_span!("unrelated"))
                        .await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut expected = 0.0;
        for _ in 0..stalls {
            match mode {
                Mode::Span => {
                    tokio::spawn(
                        async move { login(stall) }.instrument(tracing::info_span!("handle_login")),
                    )
                    .await
                    .unwrap();
                    expected += 1.0;
                }
                Mode::NoSpanBoth => {
                    let a = tokio::spawn(async move { login(stall) });
                    let b = tokio::spawn(async move { login(stall) });
                    a.await.unwrap();
                    b.await.unwrap();
                    expected += 2.0;
                }
                Mode::MonitorJob => {
                    tokio::spawn(doctor.monitor_job("login-job", async move { login(stall) }))
                        .await
                        .unwrap();
                    expected += 1.0;
                }
                Mode::DoctorSpawn => {
                    tokio_doctor::spawn(async move { login(stall) })
                        .await
                        .unwrap();
                    expected += 1.0;
                }
                _ => {
                    tokio::spawn(async move { login(stall) }).await.unwrap();
                    expected += 1.0;
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        (named(&doctor.render_prometheus()), expected)
    })
}

/// A short burst of work, well within the threshold.
fn hash_chunk() -> u64 {
    let mut x = 0u64;
    for k in 0..5_000u64 {
        x = x.rotate_left(5) ^ k;
    }
    std::hint::black_box(x)
}

fn main() {
    let mut stalls = 20;
    let mut stall_ms = 20;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--stalls" => stalls = value(),
            "--stall-ms" => stall_ms = value() as u64,
            "--mode" => only = args.next(),
            other => panic!(
                "unknown argument {other}; options: --stalls N --stall-ms N --mode NAME (a row's name, e.g. \"no span\")"
            ),
        }
    }
    let stall = Duration::from_millis(stall_ms);
    let modes = [
        Mode::Span,
        Mode::NoSpan,
        Mode::NoSpanBoth,
        Mode::DoctorSpawn,
        Mode::MonitorJob,
        #[cfg(tokio_unstable)]
        Mode::PollHooks,
    ];
    println!(
        "| mode ({} build, stalls of {stall_ms} ms) | stalls | named at file:line | share |",
        if cfg!(tokio_unstable) {
            "tokio_unstable"
        } else {
            "stable"
        }
    );
    println!("|---|---:|---:|---:|");
    for mode in modes {
        if only.as_ref().is_some_and(|m| m != mode.name()) {
            continue;
        }
        let (got, expected) = run(mode, stalls, stall);
        println!(
            "| {} | {expected:.0} | {got:.0} | {:.0}% |",
            mode.name(),
            100.0 * got / expected
        );
    }
}
